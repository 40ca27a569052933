package oidc

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"net/http"

	"github.com/golang-jwt/jwt/v5"

	"tokenscope/session"
)

// MaxJWKSBytes caps a key set.
const MaxJWKSBytes = 256 << 10

// JWKSKeyfunc fetches a JSON Web Key Set (RFC 7517) through hc and returns a jwt.Keyfunc that
// picks the key by the token's kid (or the only key when there is one). Keys are read by
// session.ParseJWKS, as for --verify-jwks. Set it as Client.Keyfunc to have ID token
// signatures checked.
func JWKSKeyfunc(ctx context.Context, hc *http.Client, jwksURI string) (jwt.Keyfunc, error) {
	keys, err := FetchKeys(ctx, hc, jwksURI)
	if err != nil {
		return nil, err
	}
	return KeysKeyfunc(keys, jwksURI), nil
}

// FetchKeys fetches a JSON Web Key Set through hc: its keys by kid.
func FetchKeys(ctx context.Context, hc *http.Client, jwksURI string) (map[string]crypto.PublicKey, error) {
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
	var keys map[string]crypto.PublicKey
	if err == nil {
		keys, err = session.ParseJWKS(body) // the one JWK reader, shared with --verify-jwks
	}
	if err != nil {
		return nil, fmt.Errorf("oidc: GET %s: %w", jwksURI, err)
	}
	return keys, nil
}

// KeysKeyfunc picks a key of keys by the token's kid, or the only key when there is one;
// where names the key set in errors.
func KeysKeyfunc(keys map[string]crypto.PublicKey, where string) jwt.Keyfunc {
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
		return nil, fmt.Errorf("no key %q in %s", kid, where)
	}
}
