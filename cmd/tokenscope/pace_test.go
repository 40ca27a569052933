package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// fireSummaryJSON runs fire --json and returns its summary both as the struct and as a map
// (to see which fields are there), and how long the run took.
func fireSummaryJSON(t *testing.T, args ...string) (summary, map[string]any, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	out, errOut, err := run(ctx, append([]string{"fire", "--json"}, args...)...)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("fire %v: %v\n%s", args, err, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := []byte(lines[len(lines)-1])
	var s summary
	var m map[string]any
	if json.Unmarshal(last, &s) != nil || json.Unmarshal(last, &m) != nil {
		t.Fatalf("the last line is not the summary: %q", last)
	}
	return s, m, took
}

func within(got, want, frac float64) bool { return got >= want*(1-frac) && got <= want*(1+frac) }

// TestFirePacedForDuration: --rate 20 --duration 1.5s sends about 30 requests, at about 20 a
// second, then stops; the summary says the pace held and what was asked.
func TestFirePacedForDuration(t *testing.T) {
	s, m, took := fireSummaryJSON(t, "--rate", "20", "--duration", "1.5s", "-c", "4", "GET", "/api/me")
	if !within(float64(s.Requests), 30, 0.2) || s.OK != s.Requests {
		t.Errorf("sent %d (%d ok), want about 30: %+v", s.Requests, s.OK, s)
	}
	if took > 5*time.Second {
		t.Errorf("a 1.5 s run took %v", took)
	}
	if !within(s.RatePerS, 20, 0.2) || s.RateAskedPerS != 20 || s.DurationMS != 1500 {
		t.Errorf("pace %+v; want about 20/s held, 20/s and 1500 ms asked", s)
	}
	for _, k := range []string{"rate_per_s", "rate_asked_per_s", "duration_ms"} {
		if _, ok := m[k]; !ok {
			t.Errorf("the summary lacks %q: %v", k, m)
		}
	}
}

// TestFireCountCapsDuration: -n 5 --duration 10s stops after 5 requests, not after 10 s.
func TestFireCountCapsDuration(t *testing.T) {
	s, _, took := fireSummaryJSON(t, "-n", "5", "--duration", "10s", "GET", "/api/me")
	if s.Requests != 5 || s.OK != 5 || took > 5*time.Second {
		t.Errorf("sent %d in %v; want 5, well before 10 s: %+v", s.Requests, took, s)
	}
}

// TestFireDurationWithoutRate: --duration alone sends as fast as -c allows until time is up.
func TestFireDurationWithoutRate(t *testing.T) {
	s, _, took := fireSummaryJSON(t, "--duration", "400ms", "-c", "2", "GET", "/api/me")
	if s.Requests < 10 || s.OK != s.Requests || took > 5*time.Second {
		t.Errorf("sent %d in %v: %+v", s.Requests, took, s)
	}
	if s.Requests == 1 {
		t.Error("--duration without -n capped the run at the default count")
	}
}

// TestFireRatePacesCount: --rate with -n paces the n requests: 10 at 50/s take about 180 ms
// from the first start to the last.
func TestFireRatePacesCount(t *testing.T) {
	s, _, _ := fireSummaryJSON(t, "--rate", "50", "-n", "10", "-c", "10", "GET", "/api/me")
	if s.Requests != 10 || s.OK != 10 || !within(s.RatePerS, 50, 0.2) || s.WallMS < 170 {
		t.Errorf("summary %+v; want 10 requests at about 50/s over at least 180 ms", s)
	}
}

// TestFirePaceFlagsRefused: --rate and --duration must be positive, and an explicit --count
// still at least 1 with --duration.
func TestFirePaceFlagsRefused(t *testing.T) {
	for _, args := range [][]string{
		{"fire", "--rate", "0"}, {"fire", "--rate", "-1"}, {"fire", "--rate", "NaN"}, {"fire", "--rate", "+Inf"},
		{"fire", "--duration", "0"}, {"fire", "--duration", "-1s"}, {"fire", "--count", "0", "--duration", "1s"},
	} {
		_, errOut, code := executeCLI(t, args...)
		if code != 2 || !strings.Contains(errOut, args[1]) {
			t.Errorf("%v: exit %d, stderr %q; want 2 naming %s", args, code, errOut, args[1])
		}
	}
}
