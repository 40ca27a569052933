package sent

import (
	"net/http"
	"strings"
	"testing"
)

// TestApplyIsTheRecord: what Apply puts on the wire is what Header lists, header for header,
// the secrets masked in Value and whole in Raw; a request's own Cookie goes before the jar's.
func TestApplyIsTheRecord(t *testing.T) {
	auth := Holding("Authorization", "Bearer tok-0123456789", Access, "TOKEN", "Bearer ", "tok-01••••6789")
	r := New(Parts{Method: "GET", Base: "https://api.test", Path: "/me", User: http.Header{"X-Trace": {"1"}, "Cookie": {"mine=1"}},
		Fixed: []Header{Holding("Apikey", "k-secret", APIKey, "KEY", "", Masked), Plain("X-Client", "ts")},
		Auth:  &auth, Cookie: "refresh=r-secret", Body: []byte(`{}`),
		Mask: func(s string) string { return strings.ReplaceAll(s, "secret", Masked) }})
	wire := http.Header{"X-Trace": {"1"}, "Cookie": {"mine=1"}}
	r.Apply(wire)
	seen := 0
	for _, h := range r.Header() {
		if got := wire.Get(h.Name); got != h.Raw() {
			t.Errorf("%s: wire %q, record %q", h.Name, got, h.Raw())
		}
		if h.Secret != None && strings.Contains(h.Value, "secret") {
			t.Errorf("%s shows its secret: %q", h.Name, h.Value)
		}
		seen++
	}
	if seen != 5 || wire.Get("Cookie") != "mine=1; refresh=r-secret" || r.URL() != "https://api.test/me" {
		t.Errorf("%d headers, Cookie %q, URL %q", seen, wire.Get("Cookie"), r.URL())
	}
	if JoinURL("https://api.test", "https://idp.test/userinfo") != "https://idp.test/userinfo" || !IsWholeURL("http://x") || IsWholeURL("/x") {
		t.Error("a whole URL is not kept whole")
	}
}
