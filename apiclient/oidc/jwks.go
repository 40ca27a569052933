package oidc

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tokenscope/internal/redact"
	"tokenscope/session"
)

// MaxJWKSBytes caps a key set: real ones are a few kilobytes.
const MaxJWKSBytes = 256 << 10

// FetchTimeout bounds a key-set fetch even when the caller's context does not.
const FetchTimeout = 10 * time.Second

// FetchKeys downloads a JSON Web Key Set (RFC 7517) through hc and returns its signing keys by
// kid: the one key-set fetch, for a provider's jwks_uri and for a key set the user names alike.
// hc carries the caller's transport (its CA and TLS settings). Keys are read by
// session.ParseJWKS. An empty set is not an error: tokens then show "no key for alg …", which
// says more than refusing to start (an HS256 server publishes no keys at all).
func FetchKeys(ctx context.Context, hc *http.Client, rawURL string) (map[string]crypto.PublicKey, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http or https URL", rawURL)
	}
	if hc == nil {
		return nil, errors.New("oidc: FetchKeys needs the caller's *http.Client")
	}
	where := redact.URL(u.String()) // a URL may carry credentials; messages must not
	ctx, cancel := context.WithTimeout(ctx, FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err) {
			return nil, fmt.Errorf("%s: no answer within %s", where, FetchTimeout)
		}
		return nil, err // *url.Error names the URL with the password removed
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %s", where, session.Clip(resp.Status)) // the reason phrase is the server's
	}
	body, err := readCapped(resp, MaxJWKSBytes)
	if err != nil {
		return nil, fmt.Errorf("%s: reading the key set: %w", where, err)
	}
	keys, err := session.ParseJWKS(body) // the one JWK reader
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return keys, nil
}

// KeysKeyfunc picks a key of keys by the token's kid, or the only key when there is one;
// where names the key set in errors. Set it as Client.Keyfunc to have ID token signatures
// checked.
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
