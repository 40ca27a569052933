package apiclient

import (
	"context"
	"crypto"
	"net/http"

	"tokenscope/apiclient/oidc"
)

// FetchJWKS downloads a JSON Web Key Set through the engine's transport (its CA and TLS
// settings) and returns its signing keys by kid; oidc.FetchKeys is the fetch.
func (e *Engine) FetchJWKS(ctx context.Context, rawURL string) (map[string]crypto.PublicKey, error) {
	return oidc.FetchKeys(ctx, &http.Client{Transport: e.cfg.Transport}, rawURL)
}
