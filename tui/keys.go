package tui

import "github.com/charmbracelet/bubbles/key"

// KeyMap is every key the TUI answers to. The help bar and the ? overlay are drawn from it, so
// a key cannot exist without being documented.
type KeyMap struct {
	Send, Burst, BurstMore, BurstLess          key.Binding
	Refresh, Strategy, SingleFlight, Login     key.Binding
	Reveal, CopyCurl, CopyToken, Theme         key.Binding
	Filter, ClearLog, Tab, BackTab, Help, Quit key.Binding
	Edit, New, Claims, Export                  key.Binding
	Up, Down, PageUp, PageDown, Top, Bottom    key.Binding
	ExpireAccess, RevokeFamily, FailRefresh    key.Binding
	Latency, Skew                              key.Binding
}

// DefaultKeyMap is the key map users and docs rely on.
func DefaultKeyMap() KeyMap {
	b := func(desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(keys[0], desc))
	}
	return KeyMap{
		Send:         b("send", "enter"),
		Burst:        b("burst", "b"),
		BurstMore:    b("burst size +", "+", "="),
		BurstLess:    b("burst size -", "-"),
		Refresh:      b("refresh now", "r"),
		Strategy:     b("strategy", "s"),
		SingleFlight: b("single flight", "f"),
		Login:        b("log in again", "l"),
		Reveal:       b("reveal/mask", "v"),
		CopyCurl:     b("copy curl", "y"),
		CopyToken:    b("copy token", "Y"),
		Theme:        b("theme", "t"),
		Filter:       b("filter log", "/"),
		ClearLog:     b("clear log", "ctrl+l"),
		Tab:          b("next panel", "tab"),
		BackTab:      b("prev panel", "shift+tab"),
		Help:         b("help", "?"),
		Quit:         b("quit", "q", "ctrl+c"),
		Edit:         b("edit request", "e"),
		New:          b("new request", "n"),
		Claims:       b("claims", "c"),
		Export:       b("export log (JSONL)", "w"),
		Up:           b("scroll / select up", "up", "k"),
		Down:         b("scroll / select down", "down", "j"),
		PageUp:       b("page up", "pgup"),
		PageDown:     b("page down", "pgdown"),
		Top:          b("top", "home", "g"),
		Bottom:       b("bottom, follow", "end", "G"),
		ExpireAccess: b("demo: expire access", "E"),
		RevokeFamily: b("demo: revoke family", "X"),
		FailRefresh:  b("demo: fail next refresh", "F"),
		Latency:      b("demo: refresh latency", "L"),
		Skew:         b("demo: clock skew", "K"),
	}
}

// ShortHelp is the help bar, without ? and q: the bar adds those at its end, where a narrow
// terminal never cuts them off.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Send, k.Burst, k.Refresh, k.Strategy, k.Reveal, k.Tab}
}

// FullHelp is the ? overlay, in columns.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Send, k.Burst, k.BurstMore, k.BurstLess, k.Edit, k.New, k.CopyCurl, k.CopyToken},
		{k.Refresh, k.Strategy, k.SingleFlight, k.Login, k.Reveal, k.Claims, k.Theme},
		{k.Filter, k.ClearLog, k.Export, k.Tab, k.BackTab, k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom},
		{k.ExpireAccess, k.RevokeFamily, k.FailRefresh, k.Latency, k.Skew, k.Help, k.Quit},
	}
}
