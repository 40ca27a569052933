package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"tokenscope/apiclient/profile"
	"tokenscope/demoserver"
	"tokenscope/internal/clock"
	"tokenscope/session"
)

var epoch = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// env is a demo server and an engine sharing one manual clock, so tokens expire on demand.
type env struct {
	t     *testing.T
	srv   *demoserver.Server
	clock *clock.Manual
	e     *Engine
	p     profile.Profile
}

// testClock is a manual clock on which the engine's short waits (refresh backoffs of
// milliseconds) pass by themselves, as real time would have let them, while a token's life, a
// poll interval and the background refresher's nap wait for the test to move the clock.
func testClock(t0 time.Time) *clock.Manual {
	c := clock.NewManual(t0)
	c.AutoAdvance(500 * time.Millisecond)
	return c
}

func newEnv(t *testing.T, name string, so demoserver.Options, cfg Config) *env {
	t.Helper()
	clock := testClock(epoch)
	so.Clock = clock
	srv, err := demoserver.New(so)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	p, ok := profile.Builtin(name)
	if !ok {
		t.Fatalf("no profile %s", name)
	}
	cfg.BaseURL, cfg.Profile, cfg.Username, cfg.Password = ts.URL, p, "demo", "demo"
	if cfg.Clock == nil {
		cfg.Clock = clock
	}
	if cfg.RefreshBackoff == 0 {
		cfg.RefreshBackoff = 5 * time.Millisecond
	}
	if cfg.Transport == nil {
		// Bound the sockets a 1000-request burst opens.
		cfg.Transport = &http.Transport{MaxConnsPerHost: 64, MaxIdleConnsPerHost: 64}
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	if _, err := e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, srv: srv, clock: clock, e: e, p: p}
}

func (v *env) get() profile.Request { return v.p.PresetRequests()[0] }

func (v *env) post(body string) profile.Request {
	for _, r := range v.p.PresetRequests() {
		if r.Method == "POST" {
			r.Body = []byte(body)
			return r
		}
	}
	v.t.Fatal("profile has no POST preset")
	return profile.Request{}
}

func (v *env) burst(n int, req profile.Request) []Result {
	out := make([]Result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = v.e.Do(context.Background(), req)
		}()
	}
	wg.Wait()
	return out
}

func count(evs []session.Event, k session.Kind) int {
	n := 0
	for _, e := range evs {
		if e.Kind == k {
			n++
		}
	}
	return n
}

func firstOf(evs []session.Event, k session.Kind) (session.Event, bool) {
	for _, e := range evs {
		if e.Kind == k {
			return e, true
		}
	}
	return session.Event{}, false
}

func tally(rs []Result) (ok, failed, parked int) {
	for _, r := range rs {
		switch r.Outcome {
		case OK:
			ok++
		case Failed:
			failed++
		case Parked:
			parked++
		}
	}
	return
}

