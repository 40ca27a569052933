package oidc

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"tokenscope/demoserver"
)

// demo serves a fresh demo server on 127.0.0.1 and returns it with its URL.
func demo(t *testing.T, opts demoserver.Options) (*demoserver.Server, string) {
	t.Helper()
	s, err := demoserver.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, ts.URL
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// hc is the client the tests hand in, as the engine would hand in one built on its transport.
func hc() *http.Client { return &http.Client{Timeout: 10 * time.Second} }

// discovered returns a Client for id/secret at a fresh demo server.
func discovered(t *testing.T, opts demoserver.Options, id, secret string) (*Client, *demoserver.Server, string) {
	t.Helper()
	s, base := demo(t, opts)
	p, err := Discover(ctxT(t), hc(), base)
	if err != nil {
		t.Fatal(err)
	}
	return &Client{HTTP: hc(), Provider: p, ID: id, Secret: secret}, s, base
}

// demoStats reads GET /__demo/stats, the demo server's public test surface.
func demoStats(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := hc().Get(base + "/__demo/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Stats map[string]float64 `json:"stats"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Stats
}

// browser plays the user agent: it keeps cookies and does not follow redirects, so the test
// reads each Location itself.
type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// page is one answer as the browser saw it.
type page struct {
	status int
	loc    string
	body   string
}

func (b *browser) read(resp *http.Response, err error) page {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, loc: resp.Header.Get("Location"), body: string(body)}
}

func (b *browser) get(u string) page { b.t.Helper(); return b.read(b.c.Get(u)) }

func (b *browser) post(u string, form url.Values) page {
	b.t.Helper()
	return b.read(b.c.PostForm(u, form))
}

var reqField = regexp.MustCompile(`name="req" value="([^"]+)"`)

// consent fills the demo's login form shown in login as demo/demo, then presses approve (or
// deny), posting to base+action; it returns the last answer.
func (b *browser) consent(base, action string, login page, approve bool) page {
	b.t.Helper()
	m := reqField.FindStringSubmatch(login.body)
	if login.status != 200 || m == nil {
		b.t.Fatalf("no login form: %d %s", login.status, login.body)
	}
	a := b.post(base+action, url.Values{"req": {m[1]}, "username": {"demo"}, "password": {"demo"}})
	m = reqField.FindStringSubmatch(a.body)
	if m == nil || !strings.Contains(a.body, `name="approve"`) {
		b.t.Fatalf("no approve form: %d %s", a.status, a.body)
	}
	button := "deny"
	if approve {
		button = "approve"
	}
	return b.post(base+action, url.Values{"req": {m[1]}, button: {"1"}})
}
