package tui

import (
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"strings"

	"tokenscope/session"
)

// logKeys are the log panel's own keys.
type logKeys struct {
	scrollKeys
	ClearFilter key.Binding
	Detail      key.Binding
	Expand      key.Binding
}

// logPanel is the event log: a bounded store that renders only what is on screen, and the
// filter that narrows it.
type logPanel struct {
	sh     *shared
	empty  string // what the panel says before the first event
	keys   logKeys
	store  *logStore
	filter textinput.Model
	width  int
	height int
}

func newLogPanel(sh *shared, max int, empty string) *logPanel {
	fi := textinput.New()
	fi.Prompt = "/ "
	fi.Placeholder = "filter: kind or text (401, refresh, /api/me …)"
	keys := logKeys{
		scrollKeys:  newScrollKeys("select up", "select down", "top", "bottom, follow"),
		ClearFilter: bind("clear filter", "esc"),
		Detail:      bind("the line in full", " "),
		Expand:      bind("alike lines: one each / ×N", "z"),
	}
	keys.Detail.SetHelp("space", "the line in full")
	keys.ClearFilter.SetEnabled(false)
	store := newLogStore(max)
	store.secrets = sh.secrets
	return &logPanel{sh: sh, empty: empty, keys: keys, store: store, filter: fi}
}

func (p *logPanel) ShortHelp() []key.Binding {
	return []key.Binding{p.keys.Detail, p.keys.ClearFilter}
}

func (p *logPanel) FullHelp() [][]key.Binding {
	return [][]key.Binding{append(p.keys.all(), p.keys.Detail, p.keys.Expand, p.keys.ClearFilter)}
}

func (p *logPanel) SetSize(width, height int) {
	p.width, p.height = width, height
	p.store.invalidate()
}

// Update scrolls, and esc clears a filter that was applied.
func (p *logPanel) Update(msg tea.KeyMsg) (tea.Cmd, bool) {
	k := p.keys
	page := max(p.height-1, 1)
	switch {
	case key.Matches(msg, k.ClearFilter):
		p.setFilter("")
		return flash("filter cleared"), true
	case key.Matches(msg, k.Detail):
		return func() tea.Msg { return openDetailMsg{} }, true
	case key.Matches(msg, k.Expand):
		p.store.setExpand(!p.store.expand)
		return flash(map[bool]string{true: "log: one line per event (z collapses alike lines again)",
			false: "log: alike lines collapsed (×N; z shows one line each)"}[p.store.expand]), true
	case key.Matches(msg, k.Up):
		p.store.move(-1, p.height)
	case key.Matches(msg, k.Down):
		p.store.move(1, p.height)
	case key.Matches(msg, k.PageUp):
		p.store.move(-page, p.height)
	case key.Matches(msg, k.PageDown):
		p.store.move(page, p.height)
	case key.Matches(msg, k.Top):
		p.store.toTop()
	case key.Matches(msg, k.Bottom):
		p.store.toBottom()
	default:
		return nil, false
	}
	return nil, true
}

// startFilter focuses the filter input.
// startFilter starts a new filter: the input starts empty (typing after / once appended to
// the old filter: "reuserefresh-ok"); the old filter shows until the first key replaces it.
func (p *logPanel) startFilter() tea.Cmd {
	p.filter.SetValue("")
	return p.filter.Focus()
}

// updateFilter takes a key while the filter input has the keyboard: enter keeps the filter,
// esc drops it; either ends the input (done).
func (p *logPanel) updateFilter(msg tea.Msg) (cmd tea.Cmd, done bool) {
	if k, ok := msg.(tea.KeyMsg); ok {
		switch {
		case key.Matches(k, filterApply):
			p.filter.Blur()
			p.setFilter(p.filter.Value()) // what the input shows is the filter, even when empty
			return nil, true
		case key.Matches(k, filterClear):
			p.filter.Blur()
			p.setFilter("")
			return nil, true
		}
	}
	p.filter, cmd = p.filter.Update(msg)
	p.store.setFilter(p.filter.Value())
	p.keys.ClearFilter.SetEnabled(p.store.filter != "")
	return cmd, false
}

func (p *logPanel) setFilter(f string) {
	p.filter.SetValue(f)
	p.store.setFilter(f)
	p.keys.ClearFilter.SetEnabled(p.store.filter != "")
}

// ingest adds events, catching up from the engine's log when the subscription dropped some.
func (p *logPanel) ingest(evs []session.Event, since func(seq uint64) []session.Event) {
	if len(evs) > 0 && p.store.lastSeq != 0 && evs[0].Seq > p.store.lastSeq+1 {
		p.store.add(since(p.store.lastSeq))
	}
	p.store.add(evs)
}

func (p *logPanel) View() string {
	lines := p.store.lines(p.sh.theme, p.width, p.height)
	if len(lines) == 0 {
		msg := p.empty
		if p.store.filter != "" {
			msg = "no event matches the filter (esc clears it)"
		} else if p.store.cleared {
			msg = "log cleared: new events appear here"
		}
		// A line each (observe's lines to paste), cut to the pane, never past its height.
		for _, l := range strings.Split(msg, "\n") {
			if len(lines) < p.height {
				lines = append(lines, p.sh.theme.Muted.Render(truncate(l, p.width)))
			}
		}
	}
	return padLines(lines, p.height)
}

func (p *logPanel) title() string { return "log" }

func (p *logPanel) status() string {
	if p.filter.Focused() {
		return p.filter.View()
	}
	return p.store.status()
}
