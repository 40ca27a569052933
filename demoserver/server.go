package demoserver

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"tokenscope/internal/hostcheck"
	"tokenscope/internal/sanitize"
)

// Server is a running (or ready to run) demo auth server. All methods are safe for concurrent
// use.
type Server struct {
	opts   Options
	signer *signer
	routes map[string][]route

	mu        sync.Mutex
	families  map[string]*family
	access    map[string]*accessRec  // by jti, or by the raw token when opaque
	refresh   map[string]*refreshRec // likewise
	lastPrune time.Time
	oidc      oidcState
	dpop      dpopState // its own lock
	stats     Stats
	knobs     Knobs

	items atomic.Int64 // ids for POST .../items
	// skew lives outside mu because now() is called with mu held (token checks, minting).
	skew atomic.Int64

	ln   net.Listener
	http *http.Server
	url  string
}

// Stats counts what the server saw. It is what /__demo/stats returns.
type Stats struct {
	Requests             int64 `json:"requests"`
	Logins               int64 `json:"logins"`
	LoginsFailed         int64 `json:"logins_failed"`
	RefreshOK            int64 `json:"refresh_ok"`
	RefreshRejected      int64 `json:"refresh_rejected"`
	ReuseDetected        int64 `json:"reuse_detected"`
	RefreshGraceHits     int64 `json:"refresh_grace_hits"` // rotated tokens accepted inside the rotation grace
	RefreshInjected503   int64 `json:"refresh_injected_503"`
	ResourceOK           int64 `json:"resource_ok"`
	ResourceUnauthorized int64 `json:"resource_unauthorized"`
	CSRFRejected         int64 `json:"csrf_rejected"` // cookie refreshes refused for their CSRF double submit
	RefreshInFlight      int   `json:"refresh_in_flight"`
	MaxRefreshInFlight   int   `json:"max_refresh_in_flight"`

	AuthCodesIssued         int64 `json:"auth_codes_issued"`
	AuthCodesRedeemed       int64 `json:"auth_codes_redeemed"`
	AuthCodesRejected       int64 `json:"auth_codes_rejected"`
	DeviceCodesIssued       int64 `json:"device_codes_issued"`
	DevicePolls             int64 `json:"device_polls"`
	DeviceSlowDown          int64 `json:"device_slow_down"`
	ClientCredentialsTokens int64 `json:"client_credentials_tokens"`
	Revocations             int64 `json:"revocations"`
	Introspections          int64 `json:"introspections"`

	DPoPProofsOK        int64 `json:"dpop_proofs_ok"`
	DPoPProofsRejected  int64 `json:"dpop_proofs_rejected"`
	DPoPNonceChallenges int64 `json:"dpop_nonce_challenges"` // answers of use_dpop_nonce
}

// Knobs are the fault settings currently in force.
type Knobs struct {
	FailNextRefresh int           `json:"fail_next_refresh"`
	Latency         time.Duration `json:"latency_ns"`
	RefreshLatency  time.Duration `json:"refresh_latency_ns"`
	Skew            time.Duration `json:"skew_ns"`
	Audit           AuditKnobs    `json:"audit"`
}

// New builds a server without listening; use Handler with your own listener (httptest), or
// Start.
func New(opts Options) (*Server, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	sg, err := newSigner(opts.Alg, opts.Secret)
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:     opts,
		signer:   sg,
		families: map[string]*family{},
		access:   map[string]*accessRec{},
		refresh:  map[string]*refreshRec{},
		oidc:     newOIDCState(),
	}
	s.routes = s.buildRoutes()
	return s, nil
}

// Start builds a server and serves it on opts.Addr (127.0.0.1 on a free port by default).
// Close stops it.
func Start(opts Options) (*Server, error) {
	s, err := New(opts)
	if err != nil {
		return nil, err
	}
	if !s.opts.AllowRemote {
		if err := CheckLoopback(s.opts.Addr); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("demoserver: %w", err)
	}
	s.ln = ln
	s.url = "http://" + ln.Addr().String()
	s.http = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.http.Serve(ln) }()
	return s, nil
}

