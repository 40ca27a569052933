package tui

import (
	"slices"

	"tokenscope/apiclient"
)

// maxAnswers bounds the answers kept: the newest, and the last one to each request of the list.
const maxAnswers = 512

// maxHistory bounds the history rows under the request list.
const maxHistory = 100

// answers are the answers the TUI holds, each kept once, by request id: the requests panel's
// answer to the selected request, the history under the list and the detail all read them here,
// so a replay that replaces a parked answer shows everywhere at once. Only the Update goroutine
// touches them (answers arrive as messages), so they need no lock.
type answers struct {
	byID  map[uint64]*answer
	order []uint64       // ids in the order answered, oldest first
	last  map[int]uint64 // the latest answer to each request of the list, by its index
}

// answer is one answer: the engine's result, which says which generation each attempt carried.
type answer struct {
	res apiclient.Result
}

func newAnswers() *answers {
	return &answers{byID: map[uint64]*answer{}, last: map[int]uint64{}}
}

// add keeps the answer to request i of the list (i < 0: to none of them).
func (a *answers) add(i int, r apiclient.Result) {
	if r.ID == 0 {
		return
	}
	if _, ok := a.byID[r.ID]; !ok {
		a.order = append(a.order, r.ID)
	}
	a.byID[r.ID] = &answer{res: r}
	if i >= 0 {
		a.unlast(i)
		a.last[i] = r.ID
	}
	for len(a.order) > maxAnswers {
		id := a.order[0]
		a.order = a.order[1:]
		if !a.isLast(id) { // the panel shows it while its request is selected
			delete(a.byID, id)
		}
	}
}

func (a *answers) isLast(id uint64) bool {
	for _, v := range a.last {
		if v == id {
			return true
		}
	}
	return false
}

// replace puts a replay's answer in the place of the parked answer of the same request; it
// reports whether there was one.
func (a *answers) replace(r apiclient.Result) bool {
	old, ok := a.byID[r.ID]
	if !ok {
		return false
	}
	*old = answer{res: r}
	return true
}

// get is the answer to request id.
func (a *answers) get(id uint64) (apiclient.Result, bool) {
	if x, ok := a.byID[id]; ok {
		return x.res, true
	}
	return apiclient.Result{}, false
}

// of is the latest answer to request i of the list.
func (a *answers) of(i int) (apiclient.Result, bool) {
	id, ok := a.last[i]
	if !ok {
		return apiclient.Result{}, false
	}
	return a.get(id)
}

// newest are up to n answers, newest first.
func (a *answers) newest(n int) []*answer {
	out := make([]*answer, 0, max(min(n, len(a.order)), 0))
	for _, id := range slices.Backward(a.order) {
		if len(out) >= n {
			break
		}
		if x, ok := a.byID[id]; ok {
			out = append(out, x)
		}
	}
	return out
}

// forget drops which answer is request i's: the request changed, and the answer was to the
// request as it was. The answer stays in the history.
func (a *answers) forget(i int) { a.unlast(i) }

// unlast drops request i's latest answer, and the answer with it once the history let it go.
func (a *answers) unlast(i int) {
	id, ok := a.last[i]
	if !ok {
		return
	}
	delete(a.last, i)
	if !slices.Contains(a.order, id) {
		delete(a.byID, id)
	}
}

// deleted follows the list when request i left it: the requests after it move up.
func (a *answers) deleted(i int) {
	a.unlast(i)
	last := make(map[int]uint64, len(a.last))
	for j, id := range a.last {
		switch {
		case j < i:
			last[j] = id
		case j > i:
			last[j-1] = id
		}
	}
	a.last = last
}
