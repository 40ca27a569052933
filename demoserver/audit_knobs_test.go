package demoserver

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRotationGrace: a rotated refresh token presented again inside the grace window gets a new
// pair of the same family (the successor keeps working and no reuse is detected); after the
// window, or two generations behind, it is reuse. Without the knob there is no window at all.
func TestRotationGrace(t *testing.T) {
	for _, c := range conventions {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			h.srv.SetAuditKnobs(AuditKnobs{RotationGrace: 5 * time.Second})
			_, r1 := mustLogin(t, h, c)
			a := c.refresh(h, r1)
			expectOK(t, a, "rotate r1")
			_, r2 := c.tokens(a)

			h.clock.Advance(4 * time.Second)
			a = c.refresh(h, r1)
			expectOK(t, a, "r1 again inside the grace")
			acc, r1b := c.tokens(a)
			if r1b == "" || r1b == r1 || r1b == r2 {
				t.Fatalf("a grace hit must answer a new refresh token of its own: %s", a.raw)
			}
			expectOK(t, c.resource(h, acc), "the grace hit's access token")
			a = c.refresh(h, r2)
			expectOK(t, a, "the successor still refreshes after a grace hit")
			_, r3 := c.tokens(a)
			if st := h.srv.Stats(); st.RefreshGraceHits != 1 || st.ReuseDetected != 0 {
				t.Errorf("stats %+v, want one grace hit and no reuse", st)
			}

			// r1 is two generations behind r3 now: no grace, whatever the clock says.
			c.rejected(t, c.refresh(h, r1))
			if h.srv.Stats().ReuseDetected != 1 {
				t.Error("an older generation inside the window was not caught as reuse")
			}
			_ = r3
		})
	}
	t.Run("window ends", func(t *testing.T) {
		c := conventions[0]
		h := newHarness(t, Options{})
		h.srv.SetAuditKnobs(AuditKnobs{RotationGrace: 5 * time.Second})
		_, r1 := mustLogin(t, h, c)
		expectOK(t, c.refresh(h, r1), "rotate")
		h.clock.Advance(5 * time.Second)
		c.rejected(t, c.refresh(h, r1))
		if h.srv.Stats().ReuseDetected != 1 {
			t.Error("a presentation at the end of the window was not reuse")
		}
	})
	t.Run("off by default", func(t *testing.T) {
		c := conventions[0]
		h := newHarness(t, Options{})
		_, r1 := mustLogin(t, h, c)
		expectOK(t, c.refresh(h, r1), "rotate")
		c.rejected(t, c.refresh(h, r1)) // at once, on the same clock tick
	})
}

// TestAccessLeeway: an access token past its exp is accepted for the leeway and refused after;
// without the knob it is refused at once. JWT and opaque tokens alike.
func TestAccessLeeway(t *testing.T) {
	for _, opaque := range []bool{false, true} {
		name := map[bool]string{false: "jwt", true: "opaque"}[opaque]
		t.Run(name, func(t *testing.T) {
			c := conventions[3] // oauth2, whose tokens can be opaque
			h := newHarness(t, Options{OpaqueOAuth: opaque, AccessTTL: 10 * time.Second})
			acc, _ := mustLogin(t, h, c)
			h.clock.Advance(12 * time.Second)
			c.expired(t, c.resource(h, acc))

			h.srv.SetAuditKnobs(AuditKnobs{AccessLeeway: 5 * time.Second})
			expectOK(t, c.resource(h, acc), "2 s past exp with a 5 s leeway")
			h.clock.Advance(3 * time.Second) // 5 s past exp: the leeway is used up
			c.expired(t, c.resource(h, acc))
		})
	}
}