func TestStrategies(t *testing.T) {
	for _, prof := range profile.Names() {
		t.Run(prof, func(t *testing.T) {
			t.Run("proactive refreshes inside the threshold, before any 401", func(t *testing.T) {
				v := newEnv(t, prof, demoserver.Options{}, Config{Strategy: Proactive})
				v.clock.Advance(26 * time.Second) // 4 s left < 5 s threshold
				if r := v.e.Do(context.Background(), v.get()); r.Outcome != OK {
					t.Fatalf("request: %+v", r)
				}
				evs := v.e.Log().Events()
				start, ok := firstOf(evs, session.KindRefreshStart)
				if !ok || start.Why != session.WhyProactive {
					t.Fatalf("no proactive refresh: %+v", evs)
				}
				if st := v.srv.Stats(); st.RefreshOK != 1 || st.ResourceUnauthorized != 0 {
					t.Errorf("server stats %+v", st)
				}
				if s := v.e.Snapshot(); s.Generation != 2 || s.Rotations != 1 {
					t.Errorf("snapshot gen %d rotations %d", s.Generation, s.Rotations)
				}
			})
			t.Run("proactive does not react to a 401", func(t *testing.T) {
				v := newEnv(t, prof, demoserver.Options{}, Config{Strategy: Proactive})
				v.srv.ExpireAccessTokens() // the token still looks fresh to the client
				r := v.e.Do(context.Background(), v.get())
				if r.Outcome != Failed || r.Status != 401 || len(r.Attempts) != 1 {
					t.Fatalf("want a reported 401, got %+v", r)
				}
				if v.srv.Stats().RefreshOK != 0 {
					t.Error("proactive strategy refreshed after a 401")
				}
			})
			t.Run("reactive refreshes after the 401 and retries once", func(t *testing.T) {
				v := newEnv(t, prof, demoserver.Options{}, Config{Strategy: Reactive})
				v.clock.Advance(31 * time.Second)
				r := v.e.Do(context.Background(), v.get())
				if r.Outcome != OK || len(r.Attempts) != 2 {
					t.Fatalf("request: %+v", r)
				}
				evs := v.e.Log().Events()
				start, _ := firstOf(evs, session.KindRefreshStart)
				if count(evs, session.KindUnauthorized) != 1 || start.Why != session.WhyReactive || count(evs, session.KindRetry) != 1 {
					t.Fatalf("events: %+v", evs)
				}
			})
			t.Run("auto prefers proactive and still catches a surprise 401", func(t *testing.T) {
				v := newEnv(t, prof, demoserver.Options{}, Config{})
				v.clock.Advance(40 * time.Second)
				if r := v.e.Do(context.Background(), v.get()); r.Outcome != OK || len(r.Attempts) != 1 {
					t.Fatalf("expired token: %+v", r)
				}
				v.srv.ExpireAccessTokens()
				if r := v.e.Do(context.Background(), v.get()); r.Outcome != OK || len(r.Attempts) != 2 {
					t.Fatalf("server-side expiry: %+v", r)
				}
				if st := v.srv.Stats(); st.RefreshOK != 2 || st.ResourceUnauthorized != 1 {
					t.Errorf("server stats %+v", st)
				}
			})
			t.Run("off never refreshes", func(t *testing.T) {
				v := newEnv(t, prof, demoserver.Options{}, Config{Strategy: Off})
				v.clock.Advance(31 * time.Second)
				r := v.e.Do(context.Background(), v.get())
				if r.Outcome != Failed || r.Status != 401 || r.Reason == "" {
					t.Fatalf("request: %+v", r)
				}
				if v.srv.Stats().RefreshOK+v.srv.Stats().RefreshRejected != 0 {
					t.Error("strategy off refreshed")
				}
			})
		})
	}
}

// TestSingleFlightThousand: 1000 concurrent requests on an expired token, rotation and reuse
// detection on. One refresh call reaches the server and every request succeeds.
func TestSingleFlightThousand(t *testing.T) {
	for _, prof := range profile.Names() {
		for _, strat := range []Strategy{Auto, Reactive} {
			t.Run(prof+"/"+string(strat), func(t *testing.T) {
				v := newEnv(t, prof, demoserver.Options{}, Config{Strategy: strat})
				// Keep the refresh in flight while callers pile up: under -race, starting 1000 goroutines
				// can take longer than a short refresh, and then nobody waits on it.
				v.srv.SetLatency(0, 250*time.Millisecond)
				v.clock.Advance(31 * time.Second)
				rs := v.burst(1000, v.get())
				ok, failed, parked := tally(rs)
				if ok != 1000 {
					t.Fatalf("ok %d failed %d parked %d; first failure %+v", ok, failed, parked, firstFailure(rs))
				}
				st := v.srv.Stats()
				if st.RefreshOK != 1 || st.RefreshRejected != 0 || st.MaxRefreshInFlight != 1 {
					t.Errorf("server saw %d refresh calls ok, %d rejected, %d at once; want exactly one", st.RefreshOK, st.RefreshRejected, st.MaxRefreshInFlight)
				}
				evs := v.e.Log().Events()
				if count(evs, session.KindRefreshStart) != 1 || count(evs, session.KindRefreshWait) == 0 {
					t.Errorf("refresh starts %d waits %d", count(evs, session.KindRefreshStart), count(evs, session.KindRefreshWait))
				}
			})
		}
	}
}

func firstFailure(rs []Result) Result {
	for _, r := range rs {
		if r.Outcome != OK {
			return r
		}
	}
	return Result{}
}

