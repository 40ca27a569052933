// Package apiclient is tokenscope's refresh engine: a go-resty client whose hooks attach the
// current token, refresh it proactively or after a 401 (once, however many requests need it),
// retry what a 401 rejected, park requests while the session is dead and replay them after a
// new login, and record every step in the session's event log. Profiles (package profile) describe
// each API's wire format.
package apiclient

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-resty/resty/v2"

	"tokenscope/apiclient/profile"
	"tokenscope/internal/redact"
	"tokenscope/session"
)

// Strategy is when to refresh.
type Strategy string

// Strategies, as DESIGN.md defines them.
const (
	Auto       Strategy = "auto"       // proactive and reactive
	Proactive  Strategy = "proactive"  // before a request, when exp is within the threshold
	Reactive   Strategy = "reactive"   // after a 401
	Background Strategy = "background" // a timer refreshes ahead of exp, even when idle (401s still handled)
	Off        Strategy = "off"        // never: a 401 is reported
)

// Strategies lists the strategies in the order the TUI cycles them.
func Strategies() []Strategy { return []Strategy{Auto, Proactive, Reactive, Background, Off} }

// ParseStrategy accepts a strategy name.
func ParseStrategy(s string) (Strategy, error) {
	for _, st := range Strategies() {
		if string(st) == strings.ToLower(s) {
			return st, nil
		}
	}
	return "", fmt.Errorf("unknown strategy %q (want auto, proactive, reactive, background or off)", s)
}

func (s Strategy) proactive() bool { return s == Auto || s == Proactive }
func (s Strategy) reactive() bool  { return s == Auto || s == Reactive || s == Background }

// Config sets up an Engine. Zero values take the defaults noted.
type Config struct {
	BaseURL      string
	Profile      profile.Profile
	Username     string
	Password     string
	ClientID     string // oauth2 client (default "tokenscope")
	ClientSecret string

	Strategy Strategy // default Auto
	// Threshold is how close to exp a proactive or background refresh happens. Zero picks a
	// sixth of the token's lifetime, between 1 s and 5 min but at most a third of the lifetime:
	// 5 s for a 30 s demo token, 5 min for a 1 h token, 333 ms for a 1 s token.
	Threshold      time.Duration
	NoSingleFlight bool // demonstrate the stampede: every caller refreshes on its own

	Clock session.Clock // default the system clock
	Log   *session.Log  // default a new log of session.DefaultLogSize
	Keys  session.Keys  // verify token signatures with these

	Timeout         time.Duration // per request, retry included; default 30 s
	RefreshTimeout  time.Duration // per refresh attempt; default 10 s
	RefreshAttempts int           // transient failures are retried up to this many calls; default 4
	RefreshBackoff  time.Duration // wait after the first transient failure, doubling; default 250 ms
	MaxBackoff      time.Duration // cap on that wait; default 4 s
	MaxBodyBytes    int           // answers larger than this are refused; default 4 MiB
	MaxParked       int           // default 10000

	Transport http.RoundTripper // default NewTransport(TLSOptions{}); every call the engine makes uses it
	// OIDC logs in through an identity provider instead of the profile's login endpoint, and
	// refreshes at the provider's token endpoint. Nil: the profile's endpoints.
	OIDC *OIDCConfig

	// Secrets is the session's secrets: the engine adds every credential it is given and every
	// token it receives, and masks with them what it says; the caller adds its own (a .http
	// file's $processEnv values) and masks its output with them. Default a new set.
	Secrets *redact.Secrets

	// Diagnostics receives resty's own warnings, which would otherwise go to stderr and garble
	// a TUI. Discarded when nil.
	Diagnostics io.Writer
}

// Outcome is how a request ended.
type Outcome int

// Outcomes.
const (
	OK     Outcome = iota // an answer below 400
	Failed                // an error answer, or no answer; Reason says why
	Parked                // kept for replay after the next login
)

func (o Outcome) String() string {
	return [...]string{"ok", "failed", "parked"}[o]
}

// Result is the end of one request.
type Result struct {
	ID       uint64
	Request  profile.Request
	Outcome  Outcome
	Status   int
	Header   http.Header
	Body     []byte
	Sent     time.Time     // when Do took it (a replay: when the replay began), by the engine's clock
	Duration time.Duration // from first send to final answer (of this send: a replay is timed on its own)
	Done     time.Time     // when it ended, by the engine's clock
	Reason   string        // why it failed or was parked
	Err      error         // the transport's error when the request got no answer (UntrustedCert reads it)
	Replayed bool          // this result is the replay of a parked request
	// Attempts are the sends that went out, in order: a second after a 401 the engine
	// refreshed for. None when the request parked or failed before one went.
	Attempts []Attempt
}

