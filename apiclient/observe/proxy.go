// Package observe is `tokenscope observe`: a transparent reverse proxy in front of the user's
// own API (and identity provider) that reads the traffic of the user's own client with a
// profile's eyes. It forwards every request as a standard reverse proxy does and changes nothing
// (unless fault injection is switched on), while its Analyzer writes the same session events the
// engine writes, plus `finding` events naming what the client does wrong: refresh stampedes,
// requests lost after a 401, retry loops, logouts on a transient failure, expired tokens sent,
// needless refreshes and rotated refresh tokens kept. The Analyzer reads HAR exports too.
//
// The proxy is observe's one HTTP talker; it reads at most a capped prefix of each body it
// analyses and never holds a whole stream.
package observe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"tokenscope/apiclient/profile"
	"tokenscope/apiclient/transport"
	"tokenscope/internal/clock"
	"tokenscope/internal/hostcheck"
	"tokenscope/internal/redact"
	"tokenscope/session"
)

// DefaultMaxBodyBytes is how much of a body the analyzer reads (login and refresh calls, answers
// it must read); the rest streams through unread.
const DefaultMaxBodyBytes = 64 << 10

// smallBody is the largest request body read before forwarding just to tell identical requests
// apart: JSON API calls are this small; uploads stream untouched.
const smallBody = 4 << 10

// Upstream is where requests under Prefix go. The prefix is not stripped: the request's path is
// appended to the upstream URL's path as it is, as a dev server's proxy does by default.
type Upstream struct {
	Prefix string // "" or "/auth": requests whose path is the prefix or below it
	URL    *url.URL
}