// TestStampedeWithoutSingleFlight is the seeds' hole made visible: with single flight off,
// concurrent 401s each refresh, the server sees the rotated token reused and revokes the
// family, and the session needs a login. Nothing is lost: every request is reported.
func TestStampedeWithoutSingleFlight(t *testing.T) {
	for _, prof := range profile.Names() {
		t.Run(prof, func(t *testing.T) {
			v := newEnv(t, prof, demoserver.Options{}, Config{Strategy: Reactive, NoSingleFlight: true})
			v.srv.SetLatency(0, 20*time.Millisecond)
			v.srv.ExpireAccessTokens()
			const n = 200
			rs := v.burst(n, v.get())
			ok, failed, parked := tally(rs)
			if ok+failed+parked != n {
				t.Fatalf("lost requests: %d+%d+%d != %d", ok, failed, parked, n)
			}
			st := v.srv.Stats()
			if st.RefreshOK+st.RefreshRejected < 2 || st.ReuseDetected < 1 {
				t.Errorf("no stampede at the server: %+v", st)
			}
			if s := v.e.Snapshot(); s.State != session.StateLoginRequired {
				t.Errorf("state %v, want login required", s.State)
			}
			evs := v.e.Log().Events()
			if count(evs, session.KindRefreshStart) < 2 || count(evs, session.KindLogout) != 1 {
				t.Errorf("events: %d refresh starts, %d logouts", count(evs, session.KindRefreshStart), count(evs, session.KindLogout))
			}
			if failed+parked == 0 {
				t.Error("the stampede cost nothing: every request succeeded")
			}
			for _, r := range rs {
				if r.Outcome != OK && r.Reason == "" {
					t.Fatalf("a request ended %v without a reason", r.Outcome)
				}
			}
			// Logging in again replays what was parked.
			replayed, err := v.e.Login(context.Background())
			if err != nil || len(replayed) != parked {
				t.Fatalf("login: %v, %d replayed, %d parked", err, len(replayed), parked)
			}
			for _, r := range replayed {
				if r.Outcome != OK {
					t.Errorf("replay: %+v", r)
				}
			}
		})
	}
}

func TestTransientRefreshFailureKeepsSession(t *testing.T) {
	for _, prof := range profile.Names() {
		t.Run(prof, func(t *testing.T) {
			v := newEnv(t, prof, demoserver.Options{}, Config{})
			v.srv.FailNextRefreshes(2)
			v.clock.Advance(31 * time.Second)
			r := v.e.Do(context.Background(), v.get())
			if r.Outcome != OK {
				t.Fatalf("request: %+v", r)
			}
			evs := v.e.Log().Events()
			var transient int
			for _, e := range evs {
				if e.Kind == session.KindRefreshFailed {
					if !e.Transient {
						t.Errorf("503 classified fatal: %+v", e)
					}
					transient++
				}
			}
			if transient != 2 || count(evs, session.KindRefreshOK) != 1 {
				t.Errorf("%d transient failures, %d refresh ok", transient, count(evs, session.KindRefreshOK))
			}
			if s := v.e.Snapshot(); s.State != session.StateActive || s.Generation != 2 {
				t.Errorf("state %v gen %d", s.State, s.Generation)
			}
		})
	}
}

