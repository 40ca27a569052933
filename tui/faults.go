package tui

import (
	"errors"
	"slices"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// Fault is a knob a fault key turns.
type Fault int

const (
	ExpireAccess  Fault = iota // E: the access tokens out now answer 401
	RejectRefresh              // X: refresh tokens are rejected, as revoked
	FailRefresh                // F: the next refresh call answers 503
	SlowRefresh                // L: refresh calls take longer (0: full speed again)
	SkewClock                  // K: the server's clock runs off (0: on time again)
	faultCount
)

// Faults are the knobs the fault keys turn: the TUI's one fault interface, whoever answers in
// the server's place. cmd hands one over with the driver: the embedded demo server's
// (DemoFaults), observe's proxy's with --faults (ProxyFaults), or none.
type Faults interface {
	// Offers reports whether this target has the knob (a proxy cannot move the server's clock).
	Offers(f Fault) bool
	// Turn turns the knob; d is the latency or skew it sets. n is how many tokens or token
	// families it reached, where the target counts them.
	Turn(f Fault, d time.Duration) (n int, err error)
}

// errNoKnob is Turn's answer for a knob the target does not have.
var errNoKnob = errors.New("this target has no such fault")

// demoKnobs are the embedded demo server's fault knobs, as *demoserver.Server has them (the TUI
// does not import the server: cmd hands it over).
type demoKnobs interface {
	ExpireAccessTokens() int
	RevokeAllFamilies() int
	FailNextRefreshes(n int)
	SetLatency(all, refresh time.Duration)
	SetSkew(d time.Duration)
}

// DemoFaults are the embedded demo server's knobs as the fault keys turn them; nil for nil.
func DemoFaults(k demoKnobs) Faults {
	if k == nil {
		return nil
	}
	return demoFaults{k}
}

type demoFaults struct{ k demoKnobs }

func (demoFaults) Offers(Fault) bool { return true }

func (d demoFaults) Turn(f Fault, dur time.Duration) (int, error) {
	switch f {
	case ExpireAccess:
		return d.k.ExpireAccessTokens(), nil
	case RejectRefresh:
		return d.k.RevokeAllFamilies(), nil
	case FailRefresh:
		d.k.FailNextRefreshes(1)
		return 1, nil
	case SlowRefresh:
		d.k.SetLatency(0, dur)
		return 0, nil
	case SkewClock:
		d.k.SetSkew(dur)
		return 0, nil
	}
	return 0, errNoKnob
}

// proxyKnobs are the injections of tokenscope observe's proxy, as *observe.Proxy has them: it
// answers the user's app in the upstream's place, and notes each in the observed log itself.
type proxyKnobs interface {
	ExpireNow() error
	RevokeNext(n int) error
	Fail503Next(n int) error
	SlowRefresh(d time.Duration) error
}

// ProxyFaults are observe's injections as the fault keys turn them; nil for nil.
func ProxyFaults(k proxyKnobs) Faults {
	if k == nil {
		return nil
	}
	return proxyFaults{k}
}

type proxyFaults struct{ k proxyKnobs }

// Offers: every knob but the clock, which belongs to the upstream.
func (proxyFaults) Offers(f Fault) bool { return f != SkewClock }

func (p proxyFaults) Turn(f Fault, d time.Duration) (int, error) {
	switch f {
	case ExpireAccess:
		return 0, p.k.ExpireNow()
	case RejectRefresh:
		return 1, p.k.RevokeNext(1)
	case FailRefresh:
		return 1, p.k.Fail503Next(1)
	case SlowRefresh:
		return 0, p.k.SlowRefresh(d)
	}
	return 0, errNoKnob
}

// faultState is where the toggling knobs stand: L turns the latency on and off, K steps the
// skew through skewSteps.
type faultState struct {
	latencyOn bool
	skewStep  int
}

var skewSteps = []time.Duration{0, -60 * time.Second, 60 * time.Second} // K: −60 s, +60 s, off

// slowRefreshBy is the latency L turns on.
const slowRefreshBy = 2 * time.Second

// turn is one press of a fault key: the knob, the setting it goes to and the one it leaves
// (a server clock moved back does to tokens what one moved forward does not).
type turn struct {
	f        Fault
	to, from time.Duration
}

// next is the turn a press of f's key makes.
func (s faultState) next(f Fault) turn {
	t := turn{f: f}
	switch f {
	case SlowRefresh:
		if s.latencyOn {
			t.from = slowRefreshBy
		} else {
			t.to = slowRefreshBy
		}
	case SkewClock:
		t.from, t.to = skewSteps[s.skewStep], skewSteps[(s.skewStep+1)%len(skewSteps)]
	}
	return t
}

// turned keeps the setting once the knob took it.
func (s *faultState) turned(f Fault) {
	switch f {
	case SlowRefresh:
		s.latencyOn = !s.latencyOn
	case SkewClock:
		s.skewStep = (s.skewStep + 1) % len(skewSteps)
	}
}

// faultOf is the knob under a fault key, offered or not: a key that is not offered still
// answers, with why (help does not list it, but a user who knows the key gets no silence).
func (k *KeyMap) faultOf(msg tea.KeyMsg) (Fault, bool) {
	for f, b := range k.faultKeys() {
		if slices.Contains(b.Keys(), msg.String()) {
			return Fault(f), true
		}
	}
	return 0, false
}

// faultKey turns the knob under a fault key through the driver, which says what happened.
func (m *Model) faultKey(msg tea.KeyMsg) tea.Cmd {
	f, ok := m.keys.faultOf(msg)
	if !ok {
		return nil
	}
	said, err := m.drv.fault(m.faults.next(f))
	if err == nil {
		m.faults.turned(f)
	}
	return flash(said)
}

// offerFaults turns on the fault keys of the knobs the driver has, named for what they do
// there.
func (k *KeyMap) offerFaults(d Driver) {
	for f, b := range k.faultKeys() {
		b.SetEnabled(d.offersFault(Fault(f)))
		if desc := d.faultHelp(Fault(f)); desc != "" {
			b.SetHelp(b.Help().Key, desc)
		}
	}
}

// faultKeys are the fault keys, indexed by the knob they turn.
func (k *KeyMap) faultKeys() [faultCount]*key.Binding {
	return [faultCount]*key.Binding{ExpireAccess: &k.ExpireAccess, RejectRefresh: &k.RevokeFamily,
		FailRefresh: &k.FailRefresh, SlowRefresh: &k.Latency, SkewClock: &k.Skew}
}
