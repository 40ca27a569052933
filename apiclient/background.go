package apiclient

// The background strategy's refresher, and the plumbing that wakes and stops it.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"tokenscope/internal/human"
	"tokenscope/session"
)

// bgLoop is the background goroutine's plumbing: a nudge when the session or the strategy
// changed, and a stop that the refresh backoff heeds too. Channels and a Once: no lock.
type bgLoop struct {
	wake   chan struct{} // nudges the loop to look again
	stop   chan struct{} // closed by Close
	closed sync.Once
	done   chan struct{} // closed when the loop has returned
}

func newBgLoop() bgLoop {
	return bgLoop{wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// nudge wakes the loop, unless a nudge is already pending.
func (b *bgLoop) nudge() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// close stops the loop and waits for it to return.
func (b *bgLoop) close() {
	b.closed.Do(func() {
		close(b.stop)
		<-b.done
	})
}

// backgroundLoop refreshes ahead of exp while the strategy is Background, idle or not.
func (e *Engine) backgroundLoop() {
	defer close(e.refresher.loop.done)
	retry := e.cfg.RefreshBackoff
	var last time.Time
	for {
		v := e.store.view()
		strategy, state, tok := e.refresher.currentStrategy(), e.state(v.sess.State), v.sess.Access
		thr := e.thresholdFor(tok)
		left := tok.Remaining(e.serverNow())

		wait := time.Hour // idle until nudged
		if strategy == Background && state == session.StateActive && tok.HasExpiry() {
			wait = left - thr
			// A server that hands out tokens already inside the threshold must not be hammered.
			if since := e.now().Sub(last); wait <= 0 && since < time.Second {
				wait = time.Second - since
			}
			if wait <= 0 {
				last = e.now()
				reason := func() string {
					return fmt.Sprintf("background: %s left < %s", human.Duration(left), human.Duration(thr))
				}
				err := e.refresh(context.Background(), session.WhyBackground, v.serial, 0, reason)
				var re *RefreshError
				if errors.As(err, &re) && re.Transient {
					wait = retry
					retry = min(retry*2, e.cfg.MaxBackoff)
				} else {
					retry = e.cfg.RefreshBackoff
					continue
				}
			}
		}
		t := e.cfg.Clock.NewTimer(wait)
		select {
		case <-t.C():
		case <-e.refresher.loop.wake:
		case <-e.refresher.loop.stop:
			t.Stop()
			return
		}
		t.Stop()
	}
}
