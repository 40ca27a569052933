package demoserver

// DPoP (RFC 9449), the server side: proofs checked at the token endpoint and at the resources,
// nonces for each, and a bounded memory of the jtis seen.

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	// dpopIatWindow is how far a proof's iat may be from the server's clock, either way.
	dpopIatWindow = 60 * time.Second
	// dpopNonceTTL is how long a nonce is handed out before a new one replaces it; the one
	// before stays valid, so a client that just learned it is not refused.
	dpopNonceTTL = 5 * time.Minute
	// dpopMaxJTIs bounds the replay memory. A jti is kept while a proof carrying it could still
	// pass the iat check; past this many at once the oldest go first.
	dpopMaxJTIs = 1 << 16
	// dpopMaxProof caps the header: a proof is a few hundred bytes (an RSA jwk a bit more).
	dpopMaxProof = 8 << 10
)

// dpopAlgs are the proof algorithms accepted: asymmetric only (RFC 9449 §4.3 item 5).
var dpopAlgs = []string{"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"}

// dpopRole separates the authorization server's nonces from the resource server's, as two
// separate servers would keep them, although the demo is both at one origin.
type dpopRole int

const (
	dpopAS dpopRole = iota
	dpopRS
)

// dpopState is the proof checker's memory. It has its own lock: proofs are checked before
// s.mu is taken, and a burst of resource calls should not queue behind token minting.
type dpopState struct {
	mu     sync.Mutex
	seen   map[string]time.Time // jti → when it may be forgotten
	order  []string             // jtis in the order seen, to forget the oldest first
	nonces [2]nonceSet
}

type nonceSet struct {
	cur, prev string
	at        time.Time // when cur was made
}

// proofError is a refused proof: use_dpop_nonce when only the nonce was missing or stale,
// invalid_dpop_proof otherwise.
type proofError struct {
	nonce bool
	desc  string
}

func (e *proofError) code() string {
	if e.nonce {
		return "use_dpop_nonce"
	}
	return "invalid_dpop_proof"
}

func badProof(format string, args ...any) *proofError {
	return &proofError{desc: fmt.Sprintf(format, args...)}
}

// currentNonce is the nonce to hand out for role now, made anew once the last is old.
func (d *dpopState) currentNonce(role dpopRole, now time.Time) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := &d.nonces[role]
	if n.cur == "" || now.Sub(n.at) >= dpopNonceTTL || now.Before(n.at) {
		n.prev, n.cur, n.at = n.cur, randOpaque(), now
	}
	return n.cur
}

func (d *dpopState) validNonce(role dpopRole, nonce string, now time.Time) bool {
	cur := d.currentNonce(role, now)
	d.mu.Lock()
	defer d.mu.Unlock()
	return nonce != "" && (nonce == cur || nonce == d.nonces[role].prev)
}

// rotate makes the next answers carry new nonces for both roles.
func (d *dpopState) rotate() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range d.nonces {
		n := &d.nonces[i]
		n.prev, n.cur = n.cur, randOpaque()
	}
}

// remember records a jti and reports false when it was seen before: a replayed proof.
func (d *dpopState) remember(jti string, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.seen == nil {
		d.seen = map[string]time.Time{}
	}
	for len(d.order) > 0 && (len(d.order) >= dpopMaxJTIs || now.After(d.seen[d.order[0]])) {
		delete(d.seen, d.order[0])
		d.order = d.order[1:]
	}
	if _, dup := d.seen[jti]; dup {
		return false
	}
	d.seen[jti] = now.Add(2 * dpopIatWindow)
	d.order = append(d.order, jti)
	return true
}

// RotateDPoPNonces makes the server hand out new DPoP nonces from now on (the previous ones
// stay valid until the next rotation), as a server does every so often.
func (s *Server) RotateDPoPNonces() { s.dpop.rotate() }

// setDPoPNonce puts the role's current nonce on an answer when the server requires nonces.
func (s *Server) setDPoPNonce(w http.ResponseWriter, role dpopRole) {
	if s.opts.DPoPNonce && !s.opts.NoDPoP {
		w.Header().Set("DPoP-Nonce", s.dpop.currentNonce(role, s.now()))
	}
}

