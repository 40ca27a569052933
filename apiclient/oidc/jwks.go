package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"

	"github.com/golang-jwt/jwt/v5"
)

// MaxJWKSBytes caps a key set.
const MaxJWKSBytes = 256 << 10

// JWKSKeyfunc fetches a JSON Web Key Set (RFC 7517) through hc and returns a jwt.Keyfunc that
// picks the key by the token's kid (or the only key when there is one). EC (P-256, P-384,
// P-521) and RSA keys are read; others are skipped. Set it as Client.Keyfunc to have ID token
// signatures checked.
func JWKSKeyfunc(ctx context.Context, hc *http.Client, jwksURI string) (jwt.Keyfunc, error) {
	if hc == nil {
		return nil, errors.New("oidc: JWKSKeyfunc needs the caller's *http.Client")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, jwksURI, nil)
	if err != nil {
		return nil, fmt.Errorf("oidc: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("oidc: GET %s: %w", jwksURI, err)
	}
	defer resp.Body.Close()
	body, err := readCapped(resp.Body, MaxJWKSBytes)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err == nil {
		err = json.Unmarshal(body, &set)
	}
	if err != nil {
		return nil, fmt.Errorf("oidc: GET %s: %w", jwksURI, err)
	}
	keys := map[string]crypto.PublicKey{}
	for _, raw := range set.Keys {
		if kid, k, err := parseJWK(raw); err == nil {
			keys[kid] = k
		}
	}
	return func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if k, ok := keys[kid]; ok {
			return k, nil
		}
		if len(keys) == 1 && kid == "" {
			for _, k := range keys {
				return k, nil
			}
		}
		return nil, fmt.Errorf("no key %q in %s", kid, jwksURI)
	}, nil
}

func parseJWK(raw json.RawMessage) (string, crypto.PublicKey, error) {
	var k struct {
		Kty, Kid, Crv, X, Y, N, E, Use string
	}
	if err := json.Unmarshal(raw, &k); err != nil {
		return "", nil, err
	}
	if k.Use != "" && k.Use != "sig" {
		return "", nil, errors.New("not a signing key")
	}
	b := func(s string) *big.Int {
		d, _ := base64.RawURLEncoding.DecodeString(s)
		return new(big.Int).SetBytes(d)
	}
	switch k.Kty {
	case "EC":
		curves := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}
		c, ok := curves[k.Crv]
		if !ok {
			return "", nil, fmt.Errorf("curve %q", k.Crv)
		}
		size := (c.Params().BitSize + 7) / 8
		x, errX := base64.RawURLEncoding.DecodeString(k.X)
		y, errY := base64.RawURLEncoding.DecodeString(k.Y)
		if errX != nil || errY != nil || len(x) != size || len(y) != size {
			return "", nil, errors.New("bad EC coordinates")
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(c, append(append([]byte{4}, x...), y...))
		return k.Kid, pub, err
	case "RSA":
		e := b(k.E)
		if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31 {
			return "", nil, errors.New("bad RSA exponent")
		}
		return k.Kid, &rsa.PublicKey{N: b(k.N), E: int(e.Int64())}, nil
	}
	return "", nil, fmt.Errorf("key type %q", k.Kty)
}