// raceRefresh presents one refresh token k times at the same instant: each request has its own
// connection, opened beforehand, and all leave on one signal.
func raceRefresh(t *testing.T, h *harness, refresh string, k int) (ok, rejected int) {
	t.Helper()
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	body, _ := json.Marshal(map[string]string{"refresh": refresh})
	for i := 0; i < k; i++ {
		client := &http.Client{Transport: &http.Transport{}}
		t.Cleanup(client.CloseIdleConnections)
		if resp, err := client.Get(h.url + "/__demo/stats"); err == nil { // warm the connection
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := client.Post(h.url+"/api/token/refresh/", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mu.Lock()
			defer mu.Unlock()
			if resp.StatusCode == 200 {
				ok++
			} else {
				rejected++
			}
		}()
	}
	close(start)
	wg.Wait()
	return ok, rejected
}

// TestRefreshRaceWindow: with the window, k simultaneous presentations of one refresh token all
// succeed (the server does not serialise refreshes); without it exactly one does.
func TestRefreshRaceWindow(t *testing.T) {
	const k = 4
	h := newHarness(t, Options{})
	_, ref := mustLogin(t, h, conventions[0])
	if ok, rej := raceRefresh(t, h, ref, k); ok != 1 || rej != k-1 {
		t.Fatalf("serialised: ok=%d rejected=%d, want 1 and %d", ok, rej, k-1)
	}

	if a := h.do("POST", "/__demo/audit?refresh_race_window=500ms", "", nil); a.status != 200 || a.str("knobs", "refresh_race_window") != "500ms" {
		t.Fatalf("knob: %d %s", a.status, a.raw)
	}
	_, ref = mustLogin(t, h, conventions[0])
	if ok, rej := raceRefresh(t, h, ref, k); ok != k || rej != 0 {
		t.Fatalf("race window: ok=%d rejected=%d, want all %d through", ok, rej, k)
	}
	// Outside the window the token is used up as usual: reuse.
	conventions[0].rejected(t, conventions[0].refresh(h, ref))
}

// TestLoserClearsCookie: under the knob, a refused cookie refresh answers with an expired
// refresh cookie, so a browser's jar loses the cookie; without it the jar keeps it.
func TestLoserClearsCookie(t *testing.T) {
	for _, clears := range []bool{false, true} {
		s, err := Start(Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		s.SetAuditKnobs(AuditKnobs{LoserClearsCookie: clears})
		cc := newCookieClient(t, s)
		if st, _ := cc.do("POST", "/auth/login", `{"username":"demo","password":"demo"}`, nil); st != 200 {
			t.Fatalf("login: %d", st)
		}
		old := cc.refreshCookie()
		if st, _ := cc.refresh(); st != 200 {
			t.Fatalf("refresh: %d", st)
		}
		// The loser: the cookie from before the rotation, as a second tab that read it earlier.
		req, _ := http.NewRequest("POST", s.URL()+"/auth/refresh", nil)
		req.Header.Set(CSRFHeaderName, cc.csrf())
		req.AddCookie(&http.Cookie{Name: RefreshCookieName, Value: old})
		req.AddCookie(&http.Cookie{Name: CSRFCookieName, Value: cc.csrf()})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("the loser: %d, want 401", resp.StatusCode)
		}
		var cleared bool
		for _, c := range resp.Cookies() {
			if c.Name == RefreshCookieName {
				cleared = c.MaxAge < 0 && c.Value == "" && c.Path == RefreshCookiePath
			}
		}
		if cleared != clears {
			t.Errorf("knob %v: the losing answer cleared the refresh cookie = %v (Set-Cookie %q)", clears, cleared, resp.Header.Values("Set-Cookie"))
		}
	}
}

// refreshCookie is the jar's refresh cookie.
func (cc *cookieClient) refreshCookie() string {
	req, _ := http.NewRequest("GET", cc.base+RefreshCookiePath+"/refresh", nil)
	for _, c := range cc.c.Jar.Cookies(req.URL) {
		if c.Name == RefreshCookieName {
			return c.Value
		}
	}
	return ""
}

// TestCacheableTokens: the knob takes Cache-Control: no-store off login and refresh answers of
// every convention, and off nothing else.
func TestCacheableTokens(t *testing.T) {
	for _, cacheable := range []bool{false, true} {
		for _, c := range conventions {
			h := newHarness(t, Options{})
			h.srv.SetAuditKnobs(AuditKnobs{CacheableTokens: cacheable})
			login := c.login(h)
			acc, ref := c.tokens(login)
			refresh := c.refresh(h, ref)
			for what, a := range map[string]answer{"login": login, "refresh": refresh} {
				if got := a.header.Get("Cache-Control"); (got == "no-store") == cacheable {
					t.Errorf("%s %s with cacheable=%v: Cache-Control %q", c.name, what, cacheable, got)
				}
			}
			if got := c.resource(h, acc).header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("%s resource: Cache-Control %q, want no-store whatever the knob", c.name, got)
			}
		}
	}
}

