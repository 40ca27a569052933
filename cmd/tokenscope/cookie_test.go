package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// issue #14's done line: fire --profile cookie on the embedded demo, 50 requests at expiry,
// all ok on one refresh.
func TestFireCookieProfileOneRefresh(t *testing.T) {
	_, s, err := fireJSON(t, "--profile", "cookie", "--access-ttl", "2s", "--wait-expiry", "-n", "50", "-c", "50")
	if err != nil {
		t.Fatalf("fire failed: %v (summary %+v)", err, s)
	}
	if s.Requests != 50 || s.OK != 50 || s.Failed != 0 || s.Lost != 0 || s.Refreshes != 1 || s.RefreshFailures != 0 || s.LoggedOut != 0 {
		t.Errorf("summary %+v", s)
	}
}

// cookieAPI is an independent server of the cookie convention, at the built-in profile's
// paths and names: JWT access tokens of 2 s, refreshes that take 300 ms, rotation, reuse
// detection (a rotated cookie presented again revokes everything) and a strict CSRF check.
type cookieAPI struct {
	mu       sync.Mutex
	key      []byte
	seq      int
	used     map[string]bool // refresh token → redeemed
	revoked  bool
	csrf     string
	refresh  atomic.Int64
	csrfFail atomic.Int64
	reuse    atomic.Int64
}

func (a *cookieAPI) mint(w http.ResponseWriter, r *http.Request) {
	a.seq++
	now := time.Now()
	acc, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "demo", "iat": now.Unix(),
		"exp": now.Add(2 * time.Second).Unix(), "jti": fmt.Sprint(a.seq)}).SignedString(a.key)
	ref := fmt.Sprintf("rt-%d-%d", a.seq, now.UnixNano())
	a.used[ref] = false
	http.SetCookie(w, &http.Cookie{Name: "refresh_token", Value: ref, Path: "/auth", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"accessToken": acc})
}

func (a *cookieAPI) fail(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"detail": code, "code": code})
}

func (a *cookieAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/auth/login":
		a.mu.Lock()
		defer a.mu.Unlock()
		a.csrf = fmt.Sprintf("c%d", time.Now().UnixNano())
		http.SetCookie(w, &http.Cookie{Name: "csrf_token", Value: a.csrf, Path: "/"})
		a.mint(w, r)
	case "/auth/refresh":
		a.refresh.Add(1)
		time.Sleep(300 * time.Millisecond)
		a.mu.Lock()
		defer a.mu.Unlock()
		if c, err := r.Cookie("csrf_token"); err != nil || c.Value != a.csrf || r.Header.Get("X-CSRF-Token") != a.csrf {
			a.csrfFail.Add(1)
			a.fail(w, http.StatusForbidden, "csrf_failed")
			return
		}
		c, err := r.Cookie("refresh_token")
		if err != nil || a.revoked {
			a.fail(w, http.StatusUnauthorized, "token_not_valid")
			return
		}
		used, known := a.used[c.Value]
		if !known || used {
			if used {
				a.reuse.Add(1)
				a.revoked = true
			}
			a.fail(w, http.StatusUnauthorized, "token_not_valid")
			return
		}
		a.used[c.Value] = true
		a.mint(w, r)
	default:
		if _, err := r.Cookie("refresh_token"); err == nil {
			a.fail(w, http.StatusBadRequest, "refresh cookie outside /auth")
			return
		}
		_, err := jwt.Parse(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), func(*jwt.Token) (any, error) { return a.key, nil },
			jwt.WithValidMethods([]string{"HS256"}))
		a.mu.Lock()
		revoked := a.revoked
		a.mu.Unlock()
		if err != nil || revoked {
			a.fail(w, http.StatusUnauthorized, "token_not_valid")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}
}

// The same against an independent server of the convention with slow refreshes and reuse
// detection: one refresh, no CSRF rejection, no reuse.
func TestFireCookieProfileIndependentServer(t *testing.T) {
	a := &cookieAPI{key: []byte("an independent server's own key!"), used: map[string]bool{}}
	srv := httptest.NewServer(a)
	defer srv.Close()
	t.Setenv("COOKIE_TEST_PASSWORD", "pw")
	_, s, err := fireJSON(t, "--target", srv.URL, "--profile", "cookie", "--user", "demo", "--password-env", "COOKIE_TEST_PASSWORD",
		"--wait-expiry", "-n", "50", "-c", "50")
	if err != nil {
		t.Fatalf("fire failed: %v (summary %+v)", err, s)
	}
	if s.Requests != 50 || s.OK != 50 || s.Refreshes != 1 || s.RefreshFailures != 0 || s.LoggedOut != 0 {
		t.Errorf("summary %+v", s)
	}
	if a.refresh.Load() != 1 || a.csrfFail.Load() != 0 || a.reuse.Load() != 0 {
		t.Errorf("server: %d refresh calls, %d CSRF rejections, %d reuses", a.refresh.Load(), a.csrfFail.Load(), a.reuse.Load())
	}
}
