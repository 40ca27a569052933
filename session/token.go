package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tokenscope/internal/redact"
)

// MaxDecodeBytes bounds the tokens tokenscope tries to decode as JWTs. Anything larger is kept
// and shown as opaque: a multi-megabyte "token" is a bug report, not something to base64-decode
// on every frame.
const MaxDecodeBytes = 64 << 10

// Time claims beyond ±1e18 s would overflow NumericDate's int64 conversion or time.Time's
// arithmetic; anything nearer is kept, however absurd, and shown as it is.
const (
	maxUnix = 1e18
	minUnix = -1e18
)

// Phase is where a token stands in its life.
type Phase int

// Phases, in the order a token passes through them.
const (
	PhaseNoExpiry Phase = iota // no exp claim and no expires_in: nothing to count down
	PhaseFresh
	PhaseRefreshWindow // within the refresh threshold of exp
	PhaseExpired
)

func (p Phase) String() string {
	switch p {
	case PhaseFresh:
		return "fresh"
	case PhaseRefreshWindow:
		return "refresh window"
	case PhaseExpired:
		return "expired"
	default:
		return "no expiry"
	}
}

// Token is one access or refresh token as received. The zero value is "no token".
type Token struct {
	Raw string
	// ReceivedAt is when the response carrying it arrived. The engine stamps it on the
	// server's clock (the local clock corrected by the skew estimate), the clock exp is read on.
	ReceivedAt time.Time

	// JWT is true when Raw decoded as a JWT (header and claims); otherwise the token is opaque.
	JWT    bool
	Header map[string]any
	Claims map[string]any
	Alg    string
	Kid    string
	Typ    string
	// Unsigned is true for a JWT whose header says alg "none" in any letter case ("None" and
	// "NONE" got past libraries that compared exactly), or has no alg string at all: nothing
	// vouches for its claims. Verify calls such a token invalid, key or no key.
	Unsigned bool

	IssuedAt  time.Time // iat; zero when absent
	NotBefore time.Time // nbf; zero when absent
	ExpiresAt time.Time // exp, or ReceivedAt+expires_in for an opaque token; zero when unknown

	// ExpirySource says where ExpiresAt came from: "exp", "expires_in" or "".
	ExpirySource string
	// DecodeErr explains why a token that looks like a JWT could not be decoded, or why one of
	// its time claims was ignored. The token is still usable; it is shown as opaque.
	DecodeErr string

	fp string // Fingerprint, computed once: it is logged with every request
}

// ParseToken reads raw as a JWT when it is one (without verifying it) and as an opaque token
// otherwise. expiresIn, from the token response, is used when the token has no exp of its own.
// It never fails: a token that cannot be decoded is still a token the server may accept.
func ParseToken(raw string, receivedAt time.Time, expiresIn time.Duration) Token {
	t := Token{Raw: raw, ReceivedAt: receivedAt, fp: Fingerprint(raw)}
	if strings.Count(raw, ".") == 2 {
		if len(raw) > MaxDecodeBytes {
			t.DecodeErr = fmt.Sprintf("token is %d bytes; not decoded (limit %d)", len(raw), MaxDecodeBytes)
		} else {
			t.decodeJWT()
		}
	}
	if t.ExpiresAt.IsZero() && expiresIn > 0 {
		t.ExpiresAt = receivedAt.Add(expiresIn)
		t.ExpirySource = "expires_in"
	}
	return t
}

func (t *Token) decodeJWT() {
	// Decoded by hand rather than with ParseUnverified, which refuses a header whose alg it
	// does not know (or that has none): those are exactly the tokens worth looking at.
	parts := strings.Split(t.Raw, ".")
	var header map[string]any
	claims := jwt.MapClaims{}
	p := jwt.NewParser()
	for i, dst := range []any{&header, &claims} {
		seg, err := p.DecodeSegment(parts[i])
		if err != nil {
			t.DecodeErr = fmt.Sprintf("not a decodable JWT: %s is not base64url: %v", [2]string{"header", "payload"}[i], err)
			return
		}
		if err := json.Unmarshal(seg, dst); err != nil {
			t.DecodeErr = fmt.Sprintf("not a decodable JWT: %s is not a JSON object: %v", [2]string{"header", "payload"}[i], err)
			return
		}
	}
	if header == nil || claims == nil {
		t.DecodeErr = "not a decodable JWT: header or payload is null"
		return
	}
	t.JWT = true
	t.Header = header
	t.Claims = claims
	t.Alg, _ = header["alg"].(string)
	t.Unsigned = IsAlgNone(t.Alg) || t.Alg == ""
	t.Kid, _ = header["kid"].(string)
	t.Typ, _ = header["typ"].(string)
	var bad []string
	read := func(name string, get func() (*jwt.NumericDate, error), dst *time.Time) {
		// NumericDate converts with int64(float), which is undefined out of range: check first.
		if f, ok := claims[name].(float64); ok && (f > maxUnix || f < minUnix) {
			bad = append(bad, name+" is out of range")
			return
		}
		d, err := get()
		switch {
		case errors.Is(err, jwt.ErrInvalidType):
			bad = append(bad, name+" is not a number")
		case err != nil:
			bad = append(bad, name+": "+err.Error())
		case d != nil:
			*dst = d.Time
		}
	}
	read("exp", claims.GetExpirationTime, &t.ExpiresAt)
	read("iat", claims.GetIssuedAt, &t.IssuedAt)
	read("nbf", claims.GetNotBefore, &t.NotBefore)
	if !t.ExpiresAt.IsZero() {
		t.ExpirySource = "exp"
	}
	if len(bad) > 0 {
		t.DecodeErr = "ignored claims: " + strings.Join(bad, "; ")
	}
}

