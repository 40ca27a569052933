// Package dpop is the client side of OAuth 2.0 Demonstrating Proof of Possession (RFC 9449):
// a session's proof key, its JWK thumbprint (RFC 7638), proof JWTs, the servers' nonces, and a
// RoundTripper that puts a fresh proof on every token and resource call and answers a server's
// use_dpop_nonce once.
//
// It sits below both apiclient and apiclient/oidc and imports neither: the engine wraps its
// transport in a Transport, so every call that needs a proof gets one whichever package built it.
package dpop

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Header is the request and response header a proof travels in (RFC 9449 §4.1).
const Header = "DPoP"

// NonceHeader carries a server's nonce (RFC 9449 §8, §9).
const NonceHeader = "DPoP-Nonce"

// Scheme is the Authorization scheme of a DPoP-bound access token (RFC 9449 §7.1).
const Scheme = "DPoP"

// ProofType is the typ header of a proof JWT (RFC 9449 §4.2).
const ProofType = "dpop+jwt"

// Key is one session's proof key: ES256 on P-256. The private half never leaves it: the
// methods sign, and the JWK they publish holds the public point only.
type Key struct {
	priv *ecdsa.PrivateKey
	jwk  map[string]any // the public JWK, in the members RFC 7638 hashes
	jkt  string
}

// NewKey makes a fresh key. A key lives as long as the session that made it.
func NewKey() (*Key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("dpop: generating a key: %w", err)
	}
	pt, err := priv.PublicKey.Bytes() // 0x04 || X || Y, 32 bytes each for P-256
	if err != nil || len(pt) != 65 {
		return nil, errors.New("dpop: encoding the public key")
	}
	b64 := base64.RawURLEncoding.EncodeToString
	jwk := map[string]any{"kty": "EC", "crv": "P-256", "x": b64(pt[1:33]), "y": b64(pt[33:])}
	jkt, err := Thumbprint(jwk)
	if err != nil {
		return nil, err
	}
	return &Key{priv: priv, jwk: jwk, jkt: jkt}, nil
}

// Thumbprint is the key's JWK SHA-256 thumbprint (RFC 7638): the jkt a bound token's cnf
// claim names and the dpop_jkt of an authorization request.
func (k *Key) Thumbprint() string { return k.jkt }

// String names the key by its thumbprint only, so that printing a Key leaks nothing.
func (k *Key) String() string { return "dpop key " + k.jkt }

// GoString keeps %#v from printing the private key too.
func (k *Key) GoString() string { return k.String() }

// PublicJWK returns a copy of the public JWK.
func (k *Key) PublicJWK() map[string]any {
	out := make(map[string]any, len(k.jwk))
	for m, v := range k.jwk {
		out[m] = v
	}
	return out
}

// requiredMembers are the members RFC 7638 §3.2 hashes, per key type.
var requiredMembers = map[string][]string{
	"EC":  {"crv", "kty", "x", "y"},
	"RSA": {"e", "kty", "n"},
	"OKP": {"crv", "kty", "x"},
}

// Thumbprint computes the RFC 7638 thumbprint of a public JWK: base64url of the SHA-256 of the
// required members only, in lexicographic order, without whitespace. encoding/json sorts map
// keys and adds no whitespace, and the members are strings, so Marshal is the canonical form.
func Thumbprint(jwk map[string]any) (string, error) {
	kty, _ := jwk["kty"].(string)
	members, ok := requiredMembers[kty]
	if !ok {
		return "", fmt.Errorf("dpop: JWK kty %q has no thumbprint here (want EC, RSA or OKP)", kty)
	}
	canon := make(map[string]string, len(members))
	for _, m := range members {
		v, ok := jwk[m].(string)
		if !ok || v == "" {
			return "", fmt.Errorf("dpop: %s JWK lacks %q", kty, m)
		}
		canon[m] = v
	}
	b, err := json.Marshal(canon)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// AccessTokenHash is a proof's ath: base64url of the SHA-256 of the access token (RFC 9449 §4.2).
func AccessTokenHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// HTU is the htu of a request to u: the URI without query and fragment (RFC 9449 §4.2), the
// scheme and host in lower case as servers normalise them (RFC 3986 §6.2.2.1).
func HTU(u *url.URL) string {
	c := url.URL{Scheme: strings.ToLower(u.Scheme), Host: strings.ToLower(u.Host), Path: u.Path, RawPath: u.RawPath}
	if c.Path == "" {
		c.Path = "/"
	}
	return c.String()
}

// Proof is what one proof said, for display: no secret is in it (the proof itself is signed
// and public), and the access token is not either, only the fact that the proof is bound to it.
type Proof struct {
	JTI   string
	HTM   string
	HTU   string
	IAT   time.Time
	Nonce bool // it carried a nonce the server had handed out
	ATH   bool // it was bound to an access token: a resource call
	Retry bool // it was sent after the server answered use_dpop_nonce
}

// Sign makes a proof for one request: htm and htu from the request, iat, a random jti, the
// server's nonce when there is one, and ath when accessToken is not empty (a resource call).
func (k *Key) Sign(method string, u *url.URL, iat time.Time, nonce, accessToken string) (string, Proof, error) {
	p := Proof{JTI: newJTI(), HTM: method, HTU: HTU(u), IAT: iat.Truncate(time.Second), Nonce: nonce != "", ATH: accessToken != ""}
	claims := jwt.MapClaims{"jti": p.JTI, "htm": p.HTM, "htu": p.HTU, "iat": p.IAT.Unix()}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	if accessToken != "" {
		claims["ath"] = AccessTokenHash(accessToken)
	}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	t.Header["typ"] = ProofType
	t.Header["jwk"] = k.PublicJWK()
	s, err := t.SignedString(k.priv)
	if err != nil {
		return "", Proof{}, fmt.Errorf("dpop: signing a proof: %w", err)
	}
	return s, p, nil
}

// newJTI is 128 random bits: unique enough that a server's replay cache never sees two alike.
func newJTI() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}
