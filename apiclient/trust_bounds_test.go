package apiclient

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tokenscope/apiclient/profile"
	"tokenscope/session"
)

// hugeText is a server message of about 3 MiB: under the 4 MiB body limit, so it is read.
var hugeText = strings.Repeat("déjà vu ", 3<<20/9)

// maxReason is the longest a clipped text may be: the cap and its "… N bytes more".
const maxReason = session.MaxTextBytes + len("… 4194304 bytes more")

// hugeBodyServer answers login with 400 while badLogin is set, refresh with 503 and the
// resource with 401, each carrying hugeText in its message field. Tokens are opaque and live
// forever, so only a 401 or RefreshNow starts a refresh.
func hugeBodyServer(t *testing.T, badLogin *atomic.Bool) *httptest.Server {
	t.Helper()
	body := `{"detail":"` + hugeText + `","code":"token_not_valid"}`
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/token/", func(w http.ResponseWriter, r *http.Request) {
		if badLogin.Load() {
			edgeWriteJSON(w, http.StatusBadRequest, `{"detail":"`+hugeText+`"}`)
			return
		}
		edgeWriteJSON(w, http.StatusOK, `{"access":"opaque-access-1","refresh":"opaque-refresh-1"}`)
	})
	mux.HandleFunc("POST /api/token/refresh/", func(w http.ResponseWriter, r *http.Request) {
		edgeWriteJSON(w, http.StatusServiceUnavailable, `{"detail":"`+hugeText+`"}`)
	})
	mux.HandleFunc("GET /api/protected/", func(w http.ResponseWriter, r *http.Request) {
		edgeWriteJSON(w, http.StatusUnauthorized, body)
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

func hugeBodyEngine(t *testing.T, url string) *Engine {
	t.Helper()
	cfg := edgeConfig(url, edgeProfile(t, "simplejwt"))
	// Generous: under the race detector a refresh that reads 3 MiB twice takes seconds, and the
	// requests must see it fail rather than give up waiting.
	cfg.Timeout, cfg.RefreshTimeout = time.Minute, 30*time.Second
	e := edgeNew(t, cfg)
	t.Cleanup(e.Close)
	return e
}

// checkClipped fails when a text holds more of the server's message than the cap, or was cut
// without saying so.
func checkClipped(t *testing.T, what, s string) {
	t.Helper()
	if len(s) > maxReason+200 { // what the engine says around the server's text
		t.Errorf("%s is %d bytes, want at most about %d", what, len(s), maxReason)
	}
	if strings.Contains(s, "déjà vu") && !strings.Contains(s, " bytes more") {
		t.Errorf("%s quotes the server's message without saying how much was cut: %.80q…", what, s)
	}
}

// TestTrustServerTextIsBounded: a login answered 400, a refresh answered 503 and requests
// answered 401, each with a 3 MiB message, leave no more than the cap of it in any event, error,
// result or the session's reason; each says how much it cut. Twenty requests at a time meet the
// 401 and the failing refresh.
func TestTrustServerTextIsBounded(t *testing.T) {
	var badLogin atomic.Bool
	badLogin.Store(true)
	ts := hugeBodyServer(t, &badLogin)
	e := hugeBodyEngine(t, ts.URL)
	defer edgeDump(t, e)

	_, err := e.Login(context.Background())
	if err == nil {
		t.Fatal("login answered 400 succeeded")
	}
	checkClipped(t, "login error", err.Error())
	if !strings.Contains(err.Error(), "bytes more") {
		t.Errorf("login error does not quote (a cut of) the message: %.100q", err.Error())
	}
	badLogin.Store(false)
	edgeLogin(t, e)

	var re *RefreshError
	if err := e.RefreshNow(context.Background()); !errors.As(err, &re) {
		t.Fatalf("RefreshNow: %v, want a RefreshError", err)
	}
	checkClipped(t, "refresh error", re.Error())

	var wg sync.WaitGroup
	results := make([]Result, 20)
	for i := range results {
		wg.Go(func() {
			results[i] = e.Do(context.Background(), profile.Request{Method: "GET", Path: "/api/protected/"})
		})
	}
	wg.Wait()
	for i, r := range results {
		if r.Outcome != Failed {
			t.Errorf("request %d: %v, want failed", i, r.Outcome)
		}
		checkClipped(t, "result reason", r.Reason)
	}
	checkClipped(t, "session reason", e.Snapshot().Reason)
	kinds := map[session.Kind]bool{}
	for _, ev := range e.Log().Events() {
		for name, s := range map[string]string{"Reason": ev.Reason, "Path": ev.Path, "Method": ev.Method, "Token": ev.Token} {
			checkClipped(t, ev.Kind.String()+" "+name, s)
		}
		if strings.Contains(ev.Reason, " bytes more") {
			kinds[ev.Kind] = true
		}
	}
	for _, k := range []session.Kind{session.KindLoginFailed, session.KindRefreshFailed, session.KindRequestFailed} {
		if !kinds[k] {
			t.Errorf("no %s event quotes a cut of the server's message", k)
		}
	}
}

// TestTrustServerTextMemory: twenty refreshes, one at a time, each answered 503 with a 3 MiB
// message (the case: 768 MB of RSS), leave the heap about where it was.
func TestTrustServerTextMemory(t *testing.T) {
	var badLogin atomic.Bool
	ts := hugeBodyServer(t, &badLogin)
	e := hugeBodyEngine(t, ts.URL)
	edgeLogin(t, e)

	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	before := heap()
	for range 20 {
		if err := e.RefreshNow(context.Background()); err == nil {
			t.Fatal("a refresh answered 503 succeeded")
		}
	}
	after := heap()
	grown := int64(after) - int64(before)
	t.Logf("heap in use %d MB → %d MB", before>>20, after>>20)
	if grown > 50<<20 {
		t.Errorf("heap in use grew by %d MB over 20 refreshes", grown>>20)
	}
	var held int
	for _, ev := range e.Log().Events() {
		held += len(ev.Reason)
	}
	if held > 100*maxReason {
		t.Errorf("the log holds %d KB of reasons", held>>10)
	}
}

// TestAnswersOverTheBodyLimit: an answer longer than Config.MaxBodyBytes is refused, by name,
// wherever it comes: a resource's (the request fails, "response body too large", nothing of
// the body kept), a login's (the login fails and says so) and a refresh's (a transient
// failure: the session keeps its tokens). One byte under the limit is read.
func TestAnswersOverTheBodyLimit(t *testing.T) {
	const limit = 64 << 10
	var bigLogin, bigRefresh atomic.Bool
	big := func(w http.ResponseWriter, n int) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"detail":"` + strings.Repeat("z", n) + `"}`))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/token/", func(w http.ResponseWriter, r *http.Request) {
		if bigLogin.Load() {
			big(w, limit)
			return
		}
		edgeWriteJSON(w, http.StatusOK, `{"access":"opaque-access-1","refresh":"opaque-refresh-1"}`)
	})
	mux.HandleFunc("POST /api/token/refresh/", func(w http.ResponseWriter, r *http.Request) {
		if bigRefresh.Load() {
			big(w, limit)
			return
		}
		edgeWriteJSON(w, http.StatusOK, `{"access":"opaque-access-2","refresh":"opaque-refresh-2"}`)
	})
	mux.HandleFunc("GET /big", func(w http.ResponseWriter, r *http.Request) { big(w, limit) })
	mux.HandleFunc("GET /fits", func(w http.ResponseWriter, r *http.Request) { big(w, limit-len(`{"detail":""}`)) })
	ts := httptest.NewServer(mux)
	defer ts.Close()
	cfg := edgeConfig(ts.URL, edgeProfile(t, "simplejwt"))
	cfg.MaxBodyBytes, cfg.Timeout = limit, 10*time.Second
	e := edgeNew(t, cfg)
	defer e.Close()
	defer edgeDump(t, e)
	edgeLogin(t, e)

	if r := e.Do(context.Background(), profile.Request{Method: "GET", Path: "/fits"}); r.Outcome != OK || len(r.Body) != limit {
		t.Errorf("a body of exactly the limit: %v %q, %d bytes", r.Outcome, r.Reason, len(r.Body))
	}
	r := e.Do(context.Background(), profile.Request{Method: "GET", Path: "/big"})
	if r.Outcome != Failed || !strings.Contains(r.Reason, "response body too large") || r.Body != nil {
		t.Errorf("a body over the limit: %v %q, %d bytes kept", r.Outcome, r.Reason, len(r.Body))
	}

	bigRefresh.Store(true)
	err := e.RefreshNow(context.Background())
	var re *RefreshError
	if !errors.As(err, &re) || !re.Transient || !strings.Contains(re.Reason, "response body too large") {
		t.Errorf("a refresh answer over the limit: %v", err)
	}
	if s := e.Snapshot(); s.Access.Raw != "opaque-access-1" || s.State != session.StateActive {
		t.Errorf("the session lost its tokens to an unreadable refresh answer: %q %v", s.Access.Raw, s.State)
	}

	bigLogin.Store(true)
	if _, err := e.Login(context.Background()); err == nil || !strings.Contains(err.Error(), "response body too large") {
		t.Errorf("a login answer over the limit: %v", err)
	}
}
