package observe

// The diagnoses that must hold on real client libraries: advice that can work once a family is
// dead, a rejected refresh token retried, and a server that lets a rotated token through.

import (
	"strings"
	"sync"
	"testing"
	"time"

	"tokenscope/demoserver"
)

// After a rotation another tab presents the old refresh token: a server with reuse detection
// revokes the family, and the request the first tab sends with its fresh access token is
// answered 401. Resending it cannot work: the finding says the session is over and names what
// killed it (a race within a second of the rotation is a stampede, later it is reuse).
func TestObserveLostAfterRevocationSaysLogIn(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pause time.Duration
		cause string
		rule  string
	}{
		{"stampede", 40 * time.Millisecond, "a stampede killed it", RuleStampede},
		{"reuse", raceWindow + 200*time.Millisecond, "reuse killed it", RuleRotatedReused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, demoserver.Options{}, nil)
			a := r.newClient()
			a.retries = 0
			if err := a.login(); err != nil {
				t.Fatal(err)
			}
			_, rt, _ := a.tokens()
			if st := a.do("GET", "/api/me", nil); st != 200 {
				t.Fatal(st)
			}
			if st, _ := a.refreshWith(rt); st != 200 {
				t.Fatal(st)
			}
			r.advance(t, tc.pause)
			if st, _ := r.newClient().refreshWith(rt); st != 401 {
				t.Fatalf("the server took a rotated token: %d", st)
			}
			if st := a.do("GET", "/api/me", nil); st != 401 {
				t.Fatalf("the fresh access token of a revoked family: %d", st)
			}
			s := r.finish(t)
			if s.LostAfter401 != 1 || r.demo.Stats().ReuseDetected != 1 {
				t.Errorf("summary %+v", s)
			}
			// The refresh right after login, with no 401, is needless too.
			wantFindings(t, s, map[string]int{tc.rule: 1, RuleLostAfter401: 1, RuleNeedless: 1})
			evs := findingEvents(r.proxy, RuleLostAfter401)
			if len(evs) != 1 {
				t.Fatalf("lost findings %v", evs)
			}
			why := evs[0].Reason
			for _, want := range []string{"the session is over", "must log in again", tc.cause, "refresh #2", "resending is no use"} {
				if !strings.Contains(why, want) {
					t.Errorf("lost finding %q lacks %q", why, want)
				}
			}
			if strings.Contains(why, "resend every request") {
				t.Errorf("lost finding advises resending into a dead family: %q", why)
			}
		})
	}
}

// The negative case: a live family's lost requests are worth resending, and the finding says so.
func TestObserveLostAfter401LiveFamilySaysResend(t *testing.T) {
	r := newRig(t, demoserver.Options{}, func(c *Config) { c.Faults = true })
	c := r.newClient()
	c.singleFlight, c.retries = true, 0
	if err := c.login(); err != nil {
		t.Fatal(err)
	}
	if err := r.proxy.ExpireNow(); err != nil {
		t.Fatal(err)
	}
	r.advance(t, time.Millisecond) // what the client does next comes after that instant
	if st := c.do("GET", "/api/me", nil); st != 401 {
		t.Fatal(st)
	}
	s := r.finish(t)
	wantFindings(t, s, map[string]int{RuleLostAfter401: 1})
	evs := findingEvents(r.proxy, RuleLostAfter401)
	if len(evs) != 1 || !strings.Contains(evs[0].Reason, "resend every request a 401 rejected") || strings.Contains(evs[0].Reason, "log in again") {
		t.Errorf("lost finding %v", evs)
	}
}

// An asyncio client behind a lock refreshes one call after another with the refresh token the
// server keeps rejecting (here: expired): one finding, however many times it tries.
func TestObserveRejectedTokenRetried(t *testing.T) {
	r := newRig(t, demoserver.Options{AccessTTL: time.Second, RefreshTTL: time.Second}, nil)
	c := r.newClient()
	if err := c.login(); err != nil {
		t.Fatal(err)
	}
	_, rt, _ := c.tokens()
	r.advance(t, 2100*time.Millisecond) // exp is in whole seconds
	for i := range 20 {
		if st, _ := c.refreshWith(rt); st != 401 {
			t.Fatalf("refresh %d: %d", i, st)
		}
	}
	s := r.finish(t)
	if s.RefreshCalls != 20 || s.RefreshRejected != 20 || s.RefreshTokenReused != 19 {
		t.Errorf("summary %+v", s)
	}
	wantFindings(t, s, map[string]int{RuleRejectedRetried: 1})
	evs := findingEvents(r.proxy, RuleRejectedRetried)
	if len(evs) != 1 || !strings.Contains(evs[0].Reason, "after the server rejected it in refresh #1") || !strings.Contains(evs[0].Reason, "log in") {
		t.Errorf("finding %v", evs)
	}
}