// TestFatalParksAndReplaysInOrder: a revoked family ends the session; requests sent while it
// is dead are parked with their bodies and replayed in order after a new login.
func TestFatalParksAndReplaysInOrder(t *testing.T) {
	for _, prof := range profile.Names() {
		t.Run(prof, func(t *testing.T) {
			v := newEnv(t, prof, demoserver.Options{}, Config{})
			v.srv.RevokeAllFamilies()
			v.clock.Advance(31 * time.Second)
			var parked []Result
			for i := range 3 {
				r := v.e.Do(context.Background(), v.post(fmt.Sprintf(`{"n":%d,"text":"draft %d"}`, i, i)))
				if r.Outcome != Parked {
					t.Fatalf("request %d: %+v", i, r)
				}
				parked = append(parked, r)
			}
			s := v.e.Snapshot()
			if s.State != session.StateLoginRequired || s.Parked != 3 || s.Reason == "" {
				t.Fatalf("snapshot %v parked %d reason %q", s.State, s.Parked, s.Reason)
			}
			if v.srv.Stats().RefreshRejected != 1 {
				t.Errorf("refresh calls rejected: %d, want 1", v.srv.Stats().RefreshRejected)
			}
			replayed, err := v.e.Login(context.Background())
			if err != nil || len(replayed) != 3 {
				t.Fatalf("login: %v, %d replayed", err, len(replayed))
			}
			for i, r := range replayed {
				if r.Outcome != OK || r.ID != parked[i].ID || !r.Replayed {
					t.Fatalf("replay %d: %+v", i, r)
				}
				var body map[string]any
				_ = json.Unmarshal(r.Body, &body)
				item, _ := body["item"].(map[string]any)
				if data, ok := body["data"].(map[string]any); ok {
					item, _ = data["item"].(map[string]any)
				}
				if item["text"] != fmt.Sprintf("draft %d", i) {
					t.Errorf("replay %d body at the server: %s", i, r.Body)
				}
			}
			if v.e.Snapshot().Parked != 0 {
				t.Error("parked requests left after replay")
			}
		})
	}
}

// TestBackgroundNeverSees401 runs over several access lifetimes on the real clock.
func TestBackgroundNeverSees401(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 4 s of real time")
	}
	for _, prof := range profile.Names() {
		t.Run(prof, func(t *testing.T) {
			t.Parallel()
			testBackground(t, prof)
		})
	}
}

