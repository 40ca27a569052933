package tui

import (
	"fmt"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"tokenscope/apiclient"
	"tokenscope/themes"
)

// action is what a global key does.
type action struct {
	key *key.Binding
	do  func(m *Model, msg tea.KeyMsg) tea.Cmd
}

// globalActions binds the keys that work whoever drives the session to what they do: keys as
// data, one line each. The driver binds its own (Driver.bind).
func (m *Model) globalActions() []action {
	k := &m.keys
	return []action{
		{&k.Quit, func(m *Model, _ tea.KeyMsg) tea.Cmd { m.quitting = true; return tea.Quit }},
		{&k.Help, func(m *Model, _ tea.KeyMsg) tea.Cmd { m.mode = modeHelp; m.help.open(); return nil }},
		{&k.Reveal, (*Model).toggleReveal},
		{&k.CopyToken, (*Model).copyToken},
		{&k.Theme, (*Model).nextTheme},
		{&k.Filter, (*Model).startFilter},
		{&k.ClearLog, (*Model).clearLog},
		{&k.Redraw, func(*Model, tea.KeyMsg) tea.Cmd { return tea.ClearScreen }},
		{&k.Tab, func(m *Model, _ tea.KeyMsg) tea.Cmd { m.focus = (m.focus + 1) % paneCount; return nil }},
		{&k.BackTab, func(m *Model, _ tea.KeyMsg) tea.Cmd { m.focus = (m.focus + paneCount - 1) % paneCount; return nil }},
		{&k.Claims, (*Model).toggleClaims},
		{&k.Export, func(m *Model, _ tea.KeyMsg) tea.Cmd { return m.exportCmd() }},
	}
}

// globalKey runs the global key's action; ok is false when msg is not a global key.
func (m *Model) globalKey(msg tea.KeyMsg) (tea.Cmd, bool) {
	for _, a := range m.actions {
		if key.Matches(msg, *a.key) {
			return a.do(m, msg), true
		}
	}
	return nil, false
}

// clearLog clears the log from the screen on the second C within a few seconds: the first
// says what the second will do.
func (m *Model) clearLog(tea.KeyMsg) tea.Cmd {
	if m.clearAsked.IsZero() || m.sh.now.Sub(m.clearAsked) > 4*time.Second {
		m.clearAsked = m.sh.now
		return flash(fmt.Sprintf("press C again to clear %s from the screen (w exports them first)", plural(len(m.logp.store.events), "event", "events")))
	}
	m.clearAsked = time.Time{}
	n := m.logp.store.clear()
	return flash(fmt.Sprintf("cleared %s from the screen", plural(n, "event", "events")))
}

// toggleClaims shows the claims, and c again goes back to the panel it came from.
func (m *Model) toggleClaims(tea.KeyMsg) tea.Cmd {
	if m.focus == paneClaims {
		m.focus = m.beforeClaims
		return nil
	}
	m.beforeClaims, m.focus = m.focus, paneClaims
	return nil
}

func (m *Model) send(e *apiclient.Engine) tea.Cmd {
	if _, ok := m.reqs.current(); !ok {
		return nil
	}
	return m.sendCmd(e, m.reqs.selected, false)
}

func (m *Model) burst(e *apiclient.Engine) tea.Cmd {
	r, ok := m.reqs.current()
	if !ok {
		return nil
	}
	m.setFlash(fmt.Sprintf("burst: %d × %s %s", m.reqs.burstN, r.Method, r.Path))
	return m.burstCmd(e, m.reqs.burstN)
}

func (m *Model) burstSize(msg tea.KeyMsg) tea.Cmd {
	return flash(fmt.Sprintf("burst size %d", m.reqs.stepBurst(key.Matches(msg, m.keys.BurstMore))))
}

// Settings are applied here, not in a command: they are non-blocking setters, and two quick
// presses must land in the order they were made (batched commands have no order).
func (m *Model) nextStrategy(e *apiclient.Engine) tea.Cmd {
	all := apiclient.Strategies()
	next := all[0]
	for i, x := range all {
		if x == m.sh.snap.Strategy {
			next = all[(i+1)%len(all)]
		}
	}
	e.SetStrategy(next)
	m.sync()
	m.setFlash("strategy " + string(next))
	return nil
}

func (m *Model) toggleSingleFlight(e *apiclient.Engine) tea.Cmd {
	on := !m.sh.snap.SingleFlight
	e.SetSingleFlight(on)
	m.sync()
	m.setFlash(map[bool]string{true: "single flight on", false: "single flight off: concurrent 401s each refresh"}[on])
	return nil
}

func (m *Model) login(e *apiclient.Engine) tea.Cmd {
	if m.loggingIn {
		return nil
	}
	m.dialog.dismissed = false
	m.fitDialog()
	return m.loginCmd(e)
}

func (m *Model) toggleReveal(tea.KeyMsg) tea.Cmd {
	m.sh.reveal = !m.sh.reveal
	m.claims.sync()
	m.reqs.relayout()
	return nil
}

func (m *Model) copyCurl(e *apiclient.Engine) tea.Cmd {
	r, ok := m.reqs.current()
	if !ok {
		return nil
	}
	return m.copyCmd(m.curl(e, r), "the curl command")
}

func (m *Model) copyToken(tea.KeyMsg) tea.Cmd {
	switch {
	case m.sh.snap.Access.Empty():
		return flash("no access token to copy")
	case !m.sh.reveal:
		return flash("reveal the tokens (v) before copying one")
	}
	return m.copyCmd(m.sh.snap.Access.Raw, "the access token")
}

func (m *Model) nextTheme(tea.KeyMsg) tea.Cmd {
	if themes.NoColor() {
		return flash("NO_COLOR is set: the theme stays mono")
	}
	m.sh.tname, m.sh.theme = pickTheme(themes.Next(m.sh.tname))
	m.help.setTheme()
	m.resize(m.width, m.height) // every width-bound style and laid-out line again
	return flash("theme " + m.sh.tname)
}

func (m *Model) startFilter(tea.KeyMsg) tea.Cmd {
	m.mode, m.focus = modeFilter, paneLog
	return m.logp.startFilter()
}

// compose opens the composer: e on the selected request, n (or e with none) on a new one.
func (m *Model) compose(msg tea.KeyMsg) tea.Cmd {
	m.mode = modeCompose
	r, ok := m.reqs.current()
	if !key.Matches(msg, m.keys.Edit) {
		ok = false
	}
	return m.composer.open(m.reqs.selected, r, ok)
}
