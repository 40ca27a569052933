package session

import (
	"math"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// Tests for the skew estimator against servers that are wrong or lying (issue 10, "Trust
// nothing from the network"). exchange, abs and contains are in skew_test.go.

// dateHeader is what a server's Date header says at server instant t, read back the way the
// engine reads it (http.ParseTime): whole seconds.
func dateHeader(t *testing.T, at time.Time) time.Time {
	t.Helper()
	d, err := http.ParseTime(at.UTC().Format(http.TimeFormat))
	if err != nil {
		t.Fatalf("ParseTime(%v): %v", at, err)
	}
	return d
}

// iatToken is a token whose iat claim is iat (whole seconds, as a JWT has it).
func iatToken(iat time.Time) Token {
	return ParseToken(rawJWT(`{"alg":"HS256"}`, `{"iat":`+strconv.FormatInt(iat.Unix(), 10)+`,"exp":`+strconv.FormatInt(iat.Unix()+300, 10)+`}`), iat, 0)
}

// TestSkew_SimpleJWTLaggingIat: stock simplejwt copies the refresh token's iat into every
// access token it mints, so the iat of each refresh answer lags the server's clock by the time
// since login. The Date header is right, and the estimate must stay at zero however far the iat
// lags: neither the iat on its own (ObserveIat) nor with the presented refresh token
// (ObserveToken) may move it.
func TestSkew_SimpleJWTLaggingIat(t *testing.T) {
	base := time.Date(2026, 11, 27, 9, 0, 0, 250_000_000, time.UTC)
	const rtt = 30 * time.Millisecond
	for _, viaToken := range []bool{false, true} {
		t.Run(map[bool]string{false: "ObserveIat", true: "ObserveToken"}[viaToken], func(t *testing.T) {
			var est SkewEstimator
			// Login: the Date header and a freshly minted pair.
			sent := base
			stamp, recv := exchange(sent, rtt, rtt/2, 0, time.Second)
			est.Observe(dateHeader(t, stamp), time.Second, sent, recv)
			refresh := iatToken(stamp) // the login's refresh token; its iat is copied from now on
			e := est.ObserveToken(iatToken(stamp), Token{}, sent, recv)
			if !e.Known || e.Source != SkewFromDate || e.Rejected != 0 || !contains(e, 0) {
				t.Fatalf("after login: %+v", e)
			}
			// Refreshes every 4 s for 10 minutes, each with a correct Date header and an access
			// token whose iat is the login's.
			for i := 1; i <= 150; i++ {
				sent = base.Add(time.Duration(i)*4*time.Second + time.Duration(i*37%1000)*time.Millisecond)
				stamp, recv = exchange(sent, rtt, rtt/2, 0, time.Second)
				est.Observe(dateHeader(t, stamp), time.Second, sent, recv)
				if viaToken {
					e = est.ObserveToken(iatToken(refresh.IssuedAt), refresh, sent, recv)
				} else {
					e = est.ObserveIat(refresh.IssuedAt, time.Second, sent, recv)
				}
				if !e.Known || e.Source != SkewFromDate || !contains(e, 0) || e.Applied() != 0 {
					t.Fatalf("refresh %d (iat %v behind): estimate %s, want about 0 from the Date header", i, sent.Sub(refresh.IssuedAt).Round(time.Second), e.Describe())
				}
			}
			// Every lagging iat was counted as rejected (the first ones lag by less than the Date
			// header's resolution only through ObserveIat, and none of them can narrow the
			// Date-based interval anyway).
			if e.Rejected < 149 {
				t.Errorf("%d iats rejected, want at least 149 of 150", e.Rejected)
			}
			if e.Samples != SkewRing {
				t.Errorf("Samples = %d, want the ring full (%d)", e.Samples, SkewRing)
			}
		})
	}
}

// TestSkew_AbsurdDateRejected: a Date header 74 years ahead used to make every token look
// expired; 174 years ahead overflowed (lo+hi)/2 and flipped the sign. Both, and worse, are
// rejected, on a fresh estimator and on one that knows better.
func TestSkew_AbsurdDateRejected(t *testing.T) {
	local := time.Date(2026, 11, 27, 9, 0, 0, 400_000_000, time.UTC)
	stamps := map[string]time.Time{
		"74 years ahead":   local.AddDate(74, 0, 0),
		"174 years ahead":  local.AddDate(174, 0, 0),
		"year 9999":        time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		"300 years behind": local.AddDate(-300, 0, 0),
		"year 1":           time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC),
		"25 hours ahead":   local.Add(25 * time.Hour),
		"25 hours behind":  local.Add(-25 * time.Hour),
	}
	for name, stamp := range stamps {
		t.Run(name, func(t *testing.T) {
			if stamp.Year() <= 9999 && stamp.Year() >= 1 {
				stamp = dateHeader(t, stamp)
			}
			var fresh SkewEstimator
			e := fresh.Observe(stamp, time.Second, local, local.Add(20*time.Millisecond))
			if e.Known || e.Rejected != 1 || e.Source != SkewFromNone || e.Applied() != 0 {
				t.Errorf("fresh estimator: %+v, want unknown with 1 rejected", e)
			}
			var est SkewEstimator
			good, recv := exchange(local, 20*time.Millisecond, 10*time.Millisecond, 0, time.Second)
			before := est.Observe(good, time.Second, local, recv)
			for i := 1; i <= 3; i++ {
				sent := local.Add(time.Duration(i) * 1300 * time.Millisecond)
				e = est.Observe(stamp, time.Second, sent, sent.Add(20*time.Millisecond))
				if e.Offset != before.Offset || e.Uncertainty != before.Uncertainty || e.Samples != before.Samples || e.Rejected != i {
					t.Fatalf("absurd sample %d moved the estimate: %+v -> %+v", i, before, e)
				}
			}
			if e.Offset < -time.Second || e.Offset > time.Second || e.Applied() != 0 {
				t.Errorf("estimate %s, want about 0", e.Describe())
			}
			// The same stamp as an iat is rejected too, with or without a Date header.
			var noDate SkewEstimator
			if e := noDate.ObserveIat(stamp, time.Second, local, local.Add(time.Millisecond)); e.Known || e.Rejected != 1 {
				t.Errorf("iat %v: %+v, want rejected", stamp, e)
			}
		})
	}
}

