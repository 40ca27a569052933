package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/lipgloss"

	"tokenscope/internal/sanitize"
	"tokenscope/session"
)

// loginDialog is the box that says the session ended and how to get it back. It sits at the
// bottom of the main area, under the newest lines of the open panel, so the events that ended
// the session stay in view.
type loginDialog struct {
	sh        *shared
	words     dialogWords
	dismissed bool
	width     int
	height    int // the main area's rows: the box must fit them, keys and border included
	box, wrap lipgloss.Style
}

// dialogWords are what the box says: they differ with who can log the session in again.
type dialogWords struct {
	title       string
	key, action string             // the key that logs in again ("" when nothing here can) and what it does
	parked      func(n int) string // what becomes of the parked requests; "" says nothing
}

func newLoginDialog(sh *shared, words dialogWords) *loginDialog {
	return &loginDialog{sh: sh, words: words}
}

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
	w := d.words
	keys := th.HelpDesc.Render(w.action) + th.Key.Render("esc") + th.HelpDesc.Render(" dismiss")
	if w.key != "" {
		keys = th.Key.Render(w.key) + keys
	}
	body := append([]string{th.Bad.Render(w.title), th.Value.Render(d.wrap.Render(sanitize.Line(s.Reason)))},
		append(d.parkedLine(func(t string) string { return d.wrap.Render(t) }), keys)...)
	box := d.box.Render(strings.Join(body, "\n"))
	if d.height > 0 && lipgloss.Height(box) > d.height {
		// A short terminal: one line each, and the keys and the border stay whatever is cut.
		cut := func(t string) string { return truncate(t, max(d.box.GetWidth()-4, 8)) }
		body = append([]string{th.Bad.Render(cut(w.title)), keys, th.Value.Render(cut(sanitize.Line(s.Reason)))}, d.parkedLine(cut)...)
		for len(body) > 1 && len(body)+2 > d.height {
			body = body[:len(body)-1]
		}
		box = d.box.Render(strings.Join(body, "\n"))
	}
	return lipgloss.PlaceHorizontal(d.width, lipgloss.Center, box)
}

// parkedLine is the line on the parked requests, fitted by fit; none when the words have none.
func (d *loginDialog) parkedLine(fit func(string) string) []string {
	t := d.words.parked(d.sh.snap.Parked)
	if t == "" {
		return nil
	}
	return []string{d.sh.theme.Value.Render(fit(t))}
}

// parkedText says what happens to the parked requests; with none, that nothing is waiting.
func parkedText(n int) string {
	if n == 0 {
		return "No request is waiting: log in again to go on."
	}
	return fmt.Sprintf("%s will be replayed in order after you log in again.", plural(n, "parked request", "parked requests"))
}