// checkProof validates the request's DPoP proof (RFC 9449 §4.3) for role; accessToken is the
// token it must be bound to by ath (resource calls), or "". It returns the proof key's
// thumbprint, or "" and nil when the request carries no proof (or the server ignores DPoP).
func (s *Server) checkProof(r *http.Request, role dpopRole, accessToken string) (string, *proofError) {
	vals := r.Header.Values("DPoP")
	if len(vals) == 0 || s.opts.NoDPoP {
		return "", nil
	}
	var claims jwt.MapClaims
	var jkt string
	perr := badProof("more than one DPoP header")
	switch {
	case len(vals) > 1:
	case len(vals[0]) > dpopMaxProof:
		perr = badProof("the DPoP proof is larger than %d bytes", dpopMaxProof)
	default:
		claims, jkt, perr = parseProof(vals[0])
	}
	if perr == nil {
		perr = s.checkProofClaims(r, role, claims, accessToken)
	}
	if perr != nil {
		s.count(func(st *Stats) {
			if perr.nonce {
				st.DPoPNonceChallenges++
			} else {
				st.DPoPProofsRejected++
			}
		})
		return "", perr
	}
	s.count(func(st *Stats) { st.DPoPProofsOK++ })
	return jkt, nil
}

// parseProof checks the proof's header (typ, alg, jwk) and signature and returns its claims and
// the thumbprint of the key that signed it.
func parseProof(raw string) (jwt.MapClaims, string, *proofError) {
	var jkt string
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(jwt.WithValidMethods(dpopAlgs), jwt.WithoutClaimsValidation()).ParseWithClaims(raw, claims,
		func(t *jwt.Token) (any, error) {
			if typ, _ := t.Header["typ"].(string); typ != "dpop+jwt" {
				return nil, errors.New(`typ is not "dpop+jwt"`)
			}
			jwk, ok := t.Header["jwk"].(map[string]any)
			if !ok {
				return nil, errors.New("no jwk header")
			}
			key, thumb, err := publicKeyOf(jwk)
			jkt = thumb
			return key, err
		})
	if err != nil {
		return nil, "", badProof("DPoP proof rejected: %v", err)
	}
	return claims, jkt, nil
}

// checkProofClaims checks jti, htm, htu, iat, ath and nonce, the jti's novelty last, so that a
// proof refused for another reason does not use its jti up.
func (s *Server) checkProofClaims(r *http.Request, role dpopRole, c jwt.MapClaims, accessToken string) *proofError {
	str := func(k string) string { v, _ := c[k].(string); return v }
	now := s.now()
	iat, err := c.GetIssuedAt()
	jti := str("jti")
	switch {
	case jti == "" || len(jti) > 256:
		return badProof("the proof's jti is missing or longer than 256 characters")
	case str("htm") != r.Method:
		return badProof("the proof's htm %q is not the request's method %s", clip(str("htm"), 16), r.Method)
	case !s.htuMatches(r, str("htu")):
		return badProof("the proof's htu %q is not this request's URI", clip(str("htu"), 200))
	case err != nil || iat == nil:
		return badProof("the proof has no numeric iat")
	case iat.Sub(now) > dpopIatWindow || now.Sub(iat.Time) > dpopIatWindow:
		return badProof("the proof's iat is more than %s from the server's time", dpopIatWindow)
	case accessToken != "" && str("ath") != b64sha256(accessToken):
		return badProof("the proof's ath is not the hash of the access token sent with it")
	case s.opts.DPoPNonce && !s.dpop.validNonce(role, str("nonce"), now):
		return &proofError{nonce: true, desc: "a DPoP nonce is required: use the one in the DPoP-Nonce header"}
	case !s.dpop.remember(jti, now):
		return badProof("the proof's jti was used before: a replayed proof")
	}
	return nil
}

// htuMatches compares a proof's htu with the request's URI, without query and fragment
// (RFC 9449 §4.3 item 9): as the client reached the server (Host), or under the configured
// issuer when there is one (a proxy in front).
func (s *Server) htuMatches(r *http.Request, htu string) bool {
	u, err := url.Parse(htu)
	if err != nil || !u.IsAbs() {
		return false
	}
	want := normalURI(u)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	for _, base := range []string{scheme + "://" + r.Host, s.opts.Issuer} {
		if c, err := url.Parse(base + r.URL.EscapedPath()); base != "" && err == nil && normalURI(c) == want {
			return true
		}
	}
	return false
}

