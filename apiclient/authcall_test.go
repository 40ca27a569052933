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

// TestUntrustedCertIsTyped: a certificate the transport did not trust is found by its type,
// not its words, and a login against it returns it wrapped, naming no flag: the hint is cmd's.
func TestUntrustedCertIsTyped(t *testing.T) {
	err := &url.Error{Op: "Post", URL: "https://h/", Err: fmt.Errorf("tls: %w", x509.UnknownAuthorityError{})}
	if !UntrustedCert(err) || UntrustedCert(errors.New("x509: certificate signed by unknown authority")) {
		t.Error("UntrustedCert goes by the words, not the type")
	}
	ts := httptest.NewTLSServer(http.NotFoundHandler())
	defer ts.Close()
	p, _ := profile.Builtin("simplejwt")
	e, nerr := New(Config{BaseURL: ts.URL, Profile: p, Username: "demo", Password: "demo"})
	if nerr != nil {
		t.Fatal(nerr)
	}
	defer e.Close()
	_, lerr := e.Login(context.Background())
	var le *LoginError
	if !errors.As(lerr, &le) || !UntrustedCert(lerr) || strings.Contains(lerr.Error(), "--") {
		t.Errorf("login against an untrusted certificate: %v", lerr)
	}
	if strings.Contains(e.Log().Events()[len(e.Log().Events())-1].Reason, "--") {
		t.Error("the login-failed event names a flag")
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
