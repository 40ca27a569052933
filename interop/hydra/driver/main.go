// Command driver runs tokenscope's engine against a local Ory Hydra (interop/hydra/run.sh
// starts Hydra and the login and consent app first). It registers the clients, stands a
// counting proxy in front of Hydra's public port (at the issuer's address) and a resource
// server that checks tokens by Hydra's introspection, logs in with each flow, lets the access
// token expire, sends a burst of concurrent requests through the engine and checks, with
// Hydra and the proxy, that exactly one refresh happened, that no refresh token was presented
// twice and that the grant is still intact. It prints a PASS/FAIL table and exits 1 on a FAIL.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"tokenscope/apiclient"
	"tokenscope/apiclient/oidc"
	"tokenscope/apiclient/profile"
	"tokenscope/session"
)

type config struct {
	issuer      string // the proxy's address: what Hydra is configured to call itself
	upstream    string // Hydra's public port behind the proxy
	admin       string
	consentPath string
	flows       []string
	n, nCC      int
	redirect    string
}

func main() {
	var c config
	var flows string
	flag.StringVar(&c.issuer, "issuer", "http://127.0.0.1:4444/", "Hydra's issuer URL; the counting proxy listens there")
	flag.StringVar(&c.upstream, "upstream", "http://127.0.0.1:4454", "Hydra's public port, behind the proxy")
	flag.StringVar(&c.admin, "admin", "http://127.0.0.1:4445", "Hydra's admin API")
	flag.StringVar(&c.consentPath, "consent-path", "/consent", "the consent app's path (the browser adds deny= there)")
	flag.StringVar(&flows, "flows", "auth-code,device,client-credentials", "flows to run")
	flag.IntVar(&c.n, "n", 100, "concurrent requests at expiry (auth-code, device)")
	flag.IntVar(&c.nCC, "n-cc", 50, "concurrent requests at expiry (client-credentials)")
	flag.StringVar(&c.redirect, "redirect-uri", oidc.DefaultRedirectURI, "the public client's loopback redirect URI")
	flag.Parse()
	c.flows = strings.Split(flows, ",")
	log.SetFlags(log.Ltime | log.Lmicroseconds)

	r, err := newRun(c)
	if err != nil {
		log.Fatal(err)
	}
	defer r.close()
	for _, f := range c.flows {
		switch f {
		case oidc.FlowAuthCode:
			r.authCode()
			r.offlineOnlyWithConsent()
			r.consentDenied()
		case oidc.FlowDevice:
			r.device()
		case oidc.FlowClientCredentials:
			r.clientCredentials()
		default:
			log.Fatalf("unknown flow %q", f)
		}
	}
	if !r.table() {
		os.Exit(1)
	}
}

// run is one interop run: the servers the driver stands up and the results so far.
type run struct {
	cfg      config
	ctx      context.Context
	hydra    *hydraAdmin
	proxy    *countingProxy
	rs       *resourceServer
	rsURL    string
	servers  []*http.Server
	ccSecret string
	provider *oidc.Provider
	results  []result
}

type result struct {
	flow, check string
	status      string // PASS, FAIL or SKIP
	figures     string
}

const (
	publicClient = "tokenscope-interop-public"
	ccClient     = "tokenscope-interop-cc"
)

func newRun(c config) (*run, error) {
	ctx := context.Background()
	r := &run{cfg: c, ctx: ctx, hydra: newHydraAdmin(c.admin), ccSecret: fmt.Sprintf("interop-%d", time.Now().UnixNano())}
	up, err := url.Parse(c.upstream)
	if err != nil {
		return nil, err
	}
	iss, err := url.Parse(c.issuer)
	if err != nil {
		return nil, err
	}
	r.proxy = newCountingProxy(up)
	if err := r.serve(iss.Host, r.proxy); err != nil {
		return nil, fmt.Errorf("counting proxy: %w", err)
	}
	r.rs = &resourceServer{hydra: r.hydra}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r.rsURL = "http://" + ln.Addr().String()
	r.serveOn(ln, r.rs)

	// The clients: a public one for auth-code with PKCE (and the device grant, when Hydra
	// knows it), and a confidential one for client credentials.
	grants := []string{"authorization_code", "refresh_token"}
	if err := r.hydra.putClient(ctx, map[string]any{
		"client_id": publicClient, "client_name": "tokenscope interop (public)",
		"token_endpoint_auth_method": "none", "redirect_uris": []string{c.redirect},
		"grant_types": grants, "response_types": []string{"code"}, "scope": "openid offline_access",
	}); err != nil {
		return nil, fmt.Errorf("registering %s: %w", publicClient, err)
	}
	if err := r.hydra.putClient(ctx, map[string]any{
		"client_id": ccClient, "client_secret": r.ccSecret, "client_name": "tokenscope interop (client credentials)",
		"token_endpoint_auth_method": "client_secret_basic", "grant_types": []string{"client_credentials"},
		"response_types": []string{"token"}, "scope": "api.read",
	}); err != nil {
		return nil, fmt.Errorf("registering %s: %w", ccClient, err)
	}
	p, err := oidc.Discover(ctx, http.DefaultClient, c.issuer)
	if err != nil {
		return nil, err
	}
	r.provider = p
	log.Printf("proxy %s → %s, resource server %s, admin %s", c.issuer, c.upstream, r.rsURL, c.admin)
	return r, nil
}

