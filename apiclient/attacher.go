package apiclient

// The attacher decides everything an API request carries besides what the user put on it: the
// profile's fixed and headers_env headers, the access token in the profile's header (or, for a
// DPoP-bound token, in Authorization with the DPoP scheme; the transport adds the proof), and
// the cookie convention's cookies. It keeps a record of what went out (Outgoing) for every
// attempt, which the wire, the copied curl, the detail view and --har all read, so that none of
// them rebuilds it and drifts.

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"tokenscope/apiclient/dpop"
	"tokenscope/apiclient/profile"
	"tokenscope/internal/har"
	"tokenscope/internal/hostcheck"
	"tokenscope/session"
)

// Secret is what kind of secret a header a request carried holds.
type Secret int

// Secrets.
const (
	SecretNone      Secret = iota // nothing the session keeps secret
	SecretAccess                  // the access token
	SecretAPIKey                  // a value read from the environment (a profile's headers_env)
	SecretCookie                  // the jar's cookies
	SecretDPoPProof               // a DPoP proof
	SecretSession                 // one of the session's secrets, found in the request's own header
)

// SentHeader is one header a request carried. Value is safe to show: the secret in it masked.
type SentHeader struct {
	Name string
	// Value is Prefix and the secret masked ("[masked]"; the access token as session.Mask shows
	// it); the value itself when Secret is SecretNone.
	Value  string
	Secret Secret
	// Prefix is the part of the value before the secret that may be shown ("Bearer ").
	Prefix string
	// Var is the shell variable a masked copy (the copied curl) refers to for the secret: TOKEN,
	// DPOP_PROOF, COOKIE, or the environment variable a headers_env value was read from.
	Var string
	raw string
}

// Raw is the value as it went on the wire; "" for a DPoP proof the transport signed (proofs are
// used once, and not kept).
func (h SentHeader) Raw() string { return h.raw }

// Outgoing is the record of what one attempt carried (Result.Attempts), or, from
// Engine.Outgoing, what a request would carry now: everything tokenscope puts on it. The HTTP
// clients' own defaults (User-Agent, Accept-Encoding, resty's Accept for a JSON body) are not
// in it.
type Outgoing struct {
	Method string
	// Proofs are the DPoP proofs the attempt carried, in order: the transport adds one when the
	// server asks for a nonce (use_dpop_nonce), and a same-origin redirect another.
	Proofs []DPoPProof

	at     *attacher // the target, the profile's headers and the redaction; nil: a call it did not make
	path   string
	user   http.Header // the request's own headers
	cred   *credential // the access token's header; nil when none went
	cookie string      // the jar's cookies for the URL; "" for none
	proof  string      // a preview's signed proof (Engine.Outgoing); "" on the wire
	body   []byte      // the request's body, as sent
	// foreign: the request goes to another origin than the target's, which gets none of the
	// target's own headers.
	foreign bool
}

// fixed are the profile's fixed and headers_env headers (shared, never written).
func (o Outgoing) fixed() []SentHeader {
	if o.at == nil || o.foreign {
		return nil
	}
	return o.at.fixed
}

// URL is where the attempt went: the target and the request's path, or the path itself when it
// is a whole URL (as resty does).
func (o Outgoing) URL() string {
	if o.at == nil {
		return o.path
	}
	return joinURL(o.at.base, o.path)
}

// isWholeURL reports whether a request's path is a whole http(s) URL rather than a path on
// the target.
func isWholeURL(path string) bool {
	return strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://")
}

func joinURL(base, path string) string {
	if isWholeURL(path) || base == "" {
		return path
	}
	if !strings.HasPrefix(path, "/") {
		return base + "/" + path
	}
	return base + path
}

// Body is the body as sent, cut at har.RecordedBodyMax; more is how many bytes were cut.
func (o Outgoing) Body() (body []byte, more int) {
	if len(o.body) > har.RecordedBodyMax {
		return o.body[:har.RecordedBodyMax], len(o.body) - har.RecordedBodyMax
	}
	return o.body, 0
}

// Header lists the headers in the order the attacher decided them: the request's own, the
// profile's fixed ones the request did not set, the token's header, Cookie, DPoP. A header of
// the request's own is shown through the session's redaction.
func (o Outgoing) Header() []SentHeader {
	var out []SentHeader
	o.each(true, func(h SentHeader) { out = append(out, h) })
	return out
}

