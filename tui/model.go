// Package tui is tokenscope's face: a Bubble Tea program that draws what the refresh engine
// records. It never talks HTTP or parses tokens itself; user intent goes to the engine as
// method calls inside tea.Cmds, and the engine's events arrive through a log subscription.
package tui

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textarea"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"tokenscope/apiclient"
	"tokenscope/session"
	"tokenscope/themes"
)

// Faults are the embedded demo server's knobs. cmd hands them over when the target is the
// embedded server; they are nil for a real API.
type Faults interface {
	ExpireAccessTokens() int
	RevokeAllFamilies() int
	FailNextRefreshes(n int)
	SetLatency(all, refresh time.Duration)
	SetSkew(d time.Duration)
}

// Options configure the program.
type Options struct {
	Engine    *apiclient.Engine
	Faults    Faults        // nil unless the target is the embedded demo server
	Demo      bool          // the target is the embedded demo server
	Theme     string        // a themes name; themes.Default() when empty
	Clock     session.Clock // for countdowns; the system clock when nil
	Tick      time.Duration // countdown refresh; 100 ms when zero
	Requests  []apiclient.Request
	LogMax    int                // events kept on screen's store; 100k when zero
	Clipboard func(string) error // OSC 52 by default
	// NoAutoLogin skips the login at start (tests log in themselves; a resumed session has
	// its tokens already).
	NoAutoLogin bool
	// Insecure: TLS verification is off. The header says so in red for as long as it runs.
	Insecure bool
	// Source says where the first tokens came from when not from a login ("session file …").
	Source string
	// ExportDir is where the export key writes the log (the working directory when empty).
	ExportDir string
}

type pane int

const (
	paneLog pane = iota
	paneRequests
	paneClaims
	paneCount
)

var paneNames = [...]string{"log", "requests", "claims"}

// Model is the root model.
type Model struct {
	opts   Options
	engine *apiclient.Engine
	keys   KeyMap
	help   help.Model
	theme  themes.Theme
	tname  string
	clock  session.Clock

	width, height int
	now           time.Time
	snap          apiclient.Snapshot
	sub           *session.Subscription

	log      *logStore
	focus    pane
	reveal   bool
	showHelp bool
	flash    string
	flashAt  time.Time

	filtering bool
	filterIn  textinput.Model

	editing   bool
	editIndex int // the request being edited; -1 composes a new one
	editor    textarea.Model

	requests  []apiclient.Request
	selected  int
	results   map[int]apiclient.Result // last result per request index
	respOff   int
	claimsOff int
	burstN    int
	inflight  int

	latencyOn bool
	skewStep  int
	dismissed bool // the login-required dialog was dismissed
	loggingIn bool
	quitting  bool
}

var burstSizes = []int{10, 50, 100, 500, 1000}

// New builds the model.
func New(o Options) *Model {
	if o.Clock == nil {
		o.Clock = session.SystemClock{}
	}
	if o.Tick <= 0 {
		o.Tick = 100 * time.Millisecond
	}
	if o.Theme == "" {
		o.Theme = themes.Default()
	}
	th, ok := themes.Get(o.Theme)
	if !ok {
		o.Theme = "dark"
		th, _ = themes.Get("dark")
	}
	if o.Clipboard == nil {
		o.Clipboard = osc52Copy
	}
	reqs := o.Requests
	if len(reqs) == 0 {
		reqs = o.Engine.Profile().PresetRequests()
	}
	fi := textinput.New()
	fi.Prompt = "/ "
	fi.Placeholder = "filter: kind or text (401, refresh, /api/me …)"
	ed := textarea.New()
	ed.ShowLineNumbers = false
	m := &Model{
		opts: o, engine: o.Engine, keys: DefaultKeyMap(), help: help.New(), theme: th, tname: o.Theme,
		clock: o.Clock, log: newLogStore(o.LogMax), requests: reqs, results: map[int]apiclient.Result{},
		burstN: 100, filterIn: fi, editor: ed,
	}
	m.applyHelpStyles()
	m.now = m.clock.Now()
	m.snap = m.engine.Snapshot()
	m.sub = m.engine.Log().Subscribe(1 << 14)
	m.log.add(m.engine.Log().Events())
	return m
}

