package apiclient

import (
	"context"
	"crypto"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"tokenscope/session"
)

// maxJWKSBytes caps a key set: real ones are a few kilobytes.
const maxJWKSBytes = 1 << 20

// FetchJWKS downloads a JSON Web Key Set and returns its signing keys by kid.
func FetchJWKS(ctx context.Context, rawURL string) (map[string]crypto.PublicKey, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http(s) URL", rawURL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", rawURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching %s: HTTP %d", rawURL, resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", rawURL, err)
	}
	if len(data) > maxJWKSBytes {
		return nil, fmt.Errorf("%s: key set larger than %d bytes", rawURL, maxJWKSBytes)
	}
	keys, err := session.ParseJWKS(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rawURL, err)
	}
	// An empty set is not an error here: the tokens then show "no key for alg …", which says
	// more than refusing to start (an HS256 server publishes no keys at all).
	return keys, nil
}
