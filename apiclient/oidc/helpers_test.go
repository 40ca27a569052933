package oidc

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"tokenscope/demoserver"
	"tokenscope/internal/testutil"
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

// browser is testutil.Browser (shared with the demo server's tests) that fails the test on an
// error.
type browser struct {
	t *testing.T
	b *testutil.Browser
}

func newBrowser(t *testing.T) *browser { return &browser{t: t, b: testutil.NewBrowser()} }

// page is one answer as the browser saw it.
type page struct {
	status int
	loc    string
	body   string
	raw    testutil.Page
}

func (b *browser) show(p testutil.Page, err error) page {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
	return page{status: p.Status, loc: p.Location, body: p.Body, raw: p}
}

func (b *browser) get(u string) page { b.t.Helper(); return b.show(b.b.Get(u)) }

// consent fills the demo's login form shown in login as demo/demo, then presses approve (or
// deny), posting to base+action; it returns the last answer.
func (b *browser) consent(base, action string, login page, approve bool) page {
	b.t.Helper()
	return b.show(b.b.Consent(base+action, login.raw, "demo", "demo", approve))
}
