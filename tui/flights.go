package tui

import "time"

// flights are the requests the TUI sent and holds no answer to yet: the one count the tabs
// line, the requests panel and the heartbeat read. Sends and answers both pass through Update
// (answers come back as messages), so only the Update goroutine touches it and it needs no lock.
type flights struct {
	byIndex map[int]flight // per request of the list
	total   int
	beats   int // the heartbeat's, which it bounds
}

// flight is how many sends of one request are out, and since when the oldest.
type flight struct {
	n     int
	since time.Time
}

func newFlights() *flights { return &flights{byIndex: map[int]flight{}} }

// launch notes n sends of request i at now; beat: the heartbeat sent them.
func (f *flights) launch(i, n int, now time.Time, beat bool) {
	fl := f.byIndex[i]
	if fl.n == 0 {
		fl.since = now
	}
	fl.n += n
	f.byIndex[i] = fl
	f.total += n
	if beat {
		f.beats += n
	}
}

// land notes n answers to request i.
func (f *flights) land(i, n int, beat bool) {
	fl := f.byIndex[i]
	if fl.n -= n; fl.n <= 0 {
		delete(f.byIndex, i)
	} else {
		f.byIndex[i] = fl
	}
	f.total = max(f.total-n, 0)
	if beat {
		f.beats = max(f.beats-n, 0)
	}
}

// out is how many requests are in flight.
func (f *flights) out() int { return f.total }

// of is request i's sends in flight.
func (f *flights) of(i int) flight { return f.byIndex[i] }

// beating is how many of the heartbeat's requests are in flight.
func (f *flights) beating() int { return f.beats }
