package apiclient

import (
	"context"
	"sync"
	"time"
)

// deadlines hands the requests that start within the same short span of time one context
// with one deadline, instead of a timer and a cancellable context per request: those cost a
// few percent of a loopback round trip (BenchmarkRequestOverhead), where nothing else in the
// engine comes close. A request so gets at least Config.Timeout and at most a sixteenth more
// (a second more at most). Only requests whose own context can never end take a shared one:
// anything else might have to be cancelled on its own.
type deadlines struct {
	mu sync.Mutex
	at time.Time // the current context's deadline
	// ctx and cancel are the current shared context. A context that is replaced is not
	// cancelled, since requests still use it: its deadline ends it, which frees its timer.
	ctx    context.Context
	cancel context.CancelFunc
}

// get returns a context whose deadline is between timeout and timeout + min(timeout/16, 1s)
// from now.
func (d *deadlines) get(timeout time.Duration) context.Context {
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx == nil || d.at.Before(now.Add(timeout)) {
		d.at = now.Add(timeout + min(timeout/16, time.Second))
		d.ctx, d.cancel = context.WithDeadline(context.Background(), d.at)
	}
	return d.ctx
}
