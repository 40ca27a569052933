package profile

// The cookie convention's wire half (DESIGN.md's `cookie` row): the [cookie] keys of a profile,
// and reading the refresh token from an answer's Set-Cookie and a request's Cookie header. The
// engine keeps the jar.

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"tokenscope/session"
)

// SendCookie is how a refresh token travels in the cookie convention: the refresh call sends
// the cookie back (from the jar) and no body.
const SendCookie = "cookie"

// CookieNames name the cookies of the cookie convention ([cookie] in a profile file).
type CookieNames struct {
	// Refresh is the name of the cookie that holds the refresh token.
	Refresh string `toml:"refresh"`
	// CSRFCookie is the name of the cookie whose value goes back in CSRFHeader on refresh
	// (double submit). Empty: the server wants no CSRF header.
	CSRFCookie string `toml:"csrf_cookie"`
	// CSRFHeader is the header the CSRF value is sent in; X-CSRF-Token when CSRFCookie is set.
	CSRFHeader string `toml:"csrf_header"`
	// Path is where a resumed session's refresh cookie is put back in the jar (a session file
	// keeps the token, not the cookie); the refresh endpoint's path when empty, which is
	// always sent to the refresh endpoint. The server's next Set-Cookie replaces it.
	Path string `toml:"path"`
}

// CookieMode reports whether the profile keeps the refresh token in a cookie.
func (p Profile) CookieMode() bool { return p.Refresh.Send == SendCookie }

// cookieDefaults fills in the cookie convention's defaults.
func (p *Profile) cookieDefaults() {
	if !p.CookieMode() {
		return
	}
	if p.Cookie.CSRFCookie != "" && p.Cookie.CSRFHeader == "" {
		p.Cookie.CSRFHeader = "X-CSRF-Token"
	}
}

// CookiePath is where a resumed session's cookie goes back: cookie.path, else the refresh
// path (resolved here, not filled in as a default, so that a profile built on another keeps
// following its own refresh path).
func (p Profile) CookiePath() string {
	if p.Cookie.Path != "" {
		return p.Cookie.Path
	}
	return p.Refresh.Path
}

// validateCookie checks the cookie settings of a profile whose refresh token travels in a
// cookie, and that a profile which does not has none.
func (p Profile) validateCookie() error {
	c := p.Cookie
	if !p.CookieMode() {
		if c != (CookieNames{}) {
			return errors.New(`[cookie] is set but refresh.send is not "cookie"`)
		}
		return nil
	}
	if !validCookieName(c.Refresh) {
		return fmt.Errorf("cookie.refresh must name the refresh token's cookie (a cookie name), got %q", c.Refresh)
	}
	if c.CSRFCookie != "" && !validCookieName(c.CSRFCookie) {
		return fmt.Errorf("cookie.csrf_cookie is not a cookie name: %q", c.CSRFCookie)
	}
	if c.CSRFCookie == c.Refresh {
		return errors.New("cookie.csrf_cookie must differ from cookie.refresh")
	}
	if c.CSRFHeader != "" && !validCookieName(c.CSRFHeader) { // a header name is a token too
		return fmt.Errorf("cookie.csrf_header is not a header name: %q", c.CSRFHeader)
	}
	if c.CSRFHeader != "" && c.CSRFCookie == "" {
		return errors.New("cookie.csrf_header needs cookie.csrf_cookie (the cookie its value comes from)")
	}
	if c.Path != "" && !strings.HasPrefix(c.Path, "/") {
		return fmt.Errorf("cookie.path must start with /, got %q", c.Path)
	}
	if p.Tokens.Refresh != "" {
		return fmt.Errorf(`tokens.refresh must be empty when refresh.send is "cookie": the refresh token comes from the %q cookie (set tokens.refresh = "")`, c.Refresh)
	}
	return nil
}

// validCookieName reports whether s is an RFC 7230 token, as cookie and header names are.
func validCookieName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b <= ' ' || b >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, b) >= 0 {
			return false
		}
	}
	return true
}

