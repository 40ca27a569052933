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
