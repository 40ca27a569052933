package observe

import (
	"strings"
	"testing"
	"time"

	"tokenscope/demoserver"
	"tokenscope/internal/clock"
	"tokenscope/session"
)

// wantFindings checks the findings by rule: exactly the given counts, zero for every other rule.
// A negative count means "at least one".
func wantFindings(t *testing.T, s Summary, want map[string]int) {
	t.Helper()
	for _, r := range Rules() {
		got, w := s.Findings[r], want[r]
		if (w < 0 && got < 1) || (w >= 0 && got != w) {
			t.Errorf("findings[%s] = %d, want %d (all: %v)", r, got, w, s.Findings)
		}
	}
}

func findingEvents(p *Proxy, rule string) []session.Event {
	var out []session.Event
	for _, e := range p.Log().Events() {
		if e.Kind == session.KindFinding && e.Rule == rule {
			out = append(out, e)
		}
	}
	return out
}

// The seed's naive interceptor: every 401 refreshes with the refresh token it holds, no single
// flight. 50 requests at expiry, refresh calls held so that all are in flight together.
func TestObserveNaiveInterceptorStampede(t *testing.T) {
	r := newRig(t, demoserver.Options{AccessTTL: 2 * time.Second}, func(c *Config) { c.Faults = true })
	c := r.newClient()
	if err := c.login(); err != nil {
		t.Fatal(err)
	}
	if err := r.proxy.SlowRefresh(300 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	c.waitExpired(t)
	done := make(chan struct{})
	go func() { defer close(done); c.burst(50, "GET", "/api/protected/") }()
	// Every refresh call is held on the proxy's clock (and the sweeper waits on it too): all
	// fifty are in flight together, however slowly the machine started them.
	if !r.clock.AwaitTimers(51, 30*time.Second) {
		n, _ := r.clock.Pending()
		t.Fatalf("%d timers armed, want the sweeper's and 50 held refresh calls", n)
	}
	r.clock.Advance(300 * time.Millisecond)
	<-done
	s := r.finish(t)
	st := r.demo.Stats()
	if s.RefreshCalls != 50 || s.RefreshCalls != st.RefreshOK+st.RefreshRejected {
		t.Errorf("refresh_calls %d, server saw %d ok + %d rejected", s.RefreshCalls, st.RefreshOK, st.RefreshRejected)
	}
	if s.RefreshTokenReused != 49 || s.PeakConcurrentRefreshes != 50 || s.RefreshRejected != st.RefreshRejected {
		t.Errorf("summary %+v", s)
	}
	if s.Unauthorized < 50 || s.LostAfter401 < 49 || s.RetriedAfter401+s.LostAfter401 < 50 || s.ExpiredTokenSent != 50 {
		t.Errorf("summary %+v", s)
	}
	wantFindings(t, s, map[string]int{RuleStampede: 1, RuleExpiredTokenSent: 1, RuleLostAfter401: -1})
	if evs := findingEvents(r.proxy, RuleStampede); len(evs) == 1 && (!strings.Contains(evs[0].Reason, "50 refresh calls overlapped") || !strings.Contains(evs[0].Reason, "up to 50 in flight together")) {
		t.Errorf("stampede finding: %q", evs[0].Reason)
	}
	// The losers' reuse revoked the family: the lost requests cannot be resent to any use.
	for _, e := range findingEvents(r.proxy, RuleLostAfter401) {
		if !strings.Contains(e.Reason, "a stampede killed it") || !strings.Contains(e.Reason, "must log in again") {
			t.Errorf("lost finding: %q", e.Reason)
		}
	}
	// The session's typed end says so too, as the findings do: the server suspected reuse.
	if snap := r.proxy.Snapshot(); snap.End != session.EndReuseSuspected {
		t.Errorf("the session ended %q after a stampede, want %q", snap.End, session.EndReuseSuspected)
	}
}

// The same load with single flight: one refresh, every request retried, no stampede. The client
// only reacts to 401s, so it does send an expired token.
func TestObserveSingleFlightReactive(t *testing.T) {
	r := newRig(t, demoserver.Options{AccessTTL: 2 * time.Second}, nil)
	c := r.newClient()
	c.singleFlight = true
	if err := c.login(); err != nil {
		t.Fatal(err)
	}
	c.waitExpired(t)
	for i, st := range c.burst(50, "GET", "/api/protected/") {
		if st != 200 {
			t.Fatalf("request %d: %d", i, st)
		}
	}
	s := r.finish(t)
	if s.RefreshCalls != 1 || s.RefreshTokenReused != 0 || s.PeakConcurrentRefreshes != 1 || s.Unauthorized != 50 ||
		s.RetriedAfter401 != 50 || s.LostAfter401 != 0 || s.Logins != 1 || s.Requests != 102 {
		t.Errorf("summary %+v", s)
	}
	wantFindings(t, s, map[string]int{RuleExpiredTokenSent: 1})
}

// Single flight and a proactive check, bursts across an expiry: nothing to find.
func TestObserveSingleFlightProactiveClean(t *testing.T) {
	r := newRig(t, demoserver.Options{AccessTTL: 3 * time.Second}, nil)
	c := r.newClient()
	c.singleFlight, c.proactive = true, 600*time.Millisecond
	if err := c.login(); err != nil {
		t.Fatal(err)
	}
	for passed := time.Duration(0); passed < 3500*time.Millisecond; passed += 150 * time.Millisecond {
		r.advance(t, 150*time.Millisecond)
		for i, st := range c.burst(10, "GET", "/api/protected/") {
			if st != 200 {
				t.Fatalf("request %d: %d", i, st)
			}
		}
	}
	s := r.finish(t)
	if s.RefreshCalls < 1 || s.RefreshCalls != r.demo.Stats().RefreshOK || s.RefreshTokenReused != 0 || s.PeakConcurrentRefreshes != 1 ||
		s.Unauthorized != 0 || s.LostAfter401 != 0 || s.ExpiredTokenSent != 0 {
		t.Errorf("summary %+v", s)
	}
	wantFindings(t, s, nil)
}

// A client that refreshes after a 401 but drops the request (as axios-auth-refresh does to the
// requests it did not queue): every 401 is lost, found by the sweeper after the retry window.
func TestObserveDroppedAfter401(t *testing.T) {
	r := newRig(t, demoserver.Options{AccessTTL: 2 * time.Second}, func(c *Config) { c.RetryWindow = 300 * time.Millisecond })
	c := r.newClient()
	c.singleFlight, c.retries = true, 0
	if err := c.login(); err != nil {
		t.Fatal(err)
	}
	c.waitExpired(t)
	c.burst(10, "GET", "/api/me")
	r.advance(t, 700*time.Millisecond)
	if s := r.proxy.Summary(); s.LostAfter401 != 10 {
		t.Errorf("before close: lost %d, want 10 (the sweeper)", s.LostAfter401)
	}
	s := r.finish(t)
	if s.LostAfter401 != 10 || s.RetriedAfter401 != 0 || s.Unauthorized != 10 || s.RefreshCalls != 1 {
		t.Errorf("summary %+v", s)
	}
	wantFindings(t, s, map[string]int{RuleLostAfter401: -1, RuleExpiredTokenSent: 1})
	for _, e := range findingEvents(r.proxy, RuleLostAfter401) {
		if !strings.Contains(e.Reason, "GET /api/me") || !strings.Contains(e.Reason, "family #1") {
			t.Errorf("lost finding: %q", e.Reason)
		}
	}
}

// A request answered 401 three times in a row (injected) and resent each time: a retry loop.
func TestObserveRetryLoopWithExpireFault(t *testing.T) {
	r := newRig(t, demoserver.Options{}, func(c *Config) { c.Faults = true })
	c := r.newClient()
	c.singleFlight, c.retries = true, 5
	if err := c.login(); err != nil {
		t.Fatal(err)
	}
	if err := r.proxy.Expire401Next(3); err != nil {
		t.Fatal(err)
	}
	if st := c.do("POST", "/api/items", []byte(`{"name":"a"}`)); st != 201 {
		t.Fatalf("status %d", st)
	}
	s := r.finish(t)
	if s.Unauthorized != 3 || s.RetriedAfter401 != 3 || s.LostAfter401 != 0 || s.RefreshCalls != 3 {
		t.Errorf("summary %+v", s)
	}
	// Three refreshes right after login, each asked for by a 401: none is needless.
	wantFindings(t, s, map[string]int{RuleRetryLoop: 1})
	if st := r.demo.Stats(); st.ResourceUnauthorized != 0 {
		t.Errorf("the injected 401s reached the server: %+v", st)
	}
}

// The app logs the user out when a refresh fails with 503: logout-on-transient. An app that
// retries the refresh is fine; a revoked token that leads to a login is fine too.
func TestObserveLogoutOnTransient(t *testing.T) {
	cases := []struct {
		name   string
		fault  func(p *Proxy) error
		onFail func(c *client, status int) bool
		want   map[string]int
	}{
		{"503 then login", func(p *Proxy) error { return p.Fail503Next(1) },
			func(c *client, _ int) bool { return c.login() == nil }, map[string]int{RuleLogoutOnTransient: 1}},
		{"503 then retry", func(p *Proxy) error { return p.Fail503Next(1) },
			func(c *client, _ int) bool {
				c.clock.(*clock.Manual).Advance(50 * time.Millisecond) // a moment later
				_, rt, _ := c.tokens()
				st, _ := c.refreshWith(rt)
				return st == 200
			}, nil},
		{"revoked then login", func(p *Proxy) error { return p.RevokeNext(1) },
			func(c *client, _ int) bool { return c.login() == nil }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, demoserver.Options{}, func(c *Config) { c.Faults = true })
			c := r.newClient()
			c.singleFlight, c.onRefreshFail = true, tc.onFail
			if err := c.login(); err != nil {
				t.Fatal(err)
			}
			if err := r.proxy.ExpireNow(); err != nil {
				t.Fatal(err)
			}
			r.advance(t, time.Millisecond) // what the client does next comes after that instant
			if err := tc.fault(r.proxy); err != nil {
				t.Fatal(err)
			}
			if st := c.do("GET", "/api/me", nil); st != 200 {
				t.Fatalf("status %d", st)
			}
			s := r.finish(t)
			if s.Unauthorized != 1 || s.RetriedAfter401 != 1 || s.LostAfter401 != 0 {
				t.Errorf("summary %+v", s)
			}
			wantFindings(t, s, tc.want)
		})
	}
}

