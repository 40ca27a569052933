package apiclient

// Sessions kept in a file: resuming from one, and what one keeps.

import (
	"fmt"

	"tokenscope/internal/redact"
	"tokenscope/session"
)

// Resume installs tokens saved by an earlier run instead of logging in. If they are dead, the
// first refresh says so and the session asks for a login, as it would after any rejection.
func (e *Engine) Resume(s session.Stored, source string) {
	// Received now, on the server's clock as login and refresh answers are (see parsePair).
	now := e.serverNow()
	acc := session.ParseToken(s.Access, now, 0)
	if !acc.HasExpiry() && !s.AccessExp.IsZero() {
		acc.ExpiresAt, acc.ExpirySource = s.AccessExp, "expires_in"
	}
	ref := session.ParseToken(s.Refresh, now, 0)
	idTok := session.ParseToken(s.IDToken, now, 0)
	e.keepSecret(acc, ref, idTok)
	e.cfg.Secrets.Add(redact.Credential, s.CSRF)
	gen, lostKey := e.store.resume(s, acc, ref, idTok, source, func() string { return e.resumeBinding(acc) })
	e.resumeCookies(s)
	e.emit(&session.Event{Kind: session.KindLogin, Generation: gen, Exp: acc.ExpiresAt, Token: acc.Fingerprint(),
		Reason: fmt.Sprintf("resumed from %s; gen #%d %s", source, gen, expiryText(acc, e.serverNow()))})
	if lostKey != "" {
		e.loginRequired(session.EndKeyLost, lostKey)
	}
	e.nudge()
}

// Matches says whether a saved session belongs to this engine's target, user, profile and, for
// an identity provider, issuer, client and flow: only then may it be resumed.
func (e *Engine) Matches(s session.Stored) bool {
	mine := e.Stored()
	return s.Target == mine.Target && s.User == mine.User && s.Profile == mine.Profile &&
		s.Issuer == mine.Issuer && s.ClientID == mine.ClientID && s.Flow == mine.Flow
}

// Stored is the session as a session file keeps it.
func (e *Engine) Stored() session.Stored {
	v := e.store.view()
	s := v.sess
	st := session.Stored{Target: e.cfg.BaseURL, Profile: e.profile.Name, User: e.cfg.Username,
		Access: s.Access.Raw, Refresh: s.Refresh.Raw, Family: s.Family, Generation: s.Generation,
		Rotations: s.Rotations, SavedAt: e.now(), CSRF: e.csrfValue()}
	if !s.Access.JWT {
		st.AccessExp = s.Access.ExpiresAt
	}
	if o := e.cfg.OIDC; o != nil {
		st.Issuer, st.ClientID, st.Flow, st.IDToken = o.Issuer, o.ClientID, o.Flow, v.idToken.Raw
	}
	return st
}
