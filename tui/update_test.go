package tui

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"tokenscope/apiclient"
	"tokenscope/apiclient/httpfile"
	"tokenscope/apiclient/profile"
	"tokenscope/session"
)

// upd sends a message and runs the commands it returns (as the program would, but in line),
// feeding their messages back, so a test sees the end state of one key press.
func upd(t *testing.T, m *Model, msg tea.Msg) tea.Msg {
	t.Helper()
	_, cmd := m.Update(msg)
	return run(t, m, cmd)
}

func run(t *testing.T, m *Model, cmd tea.Cmd) tea.Msg {
	t.Helper()
	if cmd == nil {
		return nil
	}
	// Commands that only wait (a cursor blink, a tick) are abandoned; engine work is quick.
	ch := make(chan tea.Msg, 1)
	go func() { ch <- cmd() }()
	var out tea.Msg
	select {
	case out = <-ch:
	case <-time.After(2 * time.Second):
		return nil
	}
	switch msg := out.(type) {
	case tea.BatchMsg:
		for _, c := range msg {
			run(t, m, c)
		}
	case resultMsg, burstMsg, loginMsg, flashMsg, openDetailMsg, copyMsg:
		_, next := m.Update(msg)
		run(t, m, next)
	}
	return out
}

func sized(t *testing.T, cfg apiclient.Config, faults bool) *fixture {
	t.Helper()
	f := newFixture(t, "simplejwt", cfg, "dark")
	if !faults {
		o := f.m.opts
		o.Driver = Drive(f.e, nil)
		f.m.Close()
		f.m = New(o)
		t.Cleanup(f.m.Close)
	}
	f.m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	return f
}

// drain moves the engine's events into the model, as the event stream would.
func drain(m *Model) {
	for {
		select {
		case ev := <-m.sub.C:
			m.logp.ingest([]session.Event{ev}, m.drv.Log().Since)
		default:
			return
		}
	}
}

func TestKeySend(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	upd(t, f.m, press("enter"))
	r, ok := f.m.answers.of(0)
	if !ok || r.Outcome != apiclient.OK || r.Status != 200 {
		t.Fatalf("result: %+v", r)
	}
	f.m.focus = paneRequests
	if v := f.m.View(); !strings.Contains(v, "ok · 200") || !strings.Contains(v, `"message": "You are authenticated"`) {
		t.Errorf("response pane:\n%s", v)
	}
}

func TestKeyBurstAndSize(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	upd(t, f.m, press("-"))
	if f.m.reqs.burstN != 50 {
		t.Fatalf("burst size %d after -", f.m.reqs.burstN)
	}
	upd(t, f.m, press("+"))
	upd(t, f.m, press("="))
	if f.m.reqs.burstN != 500 {
		t.Fatalf("burst size %d after + =", f.m.reqs.burstN)
	}
	upd(t, f.m, press("-"))
	upd(t, f.m, press("-"))
	upd(t, f.m, press("enter")) // a single send first: the burst's answer must replace it in view
	single := answerOf(f.m, f.m.reqs.selected).ID
	upd(t, f.m, press("b"))
	if !strings.HasPrefix(f.m.flash, "burst of 50: 50 ok · 0 refresh calls · 0 failed · 0 parked in ") || f.m.flights.out() != 0 {
		t.Errorf("flash %q inflight %d", f.m.flash, f.m.flights.out())
	}
	if st := f.srv.Stats(); st.ResourceOK != 51 {
		t.Errorf("server saw %d requests, want 1 + 50", st.ResourceOK)
	}
	// The response view shows an answer from the burst, not the older single send.
	if r, ok := f.m.answers.of(f.m.reqs.selected); !ok || r.Status != 200 || r.ID == single || single == 0 {
		t.Errorf("response view after a burst: %+v (ok %v)", r, ok)
	}
}

func TestKeyRefreshNow(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	upd(t, f.m, press("r"))
	if s := f.e.Snapshot(); s.Generation != 2 || f.m.flash != "refreshed" {
		t.Errorf("gen %d flash %q", s.Generation, f.m.flash)
	}
}

func TestKeyStrategyAndSingleFlight(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	want := []apiclient.Strategy{apiclient.Proactive, apiclient.Reactive, apiclient.Background, apiclient.Off, apiclient.Auto}
	for _, w := range want {
		upd(t, f.m, press("s"))
		if got := f.e.Snapshot().Strategy; got != w {
			t.Fatalf("strategy %s, want %s", got, w)
		}
	}
	upd(t, f.m, press("f"))
	if f.e.Snapshot().SingleFlight {
		t.Error("single flight still on")
	}
	if !strings.Contains(f.m.View(), "NO single flight") {
		t.Error("header does not show single flight off")
	}
	upd(t, f.m, press("f"))
	if !f.e.Snapshot().SingleFlight {
		t.Error("single flight still off")
	}
}

func TestKeyLoginAgainReplaysParked(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	f.srv.RevokeAllFamilies()
	f.clock.Advance(31 * time.Second)
	upd(t, f.m, press("enter"))
	f.m.Update(tickMsg(f.clock.Now()))
	if !f.m.dialog.visible() || !strings.Contains(f.m.View(), "1 parked request will be replayed") {
		t.Fatalf("no login dialog:\n%s", f.m.View())
	}
	// The token panel does not call a rejected session's token fresh, and the log stays
	// visible around the dialog.
	drain(f.m)
	if v := ansi.Strip(f.m.View()); !strings.Contains(v, "ended: l logs in again") || !strings.Contains(v, "rejected") ||
		strings.Contains(v, " fresh") || !strings.Contains(v, "refresh-failed") {
		t.Errorf("dead session drawn as alive, or the log hidden:\n%s", v)
	}
	upd(t, f.m, press("esc"))
	if f.m.dialog.visible() {
		t.Error("esc did not dismiss the dialog")
	}
	upd(t, f.m, press("l"))
	if s := f.e.Snapshot(); s.State != session.StateActive || s.Logins != 2 || s.Parked != 0 {
		t.Errorf("after l: %v logins %d parked %d", s.State, s.Logins, s.Parked)
	}
	if !strings.Contains(f.m.flash, "1 parked request replayed") {
		t.Errorf("flash %q", f.m.flash)
	}
}

