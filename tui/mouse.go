package tui

// The mouse: the wheel scrolls the panel under the pointer, a click picks a tab, a log line
// or a request. The screen's rows are known from the layout: header, token panels, timeline,
// tabs, then the main area.

import (
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
)

// wheelLines is how far one wheel notch moves.
const wheelLines = 3

func (m *Model) mouse(msg tea.MouseMsg) tea.Cmd {
	if msg.Action != tea.MouseActionPress || m.mode == modeCompose || m.mode == modeFilter {
		return nil
	}
	tabsRow := 1 + m.tokensHeight() + timelineRows
	up, down := msg.Button == tea.MouseButtonWheelUp, msg.Button == tea.MouseButtonWheelDown
	if m.mode == modeHelp {
		// The wheel scrolls the overlay as ↑ and ↓ do.
		k := tea.KeyMsg{Type: tea.KeyDown}
		if up {
			k.Type = tea.KeyUp
		}
		for i := 0; (up || down) && i < wheelLines; i++ {
			m.help.update(k, m.helpGroups())
		}
		return nil
	}
	if m.mode == modeDetail {
		if up {
			m.detail.vp.ScrollUp(wheelLines)
		} else if down {
			m.detail.vp.ScrollDown(wheelLines)
		}
		return nil
	}
	switch {
	case msg.Y == tabsRow && msg.Button == tea.MouseButtonLeft:
		if p, ok := m.tabAt(msg.X); ok {
			m.focus = p
		}
	case msg.Y > tabsRow && (up || down):
		m.wheel(msg.X, up)
	case msg.Y > tabsRow && msg.Button == tea.MouseButtonLeft:
		m.click(msg.X, msg.Y-tabsRow-1)
	}
	return nil
}

// tabAt is the tab drawn at column x of the tabs line ("[log]  requests   claims").
func (m *Model) tabAt(x int) (pane, bool) {
	col := 0
	for i, p := range m.panels {
		w := len(p.title()) + 2 // "[name]" or " name "
		if x >= col && x < col+w {
			return pane(i), true
		}
		col += w + 1
	}
	return 0, false
}

// wheel scrolls the focused panel.
func (m *Model) wheel(x int, up bool) {
	d := wheelLines
	if up {
		d = -d
	}
	m.panels[m.focus].wheel(x, d)
}

// click selects what is at row of the main area in the focused panel.
func (m *Model) click(x, row int) { m.panels[m.focus].click(x, row) }

// The panels' mouse: the wheel moves d lines (negative: up); a click picks a line or a request.

func (p *logPanel) wheel(_, d int) { p.store.scroll(d, p.height) }

func (p *logPanel) click(_, row int) { p.store.selectRow(row, p.height) }

// wheel over the request list picks the next request; beside it, it scrolls the answer.
func (p *requestsPanel) wheel(x, d int) {
	if x < p.listW {
		p.selectIndex(p.selected + d/wheelLines)
		return
	}
	scrollVP(&p.resp, d)
}

func (p *requestsPanel) click(x, row int) {
	if x < p.listW && row < len(p.list) {
		p.selectIndex(row)
	}
}

func (p *claimsPanel) wheel(_, d int) { scrollVP(&p.vp, d) }

func (p *claimsPanel) click(int, int) {}

func (p *findingsPanel) wheel(_, d int) { scrollVP(&p.vp, d) }

func (p *findingsPanel) click(int, int) {}

func scrollVP(vp *viewport.Model, d int) {
	if d < 0 {
		vp.ScrollUp(-d)
	} else {
		vp.ScrollDown(d)
	}
}
