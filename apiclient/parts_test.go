package apiclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"tokenscope/apiclient/profile"
	"tokenscope/session"
)

// liveStore is a session store holding an active session with the given refresh token.
func liveStore(refresh string) *tokenStore {
	s := &tokenStore{}
	s.login(profile.Answer{Access: session.ParseToken("access-0", epoch, time.Minute), Refresh: session.ParseToken(refresh, epoch, 0)},
		session.Token{}, func() string { return "" })
	return s
}

// The refresher's one in-flight count is what every reader sees: the runs in flight per token,
// their sum (Snapshot.Refreshing) and the derived StateRefreshing.
func TestRefresherOneInFlightCount(t *testing.T) {
	s := liveStore("refresh-A")
	r := newRefresher(Auto, false) // single flight off: each caller runs its own refresh
	var flights []*flight
	for range 3 {
		f, waiters, err := r.begin(s, 0)
		if err != nil || f == nil || waiters != 0 {
			t.Fatalf("begin: %v %v %d", f, err, waiters)
		}
		flights = append(flights, f)
	}
	if n := r.running(); n != 3 {
		t.Fatalf("running %d, want 3", n)
	}
	e := &Engine{refresher: r}
	if st := e.state(session.StateActive); st != session.StateRefreshing {
		t.Errorf("state with refreshes in flight: %v", st)
	}
	if st := e.state(session.StateLoginRequired); st != session.StateLoginRequired {
		t.Errorf("an ended session reads %v while its refreshes finish", st)
	}
	r.mu.Lock()
	perToken := r.uses.uses[flights[0].fp].inFlight
	r.mu.Unlock()
	if perToken != 3 {
		t.Errorf("refresh-A in flight %d, want 3", perToken)
	}
	for _, f := range flights {
		r.end(f)
	}
	if n := r.running(); n != 0 || e.state(session.StateActive) != session.StateActive {
		t.Errorf("after the runs: running %d, state %v", n, e.state(session.StateActive))
	}
}

// begin's three answers: ended session, a token already replaced, a refresh to join.
func TestRefresherBegin(t *testing.T) {
	s := liveStore("refresh-A")
	r := newRefresher(Auto, true)
	serial := s.currentSerial()
	f, waiters, err := r.begin(s, serial)
	if err != nil || f == nil || waiters != 0 || f.token.Raw != "refresh-A" || f.id != 1 {
		t.Fatalf("first caller: %+v %d %v", f, waiters, err)
	}
	if g, n, _ := r.begin(s, serial); g != f || n != 1 {
		t.Errorf("second caller joined %p (%d waiting), want %p (1)", g, n, f)
	}
	s.refreshed(profile.Answer{Access: session.ParseToken("access-1", epoch, time.Minute)}, func() string { return "" })
	r.end(f)
	if g, _, err := r.begin(s, serial); g != nil || err != nil {
		t.Errorf("caller with a replaced token got %+v, %v; want no refresh", g, err)
	}
	s.end(session.EndRejected, "rejected")
	if _, _, err := r.begin(s, 0); !errors.Is(err, ErrLoginRequired) {
		t.Errorf("ended session: %v", err)
	}
}

// With single flight on, no refresh token is ever presented by two runs, however callers race
// a refresh that is ending: the refresher reads the session under its own lock, and a run
// installs its tokens before it leaves the flight.
func TestRefresherNeverStartsWithAReplacedToken(t *testing.T) {
	s := liveStore("refresh-0")
	r := newRefresher(Auto, true)
	var mu sync.Mutex
	presented := map[string]int{}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				serial := s.currentSerial()
				f, waiters, err := r.begin(s, serial)
				if err != nil || f == nil || waiters > 0 {
					continue // no refresh needed, or joined one
				}
				mu.Lock()
				presented[f.token.Raw]++
				mu.Unlock()
				next := fmt.Sprintf("refresh-%d-%d", g, i)
				s.refreshed(profile.Answer{Access: session.ParseToken("a"+next, epoch, time.Minute),
					Refresh: session.ParseToken(next, epoch, 0), Rotated: true}, func() string { return "" })
				r.end(f)
			}
		}()
	}
	wg.Wait()
	for tok, n := range presented {
		if n > 1 {
			t.Errorf("refresh token %s presented by %d runs", tok, n)
		}
	}
	if len(presented) < 2 {
		t.Errorf("only %d refreshes ran", len(presented))
	}
}

