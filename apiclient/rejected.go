package apiclient

// What a rejected refresh means for the session.

import (
	"context"
	"fmt"

	"tokenscope/session"
)

// rejected decides what the rejection of refresh #id, which presented tok, does to the session.
// It ends the session only when tok is still the session's current refresh token: the loser
// of a race (single flight off) whose token the winner already rotated notes the rejection,
// and its request goes on with the winner's token (returning nil lets it). The winner's answer
// may arrive after the loser's, so the decision waits for the other calls with tok.
func (e *Engine) rejected(id uint64, tok session.Token, ferr *RefreshError) error {
	fp := tok.Fingerprint()
	e.refresher.awaitOthers(fp)
	s := e.store.view().sess
	ended := s.State == session.StateLoginRequired || s.State == session.StateLoggedOut
	current := s.Refresh.Raw == tok.Raw
	now, gen, fam := s.Refresh.Fingerprint(), s.Generation, s.Family
	expired := tok.HasExpiry() && !e.serverNow().Before(tok.ExpiresAt)
	switch {
	case ended:
		return ferr // over already, for its own reason
	case !current:
		e.emit(&session.Event{Kind: session.KindNote, RefreshID: id, Token: fp, Generation: gen,
			Reason: fmt.Sprintf("refresh #%d: refresh token %s was rejected, but the session had already moved on to %s (gen #%d): the session goes on, and the request with it",
				id, fp, now, gen)})
		return nil
	case expired:
		e.loginRequired(session.EndExpired, "refresh rejected: refresh token "+fp+" had expired: "+ferr.Reason)
		return ferr
	}
	end, stale := e.refresher.endOf(fp, fam)
	reason := "refresh rejected: " + ferr.Reason
	if end == session.EndRevoked {
		reason = fmt.Sprintf("the server revoked the token family: it rejected refresh token %s after %s was reused: %s", fp, stale, ferr.Reason)
	}
	e.loginRequired(end, reason)
	return ferr
}

// confirmRevoked runs when a request's retry was refused too. When the access token it carried
// is still the session's and an older refresh token of the family was reused, the refusal is
// most likely the server's revocation of the family (the losers of a race went on with the
// winner's tokens, and the server had revoked them): a refresh with the current refresh token
// tells (one for all the requests refused together: they wait for it), and ends the session as
// revoked when it is rejected. Otherwise it does nothing: a request is never sent a third time,
// and a server that refuses everything is not asked again.
func (e *Engine) confirmRevoked(ctx context.Context, c *call) {
	v := e.store.view()
	current := c.serial == v.serial && v.sess.State == session.StateActive // the store is never "refreshing"
	fp, fam := v.sess.Refresh.Fingerprint(), v.sess.Family
	if !current {
		return
	}
	if _, stale := e.refresher.reusedBefore(fp, fam); stale == "" {
		return
	}
	e.refresher.confirmOnce(fp, func() {
		_ = e.refresh(ctx, session.WhyReactive, c.serial, c.id,
			said("reactive: the current token was refused after a reuse: is the family revoked?"))
	})
}
