package tui

import (
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
)

// KeyMap holds the keys that work whichever panel has the focus. Each panel has a key map of
// its own for the rest (navigation, mostly); the help bar and the ? overlay are drawn from the
// global map plus the focused panel's, so a key cannot exist without being documented.
type KeyMap struct {
	Send, Burst, BurstMore, BurstLess          key.Binding
	Refresh, Strategy, SingleFlight, Login     key.Binding
	Logout, Heartbeat                          key.Binding
	Reveal, CopyCurl, CopyToken, Theme         key.Binding
	Filter, ClearLog, Tab, BackTab, Help, Quit key.Binding
	Redraw                                     key.Binding
	Edit, New, Claims, Export                  key.Binding
	ExpireAccess, RevokeFamily, FailRefresh    key.Binding
	Latency, Skew                              key.Binding
}

// helpAs names a binding's keys as help shows them: every key that works, not only the first.
func helpAs(b key.Binding, keys string) key.Binding {
	b.SetHelp(keys, b.Help().Desc)
	return b
}

func bind(desc string, keys ...string) key.Binding {
	return key.NewBinding(key.WithKeys(keys...), key.WithHelp(keys[0], desc))
}

// DefaultKeyMap is the key map users and docs rely on.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Send:         bind("send", "enter"),
		Burst:        bind("burst", "b"),
		BurstMore:    bind("burst size +", "+", "="),
		BurstLess:    bind("burst size -", "-"),
		Refresh:      bind("refresh now", "r"),
		Strategy:     bind("strategy", "s"),
		SingleFlight: bind("single flight", "f"),
		Login:        bind("log in again", "l"),
		Logout:       bind("log out (revoke)", "O"),
		Heartbeat:    bind("heartbeat on/off", "a"),
		Reveal:       bind("reveal/mask", "v"),
		CopyCurl:     bind("copy curl", "y"),
		CopyToken:    bind("copy token", "Y"),
		Theme:        bind("theme", "t"),
		Filter:       bind("filter log", "/"),
		ClearLog:     bind("clear log (asks first)", "C"),
		Redraw:       bind("redraw the screen", "ctrl+l"),
		Tab:          bind("next panel", "tab"),
		BackTab:      bind("prev panel", "shift+tab"),
		Help:         bind("help", "?"),
		Quit:         bind("quit", "q", "ctrl+c"),
		Edit:         bind("edit request", "e"),
		New:          bind("new request", "n"),
		Claims:       bind("claims (again: back)", "c"),
		Export:       bind("export log (JSONL)", "w"),
		ExpireAccess: bind("demo: expire access", "E"),
		RevokeFamily: bind("demo: revoke family", "X"),
		FailRefresh:  bind("demo: fail next refresh", "F"),
		Latency:      bind("demo: refresh latency", "L"),
		Skew:         bind("demo: clock skew", "K"),
	}
}

// drivingKeys are the keys that drive the session: off unless the driver binds them
// (Driver.bind), so that a screen that only watches offers none of them. They are the keys the
// engine's driver binds, read from its table rather than listed again (its actions are not run).
func (k *KeyMap) drivingKeys() []*key.Binding {
	var out []*key.Binding
	for _, a := range (&engineDriver{}).bind(k) {
		out = append(out, a.key)
	}
	return out
}

// ShortHelp is the help bar, without ? and q: the bar adds those at its end, where a narrow
// terminal never cuts them off.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Send, k.Burst, k.Refresh, k.Strategy, k.Reveal, k.Tab}
}

// FullHelp is the global part of the ? overlay, in columns.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Send, k.Heartbeat, k.Burst, k.BurstMore, k.BurstLess, k.Edit, k.New, k.CopyCurl, k.CopyToken},
		{k.Refresh, k.Strategy, k.SingleFlight, k.Login, k.Logout, k.Reveal, k.Claims, k.Theme},
		{k.Filter, k.ClearLog, k.Export, k.Redraw, k.Tab, k.BackTab, k.Help, k.Quit},
		{k.ExpireAccess, k.RevokeFamily, k.FailRefresh, k.Latency, k.Skew},
	}
}

// scrollKeys move a scrolling pane. Each panel names them for what they do there.
type scrollKeys struct {
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
}

func newScrollKeys(up, down, top, bottom string) scrollKeys {
	return scrollKeys{
		Up:       helpAs(bind(up, "up", "k"), "↑ k"),
		Down:     helpAs(bind(down, "down", "j"), "↓ j"),
		PageUp:   bind("page up", "pgup"),
		PageDown: bind("page down", "pgdown"),
		Top:      helpAs(bind(top, "home", "g"), "g home"),
		Bottom:   helpAs(bind(bottom, "end", "G"), "G end"),
	}
}

// scroll moves a viewport by the keys; with lines false, up and down are left to the caller.
// handled is false when msg is none of them.
func (k scrollKeys) scroll(vp *viewport.Model, msg tea.KeyMsg, lines bool) (handled bool) {
	switch {
	case lines && key.Matches(msg, k.Up):
		vp.ScrollUp(1)
	case lines && key.Matches(msg, k.Down):
		vp.ScrollDown(1)
	case key.Matches(msg, k.PageUp):
		vp.PageUp()
	case key.Matches(msg, k.PageDown):
		vp.PageDown()
	case key.Matches(msg, k.Top):
		vp.GotoTop()
	case key.Matches(msg, k.Bottom):
		vp.GotoBottom()
	default:
		return false
	}
	return true
}

func (k scrollKeys) all() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom}
}

// Keys of the composer and the filter input, for the bar (the inputs handle them).
var (
	composerSave   = key.NewBinding(key.WithKeys("ctrl+s"), key.WithHelp("ctrl+s", "save"))
	composerCancel = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel"))
	filterApply    = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "apply"))
	filterClear    = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear"))
)
