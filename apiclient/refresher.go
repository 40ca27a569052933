package apiclient

// The refresher: when to refresh, single flight, the refresh sequence and the count of
// refreshes in flight, as x/oauth2's tokenRefresher and reuseTokenSource are small parts of
// its Transport. The refresh call itself is the engine's (refresh.go): it needs the clients.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"tokenscope/session"
)

// Strategy is when to refresh.
type Strategy string

// Strategies, as DESIGN.md defines them.
const (
	Auto       Strategy = "auto"       // proactive and reactive
	Proactive  Strategy = "proactive"  // before a request, when exp is within the threshold
	Reactive   Strategy = "reactive"   // after a 401
	Background Strategy = "background" // a timer refreshes ahead of exp, even when idle (401s still handled)
	Off        Strategy = "off"        // never: a 401 is reported
)

// Strategies lists the strategies in the order the TUI cycles them.
func Strategies() []Strategy { return []Strategy{Auto, Proactive, Reactive, Background, Off} }

// ParseStrategy accepts a strategy name.
func ParseStrategy(s string) (Strategy, error) {
	for _, st := range Strategies() {
		if string(st) == strings.ToLower(s) {
			return st, nil
		}
	}
	return "", fmt.Errorf("unknown strategy %q (want auto, proactive, reactive, background or off)", s)
}

func (s Strategy) proactive() bool { return s == Auto || s == Proactive }
func (s Strategy) reactive() bool  { return s == Auto || s == Reactive || s == Background }

// refresher decides whether a caller starts a refresh, joins the one in flight or needs none,
// numbers the refreshes, and counts them in flight per refresh token (tokenUses, which also
// names reuse), and runs the background strategy's loop. A refresh is in flight exactly while tokenUses counts it: the session's
// StateRefreshing and Snapshot.Refreshing are read from that count.
type refresher struct {
	strategy     atomic.Value // Strategy: read on every request, so not under mu
	singleFlight atomic.Bool

	loop bgLoop // wakes and stops the background refresher; its stop ends a refresh's backoff too

	mu      sync.Mutex
	settled *sync.Cond // on mu: broadcast when a run ends (awaitOthers) or a confirmation does
	seq     uint64     // refresh ids
	shared  *flight    // the refresh callers join while single flight is on
	uses    tokenUses  // presentations and runs in flight per refresh token
}

func newRefresher(s Strategy, singleFlight bool) *refresher {
	r := &refresher{loop: newBgLoop()}
	r.settled = sync.NewCond(&r.mu)
	r.strategy.Store(s)
	r.singleFlight.Store(singleFlight)
	return r
}

func (r *refresher) currentStrategy() Strategy { return r.strategy.Load().(Strategy) }

// setStrategy changes the strategy and returns the one before.
func (r *refresher) setStrategy(s Strategy) Strategy { return r.strategy.Swap(s).(Strategy) }

// setSingleFlight switches single flight and returns whether it was on.
func (r *refresher) setSingleFlight(on bool) bool { return r.singleFlight.Swap(on) }

// begin is a caller's way into a refresh. It returns ErrLoginRequired when the session has
// ended; no flight when single flight is on and the access token the caller used (usedSerial,
// 0 for "regardless") was already replaced; the flight in progress with its waiter count when
// it joins one; or a new flight (waiters 0), counted in flight from the moment its token is
// taken, not when its call runs: a call that ends first must not see the token settled while
// another is about to present it.
//
// The session is read under the refresher's lock so that the check and the join are one step:
// a refresh that ends meanwhile has bumped the serial before it leaves the flight to join.
//
// The refresh token is copied only into a new flight, on the heap: of a burst's callers one
// starts the refresh, and the others' stacks (a thousand goroutines deep in resty's hooks)
// should not hold a copy of it each, nor grow for one.
func (r *refresher) begin(s *tokenStore, usedSerial uint64) (f *flight, waiters int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	single := r.singleFlight.Load()
	var (
		family          string
		ended, replaced bool
	)
	s.read(func(sess *session.Session, serial uint64) {
		switch {
		case sess.State == session.StateLoginRequired || sess.State == session.StateLoggedOut:
			ended = true
		case single && usedSerial != 0 && usedSerial < serial:
			replaced = true
		case !single || r.shared == nil:
			f, family = &flight{token: sess.Refresh, turn: make(chan struct{}, 1)}, sess.Family
		}
	})
	switch {
	case ended:
		return nil, 0, ErrLoginRequired
	case replaced:
		return nil, 0, nil
	case f == nil:
		r.shared.waiters++
		return r.shared, r.shared.waiters, nil
	}
	r.seq++
	f.id, f.fp = r.seq, f.token.Fingerprint()
	if single {
		r.shared = f
	}
	r.uses.enter(f.fp, family) // fp "" for client credentials, which have no token to count
	return f, 0, nil
}

