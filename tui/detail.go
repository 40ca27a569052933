package tui

// The detail of one log line (space): the whole event, and for a request its story and, when
// the TUI sent it, what went out and what came back.

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"

	"tokenscope/apiclient"
	"tokenscope/apiclient/sent"
	"tokenscope/internal/human"
	"tokenscope/internal/redact"
	"tokenscope/internal/sanitize"
	"tokenscope/session"
)

// detailView is the overlay that shows one event in full; it scrolls.
type detailView struct {
	sh    *shared
	vp    viewport.Model
	keys  scrollKeys
	close key.Binding
}

func newDetailView(sh *shared) *detailView {
	return &detailView{sh: sh, vp: viewport.New(0, 0), keys: newScrollKeys("scroll up", "scroll down", "top", "bottom"),
		close: key.NewBinding(key.WithKeys("esc", " ", "q"), key.WithHelp("esc space", "close"))}
}

func (d *detailView) SetSize(width, height int) {
	d.vp.Width, d.vp.Height = max(width, 1), max(height, 1)
}

// update reports whether the key closes the detail; others scroll it.
func (d *detailView) update(msg tea.KeyMsg) (done bool) {
	if key.Matches(msg, d.close) {
		return true
	}
	d.keys.scroll(&d.vp, msg, true)
	return false
}

func (d *detailView) ShortHelp() []key.Binding {
	return []key.Binding{d.keys.Down, d.keys.PageDown, d.close}
}

func (d *detailView) View() string { return d.vp.View() }

// openDetailMsg asks the model to open the selected line's detail.
type openDetailMsg struct{}

// openDetail shows the selected log line's event in full.
func (m *Model) openDetail() tea.Cmd {
	row, ok := m.logp.store.selected()
	if !ok {
		return flash("no event to show")
	}
	ev := m.logp.store.events[row.last]
	lines := m.eventDetail(ev)
	if row.n > 1 {
		first := m.logp.store.events[row.first]
		run := fmt.Sprintf("the newest of %d alike events, %s to %s (z in the log: one line each)", row.n,
			first.Time.Local().Format("15:04:05.000"), ev.Time.Local().Format("15:04:05.000"))
		lines = slices.Insert(lines, 1, m.sh.theme.Muted.Render(truncate(run, max(m.width-2, 20))))
	}
	m.detail.vp.SetContent(strings.Join(lines, "\n"))
	m.detail.vp.GotoTop()
	m.mode = modeDetail
	return nil
}

// eventDetail is the event's lines: its sentence whole, its fields, and for a request the
// other events of the same request and the answer the TUI holds.
func (m *Model) eventDetail(ev session.Event) []string {
	th := m.sh.theme
	w := max(m.width-2, 20)
	lines := []string{th.Header.Render(ev.Time.Local().Format("15:04:05.000") + "  " + ev.Kind.String())}
	for _, l := range strings.Split(wrapText(sanitize.Line(m.sh.mask(ev.Text())), w), "\n") {
		lines = append(lines, th.Value.Render(l))
	}
	lines = append(lines, "")
	for _, f := range eventFields(ev) {
		lines = append(lines, th.Label.Render(fmt.Sprintf("%-12s", f[0]))+th.Value.Render(truncate(sanitize.Line(f[1]), w-12)))
	}
	if ev.RequestID == 0 {
		return lines
	}
	lines = append(lines, "", th.Header.Render(fmt.Sprintf("request #%d, step by step", ev.RequestID)))
	for _, e := range m.logp.store.events {
		if e.RequestID == ev.RequestID {
			lines = append(lines, th.Value.Render(truncate(e.Time.Local().Format("15:04:05.000")+"  "+sanitize.Line(m.sh.mask(e.Text())), w)))
		}
	}
	if r, ok := m.answers.get(ev.RequestID); ok {
		lines = append(lines, "")
		lines = append(lines, m.exchangeLines(r, w)...)
	}
	return lines
}

