package profile

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// observe (and anything else that watches traffic) reads the cookie convention as the engine
// does: the presented refresh token from the Cookie header, the issued one from Set-Cookie.
func TestCookieRecogniseAndParseAnswer(t *testing.T) {
	p, _ := Builtin("cookie")
	p.WithDefaults()
	h := http.Header{"Cookie": {"csrf_token=c1; refresh_token=r1"}, "X-Csrf-Token": {"c1"}}
	if kind, tok := p.RecogniseCall("POST", "/auth/refresh", h, nil); kind != CallRefresh || tok != "r1" {
		t.Errorf("refresh call: %v %q", kind, tok)
	}
	if kind, _ := p.RecogniseCall("POST", "/auth/login", http.Header{"Content-Type": {"application/json"}}, []byte(`{}`)); kind != CallLogin {
		t.Errorf("login call: %v", kind)
	}
	ans := http.Header{"Content-Type": {"application/json"}, "Set-Cookie": {"refresh_token=r2; Path=/auth; HttpOnly", "csrf_token=c2; Path=/"}}
	a, err := p.ParseAnswer(ans, []byte(`{"accessToken":"a2"}`), time.Now(), true)
	if err != nil || a.Access.Raw != "a2" || a.Refresh.Raw != "r2" || !a.Rotated {
		t.Errorf("login answer: %+v %v", a, err)
	}
	if a, err := p.ParseAnswer(http.Header{"Content-Type": {"application/json"}}, []byte(`{"accessToken":"a3"}`), time.Now(), false); err != nil || a.Refresh.Raw != "" || a.Rotated {
		t.Errorf("refresh answer without a cookie keeps the token: %+v %v", a, err)
	}
	if _, err := p.ParseAnswer(http.Header{"Content-Type": {"application/json"}}, []byte(`{"accessToken":"a3"}`), time.Now(), true); err == nil {
		t.Error("a login without the cookie was accepted")
	}
}

// Profile files describe a cookie API; mistakes are named.
func TestCookieProfileValidation(t *testing.T) {
	def, err := Parse("d.toml", []byte("base = \"simplejwt\"\n[refresh]\nsend = \"cookie\"\n[tokens]\nrefresh = \"\"\n[cookie]\nrefresh = \"rt\"\ncsrf_cookie = \"c\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if def.Cookie.CSRFHeader != "X-CSRF-Token" || def.CookiePath() != "/api/token/refresh/" {
		t.Errorf("defaults %+v", def.Cookie)
	}
	for _, tc := range []struct{ data, want string }{
		{"base = \"cookie\"\n[cookie]\nrefresh = \"\"\n", "cookie.refresh"},
		{"base = \"cookie\"\n[cookie]\nrefresh = \"a b\"\n", "cookie.refresh"},
		{"base = \"cookie\"\n[tokens]\nrefresh = \"refresh\"\n", "tokens.refresh must be empty"},
		{"base = \"cookie\"\n[cookie]\ncsrf_cookie = \"\"\n", "csrf_header needs"},
		{"base = \"cookie\"\n[cookie]\ncsrf_cookie = \"refresh_token\"\n", "must differ"},
		{"base = \"cookie\"\n[cookie]\npath = \"auth\"\n", "cookie.path"},
		{"base = \"cookie\"\n[login]\nsend = \"cookie\"\n", "login.send"},
		{"base = \"simplejwt\"\n[cookie]\nrefresh = \"rt\"\n", "refresh.send is not"},
		{"base = \"cookie\"\n[cookie]\nbogus = 1\n", "unknown keys"},
	} {
		if _, err := Parse("x.toml", []byte(tc.data)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v, want %q", tc.data, err, tc.want)
		}
	}
}
