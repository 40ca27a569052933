package profile

import (
	"net/http"
	"testing"
)

func TestRecogniseCall(t *testing.T) {
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	jsonH := http.Header{"Content-Type": {"application/json"}}
	cases := []struct {
		profile, method, path string
		h                     http.Header
		body                  string
		kind                  CallKind
		token                 string
	}{
		{"simplejwt", "POST", "/api/token/refresh/", jsonH, `{"refresh":"r1"}`, CallRefresh, "r1"},
		{"simplejwt", "post", "/api/token/refresh", jsonH, `{"refresh":"r1"}`, CallRefresh, "r1"},
		{"simplejwt", "POST", "/api/token/refresh/", jsonH, `{"refresh":null}`, CallRefresh, ""},
		{"simplejwt", "POST", "/api/token/", jsonH, `{"username":"u","password":"p"}`, CallLogin, ""},
		{"simplejwt", "GET", "/api/token/refresh/", nil, "", CallOther, ""},
		{"simplejwt", "OPTIONS", "/api/token/", nil, "", CallOther, ""},
		{"oauth2", "POST", "/oauth/token", form, "grant_type=password&username=u&password=p", CallLogin, ""},
		{"oauth2", "POST", "/oauth/token", form, "grant_type=refresh_token&refresh_token=r2", CallRefresh, "r2"},
		{"oauth2", "POST", "/oauth/token", nil, "grant_type=refresh_token&refresh_token=r3", CallRefresh, "r3"},
		{"oauth2", "POST", "/oauth/token", form, "grant_type=authorization_code&code=c&code_verifier=v", CallLogin, ""},
		{"oauth2", "POST", "/oauth/token", form, "grant_type=refresh_token", CallRefresh, ""},
		{"element-admin", "POST", "/sys/user/refreshtoken", http.Header{"X-Token": {"r4"}}, "", CallRefresh, "r4"},
		{"bearer-json", "POST", "/refresh-token", jsonH, `{"refreshToken":"r5"}`, CallRefresh, "r5"},
		{"bearer-json", "POST", "/login", jsonH, `not json`, CallLogin, ""},
	}
	for _, c := range cases {
		p, _ := Builtin(c.profile)
		kind, tok := p.RecogniseCall(c.method, c.path, c.h, []byte(c.body))
		if kind != c.kind || tok != c.token {
			t.Errorf("%s %s %s %q: %v %q, want %v %q", c.profile, c.method, c.path, c.body, kind, tok, c.kind, c.token)
		}
	}
}

func TestProfileAccessToken(t *testing.T) {
	sj, _ := Builtin("simplejwt")
	ea, _ := Builtin("element-admin")
	for _, c := range []struct {
		p    Profile
		h    http.Header
		want string
	}{
		{sj, http.Header{"Authorization": {"Bearer abc"}}, "abc"},
		{sj, http.Header{"Authorization": {"bearer  abc "}}, "abc"},
		{sj, http.Header{"Authorization": {"Bearer"}}, ""},
		{sj, http.Header{}, ""},
		{ea, http.Header{"X-Token": {"xyz"}}, "xyz"},
	} {
		if got := c.p.AccessToken(c.h); got != c.want {
			t.Errorf("%v: %q, want %q", c.h, got, c.want)
		}
	}
}
