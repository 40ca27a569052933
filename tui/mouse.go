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
	if msg.Action != tea.MouseActionPress || m.mode == modeHelp || m.mode == modeCompose || m.mode == modeFilter {
		return nil
	}
	tabsRow := 1 + m.tokensHeight() + timelineRows
	up, down := msg.Button == tea.MouseButtonWheelUp, msg.Button == tea.MouseButtonWheelDown
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
	for i, n := range paneNames {
		if pane(i) == paneRequests && m.engine == nil {
			n = "findings"
		}
		w := len(n) + 2 // "[name]" or " name "
		if x >= col && x < col+w {
			return pane(i), true
		}
		col += w + 1
	}
	return 0, false
}

// wheel scrolls the focused panel: the log's lines, the request list or the answer beside it,
// the claims.
func (m *Model) wheel(x int, up bool) {
	d := wheelLines
	if up {
		d = -d
	}
	switch m.focus {
	case paneLog:
		m.logp.store.scroll(d, m.logp.height)
	case paneRequests:
		if m.engine == nil {
			scrollVP(&m.findings.vp, d)
			return
		}
		if x < m.reqs.listW {
			m.reqs.selectIndex(m.reqs.selected + d/wheelLines)
			return
		}
		scrollVP(&m.reqs.resp, d)
	case paneClaims:
		scrollVP(&m.claims.vp, d)
	}
}

// click selects the log line or the request at row of the main area.
func (m *Model) click(x, row int) {
	switch {
	case m.focus == paneLog:
		m.logp.store.selectRow(row, m.logp.height)
	case m.focus == paneRequests && m.engine != nil && x < m.reqs.listW && row < len(m.reqs.list):
		m.reqs.selectIndex(row)
	}
}

func scrollVP(vp *viewport.Model, d int) {
	if d < 0 {
		vp.ScrollUp(-d)
	} else {
		vp.ScrollDown(d)
	}
}
