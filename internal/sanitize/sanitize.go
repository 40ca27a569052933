// Package sanitize makes text that came from the network (or from a file someone else wrote)
// safe to put on a terminal or into JSON that a terminal may show: escape sequences cannot
// act, control characters are visible, and nothing reorders the text around it ("Trojan
// Source"). It is the one place that decides which characters are unsafe, so that the TUI,
// decode, fire and the demo server's log agree.
package sanitize

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

// Text makes multi-line text safe to draw: escape sequences (colours, title changes, OSC 52
// clipboard writes, screen clears) are removed; other control characters, the characters
// IsBidi reports and every other invisible format character (Unicode category Cf, such as
// U+200B and U+061C) are shown as U+FFFD, as is invalid UTF-8; tabs become four spaces.
// Newlines are kept.
func Text(s string) string { return clean(s, "    ") }

func clean(s, tab string) string {
	if isPlain(s) {
		return s
	}
	s = ansi.Strip(s)
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(tab)
		case unsafeRune(r):
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// unsafeRune reports what a terminal may act on or a reader cannot see: controls (C0, DEL,
// C1), bidi controls and separators, and the other format characters.
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || IsBidi(r) || unicode.Is(unicode.Cf, r)
}

// Writer makes every write to w inert, as Text does but keeping tabs: the boundary for a
// stream of text that leaves the program (stdout, stderr, a log). Each write is cleaned on its
// own, so an escape sequence split across two writes is broken, not completed.
type Writer struct{ w io.Writer }

// NewWriter wraps w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write writes the cleaned p; it reports len(p) written when all of it went out.
func (s *Writer) Write(p []byte) (int, error) {
	if _, err := io.WriteString(s.w, clean(string(p), "\t")); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Line is Text for one line: newlines become a visible ⏎ too.
func Line(s string) string {
	return strings.ReplaceAll(Text(s), "\n", "⏎")
}

// isPlain reports printable ASCII with newlines and nothing else: the common case, returned as
// it is without a copy.
func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 && c != '\n' || c == 0x7f || c >= 0x80 {
			return false
		}
	}
	return true
}

// IsBidi reports the characters that make text display in another order than it is stored
// (the bidi embeddings, overrides and isolates, and the left-to-right, right-to-left and
// Arabic letter marks) and the Unicode line and paragraph separators, which some terminals
// and editors break lines at.
func IsBidi(r rune) bool {
	return (r >= '\u202A' && r <= '\u202E') || (r >= '\u2066' && r <= '\u2069') ||
		r == '\u200E' || r == '\u200F' || r == '\u061C' || r == '\u2028' || r == '\u2029'
}

// jsonUnsafe reports the characters EscapeJSON writes as \u escapes: C0 controls and DEL, C1
// controls (U+0080–U+009F, among them the 8-bit CSI), IsBidi's characters and every other
// Unicode format character (zero-width and invisible ones: what a reader cannot see).
func jsonUnsafe(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r <= 0x9f) || IsBidi(r) || unicode.Is(unicode.Cf, r)
}

// EscapeJSON rewrites, in encoded JSON, the characters encoding/json leaves raw that a
// terminal may act on or that hide from a reader (see jsonUnsafe), and invalid UTF-8 as
// \ufffd. Outside strings JSON is ASCII, so each can only be inside a string, where a \u
// escape keeps the document valid and its meaning unchanged. It returns b itself when there is
// nothing to escape.
func EscapeJSON(b []byte) []byte {
	i := 0
	for i < len(b) {
		if c := b[i]; (c >= 0x20 && c < 0x7f) || c == '\n' || c == '\t' || c == '\r' {
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if (r == utf8.RuneError && size <= 1) || jsonUnsafe(r) {
			break
		}
		i += size
	}
	if i == len(b) {
		return b
	}
	var out bytes.Buffer
	out.Grow(len(b) + 16)
	out.Write(b[:i])
	for b = b[i:]; len(b) > 0; {
		r, size := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && size <= 1:
			out.WriteString(`\ufffd`)
		case r == '\n' || r == '\t' || r == '\r':
			out.WriteByte(b[0]) // whitespace between tokens (indented JSON); inside a string encoding/json has escaped it
		case jsonUnsafe(r):
			fmt.Fprintf(&out, `\u%04x`, r)
		default:
			out.Write(b[:size])
		}
		b = b[size:]
	}
	return out.Bytes()
}

// JSON is json.Marshal followed by EscapeJSON: the encoding of v that is safe to print.
func JSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return EscapeJSON(b), nil
}
