package apiclient

// Sender-constrained tokens (RFC 9449): the session's proof key, the transport that puts a
// proof on every token and resource call, and what the TUI shows of the binding.

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"tokenscope/apiclient/dpop"
	"tokenscope/apiclient/profile"
	"tokenscope/session"
)

// DPoPProof is one proof the engine sent: for a request's detail (Result.Proofs) and, for the
// token endpoint, DPoPStatus.LastTokenProof. It holds no secret.
type DPoPProof = dpop.Proof

// DPoPStatus is the DPoP side of a Snapshot; nil there when DPoP is off.
type DPoPStatus struct {
	JKT       string       // the session key's JWK thumbprint (RFC 7638)
	Bound     bool         // the provider answered token_type DPoP: resource calls carry proofs
	TokenType string       // token_type of the last token answer
	CnfJKT    string       // the access token's cnf.jkt, when it is a JWT with one
	Binding   dpop.Binding // cnf.jkt compared with JKT
	// LastTokenProof is the latest proof sent to the authorization server (zero before one).
	LastTokenProof DPoPProof
}

// dpopState is the engine's DPoP side. key never changes; the rest is guarded by mu, which
// is taken inside the session store's lock (the binding goes with the token it came with).
type dpopState struct {
	key            *dpop.Key
	mu             sync.Mutex
	bound          bool
	tokenType      string
	lastTokenProof dpop.Proof
}

// setupDPoP makes the session's key and puts the proof transport under every client the
// engine builds afterwards: the API's, and the one login, refresh and the OIDC flows use.
func (e *Engine) setupDPoP() error {
	key, err := dpop.NewKey()
	if err != nil {
		return err
	}
	e.dpop = &dpopState{key: key}
	e.cfg.Transport = &dpop.Transport{Base: e.cfg.Transport, Key: key, Now: e.serverNow, TokenCall: e.isTokenCall, OnProof: e.onProof}
	return nil
}

// isTokenCall picks the authorization server calls that carry a proof: POSTs to the token
// endpoint (every grant, refresh and device polling included) and to the PAR endpoint
// (RFC 9449 §10.1). Discovery, keys and the device authorization endpoint go without.
func (e *Engine) isTokenCall(req *http.Request) bool {
	l := e.idp.Load()
	if req.Method != http.MethodPost || l == nil {
		return false
	}
	htu := dpop.HTU(req.URL)
	p := l.client.Provider
	for _, ep := range []string{p.TokenEndpoint, p.PushedAuthorizationRequestEndpoint} {
		if u, err := url.Parse(ep); err == nil && ep != "" && dpop.HTU(u) == htu {
			return true
		}
	}
	return false
}

// onProof records a proof: on the request it went with (its Result shows it), or as the last
// token call's. A second proof after use_dpop_nonce is also told in the log.
func (e *Engine) onProof(req *http.Request, p dpop.Proof) {
	c := callOf(req.Context())
	if c != nil && len(c.attempts) > 0 {
		a := c.last() // the call's own goroutine: the transport runs inside Execute
		a.Out.Proofs = append(a.Out.Proofs, p)
	} else if c == nil {
		e.dpop.mu.Lock()
		e.dpop.lastTokenProof = p
		e.dpop.mu.Unlock()
	}
	if p.Retry {
		role := dpop.AuthServer
		if p.ATH {
			role = dpop.ResourceServer
		}
		ev := session.Event{Kind: session.KindNote, Reason: fmt.Sprintf("DPoP: the %s asked for a nonce (use_dpop_nonce): %s %s sent again with a new proof carrying it", role, p.HTM, p.HTU)}
		if c != nil {
			ev.RequestID = c.id
		}
		e.emit(&ev)
	}
}

// bind takes in the token_type of a new token answer and returns a note for the log when
// the provider did not bind the token; the session store runs it as it installs the token,
// and the engine emits the note after.
func (e *Engine) bind(p profile.Answer, login bool) string {
	d := e.dpop
	if d == nil {
		return ""
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if p.TokenType == "" && !login {
		return "" // a refresh answer that does not say keeps what the login said
	}
	was := d.bound
	d.tokenType = p.TokenType
	d.bound = strings.EqualFold(p.TokenType, dpop.Scheme)
	switch {
	case !d.bound && (login || was):
		return fmt.Sprintf("DPoP: the provider did not bind the token (token_type %q, not DPoP): it is sent as a Bearer token, without proofs", clipRunes(p.TokenType, 32))
	case d.bound && bindingOf(p.Access, d.key.Thumbprint()) == dpop.BindingMismatch:
		return "DPoP: the access token's cnf.jkt names another key than this session's: the resource server will refuse it"
	}
	return ""
}

// resumeBinding decides how a token from a session file goes out: a token whose cnf
// names a key is DPoP-bound. A session file keeps tokens, not the key, so a token bound to
// another key is of no use: neither it nor a public client's refresh token (bound to the same
// key, RFC 9449 §5) will be taken: it returns why the session needs a login then, so that
// requests park until one. The session store runs it as it installs the token.
func (e *Engine) resumeBinding(acc session.Token) string {
	d := e.dpop
	if d == nil {
		return ""
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.bound, d.tokenType = dpop.CnfJKT(acc.Claims) != "", ""
	if bindingOf(acc, d.key.Thumbprint()) == dpop.BindingMismatch {
		return "the saved tokens are bound to the DPoP key of an earlier run, and session files do not keep keys"
	}
	return ""
}

// dpopStatus is what Snapshot shows of DPoP with acc the current access token; nil when off.
func (e *Engine) dpopStatus(acc session.Token) *DPoPStatus {
	d := e.dpop
	if d == nil {
		return nil
	}
	jkt := d.key.Thumbprint()
	d.mu.Lock()
	defer d.mu.Unlock()
	return &DPoPStatus{JKT: jkt, Bound: d.bound, TokenType: d.tokenType, CnfJKT: dpop.CnfJKT(acc.Claims),
		Binding: bindingOf(acc, jkt), LastTokenProof: d.lastTokenProof}
}

// isBound reports whether resource calls carry proofs; false when DPoP is off.
func (d *dpopState) isBound() bool {
	if d == nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.bound
}

// bindingOf is the access token's binding to the key of thumbprint jkt.
func bindingOf(t session.Token, jkt string) dpop.Binding {
	return dpop.BindingOf(t.Raw, t.JWT, t.Claims, jkt)
}
