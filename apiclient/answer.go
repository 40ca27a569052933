package apiclient

import (
	"time"

	"tokenscope/apiclient/profile"
)

// readAnswer reads a login answer with the profile's parser, on the server's clock, and keeps
// it (keepAnswer).
func (e *Engine) readAnswer(ans reply, sent, recv time.Time, login bool) (profile.Answer, error) {
	// An identity provider's login is a token-endpoint answer like a refresh (login false).
	p, err := e.profile.ParseAnswer(ans.header, ans.body, e.onServerClock(recv), login)
	if err != nil {
		return profile.Answer{}, err
	}
	return e.keepAnswer(ans, p, sent, recv)
}

// keepAnswer takes the engine's side of a parsed login or refresh answer: the jar must send a
// refresh cookie back, and the new access token's iat teaches the server clock.
func (e *Engine) keepAnswer(ans reply, p profile.Answer, sent, recv time.Time) (profile.Answer, error) {
	if e.cookies != nil {
		var err error
		if p, err = e.checkCookie(ans, p); err != nil {
			return profile.Answer{}, err
		}
	}
	e.observeIat(p.Access, sent, recv)
	return p, nil
}

// onServerClock is a local instant on the server's clock: opaque tokens' expiries are reckoned
// there, like exp claims.
func (e *Engine) onServerClock(t time.Time) time.Time { return e.skew.serverNow(t) }
