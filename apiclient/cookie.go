package apiclient

// The cookie convention (DESIGN.md's `cookie` row): single-page apps keep the refresh token in
// an HttpOnly cookie and send a CSRF header on refresh. The access token comes from the JSON
// body as in the other conventions; the refresh token is read from the session's cookie jar
// after login and refresh, and becomes the session's Refresh token, so that single flight,
// rotation, families, reuse naming and fingerprints work as they do for a token in a body.
//
// One jar per engine. It keeps cookies for the target's host only (host-only, whatever Domain
// the server names) and hands them only to that host, on the paths the cookies name: the
// refresh cookie (Path=/auth) never travels with a request to /api/...

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/go-resty/resty/v2"

	"tokenscope/apiclient/profile"
	"tokenscope/apiclient/sent"
	"tokenscope/internal/redact"
	"tokenscope/session"
)

// cookieState is the engine's half of the cookie convention: the jar and what the engine knows
// of the refresh cookie. names, jar and refresh never change; mu guards the rest and is taken
// alone (the jar has its own lock).
type cookieState struct {
	names   profile.CookieNames
	jar     *profile.HostJar
	refresh *url.URL // the refresh endpoint: the URL whose cookies the refresh call sends
	mu      sync.Mutex
	info    *profile.CookieInfo
	csrf    string // the CSRF cookie's value, for redaction
	// resumedPath is the path a resumed refresh cookie was put back on, until the server sets
	// the cookie again: then a copy on another path would shadow the new one, and goes.
	resumedPath string
}

func newCookieState(baseURL string, p profile.Profile, jar *profile.HostJar) (*cookieState, error) {
	// The refresh endpoint as the refresh call reaches it: url_env, a whole URL, or a path on
	// the target.
	u, err := url.Parse(sent.JoinURL(strings.TrimRight(baseURL, "/"), p.Refresh.Target()))
	if err != nil {
		return nil, err
	}
	return &cookieState{names: p.Cookie, jar: jar, refresh: u}, nil
}

