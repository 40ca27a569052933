package session

import (
	"fmt"
	"time"
)

// State is the session's state.
type State int

// Session states.
const (
	StateLoggedOut State = iota
	StateActive
	StateRefreshing
	StateLoginRequired
)

func (s State) String() string {
	switch s {
	case StateActive:
		return "active"
	case StateRefreshing:
		return "refreshing"
	case StateLoginRequired:
		return "login required"
	default:
		return "logged out"
	}
}

// MarshalText makes states readable in JSON.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Session is what is known about one login at one moment. It is a value: the engine owns the
// live one and hands out copies, so readers never race with the HTTP path.
type Session struct {
	State   State
	Access  Token
	Refresh Token

	// Generation counts access tokens within the current login: 1 from login, 2 after the
	// first refresh, ...
	Generation int
	// Family names the chain of refresh tokens from the current login: the server's fam claim
	// when the token has one, otherwise the login's number.
	Family string
	// Rotations is how many times the refresh token was replaced since login.
	Rotations int
	// Logins counts successful logins in this run.
	Logins int

	// Skew is the estimated server clock minus the local clock.
	Skew SkewEstimate

	// Reason says why the state is what it is when that is not obvious (login required: the
	// server's answer to the refresh).
	Reason string
	// Parked is how many requests wait for a new login.
	Parked int
	// Source says where the tokens came from: "login", "refresh", "session file ...".
	Source string
}

// ServerNow is now corrected by the estimated skew: the clock to compare exp with. A skew
// that cannot be told apart from zero (the Date header has whole seconds) is not applied, so a
// server in step with this machine is taken at its word.
func (s Session) ServerNow(localNow time.Time) time.Time { return localNow.Add(s.Skew.Applied()) }

// FamilyName picks the family label for a fresh login.
func FamilyName(refresh Token, login int) string {
	if f, ok := refresh.Claims["fam"].(string); ok && f != "" {
		return f
	}
	return fmt.Sprintf("#%d", login)
}

// SkewEstimate is the server clock's offset from the local clock, with the half-width of the
// interval it is known to lie in.
type SkewEstimate struct {
	Known       bool
	Offset      time.Duration // server minus local
	Uncertainty time.Duration // ± this much
	Samples     int
}

func (e SkewEstimate) String() string {
	if !e.Known {
		return "unknown"
	}
	return fmt.Sprintf("%+.1fs ±%.1fs", e.Offset.Seconds(), e.Uncertainty.Seconds())
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

// SkewEstimator narrows down the server's clock offset from timestamps the server sends: the
// Date header (one-second resolution) and a fresh token's iat. A stamp taken between the local
// instants sent and received bounds the offset to [stamp-received, stamp+resolution-sent];
// intersecting the bounds of many answers converges on the truth. Bounds that stop overlapping
// mean the server's clock jumped, and the estimate starts again from the newest answer.
type SkewEstimator struct {
	lo, hi  time.Duration
	known   bool
	samples int
}

// Observe adds one server timestamp and returns the new estimate.
func (s *SkewEstimator) Observe(stamp time.Time, resolution time.Duration, sent, received time.Time) SkewEstimate {
	if stamp.IsZero() || received.Before(sent) {
		return s.Estimate()
	}
	lo := stamp.Sub(received)
	hi := stamp.Add(resolution).Sub(sent)
	if s.known {
		nlo, nhi := max(lo, s.lo), min(hi, s.hi)
		if nlo <= nhi {
			lo, hi = nlo, nhi
		} else {
			s.samples = 0 // the server clock moved: forget what we knew
		}
	}
	s.lo, s.hi, s.known = lo, hi, true
	s.samples++
	return s.Estimate()
}

// Estimate is the current estimate.
func (s *SkewEstimator) Estimate() SkewEstimate {
	if !s.known {
		return SkewEstimate{}
	}
	return SkewEstimate{Known: true, Offset: (s.lo + s.hi) / 2, Uncertainty: (s.hi - s.lo) / 2, Samples: s.samples}
}

// Reset forgets every sample.
func (s *SkewEstimator) Reset() { *s = SkewEstimator{} }
