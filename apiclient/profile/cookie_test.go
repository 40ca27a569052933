package profile

import (
	"net/http"
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
