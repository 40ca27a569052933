package session

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"tokenscope/internal/human"
)

// Kind is what happened.
type Kind int

// Event kinds. Their String form is stable: `fire --json`, exports and filters use it.
const (
	KindRequest       Kind = iota + 1 // a request was sent (one per attempt)
	KindResponse                      // an answer arrived
	KindUnauthorized                  // a 401 the profile recognises as "access expired"
	KindRequestFailed                 // the request ended without a usable answer
	KindRefreshStart                  // a refresh call begins
	KindRefreshWait                   // a caller waits on a refresh already in flight
	KindRefreshOK                     // a refresh succeeded
	KindRefreshFailed                 // a refresh failed, transient or fatal
	KindRetry                         // a request is resent after a 401
	KindParked                        // a request is kept until the user logs in again
	KindReplayed                      // a parked request is sent again
	KindLogin                         // a login succeeded
	KindLoginFailed                   // a login failed
	KindLogout                        // the session ended (by the user or a fatal refresh)
	KindSkew                          // the estimated server clock skew changed
	KindNote                          // anything else worth a line (strategy changed, ...)
	KindFinding                       // observe: a rule about the watched client fired (Rule names it)
)

var kindNames = map[Kind]string{
	KindRequest: "request", KindResponse: "response", KindUnauthorized: "401",
	KindRequestFailed: "request-failed", KindRefreshStart: "refresh-start", KindRefreshWait: "refresh-wait",
	KindRefreshOK: "refresh-ok", KindRefreshFailed: "refresh-failed", KindRetry: "retry",
	KindParked: "parked", KindReplayed: "replayed", KindLogin: "login", KindLoginFailed: "login-failed",
	KindLogout: "logout", KindSkew: "skew", KindNote: "note",
	KindFinding: "finding",
}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return "unknown"
}

// MarshalText makes kinds readable in JSON.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Why a refresh started.
type Why int

// Refresh reasons.
const (
	WhyNone       Why = iota
	WhyProactive      // exp is within the threshold before a request
	WhyReactive       // a request got a 401
	WhyBackground     // the background timer
	WhyManual         // the user asked
)

func (w Why) String() string {
	switch w {
	case WhyProactive:
		return "proactive"
	case WhyReactive:
		return "reactive"
	case WhyBackground:
		return "background"
	case WhyManual:
		return "manual"
	default:
		return ""
	}
}

// MarshalText makes reasons readable in JSON.
func (w Why) MarshalText() ([]byte, error) { return []byte(w.String()), nil }

// Event is one step of the story. Fields that do not apply to a kind are zero. Tokens appear
// only as fingerprints.
type Event struct {
	Seq       uint64        `json:"seq"`
	Time      time.Time     `json:"time"`
	Kind      Kind          `json:"kind"`
	RequestID uint64        `json:"request_id,omitempty"`
	RefreshID uint64        `json:"refresh_id,omitempty"`
	Method    string        `json:"method,omitempty"`
	Path      string        `json:"path,omitempty"`
	Status    int           `json:"status,omitempty"`
	Duration  time.Duration `json:"duration_ns,omitempty"`
	Attempt   int           `json:"attempt,omitempty"`
	Why       Why           `json:"why,omitempty"`
	// End is why the session ended, on the events that end it (logout) and on login-failed.
	End End `json:"end,omitempty"`
	// Reason is the human sentence: "proactive: 3.2s left < 5s", "401 code 50014", ...
	Reason     string        `json:"reason,omitempty"`
	Transient  bool          `json:"transient,omitempty"`
	Generation int           `json:"generation,omitempty"`
	Exp        time.Time     `json:"exp,omitzero"`
	Rotated    bool          `json:"rotated,omitempty"`
	Waiting    int           `json:"waiting,omitempty"`
	Token      string        `json:"token,omitempty"` // fingerprint of the token involved
	Skew       time.Duration `json:"skew_ns,omitempty"`
	State      State         `json:"state,omitempty"`
	// Rule names the finding (stampede, lost-after-401, ...) of a KindFinding event.
	Rule string `json:"rule,omitempty"`
}

