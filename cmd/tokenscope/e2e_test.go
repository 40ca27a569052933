package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"tokenscope/demoserver"
)

// tmuxSession runs the real binary in a detached tmux session on its own server socket.
type tmuxSession struct {
	t      *testing.T
	socket string
	name   string
}

var tmuxSeq atomic.Int64

func startTmux(t *testing.T, w, h int, args ...string) *tmuxSession {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed: the end-to-end terminal test needs it (.ci/run installs it)")
	}
	bin, err := buildBinary(t)
	if err != nil {
		t.Fatal(err)
	}
	// A socket of its own: the last test's tmux server may still be going away on its own.
	s := &tmuxSession{t: t, socket: fmt.Sprintf("tokenscope-e2e-%d-%d", os.Getpid(), tmuxSeq.Add(1)), name: "ts"}
	// $TS_BIN names the binary for a command line that runs it more than once.
	// A terminal of a person's: CI unset, or lipgloss takes every output for a pipe (termenv
	// reads CI=true, as CI runs this, as "not a terminal") and draws no colour.
	cmdline := "unset CI; export TS_BIN=" + bin + "; TS_HOSTILE_PW=pw " + bin + " " + strings.Join(args, " ")
	s.tmux("new-session", "-d", "-s", s.name, "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), cmdline)
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	return s
}

