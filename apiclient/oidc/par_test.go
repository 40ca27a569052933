package oidc

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tokenscope/internal/clock"
)

// parProvider is a small provider that requires pushed authorization requests (the demo server
// does not do PAR). It records the last pushed form and its Basic credentials.
type parProvider struct {
	mu    sync.Mutex
	form  url.Values
	basic [2]string
	fail  bool
}

func (pp *parProvider) start(t *testing.T) *httptest.Server {
	t.Helper()
	var ts *httptest.Server
	ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]any{"issuer": ts.URL, "authorization_endpoint": ts.URL + "/auth",
				"token_endpoint": ts.URL + "/token", "pushed_authorization_request_endpoint": ts.URL + "/par",
				"require_pushed_authorization_requests": true, "token_endpoint_auth_methods_supported": []string{"client_secret_basic", "none"}})
		case "/par":
			_ = r.ParseForm()
			id, secret, _ := r.BasicAuth()
			pp.mu.Lock()
			pp.form, pp.basic = r.PostForm, [2]string{id, secret}
			fail := pp.fail
			pp.mu.Unlock()
			if fail {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"error":"invalid_request","error_description":"redirect_uri not allowed"}`))
				return
			}
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"request_uri":"urn:ietf:params:oauth:request_uri:abc","expires_in":60}`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(ts.Close)
	return ts
}

// TestPAR: a provider that requires PAR gets the request pushed with client authentication;
// the browser URL carries only client_id and request_uri.
func TestPAR(t *testing.T) {
	pp := &parProvider{}
	ts := pp.start(t)
	p, err := Discover(ctxT(t), hc(), ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	if !p.RequirePushedAuthorizationRequests || p.PushedAuthorizationRequestEndpoint != ts.URL+"/par" {
		t.Fatalf("provider %+v", p)
	}
	c := &Client{HTTP: hc(), Provider: p, ID: "app", Secret: "s3cret"}
	r := c.NewAuthCodeRequest("", "openid", nil)
	u, err := r.AuthURL(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	pu, _ := url.Parse(u)
	if pu.Path != "/auth" || pu.Query().Encode() != "client_id=app&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Aabc" {
		t.Fatalf("auth URL %s", u)
	}
	pp.mu.Lock()
	f, basic := pp.form, pp.basic
	pp.mu.Unlock()
	if basic != [2]string{"app", "s3cret"} || f.Has("client_id") || f.Get("code_challenge") != S256Challenge(r.Verifier) ||
		f.Get("state") != r.State || f.Get("nonce") != r.Nonce || f.Get("redirect_uri") != DefaultRedirectURI || f.Get("response_type") != "code" {
		t.Fatalf("pushed %v with %v", f, basic)
	}
	// A public client sends its client_id in the pushed form.
	pub := &Client{HTTP: hc(), Provider: p, ID: "pub"}
	if _, err := pub.NewAuthCodeRequest("", "openid", nil).AuthURL(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	pp.mu.Lock()
	if pp.form.Get("client_id") != "pub" || pp.basic[0] != "" {
		t.Errorf("public push: %v %v", pp.form, pp.basic)
	}
	pp.fail = true
	pp.mu.Unlock()
	var e *Error
	if _, err := r.AuthURL(ctxT(t)); !errors.As(err, &e) || e.Code != "invalid_request" || e.Status != 400 {
		t.Fatalf("PAR error: %v", err)
	}
	p.PushedAuthorizationRequestEndpoint = ""
	if _, err := r.AuthURL(ctxT(t)); err == nil || !strings.Contains(err.Error(), "pushed_authorization_request_endpoint") {
		t.Fatalf("no endpoint: %v", err)
	}
}

// TestIDTokenClaims: iss, aud, azp, exp and nonce, read unverified when there is no Keyfunc;
// with a Keyfunc an HS256 token (a shared secret is no public key) is refused.
func TestIDTokenClaims(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := &Client{HTTP: hc(), Provider: &Provider{Issuer: "https://id.example", TokenEndpoint: "x"}, ID: "app",
		Clock: clock.NewManual(now)}
	mint := func(edit func(jwt.MapClaims)) string {
		m := jwt.MapClaims{"iss": "https://id.example", "aud": "app", "sub": "u", "exp": now.Add(time.Minute).Unix(), "nonce": "n"}
		edit(m)
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, m).SignedString([]byte("k"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	cases := []struct {
		name string
		edit func(jwt.MapClaims)
		want string // "" = accepted
	}{
		{"ok", func(jwt.MapClaims) {}, ""},
		{"multi aud with azp", func(m jwt.MapClaims) { m["aud"], m["azp"] = []string{"app", "api"}, "app" }, ""},
		{"iss", func(m jwt.MapClaims) { m["iss"] = "https://evil" }, "iss"},
		{"aud", func(m jwt.MapClaims) { m["aud"] = "other" }, "aud"},
		{"multi aud no azp", func(m jwt.MapClaims) { m["aud"] = []string{"app", "api"} }, "azp"},
		{"azp other", func(m jwt.MapClaims) { m["azp"] = "api" }, "azp"},
		{"expired", func(m jwt.MapClaims) { m["exp"] = now.Add(-time.Minute).Unix() }, "expired"},
		{"no exp", func(m jwt.MapClaims) { delete(m, "exp") }, "exp"},
		{"nonce", func(m jwt.MapClaims) { m["nonce"] = "x" }, "nonce"},
		{"no nonce", func(m jwt.MapClaims) { delete(m, "nonce") }, "nonce"},
	}
	for _, tc := range cases {
		_, err := c.VerifyIDToken(mint(tc.edit), "n")
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	c.Keyfunc = func(*jwt.Token) (any, error) { return []byte("k"), nil }
	if _, err := c.VerifyIDToken(mint(func(jwt.MapClaims) {}), "n"); err == nil {
		t.Error("HS256 accepted with a Keyfunc")
	}
}
