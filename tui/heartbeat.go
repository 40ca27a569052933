package tui

// The heartbeat: the selected request, sent on a period, so that a session left alone shows
// its refreshes and not only its expiry.

import (
	"fmt"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"tokenscope/apiclient"
	"tokenscope/internal/human"
	"tokenscope/internal/sanitize"
	"tokenscope/session"
)

// maxBeatsInFlight bounds the heartbeat's requests out at once: against a slow server it waits
// rather than piling requests up.
const maxBeatsInFlight = 4

type heartbeat struct {
	on     bool
	paused bool // the session needs a login: a beat would only park one more request
	every  time.Duration
	gen    int               // a beat from a stopped (or restarted) heartbeat is ignored
	e      *apiclient.Engine // what the beats send through
}

type beatMsg struct{ gen int }

// start starts the heartbeat and returns the command that brings the first beat.
func (h *heartbeat) start(every time.Duration, e *apiclient.Engine) tea.Cmd {
	h.on, h.paused, h.every, h.e = true, false, every, e
	h.gen++
	return h.next()
}

func (h *heartbeat) stop() { h.on = false; h.gen++ }

func (h *heartbeat) next() tea.Cmd {
	gen := h.gen
	return tea.Tick(h.every, func(time.Time) tea.Msg { return beatMsg{gen: gen} })
}

// onBeat sends the selected request, unless the heartbeat stopped since, and schedules the
// next beat. While the session needs a login it pauses: each beat would park one more request
// to be replayed after the login, which is noise rather than a story; it resumes by itself once
// the session is active again.
func (m *Model) onBeat(msg beatMsg) tea.Cmd {
	h := &m.beat
	if !h.on || msg.gen != h.gen {
		return nil
	}
	if dead := m.sh.snap.State == session.StateLoginRequired; dead != h.paused {
		h.paused = dead
		m.setFlash(map[bool]string{true: "heartbeat paused: the session needs a login (l); it resumes after the login",
			false: "heartbeat resumed: the session is active again"}[dead])
	}
	if _, ok := m.reqs.current(); !ok || h.paused || m.flights.beating() >= maxBeatsInFlight {
		return h.next()
	}
	return tea.Batch(m.sendCmd(h.e, m.reqs.selected, true), h.next())
}

// toggleHeartbeat is the a key.
func (m *Model) toggleHeartbeat(e *apiclient.Engine) tea.Cmd {
	if m.beat.on {
		m.beat.stop()
		return flash("heartbeat stopped")
	}
	every := m.opts.Every
	if every <= 0 {
		every = DefaultEvery
	}
	r, ok := m.reqs.current()
	if !ok {
		return flash("no request to send: press n to compose one")
	}
	m.setFlash(fmt.Sprintf("heartbeat: %s %s every %s (a stops it)", r.Method, r.Path, human.Duration(every)))
	return m.beat.start(every, e)
}

// beatStatus is the tabs line's note while the heartbeat runs.
func (m *Model) beatStatus() string {
	switch {
	case !m.beat.on:
		return ""
	case m.beat.paused:
		return "♥ paused: login required"
	}
	return "♥ every " + human.Duration(m.beat.every)
}

// noteBackground puts a background refresh in the status line: it happens while nobody
// sends, and the token panel's jump alone is easy to miss.
func (m *Model) noteBackground(evs []session.Event) {
	for _, ev := range evs {
		switch {
		case ev.Kind == session.KindRefreshStart && ev.Why == session.WhyBackground:
			if m.bgRefresh == nil {
				m.bgRefresh = map[uint64]bool{}
			}
			m.bgRefresh[ev.RefreshID] = true
		case ev.Kind == session.KindRefreshOK && m.bgRefresh[ev.RefreshID]:
			delete(m.bgRefresh, ev.RefreshID)
			m.setFlash(fmt.Sprintf("background refresh: gen #%d, %s", ev.Generation, sanitize.Line(ev.Reason)))
		case ev.Kind == session.KindRefreshFailed && m.bgRefresh[ev.RefreshID]:
			delete(m.bgRefresh, ev.RefreshID)
			m.setFlash("background refresh failed: " + sanitize.Line(ev.Reason))
		}
	}
}
