package tui

// Watching a session the TUI does not drive: `tokenscope observe` shows the user's own app's
// session with the same panels, and a findings panel where the requests would be.

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"tokenscope/apiclient"
	"tokenscope/apiclient/profile"
	"tokenscope/internal/redact"
	"tokenscope/internal/sanitize"
	"tokenscope/session"
	"tokenscope/themes"
)

// Source is a session the TUI can draw: the engine's own, or an observed one.
type Source interface {
	Snapshot() apiclient.Snapshot
	Log() session.LogView
}

// Observed is a session the TUI watches without driving it (tokenscope observe): its
// counters and findings take the requests panel's place.
type Observed interface {
	Source
	SummaryLines() []string
	// Listen is where the app must point (the proxy's URL; "" when unknown), for the header:
	// the one thing a user must know to start.
	Listen() string
	// Setup is what to paste for an app to go through the proxy (a forward proxy's export
	// lines), shown above the findings; nil when pointing the app at Listen is all.
	Setup() []string
}

// findingsPanel shows the observed session's counters and every finding, newest last.
type findingsPanel struct {
	sh     *shared
	src    Observed
	store  *logStore
	keys   scrollKeys
	vp     viewport.Model
	width  int
	shown  int // findings laid out
	height int
}

func newFindingsPanel(sh *shared, src Observed, store *logStore) *findingsPanel {
	return &findingsPanel{sh: sh, src: src, store: store, vp: viewport.New(0, 0),
		keys: newScrollKeys("scroll up", "scroll down", "top", "bottom")}
}

func (p *findingsPanel) ShortHelp() []key.Binding { return nil }

func (p *findingsPanel) FullHelp() [][]key.Binding { return [][]key.Binding{p.keys.all()} }

func (p *findingsPanel) title() string { return "findings" }

func (p *findingsPanel) status() string { return "what your app did, and what to fix" }

func (p *findingsPanel) SetSize(width, height int) {
	p.width, p.height = width, height
	p.vp.Width, p.vp.Height = max(width, 1), max(height, 0)
	p.layout()
}

func (p *findingsPanel) Update(msg tea.KeyMsg) (tea.Cmd, bool) {
	return nil, p.keys.scroll(&p.vp, msg, true)
}

// layout draws the counters, then each finding: its rule, then its sentence wrapped whole
// (a finding is advice to act on; cutting it off would lose the advice).
func (p *findingsPanel) layout() {
	th := p.sh.theme
	var lines []string
	if setup := p.src.Setup(); len(setup) > 0 {
		lines = append(lines, th.Label.Render("to route an app through tokenscope, paste:"))
		for _, l := range setup {
			// Whole, not cut: a pasted line must be complete.
			lines = append(lines, th.Value.Render(sanitize.Line(l)))
		}
		lines = append(lines, "")
	}
	for _, l := range p.src.SummaryLines() {
		lines = append(lines, th.Value.Render(truncate(sanitize.Line(l), p.width)))
	}
	n := 0
	for _, ev := range p.store.events {
		if ev.Kind != session.KindFinding {
			continue
		}
		n++
		lines = append(lines, "", th.Warn.Render(ev.Time.Local().Format("15:04:05")+"  "+sanitize.Line(ev.Rule)))
		for _, l := range strings.Split(wrapText(sanitize.Line(ev.Reason), max(p.width-2, 10)), "\n") {
			lines = append(lines, "  "+th.Value.Render(l))
		}
	}
	p.shown = n
	atEnd := p.vp.AtBottom()
	p.vp.SetContent(strings.Join(lines, "\n"))
	if atEnd {
		p.vp.GotoBottom()
	}
}

func (p *findingsPanel) eventsIn() { p.layout() }

func (p *findingsPanel) View() string { return p.vp.View() }

func wrapText(s string, w int) string { return ansi.Wrap(s, w, " ") }

// watchDriver watches a session the TUI does not drive (tokenscope observe): the keys that
// drive the engine are not offered, findings take the requests panel's place, and the fault keys
// turn the proxy's injections when observe runs with --faults.
type watchDriver struct {
	Observed
	faults Faults // nil without --faults
}