func (r *run) serve(addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	r.serveOn(ln, h)
	return nil
}

func (r *run) serveOn(ln net.Listener, h http.Handler) {
	s := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	r.servers = append(r.servers, s)
	go func() { _ = s.Serve(ln) }()
}

func (r *run) close() {
	for _, s := range r.servers {
		_ = s.Close()
	}
}

func (r *run) add(flow, check string, ok bool, format string, a ...any) {
	st := "PASS"
	if !ok {
		st = "FAIL"
	}
	r.results = append(r.results, result{flow, check, st, fmt.Sprintf(format, a...)})
	log.Printf("%s %s: %s — %s", st, flow, check, fmt.Sprintf(format, a...))
}

func (r *run) skip(flow, check, format string, a ...any) {
	r.results = append(r.results, result{flow, check, "SKIP", fmt.Sprintf(format, a...)})
	log.Printf("SKIP %s: %s — %s", flow, check, fmt.Sprintf(format, a...))
}

// table prints the results and reports whether none failed.
func (r *run) table() bool {
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RESULT\tFLOW\tCHECK\tFIGURES")
	pass, fail, skip := 0, 0, 0
	for _, x := range r.results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", x.status, x.flow, x.check, x.figures)
		switch x.status {
		case "PASS":
			pass++
		case "FAIL":
			fail++
		default:
			skip++
		}
	}
	tw.Flush()
	fmt.Printf("\n%d passed, %d failed, %d skipped\n", pass, fail, skip)
	return fail == 0
}

// engine builds an engine that logs in at Hydra with oc, calling the resource server.
func (r *run) engine(oc oidc.Config) (*apiclient.Engine, error) {
	oc.Issuer = r.cfg.issuer
	return apiclient.New(apiclient.Config{BaseURL: r.rsURL, OIDC: &oc, RefreshTimeout: 10 * time.Second})
}

var apiMe = profile.Request{Method: http.MethodGet, Path: "/api/me"}

func countKind(evs []session.Event, k session.Kind) int {
	n := 0
	for _, ev := range evs {
		if ev.Kind == k {
			n++
		}
	}
	return n
}

// logNotes writes the engine's notes and failed refreshes to the log, for the reader.
func logNotes(flow string, e *apiclient.Engine) {
	for _, ev := range e.Log().Events() {
		switch ev.Kind {
		case session.KindNote, session.KindRefreshFailed, session.KindLoginFailed, session.KindSkew, session.KindLogout:
			log.Printf("  %s engine %s: %s", flow, ev.Kind, ev.Reason)
		}
	}
}

func notes(e *apiclient.Engine) []string {
	var out []string
	for _, ev := range e.Log().Events() {
		if ev.Kind == session.KindNote {
			out = append(out, ev.Reason)
		}
	}
	return out
}

