package tui

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"

	"tokenscope/apiclient"
	"tokenscope/apiclient/profile"
	"tokenscope/demoserver"
	"tokenscope/session"
)

// timelineOf is the timeline's rows as plain text, by label ("tokens", "refresh", "session",
// "requests", and "legend" for the last line); each row without its label column.
func timelineOf(m *Model) map[string]string {
	lines := strings.Split(ansi.Strip(m.timelineView()), "\n")
	rows := map[string]string{"legend": lines[len(lines)-1]}
	for _, l := range lines[:len(lines)-1] {
		rows[strings.TrimSpace(l[:tlLabelW])] = l[tlLabelW:]
	}
	return rows
}

// timelineBlock is the timeline as it stands in the whole view, plain.
func timelineBlock(m *Model) string {
	lines := strings.Split(ansi.Strip(m.View()), "\n")
	from := 1 + m.tokensHeight()
	return strings.Join(lines[from:from+timelineRows], "\n")
}

// tlScenario is one of the stories the timeline must tell apart. setup builds the fixture;
// act drives it (send presses a key and returns when its work is done).
type tlScenario struct {
	name  string
	setup func(t testing.TB) *fixture
	act   func(f *fixture, send func(key string, events int))
	// want is what the refresh, session and requests rows end with, trimmed.
	want map[string]string
}

var tlScenarios = []tlScenario{
	{
		name: "Proactive",
		setup: func(t testing.TB) *fixture {
			return newFixture(t, "simplejwt", apiclient.Config{Strategy: apiclient.Proactive}, "dark")
		},
		act: func(f *fixture, send func(string, int)) {
			f.clock.Advance(10 * time.Second)
			send("enter", 1)
			f.clock.Advance(17 * time.Second) // 3 s left, inside the 5 s threshold
			send("enter", 2)
		},
		want: map[string]string{"refresh": "P", "session": "L", "requests": "•"},
	},
	{
		name: "Reactive",
		setup: func(t testing.TB) *fixture {
			return newFixture(t, "element-admin", apiclient.Config{Strategy: apiclient.Reactive}, "dark")
		},
		act: func(f *fixture, send func(string, int)) {
			f.clock.Advance(10 * time.Second)
			send("enter", 1)
			f.clock.Advance(21 * time.Second) // expired a second ago
			send("enter", 2)
		},
		want: map[string]string{"refresh": "R", "session": "L", "requests": "!↻•"},
	},
	{
		// Single flight off, a burst of 50 at expiry, rotation with reuse detection: fifty
		// refresh calls, one wins, the server sees the rest reuse its refresh token and
		// revokes the family. The losers' tokens were rotated away, so they go on with the
		// winner's, which the server refuses too: one more refresh (the 51st) shows the
		// family revoked, the session ends and the requests are parked.
		name: "Stampede",
		setup: func(t testing.TB) *fixture {
			f, hold := holdFixture(t, "oauth2", apiclient.Config{Strategy: apiclient.Reactive})
			f.e.SetSingleFlight(false)
			f.srv.SetLatency(0, 200*time.Millisecond)
			hold.Store(true)
			return f
		},
		act:  burstAtExpiry,
		want: map[string]string{"refresh": "R×51✗×50", "session": "⊗p×50", "requests": "!×100↻×50•×50"},
	},
	{
		// The same burst with single flight: one refresh call, the fifty requests retried.
		name: "SingleFlightBurst",
		setup: func(t testing.TB) *fixture {
			f := newFixture(t, "oauth2", apiclient.Config{Strategy: apiclient.Reactive}, "dark")
			f.srv.SetLatency(0, 200*time.Millisecond)
			return f
		},
		act:  burstAtExpiry,
		want: map[string]string{"refresh": "R", "session": "L", "requests": "!×50↻×50•×50"},
	},
}

