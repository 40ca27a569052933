package tui

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"tokenscope/apiclient"
	"tokenscope/apiclient/profile"
	"tokenscope/apiclient/sent"
	"tokenscope/internal/privfile"
	"tokenscope/internal/redact"
	"tokenscope/session"
)

// Messages: each is the answer of a command below, or of the event stream.
type (
	tickMsg   time.Time
	eventsMsg []session.Event
	resultMsg struct {
		index int
		res   apiclient.Result
		beat  bool // sent by the heartbeat
	}
	burstMsg struct {
		n, ok, failed, parked int
		refreshCalls          uint64 // made while the burst was out: the number single flight keeps at 1
		took                  time.Duration
		index                 int              // the request the burst copied
		worst                 apiclient.Result // the most telling copy, for the response view
	}
	loginMsg struct {
		replayed []apiclient.Result
		provided []profile.Request // the identity provider's ready-made requests
		err      error
	}
	flashMsg string
)

// flash is a command that shows a status message.
func flash(s string) tea.Cmd { return func() tea.Msg { return flashMsg(s) } }

// failureRank ranks a burst's results for the response view: a failure over a parked request over
// a success, and more attempts over fewer, so the view shows what went wrong if anything did.
func failureRank(r apiclient.Result) int {
	rank := 0
	switch r.Outcome {
	case apiclient.Parked:
		rank = 1
	case apiclient.Failed:
		rank = 2
	}
	return rank*100 + min(len(r.Attempts), 99)
}