// waitExpired sleeps until the access token has expired by Hydra's own account: past its
// expiry, and introspection says it is no longer active.
func (r *run) waitExpired(e *apiclient.Engine) (time.Duration, error) {
	s := e.Snapshot()
	if s.Access.ExpiresAt.IsZero() {
		return 0, fmt.Errorf("the access token has no expiry")
	}
	time.Sleep(time.Until(s.Access.ExpiresAt) + 500*time.Millisecond)
	for range 50 {
		in, err := r.hydra.introspect(r.ctx, s.Access.Raw)
		if err != nil {
			return 0, err
		}
		if !in.Active {
			return time.Since(s.Access.ExpiresAt), nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return 0, fmt.Errorf("the access token is still active 10 s after its expiry")
}

// burstAtExpiry is one round: wait for the access token to expire, send n requests at once
// under strategy st, and check the refresh count at the proxy and in the engine. grant is the
// grant a "refresh" uses at the token endpoint (refresh_token, or client_credentials).
func (r *run) burstAtExpiry(flow, label string, e *apiclient.Engine, st apiclient.Strategy, n int, grant string) bool {
	e.SetStrategy(st)
	check := fmt.Sprintf("%d concurrent at expiry (%s%s)", n, label, st)
	before := e.Snapshot()
	late, err := r.waitExpired(e)
	if err != nil {
		r.add(flow, check, false, "%v", err)
		return false
	}
	mark := r.proxy.mark()
	evs0, c0 := len(e.Log().Events()), e.Counters()
	denied0 := r.rs.denied.Load()
	ok, other := 0, map[string]int{}
	start := time.Now()
	e.Burst(r.ctx, apiMe, n, n, func(_ int, res apiclient.Result) {
		if res.Outcome == apiclient.OK && res.Status == 200 {
			ok++
		} else {
			other[fmt.Sprintf("%s %d %s", res.Outcome, res.Status, res.Reason)]++
		}
	})
	took := time.Since(start)
	evs, c1 := e.Log().Events()[evs0:], e.Counters()
	calls := r.proxy.since(mark, grant)
	starts, waits := countKind(evs, session.KindRefreshStart), countKind(evs, session.KindRefreshWait)
	after := e.Snapshot()
	good := ok == n && len(calls) == 1 && calls[0].Status == 200 && starts == 1 && c1.RefreshCalls-c0.RefreshCalls == 1 &&
		after.Access.Raw != before.Access.Raw
	fig := fmt.Sprintf("%d/%d ok; token endpoint %s calls %d", ok, n, grant, len(calls))
	if len(calls) == 1 {
		fig += fmt.Sprintf(" (HTTP %d, %s)", calls[0].Status, calls[0].Took.Round(time.Millisecond))
	}
	fig += fmt.Sprintf("; engine refresh-start %d, refresh-wait %d; resource server 401s %d; burst %s; sent %s after expiry",
		starts, waits, r.rs.denied.Load()-denied0, took.Round(time.Millisecond), late.Round(time.Millisecond))
	if grant == "refresh_token" {
		rotated := after.Refresh.Raw != "" && after.Refresh.Raw != before.Refresh.Raw
		presented := len(calls) == 1 && calls[0].Refresh == fingerprint(before.Refresh.Raw)
		good = good && rotated && presented
		fig += fmt.Sprintf("; presented the current refresh token %v, rotated %v", presented, rotated)
	}
	if len(other) > 0 {
		fig += fmt.Sprintf("; others %v", other)
	}
	r.add(flow, check, good, "%s", fig)
	return good
}

// authCode logs in with auth-code and PKCE through Hydra's login and consent, then runs two
// rounds at expiry (proactive, then reactive through real 401s), then checks the grant and
// Hydra's reuse detection.
func (r *run) authCode() {
	const flow = oidc.FlowAuthCode
	var b *browser
	done := make(chan error, 1)
	var authURL string
	e, err := r.engine(oidc.Config{Flow: flow, ClientID: publicClient, RedirectURI: r.cfg.redirect,
		OnAuthURL: func(u string) {
			authURL = u
			b = newBrowser()
			go func() { done <- b.authorize(u, r.cfg.consentPath) }()
		}})
	if err != nil {
		r.add(flow, "login", false, "%v", err)
		return
	}
	defer e.Close()
	defer logNotes(flow, e)
	mark := r.proxy.mark()
	start := time.Now()
	ctx, cancel := context.WithTimeout(r.ctx, time.Minute)
	_, err = e.Login(ctx)
	cancel()
	if err != nil {
		r.add(flow, "login", false, "%v", err)
		return
	}
	if err := <-done; err != nil {
		r.add(flow, "login", false, "browser: %v", err)
		return
	}
	s := e.Snapshot()
	au, _ := url.Parse(authURL)
	codeCalls := r.proxy.since(mark, "authorization_code")
	unchecked := slices.ContainsFunc(notes(e), func(n string) bool { return strings.Contains(n, "not checked") })
	r.add(flow, "login (PKCE S256, prompt=consent)", s.Access.Raw != "" && s.Refresh.Raw != "" && s.IDToken.Raw != "" &&
		len(codeCalls) == 1 && !unchecked && au.Query().Get("code_challenge_method") == "S256",
		"%s in %s via %s; code redeemed %d×; access %s (expires_in %s); refresh token %v; ID token %s, signature checked %v",
		loginEvent(e), time.Since(start).Round(time.Millisecond), strings.Join(b.hops, " → "), len(codeCalls),
		abbrev(s.Access.Raw), s.Access.ExpiresAt.Sub(s.Access.ReceivedAt).Round(time.Second), s.Refresh.Raw != "", s.IDToken.Alg, !unchecked)

	first := s.Refresh.Raw
	all := r.proxy.mark()
	for _, st := range []apiclient.Strategy{apiclient.Auto, apiclient.Reactive} {
		if !r.burstAtExpiry(flow, "", e, st, r.cfg.n, "refresh_token") {
			break
		}
	}

	r.background(flow, e, 25*time.Second)

	// A saved session (tokenscope's --session-file) resumed by a new engine: its first
	// refresh discovers Hydra, under the same single flight.
	stored := e.Stored()
	e.Close()
	e, err = r.engine(oidc.Config{Flow: flow, ClientID: publicClient, RedirectURI: r.cfg.redirect, OnAuthURL: func(string) {}})
	if err != nil {
		r.add(flow, "resume", false, "%v", err)
		return
	}
	defer e.Close()
	defer logNotes(flow+" (resumed)", e)
	e.Resume(stored, "the interop run")
	r.burstAtExpiry(flow, "resumed session, ", e, apiclient.Auto, r.cfg.n, "refresh_token")

	r.checkGrant(flow, e, all)
	r.reuseProbe(flow, e, first)
}

// checkGrant checks, over every refresh since mark, that no refresh token was presented twice,
// and that the grant is intact: the tokens the engine holds now are active at Hydra.
func (r *run) checkGrant(flow string, e *apiclient.Engine, all int) {
	seen := map[string]int{}
	calls := r.proxy.since(all, "refresh_token")
	dup := 0
	for _, c := range calls {
		seen[c.Refresh]++
		if seen[c.Refresh] == 2 {
			dup++
		}
	}
	r.add(flow, "no refresh token presented twice", dup == 0 && len(calls) > 0,
		"%d refresh calls, %d distinct refresh tokens presented, %d presented more than once", len(calls), len(seen), dup)

	// The grant is intact: the refresh token the engine holds now is active at Hydra.
	s := e.Snapshot()
	rt, err1 := r.hydra.introspect(r.ctx, s.Refresh.Raw)
	at, err2 := r.hydra.introspect(r.ctx, s.Access.Raw)
	if err := cmpErr(err1, err2); err != nil {
		r.add(flow, "grant intact", false, "%v", err)
		return
	}
	r.add(flow, "grant intact", rt.Active && at.Active && rt.TokenUse == "refresh_token",
		"current refresh token active %v (token_use %s, scope %q), access token active %v, session generation %d",
		rt.Active, rt.TokenUse, rt.Scope, at.Active, s.Generation)

}

// background leaves the background refresher on for d while a request goes out every 500 ms:
// each refresh must present the newest refresh token, every refresh must be the timer's and
// every request must pass. A 401 may still happen: Hydra's strict rotation deletes the grant's
// access tokens when the refresh token is used, so a request that left with the old access
// token just before a refresh landed is refused; the engine must absorb it (wait for the
// refresh, or retry with the token that replaced it) without another refresh.
func (r *run) background(flow string, e *apiclient.Engine, d time.Duration) {
	e.SetStrategy(apiclient.Background)
	defer e.SetStrategy(apiclient.Auto)
	mark, c0, denied0 := r.proxy.mark(), e.Counters(), r.rs.denied.Load()
	evs0 := len(e.Log().Events())
	ok, total := 0, 0
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		total++
		if res := e.Do(r.ctx, apiMe); res.Outcome == apiclient.OK && res.Status == 200 {
			ok++
		}
	}
	calls, c1 := r.proxy.since(mark, "refresh_token"), e.Counters()
	good200, distinct := 0, map[string]bool{}
	for _, c := range calls {
		if c.Status == 200 {
			good200++
		}
		distinct[c.Refresh] = true
	}
	why := map[string]int{}
	for _, ev := range e.Log().Events()[evs0:] {
		if ev.Kind == session.KindRefreshStart {
			why[ev.Why.String()]++
		}
	}
	want := int(d / (10 * time.Second)) // at least one refresh per access token lifetime
	r.add(flow, fmt.Sprintf("background refresher for %s", d), ok == total && len(calls) >= want && good200 == len(calls) &&
		len(distinct) == len(calls) && c1.RefreshFailures == c0.RefreshFailures && why[session.WhyBackground.String()] == len(calls) && len(why) == 1,
		"%d/%d requests ok; %d refreshes (HTTP 200: %d, distinct refresh tokens presented: %d, started by %v), failures %d; resource server 401s absorbed %d",
		ok, total, len(calls), good200, len(distinct), why, c1.RefreshFailures-c0.RefreshFailures, r.rs.denied.Load()-denied0)
}

// reuseProbe presents an old, rotated refresh token straight to Hydra (past the proxy, so its
// figures stay the engine's): with reuse detection on (grace period 0) Hydra refuses it and
// revokes the whole grant. Then the engine's next request finds its tokens revoked and the
// session falls to "login required" instead of looping.
func (r *run) reuseProbe(flow string, e *apiclient.Engine, old string) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {old}, "client_id": {publicClient}}
	resp, err := http.PostForm(strings.TrimRight(r.cfg.upstream, "/")+"/oauth2/token", form)
	if err != nil {
		r.add(flow, "reuse detection", false, "%v", err)
		return
	}
	var body struct {
		Error string `json:"error"`
		Desc  string `json:"error_description"`
	}
	_ = decodeJSON(resp, &body)
	s := e.Snapshot()
	rt, err := r.hydra.introspect(r.ctx, s.Refresh.Raw)
	if err != nil {
		r.add(flow, "reuse detection", false, "%v", err)
		return
	}
	at, _ := r.hydra.introspect(r.ctx, s.Access.Raw)
	r.add(flow, "reuse detection (grace period 0)", resp.StatusCode == 400 && body.Error == "invalid_grant" && !rt.Active && at != nil && !at.Active,
		"replaying the first, rotated refresh token: HTTP %d %s; afterwards the engine's current refresh token active %v, access token active %v",
		resp.StatusCode, body.Error, rt.Active, at != nil && at.Active)

	c0 := e.Counters()
	res := e.Do(r.ctx, apiMe)
	c1 := e.Counters()
	r.add(flow, "engine after the grant was revoked", res.Outcome == apiclient.Parked && c1.LoggedOut-c0.LoggedOut == 1 && c1.RefreshCalls-c0.RefreshCalls == 1,
		"next request: %s (%s); refresh calls %d, logged out %d", res.Outcome, res.Reason, c1.RefreshCalls-c0.RefreshCalls, c1.LoggedOut-c0.LoggedOut)
}

