package main

import (
	"strings"
	"testing"
)

// TestOddFlagValuesAreRefused: values that cannot mean anything (a timeout of 0 once made every
// login fail, a negative threshold was ignored) are refused before anything starts, with exit
// status 2 and a message naming the flag, by fire and by the TUI command alike.
func TestOddFlagValuesAreRefused(t *testing.T) {
	cases := []struct {
		args []string
		flag string // what the message must name
	}{
		{[]string{"--timeout", "0"}, "--timeout"},
		{[]string{"--timeout", "-1s"}, "--timeout"},
		{[]string{"--threshold", "-1s"}, "--threshold -1s"},
		{[]string{"--log-size", "0"}, "--log-size"},
		{[]string{"--log-size", "-3"}, "--log-size"},
		{[]string{"--access-ttl", "0s"}, "--access-ttl"},
		{[]string{"--refresh-ttl", "-1m"}, "--refresh-ttl"},
		{[]string{"--latency", "-5ms"}, "--latency"},
		{[]string{"--refresh-latency", "-5ms"}, "--refresh-latency"},
		{[]string{"--fail-refresh", "-1"}, "--fail-refresh"},
		{[]string{"--rotation-grace", "-1s"}, "--rotation-grace"},
		{[]string{"--access-leeway", "-1s"}, "--access-leeway"},
		{[]string{"--refresh-race-window", "-1ms"}, "--refresh-race-window"},
		{[]string{"--timeout", "soon"}, "--timeout"}, // not a duration at all: the same status
	}
	fireOnly := []struct {
		args []string
		flag string
	}{
		{[]string{"-n", "0"}, "--count"},
		{[]string{"--count", "-5"}, "--count"},
		{[]string{"-c", "0"}, "--concurrency"},
		{[]string{"--concurrency", "-2"}, "--concurrency"},
	}
	for _, cmd := range [][]string{{"fire"}, {}} {
		all := cases
		if len(cmd) > 0 {
			all = append(all, fireOnly...)
		}
		for _, c := range all {
			args := append(append([]string{}, cmd...), c.args...)
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				_, errOut, code := executeCLI(t, args...)
				if code != 2 || !strings.Contains(errOut, c.flag) {
					t.Errorf("%v: exit %d, stderr %q; want 2 and a message naming %s", args, code, errOut, c.flag)
				}
			})
		}
	}

	// A value from a TOKENSCOPE_* variable is blamed on the variable.
	t.Setenv("TOKENSCOPE_THRESHOLD", "-2s")
	if _, errOut, code := executeCLI(t, "fire"); code != 2 || !strings.Contains(errOut, `TOKENSCOPE_THRESHOLD="-2s"`) {
		t.Errorf("TOKENSCOPE_THRESHOLD=-2s: exit %d, stderr %q", code, errOut)
	}
}

// TestUsageErrorsExit2Everywhere: one exit status table for every command. A command line
// tokenscope refuses (an unknown command or flag, too few or too many arguments, a refused
// flag value) exits 2 before anything starts, the terminal check included; the message names
// what was wrong. Each of these once exited 1 (decode used 1 for usage and 2 for a bad signature).
func TestUsageErrorsExit2Everywhere(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"fier"}, `did you mean fire?`},
		{[]string{"reqest"}, `did you mean request?`},
		{[]string{"request"}, "arg(s)"},
		{[]string{"request", "GET", "/a", "extra"}, "arg(s)"},
		{[]string{"--strategy", "bogus"}, "--strategy"}, // the TUI: refused before it looks for a terminal
		{[]string{"fire", "--strategy", "bogus", "GET", "/api/me"}, "--strategy"},
		{[]string{"request", "--strategy", "bogus", "GET", "/api/me"}, "--strategy"},
		{[]string{"--theme", "neon"}, `theme "neon"`},
		{[]string{"fire", "--log-bodies", "GET", "/api/me"}, "--log-file"},
		{[]string{"fire", "--bogus"}, "unknown flag"},
		{[]string{"decode", "--secret", "a", "--key", "k.pem", "x.y.z"}, "at most one of"},
		{[]string{"decode", "a.b.c", "d.e.f"}, "arg(s)"},
		{[]string{"fire", "--verify-jwks", "ftp://x/jwks", "GET", "/api/me"}, "--verify-jwks"},
	} {
		_, stderr, code := executeCLI(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
}

// TestTUINeedsATerminal: `tokenscope | cat` said "could not open a new TTY" and exited 0; it now
// says the TUI needs a terminal, names the commands that don't, and exits 2.
func TestTUINeedsATerminal(t *testing.T) {
	_, stderr, code := executeCLI(t) // go test's stdout is not a terminal
	if code != 2 || !strings.Contains(stderr, "needs a terminal") || !strings.Contains(stderr, "fire, request") {
		t.Errorf("exit %d, %q", code, stderr)
	}
}