func TestKeyRevealAndCopy(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	raw := f.e.Snapshot().Access.Raw
	if strings.Contains(f.m.View(), raw) {
		t.Fatal("token shown before reveal")
	}
	upd(t, f.m, press("y"))
	upd(t, f.m, press("Y"))
	if len(f.copied) != 1 || !strings.Contains(f.copied[0], `'Authorization: Bearer '"$TOKEN"`) || strings.Contains(f.copied[0], raw) {
		t.Fatalf("masked copies: %q", f.copied)
	}
	if !strings.Contains(f.m.flash, "reveal the tokens") {
		t.Errorf("Y before reveal: flash %q", f.m.flash)
	}
	upd(t, f.m, press("v"))
	if !strings.Contains(f.m.View(), raw[:40]) {
		t.Error("token not shown after reveal")
	}
	upd(t, f.m, press("y"))
	upd(t, f.m, press("Y"))
	if len(f.copied) != 3 || !strings.Contains(f.copied[1], raw) || f.copied[2] != raw {
		t.Fatalf("revealed copies: %q", f.copied)
	}
	// OSC 52 has no answer: the message says where the text went, not that the copy took.
	if f.m.flash != "sent the access token to the terminal's clipboard (OSC 52)" {
		t.Errorf("Y: flash %q", f.m.flash)
	}
	upd(t, f.m, press("v"))
	if strings.Contains(f.m.View(), raw) {
		t.Error("token still shown after masking again")
	}
}

func TestKeyTheme(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	for _, want := range []string{"light", "high-contrast", "mono", "dark"} {
		upd(t, f.m, press("t"))
		if f.m.sh.tname != want || f.m.sh.theme.Mono != (want == "mono") {
			t.Fatalf("theme %s (%s), want %s", f.m.sh.tname, f.m.sh.theme.Name, want)
		}
	}
}

func TestKeyFilterAndClear(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	upd(t, f.m, press("enter"))
	upd(t, f.m, press("r"))
	drain(f.m)
	upd(t, f.m, press("/"))
	if f.m.mode != modeFilter {
		t.Fatal("/ did not open the filter")
	}
	for _, r := range "refresh-ok" {
		f.m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}}) // its command only blinks the cursor
	}
	lines := f.m.logp.store.lines(f.m.sh.theme, 120, 20)
	if len(lines) != 1 || !strings.Contains(lines[0], "refresh-ok") {
		t.Fatalf("filtered lines: %q", lines)
	}
	upd(t, f.m, press("enter"))
	if (f.m.mode == modeFilter) || f.m.logp.store.filter != "refresh-ok" {
		t.Error("enter did not keep the filter")
	}
	upd(t, f.m, press("/"))
	upd(t, f.m, press("esc"))
	if f.m.logp.store.filter != "" || f.m.logp.store.shown != len(f.m.logp.store.events) {
		t.Error("esc did not clear the filter")
	}
	n := len(f.m.logp.store.events)
	upd(t, f.m, press("ctrl+l"))
	if len(f.m.logp.store.events) != n {
		t.Error("ctrl+l cleared the log: terminal users expect it to redraw")
	}
	upd(t, f.m, press("C"))
	if len(f.m.logp.store.events) != n || !strings.Contains(f.m.flash, "press C again") {
		t.Errorf("the first C: %d events left, flash %q", len(f.m.logp.store.events), f.m.flash)
	}
	upd(t, f.m, press("C"))
	if len(f.m.logp.store.events) != 0 {
		t.Error("the second C did not clear the log")
	}
}

func TestKeyPanelsHelpQuit(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	for _, want := range []pane{paneRequests, paneClaims, paneLog} {
		upd(t, f.m, press("tab"))
		if f.m.focus != want {
			t.Fatalf("tab: focus %d, want %d", f.m.focus, want)
		}
	}
	upd(t, f.m, press("shift+tab"))
	if f.m.focus != paneClaims {
		t.Fatalf("shift+tab: focus %d", f.m.focus)
	}
	upd(t, f.m, press("?"))
	v := f.m.View()
	for _, b := range append(DefaultKeyMap().FullHelp(), f.m.panels[f.m.focus].FullHelp()...) {
		for _, k := range b {
			if !k.Enabled() {
				continue // the log's esc, while no filter is applied
			}
			if !strings.Contains(v, k.Help().Key) || !strings.Contains(v, k.Help().Desc) {
				t.Errorf("help overlay lacks %q %q", k.Help().Key, k.Help().Desc)
			}
		}
	}
	upd(t, f.m, press("q")) // closes the overlay, does not quit
	if (f.m.mode == modeHelp) || f.m.quitting {
		t.Fatal("q in the help overlay should close it")
	}
	for _, k := range []string{"q", "ctrl+c"} {
		m := f.m
		_, cmd := m.Update(press(k))
		if cmd == nil || cmd() != tea.Quit() {
			t.Errorf("%s does not quit", k)
		}
		m.quitting = false
	}
}

// Every key stays discoverable at every supported size: the bar always ends with ? and q,
// the overlay lists every binding, and nothing is drawn past the right edge.
func TestHelpAtEverySize(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	for _, sz := range [][2]int{{minWidth, minHeight}, {80, 24}, {100, 30}, {120, 40}, {200, 60}} {
		f.m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		f.m.mode = modeNormal
		lines := strings.Split(ansi.Strip(f.m.View()), "\n")
		bar := lines[len(lines)-1]
		if !strings.HasSuffix(bar, "? help • q quit") {
			t.Errorf("%dx%d: help bar %q does not end with ? help • q quit", sz[0], sz[1], bar)
		}
		upd(t, f.m, press("?"))
		v := ansi.Strip(f.m.View())
		for _, b := range append(DefaultKeyMap().FullHelp(), f.m.panels[f.m.focus].FullHelp()...) {
			for _, k := range b {
				if !k.Enabled() {
					continue
				}
				if !strings.Contains(v, k.Help().Key) || !strings.Contains(v, k.Help().Desc) {
					t.Errorf("%dx%d: help overlay lacks %q %q", sz[0], sz[1], k.Help().Key, k.Help().Desc)
				}
			}
		}
		for i, l := range strings.Split(v, "\n") {
			if w := ansi.StringWidth(l); w > sz[0] {
				t.Errorf("%dx%d: overlay line %d is %d cells wide: %q", sz[0], sz[1], i, w, l)
			}
		}
		if n := strings.Count(v, "\n") + 1; n > sz[1] {
			t.Errorf("%dx%d: overlay is %d lines high", sz[0], sz[1], n)
		}
		if !strings.Contains(v, "esc closes") {
			t.Errorf("%dx%d: the overlay does not say how to close it", sz[0], sz[1])
		}
	}
}

func TestKeyClaims(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	upd(t, f.m, press("c"))
	v := f.m.View()
	if f.m.focus != paneClaims || !strings.Contains(v, `"token_type": "access"`) || !strings.Contains(v, `"alg": "HS256"`) {
		t.Errorf("claims pane:\n%s", v)
	}
}

