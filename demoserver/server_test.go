package demoserver

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"tokenscope/internal/testutil"
)

var epoch = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// harness is a demo server on a real loopback listener with a manual clock.
type harness struct {
	t     *testing.T
	srv   *Server
	clock *ManualClock
	url   string
}

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	clock := NewManualClock(epoch)
	if opts.Clock == nil {
		opts.Clock = clock
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s) // binds 127.0.0.1:0
	t.Cleanup(ts.Close)
	return &harness{t: t, srv: s, clock: clock, url: ts.URL}
}

// answer is a response read in full.
type answer struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

func (a answer) str(path ...string) string {
	var v any = a.body
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[p]
	}
	s, _ := v.(string)
	return s
}

func (a answer) num(path ...string) float64 {
	var v any = a.body
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return -1
		}
		v = m[p]
	}
	f, ok := v.(float64)
	if !ok {
		return -1
	}
	return f
}

func (h *harness) do(method, path, contentType string, body []byte, headers ...string) answer {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	if resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable {
		h.t.Errorf("%s %s answered %d: %s", method, path, resp.StatusCode, raw)
	}
	return a
}

func (h *harness) postJSON(path string, v any, headers ...string) answer {
	h.t.Helper()
	b, _ := json.Marshal(v)
	return h.do("POST", path, "application/json", b, headers...)
}

func (h *harness) postForm(path string, form url.Values, headers ...string) answer {
	h.t.Helper()
	return h.do("POST", path, "application/x-www-form-urlencoded", []byte(form.Encode()), headers...)
}

// convention drives one of the four wire formats from the client side, written from
// DESIGN.md's table rather than from the server's code.
type convention struct {
	name     string
	login    func(h *harness) answer
	tokens   func(a answer) (access, refresh string)
	refresh  func(h *harness, refresh string) answer
	resource func(h *harness, access string) answer
	// expired checks the exact 401 for an access token that is no longer good.
	expired func(t *testing.T, a answer)
	// rejected checks the exact rejection of a refresh token.
	rejected func(t *testing.T, a answer)
}

var creds = map[string]string{"username": "demo", "password": "demo"}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

func expectBearer401(t *testing.T, a answer) {
	t.Helper()
	if a.status != 401 {
		t.Fatalf("status %d, want 401: %s", a.status, a.raw)
	}
	if ch := a.header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer ") || !strings.Contains(ch, `error="invalid_token"`) {
		t.Errorf("WWW-Authenticate = %q, want Bearer error=\"invalid_token\"", ch)
	}
	if a.str("code") != "token_not_valid" || a.str("detail") != "Given token not valid for any token type" {
		t.Errorf("body %s, want simplejwt's token_not_valid", a.raw)
	}
}