// eventFields are the event's set fields, as name and value.
func eventFields(ev session.Event) [][2]string {
	var f [][2]string
	add := func(name string, set bool, v string) {
		if set {
			f = append(f, [2]string{name, v})
		}
	}
	add("seq", true, fmt.Sprint(ev.Seq))
	add("request", ev.RequestID != 0, fmt.Sprintf("#%d", ev.RequestID))
	add("refresh", ev.RefreshID != 0, fmt.Sprintf("#%d", ev.RefreshID))
	add("call", ev.Method != "", ev.Method+" "+ev.Path)
	add("status", ev.Status != 0, fmt.Sprint(ev.Status))
	add("took", ev.Duration != 0, human.Duration(ev.Duration))
	add("attempt", ev.Attempt != 0, fmt.Sprint(ev.Attempt))
	add("why", ev.Why != session.WhyNone, ev.Why.String())
	add("generation", ev.Generation != 0, fmt.Sprintf("#%d", ev.Generation))
	add("exp", !ev.Exp.IsZero(), ev.Exp.Local().Format(time.DateTime))
	add("rotated", ev.Rotated, "yes")
	add("waiting", ev.Waiting != 0, fmt.Sprint(ev.Waiting))
	add("token", ev.Token != "", ev.Token)
	add("skew", ev.Skew != 0, human.Duration(ev.Skew))
	add("transient", ev.Transient, "yes")
	add("rule", ev.Rule != "", ev.Rule)
	return f
}

// exchangeLines are what went out, attempt by attempt, as the engine's record has it (each
// secret masked, the token named by generation), and what came back (status, timing, headers,
// body), as the TUI's own send holds them.
func (m *Model) exchangeLines(r apiclient.Result, w int) []string {
	th := m.sh.theme
	var out []string
	if len(r.Attempts) == 0 {
		out = append(out, th.Header.Render("nothing went out"), th.Value.Render(truncate(sanitize.Line(r.Request.Method+" "+r.Request.Path), w)))
	}
	for i, a := range r.Attempts {
		out = append(out, th.Header.Render(truncate(fmt.Sprintf("sent · attempt %d · gen #%d · token %s · %s", i+1, a.Generation, a.Token,
			a.Sent.Local().Format("15:04:05.000")), w)))
		out = append(out, m.outgoingLines(a.Out, w)...)
		if !a.Answered.IsZero() {
			out = append(out, th.Label.Render(fmt.Sprintf("answered %d after %s", a.Status, human.Duration(a.Answered.Sub(a.Sent)))))
		}
		out = append(out, "")
	}
	out = append(out, th.Header.Render("answer"), th.Value.Render(fmt.Sprintf("%s · %d · %s · %s", r.Outcome, r.Status,
		human.Duration(r.Duration), plural(len(r.Attempts), "attempt", "attempts"))))
	if r.Reason != "" {
		out = append(out, th.Warn.Render(truncate(sanitize.Line(m.sh.mask(r.Reason)), w)))
	}
	return append(out, m.reqs.responseBody(r, w)...)
}

// outgoingLines are one attempt's record: the URL, the headers in the order they went (their
// secrets masked whatever the reveal), the body.
func (m *Model) outgoingLines(o sent.Request, w int) []string {
	th := m.sh.theme
	out := []string{th.Value.Render(truncate(sanitize.Line(m.sh.mask(o.Method+" "+redact.URL(o.URL()))), w))}
	for _, h := range o.Header() {
		out = append(out, th.Label.Render(truncate(sanitize.Line(m.sh.mask(h.Name+": "+h.Value)), w)))
	}
	if body, more := o.Body(); len(body) > 0 {
		line := sanitize.Line(m.sh.mask(string(body)))
		if more > 0 {
			line += fmt.Sprintf(" … (%d more bytes)", more)
		}
		out = append(out, th.Value.Render(truncate(line, w)))
	}
	return out
}