func TestKeyEditComposer(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	n := len(f.m.reqs.list)
	// e edits the selected request in place.
	upd(t, f.m, press("e"))
	if (f.m.mode != modeCompose) || !strings.HasPrefix(f.m.composer.editor.Value(), "GET /api/protected/") || !strings.Contains(f.m.View(), "Edit request") {
		t.Fatalf("editor: %v %q", (f.m.mode == modeCompose), f.m.composer.editor.Value())
	}
	f.m.composer.editor.SetValue("GET /api/me\nX-Edited: yes\n")
	upd(t, f.m, press("ctrl+s"))
	if got := f.m.reqs.list[0]; len(f.m.reqs.list) != n || got.Path != "/api/me" || got.Header.Get("X-Edited") != "yes" || got.Name != "protected" || f.m.reqs.selected != 0 {
		t.Fatalf("edited in place: %d requests, first %+v", len(f.m.reqs.list), got)
	}
	// n composes a new one, added at the end.
	upd(t, f.m, press("n"))
	if (f.m.mode != modeCompose) || !strings.Contains(f.m.View(), "New request") {
		t.Fatalf("n did not open an empty composer: %q", f.m.composer.editor.Value())
	}
	f.m.composer.editor.SetValue("post /api/items\nX-Trace: 1\n\n{\"name\":\"composed\"}")
	upd(t, f.m, press("ctrl+s"))
	n++
	got := f.m.reqs.list[n-1]
	if (f.m.mode == modeCompose) || len(f.m.reqs.list) != n || got.Method != "POST" || got.Header.Get("X-Trace") != "1" || got.Header.Get("Content-Type") != "application/json" || f.m.reqs.selected != n-1 {
		t.Fatalf("composed %+v", got)
	}
	upd(t, f.m, press("enter"))
	if r := answerOf(f.m, n-1); r.Status != 201 || !strings.Contains(string(r.Body), "composed") {
		t.Errorf("sent composed request: %+v", r)
	}
	upd(t, f.m, press("e"))
	f.m.composer.editor.SetValue("nonsense")
	upd(t, f.m, press("ctrl+s"))
	if (f.m.mode != modeCompose) || !strings.Contains(f.m.flash, "METHOD /path") {
		t.Errorf("bad request accepted: flash %q", f.m.flash)
	}
	upd(t, f.m, press("esc"))
	if (f.m.mode == modeCompose) || len(f.m.reqs.list) != n {
		t.Error("esc did not cancel")
	}
}

func TestKeysScroll(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	for range 30 {
		f.e.Do(t.Context(), f.e.Profile().PresetRequests()[0])
		f.clock.Advance(collapseGap + time.Millisecond) // sends a key press apart: a line each, not ×30
	}
	drain(f.m)
	h := f.m.mainHeight()
	st := f.m.logp.store
	n := len(st.visible)
	upd(t, f.m, press("up"))
	if st.follow || st.selPos() != n-2 {
		t.Fatalf("up: follow %v, selected line %d of %d", st.follow, st.selPos(), n)
	}
	upd(t, f.m, tea.KeyMsg{Type: tea.KeyPgUp})
	if st.selPos() != n-2-(h-1) || st.offset > st.selPos() {
		t.Errorf("pgup: selected line %d, offset %d", st.selPos(), st.offset)
	}
	if v := ansi.Strip(f.m.View()); !strings.Contains(v, ansi.Strip(renderEvent(f.m.sh.theme, st.events[st.visible[st.selPos()].last], f.m.width))) {
		t.Error("the selected line is not on screen")
	}
	upd(t, f.m, tea.KeyMsg{Type: tea.KeyHome})
	if st.offset != 0 || st.selPos() != 0 {
		t.Error("home did not go to the top")
	}
	upd(t, f.m, tea.KeyMsg{Type: tea.KeyPgDown})
	upd(t, f.m, tea.KeyMsg{Type: tea.KeyEnd})
	f.m.View()
	if !f.m.logp.store.follow {
		t.Error("end did not follow again")
	}
	upd(t, f.m, press("tab"))
	upd(t, f.m, press("down"))
	upd(t, f.m, press("down"))
	upd(t, f.m, press("down"))
	if f.m.reqs.selected != 2 {
		t.Errorf("selection %d, want the last preset", f.m.reqs.selected)
	}
	upd(t, f.m, press("up"))
	if f.m.reqs.selected != 1 {
		t.Errorf("selection %d after up", f.m.reqs.selected)
	}
}

// TestSkewKeySaysWhatItDoes: K's message says what the demo server's moved clock does to tokens
// and what the user will see, and it happens as said: moved back, the server rejects the tokens
// out (their iat is in its future) and the session ends; after the login the new tokens carry
// iat by its clock. Moved forward, the access token out is expired to it: a 401 and a refresh.
func TestSkewKeySaysWhatItDoes(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	upd(t, f.m, press("K"))
	if !strings.HasPrefix(f.m.flash, "demo: server clock -60s: the session will end") || !strings.Contains(f.m.flash, "iat") {
		t.Errorf("K to −60 s: flash %q", f.m.flash)
	}
	if r := f.e.Do(t.Context(), profile.Request{Method: "GET", Path: "/api/me"}); r.Outcome != apiclient.Parked || f.e.Snapshot().State != session.StateLoginRequired {
		t.Fatalf("K said the session ends; a request got %s, state %s", r.Outcome, f.e.Snapshot().State)
	}
	upd(t, f.m, press("l"))
	if s := f.e.Snapshot(); s.State != session.StateActive || !s.Access.IssuedAt.Equal(f.clock.Now().Add(-time.Minute).Truncate(time.Second)) {
		t.Errorf("after l: state %s, iat %s (the clock: %s)", s.State, s.Access.IssuedAt, f.clock.Now())
	}
	upd(t, f.m, press("K"))
	if !strings.Contains(f.m.flash, "+60s: the access token out is now expired to it (a 401, then a refresh)") {
		t.Errorf("K to +60 s: flash %q", f.m.flash)
	}
	gen := f.e.Snapshot().Generation
	if r := f.e.Do(t.Context(), profile.Request{Method: "GET", Path: "/api/me"}); r.Outcome != apiclient.OK || f.e.Snapshot().Generation != gen+1 {
		t.Errorf("K said a 401 and a refresh: %s, gen %d → %d", r.Outcome, gen, f.e.Snapshot().Generation)
	}
	upd(t, f.m, press("K"))
	if !strings.HasPrefix(f.m.flash, "demo: server clock skew off: the session will end") {
		t.Errorf("K off from +60 s moves the clock back: flash %q", f.m.flash)
	}
}

