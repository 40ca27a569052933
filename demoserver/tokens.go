package demoserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token type claim values, named as simplejwt names them.
const (
	typeAccess  = "access"
	typeRefresh = "refresh"
)

// Why a token was rejected. The text ends up in response bodies and the request log.
var (
	errMalformed = errors.New("token is malformed")
	errExpired   = errors.New("token is expired")
	errRevoked   = errors.New("token was revoked")
	errWrongType = errors.New("wrong token type")
	errUnknown   = errors.New("token is not known to this server")
	errReused    = errors.New("refresh token reuse detected: it was already used, so its token family is revoked")
	// errFamilyReused is errRevoked for a family that reuse revoked: in a stampede all but the
	// first loser meet the revoked family, and a client should learn why from any of them.
	errFamilyReused = errors.New("refresh token reuse detected earlier: its token family is revoked")
	errRotated      = errors.New("refresh token was already rotated")
)

// accessRec is the server's record of one live access token. Keeping a registry (rather than
// trusting the signature alone) is what lets "expire all access tokens now" and family
// revocation take effect immediately, and what gives opaque tokens a meaning at all.
type accessRec struct {
	family string
	user   string
	iat    time.Time
	exp    time.Time
	killed bool   // expired early by the expire-access knob
	jkt    string // the DPoP key it is bound to; "" for a Bearer token
}

// refreshRec is one refresh token of a family.
type refreshRec struct {
	family    string
	user      string
	iat       time.Time
	exp       time.Time
	rotated   bool      // a newer token of the family replaced it
	rotatedAt time.Time // when it was rotated: the grace window runs from here
	successor string    // the registry key of the token that replaced it
}

// family is the chain of refresh tokens descended from one login.
type family struct {
	user      string
	client    string    // the client it was issued to
	scope     string    // granted scope, space-separated; empty for the legacy logins
	authTime  time.Time // when the user authenticated (OIDC auth_time)
	noRefresh bool      // access tokens only (client_credentials, no offline_access)
	oidc      bool      // issued by the OpenID flows: access tokens carry scope and client_id
	jkt       string    // the DPoP key its tokens are bound to (RFC 9449); "" for Bearer
	revoked   bool
	reused    bool // revoked because one of its refresh tokens was presented again
	rotations int
	exp       time.Time // expiry of its newest refresh token, for pruning
}

// pair is what a login or refresh hands out.
type pair struct {
	family          string
	access, refresh string
	refreshKey      string // refresh's registry key, when it is new
	rotated         bool   // refresh is a new token
	accessExp       time.Time
}

type signer struct {
	alg    string
	kid    string
	secret []byte
	ec     *ecdsa.PrivateKey
}

func newSigner(alg string, secret []byte) (*signer, error) {
	s := &signer{alg: alg}
	switch alg {
	case AlgHS256:
		if len(secret) == 0 {
			secret = make([]byte, 32)
			if _, err := rand.Read(secret); err != nil {
				return nil, err
			}
		}
		s.secret = secret
		s.kid = "hs256-" + randHex(4)
	case AlgES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		s.ec = k
		s.kid = "es256-" + randHex(4)
	}
	return s, nil
}

func (s *signer) method() jwt.SigningMethod {
	if s.alg == AlgES256 {
		return jwt.SigningMethodES256
	}
	return jwt.SigningMethodHS256
}

func (s *signer) sign(claims jwt.MapClaims) (string, error) {
	t := jwt.NewWithClaims(s.method(), claims)
	t.Header["kid"] = s.kid
	if s.alg == AlgES256 {
		return t.SignedString(s.ec)
	}
	return t.SignedString(s.secret)
}

func (s *signer) key(*jwt.Token) (any, error) {
	if s.alg == AlgES256 {
		return &s.ec.PublicKey, nil
	}
	return s.secret, nil
}

