package apiclient

// Logging in through an identity provider (DESIGN.md "Identity providers"): discovery through
// the engine's own client, the four flows, and the client-credentials "refresh".

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"tokenscope/apiclient/oidc"
	"tokenscope/apiclient/profile"
	"tokenscope/internal/redact"
	"tokenscope/session"
)

// The flows Config.OIDC.Flow names, as --flow spells them.
const (
	FlowAuthCode          = "auth-code"
	FlowDevice            = "device"
	FlowClientCredentials = "client-credentials"
	FlowPassword          = "password"
)

// DefaultOIDCScope is the scope the auth-code and device flows ask for unless told otherwise.
const DefaultOIDCScope = "openid offline_access"

// OIDCFlows lists the flows, the default first.
func OIDCFlows() []string {
	return []string{FlowAuthCode, FlowDevice, FlowClientCredentials, FlowPassword}
}

// OIDCConfig is how the engine logs in at an identity provider. Zero values take the defaults
// noted.
type OIDCConfig struct {
	Issuer       string // required: discovery reads its metadata
	Flow         string // one of OIDCFlows; default auth-code
	ClientID     string // default Config.ClientID
	ClientSecret string // default Config.ClientSecret; empty for a public client
	// Scope defaults to DefaultOIDCScope for auth-code and device, none otherwise.
	Scope       string
	AuthParams  url.Values // extra parameters (audience, resource, access_type, ...)
	RedirectURI string     // auth-code's loopback listener; default oidc.DefaultRedirectURI (port 0: any)
	// ClientAuth is how the client authenticates at the token endpoint; empty chooses from the
	// provider's metadata and the secret (oidc.ChooseAuth).
	ClientAuth oidc.AuthMethod

	// OnAuthURL shows the authorization URL (print it, open the browser); required for auth-code.
	OnAuthURL func(url string)
	// OnDeviceCode shows the verification URI and user code; required for device.
	OnDeviceCode func(d oidc.DeviceAuth)

	// DPoP sender-constrains the tokens (RFC 9449): a key per engine, a proof on every token
	// and resource call, dpop_jkt on the authorization request. A provider that answers
	// token_type Bearer anyway gets Bearer calls and a note in the log.
	DPoP bool
}

// withDefaults checks o and fills in its defaults; cfg is the engine's config, its client
// defaults already in place.
func (o *OIDCConfig) withDefaults(cfg *Config) error {
	if o.Issuer == "" {
		return errors.New("oidc: an issuer URL is required")
	}
	o.Flow = cmp.Or(strings.ToLower(o.Flow), FlowAuthCode)
	if !slices.Contains(OIDCFlows(), o.Flow) {
		return fmt.Errorf("unknown flow %q (want %s)", o.Flow, strings.Join(OIDCFlows(), ", "))
	}
	o.ClientID = cmp.Or(o.ClientID, cfg.ClientID)
	o.ClientSecret = cmp.Or(o.ClientSecret, cfg.ClientSecret)
	if cfg.ClientSecret == "" {
		cfg.ClientSecret = o.ClientSecret // so that redaction knows it
	}
	if o.Scope == "" && (o.Flow == FlowAuthCode || o.Flow == FlowDevice) {
		o.Scope = DefaultOIDCScope
	}
	o.RedirectURI = cmp.Or(o.RedirectURI, oidc.DefaultRedirectURI)
	switch {
	case o.Flow == FlowAuthCode && o.OnAuthURL == nil:
		return errors.New("oidc: the auth-code flow needs OnAuthURL to show the user where to log in")
	case o.Flow == FlowDevice && o.OnDeviceCode == nil:
		return errors.New("oidc: the device flow needs OnDeviceCode to show the user the code")
	}
	return nil
}

// idpLink is the discovered provider and the OAuth client the engine is there.
type idpLink struct {
	client *oidc.Client
	flow   string
}

