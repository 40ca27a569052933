package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"tokenscope/internal/redact"
	"tokenscope/internal/sanitize"
	"tokenscope/session"
)

// headerView is the top line: the session's state and the settings that shape it, most
// telling first, since a narrow terminal cuts from the right.
func (m *Model) headerView() string {
	th := m.sh.theme
	s := m.sh.snap
	target := m.words.targetPrefix + strings.TrimPrefix(redact.URL(s.Target), "http://")
	state := s.State.String()
	stateStyle := th.OK
	switch s.State {
	case session.StateRefreshing:
		stateStyle = th.Refresh
	case session.StateLoginRequired, session.StateLoggedOut:
		stateStyle = th.Bad
	}
	// Active means the session can refresh; with the strategy off (or between requests in
	// reactive mode) the token in hand may be dead all the same.
	if s.State == session.StateActive && s.Access.Phase(s.ServerNow(m.sh.now), s.Threshold) == session.PhaseExpired {
		state, stateStyle = "access expired", th.Warn
	}
	// Padded to the longest state, so that nothing after it moves as the state changes.
	state = fmt.Sprintf("%-14s", state)
	skew := "skew ?"
	if s.Skew.Known {
		skew = fmt.Sprintf("skew %+.1fs", s.Skew.Applied().Seconds())
		// Where it comes from: the Date header is the server's clock; a token's iat only
		// stands in for it when the server sends no Date.
		switch s.Skew.Source {
		case session.SkewFromDate:
			skew += " (Date)"
		case session.SkewFromIat:
			skew += " (iat)"
		}
	}
	fields := append([]string{th.Title.Render("tokenscope") + " " + stateStyle.Render("● "+state)}, m.drv.modeFields(th, s)...)
	fields = append(fields, th.Label.Render(skew), th.Value.Render(s.Profile), th.Value.Render(sanitize.Line(target)))
	if m.opts.Insecure {
		// Second place, so that no terminal is too narrow to show it.
		fields = append([]string{fields[0], th.Banner.Render(" INSECURE TLS: certificates not verified ")}, fields[1:]...)
	}
	return ansi.Truncate(strings.Join(fields, th.Subtle.Render(" · ")), m.width, "…")
}

// tabsView names the panels, the focused one marked, and the focused panel's status.
func (m *Model) tabsView() string {
	th := m.sh.theme
	var tabs []string
	for i, p := range m.panels {
		n := p.title()
		if pane(i) == m.focus {
			tabs = append(tabs, th.Selected.Render("["+n+"]"))
		} else {
			tabs = append(tabs, th.Muted.Render(" "+n+" "))
		}
	}
	line := strings.Join(tabs, " ") + "  "
	if n := m.flights.out(); n > 0 {
		// Here, not in the header: a narrow terminal cuts the header's end, never this.
		line += th.Wait.Render(fmt.Sprintf("%s %d in flight", spinnerFrame(m.sh.now), n)) + "  "
	}
	if b := m.beatStatus(); b != "" {
		line += th.Refresh.Render(b) + "  "
	}
	line += th.Muted.Render(m.panels[m.focus].status())
	return ansi.Truncate(line, m.width, "…")
}