// Close releases the log subscription.
func (m *Model) Close() { m.sub.Close() }

// ---- messages ----

type tickMsg time.Time
type eventsMsg []session.Event
type resultMsg struct {
	index int
	res   apiclient.Result
}
type burstMsg struct {
	n, ok, failed, parked int
	took                  time.Duration
	index                 int              // the request the burst copied
	worst                 apiclient.Result // the most telling copy, for the response view
}

// telling ranks a burst's results for the response view: a failure over a parked request over
// a success, and more attempts over fewer, so the view shows what went wrong if anything did.
func telling(r apiclient.Result) int {
	rank := 0
	switch r.Outcome {
	case apiclient.Parked:
		rank = 1
	case apiclient.Failed:
		rank = 2
	}
	return rank*100 + min(r.Attempts, 99)
}

type loginMsg struct {
	replayed []apiclient.Result
	err      error
}
type flashMsg string

// Init starts the clock, the event stream and the login.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.tick(), m.waitEvents()}
	if !m.opts.NoAutoLogin {
		cmds = append(cmds, m.loginCmd())
	}
	return tea.Batch(cmds...)
}

func (m *Model) tick() tea.Cmd {
	return tea.Tick(m.opts.Tick, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// waitEvents blocks (in its own goroutine, as every Cmd does) for the next event, then takes
// whatever else is already queued so that a burst arrives as a few big batches.
func (m *Model) waitEvents() tea.Cmd {
	sub := m.sub
	return func() tea.Msg {
		ev, ok := <-sub.C
		if !ok {
			return nil
		}
		batch := []session.Event{ev}
		for len(batch) < 4096 {
			select {
			case ev, ok := <-sub.C:
				if !ok {
					return eventsMsg(batch)
				}
				batch = append(batch, ev)
			default:
				return eventsMsg(batch)
			}
		}
		return eventsMsg(batch)
	}
}

func (m *Model) loginCmd() tea.Cmd {
	m.loggingIn = true
	e := m.engine
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		replayed, err := e.Login(ctx)
		return loginMsg{replayed: replayed, err: err}
	}
}

func (m *Model) sendCmd(i int) tea.Cmd {
	req := m.requests[i]
	e := m.engine
	m.inflight++
	return func() tea.Msg {
		return resultMsg{index: i, res: e.Do(context.Background(), req)}
	}
}

func (m *Model) burstCmd(n int) tea.Cmd {
	index := m.selected
	req := m.requests[index]
	e := m.engine
	m.inflight += n
	return func() tea.Msg {
		start := time.Now()
		var wg sync.WaitGroup
		var mu sync.Mutex
		out := burstMsg{n: n, index: index}
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := e.Do(context.Background(), req)
				mu.Lock()
				if out.worst.ID == 0 || telling(r) > telling(out.worst) {
					out.worst = r
				}
				switch r.Outcome {
				case apiclient.OK:
					out.ok++
				case apiclient.Parked:
					out.parked++
				default:
					out.failed++
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		out.took = time.Since(start)
		return out
	}
}

func (m *Model) refreshCmd() tea.Cmd {
	e := m.engine
	return func() tea.Msg {
		if err := e.RefreshNow(context.Background()); err != nil {
			return flashMsg("refresh: " + err.Error())
		}
		return flashMsg("refreshed")
	}
}

func (m *Model) setFlash(s string) {
	m.flash, m.flashAt = s, m.now
}

// ---- update ----

// Update routes messages; keys go to the dialog or input that has them, then to the root keys.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.log.invalidate()
		m.editor.SetWidth(max(msg.Width-6, 10))
		m.editor.SetHeight(max(msg.Height-10, 3))
		return m, nil
	case tickMsg:
		m.now = m.clock.Now()
		m.snap = m.engine.Snapshot()
		if m.flash != "" && m.now.Sub(m.flashAt) > 4*time.Second {
			m.flash = ""
		}
		if m.snap.State != session.StateLoginRequired {
			m.dismissed = false
		}
		return m, m.tick()
	case eventsMsg:
		m.ingest(msg)
		return m, m.waitEvents()
	case resultMsg:
		m.inflight--
		m.results[msg.index] = msg.res
		m.respOff = 0
		return m, nil
	case burstMsg:
		m.inflight -= msg.n
		if msg.index < len(m.requests) && msg.worst.ID != 0 {
			m.results[msg.index] = msg.worst
		}
		m.setFlash(fmt.Sprintf("burst of %d: %d ok, %d failed, %d parked in %s", msg.n, msg.ok, msg.failed, msg.parked, msg.took.Round(time.Millisecond)))
		return m, nil
	case loginMsg:
		m.loggingIn = false
		if msg.err != nil {
			m.setFlash(msg.err.Error())
		} else if len(msg.replayed) > 0 {
			m.setFlash(fmt.Sprintf("logged in; %s replayed", plural(len(msg.replayed), "parked request", "parked requests")))
		}
		m.snap = m.engine.Snapshot()
		return m, nil
	case flashMsg:
		m.setFlash(string(msg))
		return m, nil
	case tea.KeyMsg:
		return m.handleKey(msg)
	}
	return m, nil
}

