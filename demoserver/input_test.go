package demoserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func decodeClaims(t *testing.T, tok string) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok, claims); err != nil {
		t.Fatalf("not a JWT: %v", err)
	}
	return claims
}

// TestBadInputJSON sends every JSON endpoint everything that can be wrong with a body. Each
// must get a 4xx in its convention's shape, never a 500.
func TestBadInputJSON(t *testing.T) {
	h := newHarness(t, Options{MaxBodyBytes: 1024})
	acc, _ := mustLogin(t, h, conventions[0])
	huge := `{"username":"` + strings.Repeat("x", 4096) + `","password":"demo"}`
	endpoints := []struct {
		path, conv string
		headers    []string
	}{
		{"/api/token/", SimpleJWT, nil},
		{"/api/token/refresh/", SimpleJWT, nil},
		{"/login", BearerJSON, nil},
		{"/refresh-token", BearerJSON, nil},
		{"/sys/user/login", ElementAdmin, nil},
		{"/api/items", SimpleJWT, bearer(acc)},
		{"/sys/items", ElementAdmin, []string{"X-Token", acc}},
	}
	cases := []struct {
		name, ctype, body string
		status            int
	}{
		{"malformed JSON", "application/json", `{"username": "demo",`, 400},
		{"trailing garbage", "application/json", `{"username":"demo"} xyz`, 400},
		{"not an object", "application/json", `["demo","demo"]`, 400},
		{"empty body", "application/json", ``, 400},
		{"wrong content type", "text/plain", `{"username":"demo","password":"demo"}`, 415},
		{"form content type", "application/x-www-form-urlencoded", `username=demo&password=demo`, 415},
		{"no content type", "", `{"username":"demo","password":"demo"}`, 415},
		{"oversized", "application/json", huge, 413},
		{"html", "application/json", `<html><body>hi</body></html>`, 400},
	}
	for _, ep := range endpoints {
		for _, c := range cases {
			t.Run(ep.path+"/"+c.name, func(t *testing.T) {
				a := h.do("POST", ep.path, c.ctype, []byte(c.body), ep.headers...)
				if a.status != c.status {
					t.Fatalf("status %d, want %d: %s", a.status, c.status, a.raw)
				}
				checkShape(t, ep.conv, a)
			})
		}
	}
}

func checkShape(t *testing.T, conv string, a answer) {
	t.Helper()
	if a.body == nil {
		t.Fatalf("not a JSON object: %q", a.raw)
	}
	switch conv {
	case SimpleJWT:
		if a.str("detail") == "" && len(a.body) == 0 {
			t.Errorf("no DRF-style error: %s", a.raw)
		}
	case BearerJSON:
		if a.str("message") == "" {
			t.Errorf("no message: %s", a.raw)
		}
	case ElementAdmin:
		if a.num("code") != float64(a.status*100) || a.str("message") == "" {
			t.Errorf("want code %d and a message: %s", a.status*100, a.raw)
		}
	case OAuth2:
		if a.str("error") == "" {
			t.Errorf("no RFC 6749 error: %s", a.raw)
		}
	}
}

func TestMissingAndMistypedFields(t *testing.T) {
	h := newHarness(t, Options{})
	cases := []struct {
		path, conv, field string
		body              string
	}{
		{"/api/token/", SimpleJWT, "username", `{"password":"demo"}`},
		{"/api/token/", SimpleJWT, "password", `{"username":"demo"}`},
		{"/api/token/", SimpleJWT, "username", `{"username":42,"password":"demo"}`},
		{"/api/token/", SimpleJWT, "password", `{"username":"demo","password":""}`},
		{"/api/token/refresh/", SimpleJWT, "refresh", `{}`},
		{"/api/token/refresh/", SimpleJWT, "refresh", `{"refresh":null}`},
		{"/login", BearerJSON, "username", `{"password":"demo"}`},
		{"/refresh-token", BearerJSON, "refreshToken", `{"refresh":"x"}`},
		{"/sys/user/login", ElementAdmin, "password", `{"username":"demo","password":["demo"]}`},
	}
	for _, c := range cases {
		t.Run(c.path+" "+c.body, func(t *testing.T) {
			a := h.do("POST", c.path, "application/json", []byte(c.body))
			if a.status != 400 {
				t.Fatalf("status %d: %s", a.status, a.raw)
			}
			if c.conv == SimpleJWT {
				if _, ok := a.body[c.field]; !ok {
					t.Errorf("DRF error not keyed by %q: %s", c.field, a.raw)
				}
				return
			}
			checkShape(t, c.conv, a)
			if !strings.Contains(a.raw, c.field) {
				t.Errorf("message does not name %q: %s", c.field, a.raw)
			}
		})
	}
	a := h.do("POST", "/sys/user/refreshtoken", "", nil)
	if a.status != 400 || a.num("code") != 40000 {
		t.Errorf("element refresh without X-Token: %d %s", a.status, a.raw)
	}
}