// URL is the base URL the server listens on, e.g. http://127.0.0.1:41234 (empty before Start).
func (s *Server) URL() string { return s.url }

// Close stops a started server and drops its connections.
func (s *Server) Close() error {
	if s.http == nil {
		return nil
	}
	return s.http.Close()
}

// Shutdown stops a started server gracefully.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.http == nil {
		return nil
	}
	return s.http.Shutdown(ctx)
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s }

// Options returns the effective options (defaults filled in).
func (s *Server) Options() Options { return s.opts }

// Alg is the signing algorithm in use.
func (s *Server) Alg() string { return s.signer.alg }

// now is the server's view of the time: the clock plus the skew knob.
func (s *Server) now() time.Time {
	return s.opts.Clock.Now().Add(time.Duration(s.skew.Load()))
}

// ---- fault knobs ----

// ExpireAccessTokens makes every access token issued so far invalid, as if its exp had passed.
// It returns how many live tokens it expired.
func (s *Server) ExpireAccessTokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.access {
		if !r.killed {
			r.killed = true
			n++
		}
	}
	return n
}

// RevokeAllFamilies revokes every refresh-token family, and with it every token of the family:
// the next refresh is rejected and the user must log in again. It returns how many families
// it revoked.
func (s *Server) RevokeAllFamilies() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, f := range s.families {
		if !f.revoked {
			f.revoked = true
			n++
		}
	}
	return n
}

// FailNextRefreshes makes the next n refresh calls (any convention) answer 503.
func (s *Server) FailNextRefreshes(n int) {
	s.mu.Lock()
	s.knobs.FailNextRefresh = max(n, 0)
	s.mu.Unlock()
}

// SetLatency delays every request by all, and refresh calls by a further refresh.
func (s *Server) SetLatency(all, refresh time.Duration) {
	s.mu.Lock()
	s.knobs.Latency, s.knobs.RefreshLatency = max(all, 0), max(refresh, 0)
	s.mu.Unlock()
}

// SetSkew moves the server's clock by d relative to its Clock: the Date header, iat, exp and
// every expiry check follow it.
func (s *Server) SetSkew(d time.Duration) {
	s.skew.Store(int64(d))
}