func (s *tmuxSession) tmux(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (s *tmuxSession) screen() string { return s.tmux("capture-pane", "-p", "-t", s.name) }

func (s *tmuxSession) keys(k ...string) { s.tmux(append([]string{"send-keys", "-t", s.name}, k...)...) }

// waitFor polls the screen until re matches, and returns the screen.
func (s *tmuxSession) waitFor(re *regexp.Regexp, within time.Duration) string {
	s.t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		last = s.screen()
		if re.MatchString(last) {
			return last
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("screen never matched %s; last screen:\n%s", re, last)
	return ""
}

func TestTerminalEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and drives the binary in tmux")
	}
	s := startTmux(t, 120, 40, "--access-ttl", "5s", "--theme", "mono")
	left := regexp.MustCompile(`(\d+\.\d)s left`)
	first := s.waitFor(regexp.MustCompile(`● active[\s\S]*gen #1[\s\S]*\d+\.\ds left`), 20*time.Second)
	if !strings.Contains(first, "tokenscope") || !strings.Contains(first, "demo 127.0.0.1:") {
		t.Fatalf("header missing:\n%s", first)
	}
	if strings.Contains(first, "eyJ") && !strings.Contains(first, "••••") {
		t.Fatalf("token shown unmasked:\n%s", first)
	}

	// The countdown moves on its own.
	a := left.FindStringSubmatch(first)[1]
	time.Sleep(700 * time.Millisecond)
	b := left.FindStringSubmatch(s.screen())
	if b == nil || b[1] == a {
		t.Fatalf("countdown did not move from %s", a)
	}

	// A request shows in the log.
	s.keys("Enter")
	s.waitFor(regexp.MustCompile(`request\s+GET /api/protected/ \(gen #1\)[\s\S]*→ 200`), 10*time.Second)

	// After expiry the next request refreshes first.
	s.waitFor(regexp.MustCompile(`(refresh window|expired)`), 10*time.Second)
	s.keys("Enter")
	after := s.waitFor(regexp.MustCompile(`refresh-ok[\s\S]*gen #2`), 10*time.Second)
	if !regexp.MustCompile(`refresh-start\s.*proactive`).MatchString(after) {
		t.Errorf("refresh was not proactive:\n%s", after)
	}

	// Narrow terminals stay usable; tiny ones say so.
	s.tmux("resize-window", "-t", s.name, "-x", "80", "-y", "24")
	s.waitFor(regexp.MustCompile(`tokenscope ● active`), 5*time.Second)
	s.tmux("resize-window", "-t", s.name, "-x", "50", "-y", "12")
	s.waitFor(regexp.MustCompile(`needs a terminal of at least`), 5*time.Second)
	s.tmux("resize-window", "-t", s.name, "-x", "120", "-y", "40")

	s.keys("q")
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if err := exec.Command("tmux", "-L", s.socket, "has-session", "-t", s.name).Run(); err != nil {
			return // the program quit and the session closed
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("q did not quit; screen:\n%s", s.screen())
}

// TestTerminalTellsTheStory drives the real binary in tmux as issue #13's "done when" says:
// the heartbeat makes a proactive refresh happen with no key pressed; a slow request shows as
// in flight while it is out, and not once answered; a stampede's reused refresh token is named.
func TestTerminalTellsTheStory(t *testing.T) {
	t.Run("heartbeat", func(t *testing.T) {
		s := startTmux(t, 120, 40, "--access-ttl", "6s", "--every", "1s", "--theme", "mono")
		s.waitFor(regexp.MustCompile(`♥ every 1.0s`), 5*time.Second)
		s.waitFor(regexp.MustCompile(`refresh-start\s.*proactive`), 14*time.Second)
	})
	t.Run("in flight", func(t *testing.T) {
		s := startTmux(t, 120, 40, "--latency", "3s", "--theme", "mono")
		s.waitFor(regexp.MustCompile(`● active`), 10*time.Second)
		s.keys("Tab")
		s.waitFor(regexp.MustCompile(`\[requests\]`), 5*time.Second)
		s.keys("Enter")
		time.Sleep(time.Second)
		if scr := s.screen(); !strings.Contains(scr, "in flight") {
			t.Fatalf("a request out for 1 s does not show as in flight:\n%s", scr)
		}
		scr := s.waitFor(regexp.MustCompile(`ok · 200`), 10*time.Second)
		if strings.Contains(scr, "in flight") {
			t.Errorf("answered, it still shows as in flight:\n%s", scr)
		}
	})
	t.Run("keys", func(t *testing.T) {
		s := startTmux(t, 120, 40, "--theme", "mono")
		s.waitFor(regexp.MustCompile(`● active`), 10*time.Second)
		s.keys("a")
		s.waitFor(regexp.MustCompile(`♥ every 1.0s`), 5*time.Second)
		s.waitFor(regexp.MustCompile(`#3 +request`), 10*time.Second) // sent by the heartbeat alone
		s.keys("a")
		s.waitFor(regexp.MustCompile(`heartbeat stopped`), 5*time.Second)
		s.keys("Up", "Space")
		s.waitFor(regexp.MustCompile(`step by step`), 5*time.Second)
		s.keys("Escape")
		time.Sleep(300 * time.Millisecond)
		s.keys("C")
		s.waitFor(regexp.MustCompile(`press C again`), 5*time.Second)
		s.keys("C")
		s.waitFor(regexp.MustCompile(`cleared \d+ events`), 5*time.Second)
	})
	t.Run("mouse", func(t *testing.T) {
		s := startTmux(t, 120, 40, "--theme", "mono")
		scr := s.waitFor(regexp.MustCompile(`● active`), 10*time.Second)
		tabs := strings.Index(scr, "[log]")
		row := strings.Count(scr[:tabs], "\n") + 1 // 1-based, as the terminal counts
		click := func(col, row int) {
			s.tmux("send-keys", "-t", s.name, "-l", fmt.Sprintf("\x1b[<0;%d;%dM\x1b[<0;%d;%dm", col, row, col, row))
		}
		click(10, row) // the "requests" tab
		s.waitFor(regexp.MustCompile(`\[requests\]`), 5*time.Second)
		click(5, row+3) // the third request
		s.waitFor(regexp.MustCompile(`▸ create item`), 5*time.Second)
		s.tmux("send-keys", "-t", s.name, "-l", fmt.Sprintf("\x1b[<64;5;%dM", row+2)) // the wheel, up, over the list
		s.waitFor(regexp.MustCompile(`▸ me · GET`), 5*time.Second)
	})
	t.Run("reuse named", func(t *testing.T) {
		s := startTmux(t, 120, 40, "--theme", "mono")
		s.waitFor(regexp.MustCompile(`● active`), 10*time.Second)
		s.keys("f", "s", "s", "L", "E", "b")
		s.waitFor(regexp.MustCompile(`login required`), 20*time.Second)
		s.keys("Escape")
		time.Sleep(300 * time.Millisecond) // an ESC followed at once by a key reads as alt+key
		s.keys("/", "r", "e", "u", "s", "e", "Enter")
		s.waitFor(regexp.MustCompile(`refresh token fp:[0-9a-f]+ reused: presented \d+×`), 10*time.Second)
	})
}

// TestTerminalAt80x24 drives the binary in tmux at 80×24 as issue 22's new user did: after a
// burst the single-flight story reads on the screen (alike lines collapsed, the refresh calls in
// the status line); the help overlay scrolls to the strategies; K says what it does to tokens;
// the heartbeat pauses while the session needs a login and resumes after it.
func TestTerminalAt80x24(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and drives the binary in tmux")
	}
	// The refresh takes 200 ms, so that the burst is out before it ends.
	s := startTmux(t, 80, 24, "--theme", "mono", "--refresh-latency", "200ms")
	s.waitFor(regexp.MustCompile(`● active`), 20*time.Second)
	s.keys("E")
	time.Sleep(300 * time.Millisecond)
	s.keys("b")
	scr := s.waitFor(regexp.MustCompile(`burst of 100: 100 ok · 1 refresh call · 0 failed · 0 parked`), 10*time.Second)
	for _, want := range []string{`refresh-start\s+refresh #1`, `(×|#)\d+\s+refresh-wait\s+waiting on refresh #1`,
		`refresh-ok\s+refresh #1`, `×100\s+response\s+GET /api/protected/ → 200`, `\d+ events in \d+ lines`} {
		if !regexp.MustCompile(want).MatchString(scr) {
			t.Errorf("after a burst the screen lacks %s:\n%s", want, scr)
		}
	}

	s.keys("?")
	s.waitFor(regexp.MustCompile(`lines 1-23 of \d+`), 5*time.Second)
	s.keys("j", "Down", "PageDown")
	s.waitFor(regexp.MustCompile(`strategies \(s\)[\s\S]*off\s+never refresh`), 5*time.Second)
	s.keys("g")
	s.waitFor(regexp.MustCompile(`tokenscope keys[\s\S]*lines 1-23 of`), 5*time.Second)
	// ? closes it too; an Escape followed at once by a key reaches the program as alt+key.
	s.keys("?")
	s.waitFor(regexp.MustCompile(`● active`), 5*time.Second)

	s.keys("a")
	s.waitFor(regexp.MustCompile(`♥ every`), 5*time.Second)
	s.keys("K")
	s.waitFor(regexp.MustCompile(`server clock -60s: the session will end`), 5*time.Second)
	s.waitFor(regexp.MustCompile(`♥ paused: login required`), 10*time.Second)
	s.keys("l")
	s.waitFor(regexp.MustCompile(`♥ every`), 10*time.Second)
	s.keys("q")
}

