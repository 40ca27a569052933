package apiclient

import (
	"time"

	"github.com/go-resty/resty/v2"

	"tokenscope/apiclient/profile"
)

// readAnswer reads a login or refresh answer with the profile's parser, on the server's clock,
// checks the jar's side of a refresh cookie, and learns the server clock from the new access
// token's iat.
func (e *Engine) readAnswer(resp *resty.Response, sent, recv time.Time, login bool) (profile.Answer, error) {
	// Opaque expiries are reckoned on the server's clock, like exp claims.
	e.mu.Lock()
	skew := e.skew.Estimate().Applied()
	e.mu.Unlock()
	// An identity provider's login is a token-endpoint answer like a refresh (login false).
	p, err := e.profile.ParseAnswer(resp.Header(), resp.Body(), recv.Add(skew), login)
	if err != nil {
		return profile.Answer{}, err
	}
	if e.cookies != nil {
		if p, err = e.checkCookie(resp, p); err != nil {
			return profile.Answer{}, err
		}
	}
	e.observeIat(p.Access, sent, recv)
	return p, nil
}
