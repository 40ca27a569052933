package demoserver

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tokenscope/internal/testutil"
)

// browser is testutil.Browser (shared with the client-side tests) that fails the test on an
// error, its answers as shown.
type browser struct {
	t *testing.T
	b *testutil.Browser
}

func newBrowser(t *testing.T) *browser { return &browser{t: t, b: testutil.NewBrowser()} }

// shown is one HTTP answer as the browser saw it.
type shown struct {
	status int
	header http.Header
	loc    *url.URL // the Location of a redirect
	body   string
	page   testutil.Page
}

func (b *browser) show(p testutil.Page, err error) shown {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
	s := shown{status: p.Status, header: p.Header, body: p.Body, page: p}
	if p.Location != "" {
		if s.loc, err = url.Parse(p.Location); err != nil {
			b.t.Fatalf("bad Location %q: %v", p.Location, err)
		}
	}
	return s
}

func (b *browser) get(u string) shown {
	b.t.Helper()
	return b.show(b.b.Get(u))
}

func (b *browser) post(u string, form url.Values) shown {
	b.t.Helper()
	return b.show(b.b.Post(u, form))
}

// req is the hidden request id of a login or approve form.
func (s shown) req(t *testing.T) string {
	t.Helper()
	id, err := s.page.FormID()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// consent fills the login form shown in login as demo/demo, then presses approve (or deny).
func (b *browser) consent(formURL string, login shown, approve bool) shown {
	b.t.Helper()
	return b.show(b.b.Consent(formURL, login.page, "demo", "demo", approve))
}

const testVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-test"

func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// authParams is a valid authorization request for the public client; kv overrides (an empty
// value deletes).
func authParams(redirect string, kv ...string) url.Values {
	v := url.Values{
		"response_type": {"code"}, "client_id": {"tokenscope"}, "redirect_uri": {redirect},
		"scope": {"openid offline_access api:read"}, "state": {"st-123"}, "nonce": {"n-456"},
		"code_challenge": {s256(testVerifier)}, "code_challenge_method": {"S256"},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			v.Del(kv[i])
		} else {
			v.Set(kv[i], kv[i+1])
		}
	}
	return v
}

const testRedirect = "http://127.0.0.1:8765/callback"

// codeFlow drives /authorize to the final redirect and returns it.
func codeFlow(t *testing.T, h *harness, params url.Values, approve bool) *url.URL {
	t.Helper()
	b := newBrowser(t)
	login := b.get(h.url + "/authorize?" + params.Encode())
	final := b.consent(h.url+"/authorize", login, approve)
	if final.status != http.StatusFound || final.loc == nil {
		t.Fatalf("want a 302 to the client, got %d %s", final.status, final.body)
	}
	return final.loc
}

// mustCode runs the code flow and returns the code, checking state and iss on the way.
func mustCode(t *testing.T, h *harness, params url.Values) string {
	t.Helper()
	loc := codeFlow(t, h, params, true)
	q := loc.Query()
	if q.Get("code") == "" || q.Get("state") != params.Get("state") || q.Get("iss") != h.url {
		t.Fatalf("redirect %s: want code, state=%s, iss=%s", loc, params.Get("state"), h.url)
	}
	code := q.Get("code")
	back := *loc
	for _, k := range []string{"code", "state", "iss"} {
		q.Del(k)
	}
	back.RawQuery = q.Encode()
	if back.String() != params.Get("redirect_uri") {
		t.Fatalf("redirected to %s, want %s", loc, params.Get("redirect_uri"))
	}
	return code
}

func redeem(h *harness, code, redirect, verifier string, kv ...string) answer {
	h.t.Helper()
	f := oauthForm(append([]string{"grant_type", "authorization_code", "code", code, "redirect_uri", redirect, "code_verifier", verifier}, kv...)...)
	return h.postForm("/oauth/token", f)
}

// ---- discovery ----