func oauthForm(kv ...string) url.Values {
	v := url.Values{"client_id": {"tokenscope"}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

var conventions = []convention{
	{
		name:  SimpleJWT,
		login: func(h *harness) answer { return h.postJSON("/api/token/", creds) },
		tokens: func(a answer) (string, string) {
			return a.str("access"), a.str("refresh")
		},
		refresh: func(h *harness, r string) answer {
			return h.postJSON("/api/token/refresh/", map[string]string{"refresh": r})
		},
		resource: func(h *harness, a string) answer { return h.do("GET", "/api/protected/", "", nil, bearer(a)...) },
		expired:  expectBearer401,
		rejected: func(t *testing.T, a answer) {
			t.Helper()
			if a.status != 401 || a.str("code") != "token_not_valid" {
				t.Fatalf("got %d %s, want 401 token_not_valid", a.status, a.raw)
			}
		},
	},
	{
		name:  BearerJSON,
		login: func(h *harness) answer { return h.postJSON("/login", creds) },
		tokens: func(a answer) (string, string) {
			return a.str("accessToken"), a.str("refreshToken")
		},
		refresh: func(h *harness, r string) answer {
			return h.postJSON("/refresh-token", map[string]string{"refreshToken": r})
		},
		resource: func(h *harness, a string) answer { return h.do("GET", "/api/me", "", nil, bearer(a)...) },
		expired:  expectBearer401,
		rejected: func(t *testing.T, a answer) {
			t.Helper()
			if a.status != 401 || a.str("message") == "" {
				t.Fatalf("got %d %s, want 401 with a message", a.status, a.raw)
			}
		},
	},
	{
		name:  ElementAdmin,
		login: func(h *harness) answer { return h.postJSON("/sys/user/login", creds) },
		tokens: func(a answer) (string, string) {
			return a.str("data", "token"), a.str("data", "refreshToken")
		},
		refresh: func(h *harness, r string) answer {
			return h.do("POST", "/sys/user/refreshtoken", "", nil, "X-Token", r)
		},
		resource: func(h *harness, a string) answer { return h.do("GET", "/sys/user/info", "", nil, "X-Token", a) },
		expired: func(t *testing.T, a answer) {
			t.Helper()
			if a.status != 401 || a.num("code") != 50014 {
				t.Fatalf("got %d %s, want 401 code 50014", a.status, a.raw)
			}
		},
		rejected: func(t *testing.T, a answer) {
			t.Helper()
			if a.status != 401 || a.num("code") != 50015 {
				t.Fatalf("got %d %s, want 401 code 50015", a.status, a.raw)
			}
		},
	},
	{
		name: OAuth2,
		login: func(h *harness) answer {
			return h.postForm("/oauth/token", oauthForm("grant_type", "password", "username", "demo", "password", "demo"))
		},
		tokens: func(a answer) (string, string) {
			return a.str("access_token"), a.str("refresh_token")
		},
		refresh: func(h *harness, r string) answer {
			return h.postForm("/oauth/token", oauthForm("grant_type", "refresh_token", "refresh_token", r))
		},
		resource: func(h *harness, a string) answer { return h.do("GET", "/api/protected/", "", nil, bearer(a)...) },
		expired:  expectBearer401,
		rejected: func(t *testing.T, a answer) {
			t.Helper()
			if a.status != 400 || a.str("error") != "invalid_grant" {
				t.Fatalf("got %d %s, want 400 invalid_grant", a.status, a.raw)
			}
		},
	},
}

func mustLogin(t *testing.T, h *harness, c convention) (string, string) {
	t.Helper()
	a := c.login(h)
	if a.status != 200 {
		t.Fatalf("%s login: %d %s", c.name, a.status, a.raw)
	}
	acc, ref := c.tokens(a)
	if acc == "" || ref == "" {
		t.Fatalf("%s login returned no pair: %s", c.name, a.raw)
	}
	return acc, ref
}

func expectOK(t *testing.T, a answer, what string) {
	t.Helper()
	if a.status != 200 {
		t.Fatalf("%s: %d %s", what, a.status, a.raw)
	}
}

// TestConventionEndToEnd walks every convention through DESIGN.md's whole story over real
// HTTP: login, use, expiry, refresh with rotation, and reuse detection revoking the family.
func TestConventionEndToEnd(t *testing.T) {
	for _, c := range conventions {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			acc, ref := mustLogin(t, h, c)
			expectOK(t, c.resource(h, acc), "resource with fresh token")

			h.clock.Advance(31 * time.Second)
			c.expired(t, c.resource(h, acc))

			a := c.refresh(h, ref)
			expectOK(t, a, "refresh")
			acc2, ref2 := c.tokens(a)
			if acc2 == "" || acc2 == acc {
				t.Fatalf("refresh gave no new access token: %s", a.raw)
			}
			if ref2 == "" || ref2 == ref {
				t.Fatalf("rotation is on but the refresh token did not change: %s", a.raw)
			}
			expectOK(t, c.resource(h, acc2), "resource with refreshed token")

			// The old refresh token again: reuse. The whole family dies, including the newest pair.
			c.rejected(t, c.refresh(h, ref))
			c.rejected(t, c.refresh(h, ref2))
			c.expired(t, c.resource(h, acc2))

			st := h.srv.Stats()
			if st.Logins != 1 || st.RefreshOK != 1 || st.RefreshRejected != 2 || st.ReuseDetected != 1 ||
				st.ResourceOK != 2 || st.ResourceUnauthorized != 2 {
				t.Errorf("stats = %+v", st)
			}
			// A fresh login starts a new, healthy family.
			acc3, _ := mustLogin(t, h, c)
			expectOK(t, c.resource(h, acc3), "resource after new login")
		})
	}
}

