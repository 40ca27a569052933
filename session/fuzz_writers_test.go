package session

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzEventWriters aims at the event writers: whatever text a server puts in an event's reason
// or path, the event's JSON (fire --json, --log-file, the TUI's export) is one valid line with
// nothing unsafe raw in it, and its one-line text keeps to one line.
func FuzzEventWriters(f *testing.F) {
	for _, s := range []string{"plain", "\x1b]0;t\x07", "\u009b2J", "\x9b\xff", "\u202e\u200b\u061c", "a\nb\r\nc", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ev := Event{Seq: 1, Kind: KindRefreshFailed, Method: "GET", Path: s, Reason: s, Token: s}
		var buf bytes.Buffer
		w := NewJSONLWriter(&buf)
		if err := w.Write(ev, ev); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
		if len(lines) != 2 {
			t.Fatalf("two events made %d lines: %q", len(lines), buf.String())
		}
		for _, l := range lines {
			if !json.Valid([]byte(l)) {
				t.Fatalf("not JSON: %q", l)
			}
			for _, r := range l {
				if r < 0x20 || (r >= 0x7f && r <= 0x9f) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029' {
					t.Fatalf("%U raw in %q", r, l)
				}
			}
			if !utf8.ValidString(l) {
				t.Fatalf("invalid UTF-8 in %q", l)
			}
		}
		if strings.ContainsAny(ev.Text(), "\n\r") {
			t.Fatalf("the event's text breaks its line: %q", ev.Text())
		}
	})
}