// TestSkew_NoOverflowAnywhere: whatever the stamps and local instants, the estimate stays
// within ±MaxSkew with a non-negative uncertainty, and Significant and Applied agree in sign
// with Offset.
func TestSkew_NoOverflowAnywhere(t *testing.T) {
	instants := []time.Time{
		{}, time.Unix(0, 0), time.Unix(1<<62, 0), time.Unix(-1<<62, 0), time.Unix(math.MaxInt64/2, 999_999_999),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC), time.Date(2026, 11, 27, 9, 0, 1, 0, time.UTC),
		time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1800, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	resolutions := []time.Duration{0, time.Second, -time.Second, math.MaxInt64, math.MinInt64}
	var est SkewEstimator
	n := 0
	for _, stamp := range instants {
		for _, sent := range instants {
			for _, recv := range instants {
				for _, res := range resolutions {
					var e SkewEstimate
					if n++; n%2 == 0 {
						e = est.Observe(stamp, res, sent, recv)
					} else {
						e = est.ObserveIat(stamp, res, sent, recv)
					}
					if e.Known && (e.Offset > MaxSkew || e.Offset < -MaxSkew || e.Uncertainty < 0 || e.Uncertainty > MaxSkew) {
						t.Fatalf("Observe(%v, %v, %v, %v) = %+v", stamp, res, sent, recv, e)
					}
					if a := e.Applied(); (a > 0 && e.Offset <= 0) || (a < 0 && e.Offset >= 0) {
						t.Fatalf("Applied %v disagrees with Offset %v", a, e.Offset)
					}
				}
			}
		}
	}
	// Extreme but allowed: both ends of the window.
	for _, skew := range []time.Duration{MaxSkew - 2*time.Second, -MaxSkew + time.Second} {
		var est SkewEstimator
		at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
		e := est.Observe(at.Add(skew), time.Second, at, at.Add(time.Millisecond))
		if !e.Known || abs(e.Offset-skew) > time.Second || !e.Significant(time.Hour) {
			t.Errorf("skew %v: %+v", skew, e)
		}
	}
}