func TestNoRotationKeepsRefreshToken(t *testing.T) {
	for _, c := range conventions {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, Options{NoRotation: true})
			_, ref := mustLogin(t, h, c)
			for i := 0; i < 3; i++ {
				a := c.refresh(h, ref)
				expectOK(t, a, "refresh")
				acc, newRef := c.tokens(a)
				if newRef != "" {
					t.Fatalf("no-rotation answer carried a refresh token: %s", a.raw)
				}
				expectOK(t, c.resource(h, acc), "resource")
			}
			if h.srv.Stats().ReuseDetected != 0 {
				t.Error("reuse detected without rotation")
			}
		})
	}
}

func TestNoReuseDetectionRejectsButKeepsFamily(t *testing.T) {
	for _, c := range conventions {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, Options{NoReuseDetection: true})
			_, ref := mustLogin(t, h, c)
			a := c.refresh(h, ref)
			expectOK(t, a, "refresh")
			_, ref2 := c.tokens(a)
			c.rejected(t, c.refresh(h, ref))
			expectOK(t, c.refresh(h, ref2), "the family's newest token still refreshes")
		})
	}
}

func TestRefreshTokenExpires(t *testing.T) {
	for _, c := range conventions {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, Options{RefreshTTL: 2 * time.Minute})
			_, ref := mustLogin(t, h, c)
			h.clock.Advance(2*time.Minute + time.Second)
			c.rejected(t, c.refresh(h, ref))
		})
	}
}

func TestTokenTypeConfusionRejected(t *testing.T) {
	for _, c := range conventions {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			acc, ref := mustLogin(t, h, c)
			c.expired(t, c.resource(h, ref))
			c.rejected(t, c.refresh(h, acc))
			// Neither mistake consumed anything.
			expectOK(t, c.resource(h, acc), "access token still works")
			expectOK(t, c.refresh(h, ref), "refresh token still works")
		})
	}
}

func TestMalformedAndForeignTokens(t *testing.T) {
	other, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	other.opts.Clock = NewManualClock(epoch)
	foreign, err := other.loginBound("demo", false, "")
	if err != nil {
		t.Fatal(err)
	}
	// alg "none": header {"alg":"none","typ":"JWT"}, payload with plausible claims.
	none := "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." +
		"eyJzdWIiOiJkZW1vIiwiZXhwIjo0MTAyNDQ0ODAwLCJqdGkiOiJ4IiwidG9rZW5fdHlwZSI6ImFjY2VzcyIsImZhbSI6InkifQ."
	bad := map[string]string{
		"garbage":        "not-a-token",
		"three dots":     "a.b.c",
		"alg none":       none,
		"other server":   foreign.access,
		"truncated":      foreign.access[:len(foreign.access)-5],
		"non-ascii":      "t\u00f6k\u00e9n.\u00e9.x",
		"huge":           strings.Repeat("A", 6000),
		"other refresh":  foreign.refresh,
		"empty segments": "..",
	}
	for _, c := range conventions {
		h := newHarness(t, Options{})
		for name, tok := range bad {
			t.Run(c.name+"/"+name, func(t *testing.T) {
				c.expired(t, c.resource(h, tok))
				c.rejected(t, c.refresh(h, tok))
			})
		}
	}
}

