package apiclient

import (
	"time"

	"github.com/go-resty/resty/v2"

	"tokenscope/apiclient/profile"
)

// readAnswer reads a login answer with the profile's parser, on the server's clock, and keeps
// it (keepAnswer).
func (e *Engine) readAnswer(resp *resty.Response, sent, recv time.Time, login bool) (profile.Answer, error) {
	// An identity provider's login is a token-endpoint answer like a refresh (login false).
	p, err := e.profile.ParseAnswer(resp.Header(), resp.Body(), e.onServerClock(recv), login)
	if err != nil {
		return profile.Answer{}, err
	}
	return e.keepAnswer(resp, p, sent, recv)
}

// keepAnswer takes the engine's side of a parsed login or refresh answer: the jar must send a
// refresh cookie back, and the new access token's iat teaches the server clock.
func (e *Engine) keepAnswer(resp *resty.Response, p profile.Answer, sent, recv time.Time) (profile.Answer, error) {
	if e.cookies != nil {
		var err error
		if p, err = e.checkCookie(resp, p); err != nil {
			return profile.Answer{}, err
		}
	}
	e.observeIat(p.Access, sent, recv)
	return p, nil
}

// onServerClock is a local instant on the server's clock: opaque tokens' expiries are reckoned
// there, like exp claims.
func (e *Engine) onServerClock(t time.Time) time.Time { return e.skew.serverNow(t) }
