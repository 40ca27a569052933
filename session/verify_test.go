package session

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// RSA key generation is the slow part of these tests: do it once per run.
var (
	rsaKeyOnce = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })
)

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsaKeyOnce()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ecKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sign(t *testing.T, method jwt.SigningMethod, claims jwt.MapClaims, kid string, key any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("signing %s: %v", method.Alg(), err)
	}
	return s
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// ecJWK builds a JWK for a P-256 key from its uncompressed point (0x04 || X || Y).
func ecJWK(t *testing.T, pub *ecdsa.PublicKey, kid string) map[string]string {
	t.Helper()
	pt, err := pub.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if len(pt) != 65 || pt[0] != 4 {
		t.Fatalf("unexpected point encoding: %d bytes", len(pt))
	}
	return map[string]string{"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig",
		"x": b64u(pt[1:33]), "y": b64u(pt[33:])}
}

func rsaJWK(pub *rsa.PublicKey, kid string) map[string]string {
	return map[string]string{"kty": "RSA", "kid": kid, "n": b64u(pub.N.Bytes()), "e": b64u(big.NewInt(int64(pub.E)).Bytes())}
}

func jwks(t *testing.T, keys ...map[string]string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pemPublic(t *testing.T, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func wantStatus(t *testing.T, v Verification, want VerifyStatus) {
	t.Helper()
	if v.Status != want {
		t.Fatalf("Verify = %v, want %v", v, want)
	}
	if want == Invalid && v.Reason == "" {
		t.Errorf("Invalid without a reason")
	}
	if want != Invalid && v.Reason != "" {
		t.Errorf("%v with reason %q", want, v.Reason)
	}
}

func TestVerify_HS256(t *testing.T) {
	raw := mintHS256(t, jwt.MapClaims{"sub": "u", "exp": time.Now().Add(time.Hour).Unix()}, "", testSecret)

	t.Run("right secret", func(t *testing.T) {
		wantStatus(t, Verify(raw, Keys{HMAC: testSecret}), Verified)
	})
	t.Run("wrong secret", func(t *testing.T) {
		v := Verify(raw, Keys{HMAC: []byte("another-secret-another-secret!!")})
		wantStatus(t, v, Invalid)
		if !strings.Contains(v.Reason, "signature") {
			t.Errorf("Reason = %q, want it to talk about the signature", v.Reason)
		}
		if !strings.HasPrefix(v.String(), "invalid: ") {
			t.Errorf("String = %q, want invalid: reason", v.String())
		}
	})
	t.Run("no keys", func(t *testing.T) {
		wantStatus(t, Verify(raw, Keys{}), NotChecked)
	})
	t.Run("only public keys", func(t *testing.T) {
		v := Verify(raw, Keys{Public: []crypto.PublicKey{&ecKey(t).PublicKey}})
		wantStatus(t, v, Invalid)
		if !strings.Contains(v.Reason, "HMAC") {
			t.Errorf("Reason = %q, want it to say an HMAC secret is missing", v.Reason)
		}
	})
	t.Run("tampered payload", func(t *testing.T) {
		parts := strings.Split(raw, ".")
		parts[1] = b64(`{"sub":"admin"}`)
		wantStatus(t, Verify(strings.Join(parts, "."), Keys{HMAC: testSecret}), Invalid)
	})
}

func TestVerify_HS384AndHS512(t *testing.T) {
	for _, m := range []jwt.SigningMethod{jwt.SigningMethodHS384, jwt.SigningMethodHS512} {
		raw := sign(t, m, jwt.MapClaims{"sub": "u"}, "", testSecret)
		wantStatus(t, Verify(raw, Keys{HMAC: testSecret}), Verified)
		wantStatus(t, Verify(raw, Keys{HMAC: []byte("nope")}), Invalid)
	}
}

func TestVerify_AlgNoneAlwaysInvalid(t *testing.T) {
	raw, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": "u"}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	for name, keys := range map[string]Keys{
		"no keys": {},
		"hmac":    {HMAC: testSecret},
		"public":  {Public: []crypto.PublicKey{&ecKey(t).PublicKey}},
	} {
		t.Run(name, func(t *testing.T) {
			v := Verify(raw, keys)
			wantStatus(t, v, Invalid)
			if !strings.Contains(v.Reason, "none") {
				t.Errorf("Reason = %q, want it to name alg none", v.Reason)
			}
		})
	}
	// A real signature slapped on an alg-none header is still refused.
	good := mintHS256(t, jwt.MapClaims{"sub": "u"}, "", testSecret)
	parts := strings.Split(good, ".")
	forged := b64(`{"alg":"none","typ":"JWT"}`) + "." + parts[1] + "." + parts[2]
	wantStatus(t, Verify(forged, Keys{HMAC: testSecret}), Invalid)
}

// TestVerify_MissingAlgIsInvalid: a JWT-shaped token without an alg is unsigned as far as
// anyone can tell; Verify has an explicit `t.Alg == ""` branch meant to call it invalid.
//
// KNOWN BUG: this test fails. ParseToken treats such a token as opaque (jwt's ParseUnverified
// refuses a header without alg), so the `t.Alg == ""` check in Verify is unreachable and the
// result is NotChecked without keys, or "not a JWT" with keys.
func TestVerify_MissingAlgIsInvalid(t *testing.T) {
	raw := rawJWT(`{"typ":"JWT"}`, `{"sub":"u"}`)
	v := Verify(raw, Keys{})
	if v.Status != Invalid {
		t.Errorf("Verify(no alg, no keys) = %v, want invalid", v)
	}
	v = Verify(raw, Keys{HMAC: testSecret})
	if v.Status != Invalid || !strings.Contains(v.Reason, "unsigned") {
		t.Errorf("Verify(no alg, hmac) = %v, want invalid because the token is unsigned", v)
	}
}

func TestVerify_Opaque(t *testing.T) {
	wantStatus(t, Verify("opaque-token-value", Keys{}), NotChecked)
	v := Verify("opaque-token-value", Keys{HMAC: testSecret})
	wantStatus(t, v, Invalid)
	if !strings.Contains(v.Reason, "opaque") {
		t.Errorf("Reason = %q, want it to say the token is opaque", v.Reason)
	}
	wantStatus(t, Verify("", Keys{HMAC: testSecret}), Invalid)
	wantStatus(t, Verify("a.b.c", Keys{HMAC: testSecret}), Invalid)
}

func TestVerify_ES256ViaJWKS(t *testing.T) {
	key := ecKey(t)
	other := ecKey(t)
	data := jwks(t, ecJWK(t, &other.PublicKey, "other"), ecJWK(t, &key.PublicKey, "ec-1"))
	byKID, err := ParseJWKS(data)
	if err != nil {
		t.Fatalf("ParseJWKS: %v", err)
	}
	if len(byKID) != 2 {
		t.Fatalf("ParseJWKS gave %d keys, want 2", len(byKID))
	}
	pub, ok := byKID["ec-1"].(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		t.Fatalf("ByKID[ec-1] = %T, not the key that was put in", byKID["ec-1"])
	}
	claims := jwt.MapClaims{"sub": "u", "exp": time.Now().Add(time.Hour).Unix()}

	t.Run("kid matches", func(t *testing.T) {
		wantStatus(t, Verify(sign(t, jwt.SigningMethodES256, claims, "ec-1", key), Keys{ByKID: byKID}), Verified)
	})
	t.Run("kid names the wrong key", func(t *testing.T) {
		// The kid picks exactly one key; the right key under another kid is not tried.
		v := Verify(sign(t, jwt.SigningMethodES256, claims, "other", key), Keys{ByKID: byKID})
		wantStatus(t, v, Invalid)
		if v.Reason != "signature does not match the key" {
			t.Errorf("Reason = %q", v.Reason)
		}
	})
	t.Run("unknown kid tries every key", func(t *testing.T) {
		wantStatus(t, Verify(sign(t, jwt.SigningMethodES256, claims, "rotated-away", key), Keys{ByKID: byKID}), Verified)
	})
	t.Run("no kid tries every key", func(t *testing.T) {
		wantStatus(t, Verify(sign(t, jwt.SigningMethodES256, claims, "", key), Keys{ByKID: byKID}), Verified)
	})
	t.Run("signed by a key not in the set", func(t *testing.T) {
		v := Verify(sign(t, jwt.SigningMethodES256, claims, "ec-1", ecKey(t)), Keys{ByKID: byKID})
		wantStatus(t, v, Invalid)
	})
	t.Run("no asymmetric key at all", func(t *testing.T) {
		v := Verify(sign(t, jwt.SigningMethodES256, claims, "ec-1", key), Keys{HMAC: testSecret})
		wantStatus(t, v, Invalid)
		if !strings.Contains(v.Reason, "ES256") || !strings.Contains(v.Reason, "ec-1") {
			t.Errorf("Reason = %q, want it to name alg and kid", v.Reason)
		}
	})
}

func TestParseJWKS_ShortECCoordinateIsPadded(t *testing.T) {
	// Some encoders strip leading zero bytes from coordinates; ParseJWKS left-pads them.
	var key *ecdsa.PrivateKey
	for range 5000 {
		k := ecKey(t)
		if pt, _ := k.PublicKey.Bytes(); pt[1] == 0 {
			key = k
			break
		}
	}
	if key == nil {
		t.Skip("no key with a leading zero X byte found")
	}
	jwk := ecJWK(t, &key.PublicKey, "short")
	pt, _ := key.PublicKey.Bytes()
	jwk["x"] = b64u(pt[2:33])
	byKID, err := ParseJWKS(jwks(t, jwk))
	if err != nil {
		t.Fatal(err)
	}
	if pub, ok := byKID["short"].(*ecdsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		t.Fatal("short X coordinate not padded to the right key")
	}
}

func TestParseJWKS_RSAAndEd25519(t *testing.T) {
	rk := rsaKey(t)
	epub, epriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	data := jwks(t,
		rsaJWK(&rk.PublicKey, "rsa-1"),
		map[string]string{"kty": "OKP", "crv": "Ed25519", "kid": "ed-1", "x": b64u(epub)},
		map[string]string{"kty": "oct", "kid": "sym", "k": b64u([]byte("secret"))},        // skipped: unknown kty
		map[string]string{"kty": "RSA", "kid": "enc", "use": "enc", "n": "!!", "e": "!!"}, // skipped: not a signing key
		map[string]string{"kty": "EC", "crv": "P-256", "x": ecJWK(t, &ecKey(t).PublicKey, "")["x"], // no kid: "#4"
			"y": ecJWK(t, &ecKey(t).PublicKey, "")["y"]},
	)
	// The last key has mismatched x and y: it is not on the curve.
	if _, err := ParseJWKS(data); err == nil || !strings.Contains(err.Error(), `"#4"`) {
		t.Errorf("ParseJWKS with an off-curve EC key: err = %v, want an error naming key #4", err)
	}
	ec := ecKey(t)
	noKID := ecJWK(t, &ec.PublicKey, "")
	delete(noKID, "kid")
	data = jwks(t,
		rsaJWK(&rk.PublicKey, "rsa-1"),
		map[string]string{"kty": "OKP", "crv": "Ed25519", "kid": "ed-1", "x": b64u(epub)},
		map[string]string{"kty": "oct", "kid": "sym", "k": b64u([]byte("secret"))},
		map[string]string{"kty": "RSA", "kid": "enc", "use": "enc", "n": "!!", "e": "!!"},
		noKID,
	)
	byKID, err := ParseJWKS(data)
	if err != nil {
		t.Fatalf("ParseJWKS: %v", err)
	}
	if len(byKID) != 3 {
		t.Errorf("got %d keys (%v), want rsa-1, ed-1, #4", len(byKID), keysOf(byKID))
	}
	if _, ok := byKID["sym"]; ok {
		t.Error("oct key was not skipped")
	}
	if _, ok := byKID["enc"]; ok {
		t.Error("encryption key was not skipped")
	}
	if pub, ok := byKID["#4"].(*ecdsa.PublicKey); !ok || !pub.Equal(&ec.PublicKey) {
		t.Errorf("key without kid not stored as #4: %v", keysOf(byKID))
	}
	if pub, ok := byKID["rsa-1"].(*rsa.PublicKey); !ok || !pub.Equal(&rk.PublicKey) {
		t.Errorf("rsa-1 = %T, not the RSA key", byKID["rsa-1"])
	}
	keys := Keys{ByKID: byKID}
	wantStatus(t, Verify(sign(t, jwt.SigningMethodRS256, jwt.MapClaims{"sub": "u"}, "rsa-1", rk), keys), Verified)
	wantStatus(t, Verify(sign(t, jwt.SigningMethodEdDSA, jwt.MapClaims{"sub": "u"}, "ed-1", epriv), keys), Verified)
	wantStatus(t, Verify(sign(t, jwt.SigningMethodES256, jwt.MapClaims{"sub": "u"}, "", ec), keys), Verified)
}

func keysOf(m map[string]crypto.PublicKey) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestParseJWKS_Errors(t *testing.T) {
	pt, _ := ecKey(t).PublicKey.Bytes()
	cases := map[string]string{
		"not JSON":          `this is not json`,
		"truncated JSON":    `{"keys":[{"kty":"EC"`,
		"keys not an array": `{"keys":{"kty":"EC"}}`,
		"unknown curve":     `{"keys":[{"kty":"EC","crv":"P-192","kid":"a","x":"AA","y":"AA"}]}`,
		"bad EC base64":     `{"keys":[{"kty":"EC","crv":"P-256","kid":"a","x":"!!","y":"AA"}]}`,
		"EC coord too long": `{"keys":[{"kty":"EC","crv":"P-256","kid":"a","x":"` + b64u(append([]byte{1}, pt[1:33]...)) + `","y":"` + b64u(pt[33:]) + `"}]}`,
		"bad RSA modulus":   `{"keys":[{"kty":"RSA","kid":"a","n":"!!","e":"AQAB"}]}`,
		"empty RSA e":       `{"keys":[{"kty":"RSA","kid":"a","n":"AQAB","e":""}]}`,
		"RSA e too long":    `{"keys":[{"kty":"RSA","kid":"a","n":"AQAB","e":"` + b64u([]byte{1, 0, 0, 0, 1}) + `"}]}`,
		"Ed25519 wrong len": `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"AAAA"}]}`,
		"OKP X25519":        `{"keys":[{"kty":"OKP","crv":"X25519","kid":"a","x":"` + b64u(make([]byte, 32)) + `"}]}`,
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			keys, err := ParseJWKS([]byte(data))
			if err == nil {
				t.Fatalf("no error; keys %v", keys)
			}
			if keys != nil {
				t.Errorf("keys returned alongside an error")
			}
		})
	}
	if _, err := ParseJWKS([]byte("not json")); err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Errorf("err = %v, want it to say JWKS is not JSON", err)
	}
	// An empty set is not an error: there is simply nothing to verify with.
	if keys, err := ParseJWKS([]byte(`{"keys":[]}`)); err != nil || len(keys) != 0 {
		t.Errorf("empty set: %v, %v", keys, err)
	}
}

