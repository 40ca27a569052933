package observe

import (
	"fmt"
	"hash/fnv"
	"net/http"
	"strings"
	"sync"
	"time"

	"tokenscope/apiclient/profile"
	"tokenscope/session"
)

// Request is what the analyzer reads of a request: the proxy fills it from the wire, the HAR
// reader from an export.
type Request struct {
	Method string
	// Host is the origin a forward proxy's request goes to (scheme://host[:port]); "" for a
	// reverse proxy's, whose upstream the path decides.
	Host   string
	Path   string // without the query
	Query  string // the raw query, without "?"
	Header http.Header
	// Body is the request's body when it was read before forwarding (login, refresh and small
	// bodies), or nil; BodyLen is its length, -1 when unknown.
	Body    []byte
	BodyLen int64
}

// Answer is what the analyzer reads of an answer. Body holds at most the analyzer's cap.
type Answer struct {
	Status    int
	Header    http.Header
	Body      []byte
	Truncated bool   // the body was longer than the cap, or the client stopped reading it
	Injected  string // the fault that produced this answer instead of the upstream, if any
}

// Exchange is one request the analyzer is following, from Begin to End or Fail.
type Exchange struct {
	id        uint64
	kind      profile.CallKind
	method    string
	path      string
	key       uint64 // what makes two requests "the same request": method, path, query, body
	start     time.Time
	access    *tokenInfo // the access token a request carried
	refresh   *tokenInfo // the refresh token a refresh call presented
	refreshID uint64
	reused    bool // the refresh token it presented was presented before
	raced     bool // a refresh call that overlapped another of its family, or followed a rotation within raceWindow
	chain     int  // how many 401-and-retry hops led to this request
	ended     bool
}

// ID is the exchange's request id in the events.
func (x *Exchange) ID() uint64 { return x.id }

// Kind is what the exchange is to the profile: login, refresh or another call.
func (x *Exchange) Kind() profile.CallKind { return x.kind }

// Analyzer reads exchanges with a profile's eyes and writes what it sees as session events: which
// calls are logins and refreshes, which token each request carried (by fingerprint), which
// tokens each answer issued, what every 401 was followed by, and the findings. Every method takes
// the time of the step, so that a HAR export is read exactly as live traffic. It is safe for
// concurrent use.
type Analyzer struct {
	mu      sync.Mutex
	prof    profile.Profile
	window  time.Duration
	log     *session.Log
	skew    session.SkewEstimator
	offset  time.Duration // the server's clock minus ours, when significant
	tokens  registry
	fams    []*family
	famSeq  int
	nextID  uint64
	refSeq  uint64
	pending pendingSet
	flight  map[*Exchange]struct{} // refresh calls in flight
	c       counters
	cur     current   // the client's session as the traffic shows it
	last401 time.Time // the latest access-expired 401, to tell reactive refreshes from proactive
	target  string    // the upstream, as the TUI's header names it
	// tokenHost: see Options.TokenHost.
	tokenHost string
}

// Options configure an Analyzer.
type Options struct {
	Profile profile.Profile
	// RetryWindow is how long after a 401 the client has to send the request again before it
	// counts as lost (DefaultRetryWindow when zero).
	RetryWindow time.Duration
	LogSize     int    // events kept (session.DefaultLogSize when zero)
	Target      string // what the client talks to, for display
	// TokenHost is the host (host[:port]) of the profile's login and refresh endpoints when a
	// forward proxy sees calls to many hosts: a call to another host is no login or refresh,
	// whatever its path. "" matches every host.
	TokenHost string
}

// DefaultRetryWindow is how long a client has to resend a request a 401 rejected.
const DefaultRetryWindow = 5 * time.Second

// NewAnalyzer returns an analyzer writing to a new log.
func NewAnalyzer(o Options) *Analyzer {
	if o.RetryWindow <= 0 {
		o.RetryWindow = DefaultRetryWindow
	}
	return &Analyzer{
		prof:      o.Profile,
		target:    o.Target,
		tokenHost: o.TokenHost,
		window:    o.RetryWindow,
		log:       session.NewLog(o.LogSize),
		tokens:    newRegistry(maxTokens),
		pending:   newPendingSet(),
		flight:    map[*Exchange]struct{}{},
		c:         newCounters(),
	}
}

// Log is the read side of the analyzer's event log.
func (a *Analyzer) Log() session.LogView { return a.log.View() }

// RetryWindow is the window the analyzer pairs 401s with their retries in.
func (a *Analyzer) RetryWindow() time.Duration { return a.window }

// serverNow is local time t on the server's clock.
func (a *Analyzer) serverNow(t time.Time) time.Time { return t.Add(a.offset) }

// emit appends an event; the caller holds a.mu, so the log's order is the analyzer's.
func (a *Analyzer) emit(ev session.Event, at time.Time) {
	ev.Time = at
	a.log.Append(ev)
}

// Note logs a line that is not about an exchange (a fault switched on, ...).
func (a *Analyzer) Note(reason string, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.emit(session.Event{Kind: session.KindNote, Reason: reason}, at)
}

