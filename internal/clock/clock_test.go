package clock

import (
	"sync"
	"testing"
	"time"
)

// TestManual: the manual clock moves only when told, and is safe to move and read at once.
func TestManual(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	c := NewManual(t0)
	var _ Clock = c
	if !c.Now().Equal(t0) {
		t.Fatalf("Now %v, want %v", c.Now(), t0)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(2)
		go func() { defer wg.Done(); c.Advance(time.Second) }()
		go func() { defer wg.Done(); _ = c.Now() }()
	}
	wg.Wait()
	if got := c.Now().Sub(t0); got != 8*time.Second {
		t.Errorf("after 8 advances of 1s the clock moved %s", got)
	}
	c.Set(t0)
	if !c.Now().Equal(t0) {
		t.Errorf("Set: %v", c.Now())
	}
}

func TestSystem(t *testing.T) {
	before := time.Now()
	got := System{}.Now()
	if got.Before(before) || got.After(time.Now()) {
		t.Errorf("System.Now %v is not now", got)
	}
}

// fired reports whether ch has a value now, without waiting.
func fired(ch <-chan time.Time) (time.Time, bool) {
	select {
	case t := <-ch:
		return t, true
	default:
		return time.Time{}, false
	}
}

// TestManualTimers: a manual timer fires when the clock is moved to or past its deadline, not
// before, once, with the clock's time; a stopped one never fires; d <= 0 fires at once.
func TestManualTimers(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	c := NewManual(t0)
	a, b, stopped := c.NewTimer(2*time.Second), c.After(5*time.Second), c.NewTimer(time.Second)
	if n, next := c.Pending(); n != 3 || next != time.Second {
		t.Fatalf("Pending = %d, %s; want 3, 1s", n, next)
	}
	if !stopped.Stop() || stopped.Stop() {
		t.Error("Stop: want true for an armed timer, then false")
	}
	c.Advance(1999 * time.Millisecond)
	if _, ok := fired(a.C()); ok {
		t.Fatal("a 2s timer fired at 1.999s")
	}
	if _, ok := fired(stopped.C()); ok {
		t.Fatal("a stopped timer fired")
	}
	c.Advance(time.Millisecond)
	if at, ok := fired(a.C()); !ok || !at.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("a 2s timer at 2s: fired %v at %v", ok, at)
	}
	if a.Stop() {
		t.Error("Stop on a fired timer reported true")
	}
	c.Set(t0.Add(time.Minute))
	if at, ok := fired(b); !ok || !at.Equal(t0.Add(time.Minute)) {
		t.Fatalf("Set past a 5s timer: fired %v at %v", ok, at)
	}
	c.Advance(time.Hour)
	if _, ok := fired(a.C()); ok {
		t.Error("a timer fired twice")
	}
	if _, ok := fired(c.After(0)); !ok {
		t.Error("After(0) did not fire at once")
	}
	if n, _ := c.Pending(); n != 0 {
		t.Errorf("%d timers still armed", n)
	}
}

// TestManualAwaitTimers: a test can wait for the code under test to arm its timer before it
// moves the clock, and is told when none was armed in time.
func TestManualAwaitTimers(t *testing.T) {
	c := NewManual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-c.After(time.Minute)
	}()
	if !c.AwaitTimers(1, 10*time.Second) {
		t.Fatal("the goroutine's timer was never armed")
	}
	c.Advance(time.Minute)
	<-done
	if c.AwaitTimers(1, 10*time.Millisecond) {
		t.Error("AwaitTimers reported a timer when none is armed")
	}
}

// TestManualTimersConcurrent: arming, stopping and moving the clock at once is race-free and
// every timer either fires or is stopped.
func TestManualTimersConcurrent(t *testing.T) {
	c := NewManual(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	var waiters, movers sync.WaitGroup
	for i := range 16 {
		waiters.Add(1)
		movers.Add(1)
		go func() {
			defer waiters.Done()
			tm := c.NewTimer(time.Duration(i+1) * time.Millisecond)
			if i%2 == 0 && tm.Stop() {
				return
			}
			<-tm.C()
		}()
		go func() { defer movers.Done(); c.Advance(time.Millisecond) }()
	}
	movers.Wait()
	// Timers armed after the last move fire on this one; a lost timer would hang the test.
	for !waitTimeout(&waiters, 10*time.Millisecond) {
		c.Advance(time.Hour)
	}
}

// waitTimeout waits for wg for up to d and reports whether it finished.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

func TestSystemTimer(t *testing.T) {
	var c Clock = System{}
	tm := c.NewTimer(time.Millisecond)
	<-tm.C()
	<-c.After(time.Millisecond)
	if c.NewTimer(time.Hour).Stop() != true {
		t.Error("Stop on an armed system timer reported false")
	}
}

// TestManualAutoAdvance: a short wait moves the clock by itself and fires at once (firing the
// timers it passes); a longer one still waits for the clock to be moved.
func TestManualAutoAdvance(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	c := NewManual(t0)
	c.AutoAdvance(100 * time.Millisecond)
	long, passed := c.NewTimer(time.Second), c.NewTimer(150*time.Millisecond)
	if at, ok := fired(c.After(100 * time.Millisecond)); !ok || !at.Equal(t0.Add(100*time.Millisecond)) {
		t.Fatalf("a 100ms wait: fired %v at %v, want at once at +100ms", ok, at)
	}
	if at, ok := fired(c.After(50 * time.Millisecond)); !ok || !at.Equal(t0.Add(150*time.Millisecond)) {
		t.Fatalf("a 50ms wait: fired %v at %v, want at once at +150ms", ok, at)
	}
	if at, ok := fired(passed.C()); !ok || !at.Equal(t0.Add(150*time.Millisecond)) {
		t.Fatalf("the 150ms timer the short waits passed: fired %v at %v", ok, at)
	}
	if _, ok := fired(long.C()); ok {
		t.Fatal("a 1s timer fired at 150ms")
	}
	c.Advance(850 * time.Millisecond)
	if _, ok := fired(long.C()); !ok {
		t.Fatal("a 1s timer did not fire at 1s")
	}
}