// ingest adds events, catching up from the log when the subscription dropped some.
func (m *Model) ingest(evs []session.Event) {
	if len(evs) > 0 && m.log.lastSeq != 0 && evs[0].Seq > m.log.lastSeq+1 {
		m.log.add(m.engine.Log().Since(m.log.lastSeq))
	}
	m.log.add(evs)
}

func (m *Model) handleKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	if m.filtering {
		switch msg.String() {
		case "enter":
			m.filtering = false
			m.filterIn.Blur()
			return m, nil
		case "esc":
			m.filtering = false
			m.filterIn.Blur()
			m.filterIn.SetValue("")
			m.log.setFilter("")
			return m, nil
		}
		var cmd tea.Cmd
		m.filterIn, cmd = m.filterIn.Update(msg)
		m.log.setFilter(m.filterIn.Value())
		return m, cmd
	}
	if m.editing {
		switch msg.String() {
		case "esc":
			m.editing = false
			m.editor.Blur()
			return m, nil
		case "ctrl+s":
			req, err := parseRequestText(m.editor.Value())
			if err != nil {
				m.setFlash("request not saved: " + err.Error())
				return m, nil
			}
			if m.editIndex >= 0 && m.editIndex < len(m.requests) {
				req.Name = m.requests[m.editIndex].Name
				m.requests[m.editIndex] = req
				m.selected = m.editIndex
				delete(m.results, m.editIndex) // the answer was to the request as it was
				m.setFlash("request saved: " + req.Method + " " + req.Path)
			} else {
				m.requests = append(m.requests, req)
				m.selected = len(m.requests) - 1
				m.setFlash("request added: " + req.Method + " " + req.Path)
			}
			m.editing = false
			m.editor.Blur()
			m.focus = paneRequests
			return m, nil
		}
		var cmd tea.Cmd
		m.editor, cmd = m.editor.Update(msg)
		return m, cmd
	}
	// Keys typed faster than the terminal is read arrive as one message with several runes
	// ("fssLE"); outside text inputs each is a command of its own.
	if msg.Type == tea.KeyRunes && len(msg.Runes) > 1 && !msg.Paste {
		var cmds []tea.Cmd
		for _, r := range msg.Runes {
			_, cmd := m.handleKey(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
			cmds = append(cmds, cmd)
		}
		return m, tea.Batch(cmds...)
	}
	if m.showHelp {
		if key.Matches(msg, m.keys.Help) || msg.String() == "esc" || key.Matches(msg, m.keys.Quit) {
			m.showHelp = false
		}
		return m, nil
	}
	if m.loginDialog() && msg.String() == "esc" {
		m.dismissed = true
		return m, nil
	}
	if msg.String() == "esc" && m.focus == paneLog && m.log.filter != "" {
		m.filterIn.SetValue("")
		m.log.setFilter("")
		m.setFlash("filter cleared")
		return m, nil
	}

	k := m.keys
	switch {
	case key.Matches(msg, k.Quit):
		m.quitting = true
		return m, tea.Quit
	case key.Matches(msg, k.Help):
		m.showHelp = true
	case key.Matches(msg, k.Send):
		if len(m.requests) > 0 {
			return m, m.sendCmd(m.selected)
		}
	case key.Matches(msg, k.Burst):
		if len(m.requests) > 0 {
			m.setFlash(fmt.Sprintf("burst: %d × %s %s", m.burstN, m.requests[m.selected].Method, m.requests[m.selected].Path))
			return m, m.burstCmd(m.burstN)
		}
	case key.Matches(msg, k.BurstMore), key.Matches(msg, k.BurstLess):
		i := 0
		for j, n := range burstSizes {
			if n == m.burstN {
				i = j
			}
		}
		if key.Matches(msg, k.BurstMore) {
			i = min(i+1, len(burstSizes)-1)
		} else {
			i = max(i-1, 0)
		}
		m.burstN = burstSizes[i]
		m.setFlash(fmt.Sprintf("burst size %d", m.burstN))
	case key.Matches(msg, k.Refresh):
		return m, m.refreshCmd()
	case key.Matches(msg, k.Strategy):
		// Settings are applied here, not in a command: they are non-blocking setters, and two
		// quick presses must land in the order they were made (batched commands have no order).
		next := nextStrategy(m.snap.Strategy)
		m.engine.SetStrategy(next)
		m.snap = m.engine.Snapshot()
		m.setFlash("strategy " + string(next))
	case key.Matches(msg, k.SingleFlight):
		on := !m.snap.SingleFlight
		m.engine.SetSingleFlight(on)
		m.snap = m.engine.Snapshot()
		m.setFlash(map[bool]string{true: "single flight on", false: "single flight off: concurrent 401s each refresh"}[on])
	case key.Matches(msg, k.Login):
		if !m.loggingIn {
			m.dismissed = false
			return m, m.loginCmd()
		}
	case key.Matches(msg, k.Reveal):
		m.reveal = !m.reveal
	case key.Matches(msg, k.CopyCurl):
		if len(m.requests) > 0 {
			curl := m.curl(m.requests[m.selected])
			return m, m.copyCmd(curl, "curl command")
		}
	case key.Matches(msg, k.CopyToken):
		if m.snap.Access.Empty() {
			m.setFlash("no access token to copy")
		} else if !m.reveal {
			m.setFlash("reveal the tokens (v) before copying one")
		} else {
			return m, m.copyCmd(m.snap.Access.Raw, "access token")
		}
	case key.Matches(msg, k.Theme):
		if themes.NoColor() {
			m.setFlash("NO_COLOR is set: the theme stays mono")
			return m, nil
		}
		m.tname = themes.Next(m.tname)
		m.theme, _ = themes.Get(m.tname)
		m.applyHelpStyles()
		m.log.invalidate()
		m.setFlash("theme " + m.tname)
	case key.Matches(msg, k.Filter):
		m.filtering = true
		m.focus = paneLog
		return m, m.filterIn.Focus()
	case key.Matches(msg, k.ClearLog):
		m.setFlash(fmt.Sprintf("cleared %s from the screen (w exports before clearing)", plural(m.log.clear(), "event", "events")))
	case key.Matches(msg, k.Tab):
		m.focus = (m.focus + 1) % paneCount
	case key.Matches(msg, k.BackTab):
		m.focus = (m.focus + paneCount - 1) % paneCount
	case key.Matches(msg, k.Edit), key.Matches(msg, k.New):
		m.editing, m.editIndex = true, -1
		m.editor.SetValue("GET /\n")
		if key.Matches(msg, k.Edit) && len(m.requests) > 0 {
			m.editIndex = m.selected
			m.editor.SetValue(requestText(m.requests[m.selected]))
		}
		return m, m.editor.Focus()
	case key.Matches(msg, k.Claims):
		m.focus = paneClaims
	case key.Matches(msg, k.Export):
		return m, m.exportCmd()
	case key.Matches(msg, k.Up), key.Matches(msg, k.Down), key.Matches(msg, k.PageUp),
		key.Matches(msg, k.PageDown), key.Matches(msg, k.Top), key.Matches(msg, k.Bottom):
		m.scroll(msg)
	default:
		return m, m.faultKey(msg)
	}
	return m, nil
}