// ParseUpstream reads "[PREFIX=]URL": "https://api.example", "/auth=https://idp.example".
func ParseUpstream(s string) (Upstream, error) {
	prefix, raw := "", s
	if strings.HasPrefix(s, "/") {
		var ok bool
		if prefix, raw, ok = strings.Cut(s, "="); !ok {
			return Upstream{}, fmt.Errorf("upstream %q: want [PREFIX=]URL, such as /auth=https://idp.example", s)
		}
		prefix = strings.TrimSuffix(prefix, "/")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Upstream{}, fmt.Errorf("upstream %q: %v", s, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Upstream{}, fmt.Errorf("upstream %q: want an http or https URL with a host", s)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return Upstream{}, fmt.Errorf("upstream %q: a URL without user, query or fragment, please", s)
	}
	return Upstream{Prefix: prefix, URL: u}, nil
}

// under reports whether path is the upstream's prefix or below it.
func (u Upstream) under(path string) bool {
	if u.Prefix == "" {
		return true
	}
	return path == u.Prefix || strings.HasPrefix(path, u.Prefix+"/")
}

// Config configures a Proxy.
type Config struct {
	Upstreams []Upstream
	Profile   profile.Profile
	// RetryWindow: see Options.
	RetryWindow time.Duration
	// Faults allows fault injection; without it the proxy never changes a byte.
	Faults bool
	// Forwarded adds X-Forwarded-For, -Host and -Proto, as ReverseProxy.SetXForwarded does.
	Forwarded bool
	// TLS is how upstream certificates are checked (--ca-cert, --insecure).
	TLS transport.TLS
	// Transport sends the requests upstream; when nil, transport.New's (the one
	// constructor every outgoing call uses), never asking for compression of its own.
	Transport    http.RoundTripper
	MaxBodyBytes int // DefaultMaxBodyBytes when zero
	LogSize      int
	// AnyHost answers every Host name (--allow-remote). Otherwise only the names the proxy
	// listens as are answered (hostcheck.Names): a web page that rebinds its own name to
	// 127.0.0.1 must not read the upstream through the proxy.
	AnyHost bool
	Clock   clock.Clock
	// SweepEvery is how often lost requests are looked for (a tenth of the retry window, at
	// least 50 ms, when zero).
	SweepEvery time.Duration
	// Listen is the address the proxy is served on: where the app must point.
	Listen string
	// Forward makes it a forward proxy too (observe --forward): CONNECT tunnels, opened with
	// CA's certificates, and absolute-form requests go where they name. Upstreams are then
	// optional, for origin-form requests.
	Forward bool
	CA      *CA
	// TokenHost: see Options.TokenHost.
	TokenHost string
}

// Proxy is the observing reverse proxy. It is an http.Handler; Close ends the analysis.
type Proxy struct {
	an        *Analyzer
	routes    []route
	clock     clock.Clock
	maxBody   int
	anyHost   bool
	faults    *faults
	listen    string
	fwd       *forwarder // nil unless Forward
	scenario  atomic.Pointer[scenario]
	stop      chan struct{}
	swept     chan struct{}
	closeOnce sync.Once
}

type route struct {
	up Upstream
	rp *httputil.ReverseProxy
}

type ctxKey struct{}

// New builds a proxy and starts its sweeper; Close stops it.
func New(cfg Config) (*Proxy, error) {
	if len(cfg.Upstreams) == 0 && !cfg.Forward {
		return nil, errors.New("observe: no upstream")
	}
	if cfg.Forward && cfg.CA == nil {
		return nil, errors.New("observe: a forward proxy needs its CA")
	}
	if err := cfg.Profile.Validate(); err != nil {
		return nil, fmt.Errorf("observe: profile: %w", err)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.System{}
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	tr := cfg.Transport
	if tr == nil {
		t, err := transport.New(cfg.TLS)
		if err != nil {
			return nil, fmt.Errorf("observe: %w", err)
		}
		// The client's Accept-Encoding goes upstream as it is; the transport adds none of its own
		// (it would then decompress and change the answer's bytes).
		t.DisableCompression = true
		// A browser's burst at expiry is dozens of requests to one host: keep their connections.
		t.MaxIdleConnsPerHost = 256
		t.Proxy = notThrough(t.Proxy, cfg.Listen)
		tr = t
	}
	p := &Proxy{
		an: NewAnalyzer(Options{Profile: cfg.Profile, RetryWindow: cfg.RetryWindow, LogSize: cfg.LogSize, Target: targetName(cfg),
			TokenHost: cfg.TokenHost}),
		clock:   cfg.Clock,
		maxBody: cfg.MaxBodyBytes,
		anyHost: cfg.AnyHost,
		faults:  &faults{on: cfg.Faults},
		listen:  cfg.Listen,
		stop:    make(chan struct{}),
		swept:   make(chan struct{}),
	}
	for _, up := range cfg.Upstreams {
		p.routes = append(p.routes, route{up: up, rp: p.reverseProxy(up, tr, cfg.Forwarded)})
	}
	if cfg.Forward {
		p.fwd = newForwarder(p, cfg.CA, tr, cfg.Forwarded, cfg.Listen)
	}
	// Longest prefix first: /auth/admin wins over /auth, which wins over "".
	sort.SliceStable(p.routes, func(i, j int) bool { return len(p.routes[i].up.Prefix) > len(p.routes[j].up.Prefix) })
	every := cfg.SweepEvery
	if every <= 0 {
		every = max(p.an.RetryWindow()/10, 50*time.Millisecond)
	}
	go p.sweep(every)
	return p, nil
}

// reverseProxy forwards to one upstream: Host is the upstream's, X-Forwarded-* headers the client
// sent go on as they were (Rewrite would drop them), new ones only with --forwarded, and answers
// are flushed as they come so that streams stream.
func (p *Proxy) reverseProxy(up Upstream, tr http.RoundTripper, forwarded bool) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(up.URL)
			keepForwarded(pr)
			if forwarded {
				pr.SetXForwarded()
			}
		},
		Transport:      tr,
		FlushInterval:  0, // streams (chunked, event-stream) are flushed at once by ReverseProxy itself
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       discardLog,
	}
}

// keepForwarded puts back the Forwarded and X-Forwarded-* headers the client sent, unless it
// named them hop-by-hop: a transparent proxy passes them on as any other header.
func keepForwarded(pr *httputil.ProxyRequest) {
	conn := strings.ToLower(strings.Join(pr.In.Header.Values("Connection"), ","))
	for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
		if v, ok := pr.In.Header[h]; ok && !strings.Contains(conn, strings.ToLower(h)) {
			pr.Out.Header[h] = append([]string(nil), v...)
		}
	}
}

// Listen is where the app must point: the proxy's URL, or "" when it was not told.
func (p *Proxy) Listen() string {
	if p.listen == "" {
		return ""
	}
	return "http://" + p.listen
}