// ParseAnswer reads the tokens out of a login or refresh answer as the engine does: at the
// call's token paths (a login's may differ from a refresh's), and the refresh token from the
// answer's Set-Cookie in the cookie convention (a login must set it; a refresh that sets none
// keeps the old one). serverRecv is when the answer arrived, on the server's clock: opaque
// tokens' expiries count from it.
func (p Profile) ParseAnswer(h http.Header, body []byte, serverRecv time.Time, login bool) (Answer, error) {
	paths := p.TokenPaths(p.Refresh)
	if login {
		paths = p.TokenPaths(p.Login)
	}
	a, err := parseTokens(paths, h.Get("Content-Type"), body, serverRecv, login)
	if err != nil || !p.CookieMode() {
		return a, err
	}
	for _, ck := range (&http.Response{Header: h}).Cookies() {
		if ck.Name == p.Cookie.Refresh && ck.Value != "" && ck.MaxAge >= 0 {
			a.Refresh, a.Rotated = session.ParseToken(ck.Value, serverRecv, 0), true
		}
	}
	if login && a.Refresh.Raw == "" {
		return Answer{}, fmt.Errorf("the answer set no %q cookie", p.Cookie.Refresh)
	}
	return a, nil
}

// presentedCookie is the refresh token a request presents in its Cookie header.
func (p Profile) presentedCookie(h http.Header) string {
	if c, err := (&http.Request{Header: h}).Cookie(p.Cookie.Refresh); err == nil {
		return c.Value
	}
	return ""
}

// CookieInfo is the refresh cookie as the server set it, for display: its name and attributes,
// never its value (the session's Refresh token is the value; show its fingerprint).
type CookieInfo struct {
	Name     string
	Domain   string // the Domain attribute as sent; "" for a host-only cookie
	Path     string
	HttpOnly bool
	Secure   bool
	SameSite string    // Strict, Lax, None, or "" when not sent
	Expires  time.Time // the Expires attribute, or now + Max-Age; zero for a session cookie
	MaxAge   int       // the Max-Age attribute in seconds; 0 when absent
	SetAt    time.Time // when the answer that set it arrived (engine clock)
	Resumed  bool      // put back from a session file: the attributes are not known
}

// CookieInfoOf is what a Set-Cookie says of the cookie ck, received at now.
func CookieInfoOf(ck *http.Cookie, now time.Time) *CookieInfo {
	info := &CookieInfo{Name: ck.Name, Domain: ck.Domain, Path: ck.Path, HttpOnly: ck.HttpOnly, Secure: ck.Secure,
		MaxAge: max(ck.MaxAge, 0), SetAt: now}
	switch ck.SameSite {
	case http.SameSiteStrictMode:
		info.SameSite = "Strict"
	case http.SameSiteLaxMode:
		info.SameSite = "Lax"
	case http.SameSiteNoneMode:
		info.SameSite = "None"
	}
	switch {
	case ck.MaxAge > 0: // Max-Age wins over Expires (RFC 6265 §5.3)
		info.Expires = now.Add(time.Duration(ck.MaxAge) * time.Second)
	case !ck.Expires.IsZero():
		info.Expires = ck.Expires
	}
	return info
}

// CookieSentTo reports whether a jar keeps ck, set by an answer from u's host, and sends it
// back to u: RFC 6265's domain and path match, Secure only over https, and not a deletion.
func CookieSentTo(ck *http.Cookie, u *url.URL) bool {
	p, up := CookiePath(ck.Path, u.Path), u.Path
	pathOK := up == p || strings.HasPrefix(up, p) && (strings.HasSuffix(p, "/") || up[len(p)] == '/')
	secureOK := !ck.Secure || u.Scheme == "https"
	return ck.Value != "" && ck.MaxAge >= 0 && DomainMatch(strings.ToLower(u.Hostname()), ck.Domain) && pathOK && secureOK
}

// DomainMatch reports whether host (in lower case) domain-matches a cookie's Domain attribute
// (RFC 6265 §5.1.3); an empty one (a host-only cookie) matches, and an IP address matches only
// itself.
func DomainMatch(host, domain string) bool {
	d := strings.TrimPrefix(strings.ToLower(domain), ".")
	return d == "" || d == host || net.ParseIP(host) == nil && strings.HasSuffix(host, "."+d)
}

// CookiePath is the path a cookie is stored on: its Path attribute, or when that is absent or
// not absolute the default path of the request it came with (RFC 6265 §5.1.4).
func CookiePath(attr, reqPath string) string {
	if strings.HasPrefix(attr, "/") {
		return attr
	}
	if i := strings.LastIndexByte(reqPath, '/'); i > 0 {
		return reqPath[:i]
	}
	return "/"
}