// TestTerminalObserve drives tokenscope observe's TUI in tmux: it watches, so it offers none of
// the keys that drive an engine, and a fault key without --faults says what --faults would give.
func TestTerminalObserve(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and drives the binary in tmux")
	}
	demo, err := demoserver.Start(demoserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer demo.Close()
	s := startTmux(t, 120, 40, "observe", "--listen", "127.0.0.1:0", "--upstream", demo.URL(), "--theme", "mono")
	scr := s.waitFor(regexp.MustCompile(`observing your app[\s\S]*findings`), 20*time.Second)
	if !strings.Contains(scr, "point your app at the proxy") || strings.Contains(scr, "press enter") {
		t.Errorf("the empty log offers what observe cannot do:\n%s", scr)
	}
	if !regexp.MustCompile(`observing your app · point it at http://127\.0\.0\.1:\d+`).MatchString(scr) {
		t.Errorf("the header does not say where to point the app:\n%s", scr)
	}
	s.keys("Enter", "b", "r")
	time.Sleep(300 * time.Millisecond)
	if scr := s.screen(); strings.Contains(scr, "burst") || strings.Contains(scr, "refreshed") {
		t.Errorf("a key that drives the engine did something while observing:\n%s", scr)
	}
	s.keys("E")
	s.waitFor(regexp.MustCompile(`fault keys need tokenscope observe --faults`), 5*time.Second)
	s.keys("?")
	help := s.waitFor(regexp.MustCompile(`tokenscope keys`), 5*time.Second)
	for _, offered := range []string{"send", "burst", "refresh now", "log in again", "strategies (s)", "fault: your app's tokens"} {
		if strings.Contains(help, offered) {
			t.Errorf("help offers %q while observing:\n%s", offered, help)
		}
	}
	s.keys("Escape")
	time.Sleep(300 * time.Millisecond)
	s.keys("q")
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err := exec.Command("tmux", "-L", s.socket, "has-session", "-t", s.name).Run(); err != nil {
			return // the program quit and the session closed
		}
	}
	t.Errorf("q did not quit; screen:\n%s", s.screen())
}

