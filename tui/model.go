// Package tui is tokenscope's face: a Bubble Tea program that draws what the refresh engine
// records, or what tokenscope observe saw an app do. It never talks HTTP or parses tokens
// itself; a Driver says who moves the session (Drive: the engine, Watch: an observed app) and
// which keys work. User intent goes to the engine as method calls inside tea.Cmds, and the
// events arrive through a log subscription.
//
// The root model owns the layout, the global keys and one mode; every panel (log, requests,
// claims) and every modal part (composer, login dialog, help overlay) is a component in a file
// of its own with its keys, Update, View and SetSize.
package tui

import (
	"context"
	"fmt"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"tokenscope/apiclient"
	"tokenscope/apiclient/profile"
	"tokenscope/internal/human"
	"tokenscope/session"
	"tokenscope/themes"
)

// Options configure the program.
type Options struct {
	// Driver moves the session (required): Drive(engine, faults) has the TUI drive
	// tokenscope's engine, Watch(observed, faults) has it watch an app through observe.
	Driver    Driver
	Theme     string        // a themes name; themes.Default() when empty
	Clock     session.Clock // for countdowns; the system clock when nil
	Tick      time.Duration // countdown refresh; 100 ms when zero
	Requests  []profile.Request
	LogMax    int                // events kept on screen's store; 100k when zero
	Clipboard func(string) error // OSC 52 by default
	// NoAutoLogin skips the login at start (tests log in themselves; a resumed session has
	// its tokens already).
	NoAutoLogin bool
	// Insecure: TLS verification is off. The header says so in red for as long as it runs.
	Insecure bool
	// ExportDir is where the export key writes the log (the working directory when empty).
	ExportDir string
	// Prompts brings what a login at an identity provider needs the user to see (the URL, the
	// device code); nil without an identity provider.
	Prompts *Prompts
	// OpenURL opens a URL in the user's browser (the login prompt's open key); OpenBrowser has
	// it open the authorization URL as soon as it comes.
	OpenURL     func(string) error
	OpenBrowser bool
	// ErrorText is an error as the user reads it: cmd adds what the library leaves to it (the
	// flags that fix an untrusted certificate). err.Error() when nil.
	ErrorText func(error) string
	// Every starts the heartbeat: the selected request is sent on this period, so the
	// countdown, the proactive refresh and the 401 → refresh → retry play out unattended.
	// The a key starts and stops it (at DefaultEvery when Every is zero).
	Every time.Duration
}

// DefaultEvery is the heartbeat's period when a starts it without --every.
const DefaultEvery = time.Second

// Model is the root model.
type Model struct {
	opts    Options
	drv     Driver      // who moves the session: what the panels draw, and what the keys can do
	words   driverWords // the driver's words, asked once
	clock   session.Clock
	sub     *session.Subscription
	keys    KeyMap
	actions []action
	sh      *shared
	styles  layoutStyles

	logp     *logPanel
	reqs     *requestsPanel
	claims   *claimsPanel
	panels   [paneCount]component
	composer *composer
	dialog   *loginDialog
	prompt   *loginPrompt
	help     *helpOverlay
	detail   *detailView
	answers  *answers // the answers, each kept once

	width, height int
	mode          mode
	focus         pane
	flash         string
	flashAt       time.Time
	flights       *flights // the requests sent and not answered yet
	dialogRows    int      // the login dialog's height while it shows, else 0
	faults        faultState
	loggingIn     bool
	cancelLogin   context.CancelFunc // ends the login in progress (the prompt's esc)
	quitting      bool
	idRow         bool // the ID token's line shows under the token panels
	beat          heartbeat
	bgRefresh     map[uint64]bool // background refreshes in flight, by refresh id
	clearAsked    time.Time       // when C first asked to clear the log
	beforeClaims  pane            // the panel c came from, for c to go back to
	ticks         int             // ticks on their way; one chain normally
	tickSlow      bool            // the last tick asked for was the idle one
}

