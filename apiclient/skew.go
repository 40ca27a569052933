package apiclient

// Learning the server's clock from Date headers and iat claims: exp is compared with it.

import (
	"fmt"
	"net/http"
	"time"

	"tokenscope/internal/human"
	"tokenscope/session"
)

// observeDate learns the server clock from a Date header (one-second resolution). It runs on
// every answer, so it parses each distinct Date once, takes the lock once, and skips an answer
// whose Date repeats the last one's within a quarter second: a burst's answers add nothing to
// what their first one said.
func (e *Engine) observeDate(h http.Header, sent, recv time.Time) {
	// net/http canonicalizes the header keys it reads, so the map is indexed directly: Get
	// would canonicalize "Date" again for every answer.
	vs := h["Date"]
	if len(vs) == 0 || vs[0] == "" {
		return
	}
	raw := vs[0]
	e.mu.Lock()
	d, ok := e.lastDate, e.lastDateRaw == raw
	if ok && recv.Sub(e.lastDateRecv) < dateRepeat && recv.Sub(e.lastDateRecv) >= 0 {
		e.mu.Unlock()
		return
	}
	e.lastDateRecv = recv
	if !ok {
		var err error
		if d, err = http.ParseTime(raw); err != nil {
			e.mu.Unlock()
			return
		}
		e.lastDate, e.lastDateRaw = d, raw
	}
	ev, show := e.skewChangedLocked(e.skew.Observe(d, time.Second, sent, recv))
	e.mu.Unlock()
	if show {
		e.emit(ev)
	}
}

// dateRepeat is how soon an answer with the same Date as the last adds no sample.
const dateRepeat = 250 * time.Millisecond

// observeIat offers the iat of a token from a login or refresh answer. It is a claim about
// when the token was minted, not a clock reading: the estimator uses it only without a Date
// header, and rejects an iat copied from the refresh token just presented (stock simplejwt).
func (e *Engine) observeIat(t session.Token, sent, recv time.Time) {
	if t.IssuedAt.IsZero() {
		return
	}
	e.mu.Lock()
	ev, show := e.skewChangedLocked(e.skew.ObserveToken(t, e.sess.Refresh, sent, recv))
	e.mu.Unlock()
	if show {
		e.emit(ev)
	}
}

// skewChangedLocked installs a new estimate and returns a skew event when it moved enough to
// tell the user; the caller holds e.mu and emits the event after unlocking.
func (e *Engine) skewChangedLocked(est session.SkewEstimate) (session.Event, bool) {
	e.sess.Skew = est
	show := est.Significant(time.Second) && human.Abs(est.Offset-e.skewShown) >= time.Second
	if show {
		e.skewShown = est.Offset
	} else if !est.Significant(time.Second) && e.skewShown != 0 && human.Abs(est.Offset) < time.Second {
		e.skewShown = 0
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
