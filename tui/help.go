package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"tokenscope/internal/sanitize"
)

// helpOverlay is the ? screen: the global keys and the focused panel's, in as many columns as
// the terminal is wide enough for (the designed groups when they fit), so no key is cut off;
// then what the fault keys and the strategies do. What the height does not hold scrolls.
type helpOverlay struct {
	sh            *shared
	faultNote     string      // what the fault keys do here, or need
	strategy      key.Binding // s: the strategies part shows when it is offered
	help          help.Model
	close         key.Binding
	scroll        scrollKeys
	top           int // the first line shown when the overlay does not fit the height
	width, height int
}

func newHelpOverlay(sh *shared, keys KeyMap, faultNote string) *helpOverlay {
	h := &helpOverlay{sh: sh, faultNote: faultNote, strategy: keys.Strategy, help: help.New(),
		close:  key.NewBinding(key.WithKeys(append(keys.Help.Keys(), append(keys.Quit.Keys(), "esc")...)...), key.WithHelp("? esc", "close")),
		scroll: newScrollKeys("scroll up", "scroll down", "top", "bottom")}
	h.setTheme()
	return h
}

func (h *helpOverlay) ShortHelp() []key.Binding { return []key.Binding{h.close} }

func (h *helpOverlay) FullHelp() [][]key.Binding { return [][]key.Binding{h.ShortHelp()} }

func (h *helpOverlay) SetSize(width, height int) { h.width, h.height = width, height }

// setTheme styles the help bubble from the theme's roles.
func (h *helpOverlay) setTheme() {
	th := h.sh.theme
	h.help.Styles.ShortKey = th.Key
	h.help.Styles.FullKey = th.Key
	h.help.Styles.ShortDesc = th.HelpDesc
	h.help.Styles.FullDesc = th.HelpDesc
	h.help.Styles.ShortSeparator = th.Subtle
	h.help.Styles.FullSeparator = th.Subtle
	h.help.Styles.Ellipsis = th.Subtle
}

// update closes the overlay (done) or scrolls it; every other key is swallowed. groups are
// the keys the overlay lists, as view draws them: scrolling is bounded by what is drawn.
func (h *helpOverlay) update(msg tea.KeyMsg, groups [][]key.Binding) (done bool) {
	if key.Matches(msg, h.close) {
		return true
	}
	room := h.room()
	maxTop := max(len(h.content(groups))-room, 0)
	k := h.scroll
	switch {
	case key.Matches(msg, k.Up):
		h.top--
	case key.Matches(msg, k.Down):
		h.top++
	case key.Matches(msg, k.PageUp):
		h.top -= room
	case key.Matches(msg, k.PageDown):
		h.top += room
	case key.Matches(msg, k.Top):
		h.top = 0
	case key.Matches(msg, k.Bottom):
		h.top = maxTop
	}
	h.top = min(max(h.top, 0), maxTop)
	return false
}

// open shows the overlay from its top.
func (h *helpOverlay) open() { h.top = 0 }

// room is how many lines of content show at once when they do not all fit: the last line
// says how to scroll.
func (h *helpOverlay) room() int { return max(h.height-1, 1) }

// view draws the overlay for these key groups: all of it when it fits, else the lines from
// the scrolled-to one and a line that says where the view is and how to move it.
func (h *helpOverlay) view(groups [][]key.Binding) string {
	lines := h.content(groups)
	if len(lines) <= h.height {
		return strings.Join(lines, "\n")
	}
	room := h.room()
	top := min(h.top, len(lines)-room)
	more := fmt.Sprintf("lines %d-%d of %d · j k ↑ ↓ pgup pgdn g G scroll · ? esc closes", top+1, top+room, len(lines))
	return strings.Join(append(lines[top:top+room:top+room], h.sh.theme.Muted.Render(truncate(more, h.width))), "\n")
}