func TestDiscovery(t *testing.T) {
	h := newHarness(t, Options{})
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		a := h.do("GET", path, "", nil)
		expectOK(t, a, path)
		if a.str("issuer") != h.url {
			t.Errorf("%s issuer %q, want %q", path, a.str("issuer"), h.url)
		}
		for k, suffix := range map[string]string{
			"authorization_endpoint": "/authorize", "token_endpoint": "/oauth/token",
			"device_authorization_endpoint": "/oauth/device", "revocation_endpoint": "/oauth/revoke",
			"introspection_endpoint": "/oauth/introspect", "userinfo_endpoint": "/userinfo",
			"jwks_uri": "/.well-known/jwks.json",
		} {
			if a.str(k) != h.url+suffix {
				t.Errorf("%s %s = %q, want %q", path, k, a.str(k), h.url+suffix)
			}
		}
		for k, want := range map[string]string{
			"grant_types_supported":                 "authorization_code refresh_token client_credentials urn:ietf:params:oauth:grant-type:device_code password",
			"code_challenge_methods_supported":      "S256",
			"token_endpoint_auth_methods_supported": "none client_secret_basic client_secret_post",
			"scopes_supported":                      "openid profile email offline_access api:read",
			"response_types_supported":              "code",
			"id_token_signing_alg_values_supported": "HS256",
		} {
			var got []string
			list, _ := a.body[k].([]any)
			for _, v := range list {
				s, _ := v.(string)
				got = append(got, s)
			}
			if strings.Join(got, " ") != want {
				t.Errorf("%s %s = %v, want %s", path, k, got, want)
			}
		}
		if a.body["authorization_response_iss_parameter_supported"] != true {
			t.Errorf("%s: authorization_response_iss_parameter_supported missing", path)
		}
	}
	// Options.Issuer wins over the Host the client used.
	h2 := newHarness(t, Options{Issuer: "https://id.example.test/"})
	if a := h2.do("GET", "/.well-known/openid-configuration", "", nil); a.str("issuer") != "https://id.example.test" || a.str("token_endpoint") != "https://id.example.test/oauth/token" {
		t.Errorf("Options.Issuer: %s", a.raw)
	}
}

// ---- authorization code ----

func TestAuthCodeFlowWithOfflineAccess(t *testing.T) {
	h := newHarness(t, Options{})
	params := authParams(testRedirect)
	code := mustCode(t, h, params)
	a := redeem(h, code, testRedirect, testVerifier)
	expectOK(t, a, "code exchange")
	acc, ref, idt := a.str("access_token"), a.str("refresh_token"), a.str("id_token")
	if acc == "" || ref == "" || idt == "" || a.str("scope") != "openid offline_access api:read" || a.str("token_type") != "Bearer" {
		t.Fatalf("token response: %s", a.raw)
	}
	// The ID token verifies with the server's key and says who, for whom, and the nonce.
	claims := jwt.MapClaims{}
	if _, err := jwt.NewParser(jwt.WithTimeFunc(h.clock.Now), jwt.WithIssuer(h.url), jwt.WithAudience("tokenscope"),
		jwt.WithExpirationRequired()).ParseWithClaims(idt, claims, h.srv.signer.key); err != nil {
		t.Fatalf("id_token: %v", err)
	}
	if claims["sub"] != "demo" || claims["nonce"] != "n-456" || claims["auth_time"] != float64(epoch.Unix()) || claims["iat"] != float64(epoch.Unix()) {
		t.Errorf("id_token claims: %v", claims)
	}
	expectOK(t, h.do("GET", "/api/protected/", "", nil, bearer(acc)...), "resource with code-flow token")
	// Rotation and reuse detection hold for these tokens too.
	r1 := h.postForm("/oauth/token", oauthForm("grant_type", "refresh_token", "refresh_token", ref))
	expectOK(t, r1, "refresh")
	if r1.str("refresh_token") == "" || r1.str("id_token") == "" || r1.str("scope") != "openid offline_access api:read" {
		t.Errorf("refresh response: %s", r1.raw)
	}
	if r2 := h.postForm("/oauth/token", oauthForm("grant_type", "refresh_token", "refresh_token", ref)); r2.str("error") != "invalid_grant" {
		t.Errorf("reused refresh token: %d %s", r2.status, r2.raw)
	}
	expectBearer401(t, h.do("GET", "/api/protected/", "", nil, bearer(r1.str("access_token"))...))
	if st := h.srv.Stats(); st.AuthCodesIssued != 1 || st.AuthCodesRedeemed != 1 || st.ReuseDetected != 1 {
		t.Errorf("stats: %+v", st)
	}
}

func TestAuthCodeWithoutOfflineAccessHasNoRefreshToken(t *testing.T) {
	h := newHarness(t, Options{})
	code := mustCode(t, h, authParams(testRedirect, "scope", "api:read"))
	a := redeem(h, code, testRedirect, testVerifier)
	expectOK(t, a, "code exchange")
	if a.str("access_token") == "" || a.body["refresh_token"] != nil || a.body["id_token"] != nil {
		t.Errorf("without offline_access and openid: want an access token only, got %s", a.raw)
	}
	// Without openid there is no userinfo either.
	if u := h.do("GET", "/userinfo", "", nil, bearer(a.str("access_token"))...); u.status != 403 || !strings.Contains(u.header.Get("WWW-Authenticate"), "insufficient_scope") {
		t.Errorf("userinfo without openid: %d %v %s", u.status, u.header, u.raw)
	}
}

