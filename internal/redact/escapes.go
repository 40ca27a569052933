package redact

import (
	"html"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// depth is how deeply escapes nest: 2 reads an escape whose own characters are escaped (JSON of
// HTML, HTML of JSON, JSON of a URL encoding, ...).
const depth = 2

// unit is one way to read text at a position: the bytes it stands for and where it ends.
type unit struct {
	frag string
	end  int
}

// readUnits appends the ways one character of s can be read at p: the byte itself, and with
// depth left each escape that starts there, its own characters read with one depth less.
func readUnits(s string, p, depth int, out []unit) []unit {
	out = append(out, unit{s[p : p+1], p + 1})
	if depth > 0 && s[p] == '+' {
		return append(out, unit{" ", p + 1}) // a space in a form body
	}
	if depth == 0 || !introducer[s[p]] {
		return out
	}
	for _, esc := range [...]func(string, int, int) (unit, bool){jsonEscape, htmlEntity, percentEscape} {
		if u, ok := esc(s, p, depth-1); ok {
			out = append(out, u)
		}
	}
	return out
}

// readChar reads one ASCII character at p that satisfies want: the byte itself, else an escape
// of it (up to depth). The byte comes first so that the & of &amp;rd is the start of an
// entity, not an escaped &.
func readChar(s string, p, depth int, want *charSet) (byte, int, bool) {
	if p >= len(s) {
		return 0, p, false
	}
	if want[s[p]] {
		return s[p], p + 1, true
	}
	if depth > 0 && introducer[s[p]] {
		for _, esc := range [...]func(string, int, int) (unit, bool){jsonEscape, htmlEntity, percentEscape} {
			if u, ok := esc(s, p, depth-1); ok && len(u.frag) == 1 && want[u.frag[0]] {
				return u.frag[0], u.end, true
			}
		}
	}
	return 0, p, false
}

// charSet is the characters a reader accepts at a point of an escape: tables, not closures,
// as they are consulted for every byte of a server's text.
type charSet [256]bool

func newSet(pred func(byte) bool) *charSet {
	var cs charSet
	for i := range cs {
		cs[i] = pred(byte(i))
	}
	return &cs
}

func exactly(c byte) *charSet { return newSet(func(b byte) bool { return b == c }) }

var (
	setBackslash, setU, setAmp, setHash = exactly('\\'), exactly('u'), exactly('&'), exactly('#')
	setSemi, setPercent                 = exactly(';'), exactly('%')
	setX                                = newSet(func(b byte) bool { return b|0x20 == 'x' })
	setDigit                            = newSet(func(b byte) bool { return '0' <= b && b <= '9' })
	setHex                              = newSet(func(b byte) bool { return setDigit[b] || 'a' <= b|0x20 && b|0x20 <= 'f' })
	setAlnum                            = newSet(func(b byte) bool { return setDigit[b] || 'a' <= b|0x20 && b|0x20 <= 'z' })
	setJSONEscape                       = newSet(func(b byte) bool { return jsonShort[b] != "" || b == 'u' })
	// introducer is what every escape starts with, however deeply nested: \, & or %.
	introducer = newSet(func(b byte) bool { return b == '\\' || b == '&' || b == '%' })
)

// readNumber reads up to maxDigits digits that satisfy digit and parses them in base; n is
// how many it read.
func readNumber(s string, p, depth, maxDigits, base int, digit *charSet) (v uint64, end, n int, ok bool) {
	var buf [16]byte
	digits := buf[:0]
	for len(digits) < min(maxDigits, len(buf)) {
		c, q, ok := readChar(s, p, depth, digit)
		if !ok {
			break
		}
		digits, p = append(digits, c), q
	}
	if len(digits) == 0 {
		return 0, p, 0, false
	}
	v, err := strconv.ParseUint(string(digits), base, 32)
	return v, p, len(digits), err == nil
}

// jsonShort are JSON's two-character escapes.
var jsonShort = [256]string{'"': `"`, '\\': `\`, '/': "/", 'b': "\b", 'f': "\f", 'n': "\n", 'r': "\r", 't': "\t"}

// jsonEscape reads a JSON string escape at p: \" \\ \/ \b \f \n \r \t, or \uXXXX in either
// case, a surrogate pair read as the one character it encodes.
func jsonEscape(s string, p, depth int) (unit, bool) {
	q, ok := readSeq(s, p, depth, setBackslash)
	if !ok {
		return unit{}, false
	}
	c, q, ok := readChar(s, q, depth, setJSONEscape)
	if !ok {
		return unit{}, false
	}
	if c != 'u' {
		return unit{jsonShort[c], q}, true
	}
	r, q, ok := readHex4(s, q, depth)
	if !ok {
		return unit{}, false
	}
	if utf16.IsSurrogate(rune(r)) {
		q2, ok := readSeq(s, q, depth, setBackslash, setU)
		lo, q2, ok2 := readHex4(s, q2, depth)
		pair := utf16.DecodeRune(rune(r), rune(lo))
		if !ok || !ok2 || pair == utf8.RuneError {
			return unit{}, false
		}
		return unit{string(pair), q2}, true
	}
	return unit{string(rune(r)), q}, true
}

func readHex4(s string, p, depth int) (uint64, int, bool) {
	v, q, n, ok := readNumber(s, p, depth, 4, 16, setHex)
	return v, q, ok && n == 4
}

// readSeq reads the given ASCII characters in order.
func readSeq(s string, p, depth int, chars ...*charSet) (int, bool) {
	for _, c := range chars {
		var ok bool
		if _, p, ok = readChar(s, p, depth, c); !ok {
			return p, false
		}
	}
	return p, true
}

// htmlEntity reads a character reference at p: &#39; &#x27; &#X27; (the semicolon optional) or
// a named one such as &lt; &amp; &auml; (semicolon required), decoded as html does (so &#150;
// is the en dash a browser shows).
func htmlEntity(s string, p, depth int) (unit, bool) {
	q, ok := readSeq(s, p, depth, setAmp)
	if !ok {
		return unit{}, false
	}
	if q2, ok := readSeq(s, q, depth, setHash); ok {
		base, digit := 10, setDigit
		if _, q3, ok := readChar(s, q2, depth, setX); ok {
			base, digit, q2 = 16, setHex, q3
		}
		n, q3, _, ok := readNumber(s, q2, depth, 16, base, digit)
		if !ok {
			return unit{}, false
		}
		if _, q4, ok := readChar(s, q3, depth, setSemi); ok {
			q3 = q4
		}
		return unit{html.UnescapeString("&#" + strconv.FormatUint(n, 10) + ";"), q3}, true
	}
	var name []byte
	for len(name) < 32 {
		c, q2, ok := readChar(s, q, depth, setAlnum)
		if !ok {
			break
		}
		name, q = append(name, c), q2
	}
	if q, ok = readSeq(s, q, depth, setSemi); !ok || len(name) == 0 {
		return unit{}, false
	}
	ref := "&" + string(name) + ";"
	if dec := html.UnescapeString(ref); dec != ref {
		return unit{dec, q}, true
	}
	return unit{}, false
}

// percentEscape reads a URL escape at p, %HH in either case: one byte, which with its
// neighbours may form a character.
func percentEscape(s string, p, depth int) (unit, bool) {
	q, ok := readSeq(s, p, depth, setPercent)
	if !ok {
		return unit{}, false
	}
	hi, q, ok1 := readChar(s, q, depth, setHex)
	lo, q, ok2 := readChar(s, q, depth, setHex)
	if !ok1 || !ok2 {
		return unit{}, false
	}
	b, _ := strconv.ParseUint(string([]byte{hi, lo}), 16, 8)
	return unit{string([]byte{byte(b)}), q}, true
}