func burstAtExpiry(f *fixture, send func(string, int)) {
	f.clock.Advance(10 * time.Second)
	send("enter", 1)
	f.clock.Advance(21 * time.Second)
	send("-", 0) // burst size 50
	send("b", 51)
}

// stampedeSize is the burst the stampede scenario sends (the - key from 100).
const stampedeSize = 50

// holdFixture is newFixture with the demo server behind a gate that, while hold is set,
// answers a successful token call 200 ms late. A stampede's one winning refresh and the
// server's rejections of the others otherwise race to the engine, and which comes first
// decides whether the winner's token is installed and its request retried: the gate makes
// the rejections win every time, so that the scenario's counts are the same on every run.
func holdFixture(t testing.TB, name string, cfg apiclient.Config) (*fixture, *atomic.Bool) {
	t.Helper()
	f := &fixture{clock: testClock(epoch)}
	srv, err := demoserver.New(demoserver.Options{Clock: f.clock, Secret: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := profile.Builtin(name)
	var hold atomic.Bool
	var arrived atomic.Int32
	all := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hold.Load() && r.URL.Path == p.Refresh.Path {
			// A barrier: the stampede's refresh calls all reach the server before any is
			// answered, however slowly a loaded machine (or the race detector) sends them;
			// otherwise a late request finds the session ended and parks without refreshing.
			if arrived.Add(1) == stampedeSize {
				close(all)
			}
			select {
			case <-all:
			case <-time.After(5 * time.Second):
			}
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, r)
		if hold.Load() && r.URL.Path == p.Refresh.Path && rec.Code == http.StatusOK {
			time.Sleep(200 * time.Millisecond)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(ts.Close)
	f.srv = srv
	cfg.BaseURL, cfg.Profile, cfg.Username, cfg.Password, cfg.Clock = ts.URL, p, "demo", "demo", f.clock
	cfg.RefreshBackoff = time.Millisecond
	if f.e, err = apiclient.New(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.e.Close)
	if _, err := f.e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.m = New(Options{Driver: Drive(f.e, DemoFaults(srv)), Theme: "dark", Clock: f.clock, NoAutoLogin: true, Tick: 10 * time.Millisecond})
	t.Cleanup(f.m.Close)
	return f, &hold
}

// responses counts the answers and parked requests the engine has logged: a request is done
// when it has one or the other.
func responses(f *fixture) int {
	n := 0
	for _, e := range f.e.Log().Events() {
		if e.Kind == session.KindResponse && e.Status != http.StatusUnauthorized || e.Kind == session.KindParked {
			n++
		}
	}
	return n
}

// waitResponses waits until the engine has logged n requests done.
func waitResponses(t testing.TB, f *fixture, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); responses(f) < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d requests done", responses(f), n)
		}
	}
}

// TestTimelineScenarios: each story draws its own marks, at the moment it happened (the
// newest slot), with every class in its row.
func TestTimelineScenarios(t *testing.T) {
	for _, sc := range tlScenarios {
		t.Run(sc.name, func(t *testing.T) {
			f := sc.setup(t)
			f.m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
			sc.act(f, func(key string, n int) {
				upd(t, f.m, press(key))
				if n > 0 {
					waitResponses(t, f, n)
				}
			})
			drain(f.m)
			f.m.sync()
			rows := timelineOf(f.m)
			for _, row := range []string{"refresh", "session", "requests"} {
				if got := strings.TrimRight(rows[row], " "); !strings.HasSuffix(got, sc.want[row]) {
					t.Errorf("%s row ends %q, want %q", row, got, sc.want[row])
				}
			}
			if w := ansi.StringWidth(rows["refresh"]); w != 120-tlLabelW {
				t.Errorf("refresh row is %d cells, want %d", w, 120-tlLabelW)
			}
			if !strings.HasPrefix(rows["legend"], "last 2m  ") {
				t.Errorf("legend %q", rows["legend"])
			}
			for _, c := range tlLegendOrder[:3] {
				if !strings.Contains(rows["legend"], tlLegendEntryPlain(c)) {
					t.Errorf("legend %q lacks %q", rows["legend"], tlLegendEntryPlain(c))
				}
			}
		})
	}
}