// After a 503 the app gives up and says nothing more: silence is a logout too.
func TestObserveSilenceAfterTransient(t *testing.T) {
	r := newRig(t, demoserver.Options{}, func(c *Config) { c.Faults = true; c.RetryWindow = 200 * time.Millisecond })
	c := r.newClient()
	if err := c.login(); err != nil {
		t.Fatal(err)
	}
	_ = r.proxy.Fail503Next(1)
	_, rt, _ := c.tokens()
	if st, _ := c.refreshWith(rt); st != 503 {
		t.Fatalf("refresh %d", st)
	}
	r.advance(t, 500*time.Millisecond)
	s := r.finish(t)
	// The refresh came with most of the access token's life left and no 401: needless too.
	wantFindings(t, s, map[string]int{RuleLogoutOnTransient: 1, RuleNeedless: 1})
	if evs := findingEvents(r.proxy, RuleLogoutOnTransient); len(evs) != 1 || !strings.Contains(evs[0].Reason, "silent") {
		t.Errorf("finding %v", evs)
	}
}

// A refresh right after login, with no 401: refresh-without-need, and nothing else.
func TestObserveRefreshWithoutNeed(t *testing.T) {
	r := newRig(t, demoserver.Options{AccessTTL: 30 * time.Second}, nil)
	c := r.newClient()
	if err := c.login(); err != nil {
		t.Fatal(err)
	}
	_, rt, _ := c.tokens()
	if st, _ := c.refreshWith(rt); st != 200 {
		t.Fatal(st)
	}
	s := r.finish(t)
	wantFindings(t, s, map[string]int{RuleNeedless: 1})
	if s.RefreshCalls != 1 || s.RefreshTokenReused != 0 {
		t.Errorf("summary %+v", s)
	}
}