// The parked queue gives requests back in the order they were sent, whatever the order they
// parked in, and refuses past its bound.
func TestParkedQueueOrderAndBound(t *testing.T) {
	q := parkedQueue{max: 4}
	for _, id := range []uint64{5, 3, 9} {
		q.push(id, profile.Request{Path: fmt.Sprint("/", id)})
	}
	pr, _ := q.pop()
	if pr.id != 3 {
		t.Fatalf("first out %d, want 3", pr.id)
	}
	q.push(1, profile.Request{})
	q.push(7, profile.Request{})
	if n, ok := q.push(8, profile.Request{}); ok || n != 4 {
		t.Errorf("push past the bound: %d waiting, ok %t", n, ok)
	}
	var got []uint64
	for pr, ok := q.pop(); ok; pr, ok = q.pop() {
		got = append(got, pr.id)
	}
	if fmt.Sprint(got) != "[1 5 7 9]" || q.len() != 0 {
		t.Errorf("replay order %v, %d left", got, q.len())
	}
}

// The first cause of a session's end stays: the rejections after it only echo it.
func TestTokenStoreEndKeepsFirstCause(t *testing.T) {
	s := liveStore("refresh-A")
	if !s.end(session.EndReuseSuspected, "reuse detected") || s.end(session.EndRejected, "token is invalid") {
		t.Fatal("end should report the first call only")
	}
	if dead, why := s.dead(); !dead || why != "login required: reuse detected" || s.view().sess.End != session.EndReuseSuspected {
		t.Errorf("dead %t, %q, end %v", dead, why, s.view().sess.End)
	}
}

// A Date header repeated within a quarter second adds no sample; a new one does.
func TestSkewTrackerSkipsRepeatedDate(t *testing.T) {
	var tr skewTracker
	h := http.Header{"Date": {epoch.Add(10 * time.Second).Format(http.TimeFormat)}}
	tr.observeDate(h, epoch, epoch.Add(time.Millisecond))
	tr.observeDate(h, epoch, epoch.Add(100*time.Millisecond))
	if n := tr.estimate().Samples; n != 1 {
		t.Errorf("samples after a repeat: %d, want 1", n)
	}
	h = http.Header{"Date": {epoch.Add(11 * time.Second).Format(http.TimeFormat)}}
	ev, show := tr.observeDate(h, epoch.Add(time.Second), epoch.Add(time.Second))
	if n := tr.estimate().Samples; n != 2 {
		t.Errorf("samples after a later answer: %d, want 2", n)
	}
	if show && ev.Kind != session.KindSkew {
		t.Errorf("event %v", ev.Kind)
	}
	if got := tr.serverNow(epoch); got.Sub(epoch) < 8*time.Second {
		t.Errorf("server now %v, want about 10 s ahead", got.Sub(epoch))
	}
}

// currentSerial is the serial of the store's access token.
func (s *tokenStore) currentSerial() (serial uint64) {
	s.read(func(_ *session.Session, n uint64) { serial = n })
	return serial
}

// TestFlightHandsTheTurnOn: a refresh's waiters leave one at a time by a turn each hands on
// (flight.wait), and none is stranded: every waiter gets the run's outcome, one that gave up
// first (its context ended) does not keep the others waiting, and a waiter that comes after
// the last one left gets the outcome at once.
func TestFlightHandsTheTurnOn(t *testing.T) {
	f := &flight{id: 7, turn: make(chan struct{}, 1)}
	outcome := errors.New("the run's outcome")
	const n = 200
	got := make(chan error, n)
	for range n {
		go func() { got <- f.wait(context.Background()) }()
	}
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.wait(gone); err == nil || !strings.Contains(err.Error(), "gave up waiting for refresh #7") {
		t.Fatalf("a waiter whose context ended: %v", err)
	}
	f.finish(outcome)
	for range n {
		select {
		case err := <-got:
			if err != outcome {
				t.Fatalf("a waiter got %v, want the run's outcome", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a waiter was stranded: the turn was not handed on")
		}
	}
	if err := f.wait(context.Background()); err != outcome {
		t.Errorf("a late waiter: %v", err)
	}
}
