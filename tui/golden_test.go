package tui

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"

	"tokenscope/apiclient"
	"tokenscope/apiclient/profile"
	"tokenscope/demoserver"
	"tokenscope/internal/clock"
)

func TestMain(m *testing.M) {
	lipgloss.SetColorProfile(termenv.Ascii)
	time.Local = time.UTC // goldens print clock times
	os.Exit(m.Run())
}

var epoch = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// testClock is a manual clock on which the engine's short waits (refresh backoffs of
// milliseconds) pass by themselves, as real time would have let them, while a token's life, a
// poll interval and the background refresher's nap wait for the test to move the clock.
func testClock(t0 time.Time) *clock.Manual {
	c := clock.NewManual(t0)
	c.AutoAdvance(500 * time.Millisecond)
	return c
}

// fixture is a demo server, an engine and a model sharing one stopped clock, so that every
// countdown and event time on screen is the same on every run.
type fixture struct {
	srv    *demoserver.Server
	clock  *clock.Manual
	e      *apiclient.Engine
	m      *Model
	mu     sync.Mutex
	copied []string
}

func newFixture(t testing.TB, name string, cfg apiclient.Config, theme string, so ...demoserver.Options) *fixture {
	t.Helper()
	f := &fixture{clock: testClock(epoch)}
	opts := demoserver.Options{}
	if len(so) > 0 {
		opts = so[0]
	}
	opts.Clock, opts.Secret = f.clock, []byte("0123456789abcdef0123456789abcdef")
	srv, err := demoserver.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	f.srv = srv
	p, _ := profile.Builtin(name)
	cfg.BaseURL, cfg.Profile, cfg.Username, cfg.Password, cfg.Clock = ts.URL, p, "demo", "demo", f.clock
	cfg.RefreshBackoff = time.Millisecond
	f.e, err = apiclient.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.e.Close)
	if _, err := f.e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.m = New(Options{Driver: Drive(f.e, DemoFaults(srv)), Theme: theme, Clock: f.clock, NoAutoLogin: true,
		Tick: 10 * time.Millisecond, Clipboard: func(s string) error {
			f.mu.Lock()
			f.copied = append(f.copied, s)
			f.mu.Unlock()
			return nil
		}})
	t.Cleanup(f.m.Close)
	return f
}

var normalizers = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`127\.0\.0\.1:\d+`), "127.0.0.1:PORT"},
	{regexp.MustCompile(`([A-Za-z0-9_-]{6})••••[A-Za-z0-9_-]{4} \(\d+ chars\)`), "${1}••••XXXX (N chars)"},
	{regexp.MustCompile(`hs256-[0-9a-f]{8}`), "hs256-KIDKIDKI"},
	{regexp.MustCompile(`family [0-9a-f]{8}`), "family FAMFAMFA"},
	{regexp.MustCompile(`in \d+(\.\d+)?(µs|ms|s)`), "in Dms"},
}

// normalize replaces what differs between runs (ports, random token bytes, wall-clock
// durations) with fixed text of the same width where it matters.
func normalize(s string) string {
	for _, n := range normalizers {
		s = n.re.ReplaceAllString(s, n.with)
	}
	return s
}

// runGolden runs the model as a real program, lets drive act on it, waits until the screen
// shows want, and compares the final View with the golden file.
func runGolden(t *testing.T, f *fixture, w, h int, drive func(tm *teatest.TestModel), want string) {
	t.Helper()
	tm := teatest.NewTestModel(t, f.m, teatest.WithInitialTermSize(w, h))
	if drive != nil {
		drive(tm)
	}
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(want)) },
		teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
	// One more tick so the final frame has every event that arrived with the awaited one.
	time.Sleep(50 * time.Millisecond)
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	final := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(*Model)
	view := normalize(final.View())
	if !strings.Contains(view, normalize(want)) {
		t.Fatalf("final view lacks %q:\n%s", want, view)
	}
	golden.RequireEqual(t, []byte(view))
}