func testBackground(t *testing.T, prof string) {
	srv, err := demoserver.Start(demoserver.Options{AccessTTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	p, _ := profile.Builtin(prof)
	e, err := New(Config{BaseURL: srv.URL(), Profile: p, Username: "demo", Password: "demo", Strategy: Background})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(4 * time.Second)
	n := 0
	for time.Now().Before(deadline) {
		if r := e.Do(context.Background(), p.PresetRequests()[0]); r.Outcome != OK {
			t.Fatalf("request %d: %+v", n, r)
		}
		n++
		time.Sleep(50 * time.Millisecond)
	}
	evs := e.Log().Events()
	if c := count(evs, session.KindUnauthorized); c != 0 {
		t.Errorf("%d requests saw a 401", c)
	}
	bg := 0
	for _, ev := range evs {
		if ev.Kind == session.KindRefreshStart && ev.Why == session.WhyBackground {
			bg++
		}
	}
	if bg < 2 {
		t.Errorf("%d background refreshes over 4 s of 2 s tokens", bg)
	}
	if srv.Stats().ResourceUnauthorized != 0 {
		t.Error("the server answered 401")
	}
}

// TestSkewCorrected: a server clock 60 s off either way. After the login answer the engine
// knows the skew, sees no 401 and does not refresh needlessly.
func TestSkewCorrected(t *testing.T) {
	for _, prof := range profile.Names() {
		for _, skew := range []time.Duration{60 * time.Second, -60 * time.Second} {
			t.Run(prof+"/"+skew.String(), func(t *testing.T) {
				t.Parallel()
				testSkew(t, prof, skew)
			})
		}
	}
}

func testSkew(t *testing.T, prof string, skew time.Duration) {
	srv, err := demoserver.Start(demoserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.SetSkew(skew)
	p, _ := profile.Builtin(prof)
	e, err := New(Config{BaseURL: srv.URL(), Profile: p, Username: "demo", Password: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if r := e.Do(context.Background(), p.PresetRequests()[0]); r.Outcome != OK {
			t.Fatalf("request: %+v", r)
		}
	}
	evs := e.Log().Events()
	if count(evs, session.KindUnauthorized) != 0 || count(evs, session.KindRefreshStart) != 0 {
		t.Errorf("%d 401s, %d refreshes", count(evs, session.KindUnauthorized), count(evs, session.KindRefreshStart))
	}
	s := e.Snapshot()
	if !s.Skew.Known || (s.Skew.Offset-skew).Abs() > 1500*time.Millisecond {
		t.Errorf("skew estimate %v, want %v", s.Skew, skew)
	}
	if count(evs, session.KindSkew) != 1 {
		t.Errorf("%d skew events, want 1", count(evs, session.KindSkew))
	}
}

func TestRequestsWhileRefreshingWait(t *testing.T) {
	v := newEnv(t, "simplejwt", demoserver.Options{}, Config{})
	v.srv.SetLatency(0, 50*time.Millisecond)
	v.clock.Advance(31 * time.Second)
	done := make(chan error, 1)
	go func() { done <- v.e.RefreshNow(context.Background()) }()
	for v.e.Snapshot().Refreshing == 0 {
		time.Sleep(time.Millisecond)
	}
	if s := v.e.Snapshot(); s.State != session.StateRefreshing {
		t.Errorf("state during refresh: %v", s.State)
	}
	if r := v.e.Do(context.Background(), v.get()); r.Outcome != OK || len(r.Attempts) != 1 {
		t.Errorf("request during refresh: %+v", r)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := v.srv.Stats(); st.RefreshOK != 1 {
		t.Errorf("refresh calls: %d", st.RefreshOK)
	}
	w, ok := firstOf(v.e.Log().Events(), session.KindRefreshWait)
	if !ok || w.Reason != "waiting on refresh #1 (1 queued)" {
		t.Errorf("wait event: %+v", w)
	}
}

func TestNoRotationKeepsRefreshToken(t *testing.T) {
	v := newEnv(t, "oauth2", demoserver.Options{NoRotation: true}, Config{})
	before := v.e.Snapshot().Refresh.Raw
	if err := v.e.RefreshNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := v.e.Snapshot()
	if s.Refresh.Raw != before || s.Rotations != 0 || s.Generation != 2 {
		t.Errorf("rotations %d gen %d kept %v", s.Rotations, s.Generation, s.Refresh.Raw == before)
	}
	ok, _ := firstOf(v.e.Log().Events(), session.KindRefreshOK)
	if ok.Rotated {
		t.Error("refresh-ok says rotated")
	}
}

func TestOpaqueTokensUseExpiresIn(t *testing.T) {
	v := newEnv(t, "oauth2", demoserver.Options{OpaqueOAuth: true, AccessTTL: 20 * time.Second}, Config{Strategy: Proactive})
	s := v.e.Snapshot()
	if s.Access.JWT || s.Access.ExpirySource != "expires_in" {
		t.Fatalf("access token: JWT %v source %q", s.Access.JWT, s.Access.ExpirySource)
	}
	if life := s.Access.Lifetime(); life != 20*time.Second {
		t.Errorf("lifetime %v", life)
	}
	v.clock.Advance(17 * time.Second) // within 20s/6 ≈ 3.3 s
	if r := v.e.Do(context.Background(), v.get()); r.Outcome != OK {
		t.Fatal(r)
	}
	if st := v.srv.Stats(); st.RefreshOK != 1 || st.ResourceUnauthorized != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestEventsCarryNoRawTokens(t *testing.T) {
	v := newEnv(t, "simplejwt", demoserver.Options{}, Config{})
	v.clock.Advance(31 * time.Second)
	v.e.Do(context.Background(), v.get())
	s := v.e.Snapshot()
	for _, ev := range v.e.Log().Events() {
		line := string(ev.JSON())
		for _, raw := range []string{s.Access.Raw, s.Refresh.Raw} {
			if raw != "" && strings.Contains(line, raw) {
				t.Fatalf("raw token in event: %s", line)
			}
		}
	}
}

func TestThresholdDefaults(t *testing.T) {
	e := &Engine{}
	mk := func(life time.Duration) session.Token {
		return session.Token{IssuedAt: epoch, ExpiresAt: epoch.Add(life)}
	}
	for life, want := range map[time.Duration]time.Duration{
		30 * time.Second: 5 * time.Second,
		time.Hour:        5 * time.Minute,
		3 * time.Second:  time.Second,
		time.Second:      time.Second / 3,
		0:                30 * time.Second,
	} {
		if got := e.thresholdFor(mk(life)); got != want {
			t.Errorf("threshold for %v = %v, want %v", life, got, want)
		}
	}
	e.cfg.Threshold = 42 * time.Second
	if got := e.thresholdFor(mk(time.Hour)); got != 42*time.Second {
		t.Errorf("configured threshold ignored: %v", got)
	}
}
