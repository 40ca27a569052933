package oidc

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tokenscope/apiclient/profile"
	"tokenscope/internal/clock"
)

// AuthMethod is a token endpoint client authentication method (RFC 6749 §2.3, OIDC Core §9).
type AuthMethod string

// The methods this package speaks.
const (
	AuthNone  AuthMethod = "none"                // public client: client_id in the form
	AuthBasic AuthMethod = "client_secret_basic" // HTTP Basic with the form-encoded id and secret
	AuthPost  AuthMethod = "client_secret_post"  // client_id and client_secret in the form
)

// ChooseAuth picks the method for a client from the provider's
// token_endpoint_auth_methods_supported: none without a secret (never Basic with an empty
// one); with a secret Basic when supported (RFC 8414's default when the list is absent), else
// post.
func ChooseAuth(supported []string, secret string) AuthMethod {
	if secret == "" {
		return AuthNone
	}
	if len(supported) == 0 {
		return AuthBasic
	}
	if !slices.Contains(supported, string(AuthBasic)) && slices.Contains(supported, string(AuthPost)) {
		return AuthPost
	}
	return AuthBasic
}

// Client is one OAuth client at one provider. Build it with the engine's *http.Client; it is
// safe for concurrent use once built.
type Client struct {
	HTTP     *http.Client // required: the caller's client, built on the engine's transport
	Provider *Provider
	ID       string
	Secret   string     // empty for a public client
	Auth     AuthMethod // empty: ChooseAuth from the provider's metadata

	// Keyfunc checks ID token signatures (see JWKSKeyfunc); nil leaves signatures unchecked
	// while iss, aud, azp, exp and nonce are still checked.
	Keyfunc jwt.Keyfunc
	// Clock is the time source for exp checks and the device code's lifetime, and its timers
	// space the device polls; nil is the real clock.
	Clock clock.Clock
	// ServerNow is when a token answer arrived, on the provider's clock: an opaque token's
	// expiry counts from it (the engine adds the clock skew it learned). nil is Now.
	ServerNow func() time.Time

	mu      sync.Mutex
	learned AuthMethod // client_secret_post after Basic was refused
}

// Method is the client authentication the client uses now: the one it learned (client_secret_post
// after Basic was refused), else Auth, else ChooseAuth from the provider's metadata. A caller that
// sends its own token endpoint calls (the engine's refresh) authenticates the same way.
func (c *Client) Method() AuthMethod { return c.method() }

func (c *Client) method() AuthMethod {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.learned != "":
		return c.learned
	case c.Auth != "":
		return c.Auth
	case c.Provider != nil:
		return ChooseAuth(c.Provider.TokenEndpointAuthMethodsSupported, c.Secret)
	}
	return ChooseAuth(nil, c.Secret)
}

func (c *Client) clock() clock.Clock {
	if c.Clock != nil {
		return c.Clock
	}
	return clock.System{}
}

func (c *Client) now() time.Time {
	return c.clock().Now()
}

func (c *Client) serverNow() time.Time {
	if c.ServerNow != nil {
		return c.ServerNow()
	}
	return c.now()
}

func (c *Client) check() error {
	switch {
	case c.HTTP == nil:
		return errors.New("oidc: Client.HTTP is nil: the caller hands in the engine's client")
	case c.Provider == nil:
		return errors.New("oidc: Client.Provider is nil: Discover the issuer first")
	case c.ID == "":
		return errors.New("oidc: Client.ID is empty")
	}
	return nil
}

// post sends form to an endpoint of the provider with client authentication. When Basic is
// refused with invalid_client it tries client_secret_post once and keeps using it.
func (c *Client) post(ctx context.Context, endpoint string, form url.Values) (int, []byte, error) {
	if err := c.check(); err != nil {
		return 0, nil, err
	}
	m := c.method()
	status, body, err := c.postWith(ctx, m, endpoint, form)
	if m != AuthBasic || err != nil {
		return status, body, err
	}
	if e := oauthErrorFrom(status, body); e == nil || e.Code != "invalid_client" {
		return status, body, nil
	}
	status, body, err = c.postWith(ctx, AuthPost, endpoint, form)
	if err == nil && status >= 200 && status <= 299 {
		c.mu.Lock()
		c.learned = AuthPost
		c.mu.Unlock()
	}
	return status, body, err
}

func (c *Client) postWith(ctx context.Context, m AuthMethod, endpoint string, form url.Values) (int, []byte, error) {
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	var basic [2]string
	switch m {
	case AuthBasic:
		basic = [2]string{c.ID, c.Secret}
	case AuthPost:
		f.Set("client_id", c.ID)
		f.Set("client_secret", c.Secret)
	default:
		f.Set("client_id", c.ID)
	}
	return postForm(ctx, c.HTTP, endpoint, f, basic)
}

// token posts a grant to the token endpoint and parses the answer.
func (c *Client) token(ctx context.Context, form url.Values) (profile.Answer, error) {
	if err := c.check(); err != nil {
		return profile.Answer{}, err
	}
	status, body, err := c.post(ctx, c.Provider.TokenEndpoint, form)
	if err != nil {
		return profile.Answer{}, err
	}
	return parseTokenResponse(status, body, c.serverNow())
}

// ClientCredentials asks for a token for the client itself (RFC 6749 §4.4): no user, no
// refresh token. extra holds further parameters (audience, resource, ...).
func (c *Client) ClientCredentials(ctx context.Context, scope string, extra url.Values) (profile.Answer, error) {
	form := withExtra(url.Values{"grant_type": {"client_credentials"}}, extra)
	if scope != "" {
		form.Set("scope", scope)
	}
	return c.token(ctx, form)
}

// withExtra adds extra's parameters to form without overriding what form already holds.
func withExtra(form, extra url.Values) url.Values {
	for k, v := range extra {
		if _, set := form[k]; !set && len(v) > 0 {
			form[k] = v
		}
	}
	return form
}