// jwks is the JSON Web Key Set of the server's public key (empty for HS256, whose key is a
// shared secret that must never be published).
func (s *signer) jwks() map[string]any {
	keys := []map[string]string{}
	if s.ec != nil {
		// Uncompressed point: 0x04 || X || Y, 32 bytes each for P-256.
		if pt, err := s.ec.PublicKey.Bytes(); err == nil && len(pt) == 65 {
			keys = append(keys, map[string]string{
				"kty": "EC", "crv": "P-256", "use": "sig", "alg": AlgES256, "kid": s.kid,
				"x": base64.RawURLEncoding.EncodeToString(pt[1:33]),
				"y": base64.RawURLEncoding.EncodeToString(pt[33:]),
			})
		}
	}
	return map[string]any{"keys": keys}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error on supported platforms
	return hex.EncodeToString(b)
}

func randOpaque() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// parsed is a token the signature check accepted.
type parsed struct {
	jti, typ, family, sub string
}

// leniency is what a token check forgives: nothing, except for the API's access tokens under
// the audit knobs and Options.AcceptAlgNone.
type leniency struct {
	leeway    time.Duration // past exp
	allowNone bool          // alg: none, no signature
}

// parse checks signature, algorithm and expiry (against the server's skewed clock) and returns
// the claims the server relies on.
func (s *Server) parse(raw string, lax leniency) (parsed, error) {
	if strings.Count(raw, ".") != 2 {
		return parsed{}, errMalformed
	}
	algs, key := []string{s.signer.alg}, s.signer.key
	if lax.allowNone {
		algs = append(algs, jwt.SigningMethodNone.Alg())
		key = func(t *jwt.Token) (any, error) {
			if t.Method == jwt.SigningMethodNone {
				return jwt.UnsafeAllowNoneSignatureType, nil
			}
			return s.signer.key(t)
		}
	}
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(
		jwt.WithValidMethods(algs),
		jwt.WithTimeFunc(s.now),
		jwt.WithLeeway(lax.leeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	).ParseWithClaims(raw, claims, key)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return parsed{}, errExpired
	case err != nil:
		return parsed{}, fmt.Errorf("%w: %v", errMalformed, err)
	}
	str := func(k string) string { v, _ := claims[k].(string); return v }
	p := parsed{jti: str("jti"), typ: str("token_type"), family: str("fam"), sub: str("sub")}
	if p.jti == "" || p.typ == "" || p.family == "" {
		return parsed{}, fmt.Errorf("%w: missing jti, token_type or fam claim", errMalformed)
	}
	return p, nil
}

// issue mints a new pair for a family; the caller holds s.mu. When keepRefresh is non-empty,
// the refresh token is not rotated and keepRefresh is handed back unchanged.
func (s *Server) issue(fam string, opaque bool, keepRefresh string) (pair, error) {
	now := s.now()
	f := s.families[fam]
	s.pruneLocked(now)

	out := pair{family: fam, accessExp: now.Add(s.opts.AccessTTL)}
	if !opaque {
		// A JWT's exp has whole seconds; the registry must agree with the claim the client
		// reads, or the client would see a token die up to a second before the server does.
		out.accessExp = out.accessExp.Truncate(time.Second)
	}
	accessKey := randOpaque()
	if opaque {
		out.access = accessKey
	} else {
		accessKey = randHex(12)
		claims := jwt.MapClaims{
			"sub": f.user, "iat": now.Unix(), "exp": out.accessExp.Unix(), "jti": accessKey,
			"token_type": typeAccess, "fam": fam,
		}
		if f.oidc {
			claims["scope"], claims["client_id"] = f.scope, f.client
		}
		if f.jkt != "" {
			claims["cnf"] = map[string]string{"jkt": f.jkt} // RFC 9449 §6.1
		}
		tok, err := s.signer.sign(claims)
		if err != nil {
			return pair{}, err
		}
		out.access = tok
	}
	s.access[accessKey] = &accessRec{family: fam, user: f.user, iat: now, exp: out.accessExp, jkt: f.jkt}
	if out.accessExp.After(f.exp) {
		f.exp = out.accessExp
	}

	if keepRefresh != "" {
		out.refresh = keepRefresh
		return out, nil
	}
	if f.noRefresh {
		return out, nil
	}
	refreshExp := now.Add(s.opts.RefreshTTL)
	if !opaque {
		refreshExp = refreshExp.Truncate(time.Second)
	}
	refreshKey := randOpaque()
	if opaque {
		out.refresh = refreshKey
	} else {
		refreshKey = randHex(12)
		tok, err := s.signer.sign(jwt.MapClaims{
			"sub": f.user, "iat": now.Unix(), "exp": refreshExp.Unix(), "jti": refreshKey,
			"token_type": typeRefresh, "fam": fam,
		})
		if err != nil {
			return pair{}, err
		}
		out.refresh = tok
	}
	s.refresh[refreshKey] = &refreshRec{family: fam, user: f.user, iat: now, exp: refreshExp}
	if refreshExp.After(f.exp) {
		f.exp = refreshExp
	}
	out.refreshKey, out.rotated = refreshKey, true
	return out, nil
}

