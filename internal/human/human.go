// Package human prints durations for people. Duration is the precise form the event log, the
// TUI and error messages use ("537µs", "13.06ms", "26.8s", "9m57s"); Countdown is the TUI's time-left
// form built on it; Approx is the coarse form for times far away (decode's "expires in 2h29m",
// the demo server's "refresh TTL 10m").
package human

import (
	"fmt"
	"math"
	"time"
)

// Duration is d as the log reads best: under a millisecond in microseconds ("537µs": answers
// on loopback take that long, and "0s" would say they took nothing), under a second in
// milliseconds to 10 µs ("13.06ms", "250ms"), under a minute in seconds with one decimal
// ("26.8s"), else rounded to the second ("9m57s", "1h0m0s"). A negative d gets a minus sign.
// The event log, the requests panel and the status lines all write durations with it, so the
// same answer reads the same everywhere.
func Duration(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + Duration(absDur(d))
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d.Round(10*time.Microsecond) < time.Second:
		return d.Round(10 * time.Microsecond).String()
	}
	// 999.6ms rounds up to a second: written "1.0s", in the unit of the seconds beside it
	// ("1.0s left < 1.0s" compares like with like; "1s left < 1.0s" read as a contradiction).
	return seconds(d)
}

// seconds is d (≥ 0) with a tenth of a second under a minute, else to the second.
func seconds(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

// Countdown is the time left until a deadline that is left away: "26.8s left", "9m57s left",
// or "expired 3.1s ago" once left ≤ 0. Below a second it stays in tenths of a second ("0.4s
// left") rather than switching to milliseconds, so a ticking countdown keeps its unit.
func Countdown(left time.Duration) string {
	if left <= 0 {
		return "expired " + seconds(absDur(left)) + " ago"
	}
	return seconds(left) + " left"
}

// Approx is d (≥ 0) in at most its two largest units, truncated so that a time left is never
// overstated: "4m12s", "3m", "2h29m", "2d1h", "1y35d"; under a second in milliseconds. Time
// differences saturate at math.MaxInt64, which reads "more than 292y".
func Approx(d time.Duration) string {
	if d == math.MaxInt64 { // time.Time.Sub saturates
		return "more than 292y"
	}
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	d = d.Truncate(time.Second)
	const day = 24 * time.Hour
	units := []struct {
		size time.Duration
		name string
	}{{365 * day, "y"}, {day, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}}
	for i, u := range units {
		if d < u.size {
			continue
		}
		s := fmt.Sprintf("%d%s", d/u.size, u.name)
		if i+1 < len(units) {
			if rest := (d % u.size) / units[i+1].size; rest > 0 {
				s += fmt.Sprintf("%d%s", rest, units[i+1].name)
			}
		}
		return s
	}
	return "0s"
}

// Abs is |d|, saturating: the most negative duration has no positive twin.
func Abs(d time.Duration) time.Duration { return absDur(d) }

func absDur(d time.Duration) time.Duration {
	if d == math.MinInt64 {
		return math.MaxInt64
	}
	return max(d, -d)
}
