package apiclient

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tokenscope/apiclient/profile"
	"tokenscope/demoserver"
	"tokenscope/session"
)

// Faults under load: the engine against a server that goes away and comes back, a refresh
// endpoint that answers 503 or is slower than the request timeout, a server clock that jumps,
// a revocation in the middle of a burst, and answers that are cut short or trickle in.
//
// Every scenario checks the same invariants: no panic (each request runs under recover), no
// goroutine leak (faultLeakCheck), no lost request (faultCheck: every Result is OK, Failed with
// a reason, or Parked, and there are as many as were sent), no refresh call beyond the one that
// was needed (the server's counters and the engine's), and the session state a user would
// expect afterwards. Servers bind 127.0.0.1:0; no scenario sends more than 300 requests.
//
// Tests whose name contains "Bug" assert the correct behaviour of something the engine gets
// wrong today; they fail until the engine is fixed.

// faultSeqHeader numbers each request of a scenario, so that a server can tell a resend.
const faultSeqHeader = "X-Fault-Seq"

// faultLeakCheck counts goroutines now and, when the test ends, waits up to 2 s for the count
// to come back to at most two more. Call it before creating servers and engines: cleanups run
// last-registered first, so this one runs after every server, engine and transport is closed.
func faultLeakCheck(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before+2 {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutine leak: %d goroutines before the test, %d two seconds after it ended\n%s", before, n, buf)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// faultTransport is a transport the test owns, so that its idle connections (two goroutines
// each) are closed before goroutines are counted.
func faultTransport(t *testing.T, maxConns int) *http.Transport {
	t.Helper()
	tr := &http.Transport{MaxConnsPerHost: maxConns, MaxIdleConnsPerHost: maxConns}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// faultConfig is quick: three refresh calls 5 ms, 10 ms apart, short timeouts.
func faultConfig(tr *http.Transport) Config {
	return Config{
		RefreshAttempts: 3, RefreshBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		Timeout: 3 * time.Second, RefreshTimeout: time.Second, Transport: tr,
	}
}

// faultSeq is req numbered i (its header map is copied, never shared).
func faultSeq(req profile.Request, i int) profile.Request {
	h := req.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set(faultSeqHeader, strconv.Itoa(i))
	req.Header = h
	return req
}

// faultPost is the profile's POST preset: a request net/http never resends on its own.
func faultPost(t *testing.T, p profile.Profile) profile.Request {
	t.Helper()
	for _, r := range p.PresetRequests() {
		if r.Method == http.MethodPost {
			return r
		}
	}
	t.Fatalf("profile %s has no POST preset", p.Name)
	return profile.Request{}
}

// faultBurst sends n requests at once and waits for them all. It returns the results and the
// wall-clock time each Do took (the engine's own Duration follows the test's manual clock).
// after, when set, runs in the goroutine of the k-th request to end, right after it ended.
// A panic in Do fails the test instead of killing the binary.
func faultBurst(t *testing.T, e *Engine, n int, req func(i int) profile.Request, after func(k int64)) ([]Result, []time.Duration) {
	t.Helper()
	results := make([]Result, n)
	walls := make([]time.Duration, n)
	var done atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("request %d panicked: %v\n%s", i, p, debug.Stack())
				}
			}()
			start := time.Now()
			results[i] = e.Do(context.Background(), req(i))
			walls[i] = time.Since(start)
			if after != nil {
				after(done.Add(1))
			}
		}()
	}
	wg.Wait()
	return results, walls
}

// faultDo is one request under recover.
func faultDo(t *testing.T, e *Engine, ctx context.Context, req profile.Request) (r Result, wall time.Duration) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("request panicked: %v\n%s", p, debug.Stack())
		}
	}()
	start := time.Now()
	r = e.Do(ctx, req)
	return r, time.Since(start)
}

// faultCheck asserts that no request was lost: sent results, each with its own ID, each OK,
// Failed with a reason, or Parked with a reason. It logs the tally and the commonest reasons.
func faultCheck(t *testing.T, phase string, rs []Result, sent int) (ok, failed, parked int) {
	t.Helper()
	if len(rs) != sent {
		t.Errorf("%s: %d results for %d requests", phase, len(rs), sent)
	}
	ids := map[uint64]bool{}
	for i, r := range rs {
		if r.ID == 0 || ids[r.ID] {
			t.Errorf("%s: result %d has ID %d (missing or duplicate): %+v", phase, i, r.ID, r)
		}
		ids[r.ID] = true
		switch r.Outcome {
		case OK:
		case Failed, Parked:
			if strings.TrimSpace(r.Reason) == "" {
				t.Errorf("%s: request %d ended %v without a reason: %+v", phase, r.ID, r.Outcome, r)
			}
		default:
			t.Errorf("%s: request %d has outcome %d", phase, r.ID, r.Outcome)
		}
	}
	ok, failed, parked = tally(rs)
	if ok+failed+parked != sent {
		t.Errorf("%s: lost requests: %d ok + %d failed + %d parked != %d sent", phase, ok, failed, parked, sent)
	}
	t.Logf("%s: %d sent: %d ok, %d failed, %d parked%s", phase, sent, ok, failed, parked, faultReasons(rs))
	return ok, failed, parked
}

var faultPort = regexp.MustCompile(`127\.0\.0\.1:\d+`)

