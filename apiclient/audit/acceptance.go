package audit

// token_acceptance: the API given forged copies of the session's access token. Active only:
// it presents tokens the user never had.

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tokenscope/internal/redact"
	"tokenscope/session"
)

type acceptanceCheck struct{}

func (acceptanceCheck) id() string { return "token_acceptance" }

// forgeries are the variants, in the value's order.
var forgeries = []string{"alg_none", "no_signature", "other_key", "tampered", "expired"}

func (acceptanceCheck) run(ctx context.Context, l *lab) Result {
	const id = "token_acceptance"
	f, _, err := l.login(ctx)
	if err != nil {
		return skipped(id, err.Error())
	}
	if skip := l.apiWorks(ctx, f); skip != "" {
		return skipped(id, skip)
	}
	if !f.access.JWT {
		return skipped(id, "The access token is opaque: there is no signature or claim to forge.")
	}
	val := map[string]string{}
	var accepted []string
	for _, name := range forgeries {
		tok, err := forge(name, f.access, l.s.Clock.Now())
		if err != nil {
			return skipped(id, "forging the "+name+" token: "+err.Error())
		}
		l.secrets.Add(redact.Access, tok)
		x := l.apiCall(ctx, tok, "(forged: "+name+")")
		if x.err != nil || x.status >= 500 {
			return skipped(id, "The API failed (a 5xx or no answer): try again later.")
		}
		val[name] = "rejected"
		if x.ok() {
			val[name] = "accepted"
			accepted = append(accepted, name)
		}
	}
	r := Result{Value: val, Reference: "RFC 8725 §3.1–3.2"}
	if len(accepted) > 0 {
		r.Status, r.Summary = Fail, "The API accepts forged access tokens ("+strings.Join(accepted, ", ")+"): anyone can mint a session."
	} else {
		r.Status, r.Summary = Pass, "The API refuses unsigned, re-signed, tampered and expired copies of a real access token."
	}
	return r
}

// forge makes one variant of a real JWT.
func forge(name string, t session.Token, now time.Time) (string, error) {
	parts := strings.Split(t.Raw, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("not a JWT")
	}
	claims := maps.Clone(t.Claims)
	switch name {
	case "alg_none":
		h := maps.Clone(t.Header)
		h["alg"] = "none"
		return segment(h) + "." + parts[1] + ".", nil
	case "no_signature":
		return parts[0] + "." + parts[1] + ".", nil
	case "other_key":
		return signWithOtherKey(t, claims)
	case "tampered":
		sub, _ := claims["sub"].(string)
		claims["sub"] = sub + "-tokenscope-audit"
		return parts[0] + "." + segment(claims) + "." + parts[2], nil
	case "expired":
		// Expired a day ago, under the original signature: a server that checks neither the
		// signature nor exp takes it.
		claims["iat"] = now.Add(-25 * time.Hour).Unix()
		claims["exp"] = now.Add(-24 * time.Hour).Unix()
		return parts[0] + "." + segment(claims) + "." + parts[2], nil
	}
	return "", fmt.Errorf("unknown forgery %q", name)
}

func segment(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// signWithOtherKey signs the claims with a fresh key of the token's kind, keeping its header's
// kid: a server that takes any key it is shown, or the wrong one, accepts it.
func signWithOtherKey(t session.Token, claims map[string]any) (string, error) {
	var (
		method jwt.SigningMethod
		key    any
		err    error
	)
	switch {
	case strings.HasPrefix(t.Alg, "ES"):
		method = jwt.SigningMethodES256
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case strings.HasPrefix(t.Alg, "RS"), strings.HasPrefix(t.Alg, "PS"):
		method = jwt.SigningMethodRS256
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case t.Alg == "EdDSA":
		method = jwt.SigningMethodEdDSA
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		method = jwt.SigningMethodHS256
		secret := make([]byte, 32)
		_, err = rand.Read(secret)
		key = secret
	}
	if err != nil {
		return "", err
	}
	tok := jwt.NewWithClaims(method, jwt.MapClaims(claims))
	for k, v := range t.Header {
		if k != "alg" {
			tok.Header[k] = v
		}
	}
	return tok.SignedString(key)
}