func TestFaultKeys(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	upd(t, f.m, press("E"))
	f.clock.Advance(0)
	if r := f.e.Do(t.Context(), profile.Request{Method: "GET", Path: "/api/me"}); len(r.Attempts) != 2 {
		t.Errorf("E did not expire the access token at the server: %+v", r)
	}
	upd(t, f.m, press("F"))
	upd(t, f.m, press("L"))
	upd(t, f.m, press("K"))
	k := f.srv.Knobs()
	if k.FailNextRefresh != 1 || k.RefreshLatency != 2*time.Second || k.Skew != -time.Minute {
		t.Errorf("knobs %+v", k)
	}
	upd(t, f.m, press("L"))
	upd(t, f.m, press("K"))
	if k := f.srv.Knobs(); k.RefreshLatency != 0 || k.Skew != time.Minute {
		t.Errorf("knobs after second press %+v", k)
	}
	upd(t, f.m, press("K"))
	if k := f.srv.Knobs(); k.Skew != 0 || !strings.Contains(f.m.flash, "skew off") {
		t.Errorf("K cycles −60 s, +60 s, off: third press %+v, %q", k, f.m.flash)
	}
	upd(t, f.m, press("X"))
	if !strings.Contains(f.m.flash, "revoked 1 refresh token family") {
		t.Errorf("X: flash %q", f.m.flash)
	}

	real := sized(t, apiclient.Config{}, false)
	for _, k := range []string{"E", "X", "F", "L", "K"} {
		real.m.flash = ""
		upd(t, real.m, press(k))
		if !strings.Contains(real.m.flash, "only against the embedded demo server") {
			t.Errorf("%s against a real API: flash %q", k, real.m.flash)
		}
	}
	if st := real.srv.Stats(); st.RefreshInjected503 != 0 {
		t.Error("a fault key reached the server without the demo interface")
	}
}

// TestEventCatchUp: a subscriber that fell behind takes the missed events from the log.
func TestEventCatchUp(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	drain(f.m)
	before := len(f.m.logp.store.events)
	for range 3 {
		f.e.Do(t.Context(), f.e.Profile().PresetRequests()[0])
	}
	all := f.e.Log().Events()
	last := all[len(all)-1]
	// Only the newest event arrives through the stream; the five before it were dropped.
	f.m.logp.ingest([]session.Event{last}, f.m.drv.Log().Since)
	if got := len(f.m.logp.store.events) - before; got != len(all)-before {
		t.Errorf("caught up %d events, want %d", got, len(all)-before)
	}
}

// TestNetworkTextIsInert: escape sequences in an answer (title change, clipboard write,
// screen clear) are drawn as nothing at all.
func TestNetworkTextIsInert(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	evil := "\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07\x1b[2J\x1b[31mred\x1b[0m\u202etxt.exe"
	f.m.keep(0, apiclient.Result{ID: 1, Outcome: apiclient.OK, Status: 200, Body: []byte(evil),
		Header: map[string][]string{"X-Evil": {evil}}, Reason: evil})
	f.m.focus = paneRequests
	v := f.m.View()
	for _, bad := range []string{"\x1b]", "\x07", "\x1b[2J", "\u202e"} {
		if strings.Contains(v, bad) {
			t.Errorf("view contains %q", bad)
		}
	}
	if !strings.Contains(v, "red") {
		t.Error("the text itself was lost")
	}
}

func TestKeyExportLog(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	f.m.opts.ExportDir = t.TempDir()
	upd(t, f.m, press("enter"))
	upd(t, f.m, press("r"))
	drain(f.m)
	upd(t, f.m, press("w"))
	if !strings.Contains(f.m.flash, "wrote ") || !strings.Contains(f.m.flash, f.m.opts.ExportDir) {
		t.Fatalf("flash %q", f.m.flash)
	}
	entries, _ := os.ReadDir(f.m.opts.ExportDir)
	if len(entries) != 1 {
		t.Fatalf("files: %v", entries)
	}
	p := filepath.Join(f.m.opts.ExportDir, entries[0].Name())
	data, _ := os.ReadFile(p)
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != len(f.m.logp.store.events) || !strings.Contains(string(data), `"kind":"refresh-ok"`) {
		t.Errorf("%d lines for %d events", len(lines), len(f.m.logp.store.events))
	}
	s := f.e.Snapshot()
	for _, tok := range []string{s.Access.Raw, s.Refresh.Raw} {
		if strings.Contains(string(data), tok) {
			t.Fatal("raw token in the export")
		}
	}
}

func TestInsecureBannerAndSource(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	f.m.opts.Insecure = true
	f.m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	v := f.m.View()
	if !strings.Contains(strings.Split(v, "\n")[0], "INSECURE TLS") {
		t.Errorf("no warning in the header:\n%s", v)
	}
	if !strings.Contains(v, "via login") {
		t.Errorf("token source not shown:\n%s", v)
	}
}

// TestKeysTypedTogether: keys that reach the program in one read still each do their work.
func TestKeysTypedTogether(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	upd(t, f.m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("fss")})
	s := f.e.Snapshot()
	if s.SingleFlight || s.Strategy != apiclient.Reactive {
		t.Errorf("single flight %v, strategy %s; want off and reactive", s.SingleFlight, s.Strategy)
	}
}

func TestEscClearsAppliedFilter(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	drain(f.m)
	upd(t, f.m, press("/"))
	for _, r := range "login" {
		upd(t, f.m, press(string(r)))
	}
	upd(t, f.m, press("enter"))
	if (f.m.mode == modeFilter) || f.m.logp.store.filter != "login" {
		t.Fatalf("filter not applied: filtering %v filter %q", (f.m.mode == modeFilter), f.m.logp.store.filter)
	}
	upd(t, f.m, press("esc"))
	if f.m.logp.store.filter != "" || f.m.logp.store.shown != len(f.m.logp.store.events) {
		t.Errorf("esc left the filter %q (%d of %d shown)", f.m.logp.store.filter, len(f.m.logp.store.visible), len(f.m.logp.store.events))
	}
}

func TestHeaderSaysWhenTheAccessTokenExpired(t *testing.T) {
	f := sized(t, apiclient.Config{Strategy: apiclient.Off}, true)
	before := strings.SplitN(ansi.Strip(f.m.View()), "\n", 2)[0]
	if strings.Contains(before, "access token expired") {
		t.Fatal("fresh token called expired")
	}
	f.clock.Advance(31 * time.Second)
	f.m.Update(tickMsg(f.clock.Now()))
	after := strings.SplitN(ansi.Strip(f.m.View()), "\n", 2)[0]
	if !strings.Contains(after, "● access expired") {
		t.Errorf("header does not say the access token expired:\n%s", after)
	}
	// Nothing after the state moved: the header does not shift as the words come and go.
	if i, j := strings.Index(before, "strategy"), strings.Index(after, "strategy"); i != j {
		t.Errorf("the header shifted:\n%s\n%s", before, after)
	}
}

func TestThemeKeyHonoursNoColor(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	f := newFixture(t, "simplejwt", apiclient.Config{}, "mono")
	f.m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	upd(t, f.m, press("t"))
	if f.m.sh.tname != "mono" || !strings.Contains(f.m.flash, "NO_COLOR") {
		t.Errorf("t under NO_COLOR: theme %q, flash %q", f.m.sh.tname, f.m.flash)
	}
}