// Watch has the TUI watch an observed session; faults are the proxy's injections (nil without
// --faults).
func Watch(o Observed, faults Faults) Driver { return &watchDriver{Observed: o, faults: faults} }

func (d *watchDriver) bind(*KeyMap) []action { return nil }

func (d *watchDriver) start(*Model) tea.Cmd { return nil }

func (d *watchDriver) requests(given []profile.Request) []profile.Request { return given }

func (d *watchDriver) requestsPane(m *Model) component {
	return newFindingsPanel(m.sh, d.Observed, m.logp.store)
}

// offersFault: the proxy's knobs with --faults. Without it the keys are not offered, but they
// still answer, with what --faults would give (see fault).
func (d *watchDriver) offersFault(f Fault) bool { return d.faults != nil && d.faults.Offers(f) }

// watchFaults say what each knob does to the user's app: the keys' help, and what a key pressed
// without --faults would have done.
var watchFaults = [faultCount]string{
	ExpireAccess:  "your app's tokens answer 401",
	RejectRefresh: "reject the next refresh",
	FailRefresh:   "next refresh answers 503",
	SlowRefresh:   "slow refresh calls",
}

func (d *watchDriver) faultHelp(f Fault) string {
	if watchFaults[f] == "" {
		return ""
	}
	return "fault: " + watchFaults[f]
}

// fault turns one of the proxy's injections; the proxy notes it in the observed log itself.
func (d *watchDriver) fault(t turn) (string, error) {
	f, dur := t.f, t.to
	switch {
	case watchFaults[f] == "": // the server's clock: the upstream's, out of a proxy's reach
		return "a proxy cannot move the server's clock: K works against the embedded demo server", errNoKnob
	case d.faults == nil:
		return "fault keys need tokenscope observe --faults; with it, this one: " + watchFaults[f], errNoFaults
	case !d.faults.Offers(f):
		return "observe cannot inject this fault", errNoKnob
	}
	if _, err := d.faults.Turn(f, dur); err != nil {
		return "observe: " + err.Error(), err
	}
	switch f {
	case ExpireAccess:
		return "observe: the access tokens your app holds now answer 401", nil
	case RejectRefresh:
		return "observe: the next refresh is rejected as revoked", nil
	case FailRefresh:
		return "observe: the next refresh answers 503", nil
	}
	if dur > 0 {
		return fmt.Sprintf("observe: refresh calls now take %gs longer", dur.Seconds()), nil
	}
	return "observe: refresh calls at full speed again", nil
}

// modeFields: the app's strategy and single flight are what the findings judge, not settings.
func (d *watchDriver) modeFields(th themes.Theme, _ apiclient.Snapshot) []string {
	f := []string{th.Refresh.Render("observing your app")}
	if at := d.Listen(); at != "" {
		f = append(f, th.Value.Render("point it at "+sanitize.Line(at)))
	}
	return f
}

// secrets is a set of the observed app's tokens, filled as the screen sees them.
func (d *watchDriver) secrets() *redact.Secrets { return redact.New() }

func (d *watchDriver) words() driverWords {
	w := driverWords{
		emptyLog: "no events yet: point your app at the proxy, and its requests show here",
		ended:    "ended: your app must log in",
		dialog: dialogWords{title: "Your app's session ended: login required", action: "your app must log in again   ",
			parked: func(int) string { return "" }}, // nothing is parked here: the app keeps its own requests
		faultNote: "Fault keys (E X F L) need tokenscope observe --faults: they answer your app in the upstream's place.",
	}
	if d.faults != nil {
		w.faultNote = "Fault keys (E X F L) answer your app in the upstream's place."
	}
	if setup := d.Setup(); len(setup) > 0 {
		w.emptyLog += "\n\nto route an app through tokenscope, paste:"
		for _, l := range setup {
			w.emptyLog += "\n" + sanitize.Line(l)
		}
	}
	return w
}
