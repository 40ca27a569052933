package profile

import (
	"maps"
	"net/http"
	"net/url"
	"os"
	"tokenscope/apiclient/dpop"
)

// AuthCall is a login or refresh call as plain data: what the endpoint says goes out besides
// what the engine adds itself (Accept, client authentication, the cookie jar's cookies and
// CSRF header). The engine applies it to its HTTP client.
type AuthCall struct {
	Query  url.Values
	Header http.Header
	// ContentType and Body are empty when the call has no body (a refresh token in a header
	// or a cookie, and nothing else to send).
	ContentType string
	Body        []byte
}

// AuthCall describes the endpoint's call. extra are body fields the engine adds (the
// endpoint's extra, client credentials); fields are the credentials or the refresh token,
// which travel as the endpoint's send says: in the body, or in a header (send = "header").
func (ep Endpoint) AuthCall(extra, fields map[string]string) AuthCall {
	return ep.authCall(extra, fields, os.Getenv)
}

// authCall is AuthCall with env reading the environment: `profile check` describes the call
// from the same code with env naming the variable instead ($NAME), so that what it says is what
// goes out, and no secret is printed.
func (ep Endpoint) authCall(extra, fields map[string]string, env func(string) string) AuthCall {
	c := AuthCall{Query: url.Values{}, Header: http.Header{}}
	all := maps.Clone(extra)
	if all == nil {
		all = map[string]string{}
	}
	for k, v := range ep.Query {
		c.Query.Set(k, v)
	}
	for k, name := range ep.QueryEnv {
		c.Query.Set(k, env(name))
	}
	for k, v := range ep.Headers {
		c.Header.Set(k, v)
	}
	for k, name := range ep.HeadersEnv {
		c.Header.Set(k, env(name))
	}
	for k, name := range ep.ExtraEnv {
		all[k] = env(name)
	}
	switch ep.Send {
	case SendCookie, SendHeader:
		if ep.Send == SendHeader {
			for k, v := range fields {
				c.Header.Set(k, WithScheme(ep.TokenScheme, v))
			}
		}
		if len(all) > 0 || len(ep.JSON) > 0 {
			c.ContentType, c.Body = ep.contentType("application/json"), ep.jsonBody(all)
		}
	case SendForm:
		form := url.Values{}
		for k, v := range all {
			form.Set(k, v)
		}
		for k, v := range fields {
			form.Set(k, v)
		}
		c.ContentType, c.Body = ep.contentType("application/x-www-form-urlencoded"), []byte(form.Encode())
	default:
		maps.Copy(all, fields)
		// Dotted names nest (AuthParameters.REFRESH_TOKEN), under the endpoint's json members.
		c.ContentType, c.Body = ep.contentType("application/json"), ep.jsonBody(all)
	}
	return c
}

// WithScheme is a token as a header carries it: "Bearer abc", or the bare token without a
// scheme.
func WithScheme(scheme, tok string) string {
	if scheme == "" {
		return tok
	}
	return scheme + " " + tok
}

// For is the header the access token travels in, and its scheme: the profile's, or for a
// DPoP-bound token Authorization with the DPoP scheme whatever the profile says (RFC 9449
// §7.1), its proof beside it in the DPoP header.
func (a AuthHeader) For(bound bool) (header, scheme string) {
	if bound {
		return "Authorization", dpop.Scheme
	}
	return a.Header, a.Scheme
}

// TokenHeaders are the headers the engine sets for the session's token on every attempt (For,
// and with DPoP the proof's): a request's own value for one of them would be replaced.
func (a AuthHeader) TokenHeaders(dpopOn bool) []string {
	if dpopOn {
		return []string{a.Header, "Authorization", dpop.Header}
	}
	return []string{a.Header}
}
