package apiclient

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"tokenscope/internal/redact"
	"tokenscope/session"
)

// maxJWKSBytes caps a key set: real ones are a few kilobytes.
const maxJWKSBytes = 1 << 20

// jwksTimeout bounds the fetch even when the caller's context does not.
const jwksTimeout = 10 * time.Second

// FetchJWKS downloads a JSON Web Key Set through the engine's transport (its --ca-cert and
// --insecure settings) and returns its signing keys by kid.
func (e *Engine) FetchJWKS(ctx context.Context, rawURL string) (map[string]crypto.PublicKey, error) {
	return FetchJWKS(ctx, e.transport, rawURL)
}

// FetchJWKS downloads a JSON Web Key Set through rt, which comes from NewTransport (an engine
// has one: see Engine.FetchJWKS), and returns its signing keys by kid.
func FetchJWKS(ctx context.Context, rt http.RoundTripper, rawURL string) (map[string]crypto.PublicKey, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http(s) URL", rawURL)
	}
	where := redact.URL(u.String()) // a URL may carry credentials; messages must not
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	req.Header.Set("Accept", "application/json")
	if rt == nil {
		if rt, err = NewTransport(TLSOptions{}); err != nil {
			return nil, err
		}
	}
	resp, err := (&http.Client{Transport: rt, Timeout: jwksTimeout}).Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err) {
			return nil, fmt.Errorf("%s: no answer within %s", where, jwksTimeout)
		}
		return nil, err // *url.Error names the URL with the password removed
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %s", where, session.Clip(resp.Status)) // the reason phrase is the server's
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: reading the key set: %w", where, err)
	}
	if len(data) > maxJWKSBytes {
		return nil, fmt.Errorf("%s: the key set is larger than %d bytes", where, maxJWKSBytes)
	}
	keys, err := session.ParseJWKS(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	// An empty set is not an error here: the tokens then show "no key for alg …", which says
	// more than refusing to start (an HS256 server publishes no keys at all).
	return keys, nil
}
