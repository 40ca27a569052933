package apiclient

// Learning the server's clock from Date headers and iat claims: exp is compared with it.

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"tokenscope/internal/human"
	"tokenscope/session"
)

// skewTracker is what the engine knows of the server's clock: the estimator, the estimate
// in use (what exp is compared with), what the user was last told, and the last Date header
// read. It has its own lock and takes no other.
type skewTracker struct {
	mu       sync.Mutex
	est      session.SkewEstimator
	cur      session.SkewEstimate // the estimate in use
	applied  atomic.Int64         // cur.Applied(), for serverNow
	shown    time.Duration        // the offset the user was last told of
	lastDate time.Time            // lastRaw parsed
	lastRaw  string               // the last Date header read
	lastRecv time.Time            // when the answer that carried it arrived
}

// estimate is the estimate in use.
func (t *skewTracker) estimate() session.SkewEstimate {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cur
}

// serverNow is localNow on the server's clock, as the estimate has it. It runs for every
// request, so it reads the offset without the lock.
func (t *skewTracker) serverNow(localNow time.Time) time.Time {
	return localNow.Add(time.Duration(t.applied.Load()))
}

// observeDate learns the server clock from a Date header (one-second resolution). It runs on
// every answer, so it parses each distinct Date once, takes the lock once, and skips an answer
// whose Date repeats the last one's within a quarter second: a burst's answers add nothing to
// what their first one said. It returns a skew event when the estimate moved enough to say.
func (t *skewTracker) observeDate(h http.Header, sent, recv time.Time) (session.Event, bool) {
	// net/http canonicalizes the header keys it reads, so the map is indexed directly: Get
	// would canonicalize "Date" again for every answer.
	vs := h["Date"]
	if len(vs) == 0 || vs[0] == "" {
		return session.Event{}, false
	}
	raw := vs[0]
	t.mu.Lock()
	defer t.mu.Unlock()
	d, ok := t.lastDate, t.lastRaw == raw
	if ok && recv.Sub(t.lastRecv) < dateRepeat && recv.Sub(t.lastRecv) >= 0 {
		return session.Event{}, false
	}
	t.lastRecv = recv
	if !ok {
		var err error
		if d, err = http.ParseTime(raw); err != nil {
			return session.Event{}, false
		}
		t.lastDate, t.lastRaw = d, raw
	}
	return t.changedLocked(t.est.Observe(d, time.Second, sent, recv))
}

// dateRepeat is how soon an answer with the same Date as the last adds no sample.
const dateRepeat = 250 * time.Millisecond

// observeToken offers the iat of a token from a login or refresh answer. It is a claim about
// when the token was minted, not a clock reading: the estimator uses it only without a Date
// header, and rejects an iat copied from the refresh token just presented (stock simplejwt).
func (t *skewTracker) observeToken(tok, presented session.Token, sent, recv time.Time) (session.Event, bool) {
	if tok.IssuedAt.IsZero() {
		return session.Event{}, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.changedLocked(t.est.ObserveToken(tok, presented, sent, recv))
}

// changedLocked installs a new estimate and returns a skew event when it moved enough to
// tell the user; the caller holds t.mu and the engine emits the event.
func (t *skewTracker) changedLocked(est session.SkewEstimate) (session.Event, bool) {
	t.cur = est
	t.applied.Store(int64(est.Applied()))
	show := est.Significant(time.Second) && human.Abs(est.Offset-t.shown) >= time.Second
	if show {
		t.shown = est.Offset
	} else if !est.Significant(time.Second) && t.shown != 0 && human.Abs(est.Offset) < time.Second {
		t.shown = 0
		show = true
	}
	if !show {
		return session.Event{}, false
	}
	dir := "ahead of"
	if est.Offset < 0 {
		dir = "behind"
	}
	reason := fmt.Sprintf("server clock %s %s this one (±%s, from the %s); exp is compared with the server's time", human.Duration(human.Abs(est.Offset)), dir, human.Duration(est.Uncertainty), est.Source)
	if !est.Significant(time.Second) {
		reason = fmt.Sprintf("server clock agrees with this one again (%+.1fs ±%s)", est.Offset.Seconds(), human.Duration(est.Uncertainty))
	}
	return session.Event{Kind: session.KindSkew, Skew: est.Offset, Reason: reason}, true
}

// observeDate feeds an answer's Date header to the skew tracker and logs what it learned.
func (e *Engine) observeDate(h http.Header, sent, recv time.Time) {
	if ev, show := e.skew.observeDate(h, sent, recv); show {
		e.emit(&ev)
	}
}

// observeIat feeds a new token's iat to the skew tracker (see skewTracker.observeToken).
func (e *Engine) observeIat(tok session.Token, sent, recv time.Time) {
	_, presented := e.store.tokens()
	if ev, show := e.skew.observeToken(tok, presented, sent, recv); show {
		e.emit(&ev)
	}
}
