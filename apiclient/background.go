package apiclient

// The background strategy's refresher.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"tokenscope/internal/human"
	"tokenscope/session"
)

// backgroundLoop refreshes ahead of exp while the strategy is Background, idle or not.
func (e *Engine) backgroundLoop() {
	defer close(e.bgDone)
	retry := e.cfg.RefreshBackoff
	var last time.Time
	for {
		e.mu.Lock()
		strategy, state, tok, serial := e.strategy, e.sess.State, e.sess.Access, e.serial
		thr := e.thresholdFor(tok)
		left := tok.Remaining(e.sess.ServerNow(e.now()))
		e.mu.Unlock()

		wait := time.Hour // idle until nudged
		if strategy == Background && state == session.StateActive && tok.HasExpiry() {
			wait = left - thr
			// A server that hands out tokens already inside the threshold must not be hammered.
			if since := e.now().Sub(last); wait <= 0 && since < time.Second {
				wait = time.Second - since
			}
			if wait <= 0 {
				last = e.now()
				reason := fmt.Sprintf("background: %s left < %s", human.Duration(left), human.Duration(thr))
				err := e.refresh(context.Background(), session.WhyBackground, serial, 0, reason)
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
		t := e.clock.NewTimer(wait)
		select {
		case <-t.C():
		case <-e.wake:
		case <-e.stop:
			t.Stop()
			return
		}
		t.Stop()
	}
}
