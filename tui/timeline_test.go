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
		// revokes the grant; the session ends and the requests are parked.
		name: "Stampede",
		setup: func(t testing.TB) *fixture {
			f, hold := holdFixture(t, "oauth2", apiclient.Config{Strategy: apiclient.Reactive})
			f.e.SetSingleFlight(false)
			f.srv.SetLatency(0, 200*time.Millisecond)
			hold.Store(true)
			return f
		},
		act:  burstAtExpiry,
		want: map[string]string{"refresh": "R×50✗×49", "session": "⊗p×50", "requests": "!×50•×50"},
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

// holdFixture is newFixture with the demo server behind a gate that, while hold is set,
// answers a successful token call 200 ms late. A stampede's one winning refresh and the
// server's rejections of the others otherwise race to the engine, and which comes first
// decides whether the winner's token is installed and its request retried: the gate makes
// the rejections win every time, so that the scenario's counts are the same on every run.
func holdFixture(t testing.TB, profile string, cfg apiclient.Config) (*fixture, *atomic.Bool) {
	t.Helper()
	f := &fixture{clock: session.NewManualClock(epoch)}
	srv, err := demoserver.New(demoserver.Options{Clock: clockAdapter{f.clock}, Secret: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := apiclient.BuiltinProfile(profile)
	var hold atomic.Bool
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	f.m = New(Options{Engine: f.e, Faults: srv, Theme: "dark", Clock: f.clock, NoAutoLogin: true, Tick: 10 * time.Millisecond})
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
