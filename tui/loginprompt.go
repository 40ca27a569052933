package tui

// The login prompt: while a login waits for the user at an identity provider, the main area
// shows where to go — the authorization URL, whole and copyable, or the device flow's code,
// large, with a countdown to its expiry.

import (
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"tokenscope/apiclient/oidc"
	"tokenscope/internal/human"
	"tokenscope/internal/sanitize"
)

// Prompts carries what a login needs the user to see, from the engine's login goroutine to
// the program: hand its AuthURL and DeviceCode to oidc.Config, and the Prompts to
// Options. A prompt not yet shown is replaced by a newer one, never queued behind it.
type Prompts struct{ c chan loginPromptMsg }

// NewPrompts makes the channel between an engine's login and the program.
func NewPrompts() *Prompts { return &Prompts{c: make(chan loginPromptMsg, 1)} }

// AuthURL shows the authorization URL of the auth-code flow.
func (p *Prompts) AuthURL(u string) { p.put(loginPromptMsg{url: u}) }

// DeviceCode shows the device flow's verification URI and user code.
func (p *Prompts) DeviceCode(d oidc.DeviceAuth) {
	u := d.VerificationURIComplete
	if u == "" {
		u = d.VerificationURI
	}
	p.put(loginPromptMsg{url: u, code: d.UserCode, complete: d.VerificationURIComplete != "", expires: d.Expires})
}

func (p *Prompts) put(m loginPromptMsg) {
	for {
		select {
		case p.c <- m:
			return
		default:
			select { // drop the stale prompt the program has not taken yet
			case <-p.c:
			default:
			}
		}
	}
}

// loginPromptMsg is one prompt: a URL to open, and for the device flow the code to enter.
type loginPromptMsg struct {
	url      string
	code     string // the device flow's user code; empty for auth-code
	complete bool   // url already carries the code (verification_uri_complete)
	expires  time.Time
}

func (m *Model) waitPrompt() tea.Cmd {
	if m.opts.Prompts == nil {
		return nil
	}
	c := m.opts.Prompts.c
	return func() tea.Msg { return <-c }
}

// loginPrompt shows the current prompt while the login runs.
type loginPrompt struct {
	sh      *shared
	p       loginPromptMsg
	active  bool
	width   int
	keys    promptKeys
	box     lipgloss.Style
	wrapW   int
	opened  bool // the browser was opened for this prompt (by cmd, or by the open key)
	openErr string
	compact int // 1: no blank lines; 2: the code on one line too (see fit)
}

type promptKeys struct{ Copy, Open, Cancel key.Binding }

func newLoginPrompt(sh *shared) *loginPrompt {
	return &loginPrompt{sh: sh, keys: promptKeys{
		Copy:   key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "copy URL")),
		Open:   key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "open in browser")),
		Cancel: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel login")),
	}}
}

func (lp *loginPrompt) ShortHelp() []key.Binding {
	return []key.Binding{lp.keys.Copy, lp.keys.Open, lp.keys.Cancel}
}

func (lp *loginPrompt) SetSize(width, _ int) {
	lp.width = width
	boxW := min(dialogMaxWidth+20, width-2)
	lp.box = lp.sh.theme.FocusedPanel.Width(boxW)
	lp.wrapW = max(boxW-4, 10)
}

func (lp *loginPrompt) show(p loginPromptMsg) { lp.p, lp.active, lp.openErr = p, true, "" }

func (lp *loginPrompt) hide() { lp.active = false }

// fit is the prompt in at most rows lines: without its blank lines, then with the code on one
// line, when the whole of it does not fit.
func (lp *loginPrompt) fit(rows int) string {
	for _, compact := range []int{0, 1, 2} {
		lp.compact = compact
		if v := lp.View(); lipgloss.Height(v) <= rows || compact == 2 {
			lp.compact = 0
			return v
		}
	}
	return ""
}

