// Package clock holds the time source that session (for the engine and the TUI) and
// demoserver (for the server) take, and the manual clock tests inject into both so that
// tokens expire without sleeping. Timers come from the same source: a wait the code makes
// (a refresh backoff, the background refresher's nap, a device-code poll interval) ends when
// the manual clock is moved past it, so tests never wait for wall-clock time either. Each
// package names these types as its own (aliases), since demoserver may not import session.
package clock

import (
	"slices"
	"sync"
	"time"
)

// Clock is a time source and the timers that run on it.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that fires once, when d has passed on this clock.
	NewTimer(d time.Duration) Timer
	// After is NewTimer(d).C() for a wait that is never stopped early.
	After(d time.Duration) <-chan time.Time
}

// Timer is a one-shot timer: C receives the clock's time once the timer fires.
type Timer interface {
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it stopped it.
	Stop() bool
}

// System is the real clock.
type System struct{}

// Now returns time.Now().
func (System) Now() time.Time { return time.Now() }

// NewTimer returns a real timer.
func (System) NewTimer(d time.Duration) Timer { return systemTimer{time.NewTimer(d)} }

// After returns time.After(d).
func (System) After(d time.Duration) <-chan time.Time { return time.After(d) }

type systemTimer struct{ t *time.Timer }

func (s systemTimer) C() <-chan time.Time { return s.t.C }
func (s systemTimer) Stop() bool          { return s.t.Stop() }

// Manual is a clock that moves only when told; its timers fire when Advance or Set moves it
// to or past their deadline. It is safe for concurrent use.
type Manual struct {
	mu     sync.Mutex
	now    time.Time
	timers []*manualTimer // armed, not yet fired or stopped
	armed  chan struct{}  // closed (and replaced) whenever a timer is armed
	upTo   time.Duration  // waits this short move the clock themselves (AutoAdvance)
}

// NewManual returns a clock stopped at t.
func NewManual(t time.Time) *Manual { return &Manual{now: t} }

// Now returns the clock's time.
func (c *Manual) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d and fires the timers it passes.
func (c *Manual) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.fire()
	c.mu.Unlock()
}

// Set moves the clock to t and fires the timers it reaches.
func (c *Manual) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.fire()
	c.mu.Unlock()
}

// NewTimer returns a timer that fires when the clock reaches now+d; at once when d <= 0.
func (c *Manual) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 && d <= c.upTo {
		c.now = c.now.Add(d)
		c.fire()
		d = 0
	}
	t := &manualTimer{clock: c, at: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.ch <- c.now
		return t
	}
	c.timers = append(c.timers, t)
	if c.armed != nil {
		close(c.armed)
	}
	c.armed = make(chan struct{})
	return t
}

// AutoAdvance makes every timer of at most upTo move the clock to its deadline as it is armed
// and fire at once, as if that much time had passed while the code waited: a test's short
// waits (a refresh backoff of milliseconds) take their time on the clock without the test
// moving it, while longer ones (a token's life, a poll interval) still wait for the test.
func (c *Manual) AutoAdvance(upTo time.Duration) {
	c.mu.Lock()
	c.upTo = upTo
	c.mu.Unlock()
}

// After returns the channel of a timer that fires when the clock reaches now+d.
func (c *Manual) After(d time.Duration) <-chan time.Time { return c.NewTimer(d).C() }

// Pending returns the number of armed timers and how far ahead the earliest one is.
func (c *Manual) Pending() (n int, next time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, t := range c.timers {
		if d := t.at.Sub(c.now); i == 0 || d < next {
			next = d
		}
	}
	return len(c.timers), next
}

// AwaitTimers blocks until at least n timers are armed, so that a test moves the clock only
// once the code it drives is waiting on it. It gives up after within of real time (a test's
// bound on a hang, never a wait it relies on) and reports whether n timers were armed.
func (c *Manual) AwaitTimers(n int, within time.Duration) bool {
	giveUp := time.NewTimer(within)
	defer giveUp.Stop()
	for {
		c.mu.Lock()
		if c.armed == nil {
			c.armed = make(chan struct{})
		}
		have, armed := len(c.timers), c.armed
		c.mu.Unlock()
		if have >= n {
			return true
		}
		select {
		case <-armed:
		case <-giveUp.C:
			return false
		}
	}
}

// fire sends the time to every timer the clock has reached and disarms them; c.mu is held.
func (c *Manual) fire() {
	keep := c.timers[:0]
	for _, t := range c.timers {
		if t.at.After(c.now) {
			keep = append(keep, t)
			continue
		}
		t.ch <- c.now // buffered, and each timer fires once
	}
	clear(c.timers[len(keep):])
	c.timers = keep
}

// disarm removes t from the armed timers and reports whether it was armed; c.mu is held.
func (c *Manual) disarm(t *manualTimer) bool {
	for i, x := range c.timers {
		if x == t {
			c.timers = slices.Delete(c.timers, i, i+1)
			return true
		}
	}
	return false
}

type manualTimer struct {
	clock *Manual
	at    time.Time
	ch    chan time.Time
}

func (t *manualTimer) C() <-chan time.Time { return t.ch }

func (t *manualTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	return t.clock.disarm(t)
}