// each walks the headers, as Header lists them; show fills in Value (the wire needs only Name
// and the raw value, and must not pay for masking).
func (o Outgoing) each(show bool, f func(SentHeader)) {
	authName := ""
	if o.cred != nil {
		authName = o.cred.header.Name
	}
	for _, k := range sortedKeys(o.user) {
		if strings.EqualFold(k, authName) || (o.cookie != "" && strings.EqualFold(k, "Cookie")) {
			continue // the token's header replaces the request's; a Cookie of its own goes below
		}
		for _, v := range o.user[k] {
			h := SentHeader{Name: k, raw: v}
			if show {
				h.Value = v
				if o.at != nil && o.at.mask != nil {
					if h.Value = o.at.mask(v); h.Value != v {
						h.Secret = SecretSession
					}
				}
			}
			f(h)
		}
	}
	for _, h := range o.fixed() {
		if o.user.Get(h.Name) == "" {
			f(h)
		}
	}
	if o.cred != nil {
		f(o.cred.header)
	}
	if o.cookie != "" {
		f(o.cookieHeader())
	}
	if o.proof != "" {
		f(SentHeader{Name: dpop.Header, Value: masked, Secret: SecretDPoPProof, Var: "DPOP_PROOF", raw: o.proof})
	} else if show {
		for range o.Proofs {
			f(SentHeader{Name: dpop.Header, Value: masked, Secret: SecretDPoPProof, Var: "DPOP_PROOF"})
		}
	}
}

// cookieHeader is the Cookie header: the request's own cookies, then the jar's (masked).
func (o Outgoing) cookieHeader() SentHeader {
	h := SentHeader{Name: "Cookie", Secret: SecretCookie, Var: "COOKIE", raw: o.cookie}
	if own := o.user.Get("Cookie"); own != "" {
		h.Prefix = own + "; "
		h.raw = h.Prefix + o.cookie
	}
	h.Value = h.Prefix + masked
	return h
}

// masked stands for a secret in a record: one word, so that a masker that keeps a header's
// shape ("Bearer …", "name=…") leaves it as it is.
const masked = "[masked]"