func TestBadInputOAuth(t *testing.T) {
	h := newHarness(t, Options{MaxBodyBytes: 512})
	form := "application/x-www-form-urlencoded"
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("tokenscope:"))
	cases := []struct {
		name, ctype, body string
		headers           []string
		status            int
		code              string
	}{
		{"json body", "application/json", `{"grant_type":"password"}`, nil, 400, "invalid_request"},
		{"no content type", "", `grant_type=password`, nil, 400, "invalid_request"},
		{"missing grant_type", form, `client_id=tokenscope`, nil, 400, "invalid_request"},
		{"unknown grant_type", form, `client_id=tokenscope&grant_type=implicit`, nil, 400, "unsupported_grant_type"},
		{"grant not allowed for client", form, `client_id=tokenscope&grant_type=client_credentials`, nil, 400, "unauthorized_client"},
		{"missing password", form, `client_id=tokenscope&grant_type=password&username=demo`, nil, 400, "invalid_request"},
		{"missing refresh_token", form, `client_id=tokenscope&grant_type=refresh_token`, nil, 400, "invalid_request"},
		{"repeated parameter", form, `client_id=tokenscope&grant_type=password&grant_type=refresh_token`, nil, 400, "invalid_request"},
		{"no client", form, `grant_type=password&username=demo&password=demo`, nil, 401, "invalid_client"},
		{"unknown client", form, `client_id=evil&grant_type=password&username=demo&password=demo`, nil, 401, "invalid_client"},
		{"secret for public client", form, `client_id=tokenscope&client_secret=x&grant_type=password&username=demo&password=demo`, nil, 401, "invalid_client"},
		{"two client auth methods", form, `client_id=other&grant_type=password&username=demo&password=demo`, []string{"Authorization", basic}, 400, "invalid_request"},
		{"malformed form", form, `grant_type=%zz`, nil, 400, "invalid_request"},
		{"oversized", form, `client_id=tokenscope&grant_type=password&username=` + strings.Repeat("x", 2048), nil, 413, "invalid_request"},
		{"wrong method", form, ``, nil, 405, "invalid_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			method := "POST"
			if c.name == "wrong method" {
				method = "GET"
			}
			a := h.do(method, "/oauth/token", c.ctype, []byte(c.body), c.headers...)
			if a.status != c.status || a.str("error") != c.code {
				t.Fatalf("got %d %s, want %d %s", a.status, a.raw, c.status, c.code)
			}
		})
	}
	// HTTP Basic client authentication works on its own.
	a := h.postForm("/oauth/token", url.Values{"grant_type": {"password"}, "username": {"demo"}, "password": {"demo"}}, "Authorization", basic)
	expectOK(t, a, "basic client auth")
	if a.header.Get("Cache-Control") != "no-store" || a.str("token_type") != "Bearer" || a.num("expires_in") != 30 {
		t.Errorf("token response: %v %s", a.header, a.raw)
	}
}

func TestUnknownPathAndMethod(t *testing.T) {
	h := newHarness(t, Options{})
	if a := h.do("GET", "/api/nothing", "", nil); a.status != 404 || a.body == nil {
		t.Errorf("404: %d %s", a.status, a.raw)
	}
	a := h.do("DELETE", "/api/token/", "", nil)
	if a.status != 405 || a.header.Get("Allow") != "POST" || a.str("detail") == "" {
		t.Errorf("405: %d %v %s", a.status, a.header, a.raw)
	}
	if a := h.do("GET", "/sys/user/login", "", nil); a.status != 405 || a.num("code") != 40500 {
		t.Errorf("element 405: %d %s", a.status, a.raw)
	}
}

func TestResourcesRespond(t *testing.T) {
	h := newHarness(t, Options{})
	acc, _ := mustLogin(t, h, conventions[0])
	if a := h.do("POST", "/api/items", "application/json", []byte(`{"name":"x"}`), bearer(acc)...); a.status != 201 || a.str("item", "name") != "x" {
		t.Errorf("POST /api/items: %d %s", a.status, a.raw)
	}
	if a := h.do("POST", "/sys/items", "application/json", []byte(`{"name":"y"}`), "X-Token", acc); a.status != 200 || a.num("code") != 20000 {
		t.Errorf("POST /sys/items: %d %s", a.status, a.raw)
	}
	if a := h.do("GET", "/sys/user/info", "", nil, "X-Token", acc); a.str("data", "name") != "demo" {
		t.Errorf("GET /sys/user/info: %s", a.raw)
	}
	// Authentication comes before the body: an expired token with a bad body is a 401.
	h.clock.Advance(time.Minute)
	if a := h.do("POST", "/api/items", "text/plain", []byte(`x`), bearer(acc)...); a.status != 401 {
		t.Errorf("expired token with bad body: %d", a.status)
	}
}

