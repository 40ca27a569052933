package session

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// VerifyStatus is the outcome of a signature check.
type VerifyStatus int

// Verification outcomes.
const (
	NotChecked VerifyStatus = iota // no key was given
	Verified
	Invalid
)

func (s VerifyStatus) String() string {
	switch s {
	case Verified:
		return "verified"
	case Invalid:
		return "invalid"
	default:
		return "not checked"
	}
}

// Verification is a signature check result with the reason when it failed.
type Verification struct {
	Status VerifyStatus
	Reason string
}

func (v Verification) String() string {
	if v.Reason != "" {
		return v.Status.String() + ": " + v.Reason
	}
	return v.Status.String()
}

// Keys are the keys a user supplied to verify tokens with. The zero value checks nothing.
type Keys struct {
	HMAC   []byte                      // shared secret for HS256/384/512
	Public []crypto.PublicKey          // PEM keys: tried in turn when the token has no matching kid
	ByKID  map[string]crypto.PublicKey // from a JWKS; non-nil (even empty) when one was given
}

// Empty reports whether no key was supplied. A JWKS that holds no keys counts as supplied:
// the user asked for a check, and "not checked" would hide that it cannot pass.
func (k Keys) Empty() bool { return len(k.HMAC) == 0 && len(k.Public) == 0 && k.ByKID == nil }

// Verify checks the signature of raw with keys. It does not judge expiry: an expired token
// with a good signature is verified (expiry is shown as the token's phase). alg none, in any
// letter case, and a missing alg are always invalid, key or no key.
func Verify(raw string, keys Keys) Verification {
	t := ParseToken(raw, time.Time{}, 0)
	if !t.JWT {
		if keys.Empty() {
			return Verification{Status: NotChecked}
		}
		return Verification{Status: Invalid, Reason: "not a JWT: cannot verify an opaque token"}
	}
	if t.Unsigned {
		if t.Alg == "" {
			return Verification{Status: Invalid, Reason: "no alg: the token is unsigned"}
		}
		return Verification{Status: Invalid, Reason: fmt.Sprintf("alg %q: the token is unsigned", t.Alg)}
	}
	if keys.Empty() {
		return Verification{Status: NotChecked}
	}
	var candidates []any
	switch {
	case len(keys.HMAC) > 0 && isHMAC(t.Alg):
		candidates = []any{keys.HMAC}
	case isHMAC(t.Alg):
		return Verification{Status: Invalid, Reason: t.Alg + " token but no HMAC secret was given"}
	default:
		if k, ok := keys.ByKID[t.Kid]; ok && t.Kid != "" {
			candidates = []any{k}
		} else {
			for _, k := range keys.ByKID {
				candidates = append(candidates, k)
			}
			for _, k := range keys.Public {
				candidates = append(candidates, k)
			}
		}
	}
	if len(candidates) == 0 {
		return Verification{Status: Invalid, Reason: fmt.Sprintf("no key for alg %s kid %q", t.Alg, t.Kid)}
	}
	var last error
	for _, k := range candidates {
		_, err := jwt.NewParser(jwt.WithoutClaimsValidation(), jwt.WithValidMethods([]string{t.Alg})).
			Parse(raw, func(*jwt.Token) (any, error) { return k, nil })
		if err == nil {
			return Verification{Status: Verified}
		}
		last = err
	}
	reason := last.Error()
	if errors.Is(last, jwt.ErrTokenSignatureInvalid) {
		reason = "signature does not match the key"
	}
	return Verification{Status: Invalid, Reason: reason}
}

func isHMAC(alg string) bool { return alg == "HS256" || alg == "HS384" || alg == "HS512" }

// ParsePEMKeys reads public keys (PKIX "PUBLIC KEY", PKCS#1 "RSA PUBLIC KEY" or certificates)
// from PEM data.
func ParsePEMKeys(data []byte) ([]crypto.PublicKey, error) {
	var keys []crypto.PublicKey
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		switch block.Type {
		case "PUBLIC KEY":
			k, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PEM PUBLIC KEY: %w", err)
			}
			keys = append(keys, k)
		case "RSA PUBLIC KEY":
			k, err := x509.ParsePKCS1PublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PEM RSA PUBLIC KEY: %w", err)
			}
			keys = append(keys, k)
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PEM CERTIFICATE: %w", err)
			}
			keys = append(keys, c.PublicKey)
		default:
			return nil, fmt.Errorf("PEM block %q is not a public key (private keys are refused: give the public half)", block.Type)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM public key found")
	}
	return keys, nil
}

// ParseJWKS reads a JSON Web Key Set (RFC 7517) into keys by kid. EC (P-256/384/521), RSA and
// OKP Ed25519 signing keys are understood; other keys are skipped.
func ParseJWKS(data []byte) (map[string]crypto.PublicKey, error) {
	var set struct {
		Keys []struct {
			Kty, Kid, Crv, Use, X, Y, N, E string
		} `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("JWKS is not JSON: %w", err)
	}
	out := map[string]crypto.PublicKey{}
	b64 := base64.RawURLEncoding.DecodeString
	for i, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		kid := k.Kid
		if kid == "" {
			kid = fmt.Sprintf("#%d", i)
		}
		switch k.Kty {
		case "EC":
			curves := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}
			c, ok := curves[k.Crv]
			x, errX := b64(k.X)
			y, errY := b64(k.Y)
			if !ok || errX != nil || errY != nil {
				return nil, fmt.Errorf("JWKS key %q: bad EC key", Clip(kid))
			}
			size := (c.Params().BitSize + 7) / 8
			if len(x) > size || len(y) > size {
				return nil, fmt.Errorf("JWKS key %q: EC coordinates too long", Clip(kid))
			}
			pt := make([]byte, 1+2*size)
			pt[0] = 4
			copy(pt[1+size-len(x):1+size], x)
			copy(pt[1+2*size-len(y):], y)
			pub, err := ecdsa.ParseUncompressedPublicKey(c, pt)
			if err != nil {
				return nil, fmt.Errorf("JWKS key %q: %w", Clip(kid), err)
			}
			out[kid] = pub
		case "RSA":
			n, errN := b64(k.N)
			e, errE := b64(k.E)
			if errN != nil || errE != nil || len(e) == 0 || len(e) > 4 || len(n) == 0 {
				return nil, fmt.Errorf("JWKS key %q: bad RSA key", Clip(kid))
			}
			out[kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		case "OKP":
			x, err := b64(k.X)
			if k.Crv != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("JWKS key %q: bad OKP key", Clip(kid))
			}
			out[kid] = ed25519.PublicKey(x)
		}
	}
	return out, nil
}