// faultReasons lists the distinct failure and park reasons with their counts.
func faultReasons(rs []Result) string {
	n := map[string]int{}
	for _, r := range rs {
		if r.Outcome != OK {
			n[r.Outcome.String()+": "+faultPort.ReplaceAllString(r.Reason, "127.0.0.1:PORT")]++
		}
	}
	if len(n) == 0 {
		return ""
	}
	keys := make([]string, 0, len(n))
	for k := range n {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return n[keys[i]] > n[keys[j]] || n[keys[i]] == n[keys[j]] && keys[i] < keys[j] })
	var b strings.Builder
	for i, k := range keys {
		if i == 5 {
			fmt.Fprintf(&b, "\n    ... %d more", len(keys)-5)
			break
		}
		fmt.Fprintf(&b, "\n    %4d × %s", n[k], k)
	}
	return b.String()
}

func faultEvents(e *Engine, k session.Kind) []session.Event {
	var out []session.Event
	for _, ev := range e.Log().Events() {
		if ev.Kind == k {
			out = append(out, ev)
		}
	}
	return out
}

// faultDump logs the refresh, skew and session events of a failed test (per-request events
// omitted: there are hundreds).
func faultDump(t *testing.T, e *Engine) {
	t.Helper()
	if !t.Failed() {
		return
	}
	shown := 0
	for _, ev := range e.Log().Events() {
		switch ev.Kind {
		case session.KindRequest, session.KindResponse, session.KindRefreshWait, session.KindParked, session.KindReplayed,
			session.KindUnauthorized, session.KindRetry, session.KindRequestFailed:
			continue
		}
		if shown++; shown > 60 {
			t.Logf("  ... (more events)")
			return
		}
		t.Logf("  event %-14s req#%d refresh#%d status=%d attempt=%d transient=%v skew=%v: %s",
			ev.Kind, ev.RequestID, ev.RefreshID, ev.Status, ev.Attempt, ev.Transient, ev.Skew, ev.Reason)
	}
}

// faultWait polls cond for up to d.
func faultWait(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// faultMaxWall is the longest wall-clock time in ws.
func faultMaxWall(ws []time.Duration) time.Duration {
	if len(ws) == 0 {
		return 0
	}
	return slices.Max(ws)
}

// ---- 1. The server stops mid-burst and comes back ----

// faultSeen counts, per X-Fault-Seq, how often a request reached the server.
type faultSeen struct {
	h  http.Handler
	mu sync.Mutex
	n  map[string]int
}

func (s *faultSeen) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if seq := r.Header.Get(faultSeqHeader); seq != "" {
		s.mu.Lock()
		s.n[seq]++
		s.mu.Unlock()
	}
	s.h.ServeHTTP(w, r)
}

func (s *faultSeen) count(seq int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[strconv.Itoa(seq)]
}

func (s *faultSeen) resent() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k, n := range s.n {
		if n > 1 {
			out = append(out, fmt.Sprintf("#%s×%d", k, n))
		}
	}
	return out
}

var faultNetErr = regexp.MustCompile(`(?i)refused|EOF|reset|closed|broken pipe`)

// TestFaultServerStopsMidBurstAndComesBack: the server is closed while a burst of POSTs is in
// flight and stays down for a second burst; then it listens again on the same address. Requests
// cut off or refused fail with a transport reason and are never resent; the session stays
// active throughout; once the server is back, requests succeed without a new login or refresh.
func TestFaultServerStopsMidBurstAndComesBack(t *testing.T) {
	for _, prof := range profile.Names() {
		t.Run(prof, func(t *testing.T) { faultServerOutage(t, prof) })
	}
}

