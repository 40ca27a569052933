package apiclient

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"tokenscope/apiclient/profile"
)

func TestJoinedURLDoubledPath(t *testing.T) {
	cases := []struct{ base, target, url, doubled string }{
		{"http://h/api", "/api/token/", "http://h/api/api/token/", "/api/api/..."},
		{"http://h/api/", "/api/token/", "http://h/api/api/token/", "/api/api/..."},
		{"http://h/v1/auth", "/v1/auth/login", "http://h/v1/auth/v1/auth/login", "/v1/auth/v1/auth/..."},
		{"http://h", "/api/token/", "http://h/api/token/", ""},
		{"http://h/v1", "/api/token/", "http://h/v1/api/token/", ""},
		{"http://u:secret@h/api", "/login", "http://u:xxxxx@h/api/login", ""},
		{"http://h/api", "https://idp.example/token", "https://idp.example/token", ""},
	}
	for _, c := range cases {
		u, d := joinedURL(c.base, c.target)
		if u != c.url || d != c.doubled {
			t.Errorf("joinedURL(%q, %q) = %q, %q; want %q, %q", c.base, c.target, u, d, c.url, c.doubled)
		}
	}
}

func TestCertHint(t *testing.T) {
	err := &url.Error{Op: "Post", URL: "https://h/", Err: fmt.Errorf("tls: %w", x509.UnknownAuthorityError{})}
	if !strings.Contains(certHint(err), "--ca-cert FILE") || certHint(errors.New("x509-ish but not")) != "" {
		t.Errorf("certHint: %q", certHint(err))
	}
}

// TestRefreshFailureNamesTheCall: an unexpected answer to a refresh (an HTML 404 from a
// proxy) names the method and URL called.
func TestRefreshFailureNamesTheCall(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/token/" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access":"opaque-access-1","refresh":"opaque-refresh-1"}`))
			return
		}
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("<!doctype html><h1>Not Found</h1>"))
	}))
	defer srv.Close()
	p, _ := profile.Builtin("simplejwt")
	e, err := New(Config{BaseURL: srv.URL, Profile: p, Username: "u", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := e.Login(ctx); err != nil {
		t.Fatal(err)
	}
	err = e.RefreshNow(ctx)
	if want := "POST " + srv.URL + "/api/token/refresh/: HTTP 404"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("refresh error %v lacks %q", err, want)
	}
}
