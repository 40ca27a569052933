package observe

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"tokenscope/demoserver"
)

func TestParseScenario(t *testing.T) {
	steps, err := ParseScenario(strings.NewReader("# CI run\nat 2s expire\n\nat refresh 3 fail 503  # the third\nat 10s reject-next-refresh\nat 1m slow 2s\nat refresh 1 expire-next 4\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Step{{Line: 2, After: 2 * time.Second, Action: "expire"}, {Line: 4, AtRefresh: 3, Action: "fail"},
		{Line: 5, After: 10 * time.Second, Action: "reject-next-refresh"}, {Line: 6, After: time.Minute, Action: "slow", Dur: 2 * time.Second},
		{Line: 7, AtRefresh: 1, Action: "expire-next", N: 4}}
	if !reflect.DeepEqual(steps, want) {
		t.Errorf("steps %+v", steps)
	}
	for _, bad := range []string{"2s expire", "at soon expire", "at 2s explode", "at refresh 0 fail 503", "at refresh x fail 503",
		"at 2s fail 500", "at 2s slow", "at -1s expire", "at 2s expire now", "at refresh 2"} {
		if _, err := ParseScenario(strings.NewReader("at 1s clear\n" + bad)); err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// A scenario makes the same things happen on every run: three runs of one client give the
// same findings and the same counts.
func TestScenarioRepeatable(t *testing.T) {
	steps, err := ParseScenario(strings.NewReader("at refresh 2 fail 503\nat 300ms expire\n"))
	if err != nil {
		t.Fatal(err)
	}
	var first Summary
	for run := range 3 {
		r := newRig(t, demoserver.Options{}, func(c *Config) { c.Faults = true })
		if err := r.proxy.RunScenario(steps); err != nil {
			t.Fatal(err)
		}
		c := r.newClient()
		if err := c.login(); err != nil {
			t.Fatal(err)
		}
		_, rt, _ := c.tokens()
		if st, _ := c.refreshWith(rt); st != 200 {
			t.Fatalf("run %d: refresh 1: %d", run, st)
		}
		_, rt, _ = c.tokens()
		if st, _ := c.refreshWith(rt); st != 503 {
			t.Fatalf("run %d: refresh 2: %d, want the scenario's 503", run, st)
		}
		r.advance(t, 400*time.Millisecond)
		waitNote(t, r.proxy, "scenario line 2")
		c.retries = 0
		if st := c.do("GET", "/api/me", nil); st != 401 {
			t.Fatalf("run %d: after the scenario's expire: %d", run, st)
		}
		s := r.finish(t)
		s.Events = 0
		if run == 0 {
			first = s
			if s.Findings[RuleLogoutOnTransient]+s.Findings[RuleNeedless] == 0 || s.Unauthorized != 1 {
				t.Errorf("summary %+v", s)
			}
		} else if !reflect.DeepEqual(s, first) {
			t.Errorf("run %d: %+v, first run %+v", run, s, first)
		}
	}
}

// waitNote waits for a note the proxy logs (a scenario's step, applied on its own goroutine).
func waitNote(t *testing.T, p *Proxy, text string) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		for _, e := range p.Log().Events() {
			if strings.Contains(e.Reason, text) {
				return
			}
		}
	}
	t.Fatalf("no note %q", text)
}
