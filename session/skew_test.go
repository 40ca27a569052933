package session

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"
)

// exchange simulates one request: sent at local time sent, answered rtt later, with the server
// stamping its Date header (truncated to resolution) at the local instant sent+serverDelay.
func exchange(sent time.Time, rtt, serverDelay, skew, resolution time.Duration) (stamp, received time.Time) {
	serverInstant := sent.Add(serverDelay).Add(skew)
	return serverInstant.Truncate(resolution), sent.Add(rtt)
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// contains reports whether the estimate's interval holds the true skew.
func contains(e SkewEstimate, truth time.Duration) bool {
	return e.Offset-e.Uncertainty <= truth && truth <= e.Offset+e.Uncertainty
}

func TestSkew_ConvergesOnTrueOffset(t *testing.T) {
	base := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, truth := range []time.Duration{60 * time.Second, -60 * time.Second, 60*time.Second + 370*time.Millisecond, -59*time.Second - 810*time.Millisecond} {
		t.Run(truth.String(), func(t *testing.T) {
			var est SkewEstimator
			if e := est.Estimate(); e.Known {
				t.Fatalf("fresh estimator knows something: %+v", e)
			}
			const rtt = 80 * time.Millisecond
			// Sub-second phases of the local send time vary from sample to sample, as they do
			// for requests made at arbitrary moments.
			phases := []time.Duration{300, 870, 50, 610, 990, 420, 150, 730}
			var prev SkewEstimate
			for i, ph := range phases {
				sent := base.Add(time.Duration(i)*7*time.Second + ph*time.Millisecond)
				stamp, received := exchange(sent, rtt, rtt/2, truth, time.Second)
				e := est.Observe(stamp, time.Second, sent, received)
				if !e.Known || e.Samples != i+1 {
					t.Fatalf("sample %d: Known=%v Samples=%d", i+1, e.Known, e.Samples)
				}
				if e != est.Estimate() {
					t.Fatalf("Observe returned %+v but Estimate is %+v", e, est.Estimate())
				}
				if d := abs(e.Offset - truth); d > time.Second {
					t.Fatalf("sample %d: offset %v is %v from the truth %v", i+1, e.Offset, d, truth)
				}
				if !contains(e, truth) {
					t.Fatalf("sample %d: %v does not contain the truth %v", i+1, e, truth)
				}
				if i == 0 {
					// One sample: the interval is the Date resolution plus the round trip.
					if want := (time.Second + rtt) / 2; e.Uncertainty != want {
						t.Errorf("first sample: uncertainty %v, want %v", e.Uncertainty, want)
					}
				} else if e.Uncertainty > prev.Uncertainty {
					t.Fatalf("sample %d: uncertainty grew from %v to %v", i+1, prev.Uncertainty, e.Uncertainty)
				}
				prev = e
			}
			if prev.Uncertainty > 150*time.Millisecond {
				t.Errorf("after %d samples uncertainty is still %v", len(phases), prev.Uncertainty)
			}
			if !prev.Significant(30 * time.Second) {
				t.Errorf("a %v skew is not Significant(30s): %v", truth, prev)
			}
		})
	}
}

func TestSkew_ZeroSkew(t *testing.T) {
	var est SkewEstimator
	sent := time.Date(2024, 5, 1, 12, 0, 0, 400_000_000, time.UTC)
	stamp, received := exchange(sent, 50*time.Millisecond, 25*time.Millisecond, 0, time.Second)
	e := est.Observe(stamp, time.Second, sent, received)
	if !contains(e, 0) || e.Significant(time.Second) {
		t.Errorf("zero skew: %v, Significant(1s)=%v", e, e.Significant(time.Second))
	}
}

func TestSkew_ServerClockJumpResets(t *testing.T) {
	var est SkewEstimator
	base := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for i, ph := range []time.Duration{100, 500, 900} {
		sent := base.Add(time.Duration(i)*time.Second + ph*time.Millisecond)
		stamp, received := exchange(sent, 40*time.Millisecond, 20*time.Millisecond, 60*time.Second, time.Second)
		est.Observe(stamp, time.Second, sent, received)
	}
	if e := est.Estimate(); e.Samples != 3 || !contains(e, 60*time.Second) {
		t.Fatalf("before the jump: %+v", e)
	}
	// The server's clock is corrected: now it is 5 minutes ahead.
	sent := base.Add(time.Minute + 250*time.Millisecond)
	stamp, received := exchange(sent, 40*time.Millisecond, 20*time.Millisecond, 5*time.Minute, time.Second)
	e := est.Observe(stamp, time.Second, sent, received)
	if e.Samples != 1 {
		t.Errorf("after the jump Samples = %d, want 1 (start again)", e.Samples)
	}
	if !contains(e, 5*time.Minute) || abs(e.Offset-5*time.Minute) > time.Second {
		t.Errorf("after the jump: %v, want about +300s", e)
	}
	if want := (time.Second + 40*time.Millisecond) / 2; e.Uncertainty != want {
		t.Errorf("after the jump uncertainty %v, want %v (only the newest sample)", e.Uncertainty, want)
	}
	// And it converges again from there.
	sent = sent.Add(2*time.Second + 600*time.Millisecond)
	stamp, received = exchange(sent, 40*time.Millisecond, 20*time.Millisecond, 5*time.Minute, time.Second)
	e = est.Observe(stamp, time.Second, sent, received)
	if e.Samples != 2 || !contains(e, 5*time.Minute) {
		t.Errorf("second sample after the jump: %+v", e)
	}
}

func TestSkew_IgnoredSamples(t *testing.T) {
	var est SkewEstimator
	sent := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	if e := est.Observe(time.Time{}, time.Second, sent, sent.Add(time.Millisecond)); e.Known {
		t.Fatalf("zero stamp made the estimate known: %+v", e)
	}
	stamp, received := exchange(sent, 30*time.Millisecond, 10*time.Millisecond, 60*time.Second, time.Second)
	before := est.Observe(stamp, time.Second, sent, received)
	if e := est.Observe(time.Time{}, time.Second, sent, received); e != before {
		t.Errorf("zero stamp changed the estimate: %+v -> %+v", before, e)
	}
	// received before sent is nonsense and is ignored, even with a wildly different stamp.
	if e := est.Observe(stamp.Add(time.Hour), time.Second, received, sent); e != before {
		t.Errorf("received-before-sent changed the estimate: %+v -> %+v", before, e)
	}
	est.Reset()
	if e := est.Estimate(); e.Known || e.Samples != 0 {
		t.Errorf("after Reset: %+v", e)
	}
}

func TestSkew_ExactStampNoResolution(t *testing.T) {
	// A stamp with no rounding taken at an instantaneous exchange pins the offset exactly.
	var est SkewEstimator
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	e := est.Observe(at.Add(-42*time.Second), 0, at, at)
	if !e.Known || e.Offset != -42*time.Second || e.Uncertainty != 0 {
		t.Errorf("got %+v, want exactly -42s ±0", e)
	}
}

func TestSkewEstimate_Significant(t *testing.T) {
	cases := []struct {
		e    SkewEstimate
		min  time.Duration
		want bool
	}{
		{SkewEstimate{}, 0, false}, // unknown is never significant
		{SkewEstimate{Known: true, Offset: 2 * time.Second, Uncertainty: time.Second}, time.Second, true},
		{SkewEstimate{Known: true, Offset: 2 * time.Second, Uncertainty: time.Second}, time.Second + time.Nanosecond, false},
		{SkewEstimate{Known: true, Offset: -2 * time.Second, Uncertainty: time.Second}, time.Second, true},
		{SkewEstimate{Known: true, Offset: -2 * time.Second, Uncertainty: time.Second}, 1500 * time.Millisecond, false},
		{SkewEstimate{Known: true, Offset: 500 * time.Millisecond, Uncertainty: time.Second}, time.Millisecond, false},
		{SkewEstimate{Known: true, Offset: -500 * time.Millisecond, Uncertainty: time.Second}, time.Millisecond, false},
		{SkewEstimate{Known: true, Offset: time.Minute}, 59 * time.Second, true},
	}
	for _, c := range cases {
		if got := c.e.Significant(c.min); got != c.want {
			t.Errorf("%+v.Significant(%v) = %v, want %v", c.e, c.min, got, c.want)
		}
	}
}

func TestSkewEstimate_String(t *testing.T) {
	cases := map[SkewEstimate]string{
		{}: "unknown",
		{Known: true, Offset: 60 * time.Second, Uncertainty: 500 * time.Millisecond}:         "+60.0s ±0.5s",
		{Known: true, Offset: -61500 * time.Millisecond, Uncertainty: 40 * time.Millisecond}: "-61.5s ±0.0s",
	}
	for e, want := range cases {
		if got := e.String(); got != want {
			t.Errorf("%+v.String() = %q, want %q", e, got, want)
		}
	}
}

func TestSession_ServerNow(t *testing.T) {
	local := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, off := range []time.Duration{0, 90 * time.Second, -90 * time.Second} {
		s := Session{Skew: SkewEstimate{Known: true, Offset: off}}
		if got := s.ServerNow(local); !got.Equal(local.Add(off)) {
			t.Errorf("offset %v: ServerNow = %v, want %v", off, got, local.Add(off))
		}
	}
	// The point of ServerNow: a token that expires in server time is judged in server time.
	// The server is 60s ahead; the token (exp 10 minutes after the server's iat) has 9m30s
	// left on the server's clock even though the local clock says 10m30s.
	serverIat := local.Add(60 * time.Second)
	tok := ParseToken(rawJWT(`{"alg":"HS256"}`, `{"iat":`+strconv.FormatInt(serverIat.Unix(), 10)+`,"exp":`+strconv.FormatInt(serverIat.Add(10*time.Minute).Unix(), 10)+`}`), local, 0)
	s := Session{Access: tok, Skew: SkewEstimate{Known: true, Offset: 60 * time.Second}}
	localNow := local.Add(30 * time.Second)
	if got := tok.Remaining(s.ServerNow(localNow)); got != 9*time.Minute+30*time.Second {
		t.Errorf("Remaining(ServerNow) = %v, want 9m30s", got)
	}
	// At local 12:09:30 the local clock would say 1m30s left (fresh); the server says 30s
	// (refresh window). At local 12:10:30 the token is expired on the server's clock.
	if got := tok.Phase(s.ServerNow(local.Add(9*time.Minute+30*time.Second)), time.Minute); got != PhaseRefreshWindow {
		t.Errorf("Phase at local +9m30s = %v, want refresh window in server time", got)
	}
	if got := tok.Phase(s.ServerNow(local.Add(10*time.Minute+30*time.Second)), time.Minute); got != PhaseExpired {
		t.Errorf("Phase at local +10m30s = %v, want expired in server time", got)
	}
}

func TestFamilyName(t *testing.T) {
	at := time.Unix(1_700_000_000, 0)
	cases := []struct {
		name  string
		tok   Token
		login int
		want  string
	}{
		{"fam claim", ParseToken(rawJWT(`{"alg":"HS256"}`, `{"fam":"fam-8f2c"}`), at, 0), 3, "fam-8f2c"},
		{"no fam claim", ParseToken(rawJWT(`{"alg":"HS256"}`, `{"sub":"u"}`), at, 0), 3, "#3"},
		{"empty fam", ParseToken(rawJWT(`{"alg":"HS256"}`, `{"fam":""}`), at, 0), 2, "#2"},
		{"numeric fam", ParseToken(rawJWT(`{"alg":"HS256"}`, `{"fam":7}`), at, 0), 1, "#1"},
		{"opaque refresh token", ParseToken("opaque-refresh", at, 0), 12, "#12"},
		{"no refresh token", Token{}, 1, "#1"},
	}
	for _, c := range cases {
		if got := FamilyName(c.tok, c.login); got != c.want {
			t.Errorf("%s: FamilyName = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestState_StringAndMarshalText(t *testing.T) {
	for s, want := range map[State]string{StateLoggedOut: "logged out", StateActive: "active",
		StateRefreshing: "refreshing", StateLoginRequired: "login required", State(42): "logged out"} {
		if s.String() != want {
			t.Errorf("State(%d).String() = %q, want %q", int(s), s.String(), want)
		}
		if b, err := s.MarshalText(); err != nil || string(b) != want {
			t.Errorf("State(%d).MarshalText() = %q, %v", int(s), b, err)
		}
	}
	// MarshalText is what JSON uses, including as a map key.
	b, err := json.Marshal(map[State]Why{StateRefreshing: WhyBackground})
	if err != nil || string(b) != `{"refreshing":"background"}` {
		t.Errorf("json.Marshal = %s, %v", b, err)
	}
}
func TestSystemClock(t *testing.T) {
	var c Clock = SystemClock{}
	before := time.Now()
	got := c.Now()
	after := time.Now()
	if got.Before(before) || got.After(after) {
		t.Errorf("SystemClock.Now = %v, not between %v and %v", got, before, after)
	}
}