// Knobs returns the fault settings in force.
func (s *Server) Knobs() Knobs {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.knobs
	k.Skew = time.Duration(s.skew.Load())
	return k
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Reset clears the counters and the fault knobs (issued tokens stay valid).
func (s *Server) Reset() {
	s.mu.Lock()
	inflight := s.stats.RefreshInFlight
	s.stats = Stats{RefreshInFlight: inflight}
	s.knobs = Knobs{}
	s.mu.Unlock()
	s.skew.Store(0)
}

func (s *Server) count(f func(*Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

// enterRefresh applies the refresh latency and the fail-next knob. It returns false when the
// call must fail with 503. The returned func must be called when the refresh is done; the
// in-flight gauge covers the latency so that a stampede shows as overlapping calls.
func (s *Server) enterRefresh(ctx context.Context) (ok bool, done func()) {
	s.mu.Lock()
	s.stats.RefreshInFlight++
	s.stats.MaxRefreshInFlight = max(s.stats.MaxRefreshInFlight, s.stats.RefreshInFlight)
	delay := s.knobs.RefreshLatency
	s.mu.Unlock()
	done = func() {
		s.mu.Lock()
		s.stats.RefreshInFlight--
		s.mu.Unlock()
	}
	if !sleepCtx(ctx, delay) {
		return false, done
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.knobs.FailNextRefresh > 0 {
		s.knobs.FailNextRefresh--
		s.stats.RefreshInjected503++
		return false, done
	}
	return true, done
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// ---- routing ----

type route struct {
	method     string
	path       string
	convention string
	what       string // shown in the index
	handle     http.HandlerFunc
}

// Convention names, as DESIGN.md spells them.
const (
	SimpleJWT    = "simplejwt"
	BearerJSON   = "bearer-json"
	ElementAdmin = "element-admin"
	OAuth2       = "oauth2"
)

func (s *Server) buildRoutes() map[string][]route {
	rs := []route{
		{"POST", "/api/token/", SimpleJWT, "login", s.tokenAnswer(s.simplejwtLogin)},
		{"POST", "/api/token/refresh/", SimpleJWT, "refresh", s.tokenAnswer(s.simplejwtRefresh)},
		{"POST", "/login", BearerJSON, "login", s.tokenAnswer(s.bearerLogin)},
		{"POST", "/refresh-token", BearerJSON, "refresh", s.tokenAnswer(s.bearerRefresh)},
		{"POST", "/sys/user/login", ElementAdmin, "login", s.tokenAnswer(s.elementLogin)},
		{"POST", "/sys/user/refreshtoken", ElementAdmin, "refresh", s.tokenAnswer(s.elementRefresh)},
		{"POST", "/oauth/token", OAuth2, "login and refresh", s.tokenAnswer(s.oauthToken)},
		{"POST", "/auth/login", Cookie, "login (refresh token in an HttpOnly cookie)", s.tokenAnswer(s.cookieLogin)},
		{"POST", "/auth/refresh", Cookie, "refresh (cookie and X-CSRF-Token)", s.tokenAnswer(s.cookieRefresh)},
		{"GET", "/api/protected/", SimpleJWT, "resource (Bearer)", s.bearerResource(s.protected)},
		{"GET", "/api/me", SimpleJWT, "resource (Bearer)", s.bearerResource(s.me)},
		{"POST", "/api/items", SimpleJWT, "resource (Bearer)", s.bearerResource(s.createItem)},
		{"GET", "/sys/user/info", ElementAdmin, "resource (X-Token)", s.xtokenResource(s.userInfo)},
		{"POST", "/sys/items", ElementAdmin, "resource (X-Token)", s.xtokenResource(s.createSysItem)},
		{"GET", "/.well-known/jwks.json", "", "public keys", s.jwks},
		{"GET", "/.well-known/openid-configuration", OAuth2, "OpenID discovery", s.discovery},
		{"GET", "/.well-known/oauth-authorization-server", OAuth2, "RFC 8414 metadata", s.discovery},
		{"GET", "/authorize", "", "authorization code flow (HTML)", s.authorizeStart},
		{"POST", "/authorize", "", "login and approve forms", s.authorizeForm},
		{"POST", "/oauth/device", OAuth2, "device authorization (RFC 8628)", s.deviceAuthorize},
		{"GET", "/device", "", "device verification page (HTML)", s.devicePage},
		{"POST", "/device", "", "device user code, login and approve forms", s.deviceForm},
		{"POST", "/oauth/revoke", OAuth2, "revocation (RFC 7009)", s.revoke},
		{"POST", "/oauth/introspect", OAuth2, "introspection (RFC 7662)", s.introspect},
		{"GET", "/userinfo", OAuth2, "OpenID userinfo", s.userinfo},
		{"GET", "/", "", "this index", s.index},
		{"GET", "/__demo/stats", "", "counters", s.knobStats},
		{"POST", "/__demo/expire-access", "", "expire all access tokens now", s.knobExpire},
		{"POST", "/__demo/revoke-families", "", "revoke every refresh family", s.knobRevoke},
		{"POST", "/__demo/fail-refresh", "", "fail the next ?n=N refresh calls with 503", s.knobFail},
		{"POST", "/__demo/latency", "", "?all=DUR&refresh=DUR", s.knobLatency},
		{"POST", "/__demo/skew", "", "?d=DUR server clock skew", s.knobSkew},
		{"POST", "/__demo/audit", "", "?rotation_grace=DUR&access_leeway=DUR&refresh_race_window=DUR&loser_clears_cookie=BOOL&cacheable_tokens=BOOL&no_www_authenticate=BOOL", s.knobAudit},
		{"POST", "/__demo/reset", "", "clear counters and knobs", s.knobReset},
	}
	m := map[string][]route{}
	for _, r := range rs {
		m[r.path] = append(m[r.path], r)
	}
	return m
}

// ServeHTTP routes a request, applies the latency knob, stamps the skewed Date header and logs
// one line.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	rec.Header().Set("Date", s.now().UTC().Format(http.TimeFormat))
	s.count(func(st *Stats) { st.Requests++ })
	knob := strings.HasPrefix(r.URL.Path, "/__demo/")
	if !s.hostAllowed(r) {
		rec.note = "foreign Host refused"
		writeJSON(rec, http.StatusMisdirectedRequest, map[string]string{"detail": "this server does not answer to that Host name (DNS rebinding guard): use its address, localhost, or its issuer URL's host"})
	} else if knob && (!loopbackClient(r.RemoteAddr) || s.crossOrigin(r)) {
		rec.note = "knob refused"
		writeJSON(rec, http.StatusForbidden, map[string]string{"detail": "demo knobs answer loopback clients only, and no other site's pages"})
	} else if !sleepCtx(r.Context(), s.Knobs().Latency) {
		rec.status = 499 // client went away during the injected latency; nothing is written
		rec.note = "client gone during latency"
	} else {
		s.dispatch(rec, r)
	}
	if s.opts.Log != nil {
		// Method and path are the client's to choose: clipped and made inert.
		line := fmt.Sprintf("%s %-4s %-24s %d %7s %s\n", time.Now().Format("15:04:05.000"),
			sanitize.Line(clip(r.Method, 16)), sanitize.Line(clip(r.URL.Path, 200)), rec.status, time.Since(start).Round(10*time.Microsecond), sanitize.Line(clip(rec.note, 200)))
		_, _ = s.opts.Log.Write([]byte(line))
	}
}

func (s *Server) dispatch(w *recorder, r *http.Request) {
	rs, ok := s.routes[r.URL.Path]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"detail": "Not found.", "hint": "GET / lists every endpoint"})
		return
	}
	var allow []string
	for _, rt := range rs {
		if rt.method == r.Method {
			rt.handle(w, r)
			return
		}
		allow = append(allow, rt.method)
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	conventionError(w, rs[0].convention, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed; use %s", r.Method, strings.Join(allow, ", ")))
}

// clip cuts s to at most n bytes, saying how much it left out.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("%s… (%d bytes more)", s[:n], len(s)-n)
}

// recorder keeps the status and a short note for the request log.
type recorder struct {
	http.ResponseWriter
	status    int
	note      string
	cacheable bool // a token answer under the cacheable-tokens knob: writeJSON leaves no-store off
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func note(w http.ResponseWriter, format string, args ...any) {
	if r, ok := w.(*recorder); ok {
		r.note = fmt.Sprintf(format, args...)
	}
}

// ---- index and knobs over HTTP ----

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	type ep struct {
		Method     string `json:"method"`
		Path       string `json:"path"`
		Convention string `json:"convention,omitempty"`
		What       string `json:"what"`
	}
	var eps []ep
	for _, rs := range s.routes {
		for _, rt := range rs {
			eps = append(eps, ep{rt.method, rt.path, rt.convention, rt.what})
		}
	}
	sort.Slice(eps, func(i, j int) bool { return eps[i].Path+eps[i].Method < eps[j].Path+eps[j].Method })
	writeJSON(w, http.StatusOK, map[string]any{
		"server":           "tokenscope demo server",
		"alg":              s.signer.alg,
		"access_ttl":       s.opts.AccessTTL.String(),
		"refresh_ttl":      s.opts.RefreshTTL.String(),
		"rotation":         !s.opts.NoRotation,
		"reuse_detection":  !s.opts.NoReuseDetection,
		"oauth2_client_id": s.opts.ClientID,
		"confidential_client": map[string]string{"client_id": s.opts.ConfidentialClientID,
			"client_secret": s.publicSecret(), "grant": "client_credentials"},
		"accept_alg_none": s.opts.AcceptAlgNone,
		"insecure":        s.InsecureWarnings(),
		"endpoints":       eps,
	})
}

func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.signer.jwks())
}