func TestVerify_RS256ViaPEM(t *testing.T) {
	rk := rsaKey(t)
	keys, err := ParsePEMKeys(pemPublic(t, &rk.PublicKey))
	if err != nil {
		t.Fatalf("ParsePEMKeys: %v", err)
	}
	if len(keys) != 1 {
		t.Fatalf("got %d keys, want 1", len(keys))
	}
	if pub, ok := keys[0].(*rsa.PublicKey); !ok || !pub.Equal(&rk.PublicKey) {
		t.Fatalf("key = %T, not the RSA public key", keys[0])
	}
	raw := sign(t, jwt.SigningMethodRS256, jwt.MapClaims{"sub": "u"}, "whatever", rk)
	wantStatus(t, Verify(raw, Keys{Public: keys}), Verified)

	// Signed by another RSA key: invalid.
	other, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	v := Verify(sign(t, jwt.SigningMethodRS256, jwt.MapClaims{"sub": "u"}, "", other), Keys{Public: keys})
	wantStatus(t, v, Invalid)
	if v.Reason != "signature does not match the key" {
		t.Errorf("Reason = %q", v.Reason)
	}
	// An RS256 token checked against only an EC key: invalid (wrong key type), not a panic.
	wantStatus(t, Verify(raw, Keys{Public: []crypto.PublicKey{&ecKey(t).PublicKey}}), Invalid)
}

