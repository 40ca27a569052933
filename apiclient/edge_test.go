package apiclient

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tokenscope/apiclient/profile"
	"tokenscope/demoserver"
	"tokenscope/internal/testutil"
	"tokenscope/session"
)

// Edge-case tests for the refresh engine. Every HTTP test talks to a real server on loopback
// (httptest or demoserver); timeouts and backoffs are small so the whole file runs in a few
// seconds, race detector included. No test here calls t.Parallel: TestEdgeRestyNeverWritesToStderr
// swaps os.Stderr and must not share the process with other tests while it does.

// edgeConfig is a fast config: two refresh attempts 5 ms apart, 300 ms timeouts.
func edgeConfig(base string, p profile.Profile) Config {
	return Config{
		BaseURL: base, Profile: p, Username: "demo", Password: "demo",
		RefreshAttempts: 2, RefreshBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		Timeout: 300 * time.Millisecond, RefreshTimeout: 300 * time.Millisecond,
	}
}

func edgeProfile(t *testing.T, name string) profile.Profile {
	t.Helper()
	p, ok := profile.Builtin(name)
	if !ok {
		t.Fatalf("no built-in profile %q", name)
	}
	return p
}

func edgeNew(t *testing.T, cfg Config) *Engine {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

func edgeLogin(t *testing.T, e *Engine) {
	t.Helper()
	if _, err := e.Login(context.Background()); err != nil {
		t.Fatalf("Login: %v", err)
	}
}

// edgeDump logs the engine's events when the test failed, to make failures readable.
func edgeDump(t *testing.T, e *Engine) {
	t.Helper()
	if !t.Failed() {
		return
	}
	for _, ev := range e.Log().Events() {
		t.Logf("  event %-14s req#%d refresh#%d %s %s status=%d attempt=%d transient=%v: %s",
			ev.Kind, ev.RequestID, ev.RefreshID, ev.Method, ev.Path, ev.Status, ev.Attempt, ev.Transient, ev.Reason)
	}
}

func edgeEvents(e *Engine, k session.Kind) []session.Event {
	var out []session.Event
	for _, ev := range e.Log().Events() {
		if ev.Kind == k {
			out = append(out, ev)
		}
	}
	return out
}

func edgeWriteJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// edgeTokenNotValid is simplejwt's "access token expired" answer.
func edgeTokenNotValid(w http.ResponseWriter, _ *http.Request) {
	edgeWriteJSON(w, http.StatusUnauthorized, `{"detail":"Given token not valid for any token type","code":"token_not_valid"}`)
}

// edgeOpaquePair answers a simplejwt login or refresh with fresh opaque tokens (no exp, so
// nothing proactive ever happens), counting the calls.
func edgeOpaquePair(prefix string, n *atomic.Int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		edgeWriteJSON(w, http.StatusOK, fmt.Sprintf(`{"access":"%s-access-%d-Zm9vYmFy","refresh":"%s-refresh-%d-YmF6cXV4"}`, prefix, i, prefix, i))
	}
}

// headerLog records one header of every request a handler sees.
type headerLog struct {
	mu   sync.Mutex
	seen []string
}

func (h *headerLog) add(v string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seen = append(h.seen, v)
}

func (h *headerLog) all() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.seen...)
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// 1. Loop guards.

