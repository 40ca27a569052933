package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/lipgloss"

	"tokenscope/internal/sanitize"
	"tokenscope/session"
)

// loginDialog is the box that says the session ended and how to get it back. It sits at the
// bottom of the main area, under the newest lines of the open panel, so the events that ended
// the session stay in view.
type loginDialog struct {
	sh        *shared
	keys      KeyMap // for the log-in key, shared with the global map
	dismissed bool
	width     int
	height    int  // the main area's rows: the box must fit them, keys and border included
	observing bool // the session is the user's app's: tokenscope cannot log it in
	box, wrap lipgloss.Style
}

func newLoginDialog(sh *shared, keys KeyMap) *loginDialog { return &loginDialog{sh: sh, keys: keys} }

func (d *loginDialog) ShortHelp() []key.Binding { return []key.Binding{d.keys.Login, dismissKey} }

func (d *loginDialog) FullHelp() [][]key.Binding { return [][]key.Binding{d.ShortHelp()} }

// SetSize builds the width-bound styles: a fixed width, so the box does not jump as the
// parked count grows.
func (d *loginDialog) SetSize(width, height int) {
	d.width, d.height = width, height
	boxW := min(dialogMaxWidth, width-4)
	d.box = d.sh.theme.FocusedPanel.Width(boxW)
	d.wrap = lipgloss.NewStyle().Width(boxW - 4) // border and padding
}

// visible: the session needs a login and the user has not put the box away.
func (d *loginDialog) visible() bool {
	return d.sh.snap.State == session.StateLoginRequired && !d.dismissed
}

// sync forgets a dismissal once the session is alive again, so the next end shows the box.
func (d *loginDialog) sync() {
	if d.sh.snap.State != session.StateLoginRequired {
		d.dismissed = false
	}
}

func (d *loginDialog) View() string {
	th := d.sh.theme
	s := d.sh.snap
	keys := th.Key.Render("l") + th.HelpDesc.Render(" log in again   ") + th.Key.Render("esc") + th.HelpDesc.Render(" dismiss")
	title := "Session ended: login required"
	if d.observing {
		keys = th.HelpDesc.Render("your app must log in again   ") + th.Key.Render("esc") + th.HelpDesc.Render(" dismiss")
		title = "Your app's session ended: login required"
	}
	body := []string{
		th.Bad.Render(title),
		th.Value.Render(d.wrap.Render(sanitize.Line(s.Reason))),
		th.Value.Render(d.wrap.Render(parkedText(s.Parked))),
		keys,
	}
	if d.observing {
		body = append(body[:2], body[3]) // nothing is parked here: the app keeps its own requests
	}
	box := d.box.Render(strings.Join(body, "\n"))
	if d.height > 0 && lipgloss.Height(box) > d.height {
		// A short terminal: one line each, and the keys and the border stay whatever is cut.
		w := max(d.box.GetWidth()-4, 8)
		body = []string{th.Bad.Render(truncate(title, w)), keys,
			th.Value.Render(truncate(sanitize.Line(s.Reason), w)), th.Value.Render(truncate(parkedText(s.Parked), w))}
		for len(body) > 1 && len(body)+2 > d.height {
			body = body[:len(body)-1]
		}
		box = d.box.Render(strings.Join(body, "\n"))
	}
	return lipgloss.PlaceHorizontal(d.width, lipgloss.Center, box)
}

// parkedText says what happens to the parked requests; with none, that nothing is waiting.
func parkedText(n int) string {
	if n == 0 {
		return "No request is waiting: log in again to go on."
	}
	return fmt.Sprintf("%s will be replayed in order after you log in again.", plural(n, "parked request", "parked requests"))
}
