package tui

import (
	"net/http"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"tokenscope/apiclient"
	"tokenscope/session"
)

// FuzzViewInert aims at the writers, not only the sanitizer: whatever a server puts in an
// answer's body, a header, a failure reason or an event, the screen the TUI draws holds no
// escape sequence, control, bidi or format character of it.
func FuzzViewInert(f *testing.F) {
	for _, s := range []string{"plain", secEvil, secHeaderEvil, "\x9b2J\xff\xfe", "a\r\nb\tc", `{"x":"\u001b]0;t\u0007"}`} {
		f.Add(s)
	}
	fx := newFixture(f, "simplejwt", apiclient.Config{}, "dark")
	m := fx.m
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	seq := uint64(1 << 40)
	f.Fuzz(func(t *testing.T, s string) {
		m.keep(0, apiclient.Result{ID: 1, Outcome: apiclient.Failed, Status: 502, Attempts: make([]apiclient.Attempt, 1),
			Body: []byte(s), Header: http.Header{"X-Fuzz": {s}}, Reason: s})
		seq++
		m.logp.store.add([]session.Event{{Seq: seq, Time: epoch, Kind: session.KindRefreshFailed, Method: "GET",
			Path: s, Reason: s, Duration: time.Millisecond}})
		for _, p := range []pane{paneRequests, paneLog} {
			m.focus = p
			secInert(t, m.panels[p].title()+" pane", m.View(), false)
		}
		m.setFlash(s)
		secInert(t, "status bar", m.View(), false)
		m.flash = ""
	})
}
