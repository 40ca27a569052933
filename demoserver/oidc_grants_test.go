package demoserver

import (
	"encoding/base64"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// ---- device authorization (RFC 8628) ----

func deviceStart(t *testing.T, h *harness, scope string) answer {
	t.Helper()
	a := h.postForm("/oauth/device", oauthForm("scope", scope))
	expectOK(t, a, "device authorization")
	return a
}

func devicePoll(h *harness, dc string) answer {
	h.t.Helper()
	return h.postForm("/oauth/token", oauthForm("grant_type", "urn:ietf:params:oauth:grant-type:device_code", "device_code", dc))
}

// deviceVerify plays the user: the verification page, the code, login, approve or deny.
func deviceVerify(t *testing.T, h *harness, userCode string, approve bool) shown {
	t.Helper()
	b := newBrowser(t)
	if p := b.get(h.url + "/device"); !strings.Contains(p.body, `name="user_code"`) {
		t.Fatalf("device page has no user_code form: %s", p.body)
	}
	// People type codes sloppily: lower case, no dash.
	login := b.post(h.url+"/device", url.Values{"user_code": {strings.ToLower(strings.ReplaceAll(userCode, "-", ""))}})
	return b.consent(h.url+"/device", login, approve)
}

var userCodeShape = regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`)

func TestDeviceFlowPendingSlowDownApprove(t *testing.T) {
	h := newHarness(t, Options{DeviceInterval: 2 * time.Second})
	a := deviceStart(t, h, "openid offline_access")
	dc, uc := a.str("device_code"), a.str("user_code")
	if dc == "" || !userCodeShape.MatchString(uc) || a.str("verification_uri") != h.url+"/device" ||
		a.str("verification_uri_complete") != h.url+"/device?user_code="+uc || a.num("expires_in") != 600 || a.num("interval") != 2 {
		t.Fatalf("device authorization response: %s", a.raw)
	}
	if p := devicePoll(h, dc); p.str("error") != "authorization_pending" {
		t.Fatalf("first poll: %d %s", p.status, p.raw)
	}
	// Too soon: slow_down, and the interval for this code grows by 5 s (to 7 s).
	h.clock.Advance(time.Second)
	if p := devicePoll(h, dc); p.str("error") != "slow_down" {
		t.Fatalf("early poll: %d %s", p.status, p.raw)
	}
	h.clock.Advance(3 * time.Second)
	if p := devicePoll(h, dc); p.str("error") != "slow_down" {
		t.Fatalf("poll 3 s later, with the interval at 7 s: %d %s", p.status, p.raw)
	}
	h.clock.Advance(13 * time.Second)
	if p := devicePoll(h, dc); p.str("error") != "authorization_pending" {
		t.Fatalf("poll after the grown interval (12 s after two slow_downs): %d %s", p.status, p.raw)
	}
	done := deviceVerify(t, h, uc, true)
	if done.status != 200 || !strings.Contains(done.body, "Device approved") {
		t.Fatalf("approve page: %d %s", done.status, done.body)
	}
	h.clock.Advance(13 * time.Second)
	tok := devicePoll(h, dc)
	expectOK(t, tok, "poll after approval")
	if tok.str("access_token") == "" || tok.str("refresh_token") == "" || tok.str("id_token") == "" {
		t.Fatalf("device tokens: %s", tok.raw)
	}
	expectOK(t, h.do("GET", "/api/protected/", "", nil, bearer(tok.str("access_token"))...), "resource with device token")
	h.clock.Advance(13 * time.Second)
	if p := devicePoll(h, dc); p.str("error") != "invalid_grant" {
		t.Errorf("second redemption of a device code: %d %s", p.status, p.raw)
	}
	if st := h.srv.Stats(); st.DevicePolls != 6 || st.DeviceSlowDown != 2 || st.DeviceCodesIssued != 1 {
		t.Errorf("stats: %+v", st)
	}
	if doc := h.do("GET", "/__demo/stats", "", nil); doc.num("stats", "device_slow_down") != 2 || doc.num("stats", "device_polls") != 6 {
		t.Errorf("/__demo/stats: %s", doc.raw)
	}
}

func TestDeviceFlowWithoutOfflineAccess(t *testing.T) {
	h := newHarness(t, Options{})
	a := deviceStart(t, h, "api:read")
	deviceVerify(t, h, a.str("user_code"), true)
	tok := devicePoll(h, a.str("device_code"))
	expectOK(t, tok, "device poll")
	if tok.body["refresh_token"] != nil || tok.body["id_token"] != nil {
		t.Errorf("without offline_access/openid: %s", tok.raw)
	}
}

func TestDeviceFlowDeniedExpiredAndErrors(t *testing.T) {
	h := newHarness(t, Options{})
	denied := deviceStart(t, h, "openid")
	if done := deviceVerify(t, h, denied.str("user_code"), false); !strings.Contains(done.body, "Access denied") {
		t.Errorf("deny page: %s", done.body)
	}
	if p := devicePoll(h, denied.str("device_code")); p.status != 400 || p.str("error") != "access_denied" {
		t.Errorf("denied: %d %s", p.status, p.raw)
	}
	expired := deviceStart(t, h, "openid")
	h.clock.Advance(601 * time.Second)
	if p := devicePoll(h, expired.str("device_code")); p.str("error") != "expired_token" {
		t.Errorf("expired: %d %s", p.status, p.raw)
	}
	// An expired code is no longer accepted on the verification page either.
	b := newBrowser(t)
	if p := b.get(h.url + "/device?user_code=" + expired.str("user_code")); !strings.Contains(p.body, "unknown, used or expired") {
		t.Errorf("expired user code on the page: %s", p.body)
	}
	if p := devicePoll(h, "nope"); p.str("error") != "invalid_grant" {
		t.Errorf("unknown device code: %d %s", p.status, p.raw)
	}
	if p := h.postForm("/oauth/token", oauthForm("grant_type", grantDeviceCode)); p.str("error") != "invalid_request" {
		t.Errorf("no device_code: %d %s", p.status, p.raw)
	}
	if p := h.postForm("/oauth/device", oauthForm("scope", "admin")); p.str("error") != "invalid_scope" {
		t.Errorf("bad scope: %d %s", p.status, p.raw)
	}
	cc := url.Values{"client_id": {"tokenscope-cc"}, "client_secret": {"demo-secret"}}
	if p := h.postForm("/oauth/device", cc); p.status != 400 || p.str("error") != "unauthorized_client" {
		t.Errorf("cc client asking for a device code: %d %s", p.status, p.raw)
	}
	// The code expires while the user is on the forms: no false "approved".
	late := deviceStart(t, h, "openid")
	lb := newBrowser(t)
	h.clock.Advance(590 * time.Second)
	login := lb.get(late.str("verification_uri_complete"))
	h.clock.Advance(11 * time.Second)
	if p := lb.consent(h.url+"/device", login, true); p.status != 400 || strings.Contains(p.body, "Device approved") {
		t.Errorf("approving an expired device code: %d %s", p.status, p.body)
	}
	// verification_uri_complete skips typing the code.
	fresh := deviceStart(t, h, "openid")
	if p := b.get(fresh.str("verification_uri_complete")); !strings.Contains(p.body, `name="password"`) {
		t.Errorf("verification_uri_complete: %s", p.body)
	}
}

// ---- client credentials and client authentication ----

func ccBasic(id, secret string) []string {
	return []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))}
}

func TestClientCredentials(t *testing.T) {
	h := newHarness(t, Options{})
	grant := url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}
	basic := h.postForm("/oauth/token", grant, ccBasic("tokenscope-cc", "demo-secret")...)
	expectOK(t, basic, "client_secret_basic")
	post := h.postForm("/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"tokenscope-cc"}, "client_secret": {"demo-secret"}})
	expectOK(t, post, "client_secret_post")
	for _, a := range []answer{basic, post} {
		if a.str("access_token") == "" || a.body["refresh_token"] != nil || a.body["id_token"] != nil {
			t.Errorf("client_credentials: want an access token only: %s", a.raw)
		}
	}
	if c := decodeClaims(t, basic.str("access_token")); c["sub"] != "tokenscope-cc" || c["client_id"] != "tokenscope-cc" || c["scope"] != "api:read" {
		t.Errorf("cc access token claims: %v", c)
	}
	expectOK(t, h.do("GET", "/api/protected/", "", nil, bearer(post.str("access_token"))...), "resource with cc token")
	if st := h.srv.Stats(); st.ClientCredentialsTokens != 2 || st.Logins != 0 {
		t.Errorf("stats: %+v", st)
	}

	wrong := h.postForm("/oauth/token", grant, ccBasic("tokenscope-cc", "nope")...)
	if wrong.status != 401 || wrong.str("error") != "invalid_client" || !strings.HasPrefix(wrong.header.Get("WWW-Authenticate"), "Basic ") {
		t.Errorf("wrong secret (basic): %d %v %s", wrong.status, wrong.header, wrong.raw)
	}
	wrongPost := h.postForm("/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"tokenscope-cc"}, "client_secret": {"nope"}})
	if wrongPost.status != 401 || wrongPost.str("error") != "invalid_client" || wrongPost.header.Get("WWW-Authenticate") != "" {
		t.Errorf("wrong secret (post): %d %v %s", wrongPost.status, wrongPost.header, wrongPost.raw)
	}
	if a := h.postForm("/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"tokenscope-cc"}}); a.status != 401 || a.str("error") != "invalid_client" {
		t.Errorf("no secret: %d %s", a.status, a.raw)
	}
	if a := h.postForm("/oauth/token", oauthForm("grant_type", "client_credentials")); a.status != 400 || a.str("error") != "unauthorized_client" {
		t.Errorf("public client: %d %s", a.status, a.raw)
	}
	if a := h.postForm("/oauth/token", url.Values{"grant_type": {"password"}, "username": {"demo"}, "password": {"demo"}}, ccBasic("tokenscope-cc", "demo-secret")...); a.str("error") != "unauthorized_client" {
		t.Errorf("cc client with password grant: %d %s", a.status, a.raw)
	}
	if a := h.postForm("/oauth/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"openid"}}, ccBasic("tokenscope-cc", "demo-secret")...); a.str("error") != "invalid_scope" {
		t.Errorf("cc with openid: %d %s", a.status, a.raw)
	}
}

// ---- revocation, introspection, userinfo ----

// codeTokens runs the code flow and returns the token response.
func codeTokens(t *testing.T, h *harness, scope string) answer {
	t.Helper()
	a := redeem(h, mustCode(t, h, authParams(testRedirect, "scope", scope)), testRedirect, testVerifier)
	expectOK(t, a, "code exchange")
	return a
}

func TestRevokeRefreshTokenKillsFamily(t *testing.T) {
	h := newHarness(t, Options{})
	a := codeTokens(t, h, "openid offline_access")
	if r := h.postForm("/oauth/revoke", oauthForm("token", a.str("refresh_token"), "token_type_hint", "refresh_token")); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}
	if r := h.postForm("/oauth/token", oauthForm("grant_type", "refresh_token", "refresh_token", a.str("refresh_token"))); r.status != 400 || r.str("error") != "invalid_grant" {
		t.Errorf("refresh after revoke: %d %s", r.status, r.raw)
	}
	expectBearer401(t, h.do("GET", "/api/protected/", "", nil, bearer(a.str("access_token"))...))
	// Unknown and already revoked tokens: 200 all the same.
	for _, tok := range []string{"nonsense", a.str("refresh_token"), a.str("access_token")} {
		if r := h.postForm("/oauth/revoke", oauthForm("token", tok)); r.status != 200 {
			t.Errorf("revoke %q: %d %s", tok, r.status, r.raw)
		}
	}
	if r := h.postForm("/oauth/revoke", oauthForm()); r.str("error") != "invalid_request" {
		t.Errorf("revoke without token: %d %s", r.status, r.raw)
	}
	if r := h.postForm("/oauth/revoke", url.Values{"token": {"x"}, "client_id": {"evil"}}); r.status != 401 {
		t.Errorf("revoke by unknown client: %d %s", r.status, r.raw)
	}
}

func TestRevokeAccessTokenAndForeignClient(t *testing.T) {
	h := newHarness(t, Options{})
	a := codeTokens(t, h, "openid offline_access")
	// Another client cannot revoke this client's token: 200, and nothing happens.
	cc := url.Values{"token": {a.str("refresh_token")}, "client_id": {"tokenscope-cc"}, "client_secret": {"demo-secret"}}
	if r := h.postForm("/oauth/revoke", cc); r.status != 200 {
		t.Fatalf("foreign revoke: %d %s", r.status, r.raw)
	}
	expectOK(t, h.do("GET", "/api/protected/", "", nil, bearer(a.str("access_token"))...), "after a foreign revoke")
	if r := h.postForm("/oauth/revoke", oauthForm("token", a.str("access_token"))); r.status != 200 {
		t.Fatalf("revoke access: %d %s", r.status, r.raw)
	}
	expectBearer401(t, h.do("GET", "/api/protected/", "", nil, bearer(a.str("access_token"))...))
	// The refresh token survives an access token's revocation.
	expectOK(t, h.postForm("/oauth/token", oauthForm("grant_type", "refresh_token", "refresh_token", a.str("refresh_token"))), "refresh")
	if st := h.srv.Stats(); st.Revocations != 1 {
		t.Errorf("stats: %+v", st)
	}
}

func TestIntrospection(t *testing.T) {
	h := newHarness(t, Options{})
	a := codeTokens(t, h, "openid offline_access api:read")
	cc := ccBasic("tokenscope-cc", "demo-secret")
	in := h.postForm("/oauth/introspect", url.Values{"token": {a.str("access_token")}}, cc...)
	expectOK(t, in, "introspect access")
	if in.body["active"] != true || in.str("scope") != "openid offline_access api:read" || in.str("client_id") != "tokenscope" ||
		in.str("sub") != "demo" || in.str("token_type") != "Bearer" || in.num("iat") != float64(epoch.Unix()) ||
		in.num("exp") != float64(epoch.Add(DefaultAccessTTL).Unix()) || in.str("iss") != h.url {
		t.Errorf("introspect access: %s", in.raw)
	}
	ref := h.postForm("/oauth/introspect", oauthForm("token", a.str("refresh_token")))
	if ref.body["active"] != true || ref.str("token_type") != "refresh_token" || ref.num("exp") != float64(epoch.Add(DefaultRefreshTTL).Unix()) {
		t.Errorf("introspect refresh: %s", ref.raw)
	}
	h.clock.Advance(DefaultAccessTTL)
	for name, tok := range map[string]string{"expired access": a.str("access_token"), "unknown": "nope", "id token": a.str("id_token")} {
		if r := h.postForm("/oauth/introspect", url.Values{"token": {tok}}, cc...); r.status != 200 || r.raw != "{\"active\":false}\n" {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
		}
	}
	if r := h.postForm("/oauth/introspect", url.Values{"token": {a.str("access_token")}}, ccBasic("tokenscope-cc", "x")...); r.status != 401 || r.str("error") != "invalid_client" {
		t.Errorf("unauthenticated introspection: %d %s", r.status, r.raw)
	}
	if r := h.postForm("/oauth/introspect", url.Values{"token": {"x"}}); r.status != 401 {
		t.Errorf("introspection without client: %d %s", r.status, r.raw)
	}
}

func TestUserinfo(t *testing.T) {
	h := newHarness(t, Options{})
	a := codeTokens(t, h, "openid profile email")
	u := h.do("GET", "/userinfo", "", nil, bearer(a.str("access_token"))...)
	expectOK(t, u, "userinfo")
	if u.str("sub") != "demo" || u.str("preferred_username") != "demo" || u.str("email") != "demo@example.test" || u.str("name") == "" {
		t.Errorf("userinfo: %s", u.raw)
	}
	if r := h.do("GET", "/userinfo", "", nil); r.status != 401 || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer ") {
		t.Errorf("no token: %d %v", r.status, r.header)
	}
	h.clock.Advance(DefaultAccessTTL)
	if r := h.do("GET", "/userinfo", "", nil, bearer(a.str("access_token"))...); r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), "invalid_token") {
		t.Errorf("expired token: %d %v", r.status, r.header)
	}
	// A password-grant token has no openid scope.
	p := h.postForm("/oauth/token", oauthForm("grant_type", "password", "username", "demo", "password", "demo"))
	if r := h.do("GET", "/userinfo", "", nil, bearer(p.str("access_token"))...); r.status != 403 {
		t.Errorf("password token at userinfo: %d %s", r.status, r.raw)
	}
}

func TestOIDCWithOpaqueTokens(t *testing.T) {
	h := newHarness(t, Options{OpaqueOAuth: true})
	a := codeTokens(t, h, "openid offline_access")
	if strings.Count(a.str("access_token"), ".") == 2 {
		t.Fatalf("want opaque tokens: %s", a.raw)
	}
	expectOK(t, h.do("GET", "/userinfo", "", nil, bearer(a.str("access_token"))...), "userinfo with an opaque token")
	if in := h.postForm("/oauth/introspect", oauthForm("token", a.str("access_token"))); in.body["active"] != true || in.str("sub") != "demo" {
		t.Errorf("introspect opaque: %s", in.raw)
	}
	r := h.postForm("/oauth/token", oauthForm("grant_type", "refresh_token", "refresh_token", a.str("refresh_token")))
	expectOK(t, r, "refresh opaque")
	if r.str("id_token") == "" {
		t.Errorf("refresh with openid: want an id_token: %s", r.raw)
	}
}

// TestDevicePagesShowTheCode: the login and approve pages of a device name its user code, so that
// the user can check it against the code their device shows (RFC 8628 §5.4), whether they typed
// it or followed verification_uri_complete, which skips the form where it would be typed.
func TestDevicePagesShowTheCode(t *testing.T) {
	h := newHarness(t, Options{})
	a := deviceStart(t, h, "openid offline_access")
	uc := a.str("user_code")
	shows := regexp.MustCompile(`the code <b class="user-code">` + uc + `</b>: check that your device shows this code`)
	b := newBrowser(t)
	login := b.get(a.str("verification_uri_complete"))
	if !strings.Contains(login.body, `name="password"`) || !shows.MatchString(login.body) {
		t.Fatalf("login page of verification_uri_complete does not show %s:\n%s", uc, login.body)
	}
	typed := newBrowser(t).post(h.url+"/device", url.Values{"user_code": {strings.ToLower(uc)}})
	if !shows.MatchString(typed.body) {
		t.Errorf("login page after typing the code does not show %s:\n%s", uc, typed.body)
	}
	approve := b.post(h.url+"/device", url.Values{"req": {login.req(t)}, "username": {"demo"}, "password": {"demo"}, "login": {"1"}})
	if !strings.Contains(approve.body, `name="approve"`) || !shows.MatchString(approve.body) {
		t.Errorf("approve page does not show %s:\n%s", uc, approve.body)
	}
	if p := b.get(h.url + "/device"); strings.Contains(p.body, "user-code") {
		t.Errorf("the empty code form names a device:\n%s", p.body)
	}
}