// The client keeps the refresh token a rotation replaced and presents it at the next expiry.
func TestObserveRotatedTokenReused(t *testing.T) {
	r := newRig(t, demoserver.Options{AccessTTL: 2 * time.Second}, nil)
	c := r.newClient()
	if err := c.login(); err != nil {
		t.Fatal(err)
	}
	_, old, _ := c.tokens()
	c.waitExpired(t)
	if st, _ := c.refreshWith(old); st != 200 {
		t.Fatal(st)
	}
	r.advance(t, raceWindow+200*time.Millisecond)
	if st, _ := c.refreshWith(old); st != 401 {
		t.Fatalf("the server took a rotated token: %d", st)
	}
	s := r.finish(t)
	wantFindings(t, s, map[string]int{RuleRotatedReused: 1})
	if s.RefreshTokenReused != 1 || s.RefreshRejected != 1 || r.demo.Stats().ReuseDetected != 1 {
		t.Errorf("summary %+v", s)
	}
}

// Two tabs of one app share the session and both refresh at expiry, 40 ms apart.
func TestObserveTwoTabsRotateOneToken(t *testing.T) {
	r := newRig(t, demoserver.Options{AccessTTL: 2 * time.Second}, nil)
	a := r.newClient()
	if err := a.login(); err != nil {
		t.Fatal(err)
	}
	_, rt, _ := a.tokens()
	a.waitExpired(t)
	if st, _ := a.refreshWith(rt); st != 200 {
		t.Fatal(st)
	}
	r.advance(t, 40*time.Millisecond)
	b := r.newClient()
	_, _ = b.refreshWith(rt)
	s := r.finish(t)
	wantFindings(t, s, map[string]int{RuleStampede: 1})
	evs := findingEvents(r.proxy, RuleStampede)
	if len(evs) != 1 || !strings.Contains(evs[0].Reason, "two tabs or processes") || !strings.Contains(evs[0].Reason, "after the server rotated it") {
		t.Errorf("finding %v", evs)
	}
}