func tlLegendEntryPlain(c tlClass) string { return string(tlMarks[c].mark) + " " + tlMarks[c].name }

// TestGoldenTimeline: the timeline block of the four scenarios, at 60, 80 and 120 columns.
func TestGoldenTimeline(t *testing.T) {
	for _, sc := range tlScenarios {
		for _, sz := range []struct{ w, h int }{{60, 18}, {80, 24}, {120, 40}} {
			t.Run(fmt.Sprintf("%s/%dx%d", sc.name, sz.w, sz.h), func(t *testing.T) {
				f := sc.setup(t)
				tm := teatest.NewTestModel(t, f.m, teatest.WithInitialTermSize(sz.w, sz.h))
				sc.act(f, func(key string, n int) {
					tm.Send(press(key))
					if n > 0 {
						waitResponses(t, f, n)
					}
				})
				want := "last 2m"
				teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(want)) },
					teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
				time.Sleep(100 * time.Millisecond) // a few ticks: every event in, the clock read
				if err := tm.Quit(); err != nil {
					t.Fatal(err)
				}
				final := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(*Model)
				golden.RequireEqual(t, []byte(timelineBlock(final)))
			})
		}
	}
}

// TestTimelineSpan: the span is a round figure that fills the width with slots of at least
// half a second.
func TestTimelineSpan(t *testing.T) {
	for _, c := range []struct {
		width int
		want  time.Duration
	}{{60, 2 * time.Minute}, {80, 2 * time.Minute}, {120, 2 * time.Minute}, {249, 2 * time.Minute}, {250, 5 * time.Minute}, {1000, 10 * time.Minute}} {
		cols := c.width - tlLabelW
		span, slot := timelineSpan(cols)
		if span != c.want || slot < tlMinSlot || span-slot*time.Duration(cols) >= time.Duration(cols) {
			t.Errorf("width %d: span %s, slot %s; want %s filled by slots >= %s", c.width, span, slot, c.want, tlMinSlot)
		}
	}
}

// tlRow lays out counts given per cell (one class per row of the test) and returns the text.
func tlRow(cols int, at map[int]tlCounts, classes []tlClass) string {
	slots := make([]tlCounts, cols)
	for i, c := range at {
		slots[i] = c
	}
	var b strings.Builder
	for _, c := range layoutRow(slots, classes) {
		if c.r == 0 {
			c.r = '.'
		}
		b.WriteRune(c.r)
	}
	return b.String()
}

func counts(kv ...int) tlCounts {
	var c tlCounts
	for i := 0; i < len(kv); i += 2 {
		c[kv[i]] = int32(kv[i+1])
	}
	return c
}

