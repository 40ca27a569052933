package profile

// Reading traffic the engine did not send: observe's proxy watches the user's own client with the
// same profile the engine speaks, so a login, a refresh and an access token are recognised by one
// description of the wire format, not two.

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"tokenscope/internal/hostcheck"
)

// CallKind is what a request is to the profile.
type CallKind int

// Call kinds.
const (
	CallOther   CallKind = iota // a request to the API itself
	CallLogin                   // the profile's login call
	CallRefresh                 // the profile's refresh call
)

// RecogniseCall says whether a request is the profile's login or refresh call and, for a refresh,
// returns the refresh token it presents (empty when it presents none the profile can find). path
// is the request's path without its query; body is its body, or as much of it as the caller read.
// Login and refresh may share an endpoint (oauth2's /oauth/token): the refresh's extra fields
// (grant_type=refresh_token) and its token's field tell a refresh apart; any other call there is
// a login (a password, authorization_code or device_code grant).
func (p Profile) RecogniseCall(method, path string, h http.Header, body []byte) (CallKind, string) {
	isRefresh := p.Refresh.At(method, path)
	isLogin := p.Login.At(method, path)
	if !isRefresh && !isLogin {
		return CallOther, ""
	}
	fields := bodyFields(h.Get("Content-Type"), body)
	if isRefresh && extrasMatch(p.Refresh.Extra, fields) {
		tok := fields[p.Refresh.TokenField]
		if p.Refresh.Send == SendHeader {
			tok = stripScheme(p.Refresh.TokenScheme, h.Get(p.Refresh.TokenField))
		}
		if p.Refresh.Send == SendCookie {
			tok = p.presentedCookie(h)
		}
		if tok != "" || !isLogin || extrasSent(p.Refresh.Extra, fields) {
			return CallRefresh, tok
		}
	}
	if isLogin {
		// Whatever else arrives at the login endpoint starts a session too: at a token endpoint
		// shared with the refresh, an authorization_code or device_code grant is how a single-page
		// app logs in, whatever grant the profile's own login uses.
		return CallLogin, ""
	}
	return CallOther, ""
}

// AccessToken is the access token a request carries in the profile's auth header, without its
// scheme; empty when it carries none.
func (p Profile) AccessToken(h http.Header) string {
	return stripScheme(p.Auth.Scheme, h.Get(p.Auth.Header))
}

// At reports whether method and path are the endpoint's; a trailing slash is forgiven
// (simplejwt's paths end in one, and clients drop it as often as not). An endpoint given as a
// whole URL (a hosted provider's) and a whole URL (what a forward proxy sees) match by origin,
// as every "same place?" is answered (hostcheck.Origin: https://IDP.example and
// https://idp.example:443 are one), and by path.
func (e Endpoint) At(method, path string) bool {
	if e.Path == "" || !strings.EqualFold(e.Method, method) {
		return false
	}
	want := e.Path
	if wo, got := hostcheck.Origin(want), hostcheck.Origin(path); wo != "" && got != "" {
		if wo != got {
			return false
		}
		want, path = urlPath(want), urlPath(path)
	}
	return strings.TrimSuffix(want, "/") == strings.TrimSuffix(path, "/")
}

// urlPath is a whole URL's path.
func urlPath(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Path
}

// extrasMatch reports whether every extra field the endpoint sends that the body has is what the
// endpoint sends (grant_type=refresh_token is not a login). A field the body lacks does not count
// against it: a client may send less than the engine would.
func extrasMatch(extra map[string]string, fields map[string]string) bool {
	for k, v := range extra {
		if got, ok := fields[k]; ok && got != v {
			return false
		}
	}
	return true
}

// extrasSent reports whether the body carries every extra field of the endpoint, as it sends
// them: grant_type=refresh_token without a refresh token is still a refresh (a broken one).
func extrasSent(extra map[string]string, fields map[string]string) bool {
	for k, v := range extra {
		if fields[k] != v {
			return false
		}
	}
	return len(extra) > 0
}

// bodyFields reads the top-level string fields of a form or JSON object body; other values are
// kept in their JSON text. A body that is neither gives no fields.
func bodyFields(contentType string, body []byte) map[string]string {
	out := map[string]string{}
	mt, _, _ := mime.ParseMediaType(contentType)
	trimmed := bytes.TrimSpace(body)
	if mt == "application/x-www-form-urlencoded" || (mt == "" && len(trimmed) > 0 && trimmed[0] != '{') {
		if v, err := url.ParseQuery(string(body)); err == nil {
			for k := range v {
				out[k] = v.Get(k)
			}
		}
		return out
	}
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if d.Decode(&m) != nil {
		return out
	}
	for k, v := range m {
		if v == nil {
			continue // "refresh": null presents no token
		}
		out[k] = scalarString(v)
	}
	return out
}

// stripScheme removes "Bearer " (any case) from a header value; without a scheme the value is the
// token.
func stripScheme(scheme, v string) string {
	v = strings.TrimSpace(v)
	if scheme == "" {
		return v
	}
	if len(v) > len(scheme) && strings.EqualFold(v[:len(scheme)], scheme) && v[len(scheme)] == ' ' {
		return strings.TrimSpace(v[len(scheme)+1:])
	}
	if strings.EqualFold(v, scheme) {
		return ""
	}
	return v
}
