package redact

import (
	"encoding/base64"
	"fmt"
	"testing"
)

// BenchmarkMaskEvent: masking one event line, as the live printer and --log-file do for every
// event, with a session's worth of tokens (a JWT header each shares) and credentials.
func BenchmarkMaskEvent(b *testing.B) {
	s := Of("the-password-123", "client-secret-xyz")
	for i := range 64 {
		s.Add(Access, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."+base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, `{"jti":"%04d","exp":1}`, i))+".sig")
	}
	line := `{"seq":1234,"time":"2026-12-06T08:25:37.729Z","kind":"response","request_id":5,"method":"GET","path":"/api/me","status":200,"generation":2,"token":"fp:d372cc70","reason":"GET /api/me → 200 in 197µs"}`
	_ = s.Mask(line)
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Mask(line)
	}
}