func TestFaultKeysAreLogged(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	upd(t, f.m, press("F"))
	drain(f.m)
	last := f.m.logp.store.events[len(f.m.logp.store.events)-1]
	if last.Kind != session.KindNote || !strings.Contains(last.Reason, "next refresh call answers 503") {
		t.Errorf("last event %v %q, want a note of the fault", last.Kind, last.Reason)
	}
}

// TestStatusDoesNotMoveTheLayout: a status message shows in the bottom bar; no row moves.
func TestStatusDoesNotMoveTheLayout(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	before := strings.Split(ansi.Strip(f.m.View()), "\n")
	upd(t, f.m, press("+"))
	after := strings.Split(ansi.Strip(f.m.View()), "\n")
	if len(before) != len(after) {
		t.Fatalf("%d rows, then %d with a status message", len(before), len(after))
	}
	for i := range before[:len(before)-1] {
		if strings.HasPrefix(before[i], "Access") != strings.HasPrefix(after[i], "Access") {
			t.Fatalf("row %d moved: %q then %q", i, before[i], after[i])
		}
	}
	if bar := after[len(after)-1]; !strings.HasPrefix(bar, "burst size 500") || !strings.HasSuffix(bar, "? help • q quit") {
		t.Errorf("bottom bar %q", bar)
	}
}

func TestRequestListShowsNames(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	upd(t, f.m, press("tab"))
	if v := ansi.Strip(f.m.View()); !strings.Contains(v, "protected · GET /api/protected/") {
		t.Errorf("request list without names:\n%s", v)
	}
}

// TestTimelineGenerationEndsAtExp: a generation's bar stops at its exp (read with the server
// skew) and at the end of the session, so gaps with no usable token show.
func TestTimelineGenerationEndsAtExp(t *testing.T) {
	l := newLogStore(100)
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	l.add([]session.Event{
		{Seq: 1, Time: t0, Kind: session.KindLogin, Generation: 1, Exp: t0.Add(30 * time.Second)},
		{Seq: 2, Time: t0.Add(40 * time.Second), Kind: session.KindRefreshOK, Generation: 2, Exp: t0.Add(70 * time.Second)},
		{Seq: 3, Time: t0.Add(50 * time.Second), Kind: session.KindLogout},
	})
	for _, c := range []struct {
		at   time.Duration
		skew time.Duration
		want int
	}{
		{-time.Second, 0, 0}, {10 * time.Second, 0, 1}, {29 * time.Second, 0, 1}, {31 * time.Second, 0, 0},
		{25 * time.Second, 10 * time.Second, 0}, // the server's clock is ahead: its exp came sooner
		{41 * time.Second, 0, 2}, {51 * time.Second, 0, 0},
	} {
		if got := l.genAt(t0.Add(c.at), c.skew); got != c.want {
			t.Errorf("at +%s (skew %s): gen %d, want %d", c.at, c.skew, got, c.want)
		}
	}
}

// TestRevealShowsWholeTokenInClaims: revealed, the claims pane holds the raw token whole
// (wrapped), and masked it holds none of it.
func TestRevealShowsWholeTokenInClaims(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	raw := f.e.Snapshot().Access.Raw
	upd(t, f.m, press("c"))
	if v := ansi.Strip(f.m.View()); strings.Contains(v, raw[20:60]) {
		t.Fatal("masked claims pane shows the raw token")
	}
	upd(t, f.m, press("v"))
	v := ansi.Strip(f.m.View())
	var joined strings.Builder
	for _, l := range strings.Split(v, "\n") {
		joined.WriteString(strings.TrimSpace(l))
	}
	if !strings.Contains(joined.String(), raw) {
		t.Errorf("revealed claims pane does not hold the whole access token:\n%s", v)
	}
}

// longAnswer is an answer whose pretty body is one line per item: "item-000", "item-001", ...
func longAnswer(n int) apiclient.Result {
	var b strings.Builder
	b.WriteString("[")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%q", fmt.Sprintf("item-%03d", i))
	}
	b.WriteString("]")
	return apiclient.Result{ID: 1, Outcome: apiclient.OK, Status: 200, Attempts: make([]apiclient.Attempt, 1), Body: []byte(b.String())}
}

// TestResponsePaneScrolls: the answer scrolls by pages and comes back by the same pages, and
// the ends are reachable with g/home and G/end (they once overshot, and G did nothing there).
func TestResponsePaneScrolls(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	f.m.keep(0, longAnswer(300))
	upd(t, f.m, press("tab"))
	page := f.m.reqs.resp.Height
	if page < 5 {
		t.Fatalf("viewport height %d", page)
	}
	for range 6 {
		upd(t, f.m, tea.KeyMsg{Type: tea.KeyPgDown})
	}
	for range 5 {
		upd(t, f.m, tea.KeyMsg{Type: tea.KeyPgUp})
	}
	if got := f.m.reqs.resp.YOffset; got != page {
		t.Errorf("six pages down and five up: offset %d, want one page (%d)", got, page)
	}
	upd(t, f.m, press("G"))
	v := ansi.Strip(f.m.View())
	if !f.m.reqs.resp.AtBottom() || !strings.Contains(v, "item-299") || strings.Contains(v, "item-000") {
		t.Errorf("G did not show the end of the answer:\n%s", v)
	}
	upd(t, f.m, tea.KeyMsg{Type: tea.KeyHome})
	if v := ansi.Strip(f.m.View()); f.m.reqs.resp.YOffset != 0 || !strings.Contains(v, "item-000") {
		t.Errorf("home did not go back to the top:\n%s", v)
	}
	// Selecting another request shows its answer from the top.
	upd(t, f.m, press("G"))
	upd(t, f.m, press("down"))
	upd(t, f.m, press("up"))
	if f.m.reqs.resp.YOffset != 0 {
		t.Errorf("a newly selected answer starts at offset %d", f.m.reqs.resp.YOffset)
	}
}

// TestClaimsPaneScrolls: the claims pane scrolls line by line and by page, and G/end reach
// its last line.
func TestClaimsPaneScrolls(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	f.m.Update(tea.WindowSizeMsg{Width: 80, Height: 24}) // a small pane: the claims do not fit
	upd(t, f.m, press("c"))
	total := f.m.claims.vp.TotalLineCount()
	if total <= f.m.claims.vp.Height {
		t.Fatalf("claims fit (%d lines in %d rows); the test needs them not to", total, f.m.claims.vp.Height)
	}
	upd(t, f.m, press("down"))
	if f.m.claims.vp.YOffset != 1 {
		t.Errorf("down: offset %d", f.m.claims.vp.YOffset)
	}
	upd(t, f.m, tea.KeyMsg{Type: tea.KeyEnd})
	if !f.m.claims.vp.AtBottom() {
		t.Error("end did not reach the last line")
	}
	for range 10 {
		upd(t, f.m, tea.KeyMsg{Type: tea.KeyPgDown})
	}
	if !f.m.claims.vp.AtBottom() || f.m.claims.vp.PastBottom() {
		t.Error("page down went past the end")
	}
	upd(t, f.m, press("g"))
	if f.m.claims.vp.YOffset != 0 {
		t.Errorf("g: offset %d", f.m.claims.vp.YOffset)
	}
}