func sortedKeys(h http.Header) []string {
	if len(h) == 0 {
		return nil
	}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// credential is what depends on the access token alone, worked out once per token rather than
// per request. Never written once built: requests share it.
type credential struct {
	serial    uint64
	header    SentHeader // the token's header
	fp        string     // the token's fingerprint
	threshold time.Duration
	dpop      bool // the token goes with a DPoP proof
}

// attacher is described at the top of this file. What it was built with never changes; the
// credential is rebuilt under mu when the token changes and read without a lock.
type attacher struct {
	base      string
	origin    string // the target's (hostcheck.Origin): where the session's own headers go
	header    string // the profile's auth header and scheme
	scheme    string
	fixed     []SentHeader
	jar       *hostJar // the cookie convention's jar; nil otherwise
	mask      func(string) string
	threshold func(session.Token) time.Duration

	mu  sync.Mutex
	cur atomic.Pointer[credential]
}

func newAttacher(base string, p profile.Profile, hosted profile.Env, mask func(string) string, threshold func(session.Token) time.Duration) *attacher {
	a := &attacher{base: strings.TrimRight(base, "/"), origin: hostcheck.Origin(base), header: p.Auth.Header, scheme: p.Auth.Scheme, mask: mask, threshold: threshold}
	for _, k := range slices.Sorted(maps.Keys(hosted.APIHeaders)) {
		h := SentHeader{Name: k, Value: hosted.APIHeaders[k], raw: hosted.APIHeaders[k]}
		if env, ok := p.Auth.HeadersEnv[k]; ok {
			h.Secret, h.Var, h.Value = SecretAPIKey, env, masked
		}
		a.fixed = append(a.fixed, h)
	}
	return a
}

// credential is the credential for the token of serial, built once; the caller holds the
// engine's lock, so acc is the token of serial.
func (a *attacher) credential(serial uint64, acc *session.Token, bound bool) *credential {
	if c := a.cur.Load(); c != nil && c.serial == serial {
		return c
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if c := a.cur.Load(); c != nil && c.serial == serial {
		return c
	}
	c := &credential{serial: serial, fp: acc.Fingerprint(), threshold: a.threshold(*acc), dpop: bound}
	name, scheme := a.header, a.scheme
	if bound {
		// RFC 9449 §7.1: a bound token goes in Authorization with the DPoP scheme, whatever the
		// profile says; the transport sees the scheme and adds the proof.
		name, scheme = "Authorization", dpop.Scheme
	}
	c.header = SentHeader{Name: name, Secret: SecretAccess, Var: "TOKEN", raw: profile.WithScheme(scheme, acc.Raw)}
	if scheme != "" {
		c.header.Prefix = scheme + " "
	}
	c.header.Value = c.header.Prefix + session.Mask(acc.Raw)
	a.cur.Store(c)
	return c
}

// outgoing is the record of a request carrying cred (nil: no token). The session's headers go
// only to the origin they belong to: the profile's fixed and headers_env headers to the target's
// alone, the access token to the target's or to the identity provider's own endpoints that the
// engine names (Request.Provider: userinfo, introspection), the jar's cookies by its domain rules.
// A request of another origin is one of those provider calls, or code's own whole URL.
func (a *attacher) outgoing(req *profile.Request, cred *credential) Outgoing {
	o := Outgoing{Method: req.Method, at: a, path: req.Path, user: req.Header, cred: cred, body: req.Body}
	if o.foreign = isWholeURL(req.Path) && hostcheck.Origin(req.Path) != a.origin; o.foreign && req.Provider == "" {
		o.cred = nil
	}
	if a.jar != nil {
		if u, err := url.Parse(o.URL()); err == nil {
			o.cookie = cookieString(a.jar.Cookies(u))
		}
	}
	return o
}

// apply puts on h (the request's own headers, on their way out) what the record says the
// attacher adds: each and apply read the same fields, so the record is what went.
func (o Outgoing) apply(h http.Header) {
	for _, f := range o.fixed() {
		if o.user.Get(f.Name) == "" {
			h.Set(f.Name, f.raw)
		}
	}
	if o.cred != nil {
		h.Set(o.cred.header.Name, o.cred.header.raw)
	}
	if o.cookie != "" {
		h.Set("Cookie", o.cookieHeader().raw)
	}
}

func cookieString(cs []*http.Cookie) string {
	if len(cs) == 0 {
		return ""
	}
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.Name + "=" + c.Value
	}
	return strings.Join(parts, "; ")
}

// redirectCookies puts the jar's cookies for a redirect's URL on it, on the request's own:
// the cookies a hop carries are the ones its path is owed, as a browser's.
func (a *attacher) redirectCookies(req *http.Request, own string) {
	if a.jar == nil {
		return
	}
	req.Header.Del("Cookie")
	v := cookieString(a.jar.Cookies(req.URL))
	switch {
	case own != "" && v != "":
		v = own + "; " + v
	case own != "":
		v = own
	}
	if v != "" {
		req.Header.Set("Cookie", v)
	}
}

// storeOnlyJar keeps what the target sets but gives nothing back: the attacher puts the
// cookies on API requests itself, so that its record holds them.
type storeOnlyJar struct{ *hostJar }

func (storeOnlyJar) Cookies(*url.URL) []*http.Cookie { return nil }

// Outgoing is what req would carry if it were sent now, for a copy of it (the TUI's curl): the
// current token's header, the profile's headers, the jar's cookies and, for a DPoP-bound token,
// a proof signed now (a proof is good for one request, and for a short while only).
func (e *Engine) Outgoing(req profile.Request) Outgoing {
	var cred *credential
	raw := ""
	e.store.read(func(sess *session.Session, serial uint64) {
		if raw = sess.Access.Raw; raw != "" {
			cred = e.attach.credential(serial, &sess.Access, e.dpop.isBound())
		}
	})
	o := e.attach.outgoing(&req, cred)
	if cred == nil || !cred.dpop {
		return o
	}
	u, err := url.Parse(o.URL())
	if err != nil {
		return o
	}
	nonce := ""
	if t, ok := e.cfg.Transport.(*dpop.Transport); ok {
		nonce = t.Nonces.Get(dpop.ResourceServer, u)
	}
	if proof, info, err := e.dpop.key.Sign(req.Method, u, e.serverNow(), nonce, raw); err == nil {
		o.proof, o.Proofs = proof, []DPoPProof{info}
	}
	return o
}