// Without rotation: a refresh token presented again while the access token its last refresh
// minted is fresh is a stampede; again after that token expired, it is only counted.
func TestObserveNonRotatingServer(t *testing.T) {
	r := newRig(t, demoserver.Options{AccessTTL: 2 * time.Second, NoRotation: true}, nil)
	c := r.newClient()
	if err := c.login(); err != nil {
		t.Fatal(err)
	}
	_, rt, _ := c.tokens()
	c.waitExpired(t)
	for range 2 {
		if st, _ := c.refreshWith(rt); st != 200 {
			t.Fatal(st)
		}
	}
	c.waitExpired(t)
	if st, _ := c.refreshWith(rt); st != 200 {
		t.Fatal(st)
	}
	s := r.finish(t)
	if s.RefreshTokenReused != 2 || s.RefreshCalls != 3 {
		t.Errorf("summary %+v", s)
	}
	wantFindings(t, s, map[string]int{RuleStampede: 1})
}

// Off, the fault methods refuse: the proxy never changes a byte.
func TestObserveFaultsOff(t *testing.T) {
	r := newRig(t, demoserver.Options{}, nil)
	for name, err := range map[string]error{
		"expire": r.proxy.Expire401Next(1), "expire-now": r.proxy.ExpireNow(), "503": r.proxy.Fail503Next(1),
		"revoke": r.proxy.RevokeNext(1), "slow": r.proxy.SlowRefresh(time.Second),
	} {
		if err != ErrFaultsOff {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// The app gives up on a slow refresh (its own timeout) and sends the user to log in: a timeout
// is transient too.
func TestObserveLogoutOnRefreshTimeout(t *testing.T) {
	r := newRig(t, demoserver.Options{}, func(c *Config) { c.Faults = true })
	c := r.newClient()
	c.hc.Timeout = 300 * time.Millisecond
	c.singleFlight = true
	c.onRefreshFail = func(c *client, st int) bool { return st == 0 && c.login() == nil }
	if err := c.login(); err != nil {
		t.Fatal(err)
	}
	_ = r.proxy.ExpireNow()
	r.advance(t, time.Millisecond) // what the client does next comes after that instant
	_ = r.proxy.SlowRefresh(2 * time.Second)
	if st := c.do("GET", "/api/me", nil); st != 200 {
		t.Fatalf("status %d", st)
	}
	s := r.finish(t)
	wantFindings(t, s, map[string]int{RuleLogoutOnTransient: 1})
	evs := findingEvents(r.proxy, RuleLogoutOnTransient)
	if len(evs) != 1 || !strings.Contains(evs[0].Reason, "gave up") {
		t.Errorf("finding %v", evs)
	}
}

// TestSnapshotFollowsTheClient: the observed session's snapshot holds the client's current
// tokens: after a login, after a rotation, and ends at a rejected refresh.
func TestSnapshotFollowsTheClient(t *testing.T) {
	r := newRig(t, demoserver.Options{}, nil)
	p := r.proxy
	if s := p.Snapshot(); s.State != session.StateLoggedOut || !s.Access.Empty() {
		t.Fatalf("before any traffic: %v", s.State)
	}
	c := r.newClient()
	if err := c.login(); err != nil {
		t.Fatal(err)
	}
	a, rt, _ := c.tokens()
	s := p.Snapshot()
	if s.State != session.StateActive || s.Access.Raw != a || s.Refresh.Raw != rt || s.Generation != 1 {
		t.Fatalf("after login: state %v gen %d, tokens match %v %v", s.State, s.Generation, s.Access.Raw == a, s.Refresh.Raw == rt)
	}
	if st, err := c.refreshWith(rt); err != nil || st != 200 {
		t.Fatal(st, err)
	}
	a2, rt2, _ := c.tokens()
	s = p.Snapshot()
	if s.Generation != 2 || s.Access.Raw != a2 || s.Refresh.Raw != rt2 || s.Rotations != 1 {
		t.Fatalf("after a refresh: gen %d rotations %d, tokens match %v %v", s.Generation, s.Rotations, s.Access.Raw == a2, s.Refresh.Raw == rt2)
	}
	if st, _ := c.refreshWith(rt); st == 200 {
		t.Fatal("the rotated refresh token was taken again")
	}
	// The token presented had been rotated away: the rejection is the server's reuse detection.
	if s = p.Snapshot(); s.State != session.StateLoginRequired || s.End != session.EndReuseSuspected {
		t.Fatalf("after a rejected refresh: %v end %q (%q)", s.State, s.End, s.Reason)
	}
	if lines := p.SummaryLines(); !strings.Contains(strings.Join(lines, "\n"), "2 refresh calls · 1 rejected") {
		t.Errorf("summary lines:\n%s", strings.Join(lines, "\n"))
	}
}

// TestSnapshotEndRejectedWithoutReuse: a refresh token refused the first time it is presented
// (a revoked grant) ends the observed session as rejected, not as reuse.
func TestSnapshotEndRejectedWithoutReuse(t *testing.T) {
	r := newRig(t, demoserver.Options{}, func(c *Config) { c.Faults = true })
	c := newClient(r.srv.URL)
	if err := c.login(); err != nil {
		t.Fatal(err)
	}
	_, rt, _ := c.tokens()
	if err := r.proxy.RevokeNext(1); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.refreshWith(rt); st == 200 {
		t.Fatal("the refresh the proxy was to reject went through")
	}
	if s := r.proxy.Snapshot(); s.State != session.StateLoginRequired || s.End != session.EndRejected {
		t.Fatalf("after a rejected refresh: %v end %q (%q)", s.State, s.End, s.Reason)
	}
}

// LogSize bounds the proxy's event log: a long run keeps the newest events only, and counts
// them all.
func TestObserveLogSizeBoundsTheLog(t *testing.T) {
	r := newRig(t, demoserver.Options{}, func(c *Config) { c.LogSize = 20 })
	c := r.newClient()
	if err := c.login(); err != nil {
		t.Fatal(err)
	}
	c.burst(30, "GET", "/api/me")
	s := r.finish(t)
	if evs := r.proxy.Log().Events(); len(evs) != 20 || s.Events < 60 || evs[len(evs)-1].Seq != s.Events {
		t.Errorf("kept %d events of %d", len(evs), s.Events)
	}
}