// normalURI is scheme://host[:port]/path in lower case where case does not matter, the
// scheme's default port dropped (RFC 3986 §6.2.3).
func normalURI(u *url.URL) string {
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") { // an IPv6 literal keeps its brackets
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path
}

func b64sha256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// privateMembers are JWK members that only a private key has (RFC 7518 §6.2.2, §6.3.2, §6.4).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// publicKeyOf turns a proof's jwk into a verification key and its RFC 7638 thumbprint. It is
// written here again rather than shared with the client, so that a bug in one side's thumbprint
// shows as a mismatch in the tests.
func publicKeyOf(jwk map[string]any) (any, string, error) {
	for _, m := range privateMembers {
		if _, ok := jwk[m]; ok {
			return nil, "", fmt.Errorf("the jwk holds a private key member %q", m)
		}
	}
	str := func(k string) string { v, _ := jwk[k].(string); return v }
	var key any
	var members []string
	var err error
	switch str("kty") {
	case "EC":
		key, err = ecKey(str("crv"), str("x"), str("y"))
		members = []string{"crv", "kty", "x", "y"}
	case "RSA":
		key, err = rsaKey(str("n"), str("e"))
		members = []string{"e", "kty", "n"}
	case "OKP":
		key, err = okpKey(str("crv"), str("x"))
		members = []string{"crv", "kty", "x"}
	default:
		err = fmt.Errorf("unsupported jwk kty %q", clip(str("kty"), 16))
	}
	if err != nil {
		return nil, "", err
	}
	canon := map[string]string{}
	for _, m := range members {
		canon[m] = str(m)
	}
	b, _ := json.Marshal(canon) // a map of strings always marshals, keys sorted
	return key, b64sha256(string(b)), nil
}

func ecKey(crv, x, y string) (*ecdsa.PublicKey, error) {
	curves := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}
	c, ok := curves[crv]
	if !ok {
		return nil, fmt.Errorf("unsupported EC curve %q", clip(crv, 16))
	}
	size := (c.Params().BitSize + 7) / 8
	xb, err1 := base64.RawURLEncoding.DecodeString(x)
	yb, err2 := base64.RawURLEncoding.DecodeString(y)
	if err1 != nil || err2 != nil || len(xb) != size || len(yb) != size {
		return nil, fmt.Errorf("the EC jwk's x and y must be %d base64url bytes each", size)
	}
	// ParseUncompressedPublicKey checks that the point is on the curve.
	k, err := ecdsa.ParseUncompressedPublicKey(c, append(append([]byte{4}, xb...), yb...))
	if err != nil {
		return nil, fmt.Errorf("the EC jwk is not a point on %s", crv)
	}
	return k, nil
}

func rsaKey(n, e string) (*rsa.PublicKey, error) {
	nb, err1 := base64.RawURLEncoding.DecodeString(n)
	eb, err2 := base64.RawURLEncoding.DecodeString(e)
	if err1 != nil || err2 != nil || len(eb) == 0 || len(eb) > 4 {
		return nil, errors.New("the RSA jwk's n and e must be base64url, e at most 4 bytes")
	}
	k := &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: int(new(big.Int).SetBytes(eb).Int64())}
	if k.N.BitLen() < 2048 || k.N.BitLen() > 8192 || k.E < 3 || k.E%2 == 0 {
		return nil, errors.New("the RSA jwk must be 2048 to 8192 bits with an odd exponent of 3 or more")
	}
	return k, nil
}

func okpKey(crv, x string) (ed25519.PublicKey, error) {
	xb, err := base64.RawURLEncoding.DecodeString(x)
	if crv != "Ed25519" || err != nil || len(xb) != ed25519.PublicKeySize {
		return nil, errors.New("the OKP jwk must be Ed25519 with a 32-byte x")
	}
	return ed25519.PublicKey(xb), nil
}
