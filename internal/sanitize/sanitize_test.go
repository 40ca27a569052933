package sanitize

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzSanitize: whatever the network sends, what Text returns cannot act on a terminal.
func FuzzSanitize(f *testing.F) {
	for _, s := range []string{
		"plain", "\x1b]0;title\x07", "\x1b]52;c;ZXZpbA==\x07", "\x1b[2J\x1b[H", "\u009b31m", "\x1bPq#0\x1b\\",
		"\u202etxt.exe", "a\tb\r\nc", "sub\u200b\u061c\u2060\ufeffx", "\xff\xfe", "\x1b[?1049h", "\x1b]8;;http://x\x07link\x1b]8;;\x07", "\x00\x7f",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Text(s)
		for i, r := range out {
			switch {
			case r == '\n':
			case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
				t.Fatalf("control %U at %d in %q", r, i, out)
			case IsBidi(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Cf, r):
				t.Fatalf("bidi/separator/format character %U in %q", r, out)
			}
		}
		// The stream writer: the same guarantee for what it passes on, whole or in pieces.
		var w strings.Builder
		sw := NewWriter(&w)
		half := len(s) / 2
		if n, err := sw.Write([]byte(s[:half])); err != nil || n != half {
			t.Fatalf("Write = %d, %v", n, err)
		}
		_, _ = sw.Write([]byte(s[half:]))
		for _, r := range w.String() {
			if r != '\n' && r != '\t' && unsafeRune(r) {
				t.Fatalf("the writer passed %U in %q", r, w.String())
			}
		}
		if !utf8.ValidString(w.String()) || strings.ContainsRune(w.String(), 0x1b) {
			t.Fatalf("the writer passed %q", w.String())
		}
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 out: %q", out)
		}
		if Text(out) != out {
			t.Fatalf("not idempotent: %q → %q", out, Text(out))
		}
		if strings.Contains(Line(s), "\n") {
			t.Fatal("Line kept a newline")
		}
		// The JSON form of the same string: valid, the same value, and nothing unsafe raw.
		b, err := JSON(s)
		if err != nil || !json.Valid(b) {
			t.Fatalf("JSON(%q) = %q, %v", s, b, err)
		}
		var back string
		noBad := func(s string) string { return strings.ReplaceAll(strings.ToValidUTF8(s, ""), "\ufffd", "") }
		if err := json.Unmarshal(b, &back); err != nil || noBad(back) != noBad(s) {
			t.Fatalf("JSON(%q) decodes to %q, %v", s, back, err)
		}
		for _, r := range string(b) {
			if r < 0x20 || (r >= 0x7f && r <= 0x9f) || IsBidi(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("JSON(%q) = %q holds %U raw", s, b, r)
			}
		}
	})
}

func TestText(t *testing.T) {
	for in, want := range map[string]string{
		"plain\ntext":              "plain\ntext",
		"a\x1b]0;pwned\x07b":       "ab",
		"a\x1b[31mred\x1b[0m":      "ared",
		"a\u009b31mb\u202e":        "a\ufffd31mb\ufffd",
		"tab\there\r":              "tab    here\ufffd", // a tab is spaces, a CR is shown
		"bad\xffbyte":              "badbyte",           // ansi.Strip drops the stray byte
		"x\x1bPdcs\x1b\\y\x00\x7f": "xy\ufffd\ufffd",
		"sep\u2028arated":          "sep\ufffdarated",
	} {
		if got := Text(in); got != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Line("a\nb\x1b[2J"); got != "a⏎b" {
		t.Errorf("Line = %q", got)
	}
}

func TestEscapeJSON(t *testing.T) {
	in := "{\"a\":\"x\x7f\u0085\u202e\xff\u200b\"}"
	out := EscapeJSON([]byte(in))
	if string(out) != `{"a":"x\u007f\u0085\u202e\ufffd\u200b"}` || !json.Valid(out) {
		t.Errorf("EscapeJSON(%q) = %q", in, out)
	}
	plain := []byte("{\n  \"a\": \"ünïcode ✓\"\n}")
	if out := EscapeJSON(plain); &out[0] != &plain[0] {
		t.Error("EscapeJSON copied JSON with nothing to escape")
	}
}

// TestInvisibleFormatCharacters: zero-width and other Unicode format characters (category Cf)
// are made visible; they once showed in the TUI's sub line as nothing at all.
func TestInvisibleFormatCharacters(t *testing.T) {
	for _, r := range []rune{'\u200b', '\u200c', '\u200d', '\u2060', '\u061c', '\ufeff', '\u00ad', '\U000e0001'} {
		in := "a" + string(r) + "b"
		if got := Text(in); got != "a\ufffdb" {
			t.Errorf("Text(%q) = %q, want a\\ufffdb", in, got)
		}
	}
}

// TestWriterKeepsTabsAndLines: the stream writer cleans what it passes, keeps the layout of
// plain text, and reports the whole write written.
func TestWriterKeepsTabsAndLines(t *testing.T) {
	var b strings.Builder
	w := NewWriter(&b)
	in := "name\tvalue\nbad \x1b]0;t\x07\u009b2J\u202e end\n"
	if n, err := w.Write([]byte(in)); err != nil || n != len(in) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if want := "name\tvalue\nbad \ufffd2J\ufffd end\n"; b.String() != want {
		t.Errorf("wrote %q, want %q", b.String(), want)
	}
}
