package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tokenscope/apiclient/profile"
	"tokenscope/demoserver"
	"tokenscope/internal/clock"
	"tokenscope/session"
)

// ---- the demo server's cookie convention ----

// cookieSeen records, per request to the demo, which cookies and CSRF header it carried.
type cookieSeen struct {
	mu   sync.Mutex
	reqs []cookieReq
}

type cookieReq struct {
	path          string
	refreshCookie string
	csrfCookie    string
	csrfHeader    string
}

func (c *cookieSeen) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cr := cookieReq{path: r.URL.Path, csrfHeader: r.Header.Get("X-CSRF-Token")}
		if ck, err := r.Cookie("refresh_token"); err == nil {
			cr.refreshCookie = ck.Value
		}
		if ck, err := r.Cookie("csrf_token"); err == nil {
			cr.csrfCookie = ck.Value
		}
		c.mu.Lock()
		c.reqs = append(c.reqs, cr)
		c.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (c *cookieSeen) all() []cookieReq {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]cookieReq(nil), c.reqs...)
}

func cookieDemo(t *testing.T) (*demoserver.Server, *cookieSeen, string) {
	t.Helper()
	srv, err := demoserver.New(demoserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	seen := &cookieSeen{}
	hs := httptest.NewServer(seen.wrap(srv.Handler()))
	t.Cleanup(hs.Close)
	return srv, seen, hs.URL
}

func cookieEngine(t *testing.T, base string, p profile.Profile) *Engine {
	t.Helper()
	return cookieEngineOn(t, base, p, nil)
}

// cookieEngineOn is cookieEngine on clk (nil: the real clock).
func cookieEngineOn(t *testing.T, base string, p profile.Profile, clk session.Clock) *Engine {
	t.Helper()
	e, err := New(Config{BaseURL: base, Profile: p, Username: "demo", Password: "demo", RefreshBackoff: 10 * time.Millisecond, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// fifty sends n requests at once and returns how many ended OK.
func fifty(e *Engine, n int, req profile.Request) (ok int, reasons []string) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := e.Do(context.Background(), req)
			mu.Lock()
			defer mu.Unlock()
			if r.Outcome == OK {
				ok++
			} else {
				reasons = append(reasons, fmt.Sprintf("%v %d %s", r.Outcome, r.Status, r.Reason))
			}
		}()
	}
	close(start)
	wg.Wait()
	return ok, reasons
}

// The built-in cookie profile against the demo: the refresh token arrives in an HttpOnly
// cookie scoped to /auth, goes back only to /auth/refresh with the CSRF header, and 50
// requests at expiry share one refresh, which rotates the cookie.
func TestCookieDemoFiftyAtExpiryOneRefresh(t *testing.T) {
	srv, seen, base := cookieDemo(t)
	p, _ := profile.Builtin("cookie")
	e := cookieEngine(t, base, p)
	ctx := context.Background()
	if _, err := e.Login(ctx); err != nil {
		t.Fatal(err)
	}
	snap := e.Snapshot()
	if snap.Refresh.Raw == "" || snap.Refresh.Fingerprint() == "" {
		t.Fatal("no refresh token from the cookie")
	}
	c := snap.RefreshCookie
	if c == nil || c.Name != "refresh_token" || c.Path != "/auth" || !c.HttpOnly || c.Secure || c.SameSite != "Strict" ||
		c.MaxAge != 600 || c.Expires.Before(time.Now().Add(9*time.Minute)) || c.Resumed {
		t.Fatalf("RefreshCookie %+v", c)
	}
	if snap.CSRFCookie != "csrf_token" {
		t.Errorf("CSRFCookie %q", snap.CSRFCookie)
	}
	first := snap.Refresh.Raw
	req := p.PresetRequests()[0]
	if r := e.Do(ctx, req); r.Outcome != OK {
		t.Fatalf("first request: %+v", r)
	}

	srv.SetLatency(0, 100*time.Millisecond) // a slow refresh: the other 49 arrive while it runs
	srv.ExpireAccessTokens()
	ok, reasons := fifty(e, 50, req)
	if ok != 50 {
		t.Fatalf("%d of 50 ok: %v", ok, reasons)
	}
	cn, st := e.Counters(), srv.Stats()
	if cn.RefreshCalls != 1 || st.RefreshOK != 1 || st.RefreshRejected != 0 || st.ReuseDetected != 0 || st.CSRFRejected != 0 {
		t.Errorf("refresh calls %d, server %+v", cn.RefreshCalls, st)
	}
	after := e.Snapshot()
	if after.Refresh.Raw == first || after.Rotations != 1 || after.RefreshCookie == nil {
		t.Errorf("the cookie was not rotated: rotations %d", after.Rotations)
	}
	t.Logf("50 at expiry: %d refresh call(s), %d rotation(s), server max in flight %d", cn.RefreshCalls, after.Rotations, st.MaxRefreshInFlight)

	refreshes := 0
	for _, r := range seen.all() {
		switch {
		case r.path == "/auth/refresh":
			refreshes++
			if r.refreshCookie != first {
				t.Errorf("the refresh carried the wrong cookie")
			}
			if r.csrfHeader == "" || r.csrfHeader != r.csrfCookie {
				t.Errorf("CSRF header %q vs cookie %q", r.csrfHeader, r.csrfCookie)
			}
		case strings.HasPrefix(r.path, "/api/"):
			if r.refreshCookie != "" {
				t.Errorf("%s carried the refresh cookie (Path=/auth)", r.path)
			}
			if r.csrfCookie == "" {
				t.Errorf("%s did not carry the csrf cookie (Path=/)", r.path)
			}
			if r.csrfHeader != "" {
				t.Errorf("%s carried the CSRF header; only the refresh sends it", r.path)
			}
		}
	}
	if refreshes != 1 {
		t.Errorf("the demo saw %d refresh calls", refreshes)
	}
	for _, ev := range e.Log().Events() {
		if s := fmt.Sprintf("%+v", ev); strings.Contains(s, first) || strings.Contains(s, after.Refresh.Raw) {
			t.Fatalf("an event shows a raw cookie value: %s", s)
		}
	}
}

// The demo rejects a refresh without the CSRF header (403) and one without the cookie (401
// token_not_valid), and its login sets both cookies with the attributes DESIGN.md names.
func TestCookieDemoWire(t *testing.T) {
	srv, _, base := cookieDemo(t)
	resp, err := http.Post(base+"/auth/login", "application/json", strings.NewReader(`{"username":"demo","password":"demo"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var rc, cc *http.Cookie
	for _, c := range resp.Cookies() {
		switch c.Name {
		case "refresh_token":
			rc = c
		case "csrf_token":
			cc = c
		}
	}
	if rc == nil || !rc.HttpOnly || rc.Path != "/auth" || rc.SameSite != http.SameSiteStrictMode || cc == nil || cc.Path != "/" || cc.HttpOnly {
		t.Fatalf("cookies %v", resp.Header.Values("Set-Cookie"))
	}
	post := func(cookies []*http.Cookie, csrf string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", base+"/auth/refresh", nil)
		for _, c := range cookies {
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
		if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	if st, m := post([]*http.Cookie{rc, cc}, ""); st != 403 || m["code"] != "csrf_failed" {
		t.Errorf("no CSRF header: %d %v", st, m)
	}
	if st, m := post([]*http.Cookie{rc, cc}, "forged"); st != 403 || !strings.Contains(fmt.Sprint(m["detail"]), "does not match") {
		t.Errorf("wrong CSRF header: %d %v", st, m)
	}
	if st, m := post([]*http.Cookie{cc}, cc.Value); st != 401 || m["code"] != "token_not_valid" {
		t.Errorf("no refresh cookie: %d %v", st, m)
	}
	if st, m := post([]*http.Cookie{rc, cc}, cc.Value); st != 200 || m["accessToken"] == nil {
		t.Errorf("good refresh: %d %v", st, m)
	}
	if st, m := post([]*http.Cookie{rc, cc}, cc.Value); st != 401 || m["code"] != "token_not_valid" ||
		!strings.Contains(fmt.Sprint(m["detail"]), "blacklisted") {
		t.Errorf("reused cookie: %d %v", st, m)
	}
	if st := srv.Stats(); st.CSRFRejected != 2 || st.RefreshOK != 1 || st.ReuseDetected != 1 {
		t.Errorf("stats %+v", st)
	}
}

// A session file resumes a cookie session: the refresh cookie (and the CSRF cookie) go back
// in the jar, and the first refresh after the resume works.
func TestCookieResumePutsTheCookieBack(t *testing.T) {
	srv, seen, base := cookieDemo(t)
	p, _ := profile.Builtin("cookie")
	e := cookieEngine(t, base, p)
	ctx := context.Background()
	if _, err := e.Login(ctx); err != nil {
		t.Fatal(err)
	}
	st := e.Stored()
	if st.Refresh == "" || st.CSRF == "" {
		t.Fatalf("stored %+v", st)
	}
	path := filepath.Join(t.TempDir(), "s.json")
	if err := session.SaveFile(path, st); err != nil {
		t.Fatal(err)
	}
	loaded, err := session.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	e2 := cookieEngine(t, base, p)
	if !e2.Matches(loaded) {
		t.Fatal("the stored session does not match")
	}
	e2.Resume(loaded, path)
	if c := e2.Snapshot().RefreshCookie; c == nil || !c.Resumed || c.Path != "/auth/refresh" {
		t.Fatalf("RefreshCookie after resume %+v", c)
	}
	srv.ExpireAccessTokens()
	req := p.PresetRequests()[0]
	if r := e2.Do(ctx, req); r.Outcome != OK || len(r.Attempts) != 2 {
		t.Fatalf("after resume: %+v", r)
	}
	if s := srv.Stats(); s.RefreshOK != 1 || s.CSRFRejected != 0 {
		t.Errorf("stats %+v", s)
	}
	var last cookieReq
	for _, r := range seen.all() {
		if r.path == "/auth/refresh" {
			last = r
		}
	}
	if last.refreshCookie != st.Refresh || last.csrfHeader != st.CSRF {
		t.Errorf("the resumed refresh did not send the stored cookie and CSRF value")
	}
	if c := e2.Snapshot().RefreshCookie; c.Resumed || c.Path != "/auth" {
		t.Errorf("the rotated cookie's attributes were not learnt: %+v", c)
	}
	// The copy resumed on /auth/refresh is gone: the next refresh sends the rotated cookie
	// alone, and it is accepted (a stale copy would be reuse and revoke the family).
	rotated := e2.Snapshot().Refresh.Raw
	if err := e2.RefreshNow(ctx); err != nil {
		t.Fatal(err)
	}
	for _, r := range seen.all() {
		if r.path == "/auth/refresh" {
			last = r
		}
	}
	if last.refreshCookie != rotated {
		t.Error("the second refresh after resume did not send the rotated cookie")
	}
	if s := srv.Stats(); s.RefreshOK != 2 || s.ReuseDetected != 0 {
		t.Errorf("stats %+v", s)
	}
}

// ---- an independent server of the cookie convention ----

// spa is a server of the cookie convention written apart from the demo server, with its own
// names and paths: slow refreshes, rotation, reuse detection that revokes the family, and a
// strict CSRF double submit.
type spa struct {
	mu            sync.Mutex
	seq           int
	access        map[string]time.Time // access token → expiry
	refresh       map[string]bool      // refresh token → already used
	revoked       bool
	csrf          string
	refreshDelay  time.Duration // real time: it keeps a refresh in flight while a burst joins it
	clock         clock.Clock   // when access tokens expire
	echo          bool          // reject refreshes with a body that echoes the cookies (redaction test)
	refreshCalls  atomic.Int64
	csrfRejected  atomic.Int64
	reuse         atomic.Int64
	otherCookies  atomic.Int64 // cookies seen on a path they were not scoped to
	ttl           time.Duration
	foreignCookie bool
}

const spaTOML = `
base = "cookie"
name = "spa"
[login]
path = "/api/session/login"
user_field = "email"
[refresh]
path = "/api/session/refresh"
send = "cookie"
[tokens]
access = "data.jwt"
expires_in = "data.ttl"
[cookie]
refresh = "__Host-rt"
csrf_cookie = "XSRF-TOKEN"
csrf_header = "X-XSRF-TOKEN"
[access_expired]
status = [401]
field = "error"
values = ["expired"]
[refresh_rejected]
status = [401]
field = "error"
values = ["invalid_refresh"]
[[presets]]
name = "data"
method = "GET"
path = "/api/data"
`

func newSPA(ttl, refreshDelay time.Duration) *spa {
	return &spa{access: map[string]time.Time{}, refresh: map[string]bool{}, ttl: ttl, refreshDelay: refreshDelay, clock: clock.System{}}
}

func (s *spa) mint() (acc, ref string) {
	s.seq++
	now := s.clock.Now()
	acc, ref = fmt.Sprintf("acc-%d-%x", s.seq, now.UnixNano()), fmt.Sprintf("ref-%d-%x", s.seq, now.UnixNano())
	s.access[acc] = now.Add(s.ttl)
	s.refresh[ref] = false
	return acc, ref
}

func (s *spa) answer(w http.ResponseWriter, acc, ref string, setCSRF bool) {
	http.SetCookie(w, &http.Cookie{Name: "__Host-rt", Value: ref, Path: "/api/session", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Expires: time.Now().Add(time.Hour).UTC()})
	if setCSRF {
		http.SetCookie(w, &http.Cookie{Name: "XSRF-TOKEN", Value: s.csrf, Path: "/"})
	}
	if s.foreignCookie {
		http.SetCookie(w, &http.Cookie{Name: "tracker", Value: "foreign-domain", Path: "/", Domain: "other.example"})
		http.SetCookie(w, &http.Cookie{Name: "scoped", Value: "only-for-admin", Path: "/admin"})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"jwt": acc, "ttl": s.ttl.Seconds()}})
}

func (s *spa) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie("__Host-rt"); err == nil && c.Value != "" && !strings.HasPrefix(r.URL.Path, "/api/session") {
		s.otherCookies.Add(1)
	}
	if _, err := r.Cookie("tracker"); err == nil {
		s.otherCookies.Add(1)
	}
	if _, err := r.Cookie("scoped"); err == nil && !strings.HasPrefix(r.URL.Path, "/admin") {
		s.otherCookies.Add(1)
	}
	fail := func(status int, code, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "message": msg})
	}
	switch r.URL.Path {
	case "/api/session/login":
		var m map[string]string
		if json.NewDecoder(r.Body).Decode(&m) != nil || m["email"] != "demo" || m["password"] != "demo" {
			fail(401, "bad_credentials", "no")
			return
		}
		s.mu.Lock()
		s.revoked = false
		s.csrf = fmt.Sprintf("csrf-%x", time.Now().UnixNano())
		acc, ref := s.mint()
		s.mu.Unlock()
		s.answer(w, acc, ref, true)
	case "/api/session/refresh":
		s.refreshCalls.Add(1)
		time.Sleep(s.refreshDelay)
		ck, _ := r.Cookie("XSRF-TOKEN")
		s.mu.Lock()
		defer s.mu.Unlock()
		if ck == nil || ck.Value != s.csrf || r.Header.Get("X-XSRF-TOKEN") != s.csrf {
			s.csrfRejected.Add(1)
			fail(403, "csrf", "CSRF token missing or wrong")
			return
		}
		rc, err := r.Cookie("__Host-rt")
		if s.echo && err == nil {
			fail(401, "invalid_refresh", fmt.Sprintf("refresh cookie __Host-rt=%s rejected (csrf %s)", rc.Value, s.csrf))
			return
		}
		used, known := false, false
		if err == nil {
			used, known = s.refresh[rc.Value]
		}
		switch {
		case !known || s.revoked:
			fail(401, "invalid_refresh", "unknown or revoked refresh token")
			return
		case used:
			s.reuse.Add(1)
			s.revoked = true
			fail(401, "invalid_refresh", "refresh token reused: family revoked")
			return
		}
		s.refresh[rc.Value] = true
		acc, ref := s.mint()
		s.answer(w, acc, ref, false)
	case "/api/data":
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		exp, ok := s.access[tok]
		revoked := s.revoked
		s.mu.Unlock()
		if !ok || revoked || s.clock.Now().After(exp) {
			fail(401, "expired", "access token expired")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	default:
		fail(404, "not_found", r.URL.Path)
	}
}

func spaProfile(t *testing.T) profile.Profile {
	t.Helper()
	p, err := profile.Parse("spa.toml", []byte(spaTOML))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// 50 requests at the expiry of a 1 s token against an independent server whose refreshes take
// 300 ms and which revokes the family on reuse and checks CSRF strictly: one refresh, no CSRF
// rejection, no reuse, all 50 ok.
func TestCookieIndependentServerFiftyAtExpiry(t *testing.T) {
	s := newSPA(time.Second, 300*time.Millisecond)
	clk := testClock(time.Now()) // near real time: the cookie jar expires cookies by it
	s.clock = clk
	hs := httptest.NewServer(s)
	defer hs.Close()
	p := spaProfile(t)
	if p.CookiePath() != "/api/session/refresh" || p.Refresh.Send != profile.SendCookie || p.Login.UserField != "email" {
		t.Fatalf("profile %+v", p)
	}
	e := cookieEngineOn(t, hs.URL, p, clk)
	ctx := context.Background()
	if _, err := e.Login(ctx); err != nil {
		t.Fatal(err)
	}
	req := p.PresetRequests()[0]
	if r := e.Do(ctx, req); r.Outcome != OK {
		t.Fatalf("first: %+v", r)
	}
	clk.Advance(1100 * time.Millisecond) // past the access token's expiry
	ok, reasons := fifty(e, 50, req)
	if ok != 50 {
		t.Fatalf("%d of 50 ok: %v", ok, reasons)
	}
	if n := s.refreshCalls.Load(); n != 1 {
		t.Errorf("the server saw %d refresh calls, want 1", n)
	}
	if n := s.csrfRejected.Load(); n != 0 {
		t.Errorf("%d CSRF rejections", n)
	}
	if n := s.reuse.Load(); n != 0 {
		t.Errorf("%d reuses detected", n)
	}
	if n := s.otherCookies.Load(); n != 0 {
		t.Errorf("%d requests carried a cookie outside its path", n)
	}
	snap := e.Snapshot()
	if snap.Rotations != 1 || snap.RefreshCookie == nil || snap.RefreshCookie.Name != "__Host-rt" || snap.RefreshCookie.SameSite != "Lax" ||
		snap.RefreshCookie.Expires.IsZero() || snap.CSRFCookie != "XSRF-TOKEN" {
		t.Errorf("snapshot rotations %d cookie %+v csrf %q", snap.Rotations, snap.RefreshCookie, snap.CSRFCookie)
	}
	t.Logf("independent server, 300 ms refreshes: %d refresh call(s), %d CSRF rejections, %d reuses",
		s.refreshCalls.Load(), s.csrfRejected.Load(), s.reuse.Load())
}

// Without single flight the same burst presents one cookie many times: the server detects the
// reuse and revokes the family, and the engine names the reuse (reuse.go works unchanged).
func TestCookieIndependentServerStampedeIsReuse(t *testing.T) {
	s := newSPA(time.Second, 100*time.Millisecond)
	clk := testClock(time.Now())
	s.clock = clk
	hs := httptest.NewServer(s)
	defer hs.Close()
	p := spaProfile(t)
	e := cookieEngineOn(t, hs.URL, p, clk)
	e.SetSingleFlight(false)
	ctx := context.Background()
	if _, err := e.Login(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Advance(1100 * time.Millisecond)
	fifty(e, 10, p.PresetRequests()[0])
	if s.refreshCalls.Load() < 2 || s.reuse.Load() == 0 {
		t.Fatalf("refresh calls %d reuse %d", s.refreshCalls.Load(), s.reuse.Load())
	}
	named := false
	for _, ev := range e.Log().Events() {
		if ev.Kind == session.KindRefreshFailed && strings.Contains(ev.Reason, "reuse") {
			named = true
		}
	}
	if !named {
		t.Error("no refresh failure names the reuse")
	}
	// The losers' rejections leave the session to the winner's cookie; the family died with the
	// reuse, and the first call that needs the cookie again shows it.
	if e.Snapshot().State == session.StateActive {
		time.Sleep(1100 * time.Millisecond)
		e.Do(ctx, p.PresetRequests()[0])
	}
	if s := e.Snapshot(); s.State != session.StateLoginRequired || s.End != session.EndRevoked {
		t.Errorf("session %v end %q (%s), want ended as revoked", s.State, s.End, s.Reason)
	}
}

// Cookies never leave their host and path: a cookie for another domain is refused, one for
// another path is not sent elsewhere, and a redirect to another host carries no cookie.
func TestCookieNeverLeavesItsHostOrPath(t *testing.T) {
	var sinkCookies atomic.Int64
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.Cookies()) > 0 {
			sinkCookies.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	defer sink.Close()
	s := newSPA(time.Minute, 0)
	s.foreignCookie = true
	mux := http.NewServeMux()
	mux.Handle("/", s)
	mux.HandleFunc("/api/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, sink.URL+"/sink", http.StatusFound)
	})
	hs := httptest.NewServer(mux)
	defer hs.Close()
	p := spaProfile(t)
	e := cookieEngine(t, hs.URL, p)
	ctx := context.Background()
	if _, err := e.Login(ctx); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/data", "/api/away", "/api/data"} {
		if r := e.Do(ctx, profile.Request{Method: "GET", Path: path}); r.Outcome != OK {
			t.Fatalf("%s: %+v", path, r)
		}
	}
	if err := e.RefreshNow(ctx); err != nil {
		t.Fatal(err)
	}
	if n := s.otherCookies.Load(); n != 0 {
		t.Errorf("%d requests carried a cookie for another domain or path", n)
	}
	if n := sinkCookies.Load(); n != 0 {
		t.Errorf("the other host got cookies %d times", n)
	}
	// The jar itself: nothing for another host, nothing stored from one.
	u, _ := url.Parse(hs.URL + "/api/session/refresh")
	other, _ := url.Parse(sink.URL + "/api/session/refresh")
	if got := e.cookies.jar.Cookies(other); len(got) != 0 {
		t.Errorf("the jar offers %v to another host", got)
	}
	e.cookies.jar.SetCookies(other, []*http.Cookie{{Name: "planted", Value: "x", Path: "/"}})
	for _, c := range e.cookies.jar.Cookies(u) {
		if c.Name == "planted" || c.Name == "tracker" {
			t.Errorf("the jar kept %s", c.Name)
		}
	}
}

// A server that echoes the cookie and the CSRF value in its error: neither reaches the event
// log or the error.
func TestCookieValuesRedactedInErrors(t *testing.T) {
	s := newSPA(time.Minute, 0)
	hs := httptest.NewServer(s)
	defer hs.Close()
	p := spaProfile(t)
	e := cookieEngine(t, hs.URL, p)
	ctx := context.Background()
	if _, err := e.Login(ctx); err != nil {
		t.Fatal(err)
	}
	raw := e.Snapshot().Refresh.Raw
	s.mu.Lock()
	s.echo = true
	csrf := s.csrf
	s.mu.Unlock()
	err := e.RefreshNow(ctx)
	if err == nil {
		t.Fatal("the refresh was not rejected")
	}
	check := func(where, text string) {
		if strings.Contains(text, raw) || strings.Contains(text, csrf) {
			t.Errorf("%s shows a cookie value: %s", where, text)
		}
	}
	check("the error", err.Error())
	if !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("the error does not say it redacted: %v", err)
	}
	for _, ev := range e.Log().Events() {
		check("an event", fmt.Sprintf("%+v", ev))
	}
	check("the session reason", e.Snapshot().Reason)
}

// The SPA profile file used here parses as a cookie API (its validation is profile's test).
func TestCookieSPAProfileParses(t *testing.T) {
	p := spaProfile(t)
	if p.Cookie.CSRFHeader != "X-XSRF-TOKEN" || p.Tokens.Refresh != "" {
		t.Errorf("parsed %+v", p.Cookie)
	}
}

// A login whose refresh cookie the jar would never send back fails, naming why.
func TestCookieLoginWithUnusableCookieFails(t *testing.T) {
	for _, tc := range []struct{ name, setCookie string }{
		{"other path", "refresh_token=r; Path=/elsewhere"},
		{"other domain", "refresh_token=r; Path=/; Domain=other.example"},
		{"secure over http", "refresh_token=r; Path=/; Secure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Add("Set-Cookie", tc.setCookie)
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"accessToken":"a.b.c"}`))
			}))
			defer hs.Close()
			p, _ := profile.Builtin("cookie")
			e := cookieEngine(t, hs.URL, p)
			if _, err := e.Login(context.Background()); err == nil || !strings.Contains(err.Error(), "would not send") {
				t.Errorf("login: %v", err)
			}
		})
	}
}

// TestCookieStateRefreshURL: the refresh endpoint the jar is asked about is the one the refresh
// call reaches: a path on the target, or a whole URL as refresh.path (joined as every request
// is, sent.JoinURL), not the two glued together.
func TestCookieStateRefreshURL(t *testing.T) {
	p := spaProfile(t)
	for _, path := range []string{"/auth/refresh", "https://api.test/auth/refresh"} {
		p.Refresh.Path = path
		cs, err := newCookieState("https://api.test/", p, nil)
		if err != nil || cs.refresh.Host != "api.test" || cs.refresh.Path != "/auth/refresh" {
			t.Errorf("refresh.path %q: %v %v", path, cs.refresh, err)
		}
	}
}