// JSON renders the event as one line of JSON, safe to print: a reason quoting a server's
// answer cannot carry terminal controls or bidi overrides through it.
func (e Event) JSON() []byte { return e.AppendJSON(nil) }

// DefaultLogSize is how many events a Log keeps when not told otherwise.
const DefaultLogSize = 10000

// MaxTextBytes bounds each text an event holds (its reason, method, path and token): a server
// decides much of what a reason quotes, and an answer may be megabytes. Clip cuts to it.
const MaxTextBytes = 2 << 10

// bytesPerEvent is the average text per event a log or a subscription budgets for when not told
// otherwise: several times what events usually hold (a reason of a line or two), so only events
// quoting long server texts meet the byte bound before the count.
const bytesPerEvent = 512

// minBudget is the least byte budget a log or subscription is given: room for hundreds of
// events at MaxTextBytes.
const minBudget = 1 << 20

// Clip returns s when it is at most MaxTextBytes long; otherwise its start, cut at a UTF-8
// boundary, and how much was cut: "… 1048576 bytes more". The result never shares memory with
// a long s, so keeping it does not keep the whole text alive.
func Clip(s string) string { return ClipMore(s, 0) }

// ClipMore is Clip for the start of a longer text, of which more bytes were cut already: it
// says how many bytes were cut in all.
func ClipMore(s string, more int) string {
	if len(s) <= MaxTextBytes && more <= 0 {
		return s
	}
	cut := min(len(s), MaxTextBytes)
	for cut > 0 && cut < len(s) && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "… " + strconv.Itoa(len(s)-cut+max(more, 0)) + " bytes more"
}

// MaskText runs the texts an event may quote a secret in (its path and its reason, which say
// what servers and users wrote) through mask, in place: what every output of events does with
// the session's secrets before the event leaves the program.
func (e *Event) MaskText(mask func(string) string) {
	e.Path, e.Reason = mask(e.Path), mask(e.Reason)
}

// clipText clips every text field of e in place (Append clips its own copy).
func (e *Event) clipText() {
	if len(e.Reason) > MaxTextBytes {
		e.Reason = Clip(e.Reason)
	}
	if len(e.Method) > MaxTextBytes {
		e.Method = Clip(e.Method)
	}
	if len(e.Path) > MaxTextBytes {
		e.Path = Clip(e.Path)
	}
	if len(e.Token) > MaxTextBytes {
		e.Token = Clip(e.Token)
	}
}

// textBytes is what e's texts take: the measure of the byte budgets.
func (e *Event) textBytes() int { return len(e.Reason) + len(e.Method) + len(e.Path) + len(e.Token) }

// Log is a bounded, concurrent event log: a ring buffer of the newest events plus a running
// total, with subscriptions that never block the writer. It is bounded twice: in events, and in
// the bytes of text those events hold (the oldest go first when either is over).
type Log struct {
	mu       sync.Mutex
	ring     []Event
	head     int // index of the oldest event kept
	n        int // events kept
	bytes    int // text bytes of the events kept
	maxBytes int
	total    uint64
	subs     map[*Subscription]struct{}
}

// NewLog returns a log that keeps the newest size events (DefaultLogSize when size <= 0), and
// no more of them than hold 512 bytes of text each on average (at least 1 MiB in all).
func NewLog(size int) *Log {
	if size <= 0 {
		size = DefaultLogSize
	}
	return NewLogLimits(size, max(size*bytesPerEvent, minBudget))
}

// NewLogLimits returns a log that keeps at most size events holding at most maxBytes bytes of
// text (reasons, paths, ...); the newest event is kept whatever its size. Defaults as NewLog.
func NewLogLimits(size, maxBytes int) *Log {
	if size <= 0 {
		size = DefaultLogSize
	}
	if maxBytes <= 0 {
		maxBytes = max(size*bytesPerEvent, minBudget)
	}
	return &Log{ring: make([]Event, size), maxBytes: maxBytes, subs: map[*Subscription]struct{}{}}
}

// Append records e, giving it the next sequence number, and hands it to subscribers. Texts
// longer than MaxTextBytes are clipped first. A subscriber whose buffer is full misses the
// event (and counts it) rather than slow the caller, which is on the HTTP path.
func (l *Log) Append(e Event) Event {
	l.Put(&e)
	return e
}

