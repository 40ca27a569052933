package demoserver

// Where DPoP meets the endpoints: the token endpoint's proof and binding checks, and the
// resources' credentials (Bearer, or DPoP with a proof).

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// jktRE is an RFC 7638 SHA-256 thumbprint: 43 base64url characters.
var jktRE = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// tokenProof checks the token endpoint call's proof. It returns the proof key's thumbprint ("" for
// a call without one) and false when it has answered with an error (use_dpop_nonce, with the
// nonce in DPoP-Nonce, or invalid_dpop_proof).
func (s *Server) tokenProof(w http.ResponseWriter, r *http.Request) (string, bool) {
	s.setDPoPNonce(w, dpopAS)
	jkt, perr := s.checkProof(r, dpopAS, "")
	if perr != nil {
		oauthError(w, http.StatusBadRequest, perr.code(), perr.desc)
		return "", false
	}
	if jkt == "" && s.opts.DPoPNonce && !s.opts.NoDPoP {
		// A server that insists on nonces insists on proofs: otherwise a client could sidestep
		// the nonce by sending none.
		oauthError(w, http.StatusBadRequest, "invalid_dpop_proof", "this server requires DPoP: send a DPoP proof")
		return "", false
	}
	return jkt, true
}

// refreshBindingError checks a refresh token against the proof presented with it: a public
// client's refresh tokens are bound to the key of the grant that issued them (RFC 9449 §5), so
// the refresh must be proved with that same key. It returns "" when the refresh may go on (an
// unknown or dead token is left for the refresh itself to refuse).
func (s *Server) refreshBindingError(raw string, c *client, jkt string) string {
	if c.secret != "" {
		return "" // a confidential client's refresh tokens are bound by its authentication instead
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.lookupRefresh(raw)
	if err != nil {
		return ""
	}
	f := s.families[rec.family]
	switch {
	case f == nil || f.jkt == "":
		return ""
	case jkt == "":
		return "the refresh token is DPoP-bound: prove possession of its key with a DPoP proof"
	case jkt != f.jkt:
		return "the refresh token is bound to another DPoP key than the proof's"
	}
	return ""
}

// authFail is a resource's refusal of the credentials it was sent.
type authFail struct {
	scheme string // of the challenge: Bearer, or DPoP when the request used DPoP
	code   string // RFC 6750 §3.1 or RFC 9449 §7.1 error; "" when no credentials were sent
	desc   string
	body   any // the resource's answer body; nil: {"detail", "code"}
}

// challenge is the WWW-Authenticate value.
func (f *authFail) challenge() string {
	h := f.scheme + ` realm="` + realm + `"`
	if f.scheme == "DPoP" {
		h = `DPoP realm="` + realm + `", algs="` + strings.Join(dpopAlgs, " ") + `"`
	}
	if f.code != "" {
		h += fmt.Sprintf(`, error="%s"`, f.code)
		if f.code != "invalid_request" {
			h += fmt.Sprintf(`, error_description="%s"`, quoteSafe(f.desc))
		}
	}
	return h
}

// presentedAccess checks a resource call's credentials: a Bearer token, or a DPoP token with a
// proof bound to it by ath and signed by the key the token is bound to. A bound token sent as
// Bearer is refused: that is the theft DPoP exists to stop.
func (s *Server) presentedAccess(w http.ResponseWriter, r *http.Request) (user, scope string, fail *authFail) {
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return "", "", &authFail{scheme: "Bearer", desc: "no credentials", body: map[string]string{"detail": "Authentication credentials were not provided."}}
	}
	scheme, tok, _ := strings.Cut(authz, " ")
	tok = strings.TrimSpace(tok)
	isDPoP := strings.EqualFold(scheme, "DPoP") && !s.opts.NoDPoP
	if (!strings.EqualFold(scheme, "Bearer") && !isDPoP) || tok == "" {
		return "", "", &authFail{scheme: "Bearer", code: "invalid_request", desc: "bad Authorization header",
			body: map[string]string{"detail": `Authorization header must be "Bearer <token>" (or "DPoP <token>" with a DPoP proof)`, "code": "bad_authorization_header"}}
	}
	var jkt string
	if isDPoP {
		s.setDPoPNonce(w, dpopRS)
		var perr *proofError
		if jkt, perr = s.checkProof(r, dpopRS, tok); perr != nil {
			return "", "", &authFail{scheme: "DPoP", code: perr.code(), desc: perr.desc}
		}
		if jkt == "" {
			return "", "", &authFail{scheme: "DPoP", code: "invalid_dpop_proof", desc: "Authorization: DPoP needs a DPoP proof header"}
		}
	}
	s.mu.Lock()
	rec, f, err := s.liveAccessLocked(tok)
	if err == nil {
		user, scope = rec.user, f.scope
	}
	s.mu.Unlock()
	challenge := map[bool]string{true: "DPoP", false: "Bearer"}[isDPoP]
	switch {
	case err != nil:
		return "", "", &authFail{scheme: challenge, code: "invalid_token", desc: err.Error(), body: tokenNotValid(err.Error())}
	case isDPoP && rec.jkt == "":
		return "", "", &authFail{scheme: "DPoP", code: "invalid_token", desc: "the token is not DPoP-bound: send it as Bearer"}
	case isDPoP && rec.jkt != jkt:
		return "", "", &authFail{scheme: "DPoP", code: "invalid_dpop_proof", desc: "the proof is signed by another key than the one the token is bound to"}
	case !isDPoP && rec.jkt != "":
		return "", "", &authFail{scheme: "DPoP", code: "invalid_token", desc: "the token is DPoP-bound: send it as Authorization: DPoP with a proof"}
	}
	return user, scope, nil
}

// tokenNotValid is simplejwt's answer to a dead access token.
func tokenNotValid(why string) map[string]any {
	return map[string]any{
		"detail": "Given token not valid for any token type",
		"code":   "token_not_valid",
		"messages": []map[string]string{{
			"token_class": "AccessToken", "token_type": typeAccess, "message": why,
		}},
	}
}

// writeAuthFail answers a refused resource call.
func (s *Server) writeAuthFail(w http.ResponseWriter, status int, f *authFail) {
	if !s.auditKnobs().NoWWWAuthenticate {
		w.Header().Set("WWW-Authenticate", f.challenge())
	}
	body := f.body
	if body == nil {
		body = map[string]string{"detail": f.desc, "code": f.code}
	}
	writeJSON(w, status, body)
}
