package human

import (
	"math"
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                     "0s",
		250 * time.Millisecond:                "250ms",
		1500 * time.Microsecond:               "1.5ms",
		537 * time.Microsecond:                "537µs", // not "0s": a loopback answer took time
		13062 * time.Microsecond:              "13.06ms",
		999995 * time.Nanosecond:              "1ms",
		3 * time.Second:                       "3.0s",
		26*time.Second + 800*time.Millisecond: "26.8s",
		9*time.Minute + 57*time.Second + 300*time.Millisecond: "9m57s",
		10 * time.Minute:          "10m0s",
		-3200 * time.Millisecond:  "-3.2s",
		999996 * time.Microsecond: "1.0s", // rounds up to a second: the seconds form, not "1s"
		999600 * time.Microsecond: "999.6ms",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
	// The most negative duration has no positive twin: no endless recursion, a sign in front.
	if got := Duration(math.MinInt64); got[:2] != "-2" {
		t.Errorf("Duration(min) = %q", got)
	}
}

func TestCountdown(t *testing.T) {
	for d, want := range map[time.Duration]string{
		26*time.Second + 800*time.Millisecond: "26.8s left",
		9*time.Minute + 57*time.Second:        "9m57s left",
		10 * time.Minute:                      "10m0s left",
		400 * time.Millisecond:                "0.4s left",
		0:                                     "expired 0.0s ago",
		-3100 * time.Millisecond:              "expired 3.1s ago",
	} {
		if got := Countdown(d); got != want {
			t.Errorf("Countdown(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestApprox(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                    "0s",
		400 * time.Millisecond:               "400ms",
		5 * time.Second:                      "5s",
		4*time.Minute + 12*time.Second:       "4m12s",
		3*time.Minute + 400*time.Millisecond: "3m",
		10 * time.Minute:                     "10m",
		2*time.Hour + 29*time.Minute + 59*time.Second: "2h29m",
		49 * time.Hour:                        "2d1h",
		400 * 24 * time.Hour:                  "1y35d",
		time.Duration(math.MaxInt64):          "more than 292y",
		59*time.Second + 600*time.Millisecond: "59s",
	} {
		if got := Approx(d); got != want {
			t.Errorf("Approx(%v) = %q, want %q", d, got, want)
		}
	}
	if got := Abs(math.MinInt64); got != math.MaxInt64 {
		t.Errorf("Abs(min) = %v", got)
	}
}