// offlineOnlyWithConsent logs in again, and the person unticks offline_access at consent:
// Hydra must then issue no refresh token, and the engine must say why it has none.
func (r *run) offlineOnlyWithConsent() {
	const flow = oidc.FlowAuthCode
	done := make(chan error, 1)
	e, err := r.engine(oidc.Config{Flow: flow, ClientID: publicClient, RedirectURI: r.cfg.redirect,
		OnAuthURL: func(u string) {
			go func() { done <- newBrowser("offline_access").authorize(u, r.cfg.consentPath) }()
		}})
	if err != nil {
		r.add(flow, "offline_access only with consent", false, "%v", err)
		return
	}
	defer e.Close()
	defer logNotes(flow, e)
	ctx, cancel := context.WithTimeout(r.ctx, time.Minute)
	_, err = e.Login(ctx)
	cancel()
	if err == nil {
		err = <-done
	}
	if err != nil {
		r.add(flow, "offline_access only with consent", false, "%v", err)
		return
	}
	s := e.Snapshot()
	in, _ := r.hydra.introspect(r.ctx, s.Access.Raw)
	var hint string
	if i := slices.IndexFunc(notes(e), func(n string) bool { return strings.HasPrefix(n, "no refresh token issued") }); i >= 0 {
		hint = notes(e)[i]
	}
	// The note must say that offline_access was not granted, not advise asking for it.
	hinted := strings.HasPrefix(hint, oidc.NotGrantedRefreshHint)
	scope := ""
	if in != nil {
		scope = in.Scope
	}
	r.add(flow, "offline_access only with consent", s.Refresh.Raw == "" && s.Access.Raw != "" && hinted && !strings.Contains(scope, "offline"),
		"asked %q, consent left out offline_access: granted scope %q, refresh token %v; engine note %q",
		oidc.DefaultScope, scope, s.Refresh.Raw != "", hint)
}

