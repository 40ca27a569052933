package demoserver

// The reference client: golang.org/x/oauth2, and nothing of the server's, drives every flow of
// the demo provider over real HTTP, starting from discovery. If the server drifts from the RFCs
// in a way a well-kept client notices, these tests say so.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// providerMeta is the part of the discovery document the reference client needs.
type providerMeta struct {
	Issuer        string   `json:"issuer"`
	AuthURL       string   `json:"authorization_endpoint"`
	TokenURL      string   `json:"token_endpoint"`
	DeviceAuthURL string   `json:"device_authorization_endpoint"`
	UserinfoURL   string   `json:"userinfo_endpoint"`
	JWKSURI       string   `json:"jwks_uri"`
	AuthMethods   []string `json:"token_endpoint_auth_methods_supported"`
	PKCEMethods   []string `json:"code_challenge_methods_supported"`
}

func getJSON(t *testing.T, c *http.Client, u string, v any) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

func discover(t *testing.T, base string) (providerMeta, oauth2.Endpoint) {
	t.Helper()
	var m providerMeta
	getJSON(t, http.DefaultClient, base+"/.well-known/openid-configuration", &m)
	if m.Issuer != base || !slices.Contains(m.PKCEMethods, "S256") {
		t.Fatalf("discovery: %+v", m)
	}
	// Pick the client authentication from discovery rather than letting x/oauth2 probe (it
	// would try Basic with an empty secret first): the public client sends client_id only.
	if !slices.Contains(m.AuthMethods, "none") {
		t.Fatalf("discovery: no auth method none: %v", m.AuthMethods)
	}
	return m, oauth2.Endpoint{AuthURL: m.AuthURL, TokenURL: m.TokenURL, DeviceAuthURL: m.DeviceAuthURL, AuthStyle: oauth2.AuthStyleInParams}
}

// verifyIDToken checks an ID token's signature against the discovered JWKS, and its iss, aud
// and exp, as a relying party would.
func verifyIDToken(t *testing.T, m providerMeta, raw string, now func() time.Time) jwt.MapClaims {
	t.Helper()
	var set struct {
		Keys []struct{ Kid, Kty, Crv, X, Y string } `json:"keys"`
	}
	getJSON(t, http.DefaultClient, m.JWKSURI, &set)
	keyFor := func(tok *jwt.Token) (any, error) {
		for _, k := range set.Keys {
			if k.Kid != tok.Header["kid"] || k.Kty != "EC" || k.Crv != "P-256" {
				continue
			}
			x, err1 := base64.RawURLEncoding.DecodeString(k.X)
			y, err2 := base64.RawURLEncoding.DecodeString(k.Y)
			if err := errors.Join(err1, err2); err != nil {
				return nil, err
			}
			return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		}
		return nil, errors.New("no JWKS key for kid")
	}
	claims := jwt.MapClaims{}
	if _, err := jwt.NewParser(jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer(m.Issuer), jwt.WithAudience("tokenscope"),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(now)).ParseWithClaims(raw, claims, keyFor); err != nil {
		t.Fatalf("id_token does not verify: %v", err)
	}
	return claims
}

func TestReferenceClientAuthCodePKCEAndRefresh(t *testing.T) {
	h := newHarness(t, Options{Alg: AlgES256})
	ctx := t.Context()
	m, ep := discover(t, h.url)
	// The loopback redirect listens on a random port; the test reads the code from the
	// Location instead of following it, as a native app's listener would receive it.
	cb := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(cb.Close)
	cfg := &oauth2.Config{ClientID: "tokenscope", Endpoint: ep, RedirectURL: cb.URL + "/callback",
		Scopes: []string{"openid", "offline_access", "api:read"}}

	verifier := oauth2.GenerateVerifier()
	state, nonce := oauth2.GenerateVerifier(), oauth2.GenerateVerifier()
	b := newBrowser(t)
	login := b.get(cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", nonce)))
	final := b.consent(h.url+"/authorize", login, true)
	if final.status != http.StatusFound || final.loc == nil {
		t.Fatalf("want a redirect to the app, got %d %s", final.status, final.body)
	}
	q := final.loc.Query()
	if final.loc.Scheme+"://"+final.loc.Host+final.loc.Path != cfg.RedirectURL || q.Get("state") != state || q.Get("iss") != m.Issuer {
		t.Fatalf("redirect %s: want %s with state and iss", final.loc, cfg.RedirectURL)
	}

	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.RefreshToken == "" || tok.Type() != "Bearer" {
		t.Fatalf("token: %+v", tok)
	}
	idt, _ := tok.Extra("id_token").(string)
	if c := verifyIDToken(t, m, idt, h.clock.Now); c["nonce"] != nonce || c["sub"] != "demo" {
		t.Errorf("id_token claims: %v", c)
	}
	// The same code again fails, with the error the RFC names.
	var re *oauth2.RetrieveError
	if _, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier)); !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("code reuse: %v", err)
	}
	// ...and revoked what it issued: start again for the refresh part.
	tok = referenceLogin(t, h, cfg)

	expectStatus(t, oauth2.NewClient(ctx, oauth2.StaticTokenSource(tok)), h.url+"/api/protected/", 200)
	// Expiry: the server's clock moves past exp; x/oauth2 keeps real time, so its copy of the
	// expiry is moved back to match, and TokenSource refreshes.
	h.clock.Advance(DefaultAccessTTL + time.Second)
	expectStatus(t, oauth2.NewClient(ctx, oauth2.StaticTokenSource(tok)), h.url+"/api/protected/", 401)
	old := *tok
	tok.Expiry = time.Now().Add(-time.Second)
	ts := cfg.TokenSource(ctx, tok)
	fresh, err := ts.Token()
	if err != nil {
		t.Fatalf("refresh via TokenSource: %v", err)
	}
	if fresh.AccessToken == old.AccessToken || fresh.RefreshToken == old.RefreshToken || fresh.RefreshToken == "" {
		t.Errorf("refresh did not rotate: %+v", fresh)
	}
	client := oauth2.NewClient(ctx, ts)
	expectStatus(t, client, h.url+"/api/protected/", 200)
	var ui map[string]any
	getJSON(t, client, m.UserinfoURL, &ui)
	if ui["sub"] != "demo" {
		t.Errorf("userinfo: %v", ui)
	}
	if st := h.srv.Stats(); st.AuthCodesIssued != 2 || st.AuthCodesRedeemed != 2 || st.RefreshOK != 1 {
		t.Errorf("stats: %+v", st)
	}
}

