package apiclient

// Logging in through an identity provider (DESIGN.md "Identity providers"): discovery through
// the engine's own client, the four flows, and the client-credentials "refresh".

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"tokenscope/apiclient/oidc"
	"tokenscope/apiclient/profile"
	"tokenscope/internal/redact"
	"tokenscope/session"
)

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
	c := &oidc.Client{HTTP: hc, Provider: p, ID: o.ClientID, Secret: o.ClientSecret, Auth: o.ClientAuth, Clock: e.cfg.Clock,
		ServerNow: func() time.Time { return e.onServerClock(e.now()) }}
	if o.Flow == oidc.FlowAuthCode || o.Flow == oidc.FlowDevice {
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
	// The provider's keys check the access token too, unless the user named keys of their own.
	// Not the refresh token: many providers sign it with a secret of their own (Keycloak's
	// HS256), and a refresh token is not the client's to check.
	e.store.setProviderKeys(session.Keys{ByKID: keys})
	return nil
}

// loginOIDC runs the configured flow at the provider and installs its tokens.
func (e *Engine) loginOIDC(ctx context.Context) ([]Result, error) {
	o := e.cfg.OIDC
	l, err := e.link(ctx)
	if err != nil {
		return nil, e.loginFailed(oidc.Reason(err), err)
	}
	if o.Flow == oidc.FlowPassword {
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
	jkt := ""
	if e.dpop != nil {
		jkt = e.dpop.key.Thumbprint()
	}
	tok, err := l.client.Login(ctx, o, jkt, func(secret string) { e.cfg.Secrets.Add(redact.Credential, secret) })
	if err != nil {
		return nil, e.loginFailed(oidc.Reason(err), err)
	}
	e.installLogin(tok, tok.IDToken, fmt.Sprintf("with the %s flow as %s", o.Flow, e.loggedInAs(tok.IDToken)))
	if hint := oidc.RefreshHint(o.Scope, tok); hint != "" {
		e.Note(hint)
	}
	return e.replayParked(ctx), nil
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
		return profile.Answer{}, &RefreshError{Transient: v.Outcome != profile.VerdictRejected, Reason: oidc.Reason(err)}
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
