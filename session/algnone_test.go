package session

import (
	"crypto"
	"strings"
	"testing"
	"time"
)

// TestAlgNone_AnyCaseFlagged: alg "none" is flagged whatever its letter case, both when a token
// is decoded (Token.Unsigned) and by Verify, key or no key. "None" and "NONE" are what got past
// libraries that compared exactly; cmd's decode used to be the only place that caught them.
func TestAlgNone_AnyCaseFlagged(t *testing.T) {
	good := mintHS256(t, map[string]any{"sub": "u"}, "", testSecret)
	parts := strings.Split(good, ".")
	keys := map[string]Keys{
		"no keys": {},
		"hmac":    {HMAC: testSecret},
		"public":  {Public: []crypto.PublicKey{&ecKey(t).PublicKey}},
		"jwks":    {ByKID: map[string]crypto.PublicKey{}},
	}
	for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
		for _, sig := range []string{"", parts[2]} {
			raw := b64(`{"alg":"`+alg+`","typ":"JWT"}`) + "." + parts[1] + "." + sig
			tok := ParseToken(raw, time.Unix(1_700_000_000, 0), 0)
			if !tok.JWT || !tok.Unsigned || tok.Alg != alg {
				t.Errorf("alg %q sig %q: JWT=%v Unsigned=%v Alg=%q, want a decoded, unsigned token that keeps its alg", alg, sig, tok.JWT, tok.Unsigned, tok.Alg)
			}
			for name, k := range keys {
				v := Verify(raw, k)
				if v.Status != Invalid || !strings.Contains(v.Reason, alg) || !strings.Contains(v.Reason, "unsigned") {
					t.Errorf("alg %q sig %q keys %s: %v, want invalid naming the alg and saying unsigned", alg, sig, name, v)
				}
			}
		}
	}
	// A missing or non-string alg is unsigned too; a real alg is not, nor are near misses.
	for header, want := range map[string]bool{
		`{"typ":"JWT"}`: true, `{"alg":null}`: true, `{"alg":5}`: true, `{"alg":""}`: true,
		`{"alg":"HS256"}`: false, `{"alg":"ES256K"}`: false, `{"alg":"nonE256"}`: false, `{"alg":"non"}`: false,
	} {
		tok := ParseToken(rawJWT(header, `{"sub":"u"}`), time.Unix(1_700_000_000, 0), 0)
		if !tok.JWT || tok.Unsigned != want {
			t.Errorf("%s: JWT=%v Unsigned=%v, want %v", header, tok.JWT, tok.Unsigned, want)
		}
		if want {
			if v := Verify(tok.Raw, Keys{}); v.Status != Invalid || !strings.Contains(v.Reason, "unsigned") {
				t.Errorf("%s: Verify = %v, want invalid (unsigned)", header, v)
			}
		}
	}
	// Opaque tokens are not JWTs and so not "unsigned JWTs".
	if tok := ParseToken("opaque-token", time.Unix(0, 0), 0); tok.Unsigned {
		t.Error("opaque token flagged unsigned")
	}
	if !IsAlgNone("NoNe") || IsAlgNone("none ") || IsAlgNone("") {
		t.Error("IsAlgNone")
	}
}
