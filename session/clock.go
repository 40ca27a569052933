// Package session holds what tokenscope knows about a login: the token pair and its timing,
// the session state, the estimated server clock skew, and the event log that tells the story of
// every request and refresh. It does no network I/O; the engine in apiclient is its only writer
// and the TUI and `fire` are its readers.
package session

import "tokenscope/internal/clock"

// Clock is the time source. The engine and the TUI take one so that tests and golden files can
// stop time.
type Clock = clock.Clock

// SystemClock is the real clock.
type SystemClock = clock.System