func nextStrategy(s apiclient.Strategy) apiclient.Strategy {
	all := apiclient.Strategies()
	for i, x := range all {
		if x == s {
			return all[(i+1)%len(all)]
		}
	}
	return all[0]
}

func (m *Model) scroll(msg tea.KeyMsg) {
	k := m.keys
	page := max(m.mainHeight()-1, 1)
	delta := 0
	switch {
	case key.Matches(msg, k.Up):
		delta = -1
	case key.Matches(msg, k.Down):
		delta = 1
	case key.Matches(msg, k.PageUp):
		delta = -page
	case key.Matches(msg, k.PageDown):
		delta = page
	}
	switch m.focus {
	case paneLog:
		switch {
		case key.Matches(msg, k.Top):
			m.log.toTop()
		case key.Matches(msg, k.Bottom):
			m.log.toBottom()
		default:
			m.log.scroll(delta, m.mainHeight())
		}
	case paneRequests:
		if key.Matches(msg, k.Up) || key.Matches(msg, k.Down) {
			m.selected = min(max(m.selected+delta, 0), max(len(m.requests)-1, 0))
			m.respOff = 0
		} else {
			m.respOff = max(m.respOff+delta, 0)
			if key.Matches(msg, k.Top) {
				m.respOff = 0
			}
		}
	case paneClaims:
		m.claimsOff = max(m.claimsOff+delta, 0)
		if key.Matches(msg, k.Top) {
			m.claimsOff = 0
		}
	}
}

