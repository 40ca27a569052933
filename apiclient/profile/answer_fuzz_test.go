package profile

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// fuzzProfiles are every built-in profile (a login answer is read at the login's own paths:
// Firebase's idToken, expiresIn) and a custom profile with nested paths, as a profile file
// could set them.
var fuzzProfiles = func() []Profile {
	var ps []Profile
	for _, n := range AllNames() {
		p, _ := Builtin(n)
		ps = append(ps, p)
	}
	custom, _ := Builtin("element-admin")
	custom.Tokens = TokenPaths{Access: "result.auth.accessToken", Refresh: "result.auth.refresh", ExpiresIn: "result.meta.ttl"}
	custom.AccessExpired = Matcher{Status: []int{200, 401}, Field: "result.code", Values: []string{"50014"}}
	return append(ps, custom)
}()

// FuzzParseTokenAnswer feeds login and refresh answers from the network to every profile's
// answer parser and matchers: no panic, and whatever parses is a usable pair.
func FuzzParseTokenAnswer(f *testing.F) {
	seeds := []struct {
		ct, body string
	}{
		{"application/json", `{"access":"a.b.c","refresh":"r"}`},
		{"application/json", `{"accessToken":"x","refreshToken":"y"}`},
		{"application/json; charset=utf-8", `{"code":20000,"data":{"token":"t","refreshToken":"r"}}`},
		{"application/json", `{"access_token":"o","token_type":"Bearer","expires_in":30,"refresh_token":"r"}`},
		{"application/json", `{"access_token":"o","expires_in":"1e308"}`},
		{"application/json", `{"id_token":"i","refresh_token":"r","expires_in":"3600","user_id":"u"}`},
		{"application/json", `{"idToken":"i","refreshToken":"r","expiresIn":"36 00"}`},
		{"application/x-amz-json-1.1", `{"AuthenticationResult":{"AccessToken":"a","ExpiresIn":3600,"RefreshToken":"r"}}`},
		{"application/json", `{"error":{"code":400,"message":"TOKEN_EXPIRED"}}`},
		{"application/json", `{"result":{"auth":{"accessToken":"a"},"meta":{"ttl":-1}}}`},
		{"text/html", `<html>502 Bad Gateway</html>`},
		{"", ``},
		{"application/json", `{"access":{"nested":true}}`},
		{"application/json", `[1,2,3]`},
		{"application/json", `{"access":"eyJhbGciOiJub25lIn0.eyJleHAiOiJzb29uIn0.","refresh":"\u001b]0;x\u0007"}`},
	}
	for i, s := range seeds {
		f.Add(uint8(i), s.ct, []byte(s.body), i%2 == 0)
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, which uint8, ct string, body []byte, login bool) {
		p := fuzzProfiles[int(which)%len(fuzzProfiles)]
		got, err := p.ParseAnswer(http.Header{"Content-Type": {ct}}, body, now, login)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\x1b\x07") {
				t.Fatalf("error carries raw control bytes: %q", err)
			}
		} else {
			if got.Access.Raw == "" {
				t.Fatal("parsed without an access token")
			}
			if login && got.Refresh.Raw == "" {
				t.Fatal("a login answer parsed without a refresh token")
			}
			// Everything the TUI does with a token must work on whatever was parsed.
			for _, tok := range []struct{ r, m, f string }{
				{got.Access.Raw, got.Access.Masked(), got.Access.Fingerprint()},
				{got.Refresh.Raw, got.Refresh.Masked(), got.Refresh.Fingerprint()},
			} {
				if tok.r != "" && len(tok.r) > 12 && strings.Contains(tok.m, tok.r) {
					t.Fatal("masked form shows the whole token")
				}
			}
			_ = got.Access.Phase(now, 5*time.Second)
			_ = got.Access.FractionLeft(now)
			_ = got.Access.Lifetime()
		}
		h := http.Header{"Www-Authenticate": {string(body)}}
		for _, m := range []Matcher{p.AccessExpired, p.RefreshRejected} {
			m.Match(401, h, body)
			m.Match(200, h, body)
		}
	})
}