// loginBound starts a new family for user and issues its first pair, bound to the DPoP key jkt
// when it is not empty.
func (s *Server) loginBound(user string, opaque bool, jkt string) (pair, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Logins++
	return s.startFamilyLocked(family{user: user, client: s.opts.ClientID, jkt: jkt}, opaque)
}

// startFamilyLocked registers a new family shaped like proto and issues its first pair; the
// caller holds s.mu.
func (s *Server) startFamilyLocked(proto family, opaque bool) (pair, error) {
	fam := randHex(8)
	f := proto
	// exp is set now so that the prune inside issue cannot drop the family it is issuing for.
	f.exp = s.now().Add(s.opts.RefreshTTL)
	s.families[fam] = &f
	return s.issue(fam, opaque, "")
}

// lookupRefresh resolves a presented refresh token to its registry key, for JWT and opaque
// tokens alike. The caller holds s.mu.
func (s *Server) lookupRefresh(raw string) (*refreshRec, error) {
	if rec, ok := s.refresh[raw]; ok { // opaque
		if !s.now().Before(rec.exp) {
			return nil, errExpired
		}
		return rec, nil
	}
	p, err := s.parse(raw, leniency{})
	if err != nil {
		return nil, err
	}
	if p.typ != typeRefresh {
		return nil, fmt.Errorf("%w: an %s token was presented as a refresh token", errWrongType, p.typ)
	}
	rec, ok := s.refresh[p.jti]
	if !ok {
		return nil, errUnknown
	}
	return rec, nil
}

// refreshPair redeems a refresh token. Rotation marks the presented token used; presenting a
// used token again is the signature of a stolen token (or a client stampede), so with reuse
// detection on the whole family is revoked, as the OAuth 2.0 Security BCP recommends.
func (s *Server) refreshPair(ctx context.Context, raw string, opaque bool) (pair, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, f, err := s.redeemableLocked(raw)
	if err != nil {
		return pair{}, err
	}
	if rec.rotated {
		return s.presentedAgainLocked(rec, f, opaque)
	}
	if s.opts.NoRotation {
		return s.issue(rec.family, opaque, raw)
	}
	if window := s.knobs.Audit.RefreshRaceWindow; window > 0 {
		// The race the knob is for: the token was checked, and is rotated after the window
		// without a second look, so every presentation that got past the check wins too.
		s.mu.Unlock()
		raceWait(ctx, window)
		s.mu.Lock()
		if f = s.families[rec.family]; f == nil || f.revoked {
			return pair{}, errRevoked
		}
	}
	return s.rotateLocked(rec, f, opaque)
}

// redeemableLocked finds a presented refresh token and its family, refusing a dead family; the
// caller holds s.mu.
func (s *Server) redeemableLocked(raw string) (*refreshRec, *family, error) {
	rec, err := s.lookupRefresh(raw)
	if err != nil {
		return nil, nil, err
	}
	f := s.families[rec.family]
	if f != nil && f.revoked && f.reused {
		return nil, nil, errFamilyReused
	}
	if f == nil || f.revoked {
		return nil, nil, errRevoked
	}
	return rec, f, nil
}

