package redact

import (
	"strings"
	"testing"
)

// TestCredentialNamesOneList: a credential-named value is masked by the same names wherever it
// stands: a JSON member, a form field in evidence, a URL's query parameter.
func TestCredentialNamesOneList(t *testing.T) {
	s := New()
	for _, name := range []string{"access_token", "idToken", "refresh", "password", "passwd", "client_secret",
		"client_assertion", "code", "code_verifier", "device_code", "secret", "api_key", "apikey", "key", "signature"} {
		const v = "v4lue-0123456789"
		for _, text := range []string{`{"` + name + `":"` + v + `"}`, name + "=" + v + "&x=1"} {
			if got, _ := s.Evidence(text, nil); strings.Contains(got, v) {
				t.Errorf("evidence %s kept the value: %s", text, got)
			}
		}
		if got := URL("https://api.test/cb?" + name + "=" + v); strings.Contains(got, v) {
			t.Errorf("URL with %s kept the value: %s", name, got)
		}
	}
	if got, _ := s.Evidence(`{"detail":"not found","user":"bob"}`, nil); !strings.Contains(got, "bob") {
		t.Errorf("a name that is no credential's was masked: %s", got)
	}
}
