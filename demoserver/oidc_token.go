package demoserver

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"regexp"

	"github.com/golang-jwt/jwt/v5"
)

var verifierRE = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

// pkceOK checks an RFC 7636 S256 verifier against the challenge.
func pkceOK(verifier, challenge string) bool {
	if !verifierRE.MatchString(verifier) {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// idToken mints an OpenID Connect ID token for a family (OIDC Core §2).
func (s *Server) idToken(issuer string, f family, nonce string) (string, error) {
	now := s.now()
	claims := jwt.MapClaims{
		"iss": issuer, "sub": f.user, "aud": f.client, "azp": f.client,
		"iat": now.Unix(), "exp": now.Add(s.opts.AccessTTL).Unix(), "auth_time": f.authTime.Unix(),
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	return s.signer.sign(claims)
}

// authCodeGrant redeems an authorization code (RFC 6749 §4.1.3, RFC 7636 §4.6).
func (s *Server) authCodeGrant(w http.ResponseWriter, r *http.Request, c *client, form url.Values, jkt string) {
	code := form.Get("code")
	if code == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "grant_type=authorization_code needs code")
		return
	}
	s.mu.Lock()
	p, nonce, desc := s.redeemCodeLocked(code, c, form.Get("redirect_uri"), form.Get("code_verifier"), jkt)
	if desc != "" {
		s.stats.AuthCodesRejected++
	}
	s.mu.Unlock()
	if desc != "" {
		oauthError(w, http.StatusBadRequest, "invalid_grant", desc)
		return
	}
	note(w, "code redeemed")
	s.oauthTokenResponse(w, r, p, nonce)
}

// redeemCodeLocked checks a code and issues its first pair; desc is non-empty when the code is
// rejected. A code is used up by its first presentation, right or wrong, and presenting it again
// revokes what it issued (RFC 6749 §4.1.2). The caller holds s.mu.
func (s *Server) redeemCodeLocked(code string, c *client, redirect, verifier, jkt string) (p pair, nonce, desc string) {
	rec := s.oidc.codes[code]
	if rec == nil {
		return pair{}, "", "unknown authorization code"
	}
	if rec.used {
		if f := s.families[rec.family]; f != nil && !f.revoked {
			f.revoked = true
			s.stats.ReuseDetected++
		}
		return pair{}, "", "authorization code was already used; the tokens it issued are revoked"
	}
	rec.used = true
	switch {
	case !s.now().Before(rec.exp):
		return pair{}, "", "authorization code has expired"
	case rec.client != c.id:
		return pair{}, "", "authorization code was issued to another client"
	case rec.redirect != redirect:
		return pair{}, "", "redirect_uri differs from the authorization request's"
	case !pkceOK(verifier, rec.challenge):
		return pair{}, "", "PKCE code_verifier does not match the code_challenge"
	case rec.dpopJKT != "" && jkt != rec.dpopJKT:
		// RFC 9449 §10: the code is bound to the key the authorization request named.
		return pair{}, "", "the code is bound to the DPoP key of the authorization request's dpop_jkt; the proof's key differs or there is no proof"
	}
	s.stats.Logins++
	s.stats.AuthCodesRedeemed++
	p, err := s.startFamilyLocked(family{user: rec.user, client: rec.client, scope: rec.scope, authTime: rec.authTime,
		oidc: true, noRefresh: !hasScope(rec.scope, scopeOffline), jkt: jkt}, s.opts.OpaqueOAuth)
	if err != nil {
		return pair{}, "", "minting tokens: " + err.Error()
	}
	rec.family = p.family
	return p, rec.nonce, ""
}

// clientCredentialsGrant issues an access token to the confidential client itself (RFC 6749
// §4.4): no user, no refresh token, no ID token.
func (s *Server) clientCredentialsGrant(w http.ResponseWriter, r *http.Request, c *client, form url.Values, jkt string) {
	scope, err := checkScope(form.Get("scope"))
	if err == nil && (hasScope(scope, scopeOpenID) || hasScope(scope, scopeOffline)) {
		err = fmt.Errorf("client_credentials has no user: openid and offline_access do not apply")
	}
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_scope", err.Error())
		return
	}
	s.mu.Lock()
	s.stats.ClientCredentialsTokens++
	p, err := s.startFamilyLocked(family{user: c.id, client: c.id, scope: scope, oidc: true, noRefresh: true, jkt: jkt}, s.opts.OpaqueOAuth)
	s.mu.Unlock()
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", "minting tokens: "+err.Error())
		return
	}
	note(w, "client_credentials for %s", c.id)
	s.oauthTokenResponse(w, r, p, "")
}
