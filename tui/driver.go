package tui

import (
	"errors"
	"fmt"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"tokenscope/apiclient"
	"tokenscope/apiclient/profile"
	"tokenscope/internal/redact"
	"tokenscope/session"
	"tokenscope/themes"
)

// Driver moves the session on screen. Driving tokenscope's own engine (Drive) and watching an
// app through observe's proxy (Watch) are its two implementations. The model asks the driver
// what to offer (the keys that work, the fault knobs, the words of the dialogs) and never which
// one it has, so a screen cannot offer what its driver cannot do.
type Driver interface {
	Source
	// bind is the actions of the keys only this driver serves. A key no action serves is off,
	// so help and the bar leave it out.
	bind(k *KeyMap) []action
	// start is what begins with the program: the login, the heartbeat.
	start(m *Model) tea.Cmd
	// requests is the request list: the given one, or the driver's own presets.
	requests(given []profile.Request) []profile.Request
	// requestsPane is the panel in the requests' place.
	requestsPane(m *Model) component
	offersFault(f Fault) bool
	// faultHelp names a fault key for what it does with this driver ("" keeps the key map's).
	faultHelp(f Fault) string
	// fault turns a knob and says what it did, or why it could not (err is then not nil).
	fault(t turn) (string, error)
	// modeFields are the header's fields after the state: how the session is driven.
	modeFields(th themes.Theme, s apiclient.Snapshot) []string
	words() driverWords
	// secrets are the session's secrets the screen masks with: the engine's own set (which
	// holds its credentials and every token it held), or an observed app's tokens as seen.
	secrets() *redact.Secrets
}

// driverWords are the lines that differ with who drives the session.
type driverWords struct {
	targetPrefix string // before the target in the header
	faultNote    string // the help overlay's line on the fault keys
	emptyLog     string // the log panel before the first event
	ended        string // the token panels' countdown once the session ended
	dialog       dialogWords
}

// errNoFaults is a fault key's answer when the driver has no knobs to turn.
var errNoFaults = errors.New("no fault knobs")

// engineDriver drives tokenscope's own engine: every key works, the fault keys when cmd hands
// over the embedded demo server's knobs.
type engineDriver struct {
	e      *apiclient.Engine
	faults Faults // nil against a real API
}

// Drive has the TUI drive the engine; faults are the embedded demo server's knobs (nil for a
// real API).
func Drive(e *apiclient.Engine, faults Faults) Driver { return &engineDriver{e: e, faults: faults} }

func (d *engineDriver) Snapshot() apiclient.Snapshot { return d.e.Snapshot() }

func (d *engineDriver) Log() session.LogView { return d.e.Log() }

func (d *engineDriver) bind(k *KeyMap) []action {
	e := d.e
	return []action{
		{&k.Send, func(m *Model, _ tea.KeyMsg) tea.Cmd { return m.send(e) }},
		{&k.Burst, func(m *Model, _ tea.KeyMsg) tea.Cmd { return m.burst(e) }},
		{&k.Heartbeat, func(m *Model, _ tea.KeyMsg) tea.Cmd { return m.toggleHeartbeat(e) }},
		{&k.BurstMore, (*Model).burstSize},
		{&k.BurstLess, (*Model).burstSize},
		{&k.Refresh, func(m *Model, _ tea.KeyMsg) tea.Cmd { return m.refreshCmd(e) }},
		{&k.Strategy, func(m *Model, _ tea.KeyMsg) tea.Cmd { return m.nextStrategy(e) }},
		{&k.SingleFlight, func(m *Model, _ tea.KeyMsg) tea.Cmd { return m.toggleSingleFlight(e) }},
		{&k.Login, func(m *Model, _ tea.KeyMsg) tea.Cmd { return m.login(e) }},
		{&k.Logout, func(m *Model, _ tea.KeyMsg) tea.Cmd { return m.signOutCmd(e) }},
		{&k.CopyCurl, func(m *Model, _ tea.KeyMsg) tea.Cmd { return m.copyCurl(e) }},
		{&k.Edit, (*Model).compose},
		{&k.New, (*Model).compose},
	}
}

