package dpop

import (
	"net/url"
	"testing"
)

// TestNoncesPerOrigin: a nonce is kept per role and origin (RFC 9449 §8, §9), the origin as
// every other "same place?" in tokenscope has it: https://AS.test, https://as.test:443 and
// https://as.test/other/path are one origin and share a nonce; http://as.test, another port,
// another host and the other role do not.
func TestNoncesPerOrigin(t *testing.T) {
	u := func(s string) *url.URL {
		p, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	var n Nonces
	n.Set(AuthServer, u("https://AS.test/token"), "n-1")
	for _, same := range []string{"https://as.test:443/token", "https://as.test/other/path", "https://as.test./token"} {
		if got := n.Get(AuthServer, u(same)); got != "n-1" {
			t.Errorf("%s: nonce %q, want the origin's n-1", same, got)
		}
	}
	for _, other := range []string{"http://as.test/token", "https://as.test:8443/token", "https://rs.test/token"} {
		if got := n.Get(AuthServer, u(other)); got != "" {
			t.Errorf("%s: nonce %q, want none (another origin)", other, got)
		}
	}
	if got := n.Get(ResourceServer, u("https://as.test/token")); got != "" {
		t.Errorf("the resource server's nonce at the same origin: %q, want none", got)
	}
	n.Set(AuthServer, u("https://as.test:443/"), "n-2")
	if got := n.Get(AuthServer, u("https://AS.test/token")); got != "n-2" {
		t.Errorf("a newer nonce for the same origin: %q", got)
	}
}