func (s *Server) knobStats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.statsDoc())
}

func (s *Server) statsDoc() map[string]any {
	k := s.Knobs()
	knobs := map[string]any{
		"fail_next_refresh": k.FailNextRefresh,
		"latency":           k.Latency.String(),
		"refresh_latency":   k.RefreshLatency.String(),
		"skew":              k.Skew.String(),
	}
	for name, v := range s.auditKnobsDoc(k.Audit) {
		knobs[name] = v
	}
	return map[string]any{"stats": s.Stats(), "knobs": knobs}
}

func (s *Server) knobExpire(w http.ResponseWriter, r *http.Request) {
	n := s.ExpireAccessTokens()
	note(w, "knob: expired %d access tokens", n)
	writeJSON(w, http.StatusOK, map[string]int{"expired": n})
}

func (s *Server) knobRevoke(w http.ResponseWriter, r *http.Request) {
	n := s.RevokeAllFamilies()
	note(w, "knob: revoked %d families", n)
	writeJSON(w, http.StatusOK, map[string]int{"revoked": n})
}

func (s *Server) knobFail(w http.ResponseWriter, r *http.Request) {
	n := 1
	if v := r.URL.Query().Get("n"); v != "" {
		if _, err := fmt.Sscanf(v, "%d", &n); err != nil || n < 0 || n > 1_000_000 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "n must be an integer between 0 and 1000000"})
			return
		}
	}
	s.FailNextRefreshes(n)
	note(w, "knob: fail next %d refresh calls", n)
	writeJSON(w, http.StatusOK, s.statsDoc())
}