func TestAuthCodeRejections(t *testing.T) {
	h := newHarness(t, Options{})
	cases := []struct {
		name, redirect, verifier string
		kv                       []string
	}{
		{"PKCE mismatch", testRedirect, testVerifier + "x", nil},
		{"no verifier", testRedirect, "", nil},
		{"redirect_uri mismatch", "http://127.0.0.1:8766/callback", testVerifier, nil},
		{"redirect_uri path mismatch", "http://127.0.0.1:8765/other", testVerifier, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code := mustCode(t, h, authParams(testRedirect))
			if a := redeem(h, code, c.redirect, c.verifier, c.kv...); a.status != 400 || a.str("error") != "invalid_grant" {
				t.Fatalf("got %d %s, want invalid_grant", a.status, a.raw)
			}
			// A code is spent by its first presentation, even a wrong one.
			if a := redeem(h, code, testRedirect, testVerifier); a.str("error") != "invalid_grant" {
				t.Errorf("code after a failed redemption: %d %s", a.status, a.raw)
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		code := mustCode(t, h, authParams(testRedirect))
		h.clock.Advance(61 * time.Second)
		if a := redeem(h, code, testRedirect, testVerifier); a.str("error") != "invalid_grant" {
			t.Errorf("expired code: %d %s", a.status, a.raw)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		if a := redeem(h, "nope", testRedirect, testVerifier); a.str("error") != "invalid_grant" {
			t.Errorf("unknown code: %d %s", a.status, a.raw)
		}
	})
	t.Run("confidential client may not", func(t *testing.T) {
		code := mustCode(t, h, authParams(testRedirect))
		f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}, "code_verifier": {testVerifier},
			"client_id": {"tokenscope-cc"}, "client_secret": {"demo-secret"}}
		if a := h.postForm("/oauth/token", f); a.status != 400 || a.str("error") != "unauthorized_client" {
			t.Errorf("cc client with a code: %d %s", a.status, a.raw)
		}
	})
}

func TestAuthCodeReuseRevokesWhatItIssued(t *testing.T) {
	h := newHarness(t, Options{})
	code := mustCode(t, h, authParams(testRedirect))
	a := redeem(h, code, testRedirect, testVerifier)
	expectOK(t, a, "first redemption")
	if b := redeem(h, code, testRedirect, testVerifier); b.status != 400 || b.str("error") != "invalid_grant" {
		t.Fatalf("second redemption: %d %s", b.status, b.raw)
	}
	expectBearer401(t, h.do("GET", "/api/protected/", "", nil, bearer(a.str("access_token"))...))
	if r := h.postForm("/oauth/token", oauthForm("grant_type", "refresh_token", "refresh_token", a.str("refresh_token"))); r.str("error") != "invalid_grant" {
		t.Errorf("refresh after code reuse: %d %s", r.status, r.raw)
	}
}

func TestLoopbackRedirectAnyPort(t *testing.T) {
	h := newHarness(t, Options{})
	for _, redirect := range []string{
		"http://127.0.0.1:8765/callback", "http://127.0.0.1:54321/cb", "http://127.0.0.1/callback",
		"http://localhost:40001/callback", "http://[::1]:40002/callback", "http://127.0.0.1:9/cb?x=1",
	} {
		code := mustCode(t, h, authParams(redirect))
		expectOK(t, redeem(h, code, redirect, testVerifier), redirect)
	}
}