// TestNoWWWAuthenticate: the knob answers a refused API call 401 without the challenge.
func TestNoWWWAuthenticate(t *testing.T) {
	h := newHarness(t, Options{})
	bad := bearer("not-a-token")
	if a := h.do("GET", "/api/protected/", "", nil, bad...); a.status != 401 || !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer ") {
		t.Fatalf("default: %d %q", a.status, a.header.Get("WWW-Authenticate"))
	}
	if a := h.do("POST", "/__demo/audit?no_www_authenticate=true", "", nil); a.status != 200 {
		t.Fatalf("knob: %d %s", a.status, a.raw)
	}
	if a := h.do("GET", "/api/protected/", "", nil, bad...); a.status != 401 || a.header.Values("WWW-Authenticate") != nil || a.str("code") != "token_not_valid" {
		t.Fatalf("knob on: %d %q %s", a.status, a.header.Values("WWW-Authenticate"), a.raw)
	}
}

// unsigned re-encodes a JWT with alg: none and no signature, claims untouched.
func unsigned(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
}

// TestAcceptAlgNone: an unsigned copy of a real access token is refused by default and
// accepted by the insecure option, which GET / announces; a token of the server's alg with its
// signature removed, and an unsigned refresh token, are refused either way.
func TestAcceptAlgNone(t *testing.T) {
	for _, insecure := range []bool{false, true} {
		h := newHarness(t, Options{AcceptAlgNone: insecure})
		c := conventions[0]
		acc, ref := mustLogin(t, h, c)
		a := c.resource(h, unsigned(t, acc))
		if (a.status == 200) != insecure {
			t.Errorf("accept-alg-none=%v: alg none answered %d %s", insecure, a.status, a.raw)
		}
		stripped := acc[:strings.LastIndex(acc, ".")+1]
		if a := c.resource(h, stripped); a.status != 401 {
			t.Errorf("accept-alg-none=%v: a stripped signature answered %d", insecure, a.status)
		}
		c.rejected(t, c.refresh(h, unsigned(t, ref)))

		idx := h.do("GET", "/", "", nil)
		warned := strings.Contains(idx.raw, "INSECURE ON PURPOSE")
		if warned != insecure || (idx.body["accept_alg_none"] == true) != insecure {
			t.Errorf("accept-alg-none=%v: GET / says %s", insecure, idx.raw)
		}
	}
}

// TestAuditKnobsOverHTTP: /__demo/audit sets what it names and keeps the rest, refuses values
// that mean nothing, reports in /__demo/stats, and reset clears it.
func TestAuditKnobsOverHTTP(t *testing.T) {
	h := newHarness(t, Options{})
	if a := h.do("POST", "/__demo/audit?rotation_grace=2s&loser_clears_cookie=1", "", nil); a.status != 200 {
		t.Fatalf("knob: %d %s", a.status, a.raw)
	}
	if a := h.do("POST", "/__demo/audit?access_leeway=3s", "", nil); a.status != 200 {
		t.Fatalf("knob: %d %s", a.status, a.raw)
	}
	want := AuditKnobs{RotationGrace: 2 * time.Second, AccessLeeway: 3 * time.Second, LoserClearsCookie: true}
	if got := h.srv.Knobs().Audit; got != want {
		t.Errorf("knobs %+v, want %+v", got, want)
	}
	a := h.do("GET", "/__demo/stats", "", nil)
	if a.str("knobs", "rotation_grace") != "2s" || a.str("knobs", "access_leeway") != "3s" || a.body["knobs"].(map[string]any)["loser_clears_cookie"] != true ||
		a.body["knobs"].(map[string]any)["accept_alg_none"] != false {
		t.Errorf("stats: %s", a.raw)
	}
	for _, q := range []string{"rotation_grace=-1s", "access_leeway=forever", "refresh_race_window=2h", "cacheable_tokens=maybe"} {
		if a := h.do("POST", "/__demo/audit?"+q, "", nil); a.status != 400 {
			t.Errorf("%s: %d", q, a.status)
		}
	}
	if got := h.srv.Knobs().Audit; got != want {
		t.Errorf("a refused call changed the knobs: %+v", got)
	}
	h.do("POST", "/__demo/reset", "", nil)
	if got := h.srv.Knobs().Audit; got != (AuditKnobs{}) {
		t.Errorf("after reset: %+v", got)
	}
}