func faultServerOutage(t *testing.T, prof string) {
	faultLeakCheck(t)
	clock := testClock(epoch)
	srv, err := demoserver.New(demoserver.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	seen := &faultSeen{h: srv, n: map[string]int{}}
	serve := func(ln net.Listener) *http.Server {
		hs := &http.Server{Handler: seen, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = hs.Serve(ln) }()
		return hs
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	hs := serve(ln)
	t.Cleanup(func() { _ = hs.Close() })

	p, _ := profile.Builtin(prof)
	cfg := faultConfig(faultTransport(t, 16))
	cfg.BaseURL, cfg.Profile, cfg.Username, cfg.Password, cfg.Clock = "http://"+addr, p, "demo", "demo", clock
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	defer faultDump(t, e)
	if _, err := e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	post := faultPost(t, p)

	// Phase 1: 120 POSTs through 16 connections, 20 ms each at the server; the server is closed
	// once 30 have been answered.
	srv.SetLatency(20*time.Millisecond, 0)
	const n1, cutAt = 120, 30
	var cut sync.Once
	rs1, _ := faultBurst(t, e, n1, func(i int) profile.Request { return faultSeq(post, i) }, func(k int64) {
		if k >= cutAt {
			cut.Do(func() { _ = hs.Close() })
		}
	})
	ok, failed, parked := faultCheck(t, "during the cut", rs1, n1)
	if ok < cutAt || failed == 0 || parked != 0 {
		t.Errorf("during the cut: %d ok (want ≥ %d), %d failed (want > 0), %d parked (want 0)", ok, cutAt, failed, parked)
	}

	// Phase 2: the server is down.
	const n2 = 20
	rs2, _ := faultBurst(t, e, n2, func(i int) profile.Request { return faultSeq(post, n1+i) }, nil)
	if ok, failed, _ := faultCheck(t, "while down", rs2, n2); failed != n2 {
		t.Errorf("while down: %d ok, %d failed; want all %d failed", ok, failed, n2)
	}
	for _, r := range rs2 {
		// A connection the server closed may still sit in the pool for an instant: net/http
		// then says so instead of dialling (and does not resend a POST).
		if r.Outcome == Failed && !strings.Contains(r.Reason, "refused") && !strings.Contains(r.Reason, "server closed idle connection") {
			t.Errorf("while down: reason %q does not say the connection was refused", r.Reason)
			break
		}
	}
	for _, r := range slices.Concat(rs1, rs2) {
		if r.Outcome == Failed && (r.Status != 0 || !faultNetErr.MatchString(r.Reason)) {
			t.Errorf("request %d failed with status %d, reason %q: want a transport error", r.ID, r.Status, r.Reason)
		}
		if len(r.Attempts) > 1 {
			t.Errorf("request %d: %d attempts", r.ID, len(r.Attempts))
		}
	}
	if s := e.Snapshot(); s.State != session.StateActive || s.Parked != 0 || s.Logins != 1 || s.Generation != 1 {
		t.Errorf("while down: state %v (%s), parked %d, logins %d, gen %d; want active, nothing parked, login 1, gen 1",
			s.State, s.Reason, s.Parked, s.Logins, s.Generation)
	}

	// Phase 3: the server listens again on the same address (same tokens, same families).
	var ln2 net.Listener
	if !faultWait(2*time.Second, func() bool { ln2, err = net.Listen("tcp", addr); return err == nil }) {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	hs = serve(ln2)
	srv.SetLatency(0, 0)
	const n3 = 60
	rs3, _ := faultBurst(t, e, n3, func(i int) profile.Request { return faultSeq(post, n1+n2+i) }, nil)
	if ok, _, _ := faultCheck(t, "after the restart", rs3, n3); ok != n3 {
		t.Errorf("after the restart: %d of %d ok; first failure %+v", ok, n3, firstFailure(rs3))
	}

	// Never resent: each POST reached the server at most once, and each OK exactly once.
	if r := seen.resent(); len(r) > 0 {
		t.Errorf("requests reached the server more than once: %v", r)
	}
	for i, r := range slices.Concat(rs1, rs2, rs3) {
		if got := seen.count(i); r.Outcome == OK && got != 1 {
			t.Errorf("request seq %d ended ok but reached the server %d times", i, got)
		}
	}
	if n := len(faultEvents(e, session.KindRetry)); n != 0 {
		t.Errorf("%d retry events; a network error is never retried", n)
	}
	st := srv.Stats()
	if st.Logins != 1 || st.RefreshOK+st.RefreshRejected+st.RefreshInjected503 != 0 {
		t.Errorf("server saw %d logins and %d+%d refresh calls; want 1 login, no refresh", st.Logins, st.RefreshOK, st.RefreshRejected)
	}
	if c := e.Counters(); c.RefreshCalls != 0 || c.LoggedOut != 0 {
		t.Errorf("counters %+v: want no refresh, no logout", c)
	}
	if s := e.Snapshot(); s.State != session.StateActive || s.Logins != 1 || s.Generation != 1 || s.Parked != 0 {
		t.Errorf("after the restart: state %v, logins %d, gen %d, parked %d", s.State, s.Logins, s.Generation, s.Parked)
	}
	_ = hs.Close()
}

// ---- 2. The refresh endpoint answers 503 for a while ----

// TestFaultRefresh503ThenRecovers: fewer 503s than RefreshAttempts. A burst of 100 on an
// expired token shares one refresh flight, which retries through the 503s: exactly one refresh
// succeeds at the server and every request succeeds on its first attempt.
func TestFaultRefresh503ThenRecovers(t *testing.T) {
	for _, prof := range profile.Names() {
		t.Run(prof, func(t *testing.T) {
			faultLeakCheck(t)
			cfg := faultConfig(faultTransport(t, 64))
			cfg.RefreshAttempts = 4
			v := newEnv(t, prof, demoserver.Options{}, cfg)
			defer faultDump(t, v.e)
			const fails = 2 // < RefreshAttempts
			v.srv.FailNextRefreshes(fails)
			v.srv.SetLatency(0, 10*time.Millisecond) // keep the flight open while the burst joins it
			v.clock.Advance(31 * time.Second)

			const n = 100
			rs, _ := faultBurst(t, v.e, n, func(int) profile.Request { return v.get() }, nil)
			if ok, _, _ := faultCheck(t, "burst", rs, n); ok != n {
				t.Fatalf("%d of %d ok; first failure %+v", ok, n, firstFailure(rs))
			}
			for _, r := range rs {
				if len(r.Attempts) != 1 {
					t.Errorf("request %d took %d attempts; the proactive refresh should have spared the 401", r.ID, len(r.Attempts))
					break
				}
			}
			st := v.srv.Stats()
			if st.RefreshOK != 1 || st.RefreshRejected != 0 || st.RefreshInjected503 != fails || st.MaxRefreshInFlight != 1 || st.ResourceUnauthorized != 0 {
				t.Errorf("server: refresh ok %d rejected %d 503 %d at-once %d, resource 401s %d; want 1, 0, %d, 1, 0",
					st.RefreshOK, st.RefreshRejected, st.RefreshInjected503, st.MaxRefreshInFlight, st.ResourceUnauthorized, fails)
			}
			if c := v.e.Counters(); c.RefreshCalls != fails+1 || c.RefreshOK != 1 || c.RefreshFailures != fails || c.LoggedOut != 0 {
				t.Errorf("counters %+v", c)
			}
			if n := len(faultEvents(v.e, session.KindRefreshStart)); n != 1 {
				t.Errorf("%d refresh flights, want 1", n)
			}
			for _, ev := range faultEvents(v.e, session.KindRefreshFailed) {
				if !ev.Transient || !strings.Contains(ev.Reason, "503") {
					t.Errorf("refresh-failed event: transient %v, reason %q", ev.Transient, ev.Reason)
				}
			}
			if s := v.e.Snapshot(); s.State != session.StateActive || s.Generation != 2 || s.Logins != 1 || s.Refreshing != 0 {
				t.Errorf("state %v gen %d logins %d refreshing %d; want active, gen 2, 1 login", s.State, s.Generation, s.Logins, s.Refreshing)
			}
		})
	}
}

// TestFaultRefresh503OutlastsAttempts: more 503s than any flight can retry through. The burst
// fails (with reasons), the session is kept, the refresh calls stay bounded; when the refresh
// endpoint recovers, the next request refreshes once and succeeds.
func TestFaultRefresh503OutlastsAttempts(t *testing.T) {
	for _, prof := range profile.Names() {
		t.Run(prof, func(t *testing.T) {
			faultLeakCheck(t)
			cfg := faultConfig(faultTransport(t, 64))
			cfg.RefreshAttempts = 2
			v := newEnv(t, prof, demoserver.Options{}, cfg)
			defer faultDump(t, v.e)
			v.srv.FailNextRefreshes(1000)
			v.srv.SetLatency(0, 20*time.Millisecond)
			v.clock.Advance(31 * time.Second)

			const n = 100
			rs, _ := faultBurst(t, v.e, n, func(int) profile.Request { return v.get() }, nil)
			if _, failed, _ := faultCheck(t, "burst", rs, n); failed != n {
				t.Errorf("%d of %d failed; with every refresh answered 503 none can succeed", failed, n)
			}
			for _, r := range rs {
				if r.Outcome == Failed && r.Status != http.StatusUnauthorized && !strings.Contains(r.Reason, "503") {
					t.Errorf("request %d: status %d reason %q", r.ID, r.Status, r.Reason)
				}
			}
			c := v.e.Counters()
			st := v.srv.Stats()
			// Each flight makes RefreshAttempts calls; a request can start at most two flights
			// (proactive, then reactive), and single flight makes the burst share them.
			flights := len(faultEvents(v.e, session.KindRefreshStart))
			t.Logf("refresh flights %d, refresh calls %d (server 503s %d)", flights, c.RefreshCalls, st.RefreshInjected503)
			if flights < 2 || flights > 6 || c.RefreshCalls != uint64(flights*cfg.RefreshAttempts) || int64(c.RefreshCalls) != st.RefreshInjected503 {
				t.Errorf("%d flights, %d refresh calls, %d 503s: want 2..6 flights of %d calls each", flights, c.RefreshCalls, st.RefreshInjected503, cfg.RefreshAttempts)
			}
			for _, ev := range faultEvents(v.e, session.KindRefreshFailed) {
				if !ev.Transient || !strings.Contains(ev.Reason, "503") {
					t.Errorf("refresh-failed event: transient %v, reason %q", ev.Transient, ev.Reason)
				}
			}
			if st.RefreshOK != 0 || st.RefreshRejected != 0 || c.LoggedOut != 0 {
				t.Errorf("refresh ok %d rejected %d, logouts %d; want none", st.RefreshOK, st.RefreshRejected, c.LoggedOut)
			}
			if s := v.e.Snapshot(); s.State != session.StateActive || s.Parked != 0 || s.Generation != 1 {
				t.Errorf("after the burst: state %v (%s), parked %d, gen %d; want active, nothing parked, gen 1", s.State, s.Reason, s.Parked, s.Generation)
			}

			// The knob runs out: the refresh endpoint works again.
			v.srv.FailNextRefreshes(0)
			before := v.srv.Stats().RefreshOK
			r, _ := faultDo(t, v.e, context.Background(), v.get())
			if r.Outcome != OK {
				t.Fatalf("after recovery: %+v", r)
			}
			if got := v.srv.Stats().RefreshOK - before; got != 1 {
				t.Errorf("after recovery: %d refresh calls succeeded, want 1", got)
			}
			if s := v.e.Snapshot(); s.State != session.StateActive || s.Generation != 2 || s.Logins != 1 {
				t.Errorf("after recovery: state %v gen %d logins %d", s.State, s.Generation, s.Logins)
			}
		})
	}
}

// TestFaultReasonNamesTransientRefreshFailure: when every refresh call answers 503, a request
// ends Failed, and its reason names the transient refresh failure, not only the 401 that
// followed it (the retry carried the same expired token).
func TestFaultReasonNamesTransientRefreshFailure(t *testing.T) {
	faultLeakCheck(t)
	cfg := faultConfig(faultTransport(t, 16))
	cfg.RefreshAttempts = 2
	v := newEnv(t, "simplejwt", demoserver.Options{}, cfg)
	defer faultDump(t, v.e)
	v.srv.FailNextRefreshes(1000)
	v.clock.Advance(31 * time.Second)

	rs, _ := faultBurst(t, v.e, 20, func(int) profile.Request { return v.get() }, nil)
	faultCheck(t, "burst", rs, 20)
	for _, r := range rs {
		if r.Outcome != Failed {
			t.Fatalf("request %d: outcome %v, want failed", r.ID, r.Outcome)
		}
		if !strings.Contains(r.Reason, "refresh") || !(strings.Contains(r.Reason, "503") || strings.Contains(r.Reason, "transient")) {
			t.Fatalf("request %d failed with reason %q: it does not mention the transient refresh failure (HTTP 503) that caused it", r.ID, r.Reason)
		}
	}
	if s := v.e.Snapshot(); s.State != session.StateActive {
		t.Errorf("state %v, want active", s.State)
	}
}

// ---- 3. The refresh takes longer than the request timeout ----

// TestFaultRefreshSlowerThanRequestTimeout: Timeout 150 ms < refresh latency 500 ms <
// RefreshTimeout 5 s (wide, so that a loaded CI machine does not fail the refresh itself). Every request of the burst gives up with a timeout, but the one refresh
// runs on the engine's own context and completes; the next request uses the new token with
// no further refresh.
func TestFaultRefreshSlowerThanRequestTimeout(t *testing.T) {
	for _, prof := range profile.Names() {
		t.Run(prof, func(t *testing.T) {
			faultLeakCheck(t)
			cfg := faultConfig(faultTransport(t, 64))
			cfg.Timeout, cfg.RefreshTimeout = 150*time.Millisecond, 5*time.Second
			const refreshLatency = 500 * time.Millisecond
			v := newEnv(t, prof, demoserver.Options{}, cfg)
			defer faultDump(t, v.e)
			v.srv.SetLatency(0, refreshLatency)
			v.clock.Advance(31 * time.Second)

			const n = 40
			rs, walls := faultBurst(t, v.e, n, func(int) profile.Request { return v.get() }, nil)
			if _, failed, _ := faultCheck(t, "burst", rs, n); failed != n {
				t.Errorf("%d of %d failed; every request should have timed out waiting for the refresh", failed, n)
			}
			for _, r := range rs {
				if r.Outcome == Failed && !strings.Contains(r.Reason, "timeout") && !strings.Contains(r.Reason, "cancel") {
					t.Errorf("request %d: reason %q, want a timeout", r.ID, r.Reason)
				}
			}
			t.Logf("longest Do: %v (timeout %v, refresh latency %v)", faultMaxWall(walls), cfg.Timeout, refreshLatency)

			// The refresh completes on its own context.
			if !faultWait(10*time.Second, func() bool { return v.e.Snapshot().Refreshing == 0 && v.srv.Stats().RefreshOK == 1 }) {
				s := v.e.Snapshot()
				t.Fatalf("refresh did not complete: state %v gen %d refreshing %d, server %+v", s.State, s.Generation, s.Refreshing, v.srv.Stats())
			}
			s := v.e.Snapshot()
			if s.State != session.StateActive || s.Generation != 2 {
				t.Errorf("after the refresh: state %v gen %d; want active, gen 2", s.State, s.Generation)
			}
			r, _ := faultDo(t, v.e, context.Background(), v.get())
			if r.Outcome != OK || len(r.Attempts) != 1 {
				t.Fatalf("next request: %+v", r)
			}
			var sentWith session.Event
			for _, ev := range faultEvents(v.e, session.KindRequest) {
				if ev.RequestID == r.ID {
					sentWith = ev
				}
			}
			if sentWith.Generation != 2 || sentWith.Token != s.Access.Fingerprint() {
				t.Errorf("next request went with gen #%d token %s; want gen #2 token %s", sentWith.Generation, sentWith.Token, s.Access.Fingerprint())
			}
			st := v.srv.Stats()
			if st.RefreshOK != 1 || st.RefreshRejected != 0 || st.MaxRefreshInFlight != 1 {
				t.Errorf("server: refresh ok %d rejected %d at-once %d; want exactly one", st.RefreshOK, st.RefreshRejected, st.MaxRefreshInFlight)
			}
			if c := v.e.Counters(); c.RefreshCalls != 1 || c.RefreshFailures != 0 {
				t.Errorf("counters %+v: want one refresh call, no failure", c)
			}
		})
	}
}

// TestFaultRefreshStarterHonoursItsDeadline: the request that starts a refresh gives up at its
// own deadline (or its caller's cancellation) like the requests waiting on it; the refresh runs
// on. Before the fix it ran the whole refresh first: with the defaults over 40 s.
func TestFaultRefreshStarterHonoursItsDeadline(t *testing.T) {
	const refreshLatency = 800 * time.Millisecond
	const slack = 300 * time.Millisecond
	for _, tc := range []struct {
		name   string
		ctx    func() (context.Context, context.CancelFunc)
		within time.Duration
	}{
		{"config timeout", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, 150 * time.Millisecond},
		{"caller cancels", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		}, 50 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			faultLeakCheck(t)
			cfg := faultConfig(faultTransport(t, 16))
			cfg.Timeout, cfg.RefreshTimeout = 150*time.Millisecond, 5*time.Second
			v := newEnv(t, "simplejwt", demoserver.Options{}, cfg)
			defer faultDump(t, v.e)
			v.srv.SetLatency(0, refreshLatency)
			v.clock.Advance(31 * time.Second)

			ctx, cancel := tc.ctx()
			r, wall := faultDo(t, v.e, ctx, v.get())
			cancel()
			// Whatever happens to the request, the refresh must still complete.
			if !faultWait(3*time.Second, func() bool { return v.e.Snapshot().Refreshing == 0 && v.srv.Stats().RefreshOK == 1 }) {
				t.Errorf("refresh did not complete: %+v", v.srv.Stats())
			}
			if r.Outcome != Failed || r.Reason == "" {
				t.Errorf("request: %+v, want failed with a timeout", r)
			}
			if wall > tc.within+slack {
				t.Errorf("the request that started the refresh returned after %v: its deadline was %v, the refresh took %v (reason %q)",
					wall.Round(time.Millisecond), tc.within, refreshLatency, r.Reason)
			}
		})
	}
}

// ---- 4. The server's clock jumps ----

// TestFaultServerClockJumps: ten workers send 200 requests; at request 60 the server's clock
// jumps 10 minutes ahead (every access token it issued is now expired), at request 140 it jumps
// back (every token issued meanwhile now has an iat in the future, which the demo server, like
// PyJWT, refuses). The engine must notice both jumps (skew events), refresh a bounded number of
// times (no loop), and end every request ok, failed with a reason, or parked; if the jump back
// cost the session, a login replays what was parked.
func TestFaultServerClockJumps(t *testing.T) {
	for _, prof := range profile.Names() {
		t.Run(prof, func(t *testing.T) {
			faultLeakCheck(t)
			cfg := faultConfig(faultTransport(t, 16))
			// Refresh tokens outlive the jump, so that the jump alone is tested.
			v := newEnv(t, prof, demoserver.Options{RefreshTTL: time.Hour}, cfg)
			defer faultDump(t, v.e)
			v.srv.SetLatency(time.Millisecond, 0)

			const n, workers, ahead, back = 200, 10, 60, 140
			const jump = 10 * time.Minute
			rs := make([]Result, n)
			var ticket atomic.Int64
			var wg sync.WaitGroup
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := int(ticket.Add(1)) - 1
						if i >= n {
							return
						}
						switch i {
						case ahead:
							v.srv.SetSkew(jump)
						case back:
							v.srv.SetSkew(0)
						}
						rs[i], _ = faultDo(t, v.e, context.Background(), faultSeq(v.get(), i))
					}
				}()
			}
			wg.Wait()
			ok, _, parked := faultCheck(t, "run", rs, n)

			st := v.srv.Stats()
			c := v.e.Counters()
			t.Logf("server: refresh ok %d rejected %d, resource 401s %d; engine: refresh calls %d, logouts %d",
				st.RefreshOK, st.RefreshRejected, st.ResourceUnauthorized, c.RefreshCalls, c.LoggedOut)
			if calls := st.RefreshOK + st.RefreshRejected; calls > 3 || c.RefreshCalls > 3 {
				t.Errorf("refresh loop: server saw %d refresh calls, engine made %d; want ≤ 3", calls, c.RefreshCalls)
			}
			if st.RefreshOK < 1 {
				t.Errorf("no refresh after the clock jumped ahead: every token it had issued was expired")
			}
			if ok < ahead/2 {
				t.Errorf("only %d requests ok", ok)
			}
			skews := faultEvents(v.e, session.KindSkew)
			sawAhead, sawBack := false, false
			for _, ev := range skews {
				if (ev.Skew - jump).Abs() < 5*time.Second {
					sawAhead = true
				} else if sawAhead && ev.Skew.Abs() < 2*time.Second {
					sawBack = true
				}
			}
			if !sawAhead || !sawBack {
				t.Errorf("skew events %d: jump ahead seen %v, jump back seen %v", len(skews), sawAhead, sawBack)
			}

			s := v.e.Snapshot()
			switch s.State {
			case session.StateActive:
				if parked != 0 || s.Parked != 0 {
					t.Errorf("active session with %d parked", s.Parked)
				}
			case session.StateLoginRequired:
				if st.RefreshRejected != 1 || c.LoggedOut != 1 || s.Parked != parked {
					t.Errorf("login required: %d refresh rejections, %d logouts, %d parked (results say %d)", st.RefreshRejected, c.LoggedOut, s.Parked, parked)
				}
				replayed, err := v.e.Login(context.Background())
				if err != nil || len(replayed) != parked {
					t.Fatalf("login: %v, %d replayed of %d parked", err, len(replayed), parked)
				}
				for _, r := range replayed {
					if r.Outcome != OK || !r.Replayed {
						t.Errorf("replay: %+v", r)
						break
					}
				}
			default:
				t.Errorf("state %v after the run", s.State)
			}
			if r, _ := faultDo(t, v.e, context.Background(), v.get()); r.Outcome != OK {
				t.Errorf("request after the jumps: %+v", r)
			}
			if s := v.e.Snapshot(); s.State != session.StateActive || s.Parked != 0 || s.Skew.Applied() != 0 {
				t.Errorf("end: state %v parked %d skew %v; want active, nothing parked, no skew applied", s.State, s.Parked, s.Skew)
			}
		})
	}
}