// Put is Append without copies of e on the caller's stack: the engine emits events from
// requests deep in resty's hooks, a thousand at once in a burst, whose stacks each grew
// (a copy of every frame) for an event passed by value three times. e's texts are clipped and
// its Seq set; the log keeps a copy.
func (l *Log) Put(e *Event) {
	e.clipText()
	size := e.textBytes()
	l.mu.Lock()
	l.total++
	e.Seq = l.total
	if l.n == len(l.ring) {
		// Full: the oldest's slot takes the new event, so it needs no clearing.
		l.bytes -= l.ring[l.head].textBytes()
		l.head, l.n = l.next(l.head), l.n-1
	}
	i := l.head + l.n
	if i >= len(l.ring) {
		i -= len(l.ring)
	}
	l.ring[i] = *e
	l.n++
	l.bytes += size
	for l.bytes > l.maxBytes && l.n > 1 {
		l.evictOldest()
	}
	if len(l.subs) > 0 {
		for s := range l.subs {
			s.offer(e, size)
		}
	}
	l.mu.Unlock()
}

// evictOldest drops the oldest event, clearing its slot so that its texts can be collected.
func (l *Log) evictOldest() {
	old := &l.ring[l.head]
	l.bytes -= old.textBytes()
	*old = Event{}
	l.head, l.n = l.next(l.head), l.n-1
}

// next is the ring index after i.
func (l *Log) next(i int) int {
	if i++; i == len(l.ring) {
		return 0
	}
	return i
}

// Total is the number of events ever appended.
func (l *Log) Total() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// Len is the number of events kept.
func (l *Log) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// Cap is the most events the log keeps.
func (l *Log) Cap() int { return len(l.ring) }

// Events returns the kept events, oldest first.
func (l *Log) Events() []Event { return l.Since(0) }

// Since returns the kept events with Seq > seq, oldest first.
func (l *Log) Since(seq uint64) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	// The kept events are numbered total-n+1 … total: skip those up to seq without looking.
	skip := 0
	if first := l.total - uint64(l.n) + 1; seq >= first {
		skip = int(min(seq-first+1, uint64(l.n)))
	}
	if skip == l.n {
		return nil
	}
	ordered := make([]Event, 0, l.n-skip)
	start, end := (l.head+skip)%len(l.ring), l.head+l.n
	if end > len(l.ring) && start >= l.head {
		ordered = append(ordered, l.ring[start:]...)
		start = 0
	}
	return append(ordered, l.ring[start:(end-1)%len(l.ring)+1]...)
}

// LogView is the read side of a Log, for everything but the log's one writer: the engine
// hands out a LogView so that only it appends, stamping events with its own clock.
type LogView struct{ l *Log }

// View returns the read side of l.
func (l *Log) View() LogView { return LogView{l} }

// Events returns the kept events, oldest first.
func (v LogView) Events() []Event { return v.l.Events() }

// Since returns the kept events with Seq > seq, oldest first.
func (v LogView) Since(seq uint64) []Event { return v.l.Since(seq) }

// Subscribe returns a subscription with a buffer of n events (see Log.Subscribe).
func (v LogView) Subscribe(n int) *Subscription { return v.l.Subscribe(n) }

// Total is the number of events ever appended.
func (v LogView) Total() uint64 { return v.l.Total() }

// Len is the number of events kept.
func (v LogView) Len() int { return v.l.Len() }

// Cap is the most events the log keeps.
func (v LogView) Cap() int { return v.l.Cap() }

// Subscription receives events as they are appended. Its buffer is bounded in events and in
// the bytes of text the queued events hold.
type Subscription struct {
	C       <-chan Event
	ch      chan Event
	log     *Log
	dropped uint64

	// sizes are the text sizes of the events sent, oldest first (a ring of cap(ch)); queued is
	// their sum. The reader takes events without telling, but what it has not taken yet are the
	// newest len(ch) of them: offer forgets the rest before it counts.
	sizes     []int32
	sHead, sN int
	queued    int
	maxQueued int
}

