// Package demoserver is tokenscope's reference auth server. It serves the four refresh
// conventions of DESIGN.md at once (simplejwt, bearer-json, element-admin, oauth2) with
// rotation, reuse detection and fault knobs, so that the TUI has something real to talk to
// out of the box and every test has an independent, strict peer.
//
// It deliberately imports nothing else from tokenscope: it mints and checks tokens with
// golang-jwt itself, so a bug in the client's token handling cannot hide behind a shared helper.
package demoserver

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"tokenscope/internal/clock"
	"tokenscope/internal/hostcheck"
)

// Defaults for Options fields left at their zero value.
const (
	DefaultAddr         = "127.0.0.1:0"
	DefaultAccessTTL    = 30 * time.Second
	DefaultRefreshTTL   = 10 * time.Minute
	DefaultClientID     = "tokenscope"
	DefaultMaxBodyBytes = 64 << 10
	DefaultUser         = "demo"
	DefaultPassword     = "demo"

	DefaultConfidentialClientID = "tokenscope-cc"
	DefaultConfidentialSecret   = "demo-secret"
	DefaultDeviceInterval       = 5 * time.Second
)

// Signing algorithms the server can mint with.
const (
	AlgHS256 = "HS256"
	AlgES256 = "ES256"
)

// Options configures a Server. The zero value is the documented default: 30 s access tokens,
// 10 min refresh tokens, rotation and reuse detection on, user demo/demo, HS256 with a random
// secret, bound to 127.0.0.1 on a free port. Booleans are phrased as opt-outs so that the zero
// value keeps the safe behaviour.
type Options struct {
	Addr       string        // listen address; must be loopback unless AllowRemote
	AccessTTL  time.Duration // lifetime of access tokens
	RefreshTTL time.Duration // lifetime of refresh tokens

	NoRotation       bool // refresh answers without a new refresh token
	NoReuseDetection bool // a rotated refresh token is rejected but its family survives

	Users    map[string]string // username → password
	Secret   []byte            // HS256 secret; random per start when empty
	Alg      string            // AlgHS256 (default) or AlgES256
	ClientID string            // the public oauth2 client accepted by /oauth/token

	// The confidential OpenID client: client_credentials only, client_secret_basic or _post.
	ConfidentialClientID string
	ConfidentialSecret   string

	// Issuer is the OpenID issuer URL. Empty: the base URL the client reached the server at
	// (scheme and Host of each request), which is right for loopback.
	Issuer string

	// DeviceInterval is the polling interval the device grant asks for (RFC 8628 §3.2).
	DeviceInterval time.Duration

	// OpaqueOAuth makes the oauth2 convention issue opaque (non-JWT) tokens, so that clients
	// must drive their countdown from expires_in.
	OpaqueOAuth bool

	// NoDPoP makes the server ignore DPoP (RFC 9449), as a provider without it does: proofs
	// are not read, tokens are Bearer, discovery advertises no proof algorithms.
	NoDPoP bool
	// DPoPNonce makes the token endpoint and the resources require a server nonce in every
	// proof (RFC 9449 §8, §9), and token calls require a proof.
	DPoPNonce bool

	MaxBodyBytes int64 // request bodies above this get 413

	// AcceptAlgNone makes the API accept unsigned access tokens (alg: none), as servers that
	// let the token pick its own algorithm do. Insecure on purpose, for `tokenscope audit
	// --active` to find: the banner and GET / say so.
	AcceptAlgNone bool

	Clock Clock     // time source; real time when nil
	Log   io.Writer // one line per request; nothing when nil

	// AllowRemote permits a non-loopback listen address. The server hands out tokens for a
	// well-known password, so binding anywhere else must be an explicit choice.
	AllowRemote bool
}

func (o Options) withDefaults() Options {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.AccessTTL <= 0 {
		o.AccessTTL = DefaultAccessTTL
	}
	if o.RefreshTTL <= 0 {
		o.RefreshTTL = DefaultRefreshTTL
	}
	if len(o.Users) == 0 {
		o.Users = map[string]string{DefaultUser: DefaultPassword}
	}
	if o.Alg == "" {
		o.Alg = AlgHS256
	}
	if o.ClientID == "" {
		o.ClientID = DefaultClientID
	}
	if o.ConfidentialClientID == "" {
		o.ConfidentialClientID = DefaultConfidentialClientID
	}
	if o.ConfidentialSecret == "" {
		o.ConfidentialSecret = DefaultConfidentialSecret
	}
	if o.DeviceInterval <= 0 {
		o.DeviceInterval = DefaultDeviceInterval
	}
	o.Issuer = strings.TrimRight(o.Issuer, "/")
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.Clock == nil {
		o.Clock = clock.System{}
	}
	return o
}

func (o Options) validate() error {
	if o.Alg != AlgHS256 && o.Alg != AlgES256 {
		return fmt.Errorf("demoserver: unsupported alg %q (want %s or %s)", o.Alg, AlgHS256, AlgES256)
	}
	if o.Alg == AlgHS256 && len(o.Secret) > 0 && len(o.Secret) < 16 {
		return errors.New("demoserver: HS256 secret must be at least 16 bytes")
	}
	if o.ConfidentialClientID == o.ClientID {
		return errors.New("demoserver: the confidential and the public client need different ids")
	}
	return nil
}

// ErrNotLoopback is CheckLoopback's refusal; Options.AllowRemote overrides it.
var ErrNotLoopback = errors.New("demoserver: refusing to listen on a non-loopback address")

// CheckLoopback reports an error when addr does not name a loopback address. An empty host
// (":8000") listens on every interface, so it is refused too.
func CheckLoopback(addr string) error {
	ok, err := hostcheck.IsLoopbackAddr(addr)
	if err != nil {
		return fmt.Errorf("demoserver: bad listen address %q: %v", addr, err)
	}
	if !ok {
		return fmt.Errorf("%w: %q (the demo password is public; set Options.AllowRemote to insist)", ErrNotLoopback, addr)
	}
	return nil
}

// Clock is the server's time source. Tests inject a ManualClock so that tokens expire without
// sleeping.
type Clock = clock.Clock

// ManualClock is a Clock that moves only when told. It is safe for concurrent use.
type ManualClock = clock.Manual

// NewManualClock returns a clock stopped at t.
func NewManualClock(t time.Time) *ManualClock { return clock.NewManual(t) }