// TestTerminalObserveForward: with --forward the TUI says where the proxy is and the lines to
// paste for a shell's clients to go through it.
func TestTerminalObserveForward(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and drives the binary in tmux")
	}
	t.Setenv("XDG_CONFIG_HOME", t.TempDir()) // the CA is made here
	s := startTmux(t, 140, 40, "observe", "--forward", "--listen", "127.0.0.1:0", "--theme", "mono")
	scr := s.waitFor(regexp.MustCompile(`export HTTPS_PROXY=http://127\.0\.0\.1:\d+`), 20*time.Second)
	for _, want := range []string{"observing your app · point it at http://127.0.0.1:", "to route an app through tokenscope, paste:", "export SSL_CERT_FILE="} {
		if !strings.Contains(scr, want) {
			t.Errorf("the forward proxy's screen lacks %q:\n%s", want, scr)
		}
	}
	s.keys("q")
}

// TestTerminalObserveInBackground: observe started with & in an interactive shell is not in
// the terminal's foreground process group: it prints lines (a TUI would be stopped, "Stopped
// (tty output)", and the app would time out), and it answers the app.
func TestTerminalObserveInBackground(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and drives the binary in tmux")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("needs bash for an interactive shell with job control")
	}
	demo, err := demoserver.Start(demoserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer demo.Close()
	s := startTmux(t, 160, 40, "--version >/dev/null; bash --norc --noprofile -i -c '$TS_BIN observe --listen 127.0.0.1:0 --upstream "+demo.URL()+" --duration 30s & sleep 40'")
	scr := s.waitFor(regexp.MustCompile(`point your app at http://127\.0\.0\.1:\d+`), 20*time.Second)
	base := listenRE.FindString(scr)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(base + "/api/me")
	if err != nil {
		t.Fatalf("observe in the background did not answer: %v\n%s", err, s.screen())
	}
	resp.Body.Close()
	s.waitFor(regexp.MustCompile(`response +GET /api/me → 401`), 10*time.Second)
	if strings.Contains(s.screen(), "observing your app") {
		t.Errorf("the TUI opened in the background:\n%s", s.screen())
	}
}

// TestTerminalColourAndQuiet: on a terminal, fire's event lines are coloured by the theme's
// roles (they had no colour), NO_COLOR turns that off, and -q leaves the summary alone.
func TestTerminalColourAndQuiet(t *testing.T) {
	s := startTmux(t, 160, 50, "fire -n 2 GET /api/me; echo ===; NO_COLOR=1 $TS_BIN fire -n 2 GET /api/me; echo ===; $TS_BIN fire -q -n 2 GET /api/me; sleep 60")
	screen := s.waitFor(regexp.MustCompile(`(?s)===.*===.*2 requests: 2 ok`), 30*time.Second)
	coloured := s.tmux("capture-pane", "-p", "-e", "-t", s.name)
	parts := strings.Split(coloured, "===")
	if len(parts) != 3 {
		t.Fatalf("screen:\n%s", screen)
	}
	colourLine := regexp.MustCompile("\x1b\\[[0-9;]*m[^\n]*response[^\n]*GET /api/me → 200")
	if !colourLine.MatchString(parts[0]) {
		t.Errorf("fire on a terminal printed no colour:\n%q", parts[0])
	}
	if strings.Contains(parts[1], "\x1b[") {
		t.Errorf("NO_COLOR: colour printed anyway:\n%q", parts[1])
	}
	if strings.Contains(parts[2], "response") || !strings.Contains(parts[2], "2 requests: 2 ok") {
		t.Errorf("-q printed events, or no summary:\n%s", parts[2])
	}
}

// TestTerminalPasswordPrompt: on a terminal, with a user and no other source of the password,
// request asks for it with the input hidden, as curl -u and HTTPie -a do (it said "give
// --password-env NAME" and stopped). Without a terminal it never asks (TestRequestQuiet's
// failed login).
func TestTerminalPasswordPrompt(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := startTmux(t, 120, 30, "demo-server --quiet --addr "+addr+" & sleep 0.5; $TS_BIN request --target http://"+addr+
		" --profile simplejwt --user demo GET /api/me; echo exit=$?; sleep 60")
	s.waitFor(regexp.MustCompile(`Password for demo at http://`+regexp.QuoteMeta(addr)), 20*time.Second)
	s.keys("demo", "Enter")
	screen := s.waitFor(regexp.MustCompile(`exit=\d`), 20*time.Second)
	if !strings.Contains(screen, "exit=0") || !strings.Contains(screen, `"username"`) || strings.Contains(screen, "Password for demo at http://"+addr+": demo") {
		t.Errorf("screen:\n%s", screen)
	}
}
