package apiclient

// The cookie convention (DESIGN.md's `cookie` row): single-page apps keep the refresh token in
// an HttpOnly cookie and send a CSRF header on refresh. The access token comes from the JSON
// body as in the other conventions; the refresh token is read from the session's cookie jar
// after login and refresh, and becomes the session's Refresh token, so that single flight,
// rotation, families, reuse naming and fingerprints work as they do for a token in a body.
//
// One jar per engine. It keeps cookies for the target's host only (host-only, whatever Domain
// the server names) and hands them only to that host, on the paths the cookies name: the
// refresh cookie (Path=/auth) never travels with a request to /api/...

import (
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-resty/resty/v2"

	"tokenscope/apiclient/profile"
	"tokenscope/internal/redact"
	"tokenscope/session"
)

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

// cookieState is an engine's jar and what it knows of the refresh cookie. info and csrf are
// guarded by Engine.mu; the jar has its own lock.
type cookieState struct {
	names   profile.CookieNames
	jar     *hostJar
	refresh *url.URL // the refresh endpoint: the URL whose cookies the refresh call sends
	info    *CookieInfo
	csrf    string // the CSRF cookie's value, for redaction
	// resumedPath is the path a resumed refresh cookie was put back on, until the server sets
	// the cookie again: then a copy on another path would shadow the new one, and goes.
	resumedPath string
}

func newCookieState(baseURL string, p profile.Profile) (*cookieState, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/") + p.Refresh.Path)
	if err != nil {
		return nil, err
	}
	return &cookieState{names: p.Cookie, jar: newHostJar(u), refresh: u}, nil
}