// A resource that rejects every token: one refresh, one retry, then the 401 is reported.
func TestEdgeLoopGuardRetryIsNotRetriedAgain(t *testing.T) {
	var logins, refreshes, resource atomic.Int64
	var auths headerLog
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/token/{$}", edgeOpaquePair("login", &logins))
	mux.HandleFunc("POST /api/token/refresh/{$}", edgeOpaquePair("refreshed", &refreshes))
	mux.HandleFunc("GET /api/protected/", func(w http.ResponseWriter, r *http.Request) {
		resource.Add(1)
		auths.add(r.Header.Get("Authorization"))
		edgeTokenNotValid(w, r)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	e := edgeNew(t, edgeConfig(srv.URL, edgeProfile(t, "simplejwt")))
	defer e.Close()
	defer edgeDump(t, e)
	edgeLogin(t, e)

	res := e.Do(context.Background(), profile.Request{Method: "GET", Path: "/api/protected/"})
	if res.Outcome != Failed || res.Status != http.StatusUnauthorized {
		t.Fatalf("outcome %v status %d (%s), want failed 401", res.Outcome, res.Status, res.Reason)
	}
	if len(res.Attempts) != 2 {
		t.Errorf("Attempts = %d, want 2", len(res.Attempts))
	}
	if !strings.Contains(res.Reason, "not retried again") {
		t.Errorf("reason %q does not say the retry was not retried", res.Reason)
	}
	if n := resource.Load(); n != 2 {
		t.Errorf("resource hit %d times, want 2 (the request and one retry)", n)
	}
	if n := refreshes.Load(); n != 1 {
		t.Errorf("refresh endpoint hit %d times, want 1", n)
	}
	if n := logins.Load(); n != 1 {
		t.Errorf("login endpoint hit %d times, want 1", n)
	}
	if got, want := auths.all(), []string{"Bearer login-access-1-Zm9vYmFy", "Bearer refreshed-access-1-Zm9vYmFy"}; !reflect.DeepEqual(got, want) {
		t.Errorf("resource saw Authorization %q, want %q (the retry carries the refreshed token)", got, want)
	}
	c := e.Counters()
	if c.RefreshCalls != 1 || c.RefreshOK != 1 || c.Unauthorized != 2 {
		t.Errorf("counters %+v, want 1 refresh call, 1 ok, 2 unauthorized", c)
	}
	var onRetry bool
	for _, ev := range edgeEvents(e, session.KindUnauthorized) {
		if ev.Attempt == 2 && strings.Contains(ev.Reason, "retry") && strings.Contains(ev.Reason, "not retried again") {
			onRetry = true
		}
	}
	if !onRetry {
		t.Errorf("no 401 event for attempt 2 saying it is not retried again")
	}
	if st := e.Snapshot().State; st != session.StateActive {
		t.Errorf("state %v, want active", st)
	}
}

// A refresh endpoint that answers 401 ends the session: the request is parked, and the refresh
// call itself never triggers another refresh.
func TestEdgeLoopGuardRefreshRejected(t *testing.T) {
	cases := []struct {
		name   string
		answer http.HandlerFunc
	}{
		{"simplejwt rejection", edgeTokenNotValid},
		{"bare 401", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "no", http.StatusUnauthorized)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logins, refreshes, resource atomic.Int64
			mux := http.NewServeMux()
			mux.HandleFunc("POST /api/token/{$}", edgeOpaquePair("login", &logins))
			mux.HandleFunc("POST /api/token/refresh/{$}", func(w http.ResponseWriter, r *http.Request) {
				refreshes.Add(1)
				tc.answer(w, r)
			})
			mux.HandleFunc("GET /api/protected/", func(w http.ResponseWriter, r *http.Request) {
				resource.Add(1)
				edgeTokenNotValid(w, r)
			})
			srv := httptest.NewServer(mux)
			defer srv.Close()

			e := edgeNew(t, edgeConfig(srv.URL, edgeProfile(t, "simplejwt")))
			defer e.Close()
			defer edgeDump(t, e)
			edgeLogin(t, e)

			res := e.Do(context.Background(), profile.Request{Method: "GET", Path: "/api/protected/"})
			if res.Outcome != Parked {
				t.Fatalf("outcome %v (%s), want parked", res.Outcome, res.Reason)
			}
			snap := e.Snapshot()
			if snap.State != session.StateLoginRequired {
				t.Errorf("state %v, want login required", snap.State)
			}
			if snap.Parked != 1 {
				t.Errorf("%d parked, want 1", snap.Parked)
			}
			if n := refreshes.Load(); n != 1 {
				t.Errorf("refresh endpoint hit %d times, want 1", n)
			}
			if n := resource.Load(); n != 1 {
				t.Errorf("resource hit %d times, want 1 (no retry once the session is dead)", n)
			}
			fails := edgeEvents(e, session.KindRefreshFailed)
			if len(fails) != 1 || fails[0].Transient {
				t.Errorf("refresh-failed events %+v, want one fatal", fails)
			}
			if c := e.Counters(); c.LoggedOut != 1 || c.RefreshCalls != 1 {
				t.Errorf("counters %+v, want 1 logged out, 1 refresh call", c)
			}

			// While dead, requests are parked without touching the network.
			res = e.Do(context.Background(), profile.Request{Method: "GET", Path: "/api/protected/"})
			if res.Outcome != Parked {
				t.Errorf("second request: outcome %v, want parked", res.Outcome)
			}
			if resource.Load() != 1 || refreshes.Load() != 1 {
				t.Errorf("a request while logged out reached the server (resource %d, refresh %d)", resource.Load(), refreshes.Load())
			}
		})
	}
}

// 2. Network errors never resend a POST.

