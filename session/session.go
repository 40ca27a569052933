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
	// server's answer to the refresh), for people: code reads End.
	Reason string
	// End is why the session ended (EndNone while it lives).
	End End
	// Parked is how many requests wait for a new login.
	Parked int
	// Source says where the tokens came from: "login", "refresh", "session file ...".
	Source string
}

// ServerNow is now corrected by the estimated skew: the clock to compare exp with. A skew
// that cannot be told apart from zero (the Date header has whole seconds) is not applied, so a
// server in step with this machine is taken at its word.
func (s Session) ServerNow(localNow time.Time) time.Time { return localNow.Add(s.Skew.Applied()) }

// End is why a session ended: the cause as a type, so that nothing reads it out of a sentence.
// Its text is stable: events carry it in JSON as "end", and filters match it.
type End int

// Session ends.
const (
	EndNone End = iota
	// EndUserLogout: the user logged out (or signed out at the identity provider).
	EndUserLogout
	// EndRejected: the server rejected the session's current refresh token (or the client's
	// credentials) with nothing known that explains why.
	EndRejected
	// EndExpired: the rejected refresh token was past its exp on the server's clock.
	EndExpired
	// EndReuseSuspected: the current refresh token was rejected after it was presented more
	// than once (calls with it overlapped, or it was sent again after the server rotated it).
	EndReuseSuspected
	// EndRevoked: the current refresh token was rejected after the server had rejected an older
	// token of the same family as reused: the server revoked the family.
	EndRevoked
	// EndKeyLost: the tokens are bound to a DPoP key this run does not hold.
	EndKeyLost
	// EndLoginFailed marks a login-failed event: the login that would have started a session
	// failed. A session's End keeps the cause of its own end.
	EndLoginFailed
)

var endNames = [...]string{EndNone: "", EndUserLogout: "user-logout", EndRejected: "rejected", EndExpired: "expired",
	EndReuseSuspected: "reuse-suspected", EndRevoked: "revoked", EndKeyLost: "key-lost", EndLoginFailed: "login-failed"}

func (e End) String() string {
	if e < 0 || int(e) >= len(endNames) {
		return "unknown"
	}
	return endNames[e]
}

// MarshalText makes ends readable in JSON.
func (e End) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// UnmarshalText reads an end's text id back, so that a saved event log reads as it was written.
func (e *End) UnmarshalText(b []byte) error {
	for i, n := range endNames {
		if n == string(b) {
			*e = End(i)
			return nil
		}
	}
	return fmt.Errorf("unknown session end %q", b)
}

// FamilyName picks the family label for a fresh login.
func FamilyName(refresh Token, login int) string {
	if f, ok := refresh.Claims["fam"].(string); ok && f != "" {
		return f
	}
	return fmt.Sprintf("#%d", login)
}
