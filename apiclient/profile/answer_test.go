package profile

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// loginAnswers are each built-in profile's login answer as its service sends it: access "A",
// refresh "R" (Firebase's login names them idToken and refreshToken, unlike its refresh).
var loginAnswers = map[string]wire{
	"simplejwt":     {200, "application/json", `{"access":"A","refresh":"R"}`, ""},
	"bearer-json":   {200, "application/json", `{"accessToken":"A","refreshToken":"R","user":{"id":1}}`, ""},
	"element-admin": {200, "application/json", `{"code":20000,"data":{"token":"A","refreshToken":"R"}}`, ""},
	"oauth2":        {200, "application/json", `{"access_token":"A","token_type":"Bearer","expires_in":"60","refresh_token":"R"}`, ""},
	"cookie":        {200, "application/json", `{"accessToken":"A"}`, "refresh_token=R; Path=/auth; HttpOnly"},
	"firebase": {200, "application/json", `{"kind":"identitytoolkit#VerifyPasswordResponse","localId":"u1","email":"a@b.c",
		"idToken":"A","registered":true,"refreshToken":"R","expiresIn":"3600"}`, ""},
	"supabase": {200, "application/json", `{"access_token":"A","token_type":"bearer","expires_in":3600,"refresh_token":"R"}`, ""},
	"cognito": {200, "application/x-amz-json-1.1",
		`{"AuthenticationResult":{"AccessToken":"A","ExpiresIn":3600,"IdToken":"I","RefreshToken":"R","TokenType":"Bearer"},"ChallengeParameters":{}}`, ""},
}

// TestParseAnswerLoginEveryProfile: every profile reads its service's login answer at the
// login's token paths; a login answer without the refresh token fails, naming the field and
// the answer's field names, never their values.
func TestParseAnswerLoginEveryProfile(t *testing.T) {
	for _, name := range AllNames() {
		p, _ := Builtin(name)
		p.WithDefaults()
		w, ok := loginAnswers[name]
		if !ok {
			t.Fatalf("%s: no login answer here", name)
		}
		r := w.reply()
		a, err := p.ParseAnswer(r.Header, r.Body, recv, true)
		if err != nil || a.Access.Raw != "A" || a.Refresh.Raw != "R" || !a.Rotated {
			t.Errorf("%s: %+v %v", name, a, err)
			continue
		}
		// The same answer without its refresh token is no login.
		var body []byte
		h := r.Header.Clone()
		if p.CookieMode() {
			h.Del("Set-Cookie")
			body = r.Body
		} else {
			body = []byte(strings.Replace(string(r.Body), `"R"`, `null`, 1))
		}
		_, err = p.ParseAnswer(h, body, recv, true)
		if err == nil {
			t.Errorf("%s: a login answer without a refresh token was accepted", name)
			continue
		}
		if strings.Contains(err.Error(), `"A"`) {
			t.Errorf("%s: the error quotes the access token: %v", name, err)
		}
	}
}

// TestParseAnswerFields: expiry from expires_in in every form services send it, null as
// absent, token_type, scope and id_token read, and clear errors for what cannot be a token.
func TestParseAnswerFields(t *testing.T) {
	p, _ := Builtin("oauth2")
	parse := func(body string, login bool) (Answer, error) {
		return p.ParseAnswer(http.Header{"Content-Type": {"application/json"}}, []byte(body), recv, login)
	}
	for body, want := range map[string]time.Duration{
		`{"access_token":"A","expires_in":3600}`:     time.Hour,
		`{"access_token":"A","expires_in":"3600"}`:   time.Hour,
		`{"access_token":"A","expires_in":" 3600 "}`: time.Hour,
		`{"access_token":"A","expires_in":299.5}`:    299500 * time.Millisecond,
		`{"access_token":"A","expires_in":null}`:     0,
		`{"access_token":"A"}`:                       0,
	} {
		a, err := parse(body, false)
		var got time.Duration
		if !a.Access.ExpiresAt.IsZero() {
			got = a.Access.ExpiresAt.Sub(recv)
		}
		if err != nil || got != want {
			t.Errorf("%s: expires in %v (%v), want %v", body, got, err, want)
		}
	}
	a, err := parse(`{"access_token":"A","token_type":"DPoP","scope":"openid api","id_token":"I","refresh_token":null}`, false)
	if err != nil || a.TokenType != "DPoP" || a.Scope != "openid api" || a.IDToken.Raw != "I" || !a.Refresh.Empty() || a.Rotated {
		t.Errorf("fields: %+v %v", a, err)
	}
	for body, want := range map[string]string{
		`{"access_token":"A","expires_in":-1}`:                      `"expires_in" is not a sensible number of seconds`,
		`{"access_token":"A","expires_in":"soon"}`:                  `"expires_in" is not a sensible number of seconds`,
		`{"access_token":"A","expires_in":1e12}`:                    `"expires_in" is not a sensible number of seconds`,
		`{"access_token":""}`:                                       `"access_token" is empty`,
		`{"access_token":{"raw":"A"}}`:                              `"access_token" is a object, not a string`,
		`{"token":"A","refresh":"R"}`:                               `answer has no "access_token" field (its fields: "refresh", "token")`,
		`["A"]`:                                                     `the answer is a JSON array`,
		`{"access_token":"A","refresh_token":7}`:                    `"refresh_token" is a number, not a string`,
		`{"access_token":"A","refresh_token":""}`:                   `"refresh_token" is empty`,
		`{"access_token":"A","refresh_token":"R"} trailing garbage`: ``, // a JSON value, then whatever: read as the first value
	} {
		_, err := parse(body, false)
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", body, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: error %v, want %q", body, err, want)
		}
	}
	if _, err := parse(`{"access_token":"A"}`, true); err == nil || !strings.Contains(err.Error(), `no "refresh_token" field`) {
		t.Errorf("login without a refresh token: %v", err)
	}
	if _, err := p.ParseAnswer(http.Header{"Content-Type": {"text/html"}}, []byte(`<html>A</html>`), recv, false); err == nil ||
		err.Error() != "answer is text/html (14 bytes), not JSON" {
		t.Errorf("HTML: %v", err)
	}
}

// TestAnswerKeepsExpiresIn: the answer says what expires_in said (audit's lifetimes check reads
// it there rather than parsing the body again); zero when absent or null.
func TestAnswerKeepsExpiresIn(t *testing.T) {
	p, _ := Builtin("oauth2")
	h := http.Header{"Content-Type": {"application/json"}}
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for body, want := range map[string]time.Duration{
		`{"access_token":"a1","refresh_token":"r1","expires_in":300}`:  300 * time.Second,
		`{"access_token":"a1","refresh_token":"r1","expires_in":"90"}`: 90 * time.Second,
		`{"access_token":"a1","refresh_token":"r1","expires_in":null}`: 0,
		`{"access_token":"a1","refresh_token":"r1"}`:                   0,
	} {
		a, err := p.ParseAnswer(h, []byte(body), now, true)
		if err != nil || a.ExpiresIn != want {
			t.Errorf("%s: ExpiresIn %v, %v; want %v", body, a.ExpiresIn, err, want)
		}
	}
}