func TestEdgeNetworkErrorNeverResendsPost(t *testing.T) {
	var logins, items, warm atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/token/{$}", edgeOpaquePair("login", &logins))
	mux.HandleFunc("POST /api/warm", func(w http.ResponseWriter, r *http.Request) {
		warm.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		edgeWriteJSON(w, http.StatusOK, `{"ok":true}`)
	})
	mux.HandleFunc("POST /api/items", func(w http.ResponseWriter, r *http.Request) {
		items.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		hj, ok := w.(http.Hijacker)
		if !ok {
			t.Error("response writer cannot hijack")
			return
		}
		conn, _, err := hj.Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		_ = conn.Close()
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	e := edgeNew(t, edgeConfig(srv.URL, edgeProfile(t, "simplejwt")))
	defer e.Close()
	defer edgeDump(t, e)
	edgeLogin(t, e)

	post := profile.Request{Method: "POST", Path: "/api/items", Header: http.Header{"Content-Type": {"application/json"}},
		Body: []byte(`{"name":"widget","qty":1}`)}

	// On a fresh connection.
	res := e.Do(context.Background(), post)
	if res.Outcome != Failed || res.Reason == "" {
		t.Fatalf("outcome %v reason %q, want failed with a reason", res.Outcome, res.Reason)
	}
	if n := items.Load(); n != 1 {
		t.Fatalf("POST reached the server %d times, want 1", n)
	}

	// On a kept-alive connection (where net/http would resend an idempotent request).
	if r := e.Do(context.Background(), profile.Request{Method: "POST", Path: "/api/warm", Body: []byte("{}")}); r.Outcome != OK {
		t.Fatalf("warm-up: %v %s", r.Outcome, r.Reason)
	}
	res = e.Do(context.Background(), post)
	if res.Outcome != Failed || res.Reason == "" {
		t.Fatalf("reused connection: outcome %v reason %q, want failed with a reason", res.Outcome, res.Reason)
	}
	if n := items.Load(); n != 2 {
		t.Errorf("POST reached the server %d times in all, want 2 (one per Do)", n)
	}
	if n := len(edgeEvents(e, session.KindRequestFailed)); n != 2 {
		t.Errorf("%d request-failed events, want 2", n)
	}
	if n := len(edgeEvents(e, session.KindRetry)); n != 0 {
		t.Errorf("%d retry events, want 0", n)
	}
}

func TestEdgeLoginConnectionRefused(t *testing.T) {
	e := edgeNew(t, edgeConfig("http://"+closedAddr(t), edgeProfile(t, "simplejwt")))
	defer e.Close()
	defer edgeDump(t, e)

	_, err := e.Login(context.Background())
	if err == nil {
		t.Fatal("Login against a closed port succeeded")
	}
	if !strings.Contains(err.Error(), "refused") {
		t.Errorf("error %q does not mention the refusal", err)
	}
	fails := edgeEvents(e, session.KindLoginFailed)
	if len(fails) != 1 || !strings.Contains(fails[0].Reason, "refused") {
		t.Errorf("login-failed events %+v, want one mentioning the refusal", fails)
	}
	if st := e.Snapshot().State; st != session.StateLoggedOut {
		t.Errorf("state %v, want logged out", st)
	}
}

func TestEdgeRequestTimeout(t *testing.T) {
	var logins, slow atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/token/{$}", edgeOpaquePair("login", &logins))
	mux.HandleFunc("POST /api/slow", func(w http.ResponseWriter, r *http.Request) {
		slow.Add(1)
		// Read the body first: net/http only notices a client hanging up (and cancels
		// r.Context()) once the body has been consumed.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
		edgeWriteJSON(w, http.StatusOK, `{"late":true}`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	cfg := edgeConfig(srv.URL, edgeProfile(t, "simplejwt"))
	cfg.Timeout = 150 * time.Millisecond
	e := edgeNew(t, cfg)
	defer e.Close()
	defer edgeDump(t, e)
	edgeLogin(t, e)

	start := time.Now()
	res := e.Do(context.Background(), profile.Request{Method: "POST", Path: "/api/slow", Body: []byte(`{"a":1}`)})
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Do took %s with a 150ms timeout", took)
	}
	if res.Outcome != Failed || !strings.Contains(res.Reason, "timeout") {
		t.Errorf("outcome %v reason %q, want failed with a timeout", res.Outcome, res.Reason)
	}
	if n := slow.Load(); n != 1 {
		t.Errorf("slow POST reached the server %d times, want 1", n)
	}
}

// 3. Redirects.

// redirectFixture is server A (login plus a redirecting resource) and server B (another port).
type redirectFixture struct {
	a, b         *httptest.Server
	aSaw, bSaw   headerLog // the auth header as each server's resource saw it
	aLanding     headerLog // the auth header on A's own landing page
	resourcePath string
}

func newRedirectFixture(t *testing.T, p profile.Profile, crossHost bool) *redirectFixture {
	t.Helper()
	f := &redirectFixture{resourcePath: p.Presets[0].Path}
	authHeader := p.Auth.Header
	bmux := http.NewServeMux()
	bmux.HandleFunc("/landing", func(w http.ResponseWriter, r *http.Request) {
		f.bSaw.add(r.Header.Get(authHeader) + "|" + r.Header.Get("Authorization") + "|" + r.Header.Get("X-Token"))
		edgeWriteJSON(w, http.StatusOK, `{"landed":"b"}`)
	})
	f.b = httptest.NewServer(bmux)

	amux := http.NewServeMux()
	amux.HandleFunc("POST "+p.Login.Path, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		switch p.Name {
		case "element-admin":
			edgeWriteJSON(w, http.StatusOK, `{"code":20000,"data":{"token":"xt-secret-1","refreshToken":"xr-secret-1"}}`)
		default:
			edgeWriteJSON(w, http.StatusOK, `{"accessToken":"at-secret-1","refreshToken":"rt-secret-1"}`)
		}
	})
	amux.HandleFunc("GET "+f.resourcePath, func(w http.ResponseWriter, r *http.Request) {
		f.aSaw.add(r.Header.Get(authHeader))
		target := "/landing-a"
		if crossHost {
			target = f.b.URL + "/landing"
		}
		http.Redirect(w, r, target, http.StatusFound)
	})
	amux.HandleFunc("GET /landing-a", func(w http.ResponseWriter, r *http.Request) {
		f.aLanding.add(r.Header.Get(authHeader))
		edgeWriteJSON(w, http.StatusOK, `{"landed":"a"}`)
	})
	f.a = httptest.NewServer(amux)
	return f
}

func (f *redirectFixture) Close() {
	f.a.Close()
	f.b.Close()
}

func TestEdgeRedirectToOtherPortDropsToken(t *testing.T) {
	for _, tc := range []struct{ profile, token string }{
		{"bearer-json", "Bearer at-secret-1"},
		{"element-admin", "xt-secret-1"},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			p := edgeProfile(t, tc.profile)
			f := newRedirectFixture(t, p, true)
			defer f.Close()
			e := edgeNew(t, edgeConfig(f.a.URL, p))
			defer e.Close()
			defer edgeDump(t, e)
			edgeLogin(t, e)

			res := e.Do(context.Background(), profile.Request{Method: "GET", Path: f.resourcePath})
			if res.Outcome != OK || !strings.Contains(string(res.Body), `"b"`) {
				t.Fatalf("outcome %v status %d body %s (%s), want B's answer", res.Outcome, res.Status, res.Body, res.Reason)
			}
			if got := f.aSaw.all(); len(got) != 1 || got[0] != tc.token {
				t.Errorf("A saw %s %q, want %q", p.Auth.Header, got, tc.token)
			}
			got := f.bSaw.all()
			if len(got) != 1 {
				t.Fatalf("B saw %d requests, want 1", len(got))
			}
			if got[0] != "||" {
				t.Errorf("B (another port) saw %s|Authorization|X-Token = %q, want all empty", p.Auth.Header, got[0])
			}
		})
	}
}

func TestEdgeRedirectSameHostKeepsToken(t *testing.T) {
	for _, tc := range []struct{ profile, token string }{
		{"bearer-json", "Bearer at-secret-1"},
		{"element-admin", "xt-secret-1"},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			p := edgeProfile(t, tc.profile)
			f := newRedirectFixture(t, p, false)
			defer f.Close()
			e := edgeNew(t, edgeConfig(f.a.URL, p))
			defer e.Close()
			defer edgeDump(t, e)
			edgeLogin(t, e)

			res := e.Do(context.Background(), profile.Request{Method: "GET", Path: f.resourcePath})
			if res.Outcome != OK || !strings.Contains(string(res.Body), `"a"`) {
				t.Fatalf("outcome %v status %d body %s (%s), want A's landing page", res.Outcome, res.Status, res.Body, res.Reason)
			}
			if got := f.aLanding.all(); len(got) != 1 || got[0] != tc.token {
				t.Errorf("same-host redirect target saw %s %q, want %q", p.Auth.Header, got, tc.token)
			}
			if n := len(f.bSaw.all()); n != 0 {
				t.Errorf("B saw %d requests, want 0", n)
			}
		})
	}
}

