// Package sent is the record of what a request carried: every header tokenscope put on it
// (the session's secrets in them masked, and what kind of secret each is), its URL and its
// body. The engine's attacher writes one for every attempt and puts on the wire exactly what it
// says (Request.Apply), so that the copied curl and the detail view, which read it, never
// rebuild what went and drift from it; --har records the wire itself, which is the same.
package sent

import (
	"net/http"
	"slices"
	"strings"

	"tokenscope/apiclient/dpop"
	"tokenscope/internal/har"
)

// Secret is what kind of secret a header holds.
type Secret int

// Secrets.
const (
	None      Secret = iota // nothing the session keeps secret
	Access                  // the access token
	APIKey                  // a value read from the environment (a profile's headers_env)
	Cookie                  // the jar's cookies
	DPoPProof               // a DPoP proof
	Session                 // one of the session's secrets, found in the request's own header
)

// Masked stands for a secret in a record: one word, so that a masker that keeps a header's
// shape ("Bearer …", "name=…") leaves it as it is.
const Masked = "[masked]"

// Header is one header a request carried. Value is safe to show: the secret in it masked.
type Header struct {
	Name string
	// Value is Prefix and the secret masked (Masked; the access token as session.Mask shows
	// it); the value itself when Secret is None.
	Value  string
	Secret Secret
	// Prefix is the part of the value before the secret that may be shown ("Bearer ").
	Prefix string
	// Var is the shell variable a masked copy (the copied curl) refers to for the secret: TOKEN,
	// DPOP_PROOF, COOKIE, or the environment variable a headers_env value was read from.
	Var string
	raw string
}

// Plain is a header that holds no secret.
func Plain(name, value string) Header { return Header{Name: name, Value: value, raw: value} }

// Holding is a header whose value raw holds a secret of kind s, shown as prefix+shown and
// named $varName in a masked copy.
func Holding(name, raw string, s Secret, varName, prefix, shown string) Header {
	return Header{Name: name, Value: prefix + shown, Secret: s, Prefix: prefix, Var: varName, raw: raw}
}

// Raw is the value as it went on the wire; "" for a DPoP proof the transport signed (proofs are
// used once, and not kept).
func (h Header) Raw() string { return h.raw }

// Parts are what the attacher decided a request carries.
type Parts struct {
	Method string
	Base   string      // the target; "" for a call the attacher did not make
	Path   string      // a path on the target, or a whole URL
	User   http.Header // the request's own headers
	Fixed  []Header    // the target's own headers (a profile's fixed and headers_env ones); nil elsewhere
	Auth   *Header     // the access token's header; nil when none goes
	Cookie string      // the jar's cookies for the URL; "" for none
	Proof  string      // a preview's signed proof (Engine.Outgoing); "" on the wire
	Body   []byte      // the request's body, as sent
	Mask   func(string) string
}

// Request is the record of what one attempt carried, or of what a request would carry now.
type Request struct {
	Method string
	// Proofs are the DPoP proofs the attempt carried, in order: the transport adds one when the
	// server asks for a nonce (use_dpop_nonce), and a same-origin redirect another.
	Proofs []dpop.Proof
	p      Parts
}

// New is the record of p.
func New(p Parts) Request { return Request{Method: p.Method, p: p} }

// URL is where the attempt went: the target and the request's path, or the path itself when it
// is a whole URL (as resty does).
func (o Request) URL() string { return JoinURL(o.p.Base, o.p.Path) }

// IsWholeURL reports whether a request's path is a whole http(s) URL rather than a path on the
// target.
func IsWholeURL(path string) bool {
	return strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://")
}

// JoinURL is base and path as resty joins them: a whole URL stays as it is.
func JoinURL(base, path string) string {
	if IsWholeURL(path) || base == "" {
		return path
	}
	if !strings.HasPrefix(path, "/") {
		return base + "/" + path
	}
	return base + path
}

// Body is the body as sent, cut where a recording cuts it (har.RecordedBodyMax); more is how
// many bytes were cut.
func (o Request) Body() (body []byte, more int) {
	if max := har.RecordedBodyMax; len(o.p.Body) > max {
		return o.p.Body[:max], len(o.p.Body) - max
	}
	return o.p.Body, 0
}

// Header lists the headers in the order the attacher decided them: the request's own, the
// target's own that the request did not set, the token's header, Cookie, DPoP. A header of the
// request's own is shown through the session's redaction.
func (o Request) Header() []Header {
	var out []Header
	o.each(func(h Header) { out = append(out, h) })
	return out
}

// Apply puts on h (the request's own headers, on their way out) what the record says the
// attacher adds: Header and Apply read the same fields, so the record is what went.
func (o Request) Apply(h http.Header) {
	for _, f := range o.p.Fixed {
		if o.p.User.Get(f.Name) == "" {
			h.Set(f.Name, f.raw)
		}
	}
	if o.p.Auth != nil {
		h.Set(o.p.Auth.Name, o.p.Auth.raw)
	}
	if o.p.Cookie != "" {
		h.Set("Cookie", o.cookieHeader().raw)
	}
}

func (o Request) each(f func(Header)) {
	authName := ""
	if o.p.Auth != nil {
		authName = o.p.Auth.Name
	}
	for _, k := range sortedKeys(o.p.User) {
		if strings.EqualFold(k, authName) || (o.p.Cookie != "" && strings.EqualFold(k, "Cookie")) {
			continue // the token's header replaces the request's; a Cookie of its own goes below
		}
		for _, v := range o.p.User[k] {
			h := Plain(k, v)
			if o.p.Mask != nil {
				if h.Value = o.p.Mask(v); h.Value != v {
					h.Secret = Session
				}
			}
			f(h)
		}
	}
	for _, h := range o.p.Fixed {
		if o.p.User.Get(h.Name) == "" {
			f(h)
		}
	}
	if o.p.Auth != nil {
		f(*o.p.Auth)
	}
	if o.p.Cookie != "" {
		f(o.cookieHeader())
	}
	if o.p.Proof != "" {
		f(Holding(dpop.Header, o.p.Proof, DPoPProof, "DPOP_PROOF", "", Masked))
		return
	}
	for range o.Proofs {
		f(Holding(dpop.Header, "", DPoPProof, "DPOP_PROOF", "", Masked))
	}
}

// cookieHeader is the Cookie header: the request's own cookies, then the jar's (masked).
func (o Request) cookieHeader() Header {
	prefix := ""
	if own := o.p.User.Get("Cookie"); own != "" {
		prefix = own + "; "
	}
	return Holding("Cookie", prefix+o.p.Cookie, Cookie, "COOKIE", prefix, Masked)
}

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
