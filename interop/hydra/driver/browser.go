package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"
)

// browser plays the person at the browser: it opens the authorization URL and follows every
// redirect itself (Hydra → login app → Hydra → consent app → Hydra → the engine's loopback
// listener), keeping cookies as a browser does. deny names scopes the person unticks at
// consent (the consent app reads them from its URL).
type browser struct {
	hc     *http.Client
	deny   []string
	reject bool     // deny the whole request at consent
	hops   []string // host and path of every page visited, in order
}

func newBrowser(deny ...string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{deny: deny, hc: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// authorize follows authURL to the end: a 200 from the redirect URI's listener.
func (b *browser) authorize(authURL, consentPath string) error {
	next := authURL
	for range 20 {
		u, err := url.Parse(next)
		if err != nil {
			return err
		}
		if u.Path == consentPath && (len(b.deny) > 0 || b.reject) {
			q := u.Query()
			if len(b.deny) > 0 {
				q["deny"] = b.deny
			}
			if b.reject {
				q.Set("reject", "1")
			}
			u.RawQuery = q.Encode()
		}
		b.hops = append(b.hops, u.Host+u.Path)
		resp, err := b.hc.Get(u.String())
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			loc, err := u.Parse(resp.Header.Get("Location"))
			if err != nil {
				return fmt.Errorf("%s: bad Location: %w", u.Host+u.Path, err)
			}
			next = loc.String()
		case resp.StatusCode == http.StatusOK && (strings.Contains(string(body), "Login answer received") || strings.Contains(string(body), "Login failed")):
			return nil
		default:
			return fmt.Errorf("%s answered HTTP %d: %.300s", u.Host+u.Path, resp.StatusCode, body)
		}
	}
	return fmt.Errorf("more than 20 redirects: %v", b.hops)
}
