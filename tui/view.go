package tui

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aymanbagabas/go-osc52/v2"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/lipgloss"

	"tokenscope/session"
)

func osc52Copy(s string) error {
	_, err := osc52.New(s).WriteTo(stdoutWriter())
	return err
}

func stdoutWriter() io.Writer { return os.Stdout }

// View draws the screen. It does no I/O, sets no state and builds no styles.
func (m *Model) View() string {
	if m.quitting {
		return ""
	}
	if m.width == 0 {
		return "starting tokenscope…"
	}
	if m.width < minWidth || m.height < minHeight {
		msg := fmt.Sprintf("tokenscope needs a terminal of at least %d×%d\n(this one is %d×%d)\n\nq quits", minWidth, minHeight, m.width, m.height)
		return lipgloss.Place(m.width, m.height, lipgloss.Center, lipgloss.Center, msg)
	}
	if m.mode == modeHelp {
		return m.help.view(m.helpGroups())
	}
	if m.prompt.active && m.mode == modeNormal {
		// Logging in at a provider: the prompt takes the screen under the header, so that the
		// URL, the code and its countdown fit even at 80×24 (there are no tokens to show yet).
		return strings.Join([]string{m.headerView(), padLines(strings.Split(m.prompt.fit(m.height-2), "\n"), m.height-2), m.helpBar()}, "\n")
	}
	return strings.Join([]string{m.headerView(), m.tokensView(), m.timelineView(), m.tabsView(), m.mainView(), m.helpBar()}, "\n")
}

// mainView is the focused panel, the composer over it while composing, and the login dialog
// under the panel's newest lines when the session has ended.
func (m *Model) mainView() string {
	h := m.mainHeight()
	switch {
	case m.mode == modeCompose:
		return m.composer.View()
	case m.mode == modeDetail:
		return padLines(strings.Split(m.detail.View(), "\n"), h)
	case m.prompt.active:
		return padLines(strings.Split(m.prompt.View(), "\n"), h)
	case m.dialog.visible():
		box := m.dialog.View()
		if h-m.dialogRows < 1 {
			return padLines(strings.Split(box, "\n"), h)
		}
		return m.panels[m.focus].View() + "\n" + box
	}
	return m.panels[m.focus].View()
}

// helpGroups are the overlay's columns: the global keys, then the focused panel's.
func (m *Model) helpGroups() [][]key.Binding {
	return append(m.keys.FullHelp(), m.panels[m.focus].FullHelp()...)
}

// helpBar is the bottom line: a status message, or the keys that matter now.
func (m *Model) helpBar() string {
	switch m.mode {
	case modeCompose:
		return m.help.bar(m.flash, nil, m.composer.ShortHelp())
	case modeFilter:
		return m.help.bar(m.flash, nil, []key.Binding{filterApply, filterClear})
	case modeDetail:
		return m.help.bar(m.flash, m.detail.ShortHelp(), []key.Binding{m.keys.Quit})
	}
	if m.prompt.active {
		return m.help.bar(m.flash, m.prompt.ShortHelp(), []key.Binding{m.keys.Help, m.keys.Quit})
	}
	keys := m.keys.ShortHelp()
	if m.sh.snap.State == session.StateLoginRequired {
		keys = append([]key.Binding{m.keys.Login}, keys...)
	}
	keys = append(keys, m.panels[m.focus].ShortHelp()...)
	return m.help.bar(m.flash, keys, []key.Binding{m.keys.Help, m.keys.Quit})
}

// padLines joins lines into exactly h rows: blank rows below, or the first h of them.
func padLines(lines []string, h int) string {
	for len(lines) < h {
		lines = append(lines, "")
	}
	return strings.Join(lines[:h], "\n")
}