// TestTimelineLabels: counts are written after the mark over quiet cells, before it at the
// right edge; labels never touch: slots whose labels would are one label with their counts
// summed (no event dropped, no mark packed against another's count); where that label is
// shorter than the slots it covers, each slot shows its most telling mark, and a far busier
// slot its own label.
func TestTimelineLabels(t *testing.T) {
	refresh := tlRows[0].classes
	for _, c := range []struct {
		name string
		at   map[int]tlCounts
		want string
	}{
		{"single", map[int]tlCounts{3: counts(int(tlProactive), 1)}, "...P......"},
		{"count after", map[int]tlCounts{3: counts(int(tlReactive), 37)}, "...R×37..."},
		{"count at the edge", map[int]tlCounts{9: counts(int(tlReactive), 37)}, "......R×37"},
		{"causes and rejections", map[int]tlCounts{1: counts(int(tlReactive), 3, int(tlProactive), 1, int(tlRejected), 2)}, ".R×3P✗×2.."},
		{"a blank cell apart", map[int]tlCounts{0: counts(int(tlReactive), 3), 4: counts(int(tlBackground), 1)}, "R×3.B....."},
		{"touching: one label", map[int]tlCounts{0: counts(int(tlReactive), 3), 3: counts(int(tlBackground), 1)}, "R×3B......"},
		{"under a label: one label", map[int]tlCounts{4: counts(int(tlReactive), 37), 6: counts(int(tlBackground), 1)}, "....R×37B."},
		{"counts summed", map[int]tlCounts{1: counts(int(tlReactive), 37), 2: counts(int(tlManual), 2), 3: counts(int(tlManual), 1)}, ".R×37M×3.."},
		{"a rejection kept", map[int]tlCounts{1: counts(int(tlRejected), 1), 2: counts(int(tlReactive), 37)}, ".R×37✗...."},
		{"transient", map[int]tlCounts{5: counts(int(tlTransient), 1)}, ".....~...."},
		// A stampede's rejections arrive at the right edge after its refreshes: one label,
		// ending at the edge.
		{"rejections after a stampede", map[int]tlCounts{6: counts(int(tlReactive), 50), 9: counts(int(tlRejected), 49)}, "..R×50✗×49"},
		// issue 22: "R×101R✗✗" in the last columns.
		{"packed at the edge", map[int]tlCounts{3: counts(int(tlReactive), 101), 7: counts(int(tlReactive), 1), 8: counts(int(tlRejected), 1), 9: counts(int(tlRejected), 1)}, "..R×102✗×2"},
		{"a stretch", map[int]tlCounts{0: counts(int(tlManual), 1), 1: counts(int(tlManual), 1), 2: counts(int(tlManual), 1), 3: counts(int(tlManual), 1), 4: counts(int(tlManual), 1), 5: counts(int(tlManual), 1)}, "MMMMMM...."},
	} {
		if got := tlRow(10, c.at, refresh); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	// The session row of issue 22 at 80 columns ("⊗p×100pp×3pppp×2pLp↺×116"): labels apart.
	session := tlRows[1].classes
	at := map[int]tlCounts{40: counts(int(tlReuse), 1, int(tlParked), 100)}
	for i, n := range []int{1, 3, 1, 1, 1, 2, 1} {
		at[41+i] = counts(int(tlParked), n)
	}
	at[49], at[50] = counts(int(tlLogin), 1), counts(int(tlReplayed), 116)
	row := tlRow(71, at, session)
	if got := strings.Trim(row, "."); got != "⊗p×100.p.L↺×116" {
		t.Errorf("the session row: %q", row)
	}

	// A heartbeat at 80 columns: two requests a slot, a 401 and its retry among them. One
	// label would draw the 401 at the stretch's start: each slot shows its most telling mark.
	requests := tlRows[2].classes
	beats := map[int]tlCounts{}
	for i := range 30 {
		beats[i] = counts(int(tlRequest), 2)
	}
	beats[21] = counts(int(tlUnauthorized), 1, int(tlRetry), 1, int(tlRequest), 2)
	if got, want := tlRow(30, beats, requests), strings.Repeat("•", 21)+"!"+strings.Repeat("•", 8); got != want {
		t.Errorf("a heartbeat's stretch: %q, want %q", got, want)
	}
	// A burst among the beats keeps its count, a blank cell either side.
	beats[21] = counts(int(tlRequest), 2)
	beats[10] = counts(int(tlUnauthorized), 100, int(tlRetry), 100, int(tlRequest), 102)
	if got, want := tlRow(30, beats, requests), strings.Repeat("•", 9)+".!×100↻×100•×102."+strings.Repeat("•", 4); got != want {
		t.Errorf("a burst among the beats: %q, want %q", got, want)
	}
}

// TestTimelineEveryMark: each kind of event draws its mark on its row.
func TestTimelineEveryMark(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	now := f.clock.Now()
	st := f.m.logp.store
	for i, c := range []struct {
		e    session.Event
		row  string
		mark string
	}{
		{session.Event{Kind: session.KindRefreshStart, Why: session.WhyProactive}, "refresh", "P"},
		{session.Event{Kind: session.KindRefreshStart, Why: session.WhyReactive}, "refresh", "R"},
		{session.Event{Kind: session.KindRefreshStart, Why: session.WhyBackground}, "refresh", "B"},
		{session.Event{Kind: session.KindRefreshStart, Why: session.WhyManual}, "refresh", "M"},
		{session.Event{Kind: session.KindRefreshFailed}, "refresh", "✗"},
		{session.Event{Kind: session.KindRefreshFailed, Transient: true}, "refresh", "~"},
		{session.Event{Kind: session.KindLogout, State: session.StateLoginRequired, End: session.EndRejected, Reason: "login required: refresh rejected: invalid_grant"}, "session", "⊘"},
		{session.Event{Kind: session.KindLogout, State: session.StateLoginRequired, End: session.EndExpired}, "session", "⊘"},
		// The cause is the End, not the words: a server's message may say "reuse" or "revoked"
		// about anything, and a reason in another wording still names reuse by its End.
		{session.Event{Kind: session.KindLogout, State: session.StateLoginRequired, End: session.EndRejected, Reason: "login required: token already used, revoked"}, "session", "⊘"},
		{session.Event{Kind: session.KindLogout, State: session.StateLoginRequired, End: session.EndRevoked, Reason: "login required: invalid_grant"}, "session", "⊗"},
		{session.Event{Kind: session.KindLogout, State: session.StateLoginRequired, End: session.EndReuseSuspected}, "session", "⊗"},
		{session.Event{Kind: session.KindLogout, End: session.EndUserLogout, Reason: "logged out by the user"}, "session", "■"},
		{session.Event{Kind: session.KindLogin, Generation: 9}, "session", "L"},
		{session.Event{Kind: session.KindParked}, "session", "p"},
		{session.Event{Kind: session.KindReplayed}, "session", "↺"},
		{session.Event{Kind: session.KindRequestFailed}, "requests", "x"},
		{session.Event{Kind: session.KindUnauthorized}, "requests", "!"},
		{session.Event{Kind: session.KindRetry}, "requests", "↻"},
		{session.Event{Kind: session.KindRequest}, "requests", "•"},
	} {
		st.clear()
		c.e.Seq, c.e.Time = st.lastSeq+1, now
		st.add([]session.Event{c.e})
		rows := timelineOf(f.m)
		if got := strings.TrimSpace(rows[c.row]); got != c.mark {
			t.Errorf("%d %s: %s row %q, want %q", i, c.e.Kind, c.row, got, c.mark)
		}
		if !strings.Contains(rows["legend"], c.mark+" ") {
			t.Errorf("%d %s: legend %q does not name %s, which is on screen", i, c.e.Kind, rows["legend"], c.mark)
		}
	}
}

// TestTimelineAxisStable: slots are multiples of the slot duration since the epoch, so a mark
// stays in its cell while now moves within a slot and moves one cell left per slot.
func TestTimelineAxisStable(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	_, _, _, slot := timelineGeometry(120)
	// Start at the beginning of a slot, so that advancing less than a slot stays in it.
	f.clock.Advance(slot - time.Duration(f.clock.Now().UnixNano()%int64(slot)))
	st := f.m.logp.store
	st.add([]session.Event{{Seq: st.lastSeq + 1, Time: f.clock.Now(), Kind: session.KindRefreshStart, Why: session.WhyManual}})
	f.m.sync()
	before := timelineOf(f.m)["refresh"]
	col := strings.IndexRune(before, 'M')
	if col < 0 {
		t.Fatalf("no mark: %q", before)
	}
	f.clock.Advance(slot - time.Millisecond)
	f.m.sync()
	if got := timelineOf(f.m)["refresh"]; got != before {
		t.Errorf("within the slot the row moved:\n%q\n%q", before, got)
	}
	for n := 1; n <= 3; n++ {
		f.clock.Advance(slot)
		f.m.sync()
		if got := strings.IndexRune(timelineOf(f.m)["refresh"], 'M'); got != col-n {
			t.Errorf("after %d slots the mark is at byte %d, want %d", n, got, col-n)
		}
	}
}

// TestTimelineMonoGenerations: without colour, neighbouring generations differ in shape.
func TestTimelineMonoGenerations(t *testing.T) {
	f := newFixture(t, "simplejwt", apiclient.Config{Strategy: apiclient.Proactive}, "mono")
	f.m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	f.clock.Advance(27 * time.Second)
	upd(t, f.m, press("enter"))
	drain(f.m)
	f.m.sync()
	if bars := strings.TrimSpace(timelineOf(f.m)["tokens"]); !strings.Contains(bars, "▀▔") {
		t.Errorf("mono token row %q: generations #1 and #2 look the same", bars)
	}
}

// TestTimelineTrim: counts older than the longest span are forgotten as events arrive, and
// the drawn timeline follows every change.
func TestTimelineTrim(t *testing.T) {
	l := newLogStore(1000)
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for i := range 300 {
		l.add([]session.Event{{Seq: uint64(i + 1), Time: t0.Add(time.Duration(i) * time.Minute), Kind: session.KindRequest}})
	}
	if n := len(l.ticks); n > 2*int(timelineKeep/time.Minute)+1 {
		t.Errorf("%d ticks kept for one event a minute over 5 hours", n)
	}
	if got := l.slotCounts(floorDiv(t0.Add(299*time.Minute).UnixNano(), int64(time.Second)), int64(time.Second), 1); got[0][tlRequest] != 1 {
		t.Errorf("newest tick: %v", got[0])
	}
}

// BenchmarkTimelineRedraw draws the timeline at 200 columns over 100k events as when every
// frame brings new events (the cache misses): only the ticks in view are summed.
func BenchmarkTimelineRedraw(b *testing.B) {
	f := newFixture(b, "simplejwt", apiclient.Config{}, "dark")
	m := f.m
	m.Update(tea.WindowSizeMsg{Width: 200, Height: 60})
	m.logp.store.add(syntheticEvents(100_000, f.clock.Now()))
	b.ReportAllocs()
	for b.Loop() {
		m.logp.store.tlVersion++
		m.timelineView()
	}
}

// TestKindIconsOneCell: every log icon is one rune one cell wide, and none comes from the
// Miscellaneous Technical block, whose media glyphs (⏸ ⏵ ⏹) are emoji to many terminals (two
// cells) and missing from DejaVu Sans Mono (a box).
func TestKindIconsOneCell(t *testing.T) {
	for k, icon := range kindIcons {
		r := []rune(icon)
		if len(r) != 1 || ansi.StringWidth(icon) != 1 || (r[0] >= 0x2300 && r[0] <= 0x23ff) {
			t.Errorf("%s's icon %q (%U) is not one plain cell", k, icon, r)
		}
	}
}

// TestClusterWidthIsItsLabel: the width layoutRow reckons with is the label it draws, cell for
// cell, for every count a slot can hold and any mix of classes.
func TestClusterWidthIsItsLabel(t *testing.T) {
	classes := []tlClass{0, 1, 2}
	for _, n := range []int32{0, 1, 2, 9, 10, 99, 100, 999, 1000, 9999, 10000, 99999, 250000} {
		for _, m := range []int32{0, 1, 12, 1500} {
			var c tlCluster
			c.n[0], c.n[2] = n, m
			if w, text := c.width(classes), c.text(classes); w != len(text) {
				t.Errorf("counts %d and %d: width %d, label %d cells", n, m, w, len(text))
			}
		}
	}
}
