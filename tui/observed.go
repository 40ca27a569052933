package tui

// Watching a session the TUI does not drive: `tokenscope observe` shows the user's own app's
// session with the same panels, and a findings panel where the requests would be.

import (
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"tokenscope/apiclient"
	"tokenscope/internal/sanitize"
	"tokenscope/session"
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
}

// engineKeys are the keys that drive the engine: off while only watching.
func (k *KeyMap) engineKeys() []*key.Binding {
	return []*key.Binding{&k.Send, &k.Heartbeat, &k.Burst, &k.BurstMore, &k.BurstLess, &k.Refresh, &k.Strategy,
		&k.SingleFlight, &k.Login, &k.Logout, &k.CopyCurl, &k.Edit, &k.New}
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

func (p *findingsPanel) View() string { return p.vp.View() }

func wrapText(s string, w int) string { return ansi.Wrap(s, w, " ") }

// ObservedFaults are the proxy's fault injections (tokenscope observe --faults): the fault keys
// turn them while watching. They note themselves in the observed log.
type ObservedFaults interface {
	ExpireNow() error
	RevokeNext(n int) error
	Fail503Next(n int) error
	SlowRefresh(d time.Duration) error
}

// observedFault is a fault key while watching; ok is false for other keys.
func (m *Model) observedFault(msg tea.KeyMsg) (tea.Cmd, bool) {
	k := &m.keys
	f := m.opts.ObservedFaults
	var what string
	var err error
	switch {
	case f == nil:
		for _, b := range k.faultKeys() {
			if key.Matches(msg, *b) {
				return flash("fault keys need tokenscope observe --faults"), true
			}
		}
		return nil, false
	case key.Matches(msg, k.ExpireAccess):
		err, what = f.ExpireNow(), "observe: the access tokens your app holds now answer 401"
	case key.Matches(msg, k.RevokeFamily):
		err, what = f.RevokeNext(1), "observe: the next refresh is rejected as revoked"
	case key.Matches(msg, k.FailRefresh):
		err, what = f.Fail503Next(1), "observe: the next refresh answers 503"
	case key.Matches(msg, k.Latency):
		m.faults.latencyOn = !m.faults.latencyOn
		d := time.Duration(0)
		what = "observe: refresh calls at full speed again"
		if m.faults.latencyOn {
			d, what = 2*time.Second, "observe: refresh calls now take 2s longer"
		}
		err = f.SlowRefresh(d)
	default:
		return nil, false
	}
	if err != nil {
		what = "observe: " + err.Error()
	}
	return flash(what), true
}