// rotateLocked marks rec used and issues its family's next pair; the caller holds s.mu.
func (s *Server) rotateLocked(rec *refreshRec, f *family, opaque bool) (pair, error) {
	rec.rotated, rec.rotatedAt = true, s.now()
	f.rotations++
	p, err := s.issue(rec.family, opaque, "")
	if err == nil {
		rec.successor = p.refreshKey
	}
	return p, err
}

// presentedAgainLocked answers a rotated refresh token presented again: inside the grace
// window a new pair of the same family, as Auth0 answers inside its reuse interval; otherwise
// a refusal that revokes the family unless reuse detection is off. The caller holds s.mu.
func (s *Server) presentedAgainLocked(rec *refreshRec, f *family, opaque bool) (pair, error) {
	if s.inGraceLocked(rec) {
		s.stats.RefreshGraceHits++
		f.rotations++
		return s.issue(rec.family, opaque, "")
	}
	if s.opts.NoReuseDetection {
		return pair{}, errRotated
	}
	f.revoked, f.reused = true, true
	s.stats.ReuseDetected++
	return pair{}, errReused
}

// inGraceLocked reports whether a rotated token is still inside the rotation grace: not longer
// ago than the knob, and only one generation behind (its successor is not rotated yet).
func (s *Server) inGraceLocked(rec *refreshRec) bool {
	grace := s.knobs.Audit.RotationGrace
	if grace <= 0 || !s.now().Before(rec.rotatedAt.Add(grace)) {
		return false
	}
	next, ok := s.refresh[rec.successor]
	return ok && !next.rotated
}

// checkAccess validates an access token presented to a resource and returns its user.
func (s *Server) checkAccess(raw string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, _, err := s.liveAccessLocked(raw)
	if err != nil {
		return "", err
	}
	return rec.user, nil
}

// liveAccessLocked finds a live access token and its family; the caller holds s.mu.
func (s *Server) liveAccessLocked(raw string) (*accessRec, *family, error) {
	rec, err := s.lookupAccessLocked(raw)
	if err != nil {
		return nil, nil, err
	}
	if rec.killed || !s.now().Before(rec.exp.Add(s.knobs.Audit.AccessLeeway)) {
		return nil, nil, errExpired
	}
	f := s.families[rec.family]
	if f == nil || f.revoked {
		return nil, nil, errRevoked
	}
	return rec, f, nil
}

// lookupAccessLocked resolves an access token (JWT or opaque) to its record, without judging
// whether it is still alive; the caller holds s.mu.
func (s *Server) lookupAccessLocked(raw string) (*accessRec, error) {
	key := raw
	rec, ok := s.access[raw] // opaque
	if !ok {
		p, err := s.parse(raw, leniency{leeway: s.knobs.Audit.AccessLeeway, allowNone: s.opts.AcceptAlgNone})
		if err != nil {
			return nil, err
		}
		if p.typ != typeAccess {
			return nil, fmt.Errorf("%w: a %s token was presented as an access token", errWrongType, p.typ)
		}
		key = p.jti
		if rec, ok = s.access[key]; !ok {
			return nil, errUnknown
		}
	}
	return rec, nil
}

// pruneLocked drops records that can no longer be accepted, so a long demo does not grow
// without bound. It runs at most once per access TTL.
func (s *Server) pruneLocked(now time.Time) {
	if now.Sub(s.lastPrune) < s.opts.AccessTTL && len(s.access) < 4096 {
		return
	}
	s.lastPrune = now
	for k, r := range s.access {
		if !now.Before(r.exp) {
			delete(s.access, k)
		}
	}
	for k, r := range s.refresh {
		if !now.Before(r.exp) {
			delete(s.refresh, k)
		}
	}
	for k, f := range s.families {
		if !now.Before(f.exp) {
			delete(s.families, k)
		}
	}
}
