package main

import (
	"context"
	"encoding/json"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"tokenscope/apiclient"
	"tokenscope/demoserver"
)

// fireJSON runs fire with --json and returns its events and summary.
func fireJSON(t *testing.T, args ...string) ([]map[string]any, summary, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, _, err := run(ctx, append([]string{"fire", "--json"}, args...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) == 0 {
		t.Fatalf("no output (err %v)", err)
	}
	var events []map[string]any
	for _, l := range lines[:len(lines)-1] {
		var ev map[string]any
		if jerr := json.Unmarshal([]byte(l), &ev); jerr != nil {
			t.Fatalf("event line is not JSON: %q", l)
		}
		events = append(events, ev)
	}
	var s summary
	if jerr := json.Unmarshal([]byte(lines[len(lines)-1]), &s); jerr != nil {
		t.Fatalf("summary is not JSON: %q (err %v)", lines[len(lines)-1], err)
	}
	return events, s, err
}

func kinds(evs []map[string]any) map[string]int {
	m := map[string]int{}
	for _, e := range evs {
		k, _ := e["kind"].(string)
		m[k]++
	}
	return m
}

func TestFireSingleFlightOnExpiredToken(t *testing.T) {
	evs, s, err := fireJSON(t, "--access-ttl", "2s", "--wait-expiry", "-n", "300", "-c", "300", "--refresh-latency", "20ms")
	if err != nil {
		t.Fatalf("fire failed: %v (summary %+v)", err, s)
	}
	if s.Requests != 300 || s.OK != 300 || s.Lost != 0 || s.Failed != 0 || s.Refreshes < 1 || s.LoggedOut != 0 {
		t.Errorf("summary %+v", s)
	}
	k := kinds(evs)
	if k["login"] != 1 || uint64(k["refresh-start"]) != s.Refreshes || uint64(k["refresh-ok"]) != s.Refreshes || k["refresh-wait"] == 0 || k["response"] != 300 {
		t.Errorf("event kinds %v", k)
	}
	// Single flight: each refresh token is presented once. The new token lives 2 s too, so a
	// burst slowed past its threshold (the race detector on a busy machine) rightly refreshes
	// again, with the new refresh token.
	presented := map[string]int{}
	for _, e := range evs {
		if e["kind"] == "refresh-start" {
			fp, _ := e["token"].(string)
			if presented[fp]++; presented[fp] > 1 || fp == "" {
				t.Errorf("refresh token %q presented again: %v", fp, e)
			}
		}
	}
	for _, e := range evs {
		if r, _ := e["reason"].(string); strings.Contains(r, "reuse") {
			t.Errorf("single flight, yet reuse: %v", e)
		}
	}
	if s.WallMS <= 0 || s.P50MS <= 0 || s.P99MS < s.P50MS {
		t.Errorf("timings %+v", s)
	}
}

func TestFireStampedeWithoutSingleFlight(t *testing.T) {
	evs, s, err := fireJSON(t, "--access-ttl", "1s", "--wait-expiry", "-n", "50", "-c", "50", "--no-single-flight",
		"--strategy", "reactive", "--refresh-latency", "20ms", "--no-relogin")
	if err == nil || exitCode(err) != 1 {
		t.Fatalf("want exit status 1, got %v", err)
	}
	if s.Refreshes < 2 || s.LoggedOut != 1 || s.Parked == 0 || s.OK+s.Failed+s.Parked != 50 || s.Lost != 0 {
		t.Errorf("summary %+v", s)
	}
	if k := kinds(evs); k["refresh-failed"] == 0 || k["parked"] == 0 || k["logout"] != 1 {
		t.Errorf("event kinds %v", k)
	}
	// The engine names the reuse it caused: a summary per reused token, and the logout's cause:
	// the winner's tokens were refused after the reuse, so the server revoked the family.
	var summaries, blamed int
	for _, e := range evs {
		r, _ := e["reason"].(string)
		if e["kind"] == "note" && strings.Contains(r, " reused: presented ") &&
			(strings.HasSuffix(r, " reuses)") || strings.HasSuffix(r, " reuse)")) {
			summaries++
		}
		if e["kind"] == "logout" && e["end"] == "revoked" {
			blamed++
		}
	}
	if summaries == 0 || blamed != 1 {
		t.Errorf("%d reuse notes, %d logouts as revoked", summaries, blamed)
	}
}

func TestFireRelogsInAndReplays(t *testing.T) {
	_, s, err := fireJSON(t, "--access-ttl", "1s", "--wait-expiry", "-n", "30", "-c", "30", "--no-single-flight",
		"--strategy", "reactive", "--refresh-latency", "20ms")
	if err != nil {
		t.Fatalf("fire: %v (%+v)", err, s)
	}
	if s.OK != 30 || s.Replayed == 0 || s.LoggedOut != 1 {
		t.Errorf("summary %+v", s)
	}
	// A replayed request is timed from when it was first sent: before it was parked it waited
	// on a refresh call that the server delayed by 20 ms.
	if s.P99MS < 20 || s.WallMS < s.P99MS {
		t.Errorf("timings %+v: p99 should include the wait before the replay, wall the replays", s)
	}
}

// TestFireSummaryWhenLoginFails: the last line is still the summary, saying why nothing was sent.
func TestFireSummaryWhenLoginFails(t *testing.T) {
	srv, err := demoserver.Start(demoserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	t.Setenv("TS_TEST_PASSWORD", "wrong")
	_, s, err := fireJSON(t, "--target", srv.URL(), "--user", "demo", "--password-env", "TS_TEST_PASSWORD", "-n", "5")
	if err == nil || !strings.Contains(s.Error, "login failed") || s.Requests != 5 || s.OK != 0 {
		t.Errorf("err %v, summary %+v", err, s)
	}
}

func TestFireReadableOutput(t *testing.T) {
	out, _, err := run(context.Background(), "fire", "-n", "3", "POST", "/api/items", `{"name":"x"}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"login", "POST /api/items", "→ 201", "3 requests: 3 ok, 0 failed", "p99"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestFireAgainstTarget(t *testing.T) {
	srv, err := demoserver.Start(demoserver.Options{Users: map[string]string{"alice": "wonderland"}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	t.Setenv("TS_TEST_PASSWORD", "wonderland")
	for _, prof := range []string{"simplejwt", "bearer-json", "element-admin", "oauth2"} {
		_, s, err := fireJSON(t, "--target", srv.URL(), "--profile", prof, "--user", "alice", "--password-env", "TS_TEST_PASSWORD", "-n", "5")
		if err != nil || s.OK != 5 {
			t.Errorf("%s: %v %+v", prof, err, s)
		}
	}
	t.Setenv("TS_TEST_PASSWORD", "wrong")
	if _, _, err := run(context.Background(), "fire", "--target", srv.URL(), "--user", "alice", "--password-env", "TS_TEST_PASSWORD"); err == nil || !strings.Contains(err.Error(), "login failed") {
		t.Errorf("wrong password: %v", err)
	}
}

func TestFireRejectsBadArguments(t *testing.T) {
	cases := map[string][]string{
		"method only":       {"fire", "GET"},
		"unknown method":    {"fire", "FETCH", "/api/me"},
		"relative path":     {"fire", "GET", "api/me"},
		"zero count":        {"fire", "--count", "0"},
		"target, no user":   {"fire", "--target", "http://127.0.0.1:1"},
		"unset password":    {"fire", "--target", "http://127.0.0.1:1", "--user", "x", "--password-env", "TS_TEST_UNSET_VAR"},
		"bad strategy":      {"fire", "--strategy", "sometimes"},
		"unknown profile":   {"fire", "--profile", "graphql-magic"},
		"not a url":         {"fire", "--target", "ftp://x", "--user", "x"},
		"refused":           {"fire", "--target", "http://127.0.0.1:1", "--user", "x"},
		"wait with no exp":  {"fire", "--profile", "oauth2", "--opaque-oauth", "--wait-expiry", "--access-ttl", "20m"},
		"too many args":     {"fire", "GET", "/a", "{}", "extra"},
		"bad demo-user":     {"fire", "--demo-user", "a:b"},
		"negative ttl":      {"fire", "--access-ttl", "-1s"},
		"empty concurrency": {"fire", "-c", "0"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, _, err := run(ctx, args...)
			if err == nil {
				t.Fatalf("%v succeeded", args)
			}
			if ctx.Err() != nil {
				t.Fatalf("%v hung", args)
			}
		})
	}
}

// TestTOKENSCOPEVariablesReachEveryCommand: the variables are read by each command that takes
// target flags, through the command itself (fire once copied its flags before they were read).
func TestTOKENSCOPEVariablesReachEveryCommand(t *testing.T) {
	for _, v := range []string{"TOKENSCOPE_STRATEGY", "TOKENSCOPE_PROFILE"} {
		t.Run(v, func(t *testing.T) {
			t.Setenv(v, "bogus")
			for _, args := range [][]string{{"fire", "-n", "1"}, {"--theme", "mono"}} {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				_, _, err := run(ctx, args...)
				cancel()
				if err == nil || !strings.Contains(err.Error(), v+`="bogus"`) {
					t.Errorf("%v with %s=bogus: err %v, want it to name the variable", args, v, err)
				}
			}
		})
	}
}

// TestSummaryWording: counts are singular when they are one ("1 refresh call", "1 request"), a
// single request reports no rate (it once said 0.0 req/s), and a burst names both rates: the
// one its requests were started at and the one they were answered at (a 1000×1000 burst said
// 24841.6 req/s beside a wall of 221.9 ms, the start rate alone).
func TestSummaryWording(t *testing.T) {
	one := summary{Requests: 1, OK: 1, Refreshes: 1, UnauthorizedSeen: 1, Events: 1, WallMS: 3}
	text := one.text()
	for _, want := range []string{"1 request: 1 ok", "1 refresh call (", "1 401 seen", "1 event,"} {
		if !strings.Contains(text, want) {
			t.Errorf("one request: %q lacks %q", text, want)
		}
	}
	if strings.Contains(text, "/s") {
		t.Errorf("one request reports a rate: %q", text)
	}
	tl := newTally()
	base := time.Now()
	for i := range 1000 {
		tl.started++
		tl.add(apiclient.Result{Outcome: apiclient.OK, Sent: base.Add(time.Duration(i) * 40 * time.Microsecond)})
	}
	burst := tl.summarize(apiclient.Counters{RefreshCalls: 2}, 220*time.Millisecond)
	if burst.RatePerS < 20000 || burst.ThroughputPerS < 4500 || burst.ThroughputPerS > 4600 {
		t.Errorf("rates: started %.1f/s, answered %.1f/s", burst.RatePerS, burst.ThroughputPerS)
	}
	text = burst.text()
	for _, want := range []string{"1000 requests", "2 refresh calls", "started 25000.0/s", "answered 4545."} {
		if !strings.Contains(text, want) {
			t.Errorf("burst: %q lacks %q", text, want)
		}
	}
}

// TestLoadGeneratorGC: fire collects garbage at a load generator's pace (a cycle when the heap
// is five times what is live), unless GOGC is set: then it is the user's word.
func TestLoadGeneratorGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "150")
	loadGeneratorGC()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set, fire changed the collector's pace to %d", got)
	}
	t.Setenv("GOGC", "")
	loadGeneratorGC()
	if got := debug.SetGCPercent(100); got != 400 {
		t.Errorf("fire's pace: GOGC %d, want 400", got)
	}
}