// New builds the model.
func New(o Options) *Model {
	if o.Clock == nil {
		o.Clock = session.SystemClock{}
	}
	if o.Tick <= 0 {
		o.Tick = 100 * time.Millisecond
	}
	if o.Clipboard == nil {
		o.Clipboard = osc52Copy
	}
	sh := &shared{secrets: o.Driver.secrets()}
	sh.tname, sh.theme = pickTheme(o.Theme)
	fl, ans, w := newFlights(), newAnswers(), o.Driver.words()
	m := &Model{opts: o, drv: o.Driver, words: w, clock: o.Clock, keys: DefaultKeyMap(), sh: sh, flights: fl, answers: ans,
		logp: newLogPanel(sh, o.LogMax, w.emptyLog), reqs: newRequestsPanel(sh, o.Driver.requests(o.Requests), ans, fl),
		claims: newClaimsPanel(sh), composer: newComposer(sh), dialog: newLoginDialog(sh, w.dialog),
		prompt: newLoginPrompt(sh), detail: newDetailView(sh)}
	m.offer()
	m.help = newHelpOverlay(sh, m.keys, w.faultNote)
	m.panels = [paneCount]component{paneLog: m.logp, paneRequests: m.drv.requestsPane(m), paneClaims: m.claims}
	sh.now = m.clock.Now()
	sh.snap = m.drv.Snapshot()
	sh.remember()
	m.sub = m.drv.Log().Subscribe(1 << 14)
	m.logp.store.add(m.drv.Log().Events())
	return m
}

// offer binds the global keys and turns on exactly those something serves: the keys every
// driver has, the driver's own, and the fault keys of the knobs it has. Help and the bar list
// enabled keys only, so they list what works.
func (m *Model) offer() {
	k := &m.keys
	for _, b := range k.drivingKeys() {
		b.SetEnabled(false)
	}
	own := m.drv.bind(k)
	for _, a := range own {
		a.key.SetEnabled(true)
	}
	m.actions = append(m.globalActions(), own...)
	k.offerFaults(m.drv)
}

// pickTheme is the named theme, the default for "", and dark for a name it does not know.
func pickTheme(name string) (string, themes.Theme) {
	if name == "" {
		name = themes.Default()
	}
	if th, ok := themes.Get(name); ok {
		return name, th
	}
	th, _ := themes.Get("dark")
	return "dark", th
}

// Close releases the log subscription.
func (m *Model) Close() { m.sub.Close() }

// Init starts the clock, the event stream, and what the driver starts (the login, the heartbeat).
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.tick(), m.waitEvents(), m.waitPrompt()}
	return tea.Batch(append(cmds, m.drv.start(m))...)
}

// Update routes messages: answers from the engine to the panel they concern, keys to whoever
// has the keyboard in the current mode.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	model, cmd := m.update(msg)
	if m.tickSlow && m.tickEvery() < 10*m.opts.Tick {
		// Something started to move (a request went out): tick fast from now, not after the
		// slow tick already on its way, which then ends its chain (see tickMsg).
		cmd = tea.Batch(cmd, m.tick())
	}
	return model, cmd
}

func (m *Model) update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.resize(msg.Width, msg.Height)
	case tickMsg:
		m.sync()
		if m.flash != "" && m.sh.now.Sub(m.flashAt) > 4*time.Second {
			m.flash = ""
		}
		if m.ticks--; m.ticks > 0 {
			return m, nil // a newer, faster chain took over
		}
		return m, m.tick()
	case eventsMsg:
		m.logp.ingest(msg, m.drv.Log().Since)
		for _, p := range m.panels {
			if w, ok := p.(eventWatcher); ok {
				w.eventsIn()
			}
		}
		m.noteBackground(msg)
		return m, m.waitEvents()
	case resultMsg:
		m.answered(msg)
	case burstMsg:
		m.burstAnswered(msg)
	case loginMsg:
		m.loggedIn(msg)
	case loginPromptMsg:
		return m, tea.Batch(m.showPrompt(msg), m.waitPrompt())
	case tea.MouseMsg:
		return m, m.mouse(msg)
	case copyMsg:
		return m, m.copyCmd(msg.text, msg.what)
	case openDetailMsg:
		return m, m.openDetail()
	case beatMsg:
		return m, m.onBeat(msg)
	case openedMsg:
		m.prompt.opened, m.prompt.openErr = msg.err == nil, errText(msg.err)
	case flashMsg:
		m.setFlash(string(msg))
	case tea.KeyMsg:
		return m, m.handleKey(msg)
	default:
		return m, m.updateInput(msg)
	}
	return m, nil
}

// answered takes a request's answer: out of flight, and kept once for its panel, the history
// and the detail (keep lays the panel out once, with the answer and without the flight).
func (m *Model) answered(msg resultMsg) {
	m.flights.land(msg.index, 1, msg.beat)
	m.keep(msg.index, msg.res)
}

// keep keeps the answer to request i, and shows it when i is the request shown.
func (m *Model) keep(i int, r apiclient.Result) {
	m.answers.add(i, r)
	m.reqs.answered(i)
}