func TestMissingCredentials(t *testing.T) {
	h := newHarness(t, Options{})
	a := h.do("GET", "/api/protected/", "", nil)
	if a.status != 401 || a.header.Get("WWW-Authenticate") != `Bearer realm="tokenscope-demo"` || a.str("detail") == "" {
		t.Errorf("no credentials: %d %q %s", a.status, a.header.Get("WWW-Authenticate"), a.raw)
	}
	a = h.do("GET", "/api/protected/", "", nil, "Authorization", "Basic ZGVtbzpkZW1v")
	if a.status != 401 || a.str("code") != "bad_authorization_header" {
		t.Errorf("wrong scheme: %d %s", a.status, a.raw)
	}
	a = h.do("GET", "/sys/user/info", "", nil)
	if a.status != 401 || a.num("code") != 50008 {
		t.Errorf("no X-Token: %d %s", a.status, a.raw)
	}
}

func TestWrongPassword(t *testing.T) {
	h := newHarness(t, Options{})
	wrong := map[string]string{"username": "demo", "password": "nope"}
	for path, check := range map[string]func(answer) bool{
		"/api/token/":     func(a answer) bool { return a.status == 401 && a.str("detail") != "" },
		"/login":          func(a answer) bool { return a.status == 401 && a.str("message") != "" },
		"/sys/user/login": func(a answer) bool { return a.status == 401 && a.num("code") == 60204 },
	} {
		if a := h.postJSON(path, wrong); !check(a) {
			t.Errorf("%s: %d %s", path, a.status, a.raw)
		}
	}
	a := h.postForm("/oauth/token", oauthForm("grant_type", "password", "username", "demo", "password", "nope"))
	if a.status != 400 || a.str("error") != "invalid_grant" {
		t.Errorf("oauth2: %d %s", a.status, a.raw)
	}
	if got := h.srv.Stats().LoginsFailed; got != 4 {
		t.Errorf("logins_failed = %d, want 4", got)
	}
}

func TestUsersOption(t *testing.T) {
	h := newHarness(t, Options{Users: map[string]string{"alice": "s3cret"}})
	if a := h.postJSON("/api/token/", creds); a.status != 401 {
		t.Errorf("default user still accepted: %d", a.status)
	}
	a := h.postJSON("/api/token/", map[string]string{"username": "alice", "password": "s3cret"})
	expectOK(t, a, "alice login")
	if me := h.do("GET", "/api/me", "", nil, bearer(a.str("access"))...); me.str("username") != "alice" {
		t.Errorf("me = %s", me.raw)
	}
}

// TestConcurrentRefreshStampede is the seeds' hole made visible: fifty clients redeem the same
// refresh token at once. Exactly one wins; the first loser is caught as reuse and revokes the
// family, so the rest find it revoked.
func TestConcurrentRefreshStampede(t *testing.T) {
	for _, c := range conventions {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			h.srv.SetLatency(0, 20*time.Millisecond) // make the calls overlap
			_, ref := mustLogin(t, h, c)
			const n = 50
			var wg sync.WaitGroup
			var mu sync.Mutex
			ok := 0
			var winner string
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					a := c.refresh(h, ref)
					if a.status == 200 {
						mu.Lock()
						ok++
						winner, _ = c.tokens(a)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			st := h.srv.Stats()
			if ok != 1 || st.RefreshOK != 1 || st.RefreshRejected != n-1 || st.ReuseDetected != 1 {
				t.Fatalf("ok=%d stats=%+v", ok, st)
			}
			if st.MaxRefreshInFlight < 2 {
				t.Errorf("max_refresh_in_flight = %d, want overlapping calls", st.MaxRefreshInFlight)
			}
			c.expired(t, c.resource(h, winner)) // its family was revoked by the reuse
		})
	}
}

