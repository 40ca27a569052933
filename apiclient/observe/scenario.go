package observe

// Scenarios: the faults --faults offers by hand, scheduled in a file for a repeatable run (a CI
// step that must meet the same expiry, outage and revocation every time).

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ScenarioHelp is the file format, for observe --help and the README.
const ScenarioHelp = `A scenario file has one step a line ('#' starts a comment):
  at DURATION ACTION      DURATION after observe started (2s, 1m30s)
  at refresh N ACTION     when the Nth refresh call arrives, before it is answered
ACTION is one of:
  expire                  every access token issued so far gets the profile's 401
  expire-next N           the next N requests carrying a token get the 401
  fail 503                the next refresh call answers 503
  reject-next-refresh     the next refresh call gets the profile's rejection (revoked)
  slow DURATION           every refresh call is held DURATION (0 ends it)
  clear                   cancel what is pending
Example:
  at 2s expire
  at refresh 3 fail 503
  at 10s reject-next-refresh`

// Step is one line of a scenario: when (after a time, or at a refresh call) and what.
type Step struct {
	Line      int
	After     time.Duration // time trigger: since the scenario started
	AtRefresh int           // refresh trigger: the Nth refresh call (0: a time trigger)
	Action    string
	N         int
	Dur       time.Duration
}

func (s Step) String() string {
	when := "at " + s.After.String()
	if s.AtRefresh > 0 {
		when = fmt.Sprintf("at refresh %d", s.AtRefresh)
	}
	return fmt.Sprintf("scenario line %d (%s %s)", s.Line, when, s.Action)
}

// ParseScenario reads a scenario file; an error names the line.
func ParseScenario(r io.Reader) ([]Step, error) {
	var steps []Step
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		st, err := parseStep(f)
		if err != nil {
			return nil, fmt.Errorf("scenario line %d %q: %v", n, strings.TrimSpace(line), err)
		}
		st.Line = n
		steps = append(steps, st)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return steps, nil
}

func parseStep(f []string) (Step, error) {
	var st Step
	if f[0] != "at" || len(f) < 3 {
		return st, fmt.Errorf("want 'at DURATION ACTION' or 'at refresh N ACTION'")
	}
	rest := f[2:]
	if f[1] == "refresh" {
		n, err := strconv.Atoi(f[2])
		if err != nil || n < 1 || len(f) < 4 {
			return st, fmt.Errorf("want 'at refresh N ACTION' with N ≥ 1")
		}
		st.AtRefresh, rest = n, f[3:]
	} else {
		d, err := time.ParseDuration(f[1])
		if err != nil || d < 0 {
			return st, fmt.Errorf("%q: want a duration such as 2s", f[1])
		}
		st.After = d
	}
	return st, parseAction(&st, rest)
}

func parseAction(st *Step, f []string) error {
	st.Action = f[0]
	arg := func() (string, error) {
		if len(f) != 2 {
			return "", fmt.Errorf("%s wants one argument", f[0])
		}
		return f[1], nil
	}
	switch f[0] {
	case "expire", "reject-next-refresh", "clear":
		if len(f) != 1 {
			return fmt.Errorf("%s takes no argument", f[0])
		}
	case "expire-next":
		a, err := arg()
		if err != nil {
			return err
		}
		if st.N, err = strconv.Atoi(a); err != nil || st.N < 1 {
			return fmt.Errorf("expire-next %q: want a count ≥ 1", a)
		}
	case "fail":
		if a, err := arg(); err != nil || a != "503" {
			return fmt.Errorf("fail: want 'fail 503' (the status observe injects)")
		}
	case "slow":
		a, err := arg()
		if err != nil {
			return err
		}
		if st.Dur, err = time.ParseDuration(a); err != nil || st.Dur < 0 {
			return fmt.Errorf("slow %q: want a duration such as 2s", a)
		}
	default:
		return fmt.Errorf("unknown action %q (expire, expire-next N, fail 503, reject-next-refresh, slow DUR, clear)", f[0])
	}
	return nil
}

// scenario runs steps against a proxy: the time steps on the proxy's clock (a test's manual
// clock moves them), the refresh steps when their refresh call arrives.
type scenario struct {
	mu        sync.Mutex
	atRefresh map[int][]Step
	stop      chan struct{}
	stopOnce  sync.Once
}

// RunScenario starts steps (faults must be on). The time steps count from now; Close stops the
// ones not yet due.
func (p *Proxy) RunScenario(steps []Step) error {
	if !p.faults.on {
		return ErrFaultsOff
	}
	sc := &scenario{atRefresh: map[int][]Step{}, stop: make(chan struct{})}
	for _, st := range steps {
		if st.AtRefresh > 0 {
			sc.atRefresh[st.AtRefresh] = append(sc.atRefresh[st.AtRefresh], st)
			continue
		}
		t := p.clock.NewTimer(st.After)
		go func() {
			select {
			case <-t.C():
				p.applyStep(st)
			case <-sc.stop:
				t.Stop()
			}
		}()
	}
	p.scenario.Store(sc)
	return nil
}

// refreshArrives applies the steps due at refresh call n.
func (p *Proxy) refreshArrives(n int) {
	sc := p.scenario.Load()
	if sc == nil {
		return
	}
	sc.mu.Lock()
	steps := sc.atRefresh[n]
	delete(sc.atRefresh, n)
	sc.mu.Unlock()
	for _, st := range steps {
		p.applyStep(st)
	}
}

func (p *Proxy) stopScenario() {
	if sc := p.scenario.Load(); sc != nil {
		sc.stopOnce.Do(func() { close(sc.stop) })
	}
}

func (p *Proxy) applyStep(st Step) {
	p.an.Note(st.String(), p.clock.Now())
	switch st.Action {
	case "expire":
		_ = p.ExpireNow()
	case "expire-next":
		_ = p.Expire401Next(st.N)
	case "fail":
		_ = p.Fail503Next(1)
	case "reject-next-refresh":
		_ = p.RevokeNext(1)
	case "slow":
		_ = p.SlowRefresh(st.Dur)
	case "clear":
		_ = p.ClearFaults()
	}
}