// TestAuthorizeErrors: a request the server cannot trust its redirect for gets a page; every
// other error goes back to the client with error, state and iss.
func TestAuthorizeErrors(t *testing.T) {
	h := newHarness(t, Options{})
	b := newBrowser(t)
	pages := map[string]url.Values{
		"unknown client":         authParams(testRedirect, "client_id", "evil"),
		"confidential client":    authParams(testRedirect, "client_id", "tokenscope-cc"),
		"https redirect":         authParams("https://127.0.0.1:8765/callback"),
		"remote redirect":        authParams("http://evil.example/callback"),
		"loopback lookalike":     authParams("http://127.0.0.1.evil.example/callback"),
		"redirect with fragment": authParams(testRedirect + "#x"),
		"redirect with userinfo": authParams("http://u@127.0.0.1:8765/callback"),
		"no redirect":            authParams(testRedirect, "redirect_uri", ""),
	}
	for name, p := range pages {
		a := b.get(h.url + "/authorize?" + p.Encode())
		if a.status != 400 || a.loc != nil || !strings.Contains(a.body, "Authorization error") {
			t.Errorf("%s: want an error page, got %d %v", name, a.status, a.loc)
		}
	}
	redirects := map[string]struct {
		p    url.Values
		code string
	}{
		"no PKCE":            {authParams(testRedirect, "code_challenge", "", "code_challenge_method", ""), "invalid_request"},
		"plain PKCE":         {authParams(testRedirect, "code_challenge_method", "plain"), "invalid_request"},
		"no method":          {authParams(testRedirect, "code_challenge_method", ""), "invalid_request"},
		"bad challenge":      {authParams(testRedirect, "code_challenge", "short"), "invalid_request"},
		"token response":     {authParams(testRedirect, "response_type", "token"), "unsupported_response_type"},
		"unsupported scope":  {authParams(testRedirect, "scope", "openid admin"), "invalid_scope"},
		"state is preserved": {authParams(testRedirect, "code_challenge", "", "state", "a b&c"), "invalid_request"},
	}
	for name, c := range redirects {
		a := b.get(h.url + "/authorize?" + c.p.Encode())
		if a.status != 302 || a.loc == nil {
			t.Errorf("%s: want a redirect, got %d %s", name, a.status, a.body)
			continue
		}
		q := a.loc.Query()
		if q.Get("error") != c.code || q.Get("state") != c.p.Get("state") || q.Get("iss") != h.url || a.loc.Host != "127.0.0.1:8765" {
			t.Errorf("%s: redirect %s, want error=%s", name, a.loc, c.code)
		}
	}
	// Deny sends access_denied back.
	loc := codeFlow(t, h, authParams(testRedirect), false)
	if q := loc.Query(); q.Get("error") != "access_denied" || q.Get("state") != "st-123" || q.Get("iss") != h.url || q.Get("code") != "" {
		t.Errorf("deny: %s", loc)
	}
}

func TestAuthorizeForms(t *testing.T) {
	h := newHarness(t, Options{})
	b := newBrowser(t)
	login := b.get(h.url + "/authorize?" + authParams(testRedirect).Encode())
	req := login.req(t)
	if !strings.Contains(login.body, `name="username"`) || !strings.Contains(login.body, `name="password"`) || login.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("login form: %v %s", login.header, login.body)
	}
	// A wrong password shows the login form again; approving without logging in does not work.
	again := b.post(h.url+"/authorize", url.Values{"req": {req}, "username": {"demo"}, "password": {"nope"}})
	if !strings.Contains(again.body, "wrong username or password") || again.req(t) != req {
		t.Errorf("wrong password: %s", again.body)
	}
	if a := b.post(h.url+"/authorize", url.Values{"req": {req}, "approve": {"1"}}); a.status != 200 || a.loc != nil || !strings.Contains(a.body, "log in first") {
		t.Errorf("approve before login: %d %v %s", a.status, a.loc, a.body)
	}
	if a := b.post(h.url+"/authorize", url.Values{"req": {"forged"}, "approve": {"1"}}); a.status != 400 || a.loc != nil {
		t.Errorf("unknown req: %d %v", a.status, a.loc)
	}
	final := b.consent(h.url+"/authorize", login, true)
	if final.status != 302 {
		t.Fatalf("approve: %d %s", final.status, final.body)
	}
	// The request is answered once.
	if a := b.post(h.url+"/authorize", url.Values{"req": {req}, "approve": {"1"}}); a.status != 400 || a.loc != nil {
		t.Errorf("approved twice: %d %v", a.status, a.loc)
	}
	if st := h.srv.Stats(); st.LoginsFailed != 1 || st.AuthCodesIssued != 1 {
		t.Errorf("stats: %+v", st)
	}
}

// TestHTMLEscapes: what the pages echo is escaped.
func TestHTMLEscapes(t *testing.T) {
	h := newHarness(t, Options{})
	b := newBrowser(t)
	a := b.get(h.url + "/device?user_code=" + url.QueryEscape(`"><script>alert(1)</script>`))
	if strings.Contains(a.body, "<script>") || !strings.Contains(a.body, "&lt;script&gt;") {
		t.Errorf("device page echoes unescaped: %s", a.body)
	}
	a = b.get(h.url + "/authorize?" + authParams("https://127.0.0.1/<b>x</b>").Encode())
	if a.status != 400 || strings.Contains(a.body, "<b>x</b>") || !strings.Contains(a.body, "&lt;b&gt;x&lt;/b&gt;") {
		t.Errorf("error page echoes unescaped: %s", a.body)
	}
}