// 4. Bad refresh answers.

func TestEdgeBadRefreshAnswersAreTransient(t *testing.T) {
	cases := []struct {
		name   string
		answer http.HandlerFunc
		want   string // in every refresh-failed reason
	}{
		{"html", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = io.WriteString(w, "<html>oops</html>")
		}, "html"},
		{"empty body", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusOK)
		}, "empty"},
		{"empty JSON body", func(w http.ResponseWriter, _ *http.Request) {
			edgeWriteJSON(w, http.StatusOK, "")
		}, "empty"},
		{"missing access", func(w http.ResponseWriter, _ *http.Request) {
			edgeWriteJSON(w, http.StatusOK, `{"refresh":"r-2"}`)
		}, `"access"`},
		{"access is a number", func(w http.ResponseWriter, _ *http.Request) {
			edgeWriteJSON(w, http.StatusOK, `{"access":12345,"refresh":"r-2"}`)
		}, "number"},
		{"access is null", func(w http.ResponseWriter, _ *http.Request) {
			edgeWriteJSON(w, http.StatusOK, `{"access":null}`)
		}, `"access"`},
		{"access is empty", func(w http.ResponseWriter, _ *http.Request) {
			edgeWriteJSON(w, http.StatusOK, `{"access":""}`)
		}, "empty"},
		{"truncated JSON", func(w http.ResponseWriter, _ *http.Request) {
			edgeWriteJSON(w, http.StatusOK, `{"access":"a-2","refr`)
		}, "not JSON"},
		{"JSON array", func(w http.ResponseWriter, _ *http.Request) {
			edgeWriteJSON(w, http.StatusOK, `["a-2"]`)
		}, `"access"`},
		{"503", func(w http.ResponseWriter, _ *http.Request) {
			edgeWriteJSON(w, http.StatusServiceUnavailable, `{"detail":"maintenance"}`)
		}, "503"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logins, refreshes, resource atomic.Int64
			mux := http.NewServeMux()
			mux.HandleFunc("POST /api/token/{$}", edgeOpaquePair("login", &logins))
			mux.HandleFunc("POST /api/token/refresh/{$}", func(w http.ResponseWriter, r *http.Request) {
				refreshes.Add(1)
				_, _ = io.Copy(io.Discard, r.Body)
				tc.answer(w, r)
			})
			mux.HandleFunc("GET /api/protected/", func(w http.ResponseWriter, r *http.Request) {
				resource.Add(1)
				edgeTokenNotValid(w, r)
			})
			srv := httptest.NewServer(mux)
			defer srv.Close()

			cfg := edgeConfig(srv.URL, edgeProfile(t, "simplejwt"))
			cfg.Strategy = Reactive
			cfg.RefreshAttempts = 2
			e := edgeNew(t, cfg)
			defer e.Close()
			defer edgeDump(t, e)
			edgeLogin(t, e)
			before := e.Snapshot().Access.Raw

			res := e.Do(context.Background(), profile.Request{Method: "GET", Path: "/api/protected/"})
			if res.Outcome != Failed {
				t.Fatalf("outcome %v (%s), want failed", res.Outcome, res.Reason)
			}
			if res.Status != http.StatusUnauthorized {
				t.Errorf("status %d, want the 401 of the retry", res.Status)
			}
			fails := edgeEvents(e, session.KindRefreshFailed)
			if len(fails) != 2 {
				t.Fatalf("%d refresh-failed events, want 2 (RefreshAttempts)", len(fails))
			}
			for _, ev := range fails {
				if !ev.Transient {
					t.Errorf("refresh-failed event not transient: %q", ev.Reason)
				}
				if !strings.Contains(ev.Reason, tc.want) {
					t.Errorf("refresh-failed reason %q does not contain %q", ev.Reason, tc.want)
				}
			}
			if n := refreshes.Load(); n != 2 {
				t.Errorf("refresh endpoint hit %d times, want 2", n)
			}
			if n := resource.Load(); n != 2 {
				t.Errorf("resource hit %d times, want 2", n)
			}
			snap := e.Snapshot()
			if snap.State != session.StateActive {
				t.Errorf("state %v (%s), want active: a bad answer is not a rejection", snap.State, snap.Reason)
			}
			if snap.Access.Raw != before {
				t.Errorf("access token changed to %q after failed refreshes", snap.Access.Raw)
			}
			if c := e.Counters(); c.RefreshFailures != 2 || c.RefreshOK != 0 || c.LoggedOut != 0 {
				t.Errorf("counters %+v", c)
			}
		})
	}
}

