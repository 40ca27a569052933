package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"tokenscope/internal/hostcheck"
)

// Provider is an identity provider's metadata (OIDC Discovery §3, RFC 8414 §2, RFC 9126 §5,
// RFC 9207 §3).
type Provider struct {
	Issuer                             string   `json:"issuer"`
	AuthorizationEndpoint              string   `json:"authorization_endpoint"`
	TokenEndpoint                      string   `json:"token_endpoint"`
	DeviceAuthorizationEndpoint        string   `json:"device_authorization_endpoint"`
	PushedAuthorizationRequestEndpoint string   `json:"pushed_authorization_request_endpoint"`
	RevocationEndpoint                 string   `json:"revocation_endpoint"`
	IntrospectionEndpoint              string   `json:"introspection_endpoint"`
	UserinfoEndpoint                   string   `json:"userinfo_endpoint"`
	JWKSURI                            string   `json:"jwks_uri"`
	GrantTypesSupported                []string `json:"grant_types_supported"`
	ResponseTypesSupported             []string `json:"response_types_supported"`
	ScopesSupported                    []string `json:"scopes_supported"`
	TokenEndpointAuthMethodsSupported  []string `json:"token_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported      []string `json:"code_challenge_methods_supported"`
	IDTokenSigningAlgValuesSupported   []string `json:"id_token_signing_alg_values_supported"`

	RequirePushedAuthorizationRequests         bool `json:"require_pushed_authorization_requests"`
	AuthorizationResponseIssParameterSupported bool `json:"authorization_response_iss_parameter_supported"`

	// DiscoveryURL is where the document was read.
	DiscoveryURL string `json:"-"`
}

// DiscoveryURLs returns where an issuer's metadata may live, in the order Discover tries them:
// OIDC Discovery §4 appends /.well-known/openid-configuration to the issuer; RFC 8414 §3 puts
// /.well-known/oauth-authorization-server between the host and the issuer's path.
func DiscoveryURLs(issuer string) ([]string, error) {
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("oidc: issuer %q is not an http(s) URL", issuer)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("oidc: issuer %q must have no query or fragment (RFC 8414 §2)", issuer)
	}
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	base := u.Scheme + "://" + u.Host
	return []string{
		base + path + "/.well-known/openid-configuration",
		base + "/.well-known/oauth-authorization-server" + path,
	}, nil
}

// Discover reads the issuer's metadata: OpenID Connect discovery first, RFC 8414 when that
// fails. The document's issuer must be the one asked for (OIDC Discovery §4.3, RFC 8414 §3.3;
// a trailing slash aside), else it is an error: a provider answering for another issuer is how
// mix-up attacks start. hc is the caller's client; Discover never builds its own.
func Discover(ctx context.Context, hc *http.Client, issuer string) (*Provider, error) {
	if hc == nil {
		return nil, errors.New("oidc: Discover needs the caller's *http.Client")
	}
	urls, err := DiscoveryURLs(issuer)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, u := range urls {
		p, err := fetchMetadata(ctx, hc, u)
		if err == nil {
			if err := checkProvider(p, issuer); err != nil {
				return nil, err
			}
			return p, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		if _, unreachable := errors.AsType[*net.OpError](err); unreachable {
			// The fallback is on the same host: one message, not the same refusal twice.
			return nil, fmt.Errorf("oidc: discovery: cannot reach the issuer %s: %w", issuer, err)
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("oidc: no discovery document for issuer %s: %w", issuer, errors.Join(errs...))
}

func fetchMetadata(ctx context.Context, hc *http.Client, u string) (*Provider, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := readCapped(resp, MaxDiscoveryBytes)
	if err != nil {
		return nil, fmt.Errorf("GET %s: HTTP %d: %w", u, resp.StatusCode, err)
	}
	ct := resp.Header.Get("Content-Type")
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d (%s)", u, resp.StatusCode, describeBody(ct, body))
	}
	if !isJSON(ct, body) {
		return nil, fmt.Errorf("GET %s: HTTP %d: not a JSON metadata document (%s): is the issuer URL right?", u, resp.StatusCode, describeBody(ct, body))
	}
	var p Provider
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("GET %s: HTTP %d: bad metadata JSON: %w", u, resp.StatusCode, err)
	}
	p.DiscoveryURL = u
	return &p, nil
}

func checkProvider(p *Provider, issuer string) error {
	if strings.TrimSuffix(p.Issuer, "/") != strings.TrimSuffix(issuer, "/") {
		if strings.Contains(p.Issuer, "{tenantid}") {
			// Entra ID's common and organizations endpoints stand for every tenant.
			return fmt.Errorf("oidc: %s names the issuer template %q: give the issuer with your directory (tenant) ID in place of common or organizations", p.DiscoveryURL, p.Issuer)
		}
		return fmt.Errorf("oidc: %s names issuer %q, not %q: refusing a provider that speaks for another issuer (OIDC Discovery §4.3, RFC 8414 §3.3)", p.DiscoveryURL, p.Issuer, issuer)
	}
	if p.TokenEndpoint == "" {
		return fmt.Errorf("oidc: %s has no token_endpoint", p.DiscoveryURL)
	}
	return p.checkEndpoints(issuer)
}

// checkEndpoints refuses a document that names an endpoint tokenscope may not talk to: client
// secrets, passwords, codes and tokens travel to these, so each must be https (RFC 8414 §2, RFC
// 6749 §3.1, §3.2), unless the issuer itself is http on loopback (a local provider, the demo), in
// which case an http endpoint must be on loopback too.
func (p *Provider) checkEndpoints(issuer string) error {
	localHTTP := false
	if u, err := url.Parse(issuer); err == nil && u.Scheme == "http" && hostcheck.IsLoopbackHost(u.Hostname()) {
		localHTTP = true
	}
	for _, ep := range []struct{ name, url string }{
		{"authorization_endpoint", p.AuthorizationEndpoint}, {"token_endpoint", p.TokenEndpoint},
		{"device_authorization_endpoint", p.DeviceAuthorizationEndpoint},
		{"pushed_authorization_request_endpoint", p.PushedAuthorizationRequestEndpoint},
		{"jwks_uri", p.JWKSURI}, {"userinfo_endpoint", p.UserinfoEndpoint},
		{"revocation_endpoint", p.RevocationEndpoint}, {"introspection_endpoint", p.IntrospectionEndpoint},
	} {
		if ep.url == "" {
			continue
		}
		u, err := url.Parse(ep.url)
		switch {
		case err != nil || u.Host == "" || u.User != nil:
			return fmt.Errorf("oidc: %s names %s %q, which is not an absolute https URL: refused", p.DiscoveryURL, ep.name, ep.url)
		case u.Scheme == "https":
		case u.Scheme == "http" && localHTTP && hostcheck.IsLoopbackHost(u.Hostname()):
		case u.Scheme == "http" && localHTTP:
			return fmt.Errorf("oidc: %s names %s %q: an http endpoint is allowed only on loopback, like the issuer: refused", p.DiscoveryURL, ep.name, ep.url)
		default:
			return fmt.Errorf("oidc: %s names %s %q: endpoints must be https (credentials and tokens travel there; http is allowed only when the issuer itself is http on loopback): refused", p.DiscoveryURL, ep.name, ep.url)
		}
	}
	return nil
}

// UnsafeURLError is a URL tokenscope will not hand to the system's opener, and why.
type UnsafeURLError struct{ URL, Why string }

func (e *UnsafeURLError) Error() string { return fmt.Sprintf("not opened: %q %s", e.URL, e.Why) }

// CheckBrowserURL says whether u may be handed to the system's opener (xdg-open, open, start):
// only an absolute https URL, or http on loopback. A provider names the authorization and
// verification URLs; a file:, javascript: or option-like ("--help") value must reach the user as
// text, never a program.
func CheckBrowserURL(u string) error {
	p, err := url.Parse(u)
	switch {
	case err != nil || p.Host == "" || p.Opaque != "":
		return &UnsafeURLError{u, "is not an absolute https URL"}
	case p.Scheme == "https":
		return nil
	case p.Scheme == "http" && hostcheck.IsLoopbackHost(p.Hostname()):
		return nil
	case p.Scheme == "http":
		return &UnsafeURLError{u, "is plain http to another machine (only https, or http on loopback, is opened)"}
	}
	return &UnsafeURLError{u, "is a " + p.Scheme + ": URL, not https"}
}