func (lp *loginPrompt) View() string {
	th := lp.sh.theme
	var body []string
	if lp.p.code != "" {
		body = append(body, th.Header.Render("Log in on another device or in a browser"), "")
		what := "Open this URL and enter the code:"
		if lp.p.complete {
			what = "Open this URL and check that it shows the code:"
		}
		body = append(body, th.Value.Render(what), "")
		code := sanitize.Line(lp.p.code)
		big := bigCode(th.OK, code)
		if lipgloss.Width(big[0]) > lp.wrapW || lp.compact >= 2 {
			big = spacedCode(th.OK.Bold(true), code)
		}
		body = append(body, big...)
		body = append(body, "")
	} else {
		body = append(body, th.Header.Render("Log in at the identity provider"), "")
		how := "Log in in the browser, or open this URL:"
		if !lp.opened {
			how = "Open this URL in a browser to log in:"
		}
		body = append(body, th.Value.Render(how), "")
	}
	// The whole URL, hard-wrapped: a URL cut short is no use, and copying it (y) is exact.
	// Each piece is an OSC 8 hyperlink to the whole URL, one link by its id, so a terminal
	// that supports them opens it on a click although the box's border breaks the text.
	u := sanitize.Line(lp.p.url) // no control character can end the escape early
	for _, l := range strings.Split(ansi.Hardwrap(u, lp.wrapW, false), "\n") {
		body = append(body, ansi.SetHyperlink(u, "id=tokenscope-login")+th.Key.Render(l)+ansi.ResetHyperlink())
	}
	body = append(body, "")
	if !lp.p.expires.IsZero() {
		left := lp.p.expires.Sub(lp.sh.now)
		style := th.Label
		if left < time.Minute {
			style = th.Warn
		}
		body = append(body, style.Render("The code expires in "+human.Approx(max(left, 0).Round(time.Second))+"."))
	}
	if lp.openErr != "" {
		body = append(body, th.Warn.Render(lp.wrap("could not open a browser: "+lp.openErr)))
	}
	body = append(body, th.Muted.Render("tokenscope waits for the provider's answer…"))
	body = append(body, th.Key.Render("y")+th.HelpDesc.Render(" copy URL   ")+th.Key.Render("o")+th.HelpDesc.Render(" open in browser   ")+
		th.Key.Render("esc")+th.HelpDesc.Render(" cancel"))
	if lp.compact > 0 {
		body = slices.DeleteFunc(body, func(l string) bool { return l == "" })
	}
	return lipgloss.PlaceHorizontal(lp.width, lipgloss.Center, lp.box.Render(strings.Join(body, "\n")))
}

func (lp *loginPrompt) wrap(s string) string {
	return ansi.Wrap(sanitize.Line(s), lp.wrapW, "")
}

// promptKey handles the prompt's keys while it shows; ok is false for other keys.
func (m *Model) promptKey(msg tea.KeyMsg) (tea.Cmd, bool) {
	lp := m.prompt
	switch {
	case key.Matches(msg, lp.keys.Copy):
		return m.copyCmd(lp.p.url, "the login URL"), true
	case key.Matches(msg, lp.keys.Open):
		if m.opts.OpenURL == nil {
			return flash("no browser to open here: copy the URL (y)"), true
		}
		if err := m.opts.OpenURL(lp.p.url); err != nil {
			lp.openErr = err.Error()
			return nil, true
		}
		lp.opened, lp.openErr = true, ""
		return flash("opened the login URL in the browser"), true
	case key.Matches(msg, lp.keys.Cancel):
		if m.cancelLogin != nil {
			m.cancelLogin()
		}
		lp.hide()
		return flash("login cancelled"), true
	}
	return nil, false
}

// bigCode draws a device code in large letters (5 rows), so it can be read from across a
// desk; characters without a glyph are drawn as themselves, spaced.
func bigCode(style lipgloss.Style, code string) []string {
	rows := make([]string, glyphRows)
	for _, r := range strings.ToUpper(code) {
		g, ok := glyphs[r]
		for i := range rows {
			cell := string(r) + "  "
			if ok {
				cell = g[i] + " "
			} else if i != glyphRows/2 {
				cell = "   "
			}
			rows[i] += cell
		}
	}
	for i := range rows {
		rows[i] = style.Render(strings.TrimRight(rows[i], " "))
	}
	return rows
}

// spacedCode is the code in one line, spaced, for a box too narrow for the large letters.
func spacedCode(style lipgloss.Style, code string) []string {
	return []string{style.Render(strings.Join(strings.Split(code, ""), " "))}
}
