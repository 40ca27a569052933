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
	"sync/atomic"
	"time"

	"github.com/go-resty/resty/v2"

	"tokenscope/apiclient/oidc"
	"tokenscope/apiclient/profile"
	"tokenscope/apiclient/sent"
	"tokenscope/apiclient/transport"
	"tokenscope/internal/hostcheck"
	"tokenscope/internal/redact"
	"tokenscope/session"
)

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

	Transport http.RoundTripper // default transport.New(transport.TLS{}); every call the engine makes uses it
	// OIDC logs in through an identity provider instead of the profile's login endpoint, and
	// refreshes at the provider's token endpoint. Nil: the profile's endpoints.
	OIDC *oidc.Config

	// Secrets is the session's secrets: the engine adds every credential it is given and every
	// token it receives, and masks with them what it says; the caller adds its own (a .http
	// file's $processEnv values) and masks its output with them. Default a new set.
	Secrets *redact.Secrets

	// UserAgent names the client on every call the engine makes; default "tokenscope" (cmd
	// adds its version). Not resty's go-resty/VERSION: a server's logs should say who called.
	UserAgent string

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
	Generation int          // the access token generation it carried
	Token      string       // that token's fingerprint
	Sent       time.Time    // when it went, by the engine's clock
	Answered   time.Time    // when its answer arrived, by the engine's clock; zero when none did
	Status     int          // the answer's status; 0 when none came
	Out        sent.Request // what it carried
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
	RefreshCookie *profile.CookieInfo
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
//
// It composes small parts, each with one job and its own lock (docs/ARCHITECTURE.md, "The
// engine's parts"): the session store, the refresher (with the background loop), the skew
// tracker, the cookie state, the parked queue and the counters. A part's lock is never held while
// calling into another part, except where a part says so (the refresher reads the store under
// its lock; the store runs the DPoP binding, and sendState the attacher's credential, under
// its own).
type Engine struct {
	cfg     Config                  // with defaults; cfg.Transport is the one every call uses, cfg.Log the log only it writes
	profile profile.Profile         // cfg.Profile
	api     *resty.Client           // user requests; its hooks attach tokens and handle 401s
	auth    *resty.Client           // login and refresh; no hooks, so a refresh can never refresh
	idp     atomic.Pointer[idpLink] // the discovered identity provider, once Config.OIDC's login discovered it

	store     tokenStore   // the session, serial, verifications, ID token
	refresher *refresher   // strategy, single flight, refresh ids, refreshes in flight, reuse, the background loop
	skew      skewTracker  // the server's clock
	cookies   *cookieState // the jar; nil unless the profile's refresh.send is "cookie"
	parked    parkedQueue  // requests waiting for a login
	counters  counters     // what the engine did; a request's id is its number
	deadlines deadlines    // shared request deadlines (see deadlines)

	// The attacher's: what a request carries.
	attach *attacher   // what every API request carries, and the record of it
	dpop   *dpopState  // nil unless Config.OIDC.DPoP
	hosted profile.Env // the profile's *_env values, read once at New
}

// counters are what the engine did, counted as it goes.
type counters struct {
	requests, refreshCalls, refreshOK, refreshFailures, unauthorized, loggedOut atomic.Uint64
}