func press(s string) tea.KeyMsg {
	switch s {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "tab":
		return tea.KeyMsg{Type: tea.KeyTab}
	case "shift+tab":
		return tea.KeyMsg{Type: tea.KeyShiftTab}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "up":
		return tea.KeyMsg{Type: tea.KeyUp}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "ctrl+l":
		return tea.KeyMsg{Type: tea.KeyCtrlL}
	case "ctrl+s":
		return tea.KeyMsg{Type: tea.KeyCtrlS}
	case "ctrl+c":
		return tea.KeyMsg{Type: tea.KeyCtrlC}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

var sizes = []struct{ w, h int }{{80, 24}, {120, 40}}

func sizeName(w, h int) string { return map[int]string{80: "80x24", 120: "120x40"}[w] }

func TestGoldenFreshSession(t *testing.T) {
	for _, sz := range sizes {
		t.Run(sizeName(sz.w, sz.h), func(t *testing.T) {
			f := newFixture(t, "simplejwt", apiclient.Config{}, "dark")
			f.clock.Advance(12 * time.Second)
			runGolden(t, f, sz.w, sz.h, nil, "18.0s left")
		})
	}
}

func TestGoldenProactiveRefresh(t *testing.T) {
	for _, sz := range sizes {
		t.Run(sizeName(sz.w, sz.h), func(t *testing.T) {
			f := newFixture(t, "simplejwt", apiclient.Config{Strategy: apiclient.Proactive}, "dark")
			f.clock.Advance(27 * time.Second) // 3 s left, inside the 5 s threshold
			runGolden(t, f, sz.w, sz.h, func(tm *teatest.TestModel) { tm.Send(press("enter")) }, "→ 200")
		})
	}
}

func TestGoldenReactiveRetry(t *testing.T) {
	for _, sz := range sizes {
		t.Run(sizeName(sz.w, sz.h), func(t *testing.T) {
			f := newFixture(t, "element-admin", apiclient.Config{Strategy: apiclient.Reactive}, "dark")
			f.clock.Advance(31 * time.Second)
			runGolden(t, f, sz.w, sz.h, func(tm *teatest.TestModel) { tm.Send(press("enter")) }, "retry with gen #2")
		})
	}
}

// TestGoldenStampede: single flight off and fifty 401s at once start fifty refresh calls. The
// server does not rotate here, so every call succeeds and the picture is the same on every run:
// generation #51 after one burst, the stampede plain in the header, timeline and counts, and
// the history row of a request that carried #51 (the burst's newest, whichever ended first).
func TestGoldenStampede(t *testing.T) {
	for _, sz := range sizes {
		t.Run(sizeName(sz.w, sz.h), func(t *testing.T) {
			f := newFixture(t, "simplejwt", apiclient.Config{Strategy: apiclient.Reactive, NoSingleFlight: true}, "dark",
				demoserver.Options{NoRotation: true})
			f.srv.SetLatency(0, 200*time.Millisecond) // long enough that every request of the burst has read gen #1 before the first refresh ends, on a loaded machine too
			f.clock.Advance(31 * time.Second)
			runGolden(t, f, sz.w, sz.h, func(tm *teatest.TestModel) {
				tm.Send(press("-")) // burst size 50
				tm.Send(press("b"))
				tm.Send(press("tab")) // the requests pane: the log's interleaving differs between runs
			}, "burst of 50: 50 ok")
			if st := f.srv.Stats(); st.RefreshOK != 50 {
				t.Errorf("server saw %d refresh calls, want the stampede's 50", st.RefreshOK)
			}
		})
	}
}

func TestGoldenLoginRequiredWithParked(t *testing.T) {
	for _, sz := range sizes {
		t.Run(sizeName(sz.w, sz.h), func(t *testing.T) {
			f := newFixture(t, "oauth2", apiclient.Config{}, "dark")
			f.srv.RevokeAllFamilies()
			f.clock.Advance(31 * time.Second)
			runGolden(t, f, sz.w, sz.h, func(tm *teatest.TestModel) {
				tm.Send(press("enter"))
				for f.e.Parked() < 1 {
					time.Sleep(5 * time.Millisecond)
				}
				tm.Send(press("enter"))
				for f.e.Parked() < 2 {
					time.Sleep(5 * time.Millisecond)
				}
			}, "2 parked requests will be replayed")
		})
	}
}

func TestGoldenThemes(t *testing.T) {
	prev := lipgloss.ColorProfile()
	defer lipgloss.SetColorProfile(prev)
	// Colour themes are compared with colour on, or every theme would look the same.
	lipgloss.SetColorProfile(termenv.ANSI256)
	for _, th := range []string{"dark", "light", "high-contrast", "mono"} {
		for _, sz := range sizes {
			t.Run(th+"/"+sizeName(sz.w, sz.h), func(t *testing.T) {
				f := newFixture(t, "simplejwt", apiclient.Config{}, th)
				f.clock.Advance(27 * time.Second) // the refresh-window colour
				runGolden(t, f, sz.w, sz.h, nil, "refresh window")
			})
		}
	}
}

func TestTooSmall(t *testing.T) {
	f := newFixture(t, "simplejwt", apiclient.Config{}, "dark")
	f.m.Update(tea.WindowSizeMsg{Width: 50, Height: 12})
	if v := f.m.View(); !strings.Contains(v, "at least 60×18") || !strings.Contains(v, "50×12") {
		t.Errorf("small terminal view:\n%s", v)
	}
}