// Setup is what to paste for an app to go through the proxy, a line each; nil when pointing the
// app's base URL at Listen is all it takes.
func (p *Proxy) Setup() []string {
	if p.fwd == nil || p.listen == "" {
		return nil
	}
	return Exports(ProxyEnv(p.Listen(), filepath.Join(p.fwd.ca.dir, CABundleFile), ""))
}

// notThrough is proxy (the environment's choice of proxy for the proxy's own outgoing calls)
// except that it never sends them through the proxy itself: a shell where the user pasted
// observe's exports would otherwise loop every request back in.
func notThrough(proxy func(*http.Request) (*url.URL, error), listen string) func(*http.Request) (*url.URL, error) {
	if proxy == nil || listen == "" {
		return proxy
	}
	_, port, _ := net.SplitHostPort(listen)
	return func(r *http.Request) (*url.URL, error) {
		u, err := proxy(r)
		if u != nil && u.Port() == port && hostcheck.IsLoopbackHost(u.Hostname()) {
			return nil, nil
		}
		return u, err
	}
}

// Analyzer is the proxy's analysis: its log, summary and token snapshot.
func (p *Proxy) Analyzer() *Analyzer { return p.an }

// Log is the read side of the proxy's event log.
func (p *Proxy) Log() session.LogView { return p.an.Log() }

// Summary counts what was seen so far.
func (p *Proxy) Summary() Summary { return p.an.Summary() }

// Tokens is a snapshot of the tokens seen so far (fingerprints only), oldest first.
func (p *Proxy) Tokens() []TokenView { return p.an.Tokens() }

// Close stops the sweeper and ends the analysis: 401s still unpaired count as lost. It does not
// close the listener the proxy is served on.
func (p *Proxy) Close() {
	p.closeOnce.Do(func() {
		close(p.stop)
		<-p.swept
		p.stopScenario()
		if p.fwd != nil {
			p.fwd.close()
		}
		p.an.Close(p.clock.Now())
	})
}

func (p *Proxy) sweep(every time.Duration) {
	defer close(p.swept)
	for {
		t := p.clock.NewTimer(every) // the proxy's clock: a test's manual clock sweeps when moved
		select {
		case <-p.stop:
			t.Stop()
			return
		case <-t.C():
			p.an.Sweep(p.clock.Now())
		}
	}
}

// ServeHTTP forwards one request, reading it on the way. A forward proxy's requests (CONNECT,
// and absolute-form URLs) go where they name; the rest to the --upstream their path is under.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.fwd != nil && (r.Method == http.MethodConnect || r.URL.IsAbs()) {
		p.fwd.serve(w, r)
		return
	}
	// Only origin-form requests are guarded: a forward proxy's are its business, and a web page
	// (the guard's adversary) cannot send them.
	if !p.anyHost && !hostcheck.HostAllowed(r) {
		// Not the watched client's traffic: refused before it is read or forwarded.
		http.Error(w, "tokenscope observe: this proxy does not answer to that Host name (DNS rebinding guard); use its listen address or localhost", http.StatusMisdirectedRequest)
		return
	}
	if p.fwd != nil && len(p.routes) == 0 {
		// Not a client's call: something asked the forward proxy itself for a page.
		http.Error(w, "tokenscope observe: a forward proxy; point HTTP_PROXY and HTTPS_PROXY here, and call the API's own URLs", http.StatusBadRequest)
		return
	}
	rt := p.route(r.URL.Path)
	if rt == nil {
		p.pass(w, r, "", nil)
		return
	}
	p.pass(w, r, "", rt.rp)
}

