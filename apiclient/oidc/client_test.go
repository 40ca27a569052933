package oidc

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"tokenscope/demoserver"
)

// TestPKCEVector is RFC 7636 Appendix B.
func TestPKCEVector(t *testing.T) {
	if got := S256Challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"); got != "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" {
		t.Fatalf("challenge = %s", got)
	}
	v := NewVerifier()
	if len(v) < 43 || len(v) > 128 || strings.Trim(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") != "" {
		t.Fatalf("verifier %q", v)
	}
	if NewVerifier() == v {
		t.Fatal("verifiers repeat")
	}
}

// TestChooseAuth: none without a secret, Basic when supported (or unsaid), else post.
func TestChooseAuth(t *testing.T) {
	all := []string{"none", "client_secret_basic", "client_secret_post"}
	cases := []struct {
		sup    []string
		secret string
		want   AuthMethod
	}{
		{all, "", AuthNone},
		{nil, "", AuthNone},
		{all, "s", AuthBasic},
		{nil, "s", AuthBasic},
		{[]string{"client_secret_post"}, "s", AuthPost},
		{[]string{"private_key_jwt"}, "s", AuthBasic},
	}
	for _, c := range cases {
		if got := ChooseAuth(c.sup, c.secret); got != c.want {
			t.Errorf("ChooseAuth(%v, %q) = %s, want %s", c.sup, c.secret, got, c.want)
		}
	}
}

// TestClientAuthMethods: tokenscope-cc gets a token with Basic, with post and by the provider's
// choice; a wrong secret is a typed invalid_client with a hint.
func TestClientAuthMethods(t *testing.T) {
	for _, m := range []AuthMethod{AuthBasic, AuthPost, ""} {
		t.Run(string(m), func(t *testing.T) {
			c, _, _ := discovered(t, demoserver.Options{}, "tokenscope-cc", "demo-secret")
			c.Auth = m
			tok, err := c.ClientCredentials(ctxT(t), "api:read", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tok.Access.Empty() || !tok.Refresh.Empty() || tok.Scope != "api:read" || !tok.Access.ExpiresAt.After(tok.Access.ReceivedAt) || !strings.EqualFold(tok.TokenType, "bearer") {
				t.Fatalf("token %+v", tok)
			}
		})
	}
	c, _, _ := discovered(t, demoserver.Options{}, "tokenscope-cc", "wrong")
	_, err := c.ClientCredentials(ctxT(t), "", nil)
	var e *Error
	if !errors.As(err, &e) || e.Code != "invalid_client" || e.Status != http.StatusUnauthorized || !strings.Contains(e.Hint(), "secret") {
		t.Fatalf("err = %#v", err)
	}
}

// TestBasicEncoding: the id and secret are form-encoded before Basic (RFC 6749 §2.3.1).
func TestBasicEncoding(t *testing.T) {
	var got string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"a","token_type":"Bearer","expires_in":"60"}`))
	}))
	defer ts.Close()
	c := &Client{HTTP: hc(), Provider: &Provider{TokenEndpoint: ts.URL}, ID: "my client", Secret: "p@ss:w/rd"}
	tok, err := c.ClientCredentials(ctxT(t), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("my+client:p%40ss%3Aw%2Frd"))
	if got != want || tok.Access.ExpiresAt.Sub(tok.Access.ReceivedAt) != time.Minute {
		t.Fatalf("Authorization %q, want %q; token %+v", got, want, tok)
	}
}

// TestBasicThenPost: a provider that refuses Basic with invalid_client gets one retry with
// client_secret_post, and the client keeps using post afterwards.
func TestBasicThenPost(t *testing.T) {
	s, err := demoserver.New(demoserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var basic, post atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, ok := r.BasicAuth(); ok {
			basic.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_client","error_description":"basic not accepted"}`))
			return
		}
		if r.URL.Path == "/oauth/token" {
			post.Add(1)
		}
		s.Handler().ServeHTTP(w, r)
	}))
	defer ts.Close()
	p, err := Discover(ctxT(t), hc(), ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{HTTP: hc(), Provider: p, ID: "tokenscope-cc", Secret: "demo-secret"}
	for range 2 {
		if _, err := c.ClientCredentials(ctxT(t), "", nil); err != nil {
			t.Fatal(err)
		}
	}
	if basic.Load() != 1 || post.Load() != 2 {
		t.Fatalf("basic %d, post %d", basic.Load(), post.Load())
	}
	// A public client is never retried: none is not Basic.
	pub := &Client{HTTP: hc(), Provider: p, ID: "nobody"}
	if _, err := pub.ClientCredentials(ctxT(t), "", url.Values{"audience": {"x"}}); err == nil {
		t.Fatal("unknown client accepted")
	}
	if basic.Load() != 1 {
		t.Fatal("a public client sent Basic")
	}
}

// TestClientCredentialsErrors: openid makes no sense without a user; the public client may not
// use the grant.
func TestClientCredentialsErrors(t *testing.T) {
	c, _, _ := discovered(t, demoserver.Options{}, "tokenscope-cc", "demo-secret")
	_, err := c.ClientCredentials(ctxT(t), "openid", nil)
	var e *Error
	if !errors.As(err, &e) || e.Code != "invalid_scope" || e.Hint() == "" {
		t.Fatalf("err = %v", err)
	}
	pub, _, _ := discovered(t, demoserver.Options{}, "tokenscope", "")
	_, err = pub.ClientCredentials(ctxT(t), "", nil)
	if !errors.As(err, &e) || e.Code != "unauthorized_client" {
		t.Fatalf("public client: %v", err)
	}
	if _, err := (&Client{Provider: c.Provider, ID: "x"}).ClientCredentials(ctxT(t), "", nil); err == nil || !strings.Contains(err.Error(), "HTTP is nil") {
		t.Fatalf("nil HTTP: %v", err)
	}
}