// TestFaultKeysHiddenForRealAPI: against a real API the fault keys are disabled, so neither
// the bar nor the overlay lists a key that does nothing.
func TestFaultKeysHiddenForRealAPI(t *testing.T) {
	demo := sized(t, apiclient.Config{}, true)
	upd(t, demo.m, press("?"))
	if v := ansi.Strip(demo.m.View()); !strings.Contains(v, "demo: expire access") || !strings.Contains(v, "Fault keys") {
		t.Fatalf("the demo's overlay lacks the fault keys:\n%s", v)
	}
	real := sized(t, apiclient.Config{}, false)
	upd(t, real.m, press("?"))
	v := ansi.Strip(real.m.View())
	for _, s := range []string{"demo:", "Fault keys", "E ", "X "} {
		if strings.Contains(v, s) {
			t.Errorf("a real API's overlay lists %q:\n%s", s, v)
		}
	}
	if strings.Contains(strings.Split(ansi.Strip(real.m.View()), "\n")[0], "demo ") {
		t.Error("a real API's header says demo")
	}
}

// TestHelpFollowsTheFocusedPanel: the overlay lists the focused panel's keys, named for what
// they do there.
func TestHelpFollowsTheFocusedPanel(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	upd(t, f.m, press("?"))
	if v := ansi.Strip(f.m.View()); !strings.Contains(v, "bottom, follow") || strings.Contains(v, "answer bottom") {
		t.Errorf("log focused: overlay\n%s", v)
	}
	upd(t, f.m, press("?"))
	upd(t, f.m, press("tab"))
	upd(t, f.m, press("?"))
	if v := ansi.Strip(f.m.View()); !strings.Contains(v, "select down") || !strings.Contains(v, "answer bottom") {
		t.Errorf("requests focused: overlay\n%s", v)
	}
}

// TestLogStoreBoundedInBytes: events with long reasons are dropped oldest first once their
// strings pass the byte budget, however few they are; the newest stay.
func TestLogStoreBoundedInBytes(t *testing.T) {
	l := newLogStore(100_000)
	l.maxBytes = 1 << 20
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	big := strings.Repeat("x", 64<<10)
	for i := range 200 {
		l.add([]session.Event{{Seq: uint64(i + 1), Time: t0, Kind: session.KindRefreshFailed, Reason: big}})
		if l.bytes > l.maxBytes {
			t.Fatalf("after %d events the store holds %d bytes of strings, over %d", i+1, l.bytes, l.maxBytes)
		}
	}
	if len(l.events) == 0 || l.events[len(l.events)-1].Seq != 200 || len(l.events) > 16 {
		t.Errorf("kept %d events, the last seq %d", len(l.events), l.events[len(l.events)-1].Seq)
	}
	sum := 0
	for _, e := range l.events {
		sum += eventBytes(e)
	}
	if sum != l.bytes {
		t.Errorf("byte count %d, the events hold %d", l.bytes, sum)
	}
}

// TestLogLineDetail: space opens the selected line in full: for a request, its steps and the
// answer, the token masked; esc closes it.
func TestLogLineDetail(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	upd(t, f.m, press("tab"))
	upd(t, f.m, press("enter"))
	upd(t, f.m, press("shift+tab"))
	drain(f.m)
	st := f.m.logp.store
	for st.events[st.visible[st.selPos()].last].Kind != session.KindResponse {
		upd(t, f.m, press("up"))
	}
	upd(t, f.m, tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}})
	if f.m.mode != modeDetail {
		t.Fatal("space did not open the detail")
	}
	v := ansi.Strip(f.m.View())
	// What went out is the engine's record of the attempt: its generation and token, the token
	// masked as the token panel shows it.
	for _, want := range []string{"request #1, step by step", "GET " + f.m.sh.snap.Target + "/api/protected/",
		"sent · attempt 1 · gen #1 · token " + f.m.sh.snap.Access.Fingerprint(), "Authorization: Bearer " + f.m.sh.snap.Access.Masked()} {
		if !strings.Contains(v, want) {
			t.Errorf("the detail lacks %q:\n%s", want, v)
		}
	}
	upd(t, f.m, tea.KeyMsg{Type: tea.KeyEnd})
	v += ansi.Strip(f.m.View())
	for _, want := range []string{"ok · 200", `"message"`} {
		if !strings.Contains(v, want) {
			t.Errorf("the detail's end lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, f.m.sh.snap.Access.Raw) {
		t.Error("the detail shows the raw access token")
	}
	upd(t, f.m, press("esc"))
	if f.m.mode != modeNormal {
		t.Error("esc did not close the detail")
	}
}

// TestRequestsPanelKeys: B copies the answer's body; d asks, then deletes the request, and
// the answers of the requests after it stay with them.
func TestRequestsPanelKeys(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	upd(t, f.m, press("tab"))
	upd(t, f.m, press("B"))
	if !strings.Contains(f.m.flash, "no answer body") {
		t.Errorf("B before sending: %q", f.m.flash)
	}
	upd(t, f.m, press("down"))
	upd(t, f.m, press("enter"))
	upd(t, f.m, press("B"))
	if got := f.copiedLast(); !strings.Contains(got, `"username":"demo"`) {
		t.Errorf("B copied %q", got)
	}
	n := len(f.m.reqs.list)
	second := f.m.reqs.list[1]
	upd(t, f.m, press("up"))
	upd(t, f.m, press("d"))
	if len(f.m.reqs.list) != n || !strings.Contains(f.m.flash, "press d again") {
		t.Fatalf("the first d deleted, or did not ask: %q", f.m.flash)
	}
	upd(t, f.m, press("d"))
	if len(f.m.reqs.list) != n-1 || f.m.reqs.list[0].Path != second.Path {
		t.Fatalf("the second d: %d requests, first %s", len(f.m.reqs.list), f.m.reqs.list[0].Path)
	}
	if r, ok := f.m.answers.of(0); !ok || r.Request.Path != second.Path {
		t.Error("the answer did not move with its request")
	}
}

// TestHeartbeatKey: a starts the heartbeat, which sends the selected request by itself; a
// again stops it.
func TestHeartbeatKey(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	upd(t, f.m, press("a"))
	if !f.m.beat.on || !strings.Contains(f.m.flash, "heartbeat") {
		t.Fatalf("a: on %v, %q", f.m.beat.on, f.m.flash)
	}
	cmd := f.m.onBeat(beatMsg{gen: f.m.beat.gen})
	if f.m.flights.out() != 1 {
		t.Errorf("a beat sent %d requests", f.m.flights.out())
	}
	run(t, f.m, cmd)
	if !strings.Contains(ansi.Strip(f.m.View()), "♥ every 1.0s") {
		t.Error("the tabs line does not say the heartbeat runs")
	}
	upd(t, f.m, press("a"))
	if f.m.beat.on || f.m.onBeat(beatMsg{gen: f.m.beat.gen - 1}) != nil {
		t.Error("a did not stop the heartbeat, or an old beat still sends")
	}
}

// TestHeartbeatPausesForLogin: while the session needs a login the heartbeat sends nothing (each
// beat would only park one more request) and says so; after the login it sends again.
func TestHeartbeatPausesForLogin(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	upd(t, f.m, press("a"))
	upd(t, f.m, press("X")) // the refresh family revoked at the server
	upd(t, f.m, press("E")) // and the access token expired: the next request ends the session
	upd(t, f.m, press("enter"))
	f.m.sync()
	if f.m.sh.snap.State != session.StateLoginRequired {
		t.Fatalf("state %s, want login required", f.m.sh.snap.State)
	}
	f.m.onBeat(beatMsg{gen: f.m.beat.gen}) // its command is the next beat's tick only
	if f.m.flights.out() != 0 {
		t.Errorf("a beat while login is required sent %d requests", f.m.flights.out())
	}
	if !strings.Contains(f.m.flash, "heartbeat paused") || !strings.Contains(ansi.Strip(f.m.View()), "♥ paused: login required") {
		t.Errorf("the pause is not said: flash %q", f.m.flash)
	}
	upd(t, f.m, press("l"))
	f.m.sync()
	cmd := f.m.onBeat(beatMsg{gen: f.m.beat.gen})
	if f.m.flights.out() != 1 || !strings.Contains(f.m.flash, "heartbeat resumed") {
		t.Errorf("after the login a beat sent %d requests, flash %q", f.m.flights.out(), f.m.flash)
	}
	run(t, f.m, cmd)
}

// TestComposerStartsEmpty: n opens an empty composer, so what is typed is the request line.
func TestComposerStartsEmpty(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	upd(t, f.m, press("n"))
	for _, r := range "POST /api/items" {
		f.m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}}) // its command only blinks the cursor
	}
	f.m.Update(tea.KeyMsg{Type: tea.KeyCtrlS})
	r, _ := f.m.reqs.current()
	if r.Method != "POST" || r.Path != "/api/items" {
		t.Errorf("saved %s %s, want POST /api/items", r.Method, r.Path)
	}
}