// consentDenied logs in once more, and the person denies the request at consent: Hydra sends
// the browser back with error=access_denied, and the engine's login must fail with it (and
// its hint), holding no tokens.
func (r *run) consentDenied() {
	const flow = oidc.FlowAuthCode
	done := make(chan error, 1)
	var b *browser
	e, err := r.engine(oidc.Config{Flow: flow, ClientID: publicClient, RedirectURI: r.cfg.redirect,
		OnAuthURL: func(u string) {
			b = newBrowser()
			b.reject = true
			go func() { done <- b.authorize(u, r.cfg.consentPath) }()
		}})
	if err != nil {
		r.add(flow, "consent denied", false, "%v", err)
		return
	}
	defer e.Close()
	defer logNotes(flow+" (denied)", e)
	mark := r.proxy.mark()
	ctx, cancel := context.WithTimeout(r.ctx, time.Minute)
	_, err = e.Login(ctx)
	cancel()
	berr := <-done
	s := e.Snapshot()
	msg := fmt.Sprint(err)
	r.add(flow, "consent denied", err != nil && berr == nil && strings.Contains(msg, "access_denied") && strings.Contains(msg, "hint:") &&
		s.Access.Raw == "" && len(r.proxy.since(mark, "authorization_code")) == 0,
		"login: %s; browser: %v; tokens held %v; code redemptions %d", msg, berr, s.Access.Raw != "", len(r.proxy.since(mark, "authorization_code")))
}

