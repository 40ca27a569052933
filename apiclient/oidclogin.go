package apiclient

// Logging in through an identity provider (DESIGN.md "Identity providers"): discovery through
// the engine's own client, the four flows, and the client-credentials "refresh".

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"tokenscope/apiclient/oidc"
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
	c := &oidc.Client{HTTP: hc, Provider: p, ID: o.ClientID, Secret: o.ClientSecret, Auth: o.ClientAuth, Sleep: o.Sleep, Now: e.now}
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
		return nil, e.loginFailed(oidc.Reason(err))
	}
	if o.Flow == oidc.FlowPassword {
		if err := e.loginPassword(ctx, l.client.Provider.TokenEndpoint, "with the password flow as "+e.cfg.Username); err != nil {
			return nil, err
		}
		if e.Snapshot().Refresh.Raw == "" {
			if hint := oidc.RefreshHint(o.Scope, &oidc.Token{}); hint != "" {
				e.Note(hint)
			}
		}
		return e.replayParked(ctx), nil
	}
	jkt := ""
	if e.dpop != nil {
		jkt = e.dpop.key.Thumbprint()
	}
	tok, err := l.client.Login(ctx, o, jkt)
	if err != nil {
		return nil, e.loginFailed(oidc.Reason(err))
	}
	p, idTok := e.oidcPair(tok)
	e.installLogin(p, idTok, fmt.Sprintf("with the %s flow as %s", o.Flow, e.loggedInAs(idTok)))
	if hint := oidc.RefreshHint(o.Scope, tok); hint != "" {
		e.Note(hint)
	}
	return e.replayParked(ctx), nil
}

// refreshClientCredentials is the client-credentials flow's refresh: there is no refresh
// token, so a new token is fetched with the grant. It runs inside runRefresh, so single flight
// holds: any number of waiting requests share one fetch.
func (e *Engine) refreshClientCredentials(ctx context.Context, l *idpLink) (pair, *RefreshError) {
	o := e.cfg.OIDC
	tok, err := l.client.ClientCredentials(ctx, o.Scope, o.AuthParams)
	if err != nil {
		return pair{}, &RefreshError{Transient: oidc.Transient(err), Reason: oidc.Reason(err)}
	}
	p, _ := e.oidcPair(tok)
	p.rotated = false
	return p, nil
}

// oidcPair turns a token answer into the session's tokens, stamped on the server's clock.
func (e *Engine) oidcPair(tok *oidc.Token) (pair, session.Token) {
	at := e.serverNow()
	p := pair{access: session.ParseToken(tok.AccessToken, at, tok.ExpiresIn), tokenType: tok.TokenType}
	if tok.RefreshToken != "" {
		p.refresh, p.rotated = session.ParseToken(tok.RefreshToken, at, 0), true
	}
	var idTok session.Token
	if tok.IDToken != "" {
		idTok = session.ParseToken(tok.IDToken, at, 0)
	}
	return p, idTok
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