// end marks f's run as over; it returns the reuse summary line for the log, if there is one.
func (r *refresher) end(f *flight) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shared == f {
		r.shared = nil
	}
	r.settled.Broadcast()
	return r.uses.leave(f.fp)
}

// running is how many refresh runs are in flight.
func (r *refresher) running() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.uses.running()
}

// present counts one call carrying fp; see tokenUses.present.
func (r *refresher) present(fp string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.uses.present(fp)
}

// answered records how the server answered a call with fp; see tokenUses.answered.
func (r *refresher) answered(fp string, rotated bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.uses.answered(fp, rotated)
}

// explain rewrites a rejection's reason when fp's presentations explain it.
func (r *refresher) explain(fp, reason string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.uses.explain(fp, reason)
}

// awaitOthers returns when no other run with fp is still waiting for its answer: a rejected
// run waits so that a winner whose answer comes after the loser's has replaced the token
// before the loser decides whether the session ends. Runs rejected at once wait together.
func (r *refresher) awaitOthers(fp string) {
	if fp == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	u, ok := r.uses.uses[fp]
	if !ok {
		return
	}
	u.rejected++
	for u.inFlight > u.rejected {
		r.settled.Wait()
	}
	u.rejected--
}

// confirmOnce runs ask for fp unless another caller is running it, in which case it waits for
// that one to end: the requests refused after a reuse need one answer, not one call each.
func (r *refresher) confirmOnce(fp string, ask func()) {
	r.mu.Lock()
	u := r.uses.get(fp)
	if u.confirming {
		for u.confirming {
			r.settled.Wait()
		}
		r.mu.Unlock()
		return
	}
	u.confirming = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		u.confirming = false
		r.settled.Broadcast()
		r.mu.Unlock()
	}()
	ask()
}

// endOf is why the rejection of fp, family's current refresh token, ends the session; see
// tokenUses.endOf.
func (r *refresher) endOf(fp, family string) (session.End, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.uses.endOf(fp, family)
}

// reusedBefore names a reused older token of family; see tokenUses.reusedBefore.
func (r *refresher) reusedBefore(fp, family string) (session.End, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.uses.reusedBefore(fp, family)
}

// flight is one refresh run and the requests waiting on it. waiters is guarded by the
// refresher's lock; err is written once, before the first turn is handed out (finish).
type flight struct {
	id      uint64
	token   session.Token // the refresh token it presents
	fp      string        // its fingerprint; "" for client credentials
	waiters int
	turn    chan struct{} // the one turn (capacity 1), handed from waiter to waiter once the run ends
	err     error
}

// finish ends the run with err and lets the waiters go.
func (f *flight) finish(err error) {
	f.err = err
	f.turn <- struct{}{}
}

// wait returns the refresh's outcome, or gives up when ctx ends first. Waiters leave one at a
// time: each takes the turn and hands it on as it goes, in the order they came, as callers
// of x/oauth2's ReuseTokenSource pass its mutex. Closing a channel instead made a burst's
// thousand requests runnable at once, and Go's scheduler ran every one of them up to its dial
// before the first connection was answered: the server sat idle while the client worked
// through the herd, then the client while the server did (BenchmarkBurstExpiredPaired).
func (f *flight) wait(ctx context.Context) error {
	select {
	case <-f.turn:
		f.turn <- struct{}{} // never blocks: the turn was just taken, and there is one
		return f.err
	case <-ctx.Done():
		return fmt.Errorf("gave up waiting for refresh #%d: %w", f.id, ctx.Err())
	}
}