// faultKey drives the demo server's knobs; nothing happens against a real API.
func (m *Model) faultKey(msg tea.KeyMsg) tea.Cmd {
	k := m.keys
	isFault := key.Matches(msg, k.ExpireAccess) || key.Matches(msg, k.RevokeFamily) || key.Matches(msg, k.FailRefresh) ||
		key.Matches(msg, k.Latency) || key.Matches(msg, k.Skew)
	if !isFault {
		return nil
	}
	f := m.opts.Faults
	if f == nil {
		m.setFlash("fault keys work only against the embedded demo server")
		return nil
	}
	var what string
	switch {
	case key.Matches(msg, k.ExpireAccess):
		what = fmt.Sprintf("demo: expired %s at the server", plural(f.ExpireAccessTokens(), "access token", "access tokens"))
	case key.Matches(msg, k.RevokeFamily):
		what = fmt.Sprintf("demo: revoked %s at the server", plural(f.RevokeAllFamilies(), "refresh token family", "refresh token families"))
	case key.Matches(msg, k.FailRefresh):
		f.FailNextRefreshes(1)
		what = "demo: the next refresh call answers 503"
	case key.Matches(msg, k.Latency):
		m.latencyOn = !m.latencyOn
		if m.latencyOn {
			f.SetLatency(0, 2*time.Second)
			what = "demo: refresh calls now take 2s"
		} else {
			f.SetLatency(0, 0)
			what = "demo: refresh latency off"
		}
	case key.Matches(msg, k.Skew):
		steps := []time.Duration{0, 60 * time.Second, -60 * time.Second}
		m.skewStep = (m.skewStep + 1) % len(steps)
		f.SetSkew(steps[m.skewStep])
		what = fmt.Sprintf("demo: server clock skew now %+ds (the estimate follows the next answer)", int(steps[m.skewStep].Seconds()))
	}
	m.setFlash(what)
	// In the log too: the story of a session includes the faults that shaped it.
	m.engine.Note(what)
	return nil
}