// link discovers the provider once, through the engine's own client (the engine's transport,
// no redirects followed, the refresh timeout per call), and fetches its key set for the flows
// that return an ID token.
func (e *Engine) link(ctx context.Context) (*idpLink, error) {
	if l := e.idp.Load(); l != nil {
		return l, nil
	}
	o := e.cfg.OIDC
	hc := e.auth.GetClient()
	p, err := oidc.Discover(ctx, hc, o.Issuer)
	if err != nil {
		return nil, err
	}
	c := &oidc.Client{HTTP: hc, Provider: p, ID: o.ClientID, Secret: o.ClientSecret, Auth: o.ClientAuth, Clock: e.clock,
		ServerNow: func() time.Time { return e.onServerClock(e.now()) }}
	if o.Flow == FlowAuthCode || o.Flow == FlowDevice {
		if err := e.setKeyfunc(ctx, c); err != nil {
			return nil, err
		}
	}
	l := &idpLink{client: c, flow: o.Flow}
	if !e.idp.CompareAndSwap(nil, l) {
		return e.idp.Load(), nil
	}
	return l, nil
}

// setKeyfunc has ID token signatures checked with the provider's published keys. A provider
// that signs ID tokens only with HMAC (HS256, keyed by the client secret, OIDC Core §10.1)
// publishes no key for them: its ID tokens' claims are still checked, and a note says that
// their signatures are not.
func (e *Engine) setKeyfunc(ctx context.Context, c *oidc.Client) error {
	p := c.Provider
	algs := p.IDTokenSigningAlgValuesSupported
	hmacOnly := len(algs) > 0 && !slices.ContainsFunc(algs, func(a string) bool { return !strings.HasPrefix(a, "HS") })
	switch {
	case hmacOnly:
		e.Note(fmt.Sprintf("ID token signatures are not checked: the provider signs them with %s (a shared secret), not a published key; iss, aud, exp and nonce still are", strings.Join(algs, ", ")))
		return nil
	case p.JWKSURI == "":
		e.Note("ID token signatures are not checked: the provider publishes no jwks_uri; iss, aud, exp and nonce still are")
		return nil
	}
	keys, err := oidc.FetchKeys(ctx, c.HTTP, p.JWKSURI)
	if err != nil {
		return err
	}
	c.Keyfunc = oidc.KeysKeyfunc(keys, p.JWKSURI)
	e.mu.Lock()
	// The provider's keys check the access token too, unless the user named keys of their own.
	// Not the refresh token: many providers sign it with a secret of their own (Keycloak's
	// HS256), and a refresh token is not the client's to check.
	e.idpKeys = session.Keys{ByKID: keys}
	e.verifyLocked()
	e.mu.Unlock()
	return nil
}

// loginOIDC runs the configured flow at the provider and installs its tokens.
func (e *Engine) loginOIDC(ctx context.Context) ([]Result, error) {
	o := e.cfg.OIDC
	l, err := e.link(ctx)
	if err != nil {
		return nil, e.loginFailed(oidcReason(err), err)
	}
	if o.Flow == FlowPassword {
		if err := e.loginPassword(ctx, l.client.Provider.TokenEndpoint, "with the password flow as "+e.cfg.Username); err != nil {
			return nil, err
		}
		if e.Snapshot().Refresh.Raw == "" {
			if hint := oidc.RefreshHint(o.Scope, profile.Answer{}); hint != "" {
				e.Note(hint)
			}
		}
		return e.replayParked(ctx), nil
	}
	var tok profile.Answer
	switch o.Flow {
	case FlowClientCredentials:
		tok, err = l.client.ClientCredentials(ctx, o.Scope, o.AuthParams)
	case FlowDevice:
		tok, err = e.deviceFlow(ctx, l.client)
	default:
		tok, err = e.authCodeFlow(ctx, l.client)
	}
	if err != nil {
		return nil, e.loginFailed(oidcReason(err), err)
	}
	e.installLogin(tok, tok.IDToken, fmt.Sprintf("with the %s flow as %s", o.Flow, e.loggedInAs(tok.IDToken)))
	if hint := oidc.RefreshHint(o.Scope, tok); hint != "" {
		e.Note(hint)
	}
	return e.replayParked(ctx), nil
}

