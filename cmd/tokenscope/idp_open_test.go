package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestOpenerRefusesUnsafeURLs: a provider's authorization or verification URL reaches the
// system's opener only when it is https (or http on loopback); a file:, javascript: or
// option-like one is printed as text with the reason, and nothing is launched.
func TestOpenerRefusesUnsafeURLs(t *testing.T) {
	for _, u := range []string{"file:///etc/passwd", "javascript:alert(1)", "--help", "http://evil.example/authorize"} {
		if err := (opener{}).open(u); err == nil || !strings.Contains(err.Error(), "not opened") {
			t.Errorf("%q: err = %v", u, err)
		}
		var out bytes.Buffer
		ui := &stderrLoginUI{w: &out}
		ui.AuthURL(u)
		if !strings.Contains(out.String(), "not opened") || !strings.Contains(out.String(), "check it before you open it") {
			t.Errorf("%q: fire printed %q", u, out.String())
		}
	}
}