// TestSkew_IatYearAheadIgnored: a token whose iat is a year ahead used to show "expired 8759h
// ago". With a Date header the iat disagrees and is ignored; without one it is beyond MaxSkew.
func TestSkew_IatYearAheadIgnored(t *testing.T) {
	local := time.Date(2026, 11, 27, 9, 0, 0, 600_000_000, time.UTC)
	iat := local.AddDate(1, 0, 0).Truncate(time.Second)
	tok := iatToken(iat)

	var est SkewEstimator
	stamp, recv := exchange(local, 40*time.Millisecond, 20*time.Millisecond, 0, time.Second)
	est.Observe(stamp, time.Second, local, recv)
	e := est.ObserveToken(tok, Token{}, local, recv)
	if !e.Known || e.Source != SkewFromDate || e.Rejected != 1 || !contains(e, 0) {
		t.Errorf("with a Date header: %s, want about 0 from the Date header, 1 rejected", e.Describe())
	}
	s := Session{Access: ParseToken(rawJWT(`{"alg":"HS256"}`, `{"iat":`+strconv.FormatInt(iat.Unix(), 10)+`,"exp":`+strconv.FormatInt(local.Add(5*time.Minute).Unix(), 10)+`}`), local, 0), Skew: e}
	if left := s.Access.Remaining(s.ServerNow(recv)); left < 4*time.Minute || left > 5*time.Minute {
		t.Errorf("token with exp in 5 minutes shows %v left", left)
	}

	var noDate SkewEstimator
	if e := noDate.ObserveToken(tok, Token{}, local, recv); e.Known || e.Rejected != 1 || e.Source != SkewFromNone {
		t.Errorf("without a Date header: %s, want unknown, 1 rejected", e.Describe())
	}
}

// TestSkew_RealSkewFound: a server whose clock really is a minute off, on both its Date header
// and the iat of fresh tokens, is found; without a Date header the fresh iats find it alone.
func TestSkew_RealSkewFound(t *testing.T) {
	base := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	for _, truth := range []time.Duration{60 * time.Second, -60 * time.Second} {
		for _, withDate := range []bool{true, false} {
			name := truth.String() + map[bool]string{true: "/Date+iat", false: "/iat only"}[withDate]
			t.Run(name, func(t *testing.T) {
				var est SkewEstimator
				var prev Token
				var e SkewEstimate
				for i, ph := range []time.Duration{130, 770, 420, 960, 55, 610} {
					sent := base.Add(time.Duration(i)*5*time.Second + ph*time.Millisecond)
					stamp, recv := exchange(sent, 60*time.Millisecond, 30*time.Millisecond, truth, time.Second)
					if withDate {
						est.Observe(stamp, time.Second, sent, recv)
					}
					tok := iatToken(stamp) // freshly minted: iat is the server's clock
					e = est.ObserveToken(tok, prev, sent, recv)
					prev = tok
				}
				want := SkewFromIat
				if withDate {
					want = SkewFromDate
				}
				if !e.Known || e.Source != want || !contains(e, truth) || abs(e.Offset-truth) > time.Second {
					t.Errorf("estimate %s, want %v from the %s", e.Describe(), truth, want)
				}
				if e.Rejected != 0 || e.Samples != 6 {
					t.Errorf("Rejected %d Samples %d, want 0 and 6", e.Rejected, e.Samples)
				}
				if !e.Significant(30*time.Second) || abs(e.Applied()-truth) > time.Second {
					t.Errorf("Applied %v, want about %v", e.Applied(), truth)
				}
			})
		}
	}
}

