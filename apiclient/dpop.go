package apiclient

// Sender-constrained tokens (RFC 9449): the session's proof key, the transport that puts a
// proof on every token and resource call, and what the TUI shows of the binding.

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"tokenscope/apiclient/dpop"
	"tokenscope/apiclient/profile"
	"tokenscope/session"
)

// DPoPProof is one proof the engine sent: for a request's detail (Result.Proofs) and, for the
// token endpoint, DPoPStatus.LastTokenProof. It holds no secret.
type DPoPProof = dpop.Proof

// DPoPBinding is how the access token is bound to the session's key, as its cnf.jkt claim says.
type DPoPBinding string

// Bindings.
const (
	BindingNoToken  DPoPBinding = ""         // no access token
	BindingMatch    DPoPBinding = "match"    // cnf.jkt is the session key's thumbprint
	BindingMismatch DPoPBinding = "mismatch" // cnf.jkt names another key: the server will refuse it
	BindingNoCnf    DPoPBinding = "no-cnf"   // a JWT without cnf.jkt: not bound, or not saying
	BindingOpaque   DPoPBinding = "opaque"   // not a JWT: only the server knows
)

// DPoPStatus is the DPoP side of a Snapshot; nil there when DPoP is off.
type DPoPStatus struct {
	JKT       string      // the session key's JWK thumbprint (RFC 7638)
	Bound     bool        // the provider answered token_type DPoP: resource calls carry proofs
	TokenType string      // token_type of the last token answer
	CnfJKT    string      // the access token's cnf.jkt, when it is a JWT with one
	Binding   DPoPBinding // cnf.jkt compared with JKT
	// LastTokenProof is the latest proof sent to the authorization server (zero before one).
	LastTokenProof DPoPProof
}

// dpopState is the engine's DPoP side. key never changes; the rest is guarded by Engine.mu.
type dpopState struct {
	key            *dpop.Key
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
	e.transport = &dpop.Transport{Base: e.transport, Key: key, Now: e.serverNow, TokenCall: e.isTokenCall, OnProof: e.onProof}
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
		e.mu.Lock()
		e.dpop.lastTokenProof = p
		e.mu.Unlock()
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
		e.emit(ev)
	}
}

// bindLocked takes in the token_type of a new token answer and returns a note for the log when
// the provider did not bind the token; the caller holds e.mu and emits the note after.
func (e *Engine) bindLocked(p profile.Answer, login bool) string {
	d := e.dpop
	if d == nil {
		return ""
	}
	if p.TokenType == "" && !login {
		return "" // a refresh answer that does not say keeps what the login said
	}
	was := d.bound
	d.tokenType = p.TokenType
	d.bound = strings.EqualFold(p.TokenType, dpop.Scheme)
	switch {
	case !d.bound && (login || was):
		return fmt.Sprintf("DPoP: the provider did not bind the token (token_type %q, not DPoP): it is sent as a Bearer token, without proofs", clipRunes(p.TokenType, 32))
	case d.bound && bindingOf(p.Access, d.key.Thumbprint()) == BindingMismatch:
		return "DPoP: the access token's cnf.jkt names another key than this session's: the resource server will refuse it"
	}
	return ""
}

// resumeBindingLocked decides how a token from a session file goes out: a token whose cnf
// names a key is DPoP-bound. A session file keeps tokens, not the key, so a token bound to
// another key is of no use: neither it nor a public client's refresh token (bound to the same
// key, RFC 9449 §5) will be taken: it returns why the session needs a login then, so that
// requests park until one. The caller holds e.mu.
func (e *Engine) resumeBindingLocked(acc session.Token) string {
	d := e.dpop
	if d == nil {
		return ""
	}
	d.bound, d.tokenType = cnfJKT(acc) != "", ""
	if bindingOf(acc, d.key.Thumbprint()) == BindingMismatch {
		return "the saved tokens are bound to the DPoP key of an earlier run, and session files do not keep keys"
	}
	return ""
}

func (e *Engine) dpopStatusLocked() *DPoPStatus {
	d := e.dpop
	if d == nil {
		return nil
	}
	jkt := d.key.Thumbprint()
	return &DPoPStatus{JKT: jkt, Bound: d.bound, TokenType: d.tokenType, CnfJKT: cnfJKT(e.sess.Access),
		Binding: bindingOf(e.sess.Access, jkt), LastTokenProof: d.lastTokenProof}
}

// cnfJKT is a JWT access token's cnf.jkt claim (RFC 9449 §6.1), or "".
func cnfJKT(t session.Token) string {
	cnf, _ := t.Claims["cnf"].(map[string]any)
	jkt, _ := cnf["jkt"].(string)
	return jkt
}

func bindingOf(t session.Token, jkt string) DPoPBinding {
	switch {
	case t.Raw == "":
		return BindingNoToken
	case !t.JWT:
		return BindingOpaque
	}
	switch c := cnfJKT(t); c {
	case "":
		return BindingNoCnf
	case jkt:
		return BindingMatch
	}
	return BindingMismatch
}