// TestClaimsToggleAndTimes: c shows the claims with exp read as a time, and c again goes back.
func TestClaimsToggleAndTimes(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	upd(t, f.m, press("tab"))
	upd(t, f.m, press("c"))
	if f.m.focus != paneClaims || !regexp.MustCompile(`"exp": \d+,?\s+\(\d\d:\d\d:\d\d, in 30s\)`).MatchString(ansi.Strip(f.m.View())) {
		t.Errorf("claims:\n%s", ansi.Strip(f.m.View()))
	}
	upd(t, f.m, press("c"))
	if f.m.focus != paneRequests {
		t.Errorf("c again: focus %v, want the requests panel", f.m.focus)
	}
}

// TestMouse: a click picks a tab, a request, a log line; the wheel scrolls the log.
func TestMouse(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	for range 40 {
		f.e.Do(t.Context(), f.e.Profile().PresetRequests()[0])
		f.clock.Advance(collapseGap + time.Millisecond) // sends a key press apart: a line each, not ×40
	}
	drain(f.m)
	tabs := 1 + f.m.tokensHeight() + timelineRows
	click := func(x, y int) {
		upd(t, f.m, tea.MouseMsg{X: x, Y: y, Action: tea.MouseActionPress, Button: tea.MouseButtonLeft})
	}
	f.m.View()
	click(2, tabs+3)
	st := f.m.logp.store
	if st.sel == 0 || st.selPos() != len(st.visible)-f.m.logp.height+2 {
		t.Errorf("a click on the log's 3rd row selected line %d of %d (height %d, sel %d)", st.selPos(), len(st.visible), f.m.logp.height, st.sel)
	}
	upd(t, f.m, tea.MouseMsg{X: 2, Y: tabs + 2, Action: tea.MouseActionPress, Button: tea.MouseButtonWheelUp})
	if st.follow || st.offset != len(st.visible)-f.m.logp.height-wheelLines {
		t.Errorf("the wheel: offset %d of %d", st.offset, len(st.visible))
	}
	click(9, tabs)
	if f.m.focus != paneRequests {
		t.Fatalf("a click on the requests tab: focus %v", f.m.focus)
	}
	click(3, tabs+2)
	if f.m.reqs.selected != 1 {
		t.Errorf("a click on the second request selected %d", f.m.reqs.selected)
	}
	click(22, tabs)
	if f.m.focus != paneClaims {
		t.Errorf("a click on the claims tab: focus %v", f.m.focus)
	}
}

// TestComposerTakesACurlCommand: a pasted "Copy as cURL" becomes the request; its host and
// Authorization header are left out and the status line says so.
func TestComposerTakesACurlCommand(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	upd(t, f.m, press("n"))
	paste := "curl 'https://api.example.com/api/items' -H 'authorization: Bearer x' -H 'content-type: application/json' --data-raw '{\"item\":\"from curl\"}'"
	f.m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(paste), Paste: true})
	f.m.Update(tea.KeyMsg{Type: tea.KeyCtrlS})
	r, _ := f.m.reqs.current()
	if r.Method != "POST" || r.Path != "/api/items" || string(r.Body) != `{"item":"from curl"}` || r.Header.Get("Authorization") != "" {
		t.Fatalf("saved %s %s %q %v", r.Method, r.Path, r.Body, r.Header)
	}
	if !strings.Contains(f.m.flash, "not https://api.example.com") || !strings.Contains(f.m.flash, "Authorization") {
		t.Errorf("status line %q", f.m.flash)
	}
	upd(t, f.m, press("enter"))
	if res := answerOf(f.m, f.m.reqs.selected); res.Status != 201 {
		t.Errorf("sending it answered %d", res.Status)
	}
}

// TestRefreshCookieShown: with the cookie convention the refresh panel names the cookie and
// its attributes, and when it goes.
func TestRefreshCookieShown(t *testing.T) {
	f := newFixture(t, "cookie", apiclient.Config{}, "mono")
	f.m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	f.m.sync()
	v := ansi.Strip(f.m.View())
	if !regexp.MustCompile(`Refresh .*cookie refresh_token: HttpOnly SameSite=Strict Path=/auth`).MatchString(v) {
		t.Errorf("the refresh panel:\n%s", v)
	}
}