// The negative case: after the rejection the client logs in and refreshes with the new token.
// The refresh after the login answers a 401, so it is needed.
func TestObserveRejectedThenLoginIsNoRetry(t *testing.T) {
	r := newRig(t, demoserver.Options{AccessTTL: time.Second, RefreshTTL: time.Second}, func(c *Config) { c.Faults = true })
	c := r.newClient()
	c.singleFlight = true
	if err := c.login(); err != nil {
		t.Fatal(err)
	}
	_, rt, _ := c.tokens()
	r.advance(t, 2100*time.Millisecond) // exp is in whole seconds
	if st, _ := c.refreshWith(rt); st != 401 {
		t.Fatal(st)
	}
	if err := c.login(); err != nil {
		t.Fatal(err)
	}
	if err := r.proxy.ExpireNow(); err != nil {
		t.Fatal(err)
	}
	r.advance(t, time.Millisecond) // what the client does next comes after that instant
	if st := c.do("GET", "/api/me", nil); st != 200 {
		t.Fatal(st)
	}
	s := r.finish(t)
	if s.RefreshRejected != 1 || s.RefreshCalls != 2 || s.RetriedAfter401 != 1 {
		t.Errorf("summary %+v", s)
	}
	wantFindings(t, s, nil)
}

// racyDemo is the demo server with refreshes not serialised, as Django simplejwt's blacklist
// is: a refresh checks its token, and rotates it window later without checking again, so every
// presentation of one token inside the window succeeds.
func racyDemo(t *testing.T, window time.Duration) *rig {
	r := newRig(t, demoserver.Options{}, nil)
	r.demo.SetAuditKnobs(demoserver.AuditKnobs{RefreshRaceWindow: window})
	return r
}

// Five processes refresh with one token at once and the racy server lets all of them through:
// the client's stampede, and the server's own finding for accepting a rotated token.
func TestObserveServerAcceptedReusedToken(t *testing.T) {
	r := racyDemo(t, 150*time.Millisecond)
	c := r.newClient()
	if err := c.login(); err != nil {
		t.Fatal(err)
	}
	_, rt, _ := c.tokens()
	var wg sync.WaitGroup
	ok := make([]bool, 5)
	for i := range ok {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, _ := r.newClient().refreshWith(rt)
			ok[i] = st == 200
		}()
	}
	wg.Wait()
	for i, good := range ok {
		if !good {
			t.Fatalf("refresh %d was refused: the server is not racy enough for this test", i)
		}
	}
	s := r.finish(t)
	// A refresh right after login is needless too.
	wantFindings(t, s, map[string]int{RuleServerAcceptedReused: 1, RuleStampede: 1, RuleNeedless: 1})
	evs := findingEvents(r.proxy, RuleServerAcceptedReused)
	if len(evs) != 1 || !strings.Contains(evs[0].Reason, "server finding") || !strings.Contains(evs[0].Reason, "it had rotated it to fp:") {
		t.Errorf("finding %v", evs)
	}
}

// The negative cases: the same server used one refresh at a time (each token presented once),
// and the demo server serialising its refreshes (atomic rotation) under the same race.
func TestObserveRotationHeldNoServerFinding(t *testing.T) {
	r := racyDemo(t, 20*time.Millisecond)
	c := r.newClient()
	if err := c.login(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_, rt, _ := c.tokens()
		if st, _ := c.refreshWith(rt); st != 200 {
			t.Fatal(st)
		}
	}
	s := r.finish(t)
	wantFindings(t, s, map[string]int{RuleNeedless: -1})
	if s.Findings[RuleServerAcceptedReused] != 0 {
		t.Errorf("summary %+v", s)
	}

	d := newRig(t, demoserver.Options{}, nil)
	c = d.newClient()
	if err := c.login(); err != nil {
		t.Fatal(err)
	}
	_, rt, _ := c.tokens()
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = d.newClient().refreshWith(rt) }()
	}
	wg.Wait()
	s = d.finish(t)
	if st := d.demo.Stats(); st.RefreshOK != 1 || s.Findings[RuleServerAcceptedReused] != 0 || s.Findings[RuleStampede] != 1 {
		t.Errorf("demo server: %+v, summary %+v", st, s)
	}
}
