package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"tokenscope/apiclient/profile"
)

// DefaultDeviceInterval is the polling interval when the provider sends none (RFC 8628 §3.2).
const DefaultDeviceInterval = 5 * time.Second

// slowDownStep is what each slow_down adds to the interval for the rest of the flow (§3.5).
const slowDownStep = 5 * time.Second

// GrantDeviceCode is the device grant's grant_type (RFC 8628 §3.4).
const GrantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"

// DeviceAuth is a device authorization response (RFC 8628 §3.2). Show the user
// VerificationURIComplete when given, else VerificationURI and UserCode.
type DeviceAuth struct {
	DeviceCode              string
	UserCode                string
	VerificationURI         string
	VerificationURIComplete string
	ExpiresIn               time.Duration
	Interval                time.Duration // grows by 5 s with each slow_down while polling
	Expires                 time.Time     // by the client's clock; zero when expires_in was absent
	// Verifier is the PKCE code verifier sent with the polls, when the device request carried
	// a challenge (see StartDevice).
	Verifier string
}

// ErrNoDeviceEndpoint: the provider offers no device flow; the auth-code flow is the way.
var ErrNoDeviceEndpoint = errors.New("oidc: the provider has no device_authorization_endpoint: use the auth-code flow")

// StartDevice asks the provider for a device code (RFC 8628 §3.1).
func (c *Client) StartDevice(ctx context.Context, scope string, extra url.Values) (*DeviceAuth, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	if c.Provider.DeviceAuthorizationEndpoint == "" {
		return nil, ErrNoDeviceEndpoint
	}
	form := withExtra(url.Values{}, extra)
	if scope != "" {
		form.Set("scope", scope)
	}
	// PKCE is not part of RFC 8628, but Keycloak demands it on the device request of a client
	// configured for PKCE (keycloak/keycloak#9710). A provider that advertises S256 gets a
	// challenge; RFC 6749 §3.1 has servers ignore parameters they do not know.
	var verifier string
	if slices.Contains(c.Provider.CodeChallengeMethodsSupported, "S256") {
		verifier = NewVerifier()
		form.Set("code_challenge", S256Challenge(verifier))
		form.Set("code_challenge_method", "S256")
	}
	status, body, err := c.post(ctx, c.Provider.DeviceAuthorizationEndpoint, form)
	if err != nil {
		return nil, err
	}
	if e := oauthErrorFrom(status, body); e != nil {
		return nil, e
	}
	if status < 200 || status > 299 {
		return nil, fmt.Errorf("oidc: device authorization answered HTTP %d", status)
	}
	d, err := parseDeviceAuth(body, c.now())
	if d != nil {
		d.Verifier = verifier
	}
	return d, err
}

func parseDeviceAuth(body []byte, now time.Time) (*DeviceAuth, error) {
	var raw struct {
		DeviceCode      string          `json:"device_code"`
		UserCode        string          `json:"user_code"`
		VerificationURI string          `json:"verification_uri"`
		VerificationURL string          `json:"verification_url"` // Google's spelling
		Complete        string          `json:"verification_uri_complete"`
		ExpiresIn       json.RawMessage `json:"expires_in"`
		Interval        json.RawMessage `json:"interval"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("oidc: device authorization response: %w", err)
	}
	if raw.VerificationURI == "" {
		raw.VerificationURI = raw.VerificationURL
	}
	if raw.DeviceCode == "" || raw.UserCode == "" || raw.VerificationURI == "" {
		return nil, errors.New("oidc: device authorization response lacks device_code, user_code or verification_uri")
	}
	exp, err := parseSeconds(raw.ExpiresIn)
	if err != nil {
		return nil, fmt.Errorf("oidc: device authorization response: expires_in: %w", err)
	}
	iv, err := parseSeconds(raw.Interval)
	if err != nil {
		return nil, fmt.Errorf("oidc: device authorization response: interval: %w", err)
	}
	if iv <= 0 {
		iv = DefaultDeviceInterval
	}
	d := &DeviceAuth{DeviceCode: raw.DeviceCode, UserCode: raw.UserCode, VerificationURI: raw.VerificationURI,
		VerificationURIComplete: raw.Complete, ExpiresIn: exp, Interval: iv}
	if exp > 0 {
		d.Expires = now.Add(exp)
	}
	return d, nil
}

// PollDevice polls the token endpoint until the user approves (RFC 8628 §3.4, §3.5): it waits
// the interval before every poll, goes on after authorization_pending, adds 5 s to the interval
// for the rest of the flow after slow_down, and stops with the typed *Error on access_denied,
// expired_token or anything else, or with ctx's error.
func (c *Client) PollDevice(ctx context.Context, d *DeviceAuth) (profile.Answer, error) {
	if err := c.check(); err != nil {
		return profile.Answer{}, err
	}
	form := url.Values{"grant_type": {GrantDeviceCode}, "device_code": {d.DeviceCode}}
	if d.Verifier != "" {
		form.Set("code_verifier", d.Verifier)
	}
	for {
		if !d.Expires.IsZero() && !c.now().Before(d.Expires) {
			return profile.Answer{}, &Error{Code: "expired_token", Description: "the device code expired before the user approved"}
		}
		if err := c.sleep(ctx, d.Interval); err != nil {
			return profile.Answer{}, err
		}
		tok, err := c.token(ctx, form)
		var e *Error
		if !errors.As(err, &e) {
			return tok, err
		}
		switch e.Code {
		case "authorization_pending":
		case "slow_down":
			d.Interval += slowDownStep
		default:
			return profile.Answer{}, e
		}
	}
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	t := c.clock().NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
