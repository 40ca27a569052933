package oidc

import (
	"context"
	"errors"
	"fmt"
	"net/url"
)

// ErrNoEndpoint says the provider's metadata names no endpoint for what was asked.
var ErrNoEndpoint = errors.New("the provider's discovery document names no such endpoint")

// Revoke asks the provider to revoke a token (RFC 7009 §2.1), authenticated as the client.
// hint is "refresh_token" or "access_token" (a hint only: the server may search further).
// Revoking a refresh token also ends the access tokens of its grant where the provider
// supports that (RFC 7009 §2.1 says it SHOULD). The server answers 200 also for a token it
// did not know (§2.2), so success says the token is dead, not that it was alive.
func (c *Client) Revoke(ctx context.Context, token, hint string) error {
	if err := c.check(); err != nil {
		return err
	}
	if c.Provider.RevocationEndpoint == "" {
		return fmt.Errorf("revocation: %w", ErrNoEndpoint)
	}
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	status, body, err := c.post(ctx, c.Provider.RevocationEndpoint, form)
	switch {
	case status == 200:
		return nil // its body is empty or anything (§2.2): the only error would be "not JSON"
	case err != nil:
		return err
	}
	if e := oauthErrorFrom(status, body); e != nil {
		return e
	}
	return fmt.Errorf("revocation: HTTP %d: %s", status, describeBody("", body))
}

// Introspect asks the provider what it knows of a token (RFC 7662 §2.1), authenticated as the
// client, and returns the answer as it came: the caller shows it.
func (c *Client) Introspect(ctx context.Context, token, hint string) (int, []byte, error) {
	if err := c.check(); err != nil {
		return 0, nil, err
	}
	if c.Provider.IntrospectionEndpoint == "" {
		return 0, nil, fmt.Errorf("introspection: %w", ErrNoEndpoint)
	}
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	return c.post(ctx, c.Provider.IntrospectionEndpoint, form)
}