func (m *Model) copyCmd(text, what string) tea.Cmd {
	clip := m.opts.Clipboard
	return func() tea.Msg {
		if err := clip(text); err != nil {
			return flashMsg("copy failed: " + err.Error())
		}
		return flashMsg("copied " + what + " to the clipboard (OSC 52)")
	}
}

// curl renders a request as a curl command; the token is masked unless revealed.
func (m *Model) curl(r apiclient.Request) string {
	p := m.engine.Profile()
	tok := m.snap.Access.Raw
	if !m.reveal {
		tok = "$TOKEN"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "curl -sS -X %s %s", r.Method, shellQuote(strings.TrimRight(m.snap.Target, "/")+r.Path))
	auth := tok
	if p.Auth.Scheme != "" {
		auth = p.Auth.Scheme + " " + tok
	}
	fmt.Fprintf(&b, " -H %s", shellQuote(p.Auth.Header+": "+auth))
	for k, vs := range r.Header {
		for _, v := range vs {
			fmt.Fprintf(&b, " -H %s", shellQuote(k+": "+v))
		}
	}
	if len(r.Body) > 0 {
		fmt.Fprintf(&b, " --data-raw %s", shellQuote(string(r.Body)))
	}
	return b.String()
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// requestText and parseRequestText are the composer's format: the HTTP-file shape
// ("METHOD /path", header lines, a blank line, the body).
func requestText(r apiclient.Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", r.Method, r.Path)
	for k, vs := range r.Header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	b.WriteString("\n")
	b.Write(r.Body)
	return b.String()
}

func parseRequestText(s string) (apiclient.Request, error) {
	head, body, _ := strings.Cut(strings.ReplaceAll(s, "\r\n", "\n"), "\n\n")
	lines := strings.Split(strings.TrimSpace(head), "\n")
	method, path, ok := strings.Cut(strings.TrimSpace(lines[0]), " ")
	method = strings.ToUpper(method)
	path = strings.TrimSpace(path)
	if !ok || method == "" || !strings.HasPrefix(path, "/") {
		return apiclient.Request{}, fmt.Errorf("first line must be METHOD /path, got %q", lines[0])
	}
	r := apiclient.Request{Method: method, Path: path, Header: http.Header{}}
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(l, ":")
		if !ok || strings.TrimSpace(k) == "" {
			return apiclient.Request{}, fmt.Errorf("header line %q is not Name: value", l)
		}
		r.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	body = strings.TrimSpace(body)
	if body != "" {
		r.Body = []byte(body)
		if r.Header.Get("Content-Type") == "" && json.Valid(r.Body) {
			r.Header.Set("Content-Type", "application/json")
		}
	}
	return r, nil
}

// exportCmd writes the log as JSON lines to a new file (0600). Events carry fingerprints, never
// raw tokens, so the file can go into a bug report as it is.
func (m *Model) exportCmd() tea.Cmd {
	evs := append([]session.Event(nil), m.log.events...)
	path := filepath.Join(m.opts.ExportDir, "tokenscope-log-"+m.now.Format("20060102-150405.000")+".jsonl")
	return func() tea.Msg {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return flashMsg("export failed: " + err.Error())
		}
		w := bufio.NewWriter(f)
		for _, ev := range evs {
			w.Write(ev.JSON())
			w.WriteByte('\n')
		}
		if err := w.Flush(); err != nil {
			f.Close()
			return flashMsg("export failed: " + err.Error())
		}
		if err := f.Close(); err != nil {
			return flashMsg("export failed: " + err.Error())
		}
		return flashMsg(fmt.Sprintf("wrote %d events to %s (tokens as fingerprints)", len(evs), path))
	}
}