// Attempt is one send of a request: what it carried and how it was answered.
type Attempt struct {
	Generation int       // the access token generation it carried
	Token      string    // that token's fingerprint
	Sent       time.Time // when it went, by the engine's clock
	Answered   time.Time // when its answer arrived, by the engine's clock; zero when none did
	Status     int       // the answer's status; 0 when none came
	Out        Outgoing  // what it carried
}

// Generation is the access token generation the last attempt carried; 0 when none went.
func (r Result) Generation() int {
	if len(r.Attempts) == 0 {
		return 0
	}
	return r.Attempts[len(r.Attempts)-1].Generation
}

// Proofs are the DPoP proofs the attempts carried, in order; empty when DPoP is off or the
// token is not bound.
func (r Result) Proofs() []DPoPProof {
	var out []DPoPProof
	for _, a := range r.Attempts {
		out = append(out, a.Out.Proofs...)
	}
	return out
}

// Counters summarise what the engine did.
type Counters struct {
	Requests        uint64 // requests handed to Do (replays excluded)
	RefreshCalls    uint64 // HTTP calls to the refresh endpoint
	RefreshOK       uint64
	RefreshFailures uint64 // failed refresh calls, transient and fatal
	Unauthorized    uint64 // 401s recognised as "access expired"
	LoggedOut       uint64 // times the session fell to "login required"
}

// Snapshot is the engine's state at one moment, for display.
type Snapshot struct {
	session.Session
	Target        string
	Profile       string
	Strategy      Strategy
	SingleFlight  bool
	Threshold     time.Duration // effective threshold for the current access token
	AccessVerify  session.Verification
	RefreshVerify session.Verification
	Refreshing    int           // refresh calls in flight
	IDToken       session.Token // the ID token of the last OIDC login; zero otherwise
	IDTokenCheck  string        // what was checked of IDToken, in words
	Flow          string        // the identity provider's login flow; empty without one
	DPoP          *DPoPStatus   // the proof key and the token's binding; nil when DPoP is off
	// RefreshCookie is the cookie that holds the refresh token (the cookie convention): its
	// name, attributes and expiry, never its value; nil otherwise.
	RefreshCookie *CookieInfo
	CSRFCookie    string // the CSRF cookie's name in the cookie convention; "" otherwise
}

// Errors a caller can tell apart.
var (
	// ErrLoginRequired: the session is dead; the request was parked.
	ErrLoginRequired = errors.New("login required")
)

// RefreshError is a failed refresh.
type RefreshError struct {
	Transient bool
	Reason    string
	Err       error // the transport's error when the call got no answer; nil otherwise
}

// Unwrap is the transport's error, or nil.
func (e *RefreshError) Unwrap() error { return e.Err }

func (e *RefreshError) Error() string {
	if e.Transient {
		return "refresh failed (transient): " + e.Reason
	}
	return "refresh rejected: " + e.Reason
}

// Engine holds one session against one API. All methods are safe for concurrent use.
type Engine struct {
	cfg       Config
	profile   profile.Profile
	transport http.RoundTripper // cfg.Transport or its default; shared by api, auth and key fetches
	api       *resty.Client     // user requests; its hooks attach tokens and handle 401s
	auth      *resty.Client     // login and refresh; no hooks, so a refresh can never refresh
	log       *session.Log
	diag      writerLogger // Config.Diagnostics, in resty's format
	clock     session.Clock

	mu           sync.Mutex
	sess         session.Session
	serial       uint64 // bumps with every new access token; a request remembers the one it used
	strategy     Strategy
	singleFlight bool
	flight       *flight // the refresh in flight, when single flight is on
	refreshSeq   uint64
	refreshing   int
	skew         session.SkewEstimator
	skewShown    time.Duration
	lastDate     time.Time
	lastDateRaw  string
	lastDateRecv time.Time
	parked       []*parkedReq
	parkedSorted bool // parked is in request-id order
	accessVer    session.Verification
	refreshVer   session.Verification
	idToken      session.Token // from the last OIDC login
	idpKeys      session.Keys  // the identity provider's published keys, once discovered
	dpop         *dpopState    // nil unless Config.OIDC.DPoP
	cookies      *cookieState  // the jar; nil unless the profile's refresh.send is "cookie"
	hosted       profile.Env   // the profile's *_env values, read once at New
	attach       *attacher     // what every API request carries, and the record of it

	idp atomic.Pointer[idpLink] // the discovered identity provider, once Config.OIDC's login discovered it

	deadlines deadlines // shared request deadlines (see deadlines)
	uses      tokenUses // presentations per refresh token, to name reuse (reuse.go)

	reqSeq   atomic.Uint64
	counters struct {
		requests, refreshCalls, refreshOK, refreshFailures, unauthorized, loggedOut atomic.Uint64
	}

	wake   chan struct{} // nudges the background loop
	stop   chan struct{}
	closed sync.Once
	bgDone chan struct{}
}