func TestVerify_PublicKeysTriedInTurn(t *testing.T) {
	rk := rsaKey(t)
	ec := ecKey(t)
	bundle := append(pemPublic(t, &ecKey(t).PublicKey), pemPublic(t, &ec.PublicKey)...)
	bundle = append(bundle, pemPublic(t, &rk.PublicKey)...)
	keys, err := ParsePEMKeys(bundle)
	if err != nil || len(keys) != 3 {
		t.Fatalf("ParsePEMKeys: %d keys, %v", len(keys), err)
	}
	wantStatus(t, Verify(sign(t, jwt.SigningMethodES256, jwt.MapClaims{}, "", ec), Keys{Public: keys}), Verified)
	wantStatus(t, Verify(sign(t, jwt.SigningMethodRS256, jwt.MapClaims{}, "", rk), Keys{Public: keys}), Verified)
}

// Algorithm confusion: an HS256 token whose "secret" is the server's public RSA key must not
// verify against that public key.
func TestVerify_AlgConfusionRefused(t *testing.T) {
	rk := rsaKey(t)
	pemBytes := pemPublic(t, &rk.PublicKey)
	forged := mintHS256(t, jwt.MapClaims{"sub": "admin"}, "", pemBytes)
	keys, err := ParsePEMKeys(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, Verify(forged, Keys{Public: keys}), Invalid)
	byKID := map[string]crypto.PublicKey{"k": &rk.PublicKey}
	wantStatus(t, Verify(forged, Keys{ByKID: byKID}), Invalid)
}

