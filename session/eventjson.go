package session

import (
	"strconv"
	"time"
	"unicode/utf8"

	"tokenscope/internal/sanitize"
)

// AppendJSON appends the event's JSON (Event.JSON) to b and returns the extended buffer. It
// writes what json.Marshal writes for an Event, byte for byte (TestAppendJSONIsMarshal and
// FuzzAppendJSON hold it to that), without reflection: fire --json prints every event of a
// burst, thousands in a tenth of a second, and encoding/json's reflection was most of the
// printer's time. Then sanitize.EscapeJSON, as sanitize.JSON does.
func (e *Event) AppendJSON(b []byte) []byte {
	start := len(b)
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, e.Seq, 10)
	b = append(b, `,"time":`...)
	b = appendTime(b, e.Time)
	b = append(b, `,"kind":`...)
	b = appendJSONString(b, e.Kind.String())
	b = appendUint(b, `,"request_id":`, e.RequestID)
	b = appendUint(b, `,"refresh_id":`, e.RefreshID)
	b = appendStr(b, `,"method":`, e.Method)
	b = appendStr(b, `,"path":`, e.Path)
	b = appendInt(b, `,"status":`, int64(e.Status))
	b = appendInt(b, `,"duration_ns":`, int64(e.Duration))
	b = appendInt(b, `,"attempt":`, int64(e.Attempt))
	if e.Why != 0 {
		b = appendJSONString(append(b, `,"why":`...), e.Why.String())
	}
	if e.End != 0 {
		b = appendJSONString(append(b, `,"end":`...), e.End.String())
	}
	b = appendStr(b, `,"reason":`, e.Reason)
	if e.Transient {
		b = append(b, `,"transient":true`...)
	}
	b = appendInt(b, `,"generation":`, int64(e.Generation))
	if !e.Exp.IsZero() {
		b = append(b, `,"exp":`...)
		b = appendTime(b, e.Exp)
	}
	if e.Rotated {
		b = append(b, `,"rotated":true`...)
	}
	b = appendInt(b, `,"waiting":`, int64(e.Waiting))
	b = appendStr(b, `,"token":`, e.Token)
	b = appendInt(b, `,"skew_ns":`, int64(e.Skew))
	if e.State != 0 {
		b = appendJSONString(append(b, `,"state":`...), e.State.String())
	}
	b = appendStr(b, `,"rule":`, e.Rule)
	b = append(b, '}')
	if esc := sanitize.EscapeJSON(b[start:]); len(esc) != len(b)-start {
		b = append(b[:start], esc...) // esc is a copy: nothing it holds is overwritten
	}
	return b
}

// The omitempty fields: written only when not zero.
func appendUint(b []byte, key string, v uint64) []byte {
	if v == 0 {
		return b
	}
	return strconv.AppendUint(append(b, key...), v, 10)
}

func appendInt(b []byte, key string, v int64) []byte {
	if v == 0 {
		return b
	}
	return strconv.AppendInt(append(b, key...), v, 10)
}

func appendStr(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	return appendJSONString(append(b, key...), v)
}

// appendTime is time.Time's MarshalJSON.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONString is encoding/json's string encoding, HTML escaping on (as json.Marshal has
// it): <, > and & as \u escapes, invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