func TestTokenClaims(t *testing.T) {
	h := newHarness(t, Options{})
	acc, ref := mustLogin(t, h, conventions[0])
	a, r := decodeClaims(t, acc), decodeClaims(t, ref)
	for _, k := range []string{"sub", "iat", "exp", "jti", "token_type", "fam"} {
		if a[k] == nil || r[k] == nil {
			t.Errorf("claim %q missing: %v %v", k, a, r)
		}
	}
	if a["token_type"] != "access" || r["token_type"] != "refresh" || a["sub"] != "demo" {
		t.Errorf("claims: %v %v", a, r)
	}
	if a["exp"].(float64)-a["iat"].(float64) != 30 || r["exp"].(float64)-r["iat"].(float64) != 600 {
		t.Errorf("default TTLs wrong: %v %v", a, r)
	}
	tok, _, _ := jwt.NewParser().ParseUnverified(acc, jwt.MapClaims{})
	if tok.Header["alg"] != "HS256" || tok.Header["kid"] == nil {
		t.Errorf("header: %v", tok.Header)
	}
}

func TestSecretOption(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	h := newHarness(t, Options{Secret: secret})
	acc, _ := mustLogin(t, h, conventions[0])
	if _, err := jwt.Parse(acc, func(*jwt.Token) (any, error) { return secret, nil },
		jwt.WithTimeFunc(func() time.Time { return epoch })); err != nil {
		t.Errorf("token does not verify with the given secret: %v", err)
	}
}

// TestES256AndJWKS verifies a token with nothing but the published JWKS.
func TestES256AndJWKS(t *testing.T) {
	h := newHarness(t, Options{Alg: AlgES256})
	acc, _ := mustLogin(t, h, conventions[0])
	expectOK(t, conventions[0].resource(h, acc), "ES256 token accepted")
	a := h.do("GET", "/.well-known/jwks.json", "", nil)
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal([]byte(a.raw), &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("jwks: %v %s", err, a.raw)
	}
	k := set.Keys[0]
	coord := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) != 32 {
			t.Fatalf("coordinate %q: %v", s, err)
		}
		return b
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, coord(k["x"])...), coord(k["y"])...))
	if err != nil {
		t.Fatalf("JWKS key is not a P-256 point: %v", err)
	}
	tok, err := jwt.Parse(acc, func(tok *jwt.Token) (any, error) {
		if tok.Header["kid"] != k["kid"] {
			t.Errorf("kid %v not in JWKS (%s)", tok.Header["kid"], k["kid"])
		}
		return pub, nil
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithTimeFunc(func() time.Time { return epoch }))
	if err != nil || !tok.Valid {
		t.Fatalf("verify with JWKS key: %v", err)
	}
	if hs := newHarness(t, Options{}).do("GET", "/.well-known/jwks.json", "", nil); hs.raw != "{\"keys\":[]}\n" {
		t.Errorf("HS256 server published keys: %s", hs.raw)
	}
}

func TestOpaqueOAuth(t *testing.T) {
	h := newHarness(t, Options{OpaqueOAuth: true, AccessTTL: 10 * time.Second})
	oauth := conventions[3]
	a := oauth.login(h)
	expectOK(t, a, "login")
	acc, ref := oauth.tokens(a)
	if strings.Contains(acc, ".") || strings.Contains(ref, ".") {
		t.Fatalf("tokens are not opaque: %s", a.raw)
	}
	if a.num("expires_in") != 10 {
		t.Errorf("expires_in = %v", a.num("expires_in"))
	}
	expectOK(t, oauth.resource(h, acc), "opaque access token")
	h.clock.Advance(11 * time.Second)
	expectBearer401(t, oauth.resource(h, acc))
	r := oauth.refresh(h, ref)
	expectOK(t, r, "opaque refresh")
	acc2, _ := oauth.tokens(r)
	expectOK(t, oauth.resource(h, acc2), "refreshed opaque token")
	oauth.rejected(t, oauth.refresh(h, ref)) // reuse of an opaque token is detected too
	expectBearer401(t, oauth.resource(h, acc2))
	// Opaque tokens are not accepted where a JWT refresh is expected by type either.
	oauth.rejected(t, oauth.refresh(h, acc2))
}

func TestRegistryIsPruned(t *testing.T) {
	h := newHarness(t, Options{AccessTTL: time.Second, RefreshTTL: 2 * time.Second})
	for i := 0; i < 200; i++ {
		if _, err := h.srv.loginBound("demo", i%2 == 0, ""); err != nil {
			t.Fatal(err)
		}
	}
	h.clock.Advance(3 * time.Second)
	if _, err := h.srv.loginBound("demo", false, ""); err != nil {
		t.Fatal(err)
	}
	h.srv.mu.Lock()
	defer h.srv.mu.Unlock()
	if len(h.srv.access) != 1 || len(h.srv.refresh) != 1 || len(h.srv.families) != 1 {
		t.Errorf("after expiry: %d access, %d refresh, %d families; want 1 each",
			len(h.srv.access), len(h.srv.refresh), len(h.srv.families))
	}
}