// deviceFlow is RFC 8628: a device code, shown to the user, then polling until approval. An ID
// token that comes back is checked as the code flow's is (no nonce in this flow).
func (e *Engine) deviceFlow(ctx context.Context, c *oidc.Client) (profile.Answer, error) {
	o := e.cfg.OIDC
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

// authCodeFlow is RFC 6749 §4.1 with PKCE: listen on the loopback redirect, show the URL, wait
// for the browser to come back, redeem the code and check the ID token.
func (e *Engine) authCodeFlow(ctx context.Context, c *oidc.Client) (profile.Answer, error) {
	o := e.cfg.OIDC
	cb, err := oidc.Listen(o.RedirectURI)
	if err != nil {
		return profile.Answer{}, err
	}
	defer cb.Close()
	req := c.NewAuthCodeRequest(cb.RedirectURI, o.Scope, o.AuthParams)
	if e.dpop != nil {
		// RFC 9449 §10: the code is bound to the key, so a stolen code is of no use elsewhere.
		req.Extra.Set("dpop_jkt", e.dpop.key.Thumbprint())
	}
	u, err := req.AuthURL(ctx)
	if err != nil {
		return profile.Answer{}, err
	}
	o.OnAuthURL(u)
	e.cfg.Secrets.Add(redact.Credential, req.Verifier)
	code, err := cb.Wait(ctx, req)
	if err != nil {
		return profile.Answer{}, err
	}
	e.cfg.Secrets.Add(redact.Credential, code)
	return req.Exchange(ctx, code)
}

// refreshClientCredentials is the client-credentials flow's refresh: there is no refresh
// token, so a new token is fetched with the grant. It runs inside runRefresh, so single flight
// holds: any number of waiting requests share one fetch.
func (e *Engine) refreshClientCredentials(ctx context.Context, l *idpLink) (profile.Answer, *RefreshError) {
	o := e.cfg.OIDC
	tok, err := l.client.ClientCredentials(ctx, o.Scope, o.AuthParams)
	if err != nil {
		// The verdict decides, as for any refresh; the provider's error (and its hint) words it.
		v := e.profile.RefreshVerdict(oidcReply(err))
		return profile.Answer{}, &RefreshError{Transient: v.Outcome != profile.VerdictRejected, Reason: oidcReason(err)}
	}
	// A client-credentials grant issues no refresh token to rotate.
	tok.Rotated = false
	return tok, nil
}

// oidcReply is a token endpoint's failed answer as the refresh verdict reads it: an OAuth
// error with its status (one sent with a 2xx is the 400 RFC 6749 §5.2 says it is), or no
// readable answer at all (a network error, a 5xx without an OAuth error): the next try may
// well work.
func oidcReply(err error) profile.Reply {
	var oe *oidc.Error
	if !errors.As(err, &oe) {
		return profile.Reply{Err: err}
	}
	status := oe.Status
	if status >= 200 && status < 300 {
		status = http.StatusBadRequest
	}
	body, _ := json.Marshal(map[string]string{"error": oe.Code, "error_description": oe.Description})
	return profile.Reply{Status: status, Header: http.Header{"Content-Type": {"application/json"}}, Body: body}
}

// loggedInAs names who logged in: the ID token's preferred_username or sub, else the client.
func (e *Engine) loggedInAs(idTok session.Token) string {
	for _, k := range []string{"preferred_username", "sub"} {
		if s, ok := idTok.Claims[k].(string); ok && s != "" {
			return e.redactClip(clipRunes(s, 64))
		}
	}
	return "client " + e.cfg.OIDC.ClientID
}

func clipRunes(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// oidcReason is an error's text, with the provider error's hint when it has one.
func oidcReason(err error) string {
	var oe *oidc.Error
	if errors.As(err, &oe) {
		if h := oe.Hint(); h != "" {
			return err.Error() + " (hint: " + h + ")"
		}
	}
	return err.Error()
}