// ---- 5. Tokens revoked mid-burst ----

// TestFaultRevokedMidBurst: 200 requests; once 60 have ended, every family is revoked and every
// access token expired. The first 401 starts the one refresh, which is rejected; the session
// asks for a login and the rest of the burst is parked. Login replays the parked requests in
// the order they were sent in, and they all succeed.
func TestFaultRevokedMidBurst(t *testing.T) {
	for _, prof := range profile.Names() {
		t.Run(prof, func(t *testing.T) {
			faultLeakCheck(t)
			cfg := faultConfig(faultTransport(t, 64))
			v := newEnv(t, prof, demoserver.Options{}, cfg)
			defer faultDump(t, v.e)
			v.srv.SetLatency(2*time.Millisecond, 20*time.Millisecond)

			const n, revokeAt = 200, 60
			var revoke sync.Once
			rs, _ := faultBurst(t, v.e, n, func(i int) profile.Request { return faultSeq(v.get(), i) }, func(k int64) {
				if k >= revokeAt {
					revoke.Do(func() {
						v.srv.RevokeAllFamilies()
						v.srv.ExpireAccessTokens()
					})
				}
			})
			ok, failed, parked := faultCheck(t, "burst", rs, n)
			if ok < revokeAt || parked == 0 {
				t.Errorf("%d ok (want ≥ %d), %d parked (want > 0)", ok, revokeAt, parked)
			}
			if failed != 0 {
				t.Logf("note: %d requests failed rather than parked", failed)
			}
			st := v.srv.Stats()
			if st.RefreshRejected != 1 || st.RefreshOK != 0 || st.MaxRefreshInFlight != 1 {
				t.Errorf("server: refresh rejected %d ok %d at-once %d; want exactly one rejected call", st.RefreshRejected, st.RefreshOK, st.MaxRefreshInFlight)
			}
			if c := v.e.Counters(); c.RefreshCalls != 1 || c.LoggedOut != 1 {
				t.Errorf("counters %+v: want one refresh call, one logout", c)
			}
			if n := len(faultEvents(v.e, session.KindLogout)); n != 1 {
				t.Errorf("%d logout events, want 1", n)
			}
			s := v.e.Snapshot()
			// Revoked at the server with no reuse by the engine: all it knows is a rejection.
			if s.State != session.StateLoginRequired || s.End != session.EndRejected || s.Parked != parked || s.Reason == "" {
				t.Fatalf("state %v end %q (%q), %d parked (results say %d); want login required, rejected", s.State, s.End, s.Reason, s.Parked, parked)
			}

			// The order they were sent in (request ids are given out on arrival), not the order
			// their 401s happened to come back and park them in.
			var want []uint64
			for _, ev := range faultEvents(v.e, session.KindParked) {
				want = append(want, ev.RequestID)
			}
			slices.Sort(want)
			seqOf := map[uint64]string{}
			for _, r := range rs {
				seqOf[r.ID] = r.Request.Header.Get(faultSeqHeader)
			}

			replayed, err := v.e.Login(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			got := make([]uint64, len(replayed))
			for i, r := range replayed {
				got[i] = r.ID
				if r.Outcome != OK || !r.Replayed || r.Request.Header.Get(faultSeqHeader) != seqOf[r.ID] {
					t.Errorf("replay %d: outcome %v replayed %v seq %q (want %q): %s", i, r.Outcome, r.Replayed,
						r.Request.Header.Get(faultSeqHeader), seqOf[r.ID], r.Reason)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("replayed %d requests in order %v; parked %d in order %v", len(got), got, len(want), want)
			}
			s = v.e.Snapshot()
			if s.State != session.StateActive || s.Parked != 0 || s.Logins != 2 || s.Generation != 1 {
				t.Errorf("after login: state %v parked %d logins %d gen %d", s.State, s.Parked, s.Logins, s.Generation)
			}
			if st := v.srv.Stats(); st.Logins != 2 || st.RefreshOK+st.RefreshRejected != 1 {
				t.Errorf("server after login: %d logins, %d refresh calls", st.Logins, st.RefreshOK+st.RefreshRejected)
			}
		})
	}
}

// ---- 6. Truncated and slow answers ----

// faultAPI is a simplejwt API with opaque tokens whose answers can be cut short or trickled.
type faultAPI struct {
	truncateRefresh atomic.Bool
	access          atomic.Value // string: the access token the resource accepts
	n               atomic.Int64 // tokens minted
	logins          atomic.Int64
	refreshes       atomic.Int64
	truncated       atomic.Int64
	slow            atomic.Int64
	protected       atomic.Int64
}

func (a *faultAPI) mint(w http.ResponseWriter) {
	i := a.n.Add(1)
	acc := fmt.Sprintf("acc-%d-Zm9vYmFy", i)
	a.access.Store(acc)
	edgeWriteJSON(w, http.StatusOK, fmt.Sprintf(`{"access":%q,"refresh":"ref-%d-YmF6cXV4"}`, acc, i))
}

// faultCutShort answers with a Content-Length larger than the body it writes, then hangs up.
func faultCutShort(t *testing.T, w http.ResponseWriter, body string, claimed int) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	defer conn.Close()
	fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", claimed, body)
	_ = buf.Flush()
}

func (a *faultAPI) handler(t *testing.T) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/token/{$}", func(w http.ResponseWriter, r *http.Request) {
		a.logins.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		a.mint(w)
	})
	mux.HandleFunc("POST /api/token/refresh/{$}", func(w http.ResponseWriter, r *http.Request) {
		a.refreshes.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		if a.truncateRefresh.Load() {
			faultCutShort(t, w, `{"access":"acc-half`, 200)
			return
		}
		a.mint(w)
	})
	authorized := func(w http.ResponseWriter, r *http.Request) bool {
		if acc, _ := a.access.Load().(string); acc == "" || r.Header.Get("Authorization") != "Bearer "+acc {
			edgeTokenNotValid(w, r)
			return false
		}
		return true
	}
	mux.HandleFunc("GET /api/protected/", func(w http.ResponseWriter, r *http.Request) {
		a.protected.Add(1)
		if authorized(w, r) {
			edgeWriteJSON(w, http.StatusOK, `{"message":"You are authenticated"}`)
		}
	})
	mux.HandleFunc("GET /api/truncated", func(w http.ResponseWriter, r *http.Request) {
		a.truncated.Add(1)
		if authorized(w, r) {
			faultCutShort(t, w, `{"items":[1,2,3`, 1000)
		}
	})
	mux.HandleFunc("GET /api/slow", func(w http.ResponseWriter, r *http.Request) {
		a.slow.Add(1)
		if !authorized(w, r) {
			return
		}
		// A slow-loris body: 100 bytes promised, one every 50 ms (5 s in all).
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		fl := w.(http.Flusher)
		fl.Flush()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for range 100 {
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
			}
			if _, err := w.Write([]byte(" ")); err != nil {
				return
			}
			fl.Flush()
		}
	})
	return mux
}

