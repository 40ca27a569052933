package session

import (
	"fmt"
	"time"
)

// SkewSource says what a skew estimate rests on.
type SkewSource string

// Where a skew estimate comes from.
const (
	SkewFromNone SkewSource = "none"        // nothing believable measured yet
	SkewFromDate SkewSource = "Date header" // the server's clock (RFC 9110 §6.6.1)
	SkewFromIat  SkewSource = "token iat"   // fresh tokens' iat, from a server that sends no Date
)

// MaxSkew bounds the offsets believed: a server whose clock is further off than this from this
// machine's is broken or lying, and its timestamps are rejected, not followed.
const MaxSkew = 24 * time.Hour

// SkewRing is the most samples an estimate rests on: the newest ones of the current run.
const SkewRing = 16

// SkewEstimate is the server clock's offset from the local clock, with the half-width of the
// interval it is known to lie in, and what it rests on.
type SkewEstimate struct {
	Known       bool
	Offset      time.Duration // server minus local
	Uncertainty time.Duration // ± this much
	Samples     int           // samples the estimate rests on (at most SkewRing)
	// Source is where the estimate comes from: SkewFromDate, SkewFromIat, or SkewFromNone when
	// nothing is known (the zero value means the same).
	Source SkewSource
	// Rejected counts timestamps not believed since the last Reset: beyond MaxSkew, a lone
	// outlier, a token iat that disagrees with the Date header or is older than its round trip.
	Rejected int
}

func (e SkewEstimate) String() string {
	if !e.Known {
		return "unknown"
	}
	return fmt.Sprintf("%+.1fs ±%.1fs", e.Offset.Seconds(), e.Uncertainty.Seconds())
}