// TestSkew_OutlierDiscarded: one Date header ten minutes off among good ones (a broken proxy, a
// hostile answer) is dropped as soon as the next answer contradicts it; the estimate rests on
// the good samples alone and says one was rejected. The same holds for a fresh iat without a
// Date header.
func TestSkew_OutlierDiscarded(t *testing.T) {
	base := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	const truth = 2 * time.Second
	for _, src := range []SkewSource{SkewFromDate, SkewFromIat} {
		t.Run(string(src), func(t *testing.T) {
			var est SkewEstimator
			observe := func(stamp time.Time, sent, recv time.Time) SkewEstimate {
				if src == SkewFromDate {
					return est.Observe(stamp, time.Second, sent, recv)
				}
				return est.ObserveIat(stamp, time.Second, sent, recv)
			}
			var good SkewEstimate
			i := 0
			next := func() (time.Time, time.Time) {
				i++
				return base.Add(time.Duration(i)*3*time.Second + time.Duration(i*211%1000)*time.Millisecond), time.Time{}
			}
			for range 6 {
				sent, _ := next()
				stamp, recv := exchange(sent, 50*time.Millisecond, 25*time.Millisecond, truth, time.Second)
				good = observe(stamp, sent, recv)
			}
			sent, _ := next()
			stamp, recv := exchange(sent, 50*time.Millisecond, 25*time.Millisecond, truth+10*time.Minute, time.Second)
			observe(stamp, sent, recv) // the outlier
			var e SkewEstimate
			for range 3 {
				sent, _ := next()
				stamp, recv := exchange(sent, 50*time.Millisecond, 25*time.Millisecond, truth, time.Second)
				e = observe(stamp, sent, recv)
			}
			if e.Samples != 9 || e.Rejected != 1 || e.Source != src {
				t.Errorf("after the outlier and 3 good samples: %s, want 9 samples, 1 rejected, from the %s", e.Describe(), src)
			}
			if !contains(e, truth) || e.Uncertainty > good.Uncertainty || abs(e.Offset-truth) > time.Second {
				t.Errorf("estimate %v (before the outlier %v), want the truth %v", e, good, truth)
			}
		})
	}
}

// TestSkew_IatOnlyStaleRejected: without a Date header, simplejwt's copied iat is older than the
// round trip by the estimate from the login's fresh iat, and is rejected; after a resume, when
// nothing is known yet, it is rejected because it is not after the presented refresh token's.
func TestSkew_IatOnlyStaleRejected(t *testing.T) {
	login := time.Date(2026, 11, 27, 9, 0, 0, 300_000_000, time.UTC)
	stamp, recv := exchange(login, 40*time.Millisecond, 20*time.Millisecond, 0, time.Second)
	refresh := iatToken(stamp)

	var est SkewEstimator
	est.ObserveToken(iatToken(stamp), Token{}, login, recv)
	for i := 1; i <= 20; i++ {
		sent := login.Add(time.Duration(i) * 4 * time.Second)
		e := est.ObserveIat(refresh.IssuedAt, time.Second, sent, sent.Add(40*time.Millisecond))
		if !e.Known || e.Source != SkewFromIat || e.Samples != 1 || !contains(e, 0) || e.Applied() != 0 {
			t.Fatalf("refresh %d: %s, want the login's estimate unmoved", i, e.Describe())
		}
		if i >= 2 && e.Rejected != i {
			t.Fatalf("refresh %d: %d rejected", i, e.Rejected)
		}
	}

	var resumed SkewEstimator
	sent := login.Add(10 * time.Minute)
	e := resumed.ObserveToken(iatToken(refresh.IssuedAt), refresh, sent, sent.Add(40*time.Millisecond))
	if e.Known || e.Rejected != 1 {
		t.Errorf("copied iat after a resume: %s, want unknown, 1 rejected", e.Describe())
	}
	// A token without iat says nothing.
	if e := resumed.ObserveToken(ParseToken("opaque", sent, time.Minute), refresh, sent, sent); e.Known || e.Rejected != 1 {
		t.Errorf("opaque token: %+v", e)
	}
}

