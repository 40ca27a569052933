package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"tokenscope/apiclient/profile"
)

// DefaultRedirectURI is the loopback redirect tokenscope listens on unless --redirect-uri says
// otherwise. Fixed, because some providers match the port too.
const DefaultRedirectURI = "http://127.0.0.1:8765/callback"

// AuthCodeRequest is one authorization code flow (RFC 6749 §4.1) with PKCE S256, state and
// nonce. NewAuthCodeRequest fills the secrets; the fields are exported for the caller to show
// and for tests.
type AuthCodeRequest struct {
	Client      *Client
	RedirectURI string
	Scope       string
	State       string
	Nonce       string
	Verifier    string     // PKCE code_verifier; the challenge is its S256
	Extra       url.Values // prompt, audience, resource, access_type, login_hint, ...
	UsePAR      bool       // push the request (RFC 9126) even when the provider does not require it
}

// NewAuthCodeRequest starts a flow with fresh state, nonce and verifier. When scope asks for
// offline_access and extra sets no prompt, it adds prompt=consent (OIDC Core §11: some
// providers issue a refresh token only then).
func (c *Client) NewAuthCodeRequest(redirectURI, scope string, extra url.Values) *AuthCodeRequest {
	if redirectURI == "" {
		redirectURI = DefaultRedirectURI
	}
	ex := url.Values{}
	for k, v := range extra {
		ex[k] = append([]string(nil), v...)
	}
	if hasScope(scope, "offline_access") && !ex.Has("prompt") {
		ex.Set("prompt", "consent")
	}
	return &AuthCodeRequest{Client: c, RedirectURI: redirectURI, Scope: scope, State: randomString(24),
		Nonce: randomString(24), Verifier: NewVerifier(), Extra: ex}
}

// params are the authorization request's parameters (RFC 6749 §4.1.1, RFC 7636 §4.3, OIDC
// Core §3.1.2.1).
func (r *AuthCodeRequest) params() url.Values {
	q := withExtra(url.Values{
		"response_type":         {"code"},
		"client_id":             {r.Client.ID},
		"redirect_uri":          {r.RedirectURI},
		"state":                 {r.State},
		"code_challenge":        {S256Challenge(r.Verifier)},
		"code_challenge_method": {"S256"},
	}, r.Extra)
	if r.Scope != "" {
		q.Set("scope", r.Scope)
	}
	if r.Nonce != "" && hasScope(r.Scope, "openid") {
		q.Set("nonce", r.Nonce)
	}
	return q
}

// AuthURL is the URL to open in the browser. When the provider requires pushed authorization
// requests (or UsePAR is set) it first POSTs the parameters to the PAR endpoint with client
// authentication; the URL then carries only client_id and request_uri (RFC 9126 §4).
func (r *AuthCodeRequest) AuthURL(ctx context.Context) (string, error) {
	c := r.Client
	if err := c.check(); err != nil {
		return "", err
	}
	p := c.Provider
	if p.AuthorizationEndpoint == "" {
		return "", errors.New("oidc: the provider has no authorization_endpoint")
	}
	q := r.params()
	if r.UsePAR || p.RequirePushedAuthorizationRequests {
		uri, err := r.push(ctx, q)
		if err != nil {
			return "", err
		}
		q = url.Values{"client_id": {c.ID}, "request_uri": {uri}}
	}
	sep := "?"
	if strings.Contains(p.AuthorizationEndpoint, "?") {
		sep = "&"
	}
	return p.AuthorizationEndpoint + sep + q.Encode(), nil
}

// push sends the request to the PAR endpoint and returns its request_uri (RFC 9126 §2).
func (r *AuthCodeRequest) push(ctx context.Context, q url.Values) (string, error) {
	c := r.Client
	if c.Provider.PushedAuthorizationRequestEndpoint == "" {
		return "", errors.New("oidc: the provider requires pushed authorization requests but names no pushed_authorization_request_endpoint")
	}
	q.Del("client_id") // client authentication adds it as its method wants
	status, body, err := c.post(ctx, c.Provider.PushedAuthorizationRequestEndpoint, q)
	if err != nil {
		return "", err
	}
	if e := oauthErrorFrom(status, body); e != nil {
		return "", e
	}
	var out struct {
		RequestURI string `json:"request_uri"`
	}
	if status < 200 || status > 299 || json.Unmarshal(body, &out) != nil || out.RequestURI == "" {
		return "", fmt.Errorf("oidc: pushed authorization request: HTTP %d without a request_uri", status)
	}
	return out.RequestURI, nil
}

// Exchange redeems an authorization code (RFC 6749 §4.1.3) with its PKCE verifier.
func (c *Client) Exchange(ctx context.Context, code, verifier, redirectURI string) (profile.Answer, error) {
	return c.token(ctx, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"code_verifier": {verifier}, "redirect_uri": {redirectURI}})
}

// Exchange redeems the code this request's callback returned, then checks the ID token (when
// the answer has one, and it must when the scope held openid) against the request's nonce.
func (r *AuthCodeRequest) Exchange(ctx context.Context, code string) (profile.Answer, error) {
	c := r.Client
	tok, err := c.Exchange(ctx, code, r.Verifier, r.RedirectURI)
	if err != nil {
		return profile.Answer{}, err
	}
	if tok.IDToken.Empty() {
		if hasScope(r.Scope, "openid") {
			return profile.Answer{}, errors.New("oidc: the scope held openid but the token response has no id_token")
		}
		return tok, nil
	}
	if _, err := c.VerifyIDToken(tok.IDToken.Raw, r.Nonce); err != nil {
		return profile.Answer{}, err
	}
	return tok, nil
}
