package apiclient

import (
	"context"
	"sync"

	"tokenscope/apiclient/profile"
)

// Burst sends req n times through Do, at most concurrency at once (all at once when
// concurrency ≤ 0), and returns when every request has ended. each, when not nil, is called
// with the request's index (0 ≤ i < n) and its Result as each one ends, in the order they
// end. Calls to each never overlap, so it may keep counts without a lock; it should be quick,
// since the next result waits for it (the next request does not).
func (e *Engine) Burst(ctx context.Context, req profile.Request, n, concurrency int, each func(i int, r Result)) {
	if concurrency <= 0 || concurrency > n {
		concurrency = n
	}
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, max(concurrency, 1))
	)
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.Do(ctx, req)
			<-sem
			if each != nil {
				mu.Lock()
				defer mu.Unlock()
				each(i, r)
			}
		}()
	}
	wg.Wait()
}
