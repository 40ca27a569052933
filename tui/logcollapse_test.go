package tui

import (
	"regexp"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"tokenscope/apiclient"
	"tokenscope/session"
	"tokenscope/themes"
)

// TestLogCollapsesABurst: after a burst of 100 on an expired token the single-flight story
// reads on one 80×24 screen: one refresh, the waits on it, ×100 retries and answers, each a
// line; z shows one line per event again, and z once more collapses them.
func TestLogCollapsesABurst(t *testing.T) {
	f := sized(t, apiclient.Config{Strategy: apiclient.Reactive}, true)
	f.m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	f.srv.SetLatency(0, 200*time.Millisecond) // the burst is out before the refresh ends
	upd(t, f.m, press("E"))
	upd(t, f.m, press("b"))
	drain(f.m)
	st := f.m.logp.store
	// login, the E note, and the story's 9 kinds of step (a late 401 noted for some)
	if len(st.visible) > 12 {
		t.Fatalf("%d events in %d lines", len(st.events), len(st.visible))
	}
	// The refresh, the waits on it and the answers on the screen; before them (scrolled off
	// at 80×24 when a run splits) the requests and their 401s.
	v := ansi.Strip(f.m.View())
	all := ansi.Strip(strings.Join(st.lines(mono(), 120, 50), "\n"))
	for _, want := range []struct {
		re     string
		screen bool
	}{
		// How many went out before the refresh ended depends on the scheduler.
		{`×\d+\s+request\s+GET /api/protected/ \(gen #1\)`, false},
		{`×\d+\s+401\s+GET /api/protected/`, false},
		{`×\d+\s+retry`, false},
		{`#\d+\s+refresh-start\s+refresh #1\s+reactive`, true},
		{`(×|#)\d+\s+refresh-wait\s+waiting on refresh #1 \(\d+ queued\)`, true},
		{`refresh-ok\s+refresh #1`, true},
		{`×100\s+response\s+GET /api/protected/ → 200`, true},
		{`\d+ events in \d+ lines \(z: one each\)`, true},
	} {
		if in := map[bool]string{true: v, false: all}[want.screen]; !regexp.MustCompile(want.re).MatchString(in) {
			t.Errorf("the log lacks %s:\n%s", want.re, in)
		}
	}
	upd(t, f.m, press("z"))
	if len(st.visible) != len(st.events) || st.shown != len(st.events) {
		t.Errorf("z: %d lines for %d events", len(st.visible), len(st.events))
	}
	if v := ansi.Strip(strings.Join(st.lines(mono(), 120, 50), "\n")); strings.Contains(v, "×") {
		t.Errorf("z left lines collapsed:\n%s", v)
	}
	upd(t, f.m, press("z"))
	if len(st.visible) > 12 {
		t.Errorf("z again: %d lines", len(st.visible))
	}
}

// TestAlike: a run joins events that tell the same step, whatever their request ids, times,
// durations and the numbers in their reasons; another refresh, answer or generation is another
// step; an alike event too long after its run starts a line of its own.
func TestAlike(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	wait := func(req, refresh uint64, queued string, at time.Duration) session.Event {
		return session.Event{Kind: session.KindRefreshWait, RequestID: req, RefreshID: refresh, Time: t0.Add(at),
			Reason: "waiting on refresh #" + string(rune('0'+refresh)) + " (" + queued + " queued)"}
	}
	if !alike(wait(1, 2, "1", 0), wait(2, 2, "17", time.Millisecond)) {
		t.Error("two waits on one refresh are not alike")
	}
	if alike(wait(1, 2, "1", 0), wait(2, 3, "1", 0)) {
		t.Error("waits on two refreshes are alike")
	}
	ok := session.Event{Kind: session.KindResponse, Method: "GET", Path: "/a", Status: 200, Duration: time.Millisecond}
	other := ok
	other.Status, other.Duration = 401, 2*time.Millisecond
	if alike(ok, other) {
		t.Error("a 200 and a 401 are alike")
	}
	end := session.Event{Kind: session.KindLogout, End: session.EndRejected, Reason: "session ended"}
	revoked := end
	revoked.End = session.EndRevoked
	if alike(end, revoked) {
		t.Error("two session ends of different causes are alike")
	}
	if !sameButNumbers("x 12 y", "x 3 y") || sameButNumbers("x 12 y", "x 3 z") || sameButNumbers("x1", "x") {
		t.Error("sameButNumbers")
	}

	l := newLogStore(100)
	l.add([]session.Event{wait(1, 2, "1", 0), wait(2, 2, "2", 100*time.Millisecond),
		wait(3, 2, "3", 100*time.Millisecond+collapseGap+time.Millisecond)})
	if len(l.visible) != 2 || l.visible[0].n != 2 || l.visible[1].n != 1 {
		t.Errorf("rows %+v", l.visible)
	}
	line := ansi.Strip(l.lines(mono(), 120, 10)[0])
	if !strings.Contains(line, "12:00:00.000") || !regexp.MustCompile(`×2\s+refresh-wait\s+waiting on refresh #2 \(2 queued\)`).MatchString(line) {
		t.Errorf("a run's line: %q (its first's time, its newest's text)", line)
	}
}

func mono() themes.Theme { _, th := pickTheme("mono"); return th }