// pass reads one request, has the analyzer follow it, and hands it to rp (nil: there is
// nowhere to send it). host is the origin it goes to in forward mode, "" for an --upstream.
func (p *Proxy) pass(w http.ResponseWriter, r *http.Request, host string, rp *httputil.ReverseProxy) {
	req := Request{Method: r.Method, Host: host, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header, BodyLen: r.ContentLength}
	if p.readsBodyFirst(r, host) {
		body, err := peekBody(r, p.maxBody)
		if err != nil {
			x := p.an.Begin(req, p.clock.Now())
			p.an.Fail(x, "reading the request body: "+err.Error(), p.clock.Now())
			http.Error(w, "tokenscope observe: reading the request body failed", http.StatusBadRequest)
			return
		}
		req.Body = body
	}
	x := p.an.Begin(req, p.clock.Now())
	if rp == nil {
		p.an.Fail(x, "no upstream for this path", p.clock.Now())
		http.Error(w, "tokenscope observe: no upstream for this path", http.StatusBadGateway)
		return
	}
	if p.faults.on && p.injectFault(w, r, x) {
		return
	}
	// Headers the Go server would add by itself (Date, a sniffed Content-Type) stay out unless
	// the upstream sent them: nil values suppress them and are not written.
	w.Header()["Date"] = nil
	w.Header()["Content-Type"] = nil
	rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, x)))
}

// readsBodyFirst: login and refresh calls are read before forwarding (to know which they are
// and what token they present), and small bodies (to tell identical requests apart). A client
// waiting for 100 Continue keeps its body until the upstream asks for it.
func (p *Proxy) readsBodyFirst(r *http.Request, host string) bool {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 || r.Header.Get("Expect") != "" {
		return false
	}
	if r.ContentLength > 0 && r.ContentLength <= smallBody {
		return true
	}
	prof := p.an.prof
	for _, e := range []profile.Endpoint{prof.Login, prof.Refresh} {
		if e.At(r.Method, r.URL.Path) || e.At(r.Method, host+r.URL.Path) {
			return true
		}
	}
	return false
}

func (p *Proxy) route(path string) *route {
	for i := range p.routes {
		if p.routes[i].up.under(path) {
			return &p.routes[i]
		}
	}
	return nil
}

func exchangeOf(ctx context.Context) *Exchange {
	x, _ := ctx.Value(ctxKey{}).(*Exchange)
	return x
}

// modifyResponse reads the answer as it streams to the client: the analysis ends when the body
// ends (or at once when the analyzer needs no body).
func (p *Proxy) modifyResponse(resp *http.Response) error {
	x := exchangeOf(resp.Request.Context())
	if x == nil {
		return nil
	}
	if !p.needsBody(x, resp) {
		// End reads the header now and keeps nothing of it: no copy needed.
		p.an.End(x, Answer{Status: resp.StatusCode, Header: resp.Header}, p.clock.Now())
		return nil
	}
	// The body is read later, while ReverseProxy owns the header: the analyzer gets a copy.
	ans := Answer{Status: resp.StatusCode, Header: resp.Header.Clone()}
	resp.Body = newCapture(resp.Body, p.maxBody, func(body []byte, truncated bool) {
		ans.Body, ans.Truncated = decoded(ans.Header, body, p.maxBody), truncated
		p.an.End(x, ans, p.clock.Now())
	})
	return nil
}

// needsBody: login and refresh answers carry tokens; a 401 may say why in its body.
func (p *Proxy) needsBody(x *Exchange, resp *http.Response) bool {
	if x.Kind() != profile.CallOther {
		return true
	}
	return resp.StatusCode == http.StatusUnauthorized && p.an.prof.AccessExpired.Field != ""
}

// errorHandler answers 502 when the upstream could not be reached, as ReverseProxy does, and
// records why. A client that gave up is recorded as such.
func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	reason := "upstream: " + err.Error()
	if r.Context().Err() != nil {
		reason = "the client gave up (closed the connection) before the answer came"
	} else {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			reason = "upstream timed out: " + err.Error()
		}
	}
	p.an.Fail(exchangeOf(r.Context()), reason, p.clock.Now())
	w.WriteHeader(http.StatusBadGateway)
}

// targetName is what the proxy forwards to, for display.
func targetName(cfg Config) string {
	n := upstreamNames(cfg.Upstreams)
	if cfg.Forward {
		if n != "" {
			return "any origin (forward proxy); " + n
		}
		return "any origin (forward proxy)"
	}
	return n
}

// upstreamNames names the upstreams for display: "api.example, /auth=idp.example".
func upstreamNames(ups []Upstream) string {
	names := make([]string, 0, len(ups))
	for _, u := range ups {
		n := redact.URL(u.URL.String())
		if u.Prefix != "" {
			n = u.Prefix + "=" + n
		}
		names = append(names, n)
	}
	return strings.Join(names, ", ")
}