// Begin starts following a request sent at `at`.
func (a *Analyzer) Begin(r Request, at time.Time) *Exchange {
	kind, presented := a.recognise(r)
	var access string
	if kind == profile.CallOther {
		access = a.prof.AccessToken(r.Header)
	}
	x := &Exchange{kind: kind, method: r.Method, path: r.Host + shownPath(r.Path, r.Query), key: requestKey(r), start: at}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.nextID++
	x.id = a.nextID
	a.c.requests++
	switch kind {
	case profile.CallLogin:
		a.c.logins++
		a.emit(session.Event{Kind: session.KindRequest, RequestID: x.id, Method: x.method, Path: x.path, Reason: "login call"}, at)
	case profile.CallRefresh:
		a.beginRefresh(x, presented, at)
	default:
		a.beginResource(x, access, at)
	}
	return x
}

// recognise says which call r is to the profile. A forward proxy's request (r.Host set) matches
// an endpoint given as a full URL (a hosted provider's: login and refresh on other hosts than the
// API) by origin and path, and one given as a path by that path on TokenHost (on any host when it
// is not set).
func (a *Analyzer) recognise(r Request) (profile.CallKind, string) {
	if r.Host != "" {
		if kind, tok := a.prof.RecogniseCall(r.Method, r.Host+r.Path, r.Header, r.Body); kind != profile.CallOther {
			return kind, tok
		}
		if a.tokenHost != "" && !sameHost(r.Host, a.tokenHost) {
			return profile.CallOther, ""
		}
	}
	return a.prof.RecogniseCall(r.Method, r.Path, r.Header, r.Body)
}

// End finishes an exchange with the answer the client got.
func (a *Analyzer) End(x *Exchange, ans Answer, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if x == nil || x.ended {
		return
	}
	x.ended = true
	a.observeDate(ans.Header, x.start, at)
	ev := session.Event{Kind: session.KindResponse, RequestID: x.id, Method: x.method, Path: x.path,
		Status: ans.Status, Duration: at.Sub(x.start), Reason: injectedNote(ans.Injected)}
	a.emit(ev, at)
	switch x.kind {
	case profile.CallLogin:
		a.endLogin(x, ans, at)
	case profile.CallRefresh:
		a.endRefresh(x, ans, at)
	default:
		a.endResource(x, ans, at)
	}
}

// Fail finishes an exchange that got no answer from the upstream (it could not be reached, it
// timed out, or the client gave up first).
func (a *Analyzer) Fail(x *Exchange, reason string, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if x == nil || x.ended {
		return
	}
	x.ended = true
	a.emit(session.Event{Kind: session.KindRequestFailed, RequestID: x.id, Method: x.method, Path: x.path,
		Duration: at.Sub(x.start), Reason: reason}, at)
	if x.kind == profile.CallRefresh {
		a.refreshTransient(x, reason, at)
	}
}

func injectedNote(f string) string {
	if f == "" {
		return ""
	}
	return "injected by tokenscope: " + f
}

// observeDate narrows the server clock's offset from an answer's Date header.
func (a *Analyzer) observeDate(h http.Header, sent, recv time.Time) {
	d := h.Get("Date")
	if d == "" {
		return
	}
	stamp, err := http.ParseTime(d)
	if err != nil {
		return
	}
	a.offset = a.skew.Observe(stamp, time.Second, sent, recv).Applied()
}

// requestKey is what makes two requests the same request: method, path, query and body (its
// length when it was not read).
func requestKey(r Request) uint64 {
	h := fnv.New64a()
	h.Write([]byte(r.Method))
	h.Write([]byte{0})
	h.Write([]byte(r.Host))
	h.Write([]byte{0})
	h.Write([]byte(r.Path))
	h.Write([]byte{0})
	h.Write([]byte(r.Query))
	h.Write([]byte{0})
	if r.Body != nil {
		h.Write(r.Body)
	} else {
		fmt.Fprint(h, r.BodyLen)
	}
	return h.Sum64()
}

// sameHost compares two host[:port] names (a scheme:// before them is not looked at), a default
// port (80, 443) being no port.
func sameHost(a, b string) bool {
	norm := func(h string) string {
		if _, rest, ok := strings.Cut(h, "://"); ok {
			h = rest
		}
		h = strings.ToLower(strings.TrimSuffix(h, "."))
		return strings.TrimSuffix(strings.TrimSuffix(h, ":443"), ":80")
	}
	return norm(a) == norm(b)
}

// shownPath is the path as events show it. A query may carry a token (access_token=...), so it
// is never shown, only said to be there.
func shownPath(path, query string) string {
	if query != "" {
		return path + "?…"
	}
	return path
}

// fp is a token's fingerprint, or "" for no token.
func fp(t *tokenInfo) string {
	if t == nil {
		return ""
	}
	return t.fp
}

// plural writes "1 request" or "3 requests".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// short rounds a duration for a sentence.
func short(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + short(-d)
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	default:
		return d.Round(time.Millisecond).String()
	}
}