func TestExpireAccessKnob(t *testing.T) {
	for _, c := range conventions {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			acc, ref := mustLogin(t, h, c)
			a := h.do("POST", "/__demo/expire-access", "", nil)
			if a.status != 200 || a.num("expired") != 1 {
				t.Fatalf("knob: %d %s", a.status, a.raw)
			}
			c.expired(t, c.resource(h, acc))
			r := c.refresh(h, ref)
			expectOK(t, r, "refresh after expire-access")
			acc2, _ := c.tokens(r)
			expectOK(t, c.resource(h, acc2), "tokens issued after the knob are good")
		})
	}
}

func TestRevokeFamiliesKnob(t *testing.T) {
	for _, c := range conventions {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			acc, ref := mustLogin(t, h, c)
			if a := h.do("POST", "/__demo/revoke-families", "", nil); a.num("revoked") != 1 {
				t.Fatalf("knob: %s", a.raw)
			}
			c.rejected(t, c.refresh(h, ref))
			c.expired(t, c.resource(h, acc))
		})
	}
}

func TestFailRefreshKnob(t *testing.T) {
	for _, c := range conventions {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			_, ref := mustLogin(t, h, c)
			if a := h.do("POST", "/__demo/fail-refresh?n=2", "", nil); a.status != 200 {
				t.Fatalf("knob: %d %s", a.status, a.raw)
			}
			for i := 0; i < 2; i++ {
				a := c.refresh(h, ref)
				if a.status != 503 || a.header.Get("Retry-After") == "" || a.body == nil {
					t.Fatalf("refresh %d: %d %q %s, want 503 JSON with Retry-After", i, a.status, a.header.Get("Retry-After"), a.raw)
				}
			}
			// The failures did not consume the refresh token.
			expectOK(t, c.refresh(h, ref), "refresh after the injected failures")
			if st := h.srv.Stats(); st.RefreshInjected503 != 2 || st.RefreshOK != 1 {
				t.Errorf("stats = %+v", st)
			}
		})
	}
	h := newHarness(t, Options{})
	if a := h.do("POST", "/__demo/fail-refresh?n=lots", "", nil); a.status != 400 {
		t.Errorf("bad n: %d", a.status)
	}
}

func TestLatencyKnob(t *testing.T) {
	h := newHarness(t, Options{})
	if a := h.do("POST", "/__demo/latency?all=120ms&refresh=200ms", "", nil); a.status != 200 {
		t.Fatalf("knob: %d %s", a.status, a.raw)
	}
	k := h.srv.Knobs()
	if k.Latency != 120*time.Millisecond || k.RefreshLatency != 200*time.Millisecond {
		t.Fatalf("knobs = %+v", k)
	}
	// Latency is a lower bound on the answer time, which cannot flake the other way.
	start := time.Now()
	a := h.postJSON("/api/token/", creds)
	if d := time.Since(start); d < 120*time.Millisecond {
		t.Errorf("login took %v with 120ms latency", d)
	}
	start = time.Now()
	expectOK(t, h.postJSON("/api/token/refresh/", map[string]string{"refresh": a.str("refresh")}), "refresh")
	if d := time.Since(start); d < 320*time.Millisecond {
		t.Errorf("refresh took %v with 120ms+200ms latency", d)
	}
	if a := h.do("POST", "/__demo/latency?all=forever", "", nil); a.status != 400 {
		t.Errorf("bad duration: %d", a.status)
	}
}