func (m *Model) tick() tea.Cmd {
	d := m.tickEvery()
	m.ticks++
	m.tickSlow = d > m.opts.Tick
	return tea.Tick(d, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// tickEvery is the next tick's delay: Options.Tick while something moves on screen (a
// countdown in tenths of a second, a spinner, a login prompt's countdown), ten times slower
// otherwise, so that an idle session costs next to no CPU.
func (m *Model) tickEvery() time.Duration {
	s := m.sh.snap
	left := s.Access.Remaining(s.ServerNow(m.sh.now))
	busy := m.flights.out() > 0 || m.prompt.active || s.Refreshing > 0 || s.State == session.StateRefreshing ||
		(s.Access.HasExpiry() && left < time.Minute && left > -time.Minute)
	if busy {
		return m.opts.Tick
	}
	return 10 * m.opts.Tick
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

func (m *Model) loginCmd(e *apiclient.Engine) tea.Cmd {
	m.loggingIn = true
	ctx, cancel := context.WithTimeout(context.Background(), e.LoginTimeout(30*time.Second))
	m.cancelLogin = cancel
	return func() tea.Msg {
		defer cancel()
		replayed, err := e.Login(ctx)
		return loginMsg{replayed: replayed, provided: e.ProviderRequests(), err: err}
	}
}

// loggedIn takes a login's end: its prompt goes away, and the identity provider's ready-made
// requests join the list once it is known.
func (m *Model) loggedIn(msg loginMsg) {
	m.loggingIn, m.cancelLogin = false, nil
	m.prompt.hide()
	switch {
	case errors.Is(msg.err, context.Canceled):
		m.setFlash("login cancelled")
	case msg.err != nil && m.opts.ErrorText != nil:
		m.setFlash(m.opts.ErrorText(msg.err))
	case msg.err != nil:
		m.setFlash(msg.err.Error())
	case len(msg.replayed) > 0:
		m.setFlash(fmt.Sprintf("logged in; %s replayed", plural(len(msg.replayed), "parked request", "parked requests")))
	}
	if msg.err == nil {
		m.reqs.addMissing(msg.provided)
	}
	// A replayed request's answer, history row and detail show the replay's answer, not
	// "parked · 0 attempts".
	for _, r := range msg.replayed {
		m.answers.replace(r)
	}
	m.reqs.relayout()
	m.sync()
}

// showPrompt shows a login prompt, and opens an authorization URL in the browser when told to.
func (m *Model) showPrompt(p loginPromptMsg) tea.Cmd {
	m.prompt.show(p)
	if p.code != "" || !m.opts.OpenBrowser || m.opts.OpenURL == nil {
		return nil
	}
	open := m.opts.OpenURL
	return func() tea.Msg { return openedMsg{err: open(p.url)} }
}

// openedMsg is the browser's launch: nil, or why it failed.
type openedMsg struct{ err error }

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// signOutCmd revokes the refresh token at the provider (when there is one) and logs out.
func (m *Model) signOutCmd(e *apiclient.Engine) tea.Cmd {
	return func() tea.Msg { return flashMsg(e.SignOut(context.Background())) }
}

// sendCmd sends request i; beat: the heartbeat sends it.
func (m *Model) sendCmd(e *apiclient.Engine, i int, beat bool) tea.Cmd {
	req := m.reqs.list[i]
	m.flights.launch(i, 1, m.sh.now, beat)
	m.reqs.flightChanged(i)
	return func() tea.Msg {
		return resultMsg{index: i, res: e.Do(context.Background(), req), beat: beat}
	}
}

func (m *Model) burstCmd(e *apiclient.Engine, n int) tea.Cmd {
	index := m.reqs.selected
	req := m.reqs.list[index]
	m.flights.launch(index, n, m.sh.now, false)
	m.reqs.flightChanged(index)
	return func() tea.Msg {
		start, calls := time.Now(), e.Counters().RefreshCalls
		out := burstMsg{n: n, index: index}
		e.Burst(context.Background(), req, n, 0, func(_ int, r apiclient.Result) {
			if out.worst.ID == 0 || moreTelling(r, out.worst) {
				out.worst = r // only the one kept: a burst's answers are not held to its end
			}
			switch r.Outcome {
			case apiclient.OK:
				out.ok++
			case apiclient.Parked:
				out.parked++
			default:
				out.failed++
			}
		})
		out.took, out.refreshCalls = time.Since(start), e.Counters().RefreshCalls-calls
		return out
	}
}

// moreTelling reports whether r should stand for a burst rather than than: it fails worse
// (failureRank), or as badly and its last attempt carried a newer generation, or the same one
// and its ID is lower. So the same burst is shown the same way on every run, whatever order its
// requests ended in (which ends first, and with which token, is up to the scheduler).
func moreTelling(r, than apiclient.Result) bool {
	if a, b := failureRank(r), failureRank(than); a != b {
		return a > b
	}
	if g, b := r.Generation(), than.Generation(); g != b {
		return g > b
	}
	return r.ID < than.ID
}

func (m *Model) refreshCmd(e *apiclient.Engine) tea.Cmd {
	return func() tea.Msg {
		if err := e.RefreshNow(context.Background()); err != nil {
			return flashMsg("refresh: " + err.Error())
		}
		return flashMsg("refreshed")
	}
}

func (m *Model) copyCmd(text, what string) tea.Cmd {
	clip := m.opts.Clipboard
	return func() tea.Msg {
		if err := clip(text); err != nil {
			return flashMsg("copy failed: " + err.Error())
		}
		// OSC 52 has no answer: whether the terminal took the text is not known here.
		return flashMsg("sent " + what + " to the terminal's clipboard (OSC 52)")
	}
}

// curl renders a request as a curl command from the engine's record of what it would carry now
// (the profile's headers, the token's header, a DPoP proof). Masked, each secret is a shell
// variable ("$TOKEN", "$DPOP_PROOF", the profile's own environment variable for an API key)
// and the command works once pasted into a shell where those are set; a password in the target
// URL is masked too. Every part is single-quoted: a method or a header read from a file is
// never shell code.
func (m *Model) curl(e *apiclient.Engine, r profile.Request) string {
	o := e.Outgoing(r)
	target := o.URL()
	if !m.sh.reveal {
		target = redact.URL(target)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "curl -sS -X %s %s", shellQuote(o.Method), shellQuote(target))
	for _, h := range o.Header() {
		b.WriteString(" -H " + curlHeader(h, m.sh.reveal))
	}
	// The body is the request's own, whole: the record's copy is capped for display.
	if len(r.Body) > 0 {
		fmt.Fprintf(&b, " --data-raw %s", shellQuote(string(r.Body)))
	}
	return b.String()
}

// curlHeader is one -H argument. Revealed, a header goes as it went; masked, its secret is a
// shell variable: the fixed part single-quoted, the variable double-quoted, so that it expands
// in bash and zsh.
func curlHeader(h sent.Header, reveal bool) string {
	switch {
	case h.Secret == sent.None || reveal && h.Raw() != "":
		return shellQuote(h.Name + ": " + h.Raw())
	case h.Var == "":
		return shellQuote(h.Name + ": " + h.Value) // a secret of the session's in the request's own header
	}
	return shellQuote(h.Name+": "+h.Prefix) + `"$` + h.Var + `"`
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// homeRelative writes a path under the home directory as ~/…: shorter, so the status line
// holds it whole.
func homeRelative(p string) string {
	if home, err := os.UserHomeDir(); err == nil && home != "/" && strings.HasPrefix(p, home+string(filepath.Separator)) {
		return "~" + p[len(home):]
	}
	return p
}

// exportCmd writes the log as JSON lines to a new file (0600). Events carry fingerprints, never
// raw tokens, so the file can go into a bug report as it is.
func (m *Model) exportCmd() tea.Cmd {
	evs := append([]session.Event(nil), m.logp.store.events...)
	path := filepath.Join(m.opts.ExportDir, "tokenscope-log-"+m.sh.now.Format("20060102-150405.000")+".jsonl")
	if abs, err := filepath.Abs(path); err == nil {
		path = abs // the whole path: "wrote to tokenscope-log-….jsonl" left the user searching
	}
	return func() tea.Msg {
		f, err := privfile.Open(path, privfile.New)
		if err != nil {
			return flashMsg("export failed: " + err.Error())
		}
		w := bufio.NewWriter(f)
		err = session.WriteJSONL(w, evs...)
		if err == nil {
			err = w.Flush()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return flashMsg("export failed: " + err.Error())
		}
		return flashMsg(fmt.Sprintf("wrote %d events to %s", len(evs), homeRelative(path)))
	}
}
