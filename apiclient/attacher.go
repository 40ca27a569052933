package apiclient

// The attacher decides everything an API request carries besides what the user put on it: the
// profile's fixed and headers_env headers, the access token in the profile's header (or, for a
// DPoP-bound token, in Authorization with the DPoP scheme; the transport adds the proof), and
// the cookie convention's cookies. It keeps a record of what went out (sent.Request) for every
// attempt, which the wire, the copied curl and the detail view all read, so that none of them
// rebuilds it and drifts (--har records the wire itself, below the transport, through the same
// redactor).

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
	"tokenscope/apiclient/sent"
	"tokenscope/internal/hostcheck"
	"tokenscope/session"
)

// credential is what depends on the access token alone, worked out once per token rather than
// per request. Never written once built: requests share it.
type credential struct {
	serial    uint64
	header    sent.Header // the token's header
	fp        string      // the token's fingerprint
	threshold time.Duration
	dpop      bool // the token goes with a DPoP proof
}

// attacher is described at the top of this file. What it was built with never changes; the
// credential is rebuilt under mu when the token changes and read without a lock.
type attacher struct {
	base      string
	origin    string             // the target's (hostcheck.Origin): where the session's own headers go
	auth      profile.AuthHeader // where the token goes
	fixed     []sent.Header
	jar       *profile.HostJar // the cookies the target set
	mask      func(string) string
	threshold func(session.Token) time.Duration

	mu  sync.Mutex
	cur atomic.Pointer[credential]
}

func newAttacher(base string, p profile.Profile, hosted profile.Env, mask func(string) string, threshold func(session.Token) time.Duration) *attacher {
	a := &attacher{base: strings.TrimRight(base, "/"), origin: hostcheck.Origin(base), auth: p.Auth, mask: mask, threshold: threshold}
	if u, err := url.Parse(base); err == nil {
		a.jar = profile.NewHostJar(u)
	}
	for _, k := range slices.Sorted(maps.Keys(hosted.APIHeaders)) {
		h := sent.Plain(k, hosted.APIHeaders[k])
		if env, ok := p.Auth.HeadersEnv[k]; ok {
			h = sent.Holding(k, hosted.APIHeaders[k], sent.APIKey, env, "", sent.Masked)
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
	name, scheme := a.auth.For(bound) // bound: the transport sees the DPoP scheme and adds the proof
	prefix := ""
	if scheme != "" {
		prefix = scheme + " "
	}
	c.header = sent.Holding(name, profile.WithScheme(scheme, acc.Raw), sent.Access, "TOKEN", prefix, session.Mask(acc.Raw))
	a.cur.Store(c)
	return c
}

// outgoing is the record of a request carrying cred (nil: no token), and proof (a preview's
// signed DPoP proof; "" on the wire). The session's headers go only to the origin they belong
// to: the profile's fixed and headers_env headers to the target's alone, the access token to the
// target's or to the identity provider's own endpoints that the engine names (Request.Provider:
// userinfo, introspection), the jar's cookies by its domain rules. A request of another origin
// is one of those provider calls, or code's own whole URL.
func (a *attacher) outgoing(req *profile.Request, cred *credential, proof string) sent.Request {
	p := sent.Parts{Method: req.Method, Base: a.base, Path: req.Path, User: req.Header, Fixed: a.fixed,
		Proof: proof, Body: req.Body, Mask: a.mask}
	foreign := sent.IsWholeURL(req.Path) && hostcheck.Origin(req.Path) != a.origin
	if foreign {
		p.Fixed = nil
	}
	if cred != nil && (!foreign || req.Provider != "") {
		p.Auth = &cred.header
	}
	if !a.jar.Empty() {
		if u, err := url.Parse(sent.JoinURL(p.Base, p.Path)); err == nil {
			p.Cookie = cookieString(a.jar.Cookies(u))
		}
	}
	return sent.New(p)
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
	if a.jar.Empty() {
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
type storeOnlyJar struct{ *profile.HostJar }

func (storeOnlyJar) Cookies(*url.URL) []*http.Cookie { return nil }

// Outgoing is what req would carry if it were sent now, for a copy of it (the TUI's curl): the
// current token's header, the profile's headers, the jar's cookies and, for a DPoP-bound token,
// a proof signed now (a proof is good for one request, and for a short while only).
func (e *Engine) Outgoing(req profile.Request) sent.Request {
	var cred *credential
	raw := ""
	e.store.read(func(sess *session.Session, serial uint64) {
		if raw = sess.Access.Raw; raw != "" {
			cred = e.attach.credential(serial, &sess.Access, e.dpop.isBound())
		}
	})
	o := e.attach.outgoing(&req, cred, "")
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
		o = e.attach.outgoing(&req, cred, proof)
		o.Proofs = []DPoPProof{info}
	}
	return o
}