type parkedReq struct {
	id  uint64
	req profile.Request
}

// withDefaults checks cfg and fills in the defaults the Config fields document.
func (cfg *Config) withDefaults() error {
	if _, err := url.ParseRequestURI(cfg.BaseURL); err != nil || !strings.HasPrefix(cfg.BaseURL, "http") {
		return fmt.Errorf("target %q is not an http(s) URL", cfg.BaseURL)
	}
	if cfg.OIDC != nil && cfg.Profile.Name == "" {
		cfg.Profile, _ = profile.Builtin("oauth2") // an issuer implies the standard wire format
	}
	cfg.Profile.WithDefaults()
	if err := cfg.Profile.Validate(); err != nil {
		return fmt.Errorf("profile %s: %w", cfg.Profile.Name, err)
	}
	if cfg.Strategy == "" {
		cfg.Strategy = Auto
	}
	if _, err := ParseStrategy(string(cfg.Strategy)); err != nil {
		return err
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "tokenscope"
	}
	if cfg.OIDC != nil {
		o := *cfg.OIDC // the caller's struct stays as it was
		if err := o.withDefaults(cfg); err != nil {
			return err
		}
		cfg.OIDC = &o
	}
	if cfg.Clock == nil {
		cfg.Clock = session.SystemClock{}
	}
	if cfg.Log == nil {
		cfg.Log = session.NewLog(0)
	}
	if cfg.Secrets == nil {
		cfg.Secrets = redact.New()
	}
	cfg.Secrets.Add(redact.Credential, cfg.Password, cfg.ClientSecret)
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Timeout, 30*time.Second)
	def(&cfg.RefreshTimeout, 10*time.Second)
	def(&cfg.RefreshBackoff, 250*time.Millisecond)
	def(&cfg.MaxBackoff, 4*time.Second)
	if cfg.RefreshAttempts <= 0 {
		cfg.RefreshAttempts = 4
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 4 << 20
	}
	if cfg.MaxParked <= 0 {
		cfg.MaxParked = 10000
	}
	if cfg.Diagnostics == nil {
		cfg.Diagnostics = io.Discard
	}
	if cfg.Transport == nil {
		tr, err := NewTransport(TLSOptions{})
		if err != nil {
			return err
		}
		cfg.Transport = tr
	}
	return nil
}

// New builds an engine. It does not log in; call Login.
func New(cfg Config) (*Engine, error) {
	if err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:          cfg,
		profile:      cfg.Profile,
		transport:    cfg.Transport,
		log:          cfg.Log,
		diag:         writerLogger{cfg.Diagnostics},
		clock:        cfg.Clock,
		strategy:     cfg.Strategy,
		singleFlight: !cfg.NoSingleFlight,
		wake:         make(chan struct{}, 1),
		stop:         make(chan struct{}),
		bgDone:       make(chan struct{}),
	}
	hosted, err := cfg.Profile.ResolveEnv()
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", cfg.Profile.Name, err)
	}
	e.hosted = hosted
	cfg.Secrets.Add(redact.Credential, hosted.Secrets...)
	e.attach = newAttacher(cfg.BaseURL, cfg.Profile, hosted, cfg.Secrets.Mask, e.thresholdFor)
	if cfg.OIDC != nil && cfg.OIDC.DPoP {
		if err := e.setupDPoP(); err != nil {
			return nil, err
		}
	}
	// No client timeout here: Do puts a deadline on each request's context instead, which
	// costs a timer rather than http.Client's per-request goroutine.
	// No resty retries either: send retries after a 401 itself (see send).
	e.api = e.newResty().
		SetRedirectPolicy(resty.FlexibleRedirectPolicy(10), resty.RedirectPolicyFunc(e.stripAuthOnRedirect)).
		OnBeforeRequest(e.beforeRequest).
		OnAfterResponse(e.afterResponse)
	// Login and refresh never follow redirects: a refresh token goes to the refresh endpoint
	// and nowhere else.
	e.auth = e.newResty().SetTimeout(cfg.RefreshTimeout).SetRedirectPolicy(resty.RedirectPolicyFunc(
		func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }))
	if err := e.setupCookies(); err != nil {
		return nil, err
	}
	go e.backgroundLoop()
	return e, nil
}

