package tui

import (
	"fmt"
	"slices"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
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

// faultState is what the fault keys toggle.
type faultState struct {
	latencyOn bool
	skewStep  int
}

var skewSteps = []time.Duration{0, -60 * time.Second, 60 * time.Second} // K: −60 s, +60 s, off

// faultKey turns a demo server knob. Against a real API the fault keys are disabled (help does
// not list them); pressed anyway, they say why nothing happened.
func (m *Model) faultKey(msg tea.KeyMsg) tea.Cmd {
	k := &m.keys
	f := m.opts.Faults
	if f == nil {
		for _, b := range k.faultKeys() {
			if slices.Contains(b.Keys(), msg.String()) {
				return flash("fault keys work only against the embedded demo server")
			}
		}
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
		m.faults.latencyOn = !m.faults.latencyOn
		what = "demo: refresh latency off"
		f.SetLatency(0, 0)
		if m.faults.latencyOn {
			f.SetLatency(0, 2*time.Second)
			what = "demo: refresh calls now take 2s"
		}
	case key.Matches(msg, k.Skew):
		m.faults.skewStep = (m.faults.skewStep + 1) % len(skewSteps)
		f.SetSkew(skewSteps[m.faults.skewStep])
		what = fmt.Sprintf("demo: server clock skew now %+ds (the estimate follows the next answer)", int(skewSteps[m.faults.skewStep].Seconds()))
		if skewSteps[m.faults.skewStep] == 0 {
			what = "demo: server clock skew off (the estimate follows the next answer)"
		}
	default:
		return nil
	}
	// In the log too: the story of a session includes the faults that shaped it.
	m.engine.Note(what)
	return flash(what)
}
