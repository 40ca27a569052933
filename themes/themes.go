// Package themes holds tokenscope's palettes: semantic colour roles (not raw colours) and the
// lipgloss styles built once from them, so that the TUI never builds a style while drawing.
package themes

import (
	"os"

	"github.com/charmbracelet/lipgloss"

	"tokenscope/session"
)

// Palette names colours by what they mean on screen.
type Palette struct {
	Name string

	Text, Muted, Subtle  lipgloss.TerminalColor
	Accent               lipgloss.TerminalColor
	Focus                lipgloss.TerminalColor
	OK, Warn, Bad, Info  lipgloss.TerminalColor
	Refresh, Wait, Retry lipgloss.TerminalColor
}

// Theme is a palette with its styles, built once.
type Theme struct {
	Palette
	Mono bool // no colour at all: roles are told apart by text and attributes

	Title, Header, Label, Value, Muted, Subtle lipgloss.Style
	FocusedPanel                               lipgloss.Style
	OK, Warn, Bad, Info, Refresh, Wait, Retry  lipgloss.Style
	Selected, Key, HelpDesc, Banner            lipgloss.Style
}

func build(p Palette, mono bool) Theme {
	fg := func(c lipgloss.TerminalColor) lipgloss.Style {
		if mono {
			return lipgloss.NewStyle()
		}
		return lipgloss.NewStyle().Foreground(c)
	}
	border := lipgloss.RoundedBorder()
	t := Theme{Palette: p, Mono: mono}
	t.Title = fg(p.Accent).Bold(true)
	t.Header = fg(p.Text).Bold(true)
	t.Label = fg(p.Muted)
	t.Value = fg(p.Text)
	t.Muted = fg(p.Muted)
	t.Subtle = fg(p.Subtle)
	t.FocusedPanel = lipgloss.NewStyle().Border(border).Padding(0, 1)
	if !mono {
		t.FocusedPanel = t.FocusedPanel.BorderForeground(p.Focus)
	} else {
		t.FocusedPanel = t.FocusedPanel.Border(lipgloss.DoubleBorder())
	}
	t.OK = fg(p.OK)
	t.Warn = fg(p.Warn).Bold(true)
	t.Bad = fg(p.Bad).Bold(true)
	t.Info = fg(p.Info)
	t.Refresh = fg(p.Refresh).Bold(true)
	t.Wait = fg(p.Wait)
	t.Retry = fg(p.Retry)
	t.Selected = fg(p.Focus).Bold(true)
	if mono {
		t.Selected = t.Selected.Reverse(true)
	}
	t.Key = fg(p.Accent).Bold(true)
	t.HelpDesc = fg(p.Muted)
	t.Banner = fg(p.Bad).Bold(true).Reverse(true)
	return t
}

var palettes = []Palette{
	{
		Name: "dark", Text: lipgloss.Color("252"), Muted: lipgloss.Color("247"), Subtle: lipgloss.Color("244"),
		Accent: lipgloss.Color("86"), Focus: lipgloss.Color("212"),
		OK: lipgloss.Color("78"), Warn: lipgloss.Color("214"), Bad: lipgloss.Color("203"), Info: lipgloss.Color("117"),
		Refresh: lipgloss.Color("141"), Wait: lipgloss.Color("180"), Retry: lipgloss.Color("81"),
	},
	{
		Name: "light", Text: lipgloss.Color("235"), Muted: lipgloss.Color("240"), Subtle: lipgloss.Color("244"),
		Accent: lipgloss.Color("25"), Focus: lipgloss.Color("161"),
		OK: lipgloss.Color("28"), Warn: lipgloss.Color("130"), Bad: lipgloss.Color("160"), Info: lipgloss.Color("24"),
		Refresh: lipgloss.Color("91"), Wait: lipgloss.Color("94"), Retry: lipgloss.Color("30"),
	},
	{
		Name: "high-contrast", Text: lipgloss.Color("15"), Muted: lipgloss.Color("15"), Subtle: lipgloss.Color("7"),
		Accent: lipgloss.Color("14"), Focus: lipgloss.Color("11"),
		OK: lipgloss.Color("10"), Warn: lipgloss.Color("11"), Bad: lipgloss.Color("9"), Info: lipgloss.Color("14"),
		Refresh: lipgloss.Color("13"), Wait: lipgloss.Color("11"), Retry: lipgloss.Color("14"),
	},
}

// Names lists the themes in the order the theme key cycles them.
func Names() []string { return []string{"dark", "light", "high-contrast", "mono"} }

// Get returns the named theme; ok is false for an unknown name.
func Get(name string) (Theme, bool) {
	if name == "mono" {
		return build(palettes[0], true), true
	}
	for _, p := range palettes {
		if p.Name == name {
			return build(p, false), true
		}
	}
	return Theme{}, false
}

// NoColor reports whether the user asked for no colour (https://no-color.org): any
// non-empty NO_COLOR.
func NoColor() bool { return os.Getenv("NO_COLOR") != "" }

// Default is "mono" when NO_COLOR is set, else "dark".
func Default() string {
	if NoColor() {
		return "mono"
	}
	return "dark"
}

// Next is the theme after name in Names.
func Next(name string) string {
	ns := Names()
	for i, n := range ns {
		if n == name {
			return ns[(i+1)%len(ns)]
		}
	}
	return ns[0]
}

// Event is the style of an event's line, by what it says: the same roles in the TUI's log and
// in the lines fire and request print on a terminal.
func (t Theme) Event(e session.Event) lipgloss.Style {
	switch e.Kind {
	case session.KindResponse:
		switch {
		case e.Status >= 400:
			return t.Bad
		case e.Status >= 300:
			return t.Warn
		}
		return t.OK
	case session.KindUnauthorized, session.KindParked:
		return t.Warn
	case session.KindRefreshFailed:
		if e.Transient {
			return t.Warn
		}
		return t.Bad
	case session.KindRequestFailed, session.KindLoginFailed, session.KindLogout:
		return t.Bad
	case session.KindRefreshStart, session.KindRefreshOK, session.KindLogin:
		return t.Refresh
	case session.KindRefreshWait:
		return t.Wait
	case session.KindRetry, session.KindReplayed:
		return t.Retry
	case session.KindRequest, session.KindNote:
		return t.Muted
	case session.KindSkew:
		return t.Info
	}
	return t.Value
}
