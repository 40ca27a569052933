package main

import (
	"bufio"
	"io"
	"sync"
	"time"

	"tokenscope/session"
)

// follower reads the engine's log in order, every event once: from a subscription, filling
// the gaps a full buffer leaves (Log.Append drops an event for a slow subscriber rather than
// slow the HTTP path) from the events the log still keeps. What the log no longer keeps
// either is counted as lost: never skipped silently.
type follower struct {
	log  session.LogView
	sub  *session.Subscription
	next uint64 // the Seq of the next event to deliver
	lost uint64
}

func newFollower(log session.LogView, buffer int) *follower {
	return &follower{log: log, sub: log.Subscribe(buffer), next: 1}
}

// run delivers the events to emit in order: those logged before the subscription, then each
// as it comes, until the subscription is closed, and then what was logged meanwhile.
func (f *follower) run(emit func(session.Event)) { f.runBatched(emit, func() {}) }

// runBatched is run for a writer that buffers (see batched): idle is called whenever the
// events that have arrived are delivered, none waiting in the subscription.
func (f *follower) runBatched(emit func(session.Event), idle func()) {
	f.catchUp(emit)
	idle()
	for ev := range f.sub.C {
		if ev.Seq > f.next {
			f.catchUp(emit) // the buffer was full: take the missed events from the log
		}
		f.deliver(ev, emit)
		if len(f.sub.C) == 0 {
			idle()
		}
	}
	for f.catchUp(emit) { // emit may log (a note that the file failed): until nothing is new
	}
}

// flushEvery is how long a printed line may wait in a printer's buffer: unnoticeable on a
// screen, and a burst's thousands of lines go out in a few writes instead of one each.
const flushEvery = 25 * time.Millisecond

// batched is a printer's buffered writer. Lines go into the buffer; whenever the printer has
// caught up (soon) a flush is due within flushEvery, and flush writes what is left at the end.
// Flushing each time the printer caught up was still a write per event in a burst, the
// printer being faster than the requests that log.
type batched struct {
	mu    sync.Mutex
	bw    *bufio.Writer
	line  []byte
	armed bool // a flush is due
}

// lineFormat appends an event's line, newline included, to b.
type lineFormat func(b []byte, ev session.Event) []byte

func newBatched(w io.Writer) *batched { return &batched{bw: bufio.NewWriterSize(w, 32<<10)} }

// print writes one event's line as format makes it. A line never straddles two writes: behind
// the sanitizer each write is cleaned on its own, and a character cut in two would be lost.
func (b *batched) print(format lineFormat, ev session.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.line = format(b.line[:0], ev)
	if len(b.line) > b.bw.Available() {
		b.bw.Flush() // a line longer than the buffer then goes out whole, in one write
	}
	b.bw.Write(b.line)
}

// soon makes a flush due within flushEvery, unless one is.
func (b *batched) soon() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.armed || b.bw.Buffered() == 0 {
		return
	}
	b.armed = true
	time.AfterFunc(flushEvery, b.flush)
}

// flush writes what the buffer holds.
func (b *batched) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.armed = false
	b.bw.Flush()
}

func (f *follower) deliver(ev session.Event, emit func(session.Event)) bool {
	if ev.Seq < f.next {
		return false // already delivered by a catch-up
	}
	f.lost += ev.Seq - f.next
	f.next = ev.Seq + 1
	emit(ev)
	return true
}

// catchUp delivers what the log keeps from f.next on, and reports whether there was any.
func (f *follower) catchUp(emit func(session.Event)) bool {
	got := false
	for _, ev := range f.log.Since(f.next - 1) {
		got = f.deliver(ev, emit) || got
	}
	return got
}

// logFileBuffer is the --log-file subscription's buffer, in events.
var logFileBuffer = 1 << 14

// logSink writes the events to the --log-file as JSON lines and counts what it could not:
// events the log dropped before it read them and lines whose write failed.
type logSink struct {
	follow *follower
	out    io.WriteCloser
	done   chan struct{}
	once   sync.Once
	stats  logFileStats
}

// logFileStats is what fire's summary says of the --log-file.
type logFileStats struct {
	Written uint64 `json:"written"`
	Dropped uint64 `json:"dropped"`         // missed while the writer was behind, or not written
	Error   string `json:"error,omitempty"` // the first write error
}

// startLogSink follows log into out through w; note, when not nil, is told of the first
// write error (the engine logs it, so that the TUI shows it).
func startLogSink(log session.LogView, out io.WriteCloser, w *exportWriter, note func(string)) *logSink {
	s := &logSink{follow: newFollower(log, logFileBuffer), out: out, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		var failed uint64
		s.follow.run(func(ev session.Event) {
			if err := w.write(ev); err != nil {
				if failed++; failed == 1 {
					s.stats.Error = err.Error()
					if note != nil {
						note("log file: writing failed, events are missing from it: " + err.Error())
					}
				}
				return
			}
			s.stats.Written++
		})
		s.stats.Dropped = s.follow.lost + failed
		if err := writeExchanges(w.jw, w.rec); err != nil && s.stats.Error == "" {
			s.stats.Error = err.Error() // the last exchanges, answered after the last event
		}
	}()
	return s
}

// finish stops following, closes the file and returns the counts; written + dropped is every
// event logged until then.
func (s *logSink) finish() logFileStats {
	s.once.Do(func() {
		s.follow.sub.Close()
		<-s.done
		if err := s.out.Close(); err != nil && s.stats.Error == "" {
			s.stats.Error = err.Error()
		}
	})
	return s.stats
}
