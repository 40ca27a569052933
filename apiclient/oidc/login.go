package oidc

// What a login at an identity provider is configured with, and the flows that run it to a token
// answer. The engine installs the answer; the password flow is the engine's own (it posts the
// credentials in its profile's wire format).

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"tokenscope/apiclient/profile"
)

// The flows Config.Flow names, as --flow spells them.
const (
	FlowAuthCode          = "auth-code"
	FlowDevice            = "device"
	FlowClientCredentials = "client-credentials"
	FlowPassword          = "password"
)

// DefaultScope is the scope the auth-code and device flows ask for unless told otherwise.
const DefaultScope = "openid offline_access"

// Flows lists the flows, the default first.
func Flows() []string {
	return []string{FlowAuthCode, FlowDevice, FlowClientCredentials, FlowPassword}
}

// Config is how the engine logs in at an identity provider. Zero values take the defaults
// noted.
type Config struct {
	Issuer       string // required: discovery reads its metadata
	Flow         string // one of Flows; default auth-code
	ClientID     string // default the engine's client id
	ClientSecret string // default the engine's client secret; empty for a public client
	// Scope defaults to DefaultScope for auth-code and device, none otherwise.
	Scope       string
	AuthParams  url.Values // extra parameters (audience, resource, access_type, ...)
	RedirectURI string     // auth-code's loopback listener; default DefaultRedirectURI (port 0: any)
	// ClientAuth is how the client authenticates at the token endpoint; empty chooses from the
	// provider's metadata and the secret (ChooseAuth).
	ClientAuth AuthMethod

	// OnAuthURL shows the authorization URL (print it, open the browser); required for auth-code.
	OnAuthURL func(url string)
	// OnDeviceCode shows the verification URI and user code; required for device.
	OnDeviceCode func(d DeviceAuth)

	// DPoP sender-constrains the tokens (RFC 9449): a key per engine, a proof on every token
	// and resource call, dpop_jkt on the authorization request. A provider that answers
	// token_type Bearer anyway gets Bearer calls and a note in the log.
	DPoP bool
}

// WithDefaults checks o and fills in its defaults; clientID and secret are the engine's.
func (o *Config) WithDefaults(clientID, secret string) error {
	if o.Issuer == "" {
		return errors.New("oidc: an issuer URL is required")
	}
	o.Flow = cmp.Or(strings.ToLower(o.Flow), FlowAuthCode)
	if !slices.Contains(Flows(), o.Flow) {
		return fmt.Errorf("unknown flow %q (want %s)", o.Flow, strings.Join(Flows(), ", "))
	}
	o.ClientID = cmp.Or(o.ClientID, clientID)
	o.ClientSecret = cmp.Or(o.ClientSecret, secret)
	if o.Scope == "" && (o.Flow == FlowAuthCode || o.Flow == FlowDevice) {
		o.Scope = DefaultScope
	}
	o.RedirectURI = cmp.Or(o.RedirectURI, DefaultRedirectURI)
	switch {
	case o.Flow == FlowAuthCode && o.OnAuthURL == nil:
		return errors.New("oidc: the auth-code flow needs OnAuthURL to show the user where to log in")
	case o.Flow == FlowDevice && o.OnDeviceCode == nil:
		return errors.New("oidc: the device flow needs OnDeviceCode to show the user the code")
	}
	return nil
}

// Login runs o's flow to a token answer: client credentials, device or auth code (the password
// flow is the engine's). jkt, when not empty, binds the authorization code to that DPoP key
// (RFC 9449 §10), so that a stolen code is of no use elsewhere. keep is told each secret the
// flow makes on the way (the PKCE verifier, the code), so that the caller masks it too.
func (c *Client) Login(ctx context.Context, o *Config, jkt string, keep func(secret string)) (profile.Answer, error) {
	switch o.Flow {
	case FlowClientCredentials:
		return c.ClientCredentials(ctx, o.Scope, o.AuthParams)
	case FlowDevice:
		return c.deviceLogin(ctx, o)
	case FlowAuthCode:
		return c.authCodeLogin(ctx, o, jkt, keep)
	}
	return profile.Answer{}, fmt.Errorf("oidc: the %s flow is not run here", o.Flow)
}

// deviceLogin is RFC 8628: a device code, shown to the user, then polling until approval. An
// ID token that comes back is checked as the code flow's is (no nonce in this flow).
func (c *Client) deviceLogin(ctx context.Context, o *Config) (profile.Answer, error) {
	d, err := c.StartDevice(ctx, o.Scope, o.AuthParams)
	if err != nil {
		return profile.Answer{}, err
	}
	o.OnDeviceCode(*d)
	tok, err := c.PollDevice(ctx, d)
	if err != nil {
		return profile.Answer{}, err
	}
	if !tok.IDToken.Empty() {
		if _, err := c.VerifyIDToken(tok.IDToken.Raw, ""); err != nil {
			return profile.Answer{}, err
		}
	}
	return tok, nil
}

// authCodeLogin is RFC 6749 §4.1 with PKCE: listen on the loopback redirect, show the URL, wait
// for the browser to come back, redeem the code and check the ID token.
func (c *Client) authCodeLogin(ctx context.Context, o *Config, jkt string, keep func(string)) (profile.Answer, error) {
	cb, err := Listen(o.RedirectURI)
	if err != nil {
		return profile.Answer{}, err
	}
	defer cb.Close()
	req := c.NewAuthCodeRequest(cb.RedirectURI, o.Scope, o.AuthParams)
	if jkt != "" {
		req.Extra.Set("dpop_jkt", jkt)
	}
	u, err := req.AuthURL(ctx)
	if err != nil {
		return profile.Answer{}, err
	}
	o.OnAuthURL(u)
	keep(req.Verifier)
	code, err := cb.Wait(ctx, req)
	if err != nil {
		return profile.Answer{}, err
	}
	keep(code)
	return req.Exchange(ctx, code)
}

// Reason is an error's text, with the provider error's hint when it has one.
func Reason(err error) string {
	var oe *Error
	if errors.As(err, &oe) {
		if h := oe.Hint(); h != "" {
			return err.Error() + " (hint: " + h + ")"
		}
	}
	return err.Error()
}
