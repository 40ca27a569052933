package profile

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// A refresh cookie is usable only when the jar would send it back to the refresh endpoint.
func TestCookieSentTo(t *testing.T) {
	u, _ := url.Parse("http://api.test/auth/refresh")
	for _, c := range []struct {
		ck   http.Cookie
		want bool
	}{
		{http.Cookie{Name: "rt", Value: "x", Path: "/auth"}, true},
		{http.Cookie{Name: "rt", Value: "x"}, true}, // default path /auth
		{http.Cookie{Name: "rt", Value: "x", Path: "/au"}, false},
		{http.Cookie{Name: "rt", Value: "x", Path: "/api"}, false},
		{http.Cookie{Name: "rt", Value: "x", Path: "/", Domain: ".API.test"}, true},
		{http.Cookie{Name: "rt", Value: "x", Path: "/", Domain: "other.test"}, false},
		{http.Cookie{Name: "rt", Value: "x", Path: "/", Secure: true}, false}, // http
		{http.Cookie{Name: "rt", Value: "x", Path: "/", MaxAge: -1}, false},   // a deletion
		{http.Cookie{Name: "rt", Path: "/"}, false},
	} {
		if got := CookieSentTo(&c.ck, u); got != c.want {
			t.Errorf("%+v: sent %t, want %t", c.ck, got, c.want)
		}
	}
	if DomainMatch("127.0.0.1", "0.0.1") || !DomainMatch("127.0.0.1", "127.0.0.1") || !DomainMatch("a.api.test", "api.test") {
		t.Error("DomainMatch: an IP address matches only itself; a subdomain matches its parent")
	}
}

func TestCookieInfoOf(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ck := &http.Cookie{Name: "rt", Value: "secret", Path: "/auth", HttpOnly: true, MaxAge: 60,
		Expires: now.Add(time.Hour), SameSite: http.SameSiteStrictMode}
	info := CookieInfoOf(ck, now)
	if info.Name != "rt" || info.SameSite != "Strict" || !info.Expires.Equal(now.Add(time.Minute)) || info.MaxAge != 60 {
		t.Errorf("info %+v (Max-Age wins over Expires)", info)
	}
}