func TestSkewKnob(t *testing.T) {
	h := newHarness(t, Options{})
	if a := h.do("POST", "/__demo/skew?d=-1h", "", nil); a.status != 200 {
		t.Fatalf("knob: %d %s", a.status, a.raw)
	}
	a := h.postJSON("/api/token/", creds)
	date, err := http.ParseTime(a.header.Get("Date"))
	if err != nil || !date.Equal(epoch.Add(-time.Hour)) {
		t.Errorf("Date = %q, want %v", a.header.Get("Date"), epoch.Add(-time.Hour))
	}
	claims := decodeClaims(t, a.str("access"))
	if int64(claims["iat"].(float64)) != epoch.Add(-time.Hour).Unix() ||
		int64(claims["exp"].(float64)) != epoch.Add(-time.Hour+30*time.Second).Unix() {
		t.Errorf("iat/exp = %v/%v, want the skewed clock", claims["iat"], claims["exp"])
	}
	// Expiry checks follow the skewed clock too: undo the skew and the token is long dead.
	h.srv.SetSkew(0)
	expectBearer401(t, h.do("GET", "/api/protected/", "", nil, bearer(a.str("access"))...))
	if a := h.do("POST", "/__demo/skew?d=", "", nil); a.status != 400 {
		t.Errorf("missing d: %d", a.status)
	}
}

func TestStatsAndReset(t *testing.T) {
	h := newHarness(t, Options{})
	mustLogin(t, h, conventions[0])
	h.srv.FailNextRefreshes(3)
	a := h.do("GET", "/__demo/stats", "", nil)
	if a.num("stats", "logins") != 1 || a.num("knobs", "fail_next_refresh") != 3 {
		t.Errorf("stats: %s", a.raw)
	}
	for _, k := range []string{"requests", "logins", "refresh_ok", "refresh_rejected", "reuse_detected",
		"resource_ok", "resource_unauthorized", "max_refresh_in_flight"} {
		if a.num("stats", k) < 0 {
			t.Errorf("stats lacks %q: %s", k, a.raw)
		}
	}
	h.do("POST", "/__demo/reset", "", nil)
	if st, k := h.srv.Stats(), h.srv.Knobs(); st.Logins != 0 || k.FailNextRefresh != 0 {
		t.Errorf("after reset: %+v %+v", st, k)
	}
}

func TestKnobsAnswerLoopbackOnly(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/__demo/revoke-families", nil)
	req.RemoteAddr = "192.0.2.7:5555" // never dialled: the handler is called directly
	req.Host = "127.0.0.1:8000"       // the Host the server listens as, so that only the client's address is wrong
	req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8000}))
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Errorf("non-loopback knob call: %d", rec.Code)
	}
}

func TestStartRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0", "example.com:80", "nonsense"} {
		if s, err := Start(Options{Addr: addr}); err == nil {
			s.Close()
			t.Errorf("Start(%q) succeeded", addr)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0", "localhost:80"} {
		if err := CheckLoopback(addr); err != nil {
			t.Errorf("CheckLoopback(%q): %v", addr, err)
		}
	}
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") {
		t.Errorf("URL = %q", s.URL())
	}
	resp, err := http.Get(s.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	var index struct {
		Confidential map[string]string `json:"confidential_client"`
	}
	err = json.NewDecoder(resp.Body).Decode(&index)
	resp.Body.Close()
	if resp.StatusCode != 200 || err != nil {
		t.Errorf("index: %d %v", resp.StatusCode, err)
	}
	// The confidential demo client's secret is documentation, like the demo password.
	if c := index.Confidential; c["client_id"] != DefaultConfidentialClientID || c["client_secret"] != DefaultConfidentialSecret {
		t.Errorf("GET / does not show the confidential client: %v", c)
	}
}

func TestOptionsValidation(t *testing.T) {
	if _, err := New(Options{Alg: "RS512"}); err == nil {
		t.Error("unknown alg accepted")
	}
	if _, err := New(Options{Secret: []byte("short")}); err == nil {
		t.Error("short secret accepted")
	}
}