// lookup is the value the jar would send to the refresh endpoint for the named cookie.
func (c *cookieState) lookup(name string) string {
	if name == "" {
		return ""
	}
	for _, ck := range c.jar.Cookies(c.refresh) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// setupCookies gives the engine its jar; both clients use it, so that a cookie goes wherever
// a browser would send it on this host, and nowhere else.
func (e *Engine) setupCookies() error {
	if !e.profile.CookieMode() {
		return nil
	}
	cs, err := newCookieState(e.cfg.BaseURL, e.profile)
	if err != nil {
		return err
	}
	e.cookies = cs
	// API requests get their cookies from the attacher (so that its record holds them); the
	// client only keeps what answers set.
	e.attach.jar = cs.jar
	e.api.SetCookieJar(storeOnlyJar{cs.jar})
	e.auth.SetCookieJar(cs.jar)
	return nil
}

// prepareCookieRefresh sets the CSRF header of a refresh call; the jar adds the cookies.
func (e *Engine) prepareCookieRefresh(r *resty.Request) {
	c := e.cookies
	if c == nil || c.names.CSRFHeader == "" {
		return
	}
	if v := c.lookup(c.names.CSRFCookie); v != "" {
		r.SetHeader(c.names.CSRFHeader, v)
	}
}

// checkCookie keeps the jar's side of a parsed login or refresh answer: the profile read the
// refresh token from Set-Cookie; the jar must keep it and send it back to the refresh
// endpoint, or the session could not refresh with it.
func (e *Engine) checkCookie(resp *resty.Response, p profile.Answer) (profile.Answer, error) {
	c := e.cookies
	var set *http.Cookie
	if resp.RawResponse != nil {
		for _, ck := range resp.RawResponse.Cookies() {
			if ck.Name == c.names.Refresh {
				set = ck
			}
		}
	}
	e.mu.Lock()
	resumed := c.resumedPath
	if set != nil {
		c.resumedPath = ""
	}
	e.mu.Unlock()
	if set != nil && resumed != "" && resumed != effectivePath(set.Path, c.refresh.Path) {
		c.jar.SetCookies(c.refresh, []*http.Cookie{{Name: c.names.Refresh, Path: resumed, MaxAge: -1}})
	}
	raw := c.lookup(c.names.Refresh)
	csrf := c.lookup(c.names.CSRFCookie)
	e.cfg.Secrets.Add(redact.Credential, csrf)
	e.mu.Lock()
	c.csrf = csrf
	e.mu.Unlock()
	if set != nil && !c.sentToRefresh(set) {
		// Another domain, a path the refresh is not on, a Secure cookie over http, a deletion:
		// the cookie would never be sent back, so the session could not refresh with it.
		return profile.Answer{}, fmt.Errorf("the answer set a %q cookie the jar would not send to %s (its Domain %q, Path %q, Secure %t, Max-Age %d)",
			c.names.Refresh, c.refresh.Path, set.Domain, set.Path, set.Secure, set.MaxAge)
	}
	if set == nil {
		return p, nil // no new cookie: the refresh token is kept (a login without one failed to parse)
	}
	if raw == "" {
		return profile.Answer{}, fmt.Errorf("the jar did not keep the %q cookie for %s", c.names.Refresh, c.refresh.Path)
	}
	// p.Refresh is the token this answer issued (set's value): the jar holds the same unless a
	// concurrent refresh (single flight off) set another since.
	info := cookieInfo(set, e.now())
	e.mu.Lock()
	c.info = info
	e.mu.Unlock()
	return p, nil
}

// sentToRefresh reports whether the jar sends ck, as set by an answer from the target, to
// the refresh endpoint: RFC 6265's domain and path match, Secure only over https, and not a
// deletion.
func (c *cookieState) sentToRefresh(ck *http.Cookie) bool {
	host := strings.ToLower(c.refresh.Hostname())
	d := strings.TrimPrefix(strings.ToLower(ck.Domain), ".")
	domainOK := d == "" || d == host || net.ParseIP(host) == nil && strings.HasSuffix(host, "."+d)
	p, rp := effectivePath(ck.Path, c.refresh.Path), c.refresh.Path
	pathOK := rp == p || strings.HasPrefix(rp, p) && (strings.HasSuffix(p, "/") || rp[len(p)] == '/')
	secureOK := !ck.Secure || c.refresh.Scheme == "https"
	return ck.Value != "" && ck.MaxAge >= 0 && domainOK && pathOK && secureOK
}

// effectivePath is the path a cookie is stored on: its Path attribute, or when that is absent
// or not absolute the default path of the request it came with (RFC 6265 §5.1.4).
func effectivePath(attr, reqPath string) string {
	if strings.HasPrefix(attr, "/") {
		return attr
	}
	if i := strings.LastIndexByte(reqPath, '/'); i > 0 {
		return reqPath[:i]
	}
	return "/"
}

func cookieInfo(ck *http.Cookie, now time.Time) *CookieInfo {
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

// resumeCookies puts a resumed session's cookies back in the jar: the refresh token for the
// target's host on the profile's cookie path, and the CSRF cookie when the file kept it.
func (e *Engine) resumeCookies(s session.Stored) {
	c := e.cookies
	if c == nil {
		return
	}
	ck := []*http.Cookie{{Name: c.names.Refresh, Value: s.Refresh, Path: e.profile.CookiePath(), HttpOnly: true,
		Secure: c.refresh.Scheme == "https"}}
	if c.names.CSRFCookie != "" && s.CSRF != "" {
		ck = append(ck, &http.Cookie{Name: c.names.CSRFCookie, Value: s.CSRF, Path: "/", Secure: c.refresh.Scheme == "https"})
	}
	c.jar.SetCookies(c.refresh, ck)
	e.mu.Lock()
	c.csrf = s.CSRF
	c.resumedPath = e.profile.CookiePath()
	c.info = &CookieInfo{Name: c.names.Refresh, Path: e.profile.CookiePath(), HttpOnly: true, Secure: ck[0].Secure,
		SetAt: e.now(), Resumed: true}
	e.mu.Unlock()
}

// forgetCookies empties the jar (logout).
func (e *Engine) forgetCookies() {
	if c := e.cookies; c != nil {
		c.jar.reset()
		e.mu.Lock()
		c.info, c.csrf = nil, ""
		e.mu.Unlock()
	}
}

// cookieSnapshotLocked is what Snapshot shows of the cookies; the caller holds e.mu.
func (e *Engine) cookieSnapshotLocked() (*CookieInfo, string) {
	c := e.cookies
	if c == nil {
		return nil, ""
	}
	var info *CookieInfo
	if c.info != nil && e.sess.Refresh.Raw != "" {
		cp := *c.info
		info = &cp
	}
	return info, c.names.CSRFCookie
}

// csrfLocked is the CSRF cookie's value, for a session file; "" without one. The caller
// holds e.mu.
func (e *Engine) csrfLocked() string {
	if e.cookies == nil {
		return ""
	}
	return e.cookies.csrf
}

// hostJar is a cookie jar for one host: it stores cookies that host sets (as host-only
// cookies, whatever Domain they name) and gives them back only to that host, with
// net/http/cookiejar's path, expiry and Secure rules. reset empties it.
type hostJar struct {
	scheme, host string // the target's scheme and host (lower case, port included)
	mu           sync.Mutex
	jar          *cookiejar.Jar
}

func newHostJar(target *url.URL) *hostJar {
	j, _ := cookiejar.New(nil) // never fails with nil options
	return &hostJar{scheme: strings.ToLower(target.Scheme), host: strings.ToLower(target.Host), jar: j}
}

func (h *hostJar) mine(u *url.URL) bool {
	return u != nil && strings.EqualFold(u.Host, h.host) && strings.EqualFold(u.Scheme, h.scheme)
}

func (h *hostJar) inner() *cookiejar.Jar {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.jar
}

// SetCookies keeps the target's cookies, host-only; another host's are dropped, and so is a
// cookie whose Domain the target's host does not belong to.
func (h *hostJar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	if !h.mine(u) {
		return
	}
	host := strings.ToLower(u.Hostname())
	cs := make([]*http.Cookie, 0, len(cookies))
	for _, c := range cookies {
		if d := strings.TrimPrefix(strings.ToLower(c.Domain), "."); d != "" && d != host &&
			(net.ParseIP(host) != nil || !strings.HasSuffix(host, "."+d)) {
			continue // RFC 6265 §5.3 step 6: the host must domain-match the Domain attribute
		}
		cp := *c
		cp.Domain = "" // host-only: never sent to another host, a sibling or parent domain
		cs = append(cs, &cp)
	}
	h.inner().SetCookies(u, cs)
}

// Cookies are the cookies to send to u: none unless u is the target's host.
func (h *hostJar) Cookies(u *url.URL) []*http.Cookie {
	if !h.mine(u) {
		return nil
	}
	return h.inner().Cookies(u)
}

func (h *hostJar) reset() {
	j, _ := cookiejar.New(nil)
	h.mu.Lock()
	h.jar = j
	h.mu.Unlock()
}