// device runs the device flow when Hydra publishes a device authorization endpoint; Hydra
// v2.3.0 does not (RFC 8628 came to Hydra after it), and then the engine must refuse the flow
// with a clear message.
func (r *run) device() {
	const flow = oidc.FlowDevice
	p := r.provider
	if p.DeviceAuthorizationEndpoint == "" {
		r.skip(flow, "login, interval and slow_down, burst", "Hydra publishes no device_authorization_endpoint (grant_types_supported %v)", p.GrantTypesSupported)
		e, err := r.engine(oidc.Config{Flow: flow, ClientID: publicClient, OnDeviceCode: func(oidc.DeviceAuth) {}})
		if err != nil {
			r.add(flow, "engine refuses cleanly", false, "%v", err)
			return
		}
		defer e.Close()
		defer logNotes(flow, e)
		_, err = e.Login(r.ctx)
		r.add(flow, "engine refuses cleanly", err != nil && strings.Contains(err.Error(), "no device_authorization_endpoint"), "login: %v", err)
		return
	}
	r.skip(flow, "login, interval and slow_down, burst", "Hydra publishes %s, but this driver has no device verification step yet", p.DeviceAuthorizationEndpoint)
}

// clientCredentials logs in with client credentials, then runs two rounds at expiry: each must
// fetch exactly one new token for all the waiting requests.
func (r *run) clientCredentials() {
	const flow = oidc.FlowClientCredentials
	e, err := r.engine(oidc.Config{Flow: flow, ClientID: ccClient, ClientSecret: r.ccSecret})
	if err != nil {
		r.add(flow, "login", false, "%v", err)
		return
	}
	defer e.Close()
	defer logNotes(flow, e)
	mark := r.proxy.mark()
	start := time.Now()
	if _, err := e.Login(r.ctx); err != nil {
		r.add(flow, "login", false, "%v", err)
		return
	}
	s := e.Snapshot()
	calls := r.proxy.since(mark, "client_credentials")
	basic := len(calls) == 1 && calls[0].Client == ccClient
	r.add(flow, "login (client_secret_basic)", s.Access.Raw != "" && s.Refresh.Raw == "" && basic,
		"%s in %s; token endpoint calls %d, client %q; access %s (expires_in %s), no refresh token %v",
		loginEvent(e), time.Since(start).Round(time.Millisecond), len(calls), firstClient(calls), abbrev(s.Access.Raw),
		s.Access.ExpiresAt.Sub(s.Access.ReceivedAt).Round(time.Second), s.Refresh.Raw == "")
	for _, st := range []apiclient.Strategy{apiclient.Auto, apiclient.Reactive} {
		if !r.burstAtExpiry(flow, "", e, st, r.cfg.nCC, "client_credentials") {
			break
		}
	}
}