func (e *Engine) newResty() *resty.Client {
	c := resty.New().
		SetBaseURL(strings.TrimRight(e.cfg.BaseURL, "/")).
		SetLogger(e.diag).
		SetResponseBodyLimit(e.cfg.MaxBodyBytes).
		SetTransport(e.transport)
	return c
}

// Close stops the background refresher. In-flight requests finish on their own.
func (e *Engine) Close() {
	e.closed.Do(func() {
		close(e.stop)
		<-e.bgDone
	})
}

// Log is the engine's event log, to read: the engine is its only writer (Note records what
// happens outside the engine).
func (e *Engine) Log() session.LogView { return e.log.View() }

// Profile is the engine's profile.
func (e *Engine) Profile() profile.Profile { return e.profile }

// Target is the base URL.
func (e *Engine) Target() string { return e.cfg.BaseURL }

// Counters returns what the engine has done so far.
func (e *Engine) Counters() Counters {
	c := &e.counters
	return Counters{
		Requests: c.requests.Load(), RefreshCalls: c.refreshCalls.Load(), RefreshOK: c.refreshOK.Load(),
		RefreshFailures: c.refreshFailures.Load(), Unauthorized: c.unauthorized.Load(), LoggedOut: c.loggedOut.Load(),
	}
}

// Snapshot returns the session and settings as they are now.
func (e *Engine) Snapshot() Snapshot {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.sess
	s.Parked = len(e.parked)
	cookie, csrf := e.cookieSnapshotLocked()
	return Snapshot{
		Session: s, Target: e.cfg.BaseURL, Profile: e.profile.Name, Strategy: e.strategy,
		SingleFlight: e.singleFlight, Threshold: e.thresholdFor(e.sess.Access),
		AccessVerify: e.accessVer, RefreshVerify: e.refreshVer, Refreshing: e.refreshing, IDToken: e.idToken,
		IDTokenCheck: e.idTokenCheck(), Flow: e.flow(), DPoP: e.dpopStatusLocked(),
		RefreshCookie: cookie, CSRFCookie: csrf,
	}
}

// SetStrategy changes the strategy from now on.
func (e *Engine) SetStrategy(s Strategy) {
	e.mu.Lock()
	old := e.strategy
	e.strategy = s
	e.mu.Unlock()
	if old != s {
		e.emit(session.Event{Kind: session.KindNote, Reason: fmt.Sprintf("strategy %s → %s", old, s)})
		e.nudge()
	}
}

// SetSingleFlight switches single flight (and the stale-token check that goes with it).
func (e *Engine) SetSingleFlight(on bool) {
	e.mu.Lock()
	old := e.singleFlight
	e.singleFlight = on
	e.mu.Unlock()
	if old != on {
		state := map[bool]string{true: "on", false: "off (stampede demo)"}[on]
		e.emit(session.Event{Kind: session.KindNote, Reason: "single flight " + state})
	}
}

func (e *Engine) now() time.Time { return e.clock.Now() }

// Note records something the user did outside the engine (a demo fault, say) in the event
// log, so that the log tells the whole story.
func (e *Engine) Note(reason string) {
	e.emit(session.Event{Kind: session.KindNote, Reason: reason})
}

// serverNow is the server's clock as the skew estimate has it: what exp is compared with.
func (e *Engine) serverNow() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.sess.ServerNow(e.now())
}

func (e *Engine) emit(ev session.Event) session.Event {
	if ev.Time.IsZero() {
		ev.Time = e.now()
	}
	return e.log.Append(ev)
}

