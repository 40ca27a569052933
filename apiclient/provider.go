package apiclient

// What an identity provider offers beside logging in: revocation when the user signs out
// (RFC 7009), and userinfo and introspection (RFC 7662) as ready-made requests.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"tokenscope/apiclient/oidc"
	"tokenscope/apiclient/profile"
	"tokenscope/apiclient/sent"
	"tokenscope/session"
)

// ProviderIntrospect marks a Request the engine sends to the provider's introspection endpoint
// with the current access token in its form: a preset cannot hold the token itself.
const ProviderIntrospect = "introspect"

// ProviderUserinfo marks the provider's userinfo request: it goes to the identity provider's
// origin, not the target's, and the attacher gives it the access token the provider issued but
// none of the target's own headers.
const ProviderUserinfo = "userinfo"

// ProviderRequests are the provider's ready-made requests (userinfo, introspection of the
// access token) once the provider is known: after a login or the first refresh. Without an
// identity provider, or before that, there are none.
func (e *Engine) ProviderRequests() []profile.Request {
	l := e.idp.Load()
	if l == nil {
		return nil
	}
	p := l.client.Provider
	var out []profile.Request
	if p.UserinfoEndpoint != "" && l.flow != oidc.FlowClientCredentials {
		out = append(out, profile.Request{Name: "userinfo", Method: http.MethodGet, Path: p.UserinfoEndpoint, Provider: ProviderUserinfo})
	}
	if p.IntrospectionEndpoint != "" {
		out = append(out, profile.Request{Name: "introspect the access token", Method: http.MethodPost,
			Path: p.IntrospectionEndpoint, Provider: ProviderIntrospect})
	}
	return out
}

// introspect sends a ProviderIntrospect request: the current access token, authenticated as
// the client. It is not an API call, so no refresh or retry happens around it.
func (e *Engine) introspect(ctx context.Context, c *call) Result {
	start := e.now()
	res := Result{ID: c.id, Request: c.req, Sent: start}
	l := e.idp.Load()
	acc, _ := e.store.tokens()
	gen, _ := e.store.generation()
	fail := func(reason string) Result {
		res.Outcome, res.Reason, res.Done = Failed, reason, e.now()
		res.Duration = res.Done.Sub(start)
		e.emit(&session.Event{Kind: session.KindRequestFailed, RequestID: c.id, Method: c.req.Method, Path: c.req.Path,
			Duration: res.Duration, Reason: reason})
		return res
	}
	switch {
	case l == nil:
		return fail("introspection: the provider is not known yet (log in first)")
	case acc.Raw == "":
		return fail("introspection: no access token to ask about")
	}
	e.emit(&session.Event{Time: start, Kind: session.KindRequest, RequestID: c.id, Method: c.req.Method, Path: c.req.Path,
		Attempt: 1, Generation: gen, Token: acc.Fingerprint(), Reason: "introspect gen #" + fmt.Sprint(gen)})
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	// The client's credentials and the token travel in the form the provider's client builds:
	// the record says where it went, not what it carried.
	res.Attempts = []Attempt{{Generation: gen, Token: acc.Fingerprint(), Sent: start, Out: sent.New(sent.Parts{Method: c.req.Method, Path: c.req.Path})}}
	status, body, err := l.client.Introspect(ctx, acc.Raw, "access_token")
	if err != nil {
		return fail(e.redactClip(oidc.Reason(err)))
	}
	res.Status, res.Body, res.Done = status, body, e.now()
	res.Attempts[0].Status, res.Attempts[0].Answered = status, res.Done
	res.Header = http.Header{"Content-Type": {"application/json"}}
	res.Duration = res.Done.Sub(start)
	e.emit(&session.Event{Time: res.Done, Kind: session.KindResponse, RequestID: c.id, Method: c.req.Method, Path: c.req.Path,
		Status: status, Duration: res.Duration, Attempt: 1})
	if status >= 400 {
		res.Outcome, res.Reason = Failed, fmt.Sprintf("HTTP %d", status)
	}
	return res
}

// SignOut ends the session as Logout does, after asking the identity provider to revoke the
// refresh token (or, without one, the access token) when it has a revocation endpoint. It
// says what happened; the session ends whatever the provider answered.
func (e *Engine) SignOut(ctx context.Context) string {
	defer e.Logout()
	l := e.idp.Load()
	if e.cfg.OIDC == nil || l == nil {
		return "logged out (tokens forgotten; no identity provider to revoke them at)"
	}
	acc, tok := e.store.tokens()
	hint := "refresh_token"
	if tok.Raw == "" {
		tok, hint = acc, "access_token"
	}
	if tok.Raw == "" {
		return "logged out (no token to revoke)"
	}
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	err := l.client.Revoke(ctx, tok.Raw, hint)
	var msg string
	switch {
	case err == nil:
		msg = fmt.Sprintf("revoked the %s %s at the provider (RFC 7009)", humanHint(hint), tok.Fingerprint())
	case errors.Is(err, oidc.ErrNoEndpoint):
		msg = "the provider has no revocation endpoint: the tokens were forgotten here but stay valid until they expire"
	default:
		msg = "revocation failed, the tokens may stay valid until they expire: " + e.redactClip(oidc.Reason(err))
	}
	e.Note(msg)
	return msg
}

func humanHint(h string) string {
	if h == "refresh_token" {
		return "refresh token"
	}
	return "access token"
}

// InteractiveLoginTimeout bounds a login that waits for a person (a browser login, a device
// code entered elsewhere): minutes, not the seconds an API call gets.
const InteractiveLoginTimeout = 10 * time.Minute

// LoginWaitsForUser says whether logging in waits for a person: the auth-code and device flows.
func (e *Engine) LoginWaitsForUser() bool {
	o := e.cfg.OIDC
	return o != nil && (o.Flow == oidc.FlowAuthCode || o.Flow == oidc.FlowDevice)
}

// LoginTimeout is how long a login may take: timeout, or InteractiveLoginTimeout when it
// waits for a person.
func (e *Engine) LoginTimeout(timeout time.Duration) time.Duration {
	if e.LoginWaitsForUser() {
		return max(timeout, InteractiveLoginTimeout)
	}
	return timeout
}

// flow is the identity provider's login flow, or "" without one.
func (e *Engine) flow() string {
	if e.cfg.OIDC == nil {
		return ""
	}
	return e.cfg.OIDC.Flow
}

// idTokenCheck says in words what the login checked of the ID token: a token that failed a
// check never got this far.
func (e *Engine) idTokenCheck(idToken session.Token) string {
	if idToken.Empty() {
		return ""
	}
	l := e.idp.Load()
	if l == nil {
		return "not checked in this run (resumed from a session file)"
	}
	claims := "iss, aud, exp"
	if l.flow == oidc.FlowAuthCode {
		claims += ", nonce"
	}
	if l.client.Keyfunc == nil {
		return claims + " checked · signature not checked (no published key)"
	}
	return "signature, " + claims + " checked"
}