// A refresh endpoint that redirects (a proxy sending the client to an SSO page, say) will not
// start working on a retry: callRefresh's own "status >= 300" case calls it a rejection. The
// auth client's NoRedirectPolicy turns the 302 into a transport error first, though.
func TestEdgeRefreshRedirectIsARejection(t *testing.T) {
	var logins, refreshes, resource atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/token/{$}", edgeOpaquePair("login", &logins))
	mux.HandleFunc("POST /api/token/refresh/{$}", func(w http.ResponseWriter, r *http.Request) {
		refreshes.Add(1)
		http.Redirect(w, r, "/sso/login", http.StatusFound)
	})
	mux.HandleFunc("/sso/login", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the refresh call followed its redirect to %s", r.URL)
	})
	mux.HandleFunc("GET /api/protected/", func(w http.ResponseWriter, r *http.Request) {
		resource.Add(1)
		edgeTokenNotValid(w, r)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	cfg := edgeConfig(srv.URL, edgeProfile(t, "simplejwt"))
	cfg.Strategy = Reactive
	e := edgeNew(t, cfg)
	defer e.Close()
	defer edgeDump(t, e)
	edgeLogin(t, e)

	res := e.Do(context.Background(), profile.Request{Method: "GET", Path: "/api/protected/"})
	fails := edgeEvents(e, session.KindRefreshFailed)
	if len(fails) == 0 {
		t.Fatal("no refresh-failed event")
	}
	if fails[0].Transient || !strings.Contains(fails[0].Reason, "302") {
		t.Errorf("refresh-failed event transient=%v reason %q, want a rejection naming the 302", fails[0].Transient, fails[0].Reason)
	}
	if n := refreshes.Load(); n != 1 {
		t.Errorf("refresh endpoint hit %d times, want 1", n)
	}
	if res.Outcome != Parked || e.Snapshot().State != session.StateLoginRequired {
		t.Errorf("outcome %v state %v, want parked and login required", res.Outcome, e.Snapshot().State)
	}
}

func TestEdgeBadLoginAnswers(t *testing.T) {
	cases := []struct {
		name   string
		answer http.HandlerFunc
		want   []string
	}{
		{"html", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<html><body>Bad gateway</body></html>")
		}, []string{"login failed", "text/html", "not JSON"}},
		{"500", func(w http.ResponseWriter, _ *http.Request) {
			edgeWriteJSON(w, http.StatusInternalServerError, `{"detail":"database is down"}`)
		}, []string{"login failed", "HTTP 500", "database is down"}},
		{"500 html", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, "<h1>Internal Server Error</h1>")
		}, []string{"login failed", "HTTP 500", "Internal Server Error"}},
		{"401", func(w http.ResponseWriter, _ *http.Request) {
			edgeWriteJSON(w, http.StatusUnauthorized, `{"detail":"No active account found with the given credentials"}`)
		}, []string{"login failed", "HTTP 401", "No active account"}},
		{"no refresh token", func(w http.ResponseWriter, _ *http.Request) {
			edgeWriteJSON(w, http.StatusOK, `{"access":"a-1"}`)
		}, []string{"login failed", `"refresh"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mux := http.NewServeMux()
			mux.HandleFunc("POST /api/token/{$}", tc.answer)
			srv := httptest.NewServer(mux)
			defer srv.Close()
			e := edgeNew(t, edgeConfig(srv.URL, edgeProfile(t, "simplejwt")))
			defer e.Close()
			defer edgeDump(t, e)

			_, err := e.Login(context.Background())
			if err == nil {
				t.Fatal("Login succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if n := len(edgeEvents(e, session.KindLoginFailed)); n != 1 {
				t.Errorf("%d login-failed events, want 1", n)
			}
			if snap := e.Snapshot(); snap.State != session.StateLoggedOut || !snap.Access.Empty() {
				t.Errorf("after a failed login: state %v, access %q", snap.State, snap.Access.Raw)
			}
		})
	}
}

// 5. Malformed tokens from login.

func TestEdgeMalformedTokensFromLogin(t *testing.T) {
	b64 := base64.RawURLEncoding.EncodeToString
	header := b64([]byte(`{"alg":"HS256","typ":"JWT"}`))
	huge := strings.Repeat("A", 1<<20-20) + "." + strings.Repeat("B", 10) + "." + strings.Repeat("C", 8)
	cases := []struct {
		name     string
		token    string
		decodeOK bool // decoded as a JWT (possibly with ignored claims)
	}{
		{"two segments", "a.b", false},
		{"bad base64", "x.!!!.y", false},
		{"payload not json", header + "." + b64([]byte("not json")) + ".c2ln", false},
		{"exp is a string", header + "." + b64([]byte(`{"sub":"demo","exp":"soon"}`)) + ".c2ln", true},
		{"1 MiB", huge, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var refreshes atomic.Int64
			var auths headerLog
			mux := http.NewServeMux()
			mux.HandleFunc("POST /api/token/{$}", func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				edgeWriteJSON(w, http.StatusOK, fmt.Sprintf(`{"access":%q,"refresh":"r-1"}`, tc.token))
			})
			mux.HandleFunc("POST /api/token/refresh/{$}", func(w http.ResponseWriter, r *http.Request) {
				refreshes.Add(1)
				edgeWriteJSON(w, http.StatusOK, `{"access":"fresh"}`)
			})
			mux.HandleFunc("GET /api/protected/", func(w http.ResponseWriter, r *http.Request) {
				auths.add(r.Header.Get("Authorization"))
				edgeWriteJSON(w, http.StatusOK, `{"ok":true}`)
			})
			srv := httptest.NewUnstartedServer(mux)
			srv.Config.MaxHeaderBytes = 4 << 20 // room for the 1 MiB token
			srv.Start()
			defer srv.Close()

			cfg := edgeConfig(srv.URL, edgeProfile(t, "simplejwt")) // strategy auto
			// Not a test of timeouts: a 1 MiB token under -race on a busy machine takes longer
			// than the 300 ms the edge tests give a call.
			cfg.Timeout, cfg.RefreshTimeout = 10*time.Second, 10*time.Second
			e := edgeNew(t, cfg)
			defer e.Close()
			defer edgeDump(t, e)
			edgeLogin(t, e)

			snap := e.Snapshot()
			if snap.State != session.StateActive {
				t.Errorf("state %v, want active", snap.State)
			}
			if snap.Access.Raw != tc.token {
				t.Errorf("snapshot access token is %d bytes, want the %d the server issued", len(snap.Access.Raw), len(tc.token))
			}
			if snap.Access.JWT != tc.decodeOK {
				t.Errorf("JWT = %v, want %v (decode error %q)", snap.Access.JWT, tc.decodeOK, snap.Access.DecodeErr)
			}
			if snap.Access.HasExpiry() {
				t.Errorf("token has expiry %v; none of these carry a usable exp", snap.Access.ExpiresAt)
			}
			if snap.Access.Fingerprint() == "" {
				t.Error("no fingerprint")
			}
			if m := snap.Access.Masked(); m == "" || strings.Contains(m, tc.token) {
				t.Errorf("masked token %.40q shows the token", m)
			}

			for range 2 {
				res := e.Do(context.Background(), profile.Request{Method: "GET", Path: "/api/protected/"})
				if res.Outcome != OK {
					t.Fatalf("outcome %v status %d (%s), want ok", res.Outcome, res.Status, res.Reason)
				}
			}
			got := auths.all()
			if len(got) != 2 {
				t.Fatalf("server saw %d requests, want 2", len(got))
			}
			for _, a := range got {
				if a != "Bearer "+tc.token {
					t.Errorf("Authorization carried %d bytes (%.40q…), want exactly %d: Bearer + the issued token", len(a), a, len("Bearer "+tc.token))
				}
			}
			if n := refreshes.Load(); n != 0 {
				t.Errorf("refresh endpoint hit %d times; a token without a usable exp must not trigger proactive refreshes", n)
			}
		})
	}
}

// A token with a line break cannot go into a header: the request fails with a reason, and
// nothing is smuggled into the request as an extra header.
func TestEdgeTokenWithLineBreakIsNotInjected(t *testing.T) {
	var hits atomic.Int64
	var evil headerLog
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/token/{$}", func(w http.ResponseWriter, r *http.Request) {
		edgeWriteJSON(w, http.StatusOK, `{"access":"abc\r\nX-Evil: 1","refresh":"r-1"}`)
	})
	mux.HandleFunc("GET /api/protected/", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		evil.add(r.Header.Get("X-Evil"))
		edgeWriteJSON(w, http.StatusOK, `{"ok":true}`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	e := edgeNew(t, edgeConfig(srv.URL, edgeProfile(t, "simplejwt")))
	defer e.Close()
	defer edgeDump(t, e)
	edgeLogin(t, e)
	if raw := e.Snapshot().Access.Raw; raw != "abc\r\nX-Evil: 1" {
		t.Errorf("access token %q", raw)
	}
	res := e.Do(context.Background(), profile.Request{Method: "GET", Path: "/api/protected/"})
	if res.Outcome != Failed || res.Reason == "" {
		t.Errorf("outcome %v reason %q, want failed with a reason", res.Outcome, res.Reason)
	}
	for _, v := range evil.all() {
		if v != "" {
			t.Errorf("header injected through the token: X-Evil %q", v)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the request reached the server %d times", n)
	}
}

// 6. resty never writes to stderr.

func TestEdgeRestyNeverWritesToStderr(t *testing.T) {
	// Not parallel: it swaps os.Stderr.
	var logins, slow atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/token/{$}", edgeOpaquePair("login", &logins))
	mux.HandleFunc("GET /api/slow", func(w http.ResponseWriter, r *http.Request) {
		slow.Add(1)
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	refused := "http://" + closedAddr(t)

	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	var captured bytes.Buffer
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(&captured, pr)
		close(copied)
	}()
	orig := os.Stderr
	os.Stderr = pw
	restored := false
	restore := func() {
		if !restored {
			os.Stderr = orig
			restored = true
			_ = pw.Close()
			<-copied
		}
	}
	defer restore()

	// run does a refused login and a timed-out request with engines built while stderr is the
	// pipe, so that a resty default logger would have captured it.
	run := func(diag io.Writer) {
		cfg := edgeConfig(refused, edgeProfile(t, "simplejwt"))
		cfg.Diagnostics = diag
		e1 := edgeNew(t, cfg)
		defer e1.Close()
		if _, err := e1.Login(context.Background()); err == nil {
			t.Error("Login against a closed port succeeded")
		}

		cfg = edgeConfig(srv.URL, edgeProfile(t, "simplejwt"))
		cfg.Diagnostics = diag
		cfg.Timeout = 100 * time.Millisecond
		e2 := edgeNew(t, cfg)
		defer e2.Close()
		edgeLogin(t, e2)
		if res := e2.Do(context.Background(), profile.Request{Method: "GET", Path: "/api/slow"}); res.Outcome != Failed || !strings.Contains(res.Reason, "timeout") {
			t.Errorf("slow request: outcome %v reason %q, want a timeout", res.Outcome, res.Reason)
		}
	}

	run(nil)
	var diag testutil.SyncBuffer
	run(&diag)
	restore()

	if captured.Len() != 0 {
		t.Errorf("%d bytes went to stderr: %q", captured.Len(), captured.String())
	}
	out := diag.String()
	t.Logf("diagnostics:\n%s", out)
	if !strings.Contains(out, "resty") || !strings.Contains(out, "Attempt 1") {
		t.Errorf("resty's warning about the timed-out attempt did not reach Config.Diagnostics: %q", out)
	}
	if n := slow.Load(); n != 2 {
		t.Errorf("slow endpoint hit %d times, want 2 (once per run, no resend)", n)
	}
}

// 7. Custom TOML profiles.

func TestEdgeTOMLBaseOnlyEndToEnd(t *testing.T) {
	p, err := profile.Parse("custom.toml", []byte("# nothing overridden\nbase = \"element-admin\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := edgeProfile(t, "element-admin")
	if !reflect.DeepEqual(p, want) {
		t.Errorf("base-only profile differs from element-admin:\n got %+v\nwant %+v", p, want)
	}
	srv, err := demoserver.Start(demoserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Close() }()

	cfg := edgeConfig(srv.URL(), p)
	cfg.Strategy = Reactive
	e := edgeNew(t, cfg)
	defer e.Close()
	defer edgeDump(t, e)
	edgeLogin(t, e)
	req := p.PresetRequests()[0]
	if res := e.Do(context.Background(), req); res.Outcome != OK {
		t.Fatalf("first request: %v %d %s", res.Outcome, res.Status, res.Reason)
	}
	if n := srv.ExpireAccessTokens(); n == 0 {
		t.Fatal("no access token to expire")
	}
	res := e.Do(context.Background(), req)
	if res.Outcome != OK || len(res.Attempts) != 2 {
		t.Fatalf("after expiry: %v %d attempts=%d %s, want ok on the retry", res.Outcome, res.Status, len(res.Attempts), res.Reason)
	}
	if c := e.Counters(); c.RefreshOK != 1 || c.Unauthorized != 1 {
		t.Errorf("counters %+v, want 1 refresh, 1 unauthorized", c)
	}
	if g := e.Snapshot().Generation; g != 2 {
		t.Errorf("generation %d, want 2", g)
	}
}

// edgeHandSimpleJWT is simplejwt written out by hand, without base: the profile package's
// tests parse it too.
var edgeHandSimpleJWT = func() string {
	b, err := os.ReadFile("profile/testdata/hand-simplejwt.toml")
	if err != nil {
		panic(err)
	}
	return string(b)
}()

func TestEdgeTOMLHandWrittenSimpleJWT(t *testing.T) {
	p, err := profile.Parse("hand.toml", []byte(edgeHandSimpleJWT))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "hand-simplejwt" {
		t.Errorf("name %q", p.Name)
	}
	b := edgeProfile(t, "simplejwt")
	for _, f := range []struct {
		name      string
		got, want any
	}{
		{"login", p.Login, b.Login}, {"refresh", p.Refresh, b.Refresh}, {"tokens", p.Tokens, b.Tokens},
		{"auth", p.Auth, b.Auth}, {"access_expired", p.AccessExpired, b.AccessExpired},
		{"refresh_rejected", p.RefreshRejected, b.RefreshRejected}, {"oauth_client", p.OAuthClient, b.OAuthClient},
		{"presets[0]", p.Presets[0], b.Presets[0]},
	} {
		if !reflect.DeepEqual(f.got, f.want) {
			t.Errorf("%s = %+v, want the built-in's %+v", f.name, f.got, f.want)
		}
	}

	srv, err := demoserver.Start(demoserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Close() }()
	e := edgeNew(t, edgeConfig(srv.URL(), p))
	defer e.Close()
	defer edgeDump(t, e)
	edgeLogin(t, e)
	req := p.PresetRequests()[0]
	if res := e.Do(context.Background(), req); res.Outcome != OK {
		t.Fatalf("first request: %v %d %s", res.Outcome, res.Status, res.Reason)
	}
	srv.ExpireAccessTokens()
	if res := e.Do(context.Background(), req); res.Outcome != OK || len(res.Attempts) != 2 {
		t.Fatalf("after expiry: %v %d attempts=%d %s, want ok on the retry", res.Outcome, res.Status, len(res.Attempts), res.Reason)
	}
	// The rejection matcher works too: revoked families mean login required.
	srv.RevokeAllFamilies()
	srv.ExpireAccessTokens()
	if res := e.Do(context.Background(), req); res.Outcome != Parked {
		t.Fatalf("after revocation: %v %d %s, want parked", res.Outcome, res.Status, res.Reason)
	}
	if st := e.Snapshot().State; st != session.StateLoginRequired {
		t.Errorf("state %v, want login required", st)
	}
	results, err := e.Login(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || results[0].Outcome != OK || !results[0].Replayed {
		t.Errorf("replay after login: %+v", results)
	}
}

// TestEdgeErrorAnswerNotAnObject: error answers whose JSON is not an object (an array, a
// string, null) are quoted as they are; they once crashed the engine, which looked for a
// message field in them as if every JSON error body were an object.
func TestEdgeErrorAnswerNotAnObject(t *testing.T) {
	for _, c := range []struct {
		status int
		body   string
		state  session.State
		quoted string
	}{
		{400, `["invalid","refresh"]`, session.StateLoginRequired, `HTTP 400: "[\"invalid\",\"refresh\"]"`},
		{503, `"down for maintenance"`, session.StateActive, `HTTP 503: "\"down for maintenance\""`},
		{500, `null`, session.StateActive, `HTTP 500: "null"`},
	} {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			if r.URL.Path == "/api/token/" {
				_, _ = io.WriteString(w, `{"access":"a1","refresh":"r1"}`)
				return
			}
			w.WriteHeader(c.status)
			_, _ = io.WriteString(w, c.body)
		}))
		e := edgeNew(t, edgeConfig(ts.URL, edgeProfile(t, "simplejwt")))
		edgeLogin(t, e)
		err := e.RefreshNow(context.Background())
		s := e.Snapshot()
		if err == nil || !strings.Contains(err.Error(), c.quoted) || s.State != c.state {
			t.Errorf("%d %s: err %v, state %v; want %q quoted, state %v", c.status, c.body, err, s.State, c.quoted, c.state)
		}
		e.Close()
		ts.Close()
	}
}
