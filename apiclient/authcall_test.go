package apiclient

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
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
