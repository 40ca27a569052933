package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textarea"
	tea "github.com/charmbracelet/bubbletea"

	"tokenscope/apiclient/httpfile"
	"tokenscope/apiclient/profile"
)

// composer edits a request as text in the .http shape: "METHOD /path", header lines, a blank
// line, the body.
type composer struct {
	sh     *shared
	editor textarea.Model
	index  int // the request being edited; -1 composes a new one
	width  int
	height int
}

// composed is what the composer hands back when the user saves.
type composed struct {
	index int
	req   profile.Request
	note  string // what reading a pasted curl command left out
}

func newComposer(sh *shared) *composer {
	ed := textarea.New()
	ed.ShowLineNumbers = false
	ed.Placeholder = "POST /api/items   (the request line; then headers, a blank line and the body; or paste a curl command)"
	return &composer{sh: sh, editor: ed, index: -1}
}

func (c *composer) ShortHelp() []key.Binding { return []key.Binding{composerSave, composerCancel} }

func (c *composer) FullHelp() [][]key.Binding { return [][]key.Binding{c.ShortHelp()} }

func (c *composer) SetSize(width, height int) {
	c.width, c.height = width, height
	c.editor.SetWidth(max(width-6, 10))
	c.editor.SetHeight(max(height-2, 3)) // the title line above, one spare
}

// open starts editing request i (a new request when i < 0 or there is none).
func (c *composer) open(i int, r profile.Request, ok bool) tea.Cmd {
	c.index = -1
	// A new request starts empty, the cursor on the request line: typing "POST /api/items"
	// there is the request line, not a header under a pre-filled one.
	c.editor.SetValue("")
	if ok && i >= 0 {
		c.index = i
		c.editor.SetValue(httpfile.Format(r))
		for c.editor.Line() > 0 {
			c.editor.CursorUp()
		}
		c.editor.CursorStart()
	}
	return c.editor.Focus()
}

// update takes a key while the composer has the keyboard. done is true when the composer
// closed; saved holds the request when it closed by saving.
func (c *composer) update(msg tea.Msg) (cmd tea.Cmd, done bool, saved *composed) {
	if k, ok := msg.(tea.KeyMsg); ok {
		switch {
		case key.Matches(k, composerCancel):
			c.editor.Blur()
			return nil, true, nil
		case key.Matches(k, composerSave):
			saved, err := c.parse()
			if err != nil {
				return flash("request not saved: " + err.Error()), false, nil
			}
			c.editor.Blur()
			return nil, true, saved
		}
	}
	c.editor, cmd = c.editor.Update(msg)
	return cmd, false, nil
}

// parse reads the editor: a request in the .http shape, or a pasted curl command ("Copy as
// cURL" from the browser's devtools), whose host is left for the target and whose own
// credentials for the session's.
func (c *composer) parse() (*composed, error) {
	text := c.editor.Value()
	if !httpfile.IsCurl(text) {
		req, err := httpfile.ParseRequest(text)
		return &composed{index: c.index, req: req}, err
	}
	cr, err := httpfile.ParseCurl(text)
	if err != nil {
		return nil, fmt.Errorf("curl command: %w", err)
	}
	var notes []string
	if cr.Host != "" && !strings.HasPrefix(c.sh.snap.Target, cr.Host) {
		notes = append(notes, "sent to the target, not "+cr.Host)
	}
	if len(cr.Dropped) > 0 {
		notes = append(notes, "left out: "+strings.Join(cr.Dropped, ", "))
	}
	note := ""
	if len(notes) > 0 {
		note = " (from curl: " + strings.Join(notes, "; ") + ")"
	}
	return &composed{index: c.index, req: cr.Request, note: note}, nil
}

func (c *composer) View() string {
	th := c.sh.theme
	what := "New request"
	if c.index >= 0 {
		what = "Edit request"
	}
	title := th.Header.Render(what) + th.Muted.Render("  METHOD /path, header lines, a blank line, the body")
	return padLines(append([]string{truncate(title, c.width)}, strings.Split(c.editor.View(), "\n")...), c.height)
}
