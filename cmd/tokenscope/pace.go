package main

import (
	"context"
	"sync"
	"time"

	"tokenscope/apiclient"
	"tokenscope/apiclient/profile"
)

// pace sends req at o.rate requests per second (as fast as --concurrency allows when 0),
// never more than o.concurrency in flight, until o.count are sent (no cap when 0) or
// o.duration is up (no limit when 0), or ctx ends. Requests in flight when time is up are
// waited for, not cancelled. each gets every result, one call at a time. It returns how many
// requests it started.
//
// The schedule does not catch up: a start delayed by the concurrency limit moves the ones
// after it, so the pace never goes above o.rate; the summary says what pace was held.
func pace(ctx context.Context, e *apiclient.Engine, req profile.Request, o *fireOpts, each func(apiclient.Result)) int {
	waitCtx := ctx // ends the waits, never a request
	if o.duration > 0 {
		var cancel context.CancelFunc
		waitCtx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	var interval time.Duration
	if o.rate > 0 {
		interval = time.Duration(float64(time.Second) / o.rate)
	}
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		sem     = make(chan struct{}, o.concurrency)
		timer   = time.NewTimer(time.Hour)
		next    = time.Now()
		started int
	)
	timer.Stop()
	defer timer.Stop()
	for o.count == 0 || started < o.count {
		if d := time.Until(next); interval > 0 && d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-waitCtx.Done():
			}
		}
		if waitCtx.Err() != nil {
			break
		}
		select {
		case sem <- struct{}{}:
		case <-waitCtx.Done():
		}
		if waitCtx.Err() != nil { // time was up while waiting for a place, or both at once
			break
		}
		started++
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.Do(ctx, req)
			<-sem
			mu.Lock()
			defer mu.Unlock()
			each(r)
		}()
		if next = next.Add(interval); time.Since(next) > interval {
			next = time.Now() // behind by more than a beat (the concurrency limit): no burst to catch up
		}
	}
	wg.Wait()
	return started
}