// Describe is String with what the estimate rests on, for a header or a log line:
// "+60.0s ±0.5s (Date header, 5 samples)", "unknown (2 rejected)".
func (e SkewEstimate) Describe() string {
	var basis string
	if e.Known {
		src := e.Source
		if src == "" {
			src = SkewFromNone
		}
		basis = fmt.Sprintf("%s, %d sample%s", src, e.Samples, plural(e.Samples))
	}
	if e.Rejected > 0 {
		if basis != "" {
			basis += ", "
		}
		basis += fmt.Sprintf("%d rejected", e.Rejected)
	}
	if basis == "" {
		return e.String()
	}
	return e.String() + " (" + basis + ")"
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Applied is the offset to add to the local clock: the estimate when it is significant (at
// least a second clear of zero), otherwise zero.
func (e SkewEstimate) Applied() time.Duration {
	if !e.Significant(time.Second) {
		return 0
	}
	return e.Offset
}

// Significant reports whether the skew is certainly at least min away from zero.
func (e SkewEstimate) Significant(min time.Duration) bool {
	if !e.Known {
		return false
	}
	off := e.Offset
	if off < 0 {
		off = -off
	}
	return off-e.Uncertainty >= min
}

// ExpiryMargin is how far past exp, on the server's slowest plausible clock, UntilServerPast
// waits: a server that compares with > rather than ≥, and its own time to read the clock.
const ExpiryMargin = 100 * time.Millisecond

// UntilServerPast is how long to wait from localNow until the server's clock is certainly past
// t (by ExpiryMargin): the lowest offset the estimate allows is used, so the wait covers the
// round trips and the Date header's one-second resolution that the uncertainty is made of. With
// nothing known the server is taken to be in step but up to a Date-header second behind. The
// result is negative when the moment has passed.
func (e SkewEstimate) UntilServerPast(t, localNow time.Time) time.Duration {
	low := -time.Second
	if e.Known {
		low = e.Offset - e.Uncertainty // both bounded by MaxSkew: no overflow
	}
	// The server's clock at local instant L is at least L+low; it is past t+margin once
	// L ≥ t+margin-low.
	return t.Add(ExpiryMargin - low).Sub(localNow)
}

// UntilAccessExpired is how long to wait from localNow until the access token is dead by the
// server's clock (see SkewEstimate.UntilServerPast); 0 when it has no expiry, negative when it
// is already dead. `fire --wait-expiry` sleeps this long.
func (s Session) UntilAccessExpired(localNow time.Time) time.Duration {
	if !s.Access.HasExpiry() {
		return 0
	}
	return s.Skew.UntilServerPast(s.Access.ExpiresAt, localNow)
}

// skewSample is one timestamp's bounds on the offset: the server stamped it at some local
// instant between sent and received, so the offset lies in [lo, hi].
type skewSample struct{ lo, hi time.Duration }

func (x skewSample) overlaps(lo, hi time.Duration) bool { return x.lo <= hi && lo <= x.hi }

// sampleOf turns a stamp into a sample. ok is false for a stamp that says nothing (zero, or an
// exchange received before it was sent); absurd is true for one that puts the offset beyond
// MaxSkew. Every bound is checked before it is combined, so no arithmetic can overflow: a stamp
// centuries away saturates in time.Sub and is then rejected.
func sampleOf(stamp time.Time, resolution time.Duration, sent, received time.Time) (x skewSample, ok, absurd bool) {
	if stamp.IsZero() || received.Before(sent) || resolution < 0 {
		return skewSample{}, false, false
	}
	if resolution > MaxSkew {
		return skewSample{}, false, true
	}
	lo := stamp.Sub(received)
	hi := stamp.Sub(sent)
	if lo < -MaxSkew || hi > MaxSkew { // lo ≤ hi: received is not before sent
		return skewSample{}, false, true
	}
	hi += resolution // |hi| ≤ MaxSkew and resolution ≤ MaxSkew
	if hi > MaxSkew {
		return skewSample{}, false, true
	}
	return skewSample{lo, hi}, true, false
}

// skewRun is a bounded ring of samples that agree: their intervals have a common part.
type skewRun struct {
	s [SkewRing]skewSample
	n int
}

func (r *skewRun) push(x skewSample) {
	if r.n == SkewRing {
		copy(r.s[:], r.s[1:])
		r.n--
	}
	r.s[r.n] = x
	r.n++
}

// bounds is the intersection of the run's samples.
func (r *skewRun) bounds() (lo, hi time.Duration, ok bool) {
	if r.n == 0 {
		return 0, 0, false
	}
	lo, hi = r.s[0].lo, r.s[0].hi
	for _, x := range r.s[1:r.n] {
		lo, hi = max(lo, x.lo), min(hi, x.hi)
	}
	return lo, hi, true
}

// skewTrack follows one source: the current run and the one before it. A sample that agrees
// with the current run narrows it. One that does not means the server's clock moved, and a new
// run starts from it, unless the current run is a lone sample and the new one agrees with the
// run before: then the lone sample was an outlier and is dropped.
type skewTrack struct{ cur, prev skewRun }

// add adds x and reports whether a sample was dropped as an outlier.
func (t *skewTrack) add(x skewSample) (outlier bool) {
	if lo, hi, ok := t.cur.bounds(); !ok || x.overlaps(lo, hi) {
		t.cur.push(x)
		return false
	}
	if t.dropsOutlier(x) {
		t.cur, t.prev = t.prev, skewRun{}
		t.cur.push(x)
		return true
	}
	t.prev, t.cur = t.cur, skewRun{}
	t.cur.push(x)
	return false
}

// dropsOutlier reports whether adding x, which disagrees with the current run, would drop that
// run as an outlier: it is a lone sample and x agrees with the run before it.
func (t *skewTrack) dropsOutlier(x skewSample) bool {
	if t.cur.n != 1 {
		return false
	}
	plo, phi, ok := t.prev.bounds()
	return ok && x.overlaps(plo, phi)
}

// SkewEstimator narrows down the server's clock offset from timestamps the server sends. A
// stamp taken between the local instants sent and received bounds the offset to
// [stamp-received, stamp+resolution-sent]; intersecting the bounds of several answers converges
// on the truth. Bounds that stop overlapping mean the server's clock jumped, and the estimate
// starts again from the newest answer (a lone sample that the next answer contradicts is
// dropped as an outlier instead).
//
// The Date header is the server's clock. A token's iat is a claim about when it was minted,
// not a clock reading: stock Django simplejwt copies the refresh token's iat into every access
// token, so it lags further behind every minute. An iat is therefore never mixed into a
// Date-based estimate (one that disagrees with it is counted as rejected), and only when the
// server sends no Date header does a freshly minted token's iat stand in for it.
//
// Stamps that put the offset beyond ±MaxSkew are rejected. The zero value is ready to use.
type SkewEstimator struct {
	date, iat skewTrack
	rejected  int
}

// Observe adds one reading of the server's clock (a Date header, resolution one second) and
// returns the new estimate.
func (s *SkewEstimator) Observe(stamp time.Time, resolution time.Duration, sent, received time.Time) SkewEstimate {
	x, ok, absurd := sampleOf(stamp, resolution, sent, received)
	if absurd {
		s.rejected++
	}
	if ok && s.date.add(x) {
		s.rejected++
	}
	return s.Estimate()
}

// ObserveIat adds the iat of a token received in an answer sent and received at the given
// local instants, and returns the new estimate. With a Date-based estimate the iat is only
// checked against it. Without one, an iat older than the round trip allows (stale or copied)
// is rejected; one that agrees narrows the iat-based estimate; one ahead of it means the
// server's clock moved forward.
func (s *SkewEstimator) ObserveIat(iat time.Time, resolution time.Duration, sent, received time.Time) SkewEstimate {
	x, ok, absurd := sampleOf(iat, resolution, sent, received)
	switch {
	case absurd:
		s.rejected++
	case !ok:
	case s.date.cur.n > 0:
		if lo, hi, _ := s.date.cur.bounds(); !x.overlaps(lo, hi) {
			s.rejected++
		}
	default:
		if lo, _, ok := s.iat.cur.bounds(); ok && x.hi < lo && !s.iat.dropsOutlier(x) {
			s.rejected++ // minted before this call was sent, by the estimate: not a clock reading
		} else if s.iat.add(x) {
			s.rejected++
		}
	}
	return s.Estimate()
}

// ObserveToken adds tok's iat (see ObserveIat); tok came in an answer sent and received at the
// given local instants. presented is the token the call presented (the refresh token of a
// refresh), or the zero Token: an iat not after presented's was copied from it, not minted
// during the call, and is rejected even when nothing else is known.
func (s *SkewEstimator) ObserveToken(tok, presented Token, sent, received time.Time) SkewEstimate {
	if tok.IssuedAt.IsZero() {
		return s.Estimate()
	}
	if !presented.IssuedAt.IsZero() && !tok.IssuedAt.After(presented.IssuedAt) {
		s.rejected++
		return s.Estimate()
	}
	// jwt's NumericDate keeps whole seconds.
	return s.ObserveIat(tok.IssuedAt, time.Second, sent, received)
}

// Estimate is the current estimate: from the Date header when the server sends one, else from
// fresh tokens' iat, else unknown.
func (s *SkewEstimator) Estimate() SkewEstimate {
	run, src := &s.date.cur, SkewFromDate
	if run.n == 0 {
		run, src = &s.iat.cur, SkewFromIat
	}
	lo, hi, ok := run.bounds()
	if !ok {
		return SkewEstimate{Source: SkewFromNone, Rejected: s.rejected}
	}
	// lo and hi lie within ±MaxSkew: hi-lo cannot overflow, and neither can (lo+hi)/2 written
	// this way.
	half := (hi - lo) / 2
	return SkewEstimate{Known: true, Offset: lo + half, Uncertainty: half, Samples: run.n, Source: src, Rejected: s.rejected}
}

// Reset forgets every sample.
func (s *SkewEstimator) Reset() { *s = SkewEstimator{} }
