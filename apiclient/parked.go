package apiclient

// The parked queue: requests that wait for a login while the session is dead.

import (
	"cmp"
	"slices"
	"sync"

	"tokenscope/apiclient/profile"
)

// parkedQueue holds parked requests up to a bound and gives them back in the order the user
// sent them (request ids are given out as requests arrive). Requests of one burst park in
// whatever order their 401s came back, so the queue is sorted when taken from, not kept in
// the order parked. It has its own lock and takes no other.
type parkedQueue struct {
	mu     sync.Mutex
	max    int // Config.MaxParked
	reqs   []*parkedReq
	sorted bool // reqs is in request-id order
}

type parkedReq struct {
	id  uint64
	req profile.Request
}

// push parks a request and returns how many wait now; ok is false when the queue is full.
func (q *parkedQueue) push(id uint64, req profile.Request) (n int, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.reqs) >= q.max {
		return len(q.reqs), false
	}
	q.reqs = append(q.reqs, &parkedReq{id: id, req: req})
	q.sorted = false
	return len(q.reqs), true
}

// pop takes the earliest-sent request; ok is false when none waits.
func (q *parkedQueue) pop() (pr *parkedReq, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.reqs) == 0 {
		return nil, false
	}
	if !q.sorted {
		slices.SortStableFunc(q.reqs, func(a, b *parkedReq) int { return cmp.Compare(a.id, b.id) })
		q.sorted = true
	}
	pr = q.reqs[0]
	q.reqs[0] = nil // the request's body is not kept alive by the array
	q.reqs = q.reqs[1:]
	return pr, true
}

// len is how many requests wait.
func (q *parkedQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.reqs)
}
