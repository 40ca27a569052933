package observe

// The observed session as the TUI draws it: the client's latest tokens, their generation and
// family, and whether its session is alive, in the engine's Snapshot shape so that the same
// panels show it.

import (
	"fmt"
	"sort"
	"strings"

	"tokenscope/apiclient"
	"tokenscope/session"
)

// current is the client's latest session as the traffic shows it. The raw tokens are the
// ones the client holds now (the TUI masks them until revealed); older ones are forgotten.
type current struct {
	access, refresh session.Token
	gen, rotations  int
	logins          int
	family          string
	state           session.State
	reason          string
	end             session.End
}

// sawLogin records a login's tokens as the client's session.
func (c *current) sawLogin(acc, ref session.Token, family string) {
	c.access, c.refresh, c.family = acc, ref, strings.TrimPrefix(family, "family ")
	c.gen, c.rotations = 1, 0
	c.logins++
	c.state, c.reason, c.end = session.StateActive, "", session.EndNone
}

// sawRefresh records a refresh's tokens; ref is empty when the server kept the refresh token.
func (c *current) sawRefresh(acc, ref session.Token) {
	c.access = acc
	c.gen++
	if !ref.Empty() && ref.Raw != c.refresh.Raw {
		c.refresh = ref
		c.rotations++
	}
	c.state, c.reason, c.end = session.StateActive, "", session.EndNone
}

// sawRejection records a rejected refresh: the client's session is over until it logs in.
func (c *current) sawRejection(end session.End, why string) {
	c.state, c.reason, c.end = session.StateLoginRequired, why, end
}

// Snapshot is the observed session in the engine's shape, for the TUI's panels.
func (p *Proxy) Snapshot() apiclient.Snapshot { return p.an.Snapshot() }

// Snapshot is the observed session in the engine's shape.
func (a *Analyzer) Snapshot() apiclient.Snapshot {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.cur
	st := c.state
	if st == 0 {
		st = session.StateLoggedOut
	}
	if len(a.flight) > 0 && st == session.StateActive {
		st = session.StateRefreshing
	}
	return apiclient.Snapshot{
		Session: session.Session{State: st, Access: c.access, Refresh: c.refresh, Generation: c.gen, Family: c.family,
			Rotations: c.rotations, Logins: c.logins, Reason: c.reason, End: c.end, Skew: a.skew.Estimate(), Source: "your app"},
		Target: a.target, Profile: a.prof.Name, Strategy: "observed", SingleFlight: true,
		Threshold: c.access.Lifetime() / 6, Refreshing: len(a.flight),
	}
}

// SummaryLines are the counters and the findings by rule, one per line, for the TUI.
func (p *Proxy) SummaryLines() []string {
	s := p.Summary()
	lines := []string{
		fmt.Sprintf("%d requests · %d answered 401 · %d sent again after a 401 · %d lost after a 401", s.Requests, s.Unauthorized, s.RetriedAfter401, s.LostAfter401),
		fmt.Sprintf("%d refresh calls · %d rejected · %d refresh tokens presented again · at most %d at once", s.RefreshCalls, s.RefreshRejected, s.RefreshTokenReused, s.PeakConcurrentRefreshes),
		fmt.Sprintf("%d logins · %d requests with an expired access token", s.Logins, s.ExpiredTokenSent),
	}
	rules := make([]string, 0, len(s.Findings))
	for r, n := range s.Findings {
		if n > 0 {
			rules = append(rules, r)
		}
	}
	if len(rules) == 0 {
		return append(lines, "", "no findings so far")
	}
	sort.Strings(rules)
	parts := make([]string, 0, len(rules))
	for _, r := range rules {
		parts = append(parts, fmt.Sprintf("%s ×%d", r, s.Findings[r]))
	}
	return append(lines, "", "findings: "+strings.Join(parts, " · "))
}