func (e *Engine) nudge() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// thresholdFor is the refresh threshold for a token; the caller holds e.mu or owns t.
func (e *Engine) thresholdFor(t session.Token) time.Duration {
	if e.cfg.Threshold > 0 {
		return e.cfg.Threshold
	}
	life := observedLifetime(t)
	if life <= 0 {
		return 30 * time.Second
	}
	// Never more than a third of the lifetime: a token must not be born inside its own refresh
	// window, or every request would refresh it again.
	return min(max(life/6, time.Second), life/3, 5*time.Minute)
}

// observedLifetime is the life a token was handed over with: exp minus the later of its iat
// and the moment it arrived (ReceivedAt, on the server's clock as the skew estimate had it).
// Not Token.Lifetime, exp minus iat: stock simplejwt copies the refresh token's iat into each
// access token it mints, so that its 5 s tokens claim a life growing by every refresh, and a
// threshold taken as a fraction of it soon covered the whole token: a refresh storm. An iat
// within a second before the arrival is taken as it is (claims have whole seconds), so that a
// token minted as it was sent keeps its round lifetime.
func observedLifetime(t session.Token) time.Duration {
	if !t.HasExpiry() || t.ReceivedAt.IsZero() {
		return t.Lifetime()
	}
	start := t.ReceivedAt
	if t.IssuedAt.After(start.Add(-time.Second)) {
		start = t.IssuedAt
	}
	return t.ExpiresAt.Sub(start)
}

// stripAuthOnRedirect keeps credentials on the origin they were meant for. Go drops
// Authorization only when the host name changes (not the scheme or port), resty then copies
// every header of the first request back whenever the host name matches, and neither knows about
// custom headers such as X-Token. So this compares origins itself: scheme, host (case-insensitive)
// and port with the scheme's default filled in, https://api.test and https://API.test:443 being
// one origin and http://api.test another. Once a chain has left the first request's origin its
// credentials stay off, even when a later hop comes back: the server that sent it back has seen
// what it was sent. As https → http always changes the scheme, a token sent over TLS never goes
// out in cleartext.
func (e *Engine) stripAuthOnRedirect(req *http.Request, via []*http.Request) error {
	if len(via) == 0 {
		return nil
	}
	first := originOf(via[0].URL)
	cross := originOf(req.URL) != first
	for _, v := range via[1:] {
		cross = cross || originOf(v.URL) != first
	}
	if cross {
		e.stripCredentials(req.Header)
	} else if c := callOf(req.Context()); c != nil {
		e.attach.redirectCookies(req, c.req.Header.Get("Cookie"))
	}
	return nil
}

// stripCredentials removes every header that may carry a credential: the profile's auth
// header, the standard ones, the header a refresh token travels in, and any header whose value
// holds the session's access or refresh token (a preset's or the user's own).
func (e *Engine) stripCredentials(h http.Header) {
	for _, k := range []string{e.profile.Auth.Header, "Authorization", "Proxy-Authorization", "Cookie", "Cookie2"} {
		h.Del(k)
	}
	if ep := e.profile.Refresh; ep.Send == profile.SendHeader && ep.TokenField != "" {
		h.Del(ep.TokenField)
	}
	e.mu.Lock()
	secrets := append([]string{e.sess.Access.Raw, e.sess.Refresh.Raw}, e.hosted.Secrets...)
	e.mu.Unlock()
	for k, vs := range h {
		for _, v := range vs {
			for _, sec := range secrets {
				if sec != "" && strings.Contains(v, sec) {
					delete(h, k)
				}
			}
		}
	}
}

// origin is what a credential is bound to: scheme, host and port, as RFC 6454 has it.
type origin struct{ scheme, host, port string }

// originOf is u's origin, the default port filled in (80 for http, 443 for https) and the host
// in lower case without a trailing dot.
func originOf(u *url.URL) origin {
	o := origin{scheme: strings.ToLower(u.Scheme), host: strings.TrimSuffix(strings.ToLower(u.Hostname()), "."), port: u.Port()}
	if o.port == "" {
		o.port = map[string]string{"http": "80", "https": "443"}[o.scheme]
	}
	return o
}

// writerLogger sends resty's log lines to a writer instead of stderr.
type writerLogger struct{ w io.Writer }

func (l writerLogger) Errorf(f string, v ...any) { fmt.Fprintf(l.w, "resty error: "+f+"\n", v...) }
func (l writerLogger) Warnf(f string, v ...any)  { fmt.Fprintf(l.w, "resty warn: "+f+"\n", v...) }
func (l writerLogger) Debugf(f string, v ...any) { fmt.Fprintf(l.w, "resty debug: "+f+"\n", v...) }