// answerOf is the answer the model keeps for request i of the list (zero when none).
func answerOf(m *Model, i int) apiclient.Result {
	r, _ := m.answers.of(i)
	return r
}

// TestSubMillisecondAnswers: an answer quicker than a millisecond reads in µs in the requests
// panel, as in the log, never "0s".
func TestSubMillisecondAnswers(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	upd(t, f.m, press("enter"))
	r, ok := f.m.answers.of(0)
	if !ok {
		t.Fatal("no answer")
	}
	r.Duration = 537 * time.Microsecond
	f.m.keep(0, r)
	f.m.focus = paneRequests
	v := ansi.Strip(f.m.View())
	if !strings.Contains(v, "ok · 200 · 537µs") || !regexp.MustCompile(`200 gen \S+ 537µs 1×`).MatchString(v) {
		t.Errorf("a 537 µs answer in the requests panel:\n%s", v)
	}
	ev := session.Event{Kind: session.KindResponse, Method: "GET", Path: "/", Status: 200, Duration: r.Duration}
	if !strings.Contains(ev.Text(), "in 537µs") {
		t.Errorf("the log says %q", ev.Text())
	}
}

// TestHelpScrolls: at 80×24 the overlay holds more than the screen (the strategies come after
// the keys); the keys show without scrolling, and j ↓ pgdn k ↑ pgup g G scroll to the rest.
func TestHelpScrolls(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	f.m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	upd(t, f.m, press("?"))
	first := ansi.Strip(f.m.View())
	if n := strings.Count(first, "\n") + 1; n > 24 || !strings.Contains(first, "lines 1-23 of") || !strings.Contains(first, "esc closes") {
		t.Fatalf("the overlay at 80×24 (%d lines) does not say it scrolls:\n%s", n, first)
	}
	if strings.Contains(first, "background a timer") {
		t.Fatalf("the test needs an overlay taller than 24 lines:\n%s", first)
	}
	top := func() int {
		var a, b, n int
		fmt.Sscanf(ansi.Strip(f.m.View())[strings.LastIndex(ansi.Strip(f.m.View()), "lines "):], "lines %d-%d of %d", &a, &b, &n)
		return a
	}
	steps := []struct {
		key  tea.KeyMsg
		want func(before int) int
	}{
		{press("j"), func(b int) int { return b + 1 }},
		{tea.KeyMsg{Type: tea.KeyDown}, func(b int) int { return b + 1 }},
		{press("k"), func(b int) int { return b - 1 }},
		{tea.KeyMsg{Type: tea.KeyUp}, func(b int) int { return b - 1 }},
		{tea.KeyMsg{Type: tea.KeyPgDown}, func(int) int { return -1 }}, // to the end: less than a page
		{tea.KeyMsg{Type: tea.KeyPgUp}, func(int) int { return 1 }},
		{press("G"), func(int) int { return -1 }},
		{press("g"), func(int) int { return 1 }},
	}
	for _, s := range steps {
		before := top()
		upd(t, f.m, s.key)
		want := s.want(before)
		if want < 0 { // the end: the strategies show, to the last one
			v := ansi.Strip(f.m.View())
			if !strings.Contains(v, "strategies (s)") || !strings.Contains(v, "off        never refresh") {
				t.Errorf("%s did not reach the strategies:\n%s", s.key, v)
			}
			continue
		}
		if got := top(); got != want {
			t.Errorf("%s: top line %d, want %d", s.key, got, want)
		}
	}
	upd(t, f.m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("jjj")}) // typed fast: three keys
	if got := top(); got != 4 {
		t.Errorf("jjj: top line %d, want 4", got)
	}
	upd(t, f.m, tea.MouseMsg{Action: tea.MouseActionPress, Button: tea.MouseButtonWheelDown})
	if got := top(); got != 4+wheelLines {
		t.Errorf("the wheel: top line %d, want %d", got, 4+wheelLines)
	}
	upd(t, f.m, press("esc"))
	upd(t, f.m, press("?"))
	if got := top(); got != 1 || f.m.mode != modeHelp {
		t.Errorf("? opens the overlay at its top: line %d", got)
	}
}

// TestBurstSaysRefreshCalls: the burst's status line names the number single flight is about:
// a burst of 100 on an expired token made one refresh call.
func TestBurstSaysRefreshCalls(t *testing.T) {
	f := sized(t, apiclient.Config{Strategy: apiclient.Reactive}, true)
	upd(t, f.m, press("E"))
	upd(t, f.m, press("b"))
	if !strings.HasPrefix(f.m.flash, "burst of 100: 100 ok · 1 refresh call · 0 failed · 0 parked in ") {
		t.Errorf("flash %q", f.m.flash)
	}
}

// TestUnsendableRequestListed: a request whose file left a {{variable}} undefined is listed
// under its name, marked, and says why it cannot be sent; enter sends nothing; the file's
// other requests work.
func TestUnsendableRequestListed(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	named, err := httpfile.ParseFile("v.http", []byte("### fine\nGET /api/me\n\n### uses host\nGET /api/{{thing}}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var reqs []profile.Request
	for _, n := range named {
		n.Request.Name = n.Name
		reqs = append(reqs, n.Request)
	}
	o := f.m.opts
	o.Requests = reqs
	f.m.Close()
	f.m = New(o)
	t.Cleanup(f.m.Close)
	f.m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	f.m.focus = paneRequests
	upd(t, f.m, press("down"))
	v := ansi.Strip(f.m.View())
	if !regexp.MustCompile(`▸✗uses host · GET /api/\{\{thing\}\}`).MatchString(v) ||
		!strings.Contains(v, `cannot be sent: v.http:5: undefined variable "thing"`) {
		t.Errorf("the unsendable request is not marked, or does not say why:\n%s", v)
	}
	before := f.srv.Stats().ResourceOK + f.srv.Stats().ResourceUnauthorized
	upd(t, f.m, press("enter"))
	if r, ok := f.m.answers.of(1); !ok || r.Outcome != apiclient.Failed || !strings.Contains(r.Reason, "undefined variable") {
		t.Errorf("enter on it: %+v", r)
	}
	upd(t, f.m, press("up"))
	upd(t, f.m, press("enter"))
	if r, _ := f.m.answers.of(0); r.Outcome != apiclient.OK || f.srv.Stats().ResourceOK+f.srv.Stats().ResourceUnauthorized != before+1 {
		t.Errorf("the file's other request: %+v; the server saw %d", r, f.srv.Stats().ResourceOK+f.srv.Stats().ResourceUnauthorized-before)
	}
}