// IsAlgNone reports whether alg names the unsigned JWS algorithm, in any letter case.
func IsAlgNone(alg string) bool { return strings.EqualFold(alg, "none") }

// Empty reports whether there is no token.
func (t Token) Empty() bool { return t.Raw == "" }

// Subject is the sub claim, or "".
func (t Token) Subject() string {
	s, _ := t.Claims["sub"].(string)
	return s
}

// ID is the jti claim, or "".
func (t Token) ID() string {
	s, _ := t.Claims["jti"].(string)
	return s
}

// HasExpiry reports whether the token's expiry is known.
func (t Token) HasExpiry() bool { return !t.ExpiresAt.IsZero() }

// DefaultThreshold is how close to exp a refresh ahead of time happens when no threshold is
// configured: a sixth of the observed lifetime, between 1 s and 5 min, but never more than a
// third of it (a token must not be born inside its own refresh window, or every request would
// refresh it again); 30 s for a token without a known lifetime.
func (t Token) DefaultThreshold() time.Duration {
	life := t.ObservedLifetime()
	if life <= 0 {
		return 30 * time.Second
	}
	return min(max(life/6, time.Second), life/3, 5*time.Minute)
}

// ObservedLifetime is the life a token was handed over with: exp minus the later of its iat
// and the moment it arrived (ReceivedAt, on the server's clock as the skew estimate had it).
// Not Lifetime, exp minus iat: stock simplejwt copies the refresh token's iat into each access
// token it mints, so that its 5 s tokens claim a life growing by every refresh, and a threshold
// taken as a fraction of it soon covered the whole token: a refresh storm. An iat within a
// second before the arrival is taken as it is (claims have whole seconds), so that a token
// minted as it was sent keeps its round lifetime.
func (t Token) ObservedLifetime() time.Duration {
	if !t.HasExpiry() || t.ReceivedAt.IsZero() {
		return t.Lifetime()
	}
	start := t.ReceivedAt
	if t.IssuedAt.After(start.Add(-time.Second)) {
		start = t.IssuedAt
	}
	return t.ExpiresAt.Sub(start)
}

// Lifetime is the token's whole life: exp minus iat (or minus the time it was received).
func (t Token) Lifetime() time.Duration {
	if !t.HasExpiry() {
		return 0
	}
	start := t.IssuedAt
	if start.IsZero() {
		start = t.ReceivedAt
	}
	return t.ExpiresAt.Sub(start)
}

// Remaining is the time left until expiry at serverNow (the local clock corrected for skew).
// It is negative once expired and 0 when there is no expiry.
func (t Token) Remaining(serverNow time.Time) time.Duration {
	if !t.HasExpiry() {
		return 0
	}
	return t.ExpiresAt.Sub(serverNow)
}

// FractionLeft is Remaining/Lifetime clamped to [0, 1]; 1 when there is no expiry.
func (t Token) FractionLeft(serverNow time.Time) float64 {
	life := t.Lifetime()
	if !t.HasExpiry() || life <= 0 {
		if t.HasExpiry() && t.Remaining(serverNow) <= 0 {
			return 0
		}
		return 1
	}
	f := float64(t.Remaining(serverNow)) / float64(life)
	return min(max(f, 0), 1)
}

// Phase classifies the token at serverNow with the given refresh threshold.
func (t Token) Phase(serverNow time.Time, threshold time.Duration) Phase {
	if !t.HasExpiry() {
		return PhaseNoExpiry
	}
	left := t.Remaining(serverNow)
	switch {
	case left <= 0:
		return PhaseExpired
	case left <= threshold:
		return PhaseRefreshWindow
	default:
		return PhaseFresh
	}
}

// Fingerprint is a short, stable, non-reversible name for the token, safe for logs and
// exports: the first 8 hex digits of its SHA-256.
func (t Token) Fingerprint() string {
	if t.fp != "" || t.Raw == "" {
		return t.fp
	}
	return Fingerprint(t.Raw)
}

// Fingerprint of a raw token; "" for no token. A token's mask in a recording
// ([redacted:fp:…]) has the token's own fingerprint (see redact.Fingerprint).
func Fingerprint(raw string) string { return redact.Fingerprint(raw) }

// Masked shows enough of a token to tell two apart on screen without revealing it: the first
// six and last four characters (for a JWT the first six are the public header) and the length;
// for a token under 32 characters, three and two.
func (t Token) Masked() string { return Mask(t.Raw) }

// Mask masks a raw token; see Token.Masked.
func Mask(raw string) string {
	n := len(raw)
	switch {
	case n == 0:
		return ""
	case n <= 12:
		return strings.Repeat("•", min(n, 8))
	default:
		r := []rune(raw) // tokens are ASCII, but a cut must never split a character
		switch {
		case len(r) <= 12:
			return strings.Repeat("•", 8)
		case len(r) < 32:
			// A short opaque token would be mostly shown by 6+4 characters.
			return fmt.Sprintf("%s••••%s (%d chars)", string(r[:3]), string(r[len(r)-2:]), n)
		}
		return fmt.Sprintf("%s••••%s (%d chars)", string(r[:6]), string(r[len(r)-4:]), n)
	}
}