func TestParsePEMKeys_PKCS1AndCertificate(t *testing.T) {
	rk := rsaKey(t)
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rk.PublicKey)})
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "tokenscope test"},
		NotBefore:    time.Unix(1_700_000_000, 0),
		NotAfter:     time.Unix(1_800_000_000, 0),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &rk.PublicKey, rk)
	if err != nil {
		t.Fatal(err)
	}
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	// Leading text before a PEM block (as in many key files) is skipped.
	data := append([]byte("comment line\n"), pkcs1...)
	data = append(data, cert...)
	keys, err := ParsePEMKeys(data)
	if err != nil {
		t.Fatalf("ParsePEMKeys: %v", err)
	}
	if len(keys) != 2 {
		t.Fatalf("got %d keys, want 2", len(keys))
	}
	for i, k := range keys {
		if pub, ok := k.(*rsa.PublicKey); !ok || !pub.Equal(&rk.PublicKey) {
			t.Errorf("key %d = %T, not the RSA key", i, k)
		}
	}
	raw := sign(t, jwt.SigningMethodRS256, jwt.MapClaims{"sub": "u"}, "", rk)
	wantStatus(t, Verify(raw, Keys{Public: keys[1:]}), Verified)
}

func TestParsePEMKeys_Errors(t *testing.T) {
	ec := ecKey(t)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"PRIVATE KEY", "EC PRIVATE KEY"} {
		body := pkcs8
		if typ == "EC PRIVATE KEY" {
			body = sec1
		}
		t.Run(typ, func(t *testing.T) {
			// Even after a good public key, a private key makes the whole input refused.
			data := append(pemPublic(t, &ec.PublicKey), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: body})...)
			keys, err := ParsePEMKeys(data)
			if err == nil {
				t.Fatalf("private key accepted: %v", keys)
			}
			if keys != nil {
				t.Error("keys returned alongside an error")
			}
			msg := err.Error()
			if !strings.Contains(msg, typ) || !strings.Contains(msg, "private keys are refused") {
				t.Errorf("error = %q, want it to name the block and refuse private keys", msg)
			}
		})
	}
	cases := map[string][]byte{
		"junk":               []byte("this is not PEM at all"),
		"empty":              nil,
		"garbage PUBLIC KEY": pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("garbage")}),
		"garbage RSA key":    pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: []byte("garbage")}),
		"garbage cert":       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("garbage")}),
		"truncated PEM":      pemPublic(t, &ec.PublicKey)[:40],
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			keys, err := ParsePEMKeys(data)
			if err == nil || keys != nil {
				t.Errorf("ParsePEMKeys = %v, %v; want an error", keys, err)
			}
		})
	}
	if _, err := ParsePEMKeys([]byte("junk")); err == nil || !strings.Contains(err.Error(), "no PEM public key") {
		t.Errorf("junk: err = %v, want 'no PEM public key found'", err)
	}
}

