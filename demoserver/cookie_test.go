package demoserver

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"
)

// cookieClient is a browser-like client of the cookie convention: a jar, and the CSRF cookie's
// value copied into the header on refresh.
type cookieClient struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newCookieClient(t *testing.T, s *Server) *cookieClient {
	jar, _ := cookiejar.New(nil)
	return &cookieClient{t: t, base: s.URL(), c: &http.Client{Jar: jar}}
}

func (cc *cookieClient) do(method, path, body string, hdr map[string]string) (int, map[string]any) {
	cc.t.Helper()
	req, _ := http.NewRequest(method, cc.base+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := cc.c.Do(req)
	if err != nil {
		cc.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func (cc *cookieClient) csrf() string {
	u, _ := url.Parse(cc.base + "/auth/refresh")
	for _, c := range cc.c.Jar.Cookies(u) {
		if c.Name == CSRFCookieName {
			return c.Value
		}
	}
	return ""
}

func (cc *cookieClient) refresh() (int, map[string]any) {
	return cc.do("POST", "/auth/refresh", "", map[string]string{CSRFHeaderName: cc.csrf()})
}

// The cookie convention goes through the same fault knobs and counters as the others.
func TestCookieConventionKnobs(t *testing.T) {
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cc := newCookieClient(t, s)
	if st, m := cc.do("POST", "/auth/login", `{"username":"demo","password":"nope"}`, nil); st != 401 || m["detail"] == nil {
		t.Fatalf("bad password: %d %v", st, m)
	}
	st, m := cc.do("POST", "/auth/login", `{"username":"demo","password":"demo"}`, nil)
	if st != 200 || m["accessToken"] == nil || m["refreshToken"] != nil || cc.csrf() == "" {
		t.Fatalf("login: %d %v", st, m)
	}
	access := m["accessToken"].(string)
	if st, _ := cc.do("GET", "/api/me", "", map[string]string{"Authorization": "Bearer " + access}); st != 200 {
		t.Fatalf("resource: %d", st)
	}
	s.ExpireAccessTokens()
	if st, m := cc.do("GET", "/api/me", "", map[string]string{"Authorization": "Bearer " + access}); st != 401 || m["code"] != "token_not_valid" {
		t.Fatalf("expired access: %d %v", st, m)
	}

	s.FailNextRefreshes(1)
	if st, _ := cc.refresh(); st != 503 {
		t.Fatalf("fail-refresh knob: %d", st)
	}
	s.SetLatency(0, 50*time.Millisecond)
	start := time.Now()
	if st, m := cc.refresh(); st != 200 || m["accessToken"] == nil {
		t.Fatalf("refresh: %d %v", st, m)
	}
	if time.Since(start) < 50*time.Millisecond {
		t.Error("the refresh latency knob was not applied")
	}
	s.RevokeAllFamilies()
	if st, m := cc.refresh(); st != 401 || m["code"] != "token_not_valid" {
		t.Fatalf("revoked: %d %v", st, m)
	}
	if st, m := cc.do("POST", "/auth/refresh", "", nil); st != 403 || m["code"] != "csrf_failed" {
		t.Fatalf("no CSRF header: %d %v", st, m)
	}
	got := s.Stats()
	if got.Logins != 1 || got.LoginsFailed != 1 || got.RefreshOK != 1 || got.RefreshRejected != 1 || got.RefreshInjected503 != 1 ||
		got.CSRFRejected != 1 || got.ResourceUnauthorized != 1 {
		t.Errorf("stats %+v", got)
	}
}