func (s *Server) knobLatency(w http.ResponseWriter, r *http.Request) {
	k := s.Knobs()
	all, refresh := k.Latency, k.RefreshLatency
	for name, dst := range map[string]*time.Duration{"all": &all, "refresh": &refresh} {
		v := r.URL.Query().Get(name)
		if v == "" {
			continue
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > 5*time.Minute {
			writeJSON(w, http.StatusBadRequest, map[string]string{"detail": name + " must be a duration between 0 and 5m, like 250ms"})
			return
		}
		*dst = d
	}
	s.SetLatency(all, refresh)
	note(w, "knob: latency all=%s refresh=%s", all, refresh)
	writeJSON(w, http.StatusOK, s.statsDoc())
}

func (s *Server) knobSkew(w http.ResponseWriter, r *http.Request) {
	d, err := time.ParseDuration(r.URL.Query().Get("d"))
	if err != nil || d < -24*time.Hour || d > 24*time.Hour {
		writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "d must be a duration within ±24h, like -90s"})
		return
	}
	s.SetSkew(d)
	note(w, "knob: skew %s", d)
	writeJSON(w, http.StatusOK, s.statsDoc())
}

func (s *Server) knobReset(w http.ResponseWriter, r *http.Request) {
	s.Reset()
	note(w, "knob: reset")
	writeJSON(w, http.StatusOK, s.statsDoc())
}

// publicSecret is the confidential client's secret as GET / shows it: the well-known default is
// documentation, a secret of the operator's own is not shown.
func (s *Server) publicSecret() string {
	if s.opts.ConfidentialSecret == DefaultConfidentialSecret {
		return DefaultConfidentialSecret
	}
	return "(set by the operator)"
}

// loopbackClient reports whether a request came from this machine.
func loopbackClient(remote string) bool {
	ok, _ := hostcheck.IsLoopbackAddr(remote)
	return ok
}
