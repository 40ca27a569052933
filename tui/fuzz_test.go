package tui

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzSanitize: whatever the network sends, what Sanitize returns cannot act on a terminal.
func FuzzSanitize(f *testing.F) {
	for _, s := range []string{
		"plain", "\x1b]0;title\x07", "\x1b]52;c;ZXZpbA==\x07", "\x1b[2J\x1b[H", "\u009b31m", "\x1bPq#0\x1b\\",
		"\u202etxt.exe", "a\tb\r\nc", "\xff\xfe", "\x1b[?1049h", "\x1b]8;;http://x\x07link\x1b]8;;\x07", "\x00\x7f",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Sanitize(s)
		for i, r := range out {
			switch {
			case r == '\n':
			case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
				t.Fatalf("control %U at %d in %q", r, i, out)
			case isBidi(r) || r == '\u2028' || r == '\u2029':
				t.Fatalf("bidi/separator %U in %q", r, out)
			}
		}
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 out: %q", out)
		}
		if Sanitize(out) != out {
			t.Fatalf("not idempotent: %q → %q", out, Sanitize(out))
		}
		if strings.Contains(SanitizeLine(s), "\n") {
			t.Fatal("SanitizeLine kept a newline")
		}
	})
}