func TestVerify_ExpiredTokenStillVerified(t *testing.T) {
	past := time.Now().Add(-48 * time.Hour)
	claims := jwt.MapClaims{"sub": "u", "iat": past.Unix(), "exp": past.Add(time.Hour).Unix(),
		"nbf": time.Now().Add(time.Hour).Unix()} // also not yet valid: still not Verify's concern
	wantStatus(t, Verify(mintHS256(t, claims, "", testSecret), Keys{HMAC: testSecret}), Verified)
	ec := ecKey(t)
	wantStatus(t, Verify(sign(t, jwt.SigningMethodES256, claims, "", ec),
		Keys{Public: []crypto.PublicKey{&ec.PublicKey}}), Verified)
	// A malformed exp does not stop a good signature from verifying either.
	bad := mintHS256(t, jwt.MapClaims{"exp": "tomorrow"}, "", testSecret)
	wantStatus(t, Verify(bad, Keys{HMAC: testSecret}), Verified)
}

func TestVerifyStatusAndKeysHelpers(t *testing.T) {
	for s, want := range map[VerifyStatus]string{NotChecked: "not checked", Verified: "verified", Invalid: "invalid"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(s), s.String(), want)
		}
	}
	if got := (Verification{Status: Verified}).String(); got != "verified" {
		t.Errorf("String = %q", got)
	}
	if got := (Verification{Status: Invalid, Reason: "x"}).String(); got != "invalid: x" {
		t.Errorf("String = %q", got)
	}
	if !(Keys{}).Empty() || !(Keys{HMAC: []byte{}}).Empty() {
		t.Error("Keys with nothing in them not Empty")
	}
	if (Keys{ByKID: map[string]crypto.PublicKey{}}).Empty() {
		t.Error("a JWKS with no keys counted as no JWKS")
	}
	if (Keys{HMAC: []byte("s")}).Empty() || (Keys{Public: []crypto.PublicKey{nil}}).Empty() ||
		(Keys{ByKID: map[string]crypto.PublicKey{"k": nil}}).Empty() {
		t.Error("Keys with a key reported Empty")
	}
}

// TestVerify_EmptyJWKSIsAnAnswer: a JWKS with no keys (an HS256 server publishes none) is a
// check that cannot pass, not "not checked".
func TestVerify_EmptyJWKSIsAnAnswer(t *testing.T) {
	raw := mintHS256(t, jwt.MapClaims{"sub": "u"}, "", testSecret)
	set, err := ParseJWKS([]byte(`{"keys":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	v := Verify(raw, Keys{ByKID: set})
	if v.Status != Invalid || v.Reason == "" {
		t.Errorf("HS256 token against an empty JWKS: %+v, want invalid with a reason", v)
	}
	if v := Verify(raw, Keys{}); v.Status != NotChecked {
		t.Errorf("no keys at all: %+v, want not checked", v)
	}
}