// referenceLogin runs the code flow with x/oauth2 and returns its token.
func referenceLogin(t *testing.T, h *harness, cfg *oauth2.Config) *oauth2.Token {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	b := newBrowser(t)
	final := b.consent(h.url+"/authorize", b.get(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier))), true)
	if final.loc == nil {
		t.Fatalf("no redirect: %d %s", final.status, final.body)
	}
	tok, err := cfg.Exchange(t.Context(), final.loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return tok
}

func expectStatus(t *testing.T, c *http.Client, u string, want int) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Errorf("GET %s: %d, want %d", u, resp.StatusCode, want)
	}
}

// TestReferenceClientDevice: DeviceAuth, the user approves on the HTML pages, then
// DeviceAccessToken. x/oauth2 waits interval seconds of real time before its first poll, so the
// interval is the smallest it can express (1 s); the server's pacing is tested on the manual
// clock in TestDeviceFlowPendingSlowDownApprove.
func TestReferenceClientDevice(t *testing.T) {
	h := newHarness(t, Options{DeviceInterval: time.Second})
	ctx := t.Context()
	_, ep := discover(t, h.url)
	cfg := &oauth2.Config{ClientID: "tokenscope", Endpoint: ep, Scopes: []string{"openid", "offline_access"}}
	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatalf("DeviceAuth: %v", err)
	}
	if da.VerificationURI != h.url+"/device" || da.VerificationURIComplete == "" || da.Interval != 1 || time.Until(da.Expiry) < 9*time.Minute {
		t.Fatalf("device authorization: %+v", da)
	}
	deviceVerify(t, h, da.UserCode, true)
	tok, err := cfg.DeviceAccessToken(ctx, da)
	if err != nil {
		t.Fatalf("DeviceAccessToken: %v", err)
	}
	if tok.RefreshToken == "" || tok.Extra("id_token") == nil {
		t.Errorf("device token: %+v", tok)
	}
	expectStatus(t, oauth2.NewClient(ctx, oauth2.StaticTokenSource(tok)), h.url+"/api/protected/", 200)
}

func TestReferenceClientCredentials(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := t.Context()
	m, _ := discover(t, h.url)
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		cc := &clientcredentials.Config{ClientID: "tokenscope-cc", ClientSecret: "demo-secret", TokenURL: m.TokenURL,
			Scopes: []string{"api:read"}, AuthStyle: style}
		tok, err := cc.Token(ctx)
		if err != nil {
			t.Fatalf("style %d: %v", style, err)
		}
		if tok.AccessToken == "" || tok.RefreshToken != "" {
			t.Errorf("style %d: token %+v", style, tok)
		}
		expectStatus(t, cc.Client(ctx), h.url+"/api/protected/", 200)

		cc.ClientSecret = "wrong"
		var re *oauth2.RetrieveError
		if _, err := cc.Token(ctx); !errors.As(err, &re) || re.ErrorCode != "invalid_client" || re.Response.StatusCode != 401 {
			t.Errorf("style %d, wrong secret: %v", style, err)
		}
	}
	var doc struct {
		Stats Stats `json:"stats"`
	}
	getJSON(t, http.DefaultClient, h.url+"/__demo/stats", &doc)
	// Per style: Token, then Client (a fresh token source, so a second token).
	if doc.Stats.ClientCredentialsTokens != 4 || doc.Stats.Logins != 0 {
		t.Errorf("/__demo/stats: %+v", doc.Stats)
	}
}
