package apiclient

// Login, logout and the replay of requests parked while the session was dead.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"tokenscope/apiclient/profile"
	"tokenscope/apiclient/transport"
	"tokenscope/internal/redact"
	"tokenscope/session"
)

// Login logs in with the configured credentials, starting a new token family. Requests parked
// while the session was dead are then replayed in the order they arrived; their results are
// returned in that order. With Config.OIDC set it logs in through the identity provider.
func (e *Engine) Login(ctx context.Context) ([]Result, error) {
	if e.cfg.OIDC != nil {
		return e.loginOIDC(ctx)
	}
	if err := e.loginPassword(ctx, e.profile.Login.Target(), "as "+e.cfg.Username); err != nil {
		return nil, err
	}
	return e.replayParked(ctx), nil
}

// loginPassword posts the credentials in the profile's wire format to target (the profile's
// login path, or an identity provider's token endpoint) and installs the answer; how says how
// the login event names it ("as demo").
func (e *Engine) loginPassword(ctx context.Context, target, how string) error {
	ep := e.profile.Login
	fields := map[string]string{ep.UserField: e.cfg.Username, ep.PasswordField: e.cfg.Password}
	if o := e.cfg.OIDC; o != nil {
		for k := range o.AuthParams {
			fields[k] = o.AuthParams.Get(k)
		}
		if o.Scope != "" {
			fields["scope"] = o.Scope
		}
	}
	r := e.authRequest(ctx, ep, fields)
	sent := e.now()
	ans, err := e.exchange(r, ep.Method, target)
	recv := e.now()
	if err != nil {
		return e.loginFailed(transport.Describe(err), err)
	}
	e.observeDate(ans.header, sent, recv)
	call := e.authCall(ep.Method, target)
	if st := ans.status; st >= 300 && st < 400 {
		return e.loginFailed(call(fmt.Sprintf("HTTP %d redirect to %q, not followed: credentials go to the login endpoint only", st, ans.header.Get("Location"))), nil)
	} else if st >= 400 {
		return e.loginFailed(call(fmt.Sprintf("HTTP %d: %s", st, e.bodySummary(ans.body))), nil)
	}
	// An identity provider may leave out the refresh token (no offline_access): not an error.
	p, err := e.readAnswer(ans, sent, recv, e.cfg.OIDC == nil)
	if err != nil {
		return e.loginFailed(call(err.Error()), nil)
	}
	e.installLogin(p, session.Token{}, how)
	return nil
}

// installLogin starts a new session with a logged-in profile.Answer (and the ID token, when the login
// brought one) and records it; how completes "logged in ...".
func (e *Engine) installLogin(p profile.Answer, idTok session.Token, how string) {
	e.keepSecret(p.Access, p.Refresh, idTok)
	if bindNote := e.store.login(p, idTok, func() string { return e.bind(p, true) }); bindNote != "" {
		e.Note(bindNote)
	}
	e.emit(&session.Event{Kind: session.KindLogin, Generation: 1, Exp: p.Access.ExpiresAt, Token: p.Access.Fingerprint(),
		Reason: fmt.Sprintf("logged in %s; gen #1 %s", how, expiryText(p.Access, e.serverNow()))})
	e.nudge()
}

// replayParked sends parked requests one at a time, in the order the user sent them, while
// the session stays live. Requests parked while the replay runs are replayed too.
func (e *Engine) replayParked(ctx context.Context) []Result {
	var results []Result
	for {
		if _, st := e.store.generation(); st != session.StateActive { // a refresh in flight does not stop it
			return results
		}
		pr, ok := e.parked.pop()
		if !ok {
			return results
		}
		e.emit(&session.Event{Kind: session.KindReplayed, RequestID: pr.id, Method: pr.req.Method, Path: pr.req.Path,
			Reason: "replaying after login"})
		results = append(results, e.do(ctx, &call{id: pr.id, req: pr.req, replayed: true}))
	}
}

// loginFailed logs a failed login and returns it; cause is the transport's error, if any.
func (e *Engine) loginFailed(reason string, cause error) error {
	reason = e.redactClip(reason)
	e.emit(&session.Event{Kind: session.KindLoginFailed, End: session.EndLoginFailed, Reason: reason})
	return &LoginError{Reason: reason, Err: cause}
}

// Logout forgets the tokens. Requests sent afterwards are parked until the next Login.
func (e *Engine) Logout() {
	e.store.logout()
	e.forgetCookies()
	e.emit(&session.Event{Kind: session.KindLogout, End: session.EndUserLogout, Reason: "logged out by the user"})
}

// Parked returns how many requests wait for a login.
func (e *Engine) Parked() int { return e.parked.len() }

// loginRequired ends the session for end, said in reason.
func (e *Engine) loginRequired(end session.End, reason string) {
	if e.store.end(end, reason) {
		e.counters.loggedOut.Add(1)
		e.emit(&session.Event{Kind: session.KindLogout, State: session.StateLoginRequired, End: end, Reason: "login required: " + reason})
	}
}

// UntrustedCert reports whether err is (or wraps) a certificate the transport did not trust:
// the caller, which knows how the user sets trust, says how.
func UntrustedCert(err error) bool {
	var verify *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &invalid)
}

// LoginError is a failed login: Reason is what the log says, Err the transport's error when the
// call got no answer (UntrustedCert finds a certificate problem in it).
type LoginError struct {
	Reason string
	Err    error
}

func (e *LoginError) Error() string { return "login failed: " + e.Reason }

// Unwrap is the transport's error, or nil.
func (e *LoginError) Unwrap() error { return e.Err }

// authCall returns what names a failed answer of a login or refresh call: its method and URL
// first (an error page says nothing of where it came from), and a hint when the base URL and
// the endpoint's path repeat a segment at their join. A transport error names its URL itself.
func (e *Engine) authCall(method, target string) func(reason string) string {
	u, doubled := joinedURL(e.cfg.BaseURL, target)
	return func(reason string) string {
		s := method + " " + u + ": " + reason
		if doubled != "" {
			s += fmt.Sprintf(" (the path looks doubled (%s): the target is the base URL; the profile's paths are joined to it)", doubled)
		}
		return s
	}
}

// joinedURL is the URL a call to target goes to, as resty joins it to the base URL (its
// password masked), and the doubled stretch ("/api/api/...") when the base URL's path ends with
// the segments target's path starts with.
func joinedURL(base, target string) (string, string) {
	t, err := url.Parse(target)
	if err != nil || t.IsAbs() {
		return redact.URL(target), ""
	}
	path := target
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	full := strings.TrimRight(base, "/") + path
	b, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil {
		return redact.URL(full), ""
	}
	baseSegs := strings.Split(strings.Trim(b.Path, "/"), "/")
	pathSegs := strings.Split(strings.Trim(t.Path, "/"), "/")
	for n := min(len(baseSegs), len(pathSegs)); n >= 1; n-- {
		tail := baseSegs[len(baseSegs)-n:]
		if tail[0] != "" && slices.Equal(tail, pathSegs[:n]) {
			seg := "/" + strings.Join(tail, "/")
			return redact.URL(full), seg + seg + "/..."
		}
	}
	return redact.URL(full), ""
}