// burstAnswered takes a burst's end: its worst answer stands for it.
func (m *Model) burstAnswered(msg burstMsg) {
	m.flights.land(msg.index, msg.n, false)
	m.keep(msg.index, msg.worst)
	m.setFlash(fmt.Sprintf("burst of %d: %d ok · %s · %d failed · %d parked in %s", msg.n, msg.ok,
		plural(int(msg.refreshCalls), "refresh call", "refresh calls"), msg.failed, msg.parked, human.Duration(msg.took)))
}

// sync takes a new snapshot of the session and the clock, and lets the parts that lay out
// content from it catch up.
func (m *Model) sync() {
	m.sh.now = m.clock.Now()
	m.sh.snap = m.drv.Snapshot()
	if m.sh.remember() {
		m.reqs.relayout()
	}
	m.dialog.sync()
	m.claims.sync()
	if id := !m.sh.snap.IDToken.Empty(); id != m.idRow {
		m.idRow = id
		m.sizePanels()
	}
	m.fitDialog()
}

// fitDialog gives the panels the rows the login dialog leaves them, when it comes or goes.
func (m *Model) fitDialog() {
	rows := 0
	if m.dialog.visible() && m.width > 0 {
		rows = lipgloss.Height(m.dialog.View())
	}
	if rows != m.dialogRows {
		m.dialogRows = rows
		m.sizePanels()
	}
}

func (m *Model) setFlash(s string) { m.flash, m.flashAt = s, m.sh.now }

// resize tells every part its size and builds the width-bound styles.
func (m *Model) resize(w, h int) {
	m.width, m.height = w, h
	main := m.mainHeight()
	m.composer.SetSize(w, main)
	m.dialog.SetSize(w, main)
	m.prompt.SetSize(w, main)
	m.detail.SetSize(w, main)
	m.help.SetSize(w, h)
	half := w / 2
	m.styles.tokenLeft = lipgloss.NewStyle().Width(half)
	m.styles.tokenRight = m.styles.tokenLeft.Width(w - half)
	m.dialogRows = -1 // measure the dialog again at this width
	m.fitDialog()
}

// sizePanels gives the panels the main area, less the login dialog's rows when it shows.
func (m *Model) sizePanels() {
	h := m.mainHeight()
	if m.dialogRows > 0 && h-m.dialogRows >= 1 {
		h -= m.dialogRows
	}
	for _, p := range m.panels {
		p.SetSize(m.width, h)
	}
}

func (m *Model) mainHeight() int {
	return max(m.height-chromeRows-timelineRows-m.tokensHeight(), 1)
}

// handleKey gives the key to the input or overlay that has the keyboard, else to the global
// keys, else to the focused panel.
func (m *Model) handleKey(msg tea.KeyMsg) tea.Cmd {
	if m.mode == modeFilter || m.mode == modeCompose {
		return m.updateInput(msg)
	}
	// Keys typed faster than the terminal is read arrive as one message with several runes
	// ("fssLE", "jjj" in the help); outside text inputs each is a key of its own.
	if msg.Type == tea.KeyRunes && len(msg.Runes) > 1 && !msg.Paste {
		cmds := make([]tea.Cmd, 0, len(msg.Runes))
		for _, r := range msg.Runes {
			cmds = append(cmds, m.handleKey(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}}))
		}
		return tea.Batch(cmds...)
	}
	switch m.mode {
	case modeHelp:
		if m.help.update(msg, m.helpGroups()) {
			m.mode = modeNormal
		}
		return nil
	case modeDetail:
		if m.detail.update(msg) {
			m.mode = modeNormal
		}
		return nil
	}
	if m.prompt.active {
		if cmd, ok := m.promptKey(msg); ok {
			return cmd
		}
	}
	if m.dialog.visible() && msg.Type == tea.KeyEsc {
		m.dialog.dismissed = true
		m.fitDialog()
		return nil
	}
	if cmd, ok := m.globalKey(msg); ok {
		return cmd
	}
	if cmd, ok := m.panels[m.focus].Update(msg); ok {
		return cmd
	}
	return m.faultKey(msg)
}

// updateInput passes a message to the text input that has the keyboard, and leaves its mode
// when the input is done.
func (m *Model) updateInput(msg tea.Msg) tea.Cmd {
	switch m.mode {
	case modeFilter:
		cmd, done := m.logp.updateFilter(msg)
		if done {
			m.mode = modeNormal
		}
		return cmd
	case modeCompose:
		cmd, done, saved := m.composer.update(msg)
		if done {
			m.mode = modeNormal
		}
		if saved != nil {
			m.focus = paneRequests
			m.setFlash(m.reqs.save(saved.index, saved.req) + saved.note)
		}
		return cmd
	}
	return nil
}