func (c *counters) snapshot() Counters {
	return Counters{
		Requests: c.requests.Load(), RefreshCalls: c.refreshCalls.Load(), RefreshOK: c.refreshOK.Load(),
		RefreshFailures: c.refreshFailures.Load(), Unauthorized: c.unauthorized.Load(), LoggedOut: c.loggedOut.Load(),
	}
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
		if err := o.WithDefaults(cfg.ClientID, cfg.ClientSecret); err != nil {
			return err
		}
		if cfg.ClientSecret == "" {
			cfg.ClientSecret = o.ClientSecret // so that redaction knows it
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
	if cfg.UserAgent == "" {
		cfg.UserAgent = "tokenscope"
	}
	if cfg.Diagnostics == nil {
		cfg.Diagnostics = io.Discard
	}
	if cfg.Transport == nil {
		tr, err := transport.New(transport.TLS{})
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
		cfg:       cfg,
		profile:   cfg.Profile,
		store:     tokenStore{keys: cfg.Keys},
		refresher: newRefresher(cfg.Strategy, !cfg.NoSingleFlight),
		parked:    parkedQueue{max: cfg.MaxParked},
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
		OnBeforeRequest(e.beforeRequest)
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
		SetLogger(e.diag()).
		SetDoNotParseResponse(true). // every answer is read by readReply

		SetTransport(e.cfg.Transport).
		SetHeader("User-Agent", e.cfg.UserAgent) // a request's own User-Agent (-H) wins
	return c
}

// Close stops the background refresher. In-flight requests finish on their own.
func (e *Engine) Close() { e.refresher.loop.close() }

// nudge has the background loop look at the session again: it changed.
func (e *Engine) nudge() { e.refresher.loop.nudge() }

// Log is the engine's event log, to read: the engine is its only writer (Note records what
// happens outside the engine).
func (e *Engine) Log() session.LogView { return e.cfg.Log.View() }

// Profile is the engine's profile.
func (e *Engine) Profile() profile.Profile { return e.profile }

// Target is the base URL.
func (e *Engine) Target() string { return e.cfg.BaseURL }

// Counters returns what the engine has done so far.
func (e *Engine) Counters() Counters { return e.counters.snapshot() }

// Snapshot returns the session and settings as they are now. Each part is read under its own
// lock, one after the other: a display may show a refresh count a moment younger than the
// session beside it, never a torn token.
func (e *Engine) Snapshot() Snapshot {
	v := e.store.view()
	s := v.sess
	s.Skew = e.skew.estimate()
	s.Parked = e.parked.len()
	refreshing := e.refresher.running()
	if s.State == session.StateActive && refreshing > 0 {
		s.State = session.StateRefreshing
	}
	cookie, csrf := e.cookieSnapshot(s.Refresh.Raw != "")
	return Snapshot{
		Session: s, Target: e.cfg.BaseURL, Profile: e.profile.Name, Strategy: e.refresher.currentStrategy(),
		SingleFlight: e.refresher.singleFlight.Load(), Threshold: e.thresholdFor(s.Access),
		AccessVerify: v.accessVer, RefreshVerify: v.refreshVer, Refreshing: refreshing, IDToken: v.idToken,
		IDTokenCheck: e.idTokenCheck(v.idToken), Flow: e.flow(), DPoP: e.dpopStatus(s.Access),
		RefreshCookie: cookie, CSRFCookie: csrf,
	}
}

// state is a session state as the user sees it: an active session with a refresh in flight is
// refreshing (the refresher's count says so; the store never does).
func (e *Engine) state(st session.State) session.State {
	if st == session.StateActive && e.refresher.running() > 0 {
		return session.StateRefreshing
	}
	return st
}

// SetStrategy changes the strategy from now on.
func (e *Engine) SetStrategy(s Strategy) {
	if old := e.refresher.setStrategy(s); old != s {
		e.emit(&session.Event{Kind: session.KindNote, Reason: fmt.Sprintf("strategy %s → %s", old, s)})
		e.nudge()
	}
}

// SetSingleFlight switches single flight (and the stale-token check that goes with it).
func (e *Engine) SetSingleFlight(on bool) {
	if old := e.refresher.setSingleFlight(on); old != on {
		state := map[bool]string{true: "on", false: "off (stampede demo)"}[on]
		e.emit(&session.Event{Kind: session.KindNote, Reason: "single flight " + state})
	}
}

func (e *Engine) now() time.Time { return e.cfg.Clock.Now() }

// diag is Config.Diagnostics in resty's format.
func (e *Engine) diag() writerLogger { return writerLogger{e.cfg.Diagnostics} }

// Note records something the user did outside the engine (a demo fault, say) in the event
// log, so that the log tells the whole story.
func (e *Engine) Note(reason string) {
	e.emit(&session.Event{Kind: session.KindNote, Reason: reason})
}

// serverNow is the server's clock as the skew estimate has it: what exp is compared with.
func (e *Engine) serverNow() time.Time { return e.skew.serverNow(e.now()) }

func (e *Engine) emit(ev *session.Event) {
	if ev.Time.IsZero() {
		ev.Time = e.now()
	}
	e.cfg.Log.Put(ev)
}

// thresholdFor is the refresh threshold for a token: Config.Threshold, or the token's own
// (session.Token.DefaultThreshold).
func (e *Engine) thresholdFor(t session.Token) time.Duration {
	if e.cfg.Threshold > 0 {
		return e.cfg.Threshold
	}
	return t.DefaultThreshold()
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
	first := hostcheck.OriginOf(via[0].URL)
	cross := hostcheck.OriginOf(req.URL) != first
	for _, v := range via[1:] {
		cross = cross || hostcheck.OriginOf(v.URL) != first
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
// holds one of the session's secrets in any encoding (a preset's or the user's own), by the
// rule the record marks them with (redact.Secrets: a replaced token and the password too).
func (e *Engine) stripCredentials(h http.Header) {
	for _, k := range []string{e.profile.Auth.Header, "Authorization", "Proxy-Authorization", "Cookie", "Cookie2"} {
		h.Del(k)
	}
	if ep := e.profile.Refresh; ep.Send == profile.SendHeader && ep.TokenField != "" {
		h.Del(ep.TokenField)
	}
	for k, vs := range h {
		for _, v := range vs {
			if e.cfg.Secrets.Mask(v) != v {
				delete(h, k)
			}
		}
	}
}

// writerLogger sends resty's log lines to a writer instead of stderr.
type writerLogger struct{ w io.Writer }

func (l writerLogger) Errorf(f string, v ...any) { fmt.Fprintf(l.w, "resty error: "+f+"\n", v...) }
func (l writerLogger) Warnf(f string, v ...any)  { fmt.Fprintf(l.w, "resty warn: "+f+"\n", v...) }
func (l writerLogger) Debugf(f string, v ...any) { fmt.Fprintf(l.w, "resty debug: "+f+"\n", v...) }