// content is every line of the overlay: the title, the keys in as many columns as the width
// holds (flowing like text when columns would not fit the height), the fault keys' note and
// the strategies. The keys come first, so that they show without scrolling wherever they can.
func (h *helpOverlay) content(groups [][]key.Binding) []string {
	th := h.sh.theme
	head := truncate(th.Title.Render("tokenscope keys")+th.Muted.Render("   (? or esc closes)"), h.width)
	body := h.help.FullHelpView(groups)
	for n := len(groups) - 1; n >= 1 && lipgloss.Width(body) > h.width; n-- {
		body = h.help.FullHelpView(reflowKeys(groups, n))
	}
	// Below the keys there is more to scroll to, so the keys get the rows but one.
	parts := []string{head, "", body}
	if lipgloss.Height(body)+3 > h.height {
		// The smallest terminals: the keys matter more than the title, and flow like text
		// when columns would run off the bottom.
		if flow := h.flow(groups); lipgloss.Height(flow) < lipgloss.Height(body) {
			body = flow
		}
		parts = []string{head, "", body}
		if lipgloss.Height(body)+3 > h.height {
			parts = []string{body} // the scroll line says how to close it
		}
	}
	if h.faultNote != "" {
		parts = append(parts, "", th.Muted.Render(truncate(h.faultNote, h.width)))
	}
	if h.strategy.Enabled() {
		parts = append(parts, "", h.strategies())
	}
	return strings.Split(lipgloss.JoinVertical(lipgloss.Left, parts...), "\n")
}

// strategyHelp says in one line each what the strategies (s cycles them) do.
var strategyHelp = [][2]string{
	{"auto", "refresh before a request when exp is near, and after a 401 (the default)"},
	{"proactive", "refresh before a request when exp is within the threshold; a 401 is not retried"},
	{"reactive", "send with the token in hand; refresh and retry once after a 401"},
	{"background", "a timer refreshes ahead of exp even when nothing is sent; 401s still retried"},
	{"off", "never refresh: watch the token expire and the 401s come"},
}

// strategies is the overlay's part on what s cycles through, the current one marked.
func (h *helpOverlay) strategies() string {
	th := h.sh.theme
	lines := []string{th.Header.Render("strategies (s)")}
	for _, st := range strategyHelp {
		mark := "  "
		if string(h.sh.snap.Strategy) == st[0] {
			mark = "▸ "
		}
		lines = append(lines, truncate(mark+th.Key.Render(fmt.Sprintf("%-11s", st[0]))+th.HelpDesc.Render(st[1]), h.width))
	}
	return strings.Join(lines, "\n")
}

// flow lays the keys out like words in a paragraph, never breaking a key from what it does.
func (h *helpOverlay) flow(groups [][]key.Binding) string {
	th := h.sh.theme
	var lines []string
	line, w := "", 0
	for _, g := range groups {
		for _, b := range g {
			if !b.Enabled() {
				continue
			}
			item := th.Key.Render(b.Help().Key) + " " + th.HelpDesc.Render(b.Help().Desc)
			iw := lipgloss.Width(item)
			if w > 0 && w+2+iw > h.width {
				lines, line, w = append(lines, line), "", 0
			}
			if w > 0 {
				line, w = line+"  ", w+2
			}
			line, w = line+item, w+iw
		}
	}
	return strings.Join(append(lines, line), "\n")
}

// bar is the bottom line: the last status message or the keys that matter now, then the
// tail ("? help • q quit", or the input's own keys), which a narrow terminal never cuts off.
// Status messages live here rather than in a row of their own, so that the screen does not
// jump as they come and go.
func (h *helpOverlay) bar(flash string, keys, tail []key.Binding) string {
	hm := h.help // a copy: drawing sets no state
	hm.Width = 0
	end := hm.ShortHelpView(tail)
	sep := hm.Styles.ShortSeparator.Render(hm.ShortSeparator)
	room := max(h.width-lipgloss.Width(end)-lipgloss.Width(sep), 1)
	if flash != "" {
		f := sanitize.Line(flash)
		if lipgloss.Width(f) > room {
			// A message says more than "? help": it takes the whole line while it shows.
			return h.sh.theme.Info.Render(truncate(f, h.width))
		}
		return h.sh.theme.Info.Render(f) + sep + end
	}
	if len(keys) == 0 {
		return end
	}
	hm.Width = room
	return hm.ShortHelpView(keys) + sep + end
}

// reflowKeys lays the bindings of groups out in n columns, keeping their order.
func reflowKeys(groups [][]key.Binding, n int) [][]key.Binding {
	var all []key.Binding
	for _, g := range groups {
		for _, b := range g {
			if b.Enabled() {
				all = append(all, b)
			}
		}
	}
	per := (len(all) + n - 1) / n
	cols := make([][]key.Binding, 0, n)
	for len(all) > 0 {
		k := min(per, len(all))
		cols = append(cols, all[:k])
		all = all[k:]
	}
	return cols
}