// Subscribe returns a subscription with a buffer of n events (1024 when n <= 0), holding no
// more than 512 bytes of text per event on average (at least 1 MiB): a reader that falls
// behind while every event quotes a long server text misses events rather than keep megabytes
// of them. Close it when done.
func (l *Log) Subscribe(n int) *Subscription {
	if n <= 0 {
		n = 1024
	}
	return l.subscribe(n, max(n*bytesPerEvent, minBudget))
}

func (l *Log) subscribe(n, maxBytes int) *Subscription {
	ch := make(chan Event, n)
	s := &Subscription{C: ch, ch: ch, log: l, sizes: make([]int32, n), maxQueued: maxBytes}
	l.mu.Lock()
	l.subs[s] = struct{}{}
	l.mu.Unlock()
	return s
}

// offer sends e to the subscriber unless its buffer is full in events or in bytes; the caller
// holds l.mu.
func (s *Subscription) offer(e *Event, size int) {
	for s.sN > len(s.ch) {
		s.queued -= int(s.sizes[s.sHead])
		s.sHead = (s.sHead + 1) % len(s.sizes)
		s.sN--
	}
	if s.sN > 0 && s.queued+size > s.maxQueued {
		s.dropped++
		return
	}
	select {
	case s.ch <- *e:
		s.sizes[(s.sHead+s.sN)%len(s.sizes)] = int32(size)
		s.sN++
		s.queued += size
	default:
		s.dropped++
	}
}

// Dropped is how many events this subscriber missed because its buffer was full. A reader that
// sees it grow can catch up with Log.Since.
func (s *Subscription) Dropped() uint64 {
	s.log.mu.Lock()
	defer s.log.mu.Unlock()
	return s.dropped
}

// Close stops the subscription and closes its channel.
func (s *Subscription) Close() {
	s.log.mu.Lock()
	defer s.log.mu.Unlock()
	if _, ok := s.log.subs[s]; ok {
		delete(s.log.subs, s)
		close(s.ch)
	}
}

// Text is the event as one readable line, without its time: what `fire` prints and what the
// TUI's log shows beside its own time column and icon.
func (e Event) Text() string {
	var b strings.Builder
	if e.RequestID != 0 {
		fmt.Fprintf(&b, "#%-5d ", e.RequestID)
	} else {
		b.WriteString("       ")
	}
	fmt.Fprintf(&b, "%-14s", e.Kind)
	col := b.Len() // the message column: what follows the kind starts one space after it
	if e.Method != "" {
		fmt.Fprintf(&b, " %s %s", e.Method, e.Path)
	}
	if e.Status != 0 && e.Kind != KindUnauthorized {
		fmt.Fprintf(&b, " → %d", e.Status)
	}
	if e.Duration > 0 {
		fmt.Fprintf(&b, " in %s", human.Duration(e.Duration))
	}
	if e.Kind == KindRequest && e.Generation > 0 {
		fmt.Fprintf(&b, " (gen #%d)", e.Generation)
	}
	if e.Kind == KindRefreshStart || e.Kind == KindRefreshOK || (e.Kind == KindRefreshFailed && e.RefreshID != 0) {
		fmt.Fprintf(&b, " refresh #%d", e.RefreshID)
	}
	if e.Kind == KindRefreshFailed {
		if e.Transient {
			fmt.Fprintf(&b, " (transient, attempt %d)", e.Attempt)
		} else {
			b.WriteString(" (fatal)")
		}
	}
	if e.Rule != "" {
		fmt.Fprintf(&b, " %s:", e.Rule)
		col = b.Len() // the finding's sentence follows its rule as a message does its kind
	}
	if e.Reason != "" {
		if b.Len() == col {
			b.WriteString(" ")
		} else {
			b.WriteString("  ")
		}
		b.WriteString(e.Reason)
	}
	return foldLines(b.String())
}

// lineBreaks are what a terminal, an editor or a log reader may start a new line at.
const lineBreaks = "\r\n\v\f\u0085\u2028\u2029"

// foldLines shows every line break as ⏎ (CRLF as one), as sanitize.Line does: an event is one
// line however the server's text it quotes was laid out, so that it cannot forge the next one.
func foldLines(s string) string {
	if !strings.ContainsAny(s, lineBreaks) {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "⏎")
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune(lineBreaks, r) {
			return '⏎'
		}
		return r
	}, s)
}
