package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tokenscope/apiclient/profile"
	"tokenscope/demoserver"
)

// wireLog keeps every request the engine sends, with its body.
type wireLog struct {
	next http.RoundTripper
	mu   sync.Mutex
	reqs []sentRequest
}

type sentRequest struct {
	method string
	url    *url.URL
	header http.Header
	body   []byte
}

func (w *wireLog) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	w.mu.Lock()
	w.reqs = append(w.reqs, sentRequest{r.Method, r.URL, r.Header.Clone(), body})
	w.mu.Unlock()
	return w.next.RoundTrip(r)
}

func (w *wireLog) all() []sentRequest {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.reqs)
}

// TestExplainSaysWhatIsSent: for every built-in profile, `profile check`'s account of the login
// and refresh calls (Profile.Explain) matches what the engine sends: method, path, query keys,
// headers, the cookie and CSRF header of the cookie convention, and the body: none when none
// goes out (the cookie profile was described as sending JSON {"":"<refresh token>"}), else its
// content type and every field.
func TestExplainSaysWhatIsSent(t *testing.T) {
	hosted := map[string]hostedCase{}
	for _, c := range hostedCases() {
		if c.overlay == "" {
			hosted[c.profile] = c
		}
	}
	for _, name := range profile.AllNames() {
		t.Run(name, func(t *testing.T) {
			p, err := profile.Resolve(name)
			if err != nil {
				t.Fatal(err)
			}
			e, w := wireEngine(t, p, hosted[name])
			n := len(w.all())
			if err := e.RefreshNow(context.Background()); err != nil {
				t.Fatal(err)
			}
			sent := w.all()
			if n != 1 || len(sent) != 2 {
				t.Fatalf("%d calls to log in, %d in all: want one each", n, len(sent))
			}
			explained := strings.Join(p.Explain(), "\n")
			checkExplained(t, explained, "login", sent[0], p.Login)
			checkExplained(t, explained, "refresh", sent[1], p.Refresh)
			if p.CookieMode() {
				ck, csrf := sent[1].header.Get("Cookie"), sent[1].header.Get(p.Cookie.CSRFHeader)
				if !strings.Contains(ck, p.Cookie.Refresh+"=") || csrf == "" {
					t.Errorf("the cookie refresh sent Cookie %q and %s %q", ck, p.Cookie.CSRFHeader, csrf)
				}
				if !strings.Contains(explained, "cookie: "+p.Cookie.Refresh+"=<refresh token>") ||
					!strings.Contains(explained, "csrf: "+p.Cookie.CSRFHeader+": <the "+p.Cookie.CSRFCookie+" cookie's value>") {
					t.Errorf("the cookie and CSRF header are not explained:\n%s", explained)
				}
			}
		})
	}
}

// wireEngine logs in with p, through a wireLog, at the demo server (the conventions it serves)
// or at a hosted service's stand-in.
func wireEngine(t *testing.T, p profile.Profile, hc hostedCase) (*Engine, *wireLog) {
	t.Helper()
	clock := testClock(epoch)
	cfg := Config{Profile: p, Clock: clock, RefreshBackoff: time.Millisecond}
	w := &wireLog{next: http.DefaultTransport}
	if hc.profile == "" {
		srv, err := demoserver.New(demoserver.Options{Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(srv)
		t.Cleanup(ts.Close)
		cfg.BaseURL, cfg.Username, cfg.Password = ts.URL, "demo", "demo"
	} else {
		s := newHostedServer(t, clock, hc.rotate)
		ts := httptest.NewServer(hc.handler(s))
		t.Cleanup(ts.Close)
		for k, v := range hc.env {
			t.Setenv(k, v)
		}
		if hc.profile == "cognito" {
			t.Setenv("COGNITO_ENDPOINT", ts.URL+"/")
		}
		to, _ := url.Parse(ts.URL)
		w.next = &loopbackTransport{to: to, s: s}
		cfg.BaseURL, cfg.Username, cfg.Password = ts.URL, hc.user, hc.password
	}
	cfg.Transport = w
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	if _, err := e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e, w
}

// checkExplained holds the explanation's lines on one call ("login: POST <target>/x" and the
// indented lines under it) against the request that went out.
func checkExplained(t *testing.T, explained, what string, r sentRequest, ep profile.Endpoint) {
	t.Helper()
	lines := callLines(explained, what)
	if len(lines) == 0 {
		t.Fatalf("no %s line in:\n%s", what, explained)
	}
	head, _, _ := strings.Cut(lines[0], "?")
	if !strings.HasPrefix(head, what+": "+r.method+" ") || (ep.URLEnv == "" && !strings.HasSuffix(head, r.url.Path)) {
		t.Errorf("%s: explained %q, sent %s %s", what, lines[0], r.method, r.url.Path)
	}
	for k := range r.url.Query() {
		if !strings.Contains(lines[0], k+"=") {
			t.Errorf("%s: query %s sent, not explained in %q", what, k, lines[0])
		}
	}
	field := func(prefix string) string {
		for _, l := range lines[1:] {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), prefix); ok {
				return v
			}
		}
		return ""
	}
	for _, h := range strings.Split(field("headers: "), ", ") {
		if name, _, ok := strings.Cut(h, ": "); ok && r.header.Get(name) == "" {
			t.Errorf("%s: header %s explained, not sent", what, name)
		}
	}
	body := field("body: ")
	if len(r.body) == 0 {
		if body != "none" {
			t.Errorf("%s: no body sent, explained %q", what, body)
		}
		return
	}
	ct := r.header.Get("Content-Type")
	if !strings.Contains(body, "("+ct+")") {
		t.Errorf("%s: sent %s, explained %q", what, ct, body)
	}
	for _, k := range sentFields(r.body, ct) {
		if !strings.Contains(body, `"`+k+`"`) && !strings.Contains(body, k+"=") {
			t.Errorf("%s: field %s sent, not explained in %q", what, k, body)
		}
	}
}

// callLines are the explanation's line "what: ..." and the indented lines after it.
func callLines(explained, what string) []string {
	var out []string
	for _, l := range strings.Split(explained, "\n") {
		switch {
		case strings.HasPrefix(l, what+": "):
			out = append(out, l)
		case len(out) > 0 && strings.HasPrefix(l, "  "):
			out = append(out, l)
		case len(out) > 0:
			return out
		}
	}
	return out
}

// sentFields are the names of a body's fields, nested ones by their own name.
func sentFields(body []byte, ct string) []string {
	if strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		q, _ := url.ParseQuery(string(body))
		var out []string
		for k := range q {
			out = append(out, k)
		}
		return out
	}
	var doc any
	_ = json.Unmarshal(body, &doc)
	var out []string
	var walk func(any)
	walk = func(v any) {
		if m, ok := v.(map[string]any); ok {
			for k, x := range m {
				out = append(out, k)
				walk(x)
			}
		}
	}
	walk(doc)
	return out
}
