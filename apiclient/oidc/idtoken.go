package oidc

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// idTokenLeeway absorbs small clock differences in the exp check.
const idTokenLeeway = 30 * time.Second

// VerifyIDToken checks an ID token as OIDC Core §3.1.3.7 asks: iss is the provider's issuer,
// aud holds the client id (and azp names it when there are several audiences), exp has not
// passed, and nonce is the one the request sent (when nonce is not empty). The signature is
// checked when the client has a Keyfunc (JWKSKeyfunc builds one from the provider's jwks_uri);
// without one the claims are read unverified. It returns the claims.
func (c *Client) VerifyIDToken(raw, nonce string) (jwt.MapClaims, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	claims := jwt.MapClaims{}
	var err error
	if c.Keyfunc != nil {
		p := jwt.NewParser(jwt.WithTimeFunc(c.now), jwt.WithLeeway(idTokenLeeway), jwt.WithExpirationRequired(),
			jwt.WithValidMethods([]string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}))
		_, err = p.ParseWithClaims(raw, claims, c.Keyfunc)
	} else {
		_, _, err = jwt.NewParser().ParseUnverified(raw, claims)
	}
	if err != nil {
		return nil, fmt.Errorf("oidc: ID token: %w", err)
	}
	if err := c.checkIDClaims(claims, nonce); err != nil {
		return nil, fmt.Errorf("oidc: ID token: %w", err)
	}
	return claims, nil
}

func (c *Client) checkIDClaims(claims jwt.MapClaims, nonce string) error {
	iss, _ := claims.GetIssuer()
	if iss != c.Provider.Issuer {
		return fmt.Errorf("iss %q is not the provider's issuer %q", iss, c.Provider.Issuer)
	}
	aud, err := claims.GetAudience()
	if err != nil || !slices.Contains(aud, c.ID) {
		return fmt.Errorf("aud %v does not name client %q", aud, c.ID)
	}
	if azp, _ := claims["azp"].(string); (len(aud) > 1 || azp != "") && azp != c.ID {
		return fmt.Errorf("azp %q is not client %q", azp, c.ID)
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return errors.New("no exp")
	}
	if !c.now().Before(exp.Add(idTokenLeeway)) {
		return fmt.Errorf("expired at %s", exp.UTC().Format(time.RFC3339))
	}
	if got, _ := claims["nonce"].(string); nonce != "" && got != nonce {
		return errors.New("nonce does not match the authorization request's (a replayed or injected token?)")
	}
	return nil
}