// TestSkew_IatOnlyServerClockJumpsAhead: without a Date header, an iat ahead of the estimate
// means the server's clock moved forward (a token cannot be minted in the future): after a
// second fresh token confirms it, the estimate follows.
func TestSkew_IatOnlyServerClockJumpsAhead(t *testing.T) {
	base := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	var est SkewEstimator
	var e SkewEstimate
	for i, skew := range []time.Duration{0, 0, 0, 5 * time.Minute, 5 * time.Minute, 5 * time.Minute} {
		sent := base.Add(time.Duration(i)*7*time.Second + time.Duration(i)*130*time.Millisecond)
		stamp, recv := exchange(sent, 30*time.Millisecond, 15*time.Millisecond, skew, time.Second)
		e = est.ObserveIat(stamp, time.Second, sent, recv)
	}
	if e.Source != SkewFromIat || e.Samples != 3 || !contains(e, 5*time.Minute) || e.Rejected != 0 {
		t.Errorf("after the jump: %s, want +300s from 3 iat samples", e.Describe())
	}
}

// TestSkew_DateOverridesIat: an estimate from iat alone gives way to the first Date header.
func TestSkew_DateOverridesIat(t *testing.T) {
	at := time.Date(2026, 11, 27, 9, 0, 0, 500_000_000, time.UTC)
	var est SkewEstimator
	est.ObserveIat(at.Add(-30*time.Second).Truncate(time.Second), time.Second, at, at.Add(10*time.Millisecond))
	stamp, recv := exchange(at.Add(time.Second), 10*time.Millisecond, 5*time.Millisecond, 0, time.Second)
	e := est.Observe(stamp, time.Second, at.Add(time.Second), recv)
	if e.Source != SkewFromDate || e.Samples != 1 || !contains(e, 0) {
		t.Errorf("%s, want about 0 from the Date header", e.Describe())
	}
}

// TestSkew_RingBounded: the estimate rests on at most SkewRing samples, so a long session
// follows a slowly drifting server clock instead of piling up old bounds until they conflict.
func TestSkew_RingBounded(t *testing.T) {
	base := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	var est SkewEstimator
	var e SkewEstimate
	for i := range 200 {
		sent := base.Add(time.Duration(i)*10*time.Second + time.Duration(i*389%1000)*time.Millisecond)
		// The server's clock drifts by 5 ms per sample (2 s over the run).
		truth := 3*time.Second + time.Duration(i)*10*time.Millisecond
		stamp, recv := exchange(sent, 40*time.Millisecond, 20*time.Millisecond, truth, time.Second)
		e = est.Observe(stamp, time.Second, sent, recv)
		if e.Samples > SkewRing {
			t.Fatalf("sample %d: Samples = %d > %d", i, e.Samples, SkewRing)
		}
		if abs(e.Offset-truth) > time.Second {
			t.Fatalf("sample %d: %v, truth %v", i, e, truth)
		}
	}
}

func TestSkewEstimate_Describe(t *testing.T) {
	cases := map[SkewEstimate]string{
		{}:                     "unknown",
		{Source: SkewFromNone}: "unknown",
		{Rejected: 2}:          "unknown (2 rejected)",
		{Known: true, Offset: 60 * time.Second, Uncertainty: 500 * time.Millisecond, Samples: 5, Source: SkewFromDate}:             "+60.0s ±0.5s (Date header, 5 samples)",
		{Known: true, Offset: -2 * time.Second, Uncertainty: 500 * time.Millisecond, Samples: 1, Source: SkewFromIat, Rejected: 3}: "-2.0s ±0.5s (token iat, 1 sample, 3 rejected)",
	}
	for e, want := range cases {
		if got := e.Describe(); got != want {
			t.Errorf("%+v.Describe() = %q, want %q", e, got, want)
		}
	}
}