// TestFaultTruncatedAndSlowAnswers: a burst mixing answers cut short (Content-Length larger
// than the body, then the connection closes), slow-loris bodies (one byte every 50 ms, longer
// than the 300 ms timeout) and normal answers. Each cut or slow request fails with a clear
// reason within about the timeout, is not resent, and the normal ones succeed. Then a refresh
// answer cut short: transient refresh failures with a reason, the session kept; once the
// refresh endpoint answers in full, one refresh call fixes everything.
func TestFaultTruncatedAndSlowAnswers(t *testing.T) {
	faultLeakCheck(t)
	api := &faultAPI{}
	srv := httptest.NewServer(api.handler(t))
	t.Cleanup(srv.Close)
	p, _ := profile.Builtin("simplejwt")
	cfg := faultConfig(faultTransport(t, 64))
	cfg.BaseURL, cfg.Profile, cfg.Username, cfg.Password = srv.URL, p, "demo", "demo"
	cfg.Timeout, cfg.RefreshTimeout, cfg.RefreshAttempts = 300*time.Millisecond, 300*time.Millisecond, 2
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	defer faultDump(t, e)
	if _, err := e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Phase 1: 30 cut short, 30 slow, 30 normal, all at once.
	paths := []string{"/api/truncated", "/api/slow", "/api/protected/"}
	const n = 90
	start := time.Now()
	rs, walls := faultBurst(t, e, n, func(i int) profile.Request {
		return faultSeq(profile.Request{Method: http.MethodGet, Path: paths[i%3]}, i)
	}, nil)
	took := time.Since(start)
	faultCheck(t, "mixed burst", rs, n)
	var slowest [3]time.Duration
	for i, r := range rs {
		kind := i % 3
		slowest[kind] = max(slowest[kind], walls[i])
		switch kind {
		case 0:
			if r.Outcome != Failed || !strings.Contains(r.Reason, "EOF") {
				t.Errorf("cut-short answer: outcome %v reason %q; want failed, unexpected EOF", r.Outcome, r.Reason)
			}
		case 1:
			if r.Outcome != Failed || !strings.Contains(r.Reason, "timeout") {
				t.Errorf("slow answer: outcome %v reason %q; want failed with a timeout", r.Outcome, r.Reason)
			}
		case 2:
			if r.Outcome != OK {
				t.Errorf("normal answer: %+v", r)
			}
		}
		if len(r.Attempts) > 1 {
			t.Errorf("request %d (%s) sent %d times", r.ID, r.Request.Path, len(r.Attempts))
		}
		if walls[i] > cfg.Timeout+700*time.Millisecond {
			t.Errorf("request %d (%s) took %v with a %v timeout", r.ID, r.Request.Path, walls[i], cfg.Timeout)
		}
	}
	t.Logf("mixed burst took %v; slowest cut-short %v, slow-loris %v, normal %v", took, slowest[0], slowest[1], slowest[2])
	if got := api.truncated.Load() + api.slow.Load() + api.protected.Load(); got != n {
		t.Errorf("server saw %d requests for %d sent: something was resent", got, n)
	}
	if api.refreshes.Load() != 0 || api.logins.Load() != 1 {
		t.Errorf("%d refresh calls, %d logins; want none, 1", api.refreshes.Load(), api.logins.Load())
	}
	if s := e.Snapshot(); s.State != session.StateActive || s.Generation != 1 {
		t.Errorf("after the mixed burst: state %v gen %d", s.State, s.Generation)
	}

	// Phase 2: the access token dies and the refresh answer is cut short.
	api.truncateRefresh.Store(true)
	api.access.Store("")
	before := e.Snapshot().Access.Raw
	const n2 = 30
	rs2, walls2 := faultBurst(t, e, n2, func(int) profile.Request { return profile.Request{Method: http.MethodGet, Path: "/api/protected/"} }, nil)
	if _, failed, _ := faultCheck(t, "refresh cut short", rs2, n2); failed != n2 {
		t.Errorf("%d of %d failed; no request can succeed without a refresh", failed, n2)
	}
	t.Logf("refresh cut short: longest Do %v", faultMaxWall(walls2))
	fails := faultEvents(e, session.KindRefreshFailed)
	if len(fails) == 0 {
		t.Error("no refresh-failed event")
	}
	for _, ev := range fails {
		if !ev.Transient || !strings.Contains(ev.Reason, "EOF") {
			t.Errorf("refresh-failed event: transient %v reason %q; want transient, unexpected EOF", ev.Transient, ev.Reason)
		}
	}
	flights := len(faultEvents(e, session.KindRefreshStart))
	c := e.Counters()
	t.Logf("refresh cut short: %d flights, %d refresh calls (server %d)", flights, c.RefreshCalls, api.refreshes.Load())
	if flights > 6 || c.RefreshCalls != uint64(flights*cfg.RefreshAttempts) || int64(c.RefreshCalls) != api.refreshes.Load() {
		t.Errorf("%d flights, %d refresh calls, server saw %d: want ≤ 6 flights of %d calls", flights, c.RefreshCalls, api.refreshes.Load(), cfg.RefreshAttempts)
	}
	s := e.Snapshot()
	if s.State != session.StateActive || s.Access.Raw != before || s.Generation != 1 || c.LoggedOut != 0 {
		t.Errorf("after cut-short refreshes: state %v (%s), token kept %v, gen %d, logouts %d; want the session kept as it was",
			s.State, s.Reason, s.Access.Raw == before, s.Generation, c.LoggedOut)
	}

	// Phase 3: the refresh endpoint answers in full again: one refresh, and the request succeeds.
	api.truncateRefresh.Store(false)
	calls := api.refreshes.Load()
	r, _ := faultDo(t, e, context.Background(), profile.Request{Method: http.MethodGet, Path: "/api/protected/"})
	if r.Outcome != OK || len(r.Attempts) != 2 {
		t.Errorf("after recovery: %+v; want ok on the retry", r)
	}
	if got := api.refreshes.Load() - calls; got != 1 {
		t.Errorf("after recovery: %d refresh calls, want 1", got)
	}
	if s := e.Snapshot(); s.State != session.StateActive || s.Generation != 2 {
		t.Errorf("after recovery: state %v gen %d", s.State, s.Generation)
	}
}
