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

// TestEndpointAtWholeURL: an endpoint given as a whole URL (a hosted provider's token endpoint)
// is recognised in a whole URL by origin, as hostcheck.Origin has it, and path: the host in any
// letter case and the default port written out are the same place; another scheme, port or host
// is not. A path endpoint matches a path, as before.
func TestEndpointAtWholeURL(t *testing.T) {
	e := Endpoint{Method: "POST", Path: "https://idp.example/oauth2/token"}
	for _, same := range []string{"https://idp.example/oauth2/token", "https://IDP.example:443/oauth2/token/", "HTTPS://idp.example./oauth2/token"} {
		if !e.At("POST", same) {
			t.Errorf("%s is the endpoint", same)
		}
	}
	for _, other := range []string{"http://idp.example/oauth2/token", "https://idp.example:8443/oauth2/token", "https://evil.example/oauth2/token", "https://idp.example/oauth2/other", "/oauth2/token"} {
		if e.At("POST", other) {
			t.Errorf("%s is not the endpoint", other)
		}
	}
	if e.At("GET", "https://idp.example/oauth2/token") {
		t.Error("another method is not the endpoint")
	}
	if p := (Endpoint{Method: "POST", Path: "/api/token/refresh/"}); !p.At("post", "/api/token/refresh") || p.At("POST", "https://api.example/api/token/refresh/") {
		t.Error("a path endpoint matches the path, and not a whole URL")
	}
}