func (d *engineDriver) start(m *Model) tea.Cmd {
	var cmds []tea.Cmd
	if m.opts.Every > 0 {
		cmds = append(cmds, m.beat.start(m.opts.Every, d.e))
	}
	if !m.opts.NoAutoLogin {
		cmds = append(cmds, m.loginCmd(d.e))
	}
	return tea.Batch(cmds...)
}

func (d *engineDriver) requests(given []profile.Request) []profile.Request {
	if len(given) == 0 {
		return d.e.Profile().PresetRequests()
	}
	return given
}

func (d *engineDriver) requestsPane(m *Model) component { return m.reqs }

func (d *engineDriver) offersFault(f Fault) bool { return d.faults != nil && d.faults.Offers(f) }

func (d *engineDriver) faultHelp(Fault) string { return "" }

// fault turns a demo server knob, and notes it in the log: the story of a session includes the
// faults that shaped it.
func (d *engineDriver) fault(t turn) (string, error) {
	if !d.offersFault(t.f) {
		return "fault keys work only against the embedded demo server", errNoFaults
	}
	n, err := d.faults.Turn(t.f, t.to)
	if err != nil {
		return "demo: " + err.Error(), err
	}
	what := demoSaid(t, n)
	d.e.Note(what)
	return what, nil
}

// demoSaid is what a demo server knob did, for the status line and the log.
func demoSaid(t turn, n int) string {
	d := t.to
	switch t.f {
	case ExpireAccess:
		return fmt.Sprintf("demo: expired %s at the server", plural(n, "access token", "access tokens"))
	case RejectRefresh:
		return fmt.Sprintf("demo: revoked %s at the server", plural(n, "refresh token family", "refresh token families"))
	case FailRefresh:
		return "demo: the next refresh call answers 503"
	case SlowRefresh:
		if d > 0 {
			return fmt.Sprintf("demo: refresh calls now take %gs", d.Seconds())
		}
		return "demo: refresh latency off"
	}
	return skewSaid(t.from, t.to)
}

// skewSaid says what moving the demo server's clock does, most telling first (a status line
// shows the first 80 cells): it mints iat and exp by its own clock and checks both by it, so a
// clock moved back makes the tokens out now come from its future (it rejects their iat, the
// refresh token's too: the session ends), and one moved forward makes the access token out now
// expired to it (a 401 and a refresh). The skew estimate follows the next answer's Date.
func skewSaid(from, to time.Duration) string {
	head := fmt.Sprintf("demo: server clock %+ds", int(to.Seconds()))
	if to == 0 {
		head = "demo: server clock skew off"
	}
	switch {
	case to < from:
		return head + ": the session will end, as it now rejects the tokens out (their iat is in its future); " +
			"l logs in again for tokens whose iat/exp follow its clock"
	case to > from:
		return head + ": the access token out is now expired to it (a 401, then a refresh); " +
			"new tokens carry iat/exp by its clock"
	}
	return head
}

func (d *engineDriver) modeFields(th themes.Theme, s apiclient.Snapshot) []string {
	sf := th.Value.Render("single flight")
	if !s.SingleFlight {
		sf = th.Warn.Render("NO single flight")
	}
	return []string{th.Label.Render("strategy ") + th.Value.Render(string(s.Strategy)), sf}
}

func (d *engineDriver) secrets() *redact.Secrets { return d.e.Secrets() }

func (d *engineDriver) words() driverWords {
	w := driverWords{
		emptyLog: "no events yet: press enter to send the selected request, b for a burst",
		ended:    "ended: l logs in again",
		dialog: dialogWords{title: "Session ended: login required", key: "l", action: " log in again   ",
			parked: parkedText},
	}
	if d.faults != nil {
		w.targetPrefix, w.faultNote = "demo ", "Fault keys (E X F L K) drive the embedded demo server only."
	}
	return w
}
