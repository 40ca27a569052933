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
	target := strings.TrimPrefix(redact.URL(s.Target), "http://")
	if m.sh.demo {
		target = "demo " + target
	}
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
	sf := th.Value.Render("single flight")
	if !s.SingleFlight {
		sf = th.Warn.Render("NO single flight")
	}
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
	fields := []string{
		th.Title.Render("tokenscope") + " " + stateStyle.Render("● "+state),
		th.Label.Render("strategy ") + th.Value.Render(string(s.Strategy)),
		sf,
		th.Label.Render(skew),
		th.Value.Render(s.Profile),
		th.Value.Render(sanitize.Line(target)),
	}
	if m.engine == nil {
		// Watching the user's app: its strategy and single flight are what the findings judge.
		fields = append([]string{fields[0], th.Refresh.Render("observing your app")}, fields[3:]...)
	}
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
	for i, n := range paneNames {
		if pane(i) == paneRequests && m.engine == nil {
			n = "findings"
		}
		if pane(i) == m.focus {
			tabs = append(tabs, th.Selected.Render("["+n+"]"))
		} else {
			tabs = append(tabs, th.Muted.Render(" "+n+" "))
		}
	}
	line := strings.Join(tabs, " ") + "  "
	if m.inflight > 0 {
		// Here, not in the header: a narrow terminal cuts the header's end, never this.
		line += th.Wait.Render(fmt.Sprintf("%s %d in flight", spinnerFrame(m.sh.now), m.inflight)) + "  "
	}
	if b := m.beatStatus(); b != "" {
		line += th.Refresh.Render(b) + "  "
	}
	line += th.Muted.Render(m.panels[m.focus].status())
	return ansi.Truncate(line, m.width, "…")
}