// TestUntilAccessExpired: fire --wait-expiry must wait until the token is dead on the server's
// clock. exp+100 ms by the applied skew is too early for a server up to a second behind (a skew
// too small to apply); UntilAccessExpired waits out the estimate's whole uncertainty. For every
// true skew and sub-second phase, the server's clock at the end of the wait is past exp, and the
// wait is not more than the uncertainty's width (plus the margin) longer than needed.
func TestUntilAccessExpired(t *testing.T) {
	base := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	tooEarly := 0
	for _, truth := range []time.Duration{0, -300 * time.Millisecond, -800 * time.Millisecond, -999 * time.Millisecond,
		450 * time.Millisecond, 900 * time.Millisecond, -1400 * time.Millisecond, 60 * time.Second, -60 * time.Second} {
		for _, rtt := range []time.Duration{time.Millisecond, 80 * time.Millisecond, 400 * time.Millisecond} {
			for ph := time.Duration(0); ph < time.Second; ph += 90 * time.Millisecond {
				var est SkewEstimator
				sent := base.Add(ph)
				stamp, recv := exchange(sent, rtt, rtt/2, truth, time.Second)
				est.Observe(stamp, time.Second, sent, recv)
				// The login answer's token: 2 s of life by the server's clock, exp whole seconds.
				exp := stamp.Add(2 * time.Second)
				s := Session{Access: ParseToken(rawJWT(`{"alg":"HS256"}`, `{"exp":`+strconv.FormatInt(exp.Unix(), 10)+`}`), recv, 0), Skew: est.Estimate()}

				wait := s.UntilAccessExpired(recv)
				serverThen := recv.Add(wait).Add(truth) // the server's clock when the wait ends
				if !serverThen.After(exp) {
					t.Errorf("skew %v rtt %v phase %v: the wait (%v) ends at server time exp%+v, not past it", truth, rtt, ph, wait, serverThen.Sub(exp))
				}
				if over := serverThen.Sub(exp); over > 2*s.Skew.Uncertainty+ExpiryMargin+time.Millisecond {
					t.Errorf("skew %v rtt %v phase %v: waits %v past exp, uncertainty only ±%v", truth, rtt, ph, over, s.Skew.Uncertainty)
				}
				// What --wait-expiry did before: exp+100 ms by the applied skew.
				old := s.Access.Remaining(s.ServerNow(recv)) + 100*time.Millisecond
				if !recv.Add(old).Add(truth).After(exp) {
					tooEarly++
				}
			}
		}
	}
	if tooEarly == 0 {
		t.Errorf("exp+100ms was never too early; the test does not exercise the bug")
	}

	// Nothing known: a Date-header second of slack; no expiry: nothing to wait for; already dead:
	// negative.
	local := base.Add(400 * time.Millisecond)
	tok := ParseToken(rawJWT(`{"alg":"HS256"}`, `{"exp":`+strconv.FormatInt(base.Add(3*time.Second).Unix(), 10)+`}`), local, 0)
	if got, want := (Session{Access: tok}).UntilAccessExpired(local), 3*time.Second-400*time.Millisecond+time.Second+ExpiryMargin; got != want {
		t.Errorf("unknown skew: %v, want %v", got, want)
	}
	if got := (Session{Access: ParseToken("opaque", local, 0)}).UntilAccessExpired(local); got != 0 {
		t.Errorf("no expiry: %v, want 0", got)
	}
	if got := (Session{Access: tok}).UntilAccessExpired(base.Add(time.Hour)); got >= 0 {
		t.Errorf("long dead: %v, want negative", got)
	}
	// Extreme values do not overflow: a far exp and the widest believable skew.
	far := ParseToken(rawJWT(`{"alg":"HS256"}`, `{"exp":1e17}`), local, 0)
	s := Session{Access: far, Skew: SkewEstimate{Known: true, Offset: -MaxSkew, Uncertainty: MaxSkew}}
	if got := s.UntilAccessExpired(local); got <= 0 {
		t.Errorf("exp in the far future: %v, want a (saturated) positive wait", got)
	}
}
