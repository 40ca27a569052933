package apiclient

import (
	"time"

	"github.com/go-resty/resty/v2"

	"tokenscope/apiclient/profile"
)

// parsePair reads the tokens out of a login or refresh answer and learns the server clock
// from the new access token's iat.
func (e *Engine) parsePair(resp *resty.Response, sent, recv time.Time, login bool) (profile.Answer, error) {
	// Opaque expiries are reckoned on the server's clock, like exp claims.
	e.mu.Lock()
	skew := e.skew.Estimate().Applied()
	e.mu.Unlock()
	// A login answer may name its tokens otherwise than a refresh answer (Firebase); an
	// identity provider's login is a token-endpoint answer like a refresh.
	paths := e.profile.TokenPaths(e.profile.Refresh)
	if login {
		paths = e.profile.TokenPaths(e.profile.Login)
	}
	p, err := profile.ParseTokenAnswer(paths, resp.Header().Get("Content-Type"), resp.Body(), recv.Add(skew), login)
	if err != nil {
		return profile.Answer{}, err
	}
	if e.cookies != nil {
		if p, err = e.cookiePair(resp, p, recv.Add(skew), login); err != nil {
			return profile.Answer{}, err
		}
	}
	e.observeIat(p.Access, sent, recv)
	return p, nil
}