// lookup is the value the jar would send to the refresh endpoint for the named cookie.
func (c *cookieState) lookup(name string) string {
	if name == "" {
		return ""
	}
	for _, ck := range c.jar.Cookies(c.refresh) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// setupCookies gives the engine its jar. API requests get their cookies from the attacher, so
// that its record (and the copied curl) holds them, as the wire (--har) does; the API client only keeps what
// answers set. In the cookie convention logins and refreshes use the same jar, so that a cookie
// goes wherever a browser would send it on this host, and nowhere else; otherwise they keep
// their own, as they did.
func (e *Engine) setupCookies() error {
	e.api.SetCookieJar(storeOnlyJar{e.attach.jar})
	if !e.profile.CookieMode() {
		return nil
	}
	cs, err := newCookieState(e.cfg.BaseURL, e.profile, e.attach.jar)
	if err != nil {
		return err
	}
	e.cookies = cs
	e.auth.SetCookieJar(cs.jar)
	return nil
}

// prepareCookieRefresh sets the CSRF header of a refresh call; the jar adds the cookies.
func (e *Engine) prepareCookieRefresh(r *resty.Request) {
	c := e.cookies
	if c == nil || c.names.CSRFHeader == "" {
		return
	}
	if v := c.lookup(c.names.CSRFCookie); v != "" {
		r.SetHeader(c.names.CSRFHeader, v)
	}
}

// checkCookie keeps the jar's side of a parsed login or refresh answer: the profile read the
// refresh token from Set-Cookie; the jar must keep it and send it back to the refresh
// endpoint, or the session could not refresh with it.
func (e *Engine) checkCookie(ans reply, p profile.Answer) (profile.Answer, error) {
	c := e.cookies
	var set *http.Cookie
	for _, ck := range (&http.Response{Header: ans.header}).Cookies() {
		if ck.Name == c.names.Refresh {
			set = ck
		}
	}
	c.mu.Lock()
	resumed := c.resumedPath
	if set != nil {
		c.resumedPath = ""
	}
	c.mu.Unlock()
	if set != nil && resumed != "" && resumed != profile.CookiePath(set.Path, c.refresh.Path) {
		c.jar.SetCookies(c.refresh, []*http.Cookie{{Name: c.names.Refresh, Path: resumed, MaxAge: -1}})
	}
	raw := c.lookup(c.names.Refresh)
	csrf := c.lookup(c.names.CSRFCookie)
	e.cfg.Secrets.Add(redact.Credential, csrf)
	c.mu.Lock()
	c.csrf = csrf
	c.mu.Unlock()
	if set != nil && !profile.CookieSentTo(set, c.refresh) {
		// Another domain, a path the refresh is not on, a Secure cookie over http, a deletion:
		// the cookie would never be sent back, so the session could not refresh with it.
		return profile.Answer{}, fmt.Errorf("the answer set a %q cookie the jar would not send to %s (its Domain %q, Path %q, Secure %t, Max-Age %d)",
			c.names.Refresh, c.refresh.Path, set.Domain, set.Path, set.Secure, set.MaxAge)
	}
	if set == nil {
		return p, nil // no new cookie: the refresh token is kept (a login without one failed to parse)
	}
	if raw == "" {
		return profile.Answer{}, fmt.Errorf("the jar did not keep the %q cookie for %s", c.names.Refresh, c.refresh.Path)
	}
	// p.Refresh is the token this answer issued (set's value): the jar holds the same unless a
	// concurrent refresh (single flight off) set another since.
	info := profile.CookieInfoOf(set, e.now())
	c.mu.Lock()
	c.info = info
	c.mu.Unlock()
	return p, nil
}

// resumeCookies puts a resumed session's cookies back in the jar: the refresh token for the
// target's host on the profile's cookie path, and the CSRF cookie when the file kept it.
func (e *Engine) resumeCookies(s session.Stored) {
	c := e.cookies
	if c == nil {
		return
	}
	ck := []*http.Cookie{{Name: c.names.Refresh, Value: s.Refresh, Path: e.profile.CookiePath(), HttpOnly: true,
		Secure: c.refresh.Scheme == "https"}}
	if c.names.CSRFCookie != "" && s.CSRF != "" {
		ck = append(ck, &http.Cookie{Name: c.names.CSRFCookie, Value: s.CSRF, Path: "/", Secure: c.refresh.Scheme == "https"})
	}
	c.jar.SetCookies(c.refresh, ck)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.csrf = s.CSRF
	c.resumedPath = e.profile.CookiePath()
	c.info = &profile.CookieInfo{Name: c.names.Refresh, Path: e.profile.CookiePath(), HttpOnly: true, Secure: ck[0].Secure,
		SetAt: e.now(), Resumed: true}
}

// forgetCookies empties the jar (logout).
func (e *Engine) forgetCookies() {
	if c := e.cookies; c != nil {
		c.jar.Reset()
		c.mu.Lock()
		c.info, c.csrf = nil, ""
		c.mu.Unlock()
	}
}

// cookieSnapshot is what Snapshot shows of the cookies; hasRefresh says whether the session
// holds a refresh token (after a logout the cookie's attributes are not shown).
func (e *Engine) cookieSnapshot(hasRefresh bool) (*profile.CookieInfo, string) {
	c := e.cookies
	if c == nil {
		return nil, ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var info *profile.CookieInfo
	if c.info != nil && hasRefresh {
		cp := *c.info
		info = &cp
	}
	return info, c.names.CSRFCookie
}

// csrfValue is the CSRF cookie's value, for a session file; "" without one.
func (e *Engine) csrfValue() string {
	if e.cookies == nil {
		return ""
	}
	e.cookies.mu.Lock()
	defer e.cookies.mu.Unlock()
	return e.cookies.csrf
}
