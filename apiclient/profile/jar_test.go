package profile

import (
	"net/http"
	"net/url"
	"testing"
)

// TestHostJarOrigin: the jar keeps and gives back cookies for the target's origin, by the one
// origin rule (hostcheck.OriginOf): the host in any letter case and the default port written
// out are the target; another scheme, port or host is not, and gets nothing.
func TestHostJarOrigin(t *testing.T) {
	u := func(s string) *url.URL {
		p, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	j := NewHostJar(u("https://api.test"))
	if !j.Empty() {
		t.Fatal("a new jar is not empty")
	}
	j.SetCookies(u("https://API.test:443/login"), []*http.Cookie{{Name: "sid", Value: "s-1", Path: "/"}})
	if j.Empty() {
		t.Fatal("the target's cookie (host in capitals, :443 written out) was not kept")
	}
	for _, same := range []string{"https://api.test/x", "https://API.TEST:443/x"} {
		if cs := j.Cookies(u(same)); len(cs) != 1 || cs[0].Value != "s-1" {
			t.Errorf("%s: %v", same, cs)
		}
	}
	for _, other := range []string{"http://api.test/x", "https://api.test:8443/x", "https://other.test/x"} {
		if cs := j.Cookies(u(other)); len(cs) != 0 {
			t.Errorf("%s (another origin) got %v", other, cs)
		}
	}
	j.SetCookies(u("https://other.test/"), []*http.Cookie{{Name: "evil", Value: "1", Path: "/"}})
	if cs := j.Cookies(u("https://api.test/")); len(cs) != 1 {
		t.Errorf("another origin's cookie was kept: %v", cs)
	}
	j.Reset()
	if !j.Empty() || len(j.Cookies(u("https://api.test/"))) != 0 {
		t.Error("Reset left cookies")
	}
}