func TestLogWritesOneLinePerRequest(t *testing.T) {
	var buf testutil.SyncBuffer
	h := newHarness(t, Options{Log: &buf})
	acc, ref := mustLogin(t, h, conventions[0])
	h.do("GET", "/api/protected/", "", nil, bearer(acc)...)
	h.do("GET", "/nowhere", "", nil)
	out := buf.String()
	if n := strings.Count(out, "\n"); n != 3 {
		t.Errorf("%d lines, want 3:\n%s", n, out)
	}
	for _, want := range []string{"POST /api/token/", "GET  /api/protected/", "404"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, acc) || strings.Contains(out, ref) {
		t.Error("the request log contains a raw token")
	}
}

// TestLogIsInert: the request log prints the client's method and path, which any web page can
// make a browser send to loopback: escape sequences in them arrive inert, a newline cannot
// forge a line, and a huge path is clipped.
func TestLogIsInert(t *testing.T) {
	var buf testutil.SyncBuffer
	h := newHarness(t, Options{Log: &buf})
	h.do("GET", "/%1b%5d0%3bPWNED%07%c2%9b2J%e2%80%ae%e2%80%8b%0afake-line", "", nil)
	h.do("GET", "/"+strings.Repeat("a", 64<<10), "", nil)
	out := buf.String()
	if n := strings.Count(out, "\n"); n != 2 {
		t.Errorf("%d lines for 2 requests:\n%q", n, out)
	}
	for _, r := range out {
		if r != '\n' && (r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == '\u202e' || r == '\u200b') {
			t.Fatalf("the log holds %U raw: %q", r, out)
		}
	}
	if !strings.Contains(out, "⏎fake-line") || !strings.Contains(out, "bytes more") || len(out) > 2048 {
		t.Errorf("the log lost the text or kept the huge path whole (%d bytes):\n%.400q", len(out), out)
	}
}

// TestForeignHostAndOriginRefused: DNS rebinding shows as a Host the server does not listen as,
// and a web page's POST as another Origin: the server answers neither (a page could otherwise
// flip the knobs, or read the API through a rebound name), and answers its own names.
func TestForeignHostAndOriginRefused(t *testing.T) {
	s, err := Start(Options{Issuer: "http://demo.test:8000"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	u, _ := url.Parse(s.URL())
	do := func(method, path, host string, h map[string]string) int {
		t.Helper()
		req, _ := http.NewRequest(method, s.URL()+path, nil)
		req.Host = host
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, host := range []string{"rebind.attacker.example", "rebind.attacker.example:" + u.Port(), "127.0.0.2:" + u.Port()} {
		if got := do("GET", "/.well-known/openid-configuration", host, nil); got != http.StatusMisdirectedRequest {
			t.Errorf("Host %s: %d", host, got)
		}
		if got := do("POST", "/__demo/expire-access", host, nil); got != http.StatusMisdirectedRequest {
			t.Errorf("knob with Host %s: %d", host, got)
		}
	}
	for _, host := range []string{u.Host, "localhost:" + u.Port(), "demo.test:8000", "LOCALHOST:" + u.Port()} {
		if got := do("GET", "/.well-known/jwks.json", host, nil); got != http.StatusOK {
			t.Errorf("Host %s: %d", host, got)
		}
	}
	for _, h := range []map[string]string{{"Origin": "http://evil.example"}, {"Origin": "null"},
		{"Sec-Fetch-Site": "cross-site"}, {"Origin": "http://localhost:1"}} {
		if got := do("POST", "/__demo/fail-refresh?n=3", u.Host, h); got != http.StatusForbidden {
			t.Errorf("knob with %v: %d", h, got)
		}
	}
	if k := s.Knobs(); k.FailNextRefresh != 0 {
		t.Fatalf("a refused knob call turned the knob: %+v", k)
	}
	if got := do("POST", "/__demo/fail-refresh?n=3", u.Host, map[string]string{"Origin": s.URL(), "Sec-Fetch-Site": "same-origin"}); got != http.StatusOK {
		t.Errorf("same-origin knob call: %d", got)
	}
	if k := s.Knobs(); k.FailNextRefresh != 3 {
		t.Errorf("knob: %+v", k)
	}
}
