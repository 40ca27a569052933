package observe

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"tokenscope/session"
)

// Finding rules, as DESIGN.md names them.
const (
	RuleStampede          = "stampede"
	RuleLostAfter401      = "lost-after-401"
	RuleRetryLoop         = "retry-loop"
	RuleLogoutOnTransient = "logout-on-transient"
	RuleExpiredTokenSent  = "expired-token-sent"
	RuleNeedless          = "refresh-without-need"
	RuleRotatedReused     = "rotated-token-reused"
	// RuleRejectedRetried: a refresh token presented again after the server rejected it.
	RuleRejectedRetried = "rejected-token-retried"
	// RuleServerAcceptedReused is a server finding: under rotation, the server accepted a refresh
	// token it had already rotated.
	RuleServerAcceptedReused = "server-accepted-reused-token"
)

// Rules lists every finding rule.
func Rules() []string {
	return []string{RuleStampede, RuleLostAfter401, RuleRetryLoop, RuleLogoutOnTransient, RuleExpiredTokenSent, RuleNeedless, RuleRotatedReused,
		RuleRejectedRetried, RuleServerAcceptedReused}
}

// maxPending bounds the 401s waiting for their retry: past it the oldest count as lost at once.
const maxPending = 1 << 16

// pending401 is a 401 answer waiting for the client to send its request again.
type pending401 struct {
	key    uint64
	id     uint64
	method string
	path   string
	token  string // the fingerprint the rejected request carried
	fam    *family
	at     time.Time
	chain  int
	done   bool
}

// pendingSet holds the unpaired 401s in the order they came (to expire them) and by request
// (to pair them).
type pendingSet struct {
	queue []*pending401
	byKey map[uint64][]*pending401
}

func newPendingSet() pendingSet { return pendingSet{byKey: map[uint64][]*pending401{}} }

func (s *pendingSet) add(p *pending401) {
	s.queue = append(s.queue, p)
	s.byKey[p.key] = append(s.byKey[p.key], p)
}

// take pairs a request with the oldest 401 of the same request that carried another token.
func (s *pendingSet) take(key uint64, token string, at time.Time, window time.Duration) *pending401 {
	list := s.byKey[key]
	for i, p := range list {
		if p.done || p.token == token || at.Sub(p.at) > window {
			continue
		}
		p.done = true
		s.byKey[key] = append(list[:i:i], list[i+1:]...)
		if len(s.byKey[key]) == 0 {
			delete(s.byKey, key)
		}
		return p
	}
	return nil
}

// expire removes and returns the 401s older than the window (all of them when all is set).
func (s *pendingSet) expire(now time.Time, window time.Duration, all bool) []*pending401 {
	var out []*pending401
	n := 0
	for n < len(s.queue) {
		p := s.queue[n]
		if !all && !p.done && now.Sub(p.at) <= window && len(s.queue)-n <= maxPending {
			break
		}
		n++
		if p.done {
			continue
		}
		p.done = true
		out = append(out, p)
		s.removeKey(p)
	}
	s.queue = append(s.queue[:0:0], s.queue[n:]...)
	return out
}

func (s *pendingSet) removeKey(p *pending401) {
	list := s.byKey[p.key]
	for i, q := range list {
		if q == p {
			s.byKey[p.key] = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(s.byKey[p.key]) == 0 {
		delete(s.byKey, p.key)
	}
}

// beginResource follows a request to the API: its token, an expired token, a retry of a 401.
func (a *Analyzer) beginResource(x *Exchange, raw string, at time.Time) {
	var t *tokenInfo
	if raw != "" {
		t = a.presentedToken(raw, false, at)
		if t.fam != nil {
			t.fam.lastUse = at
		}
	}
	x.access = t
	ev := session.Event{Kind: session.KindRequest, RequestID: x.id, Method: x.method, Path: x.path, Token: fp(t)}
	if t != nil {
		ev.Generation, ev.Reason = t.gen, t.fp
	}
	now := a.serverNow(at)
	expired := t != nil && !t.exp.IsZero() && !now.Before(t.exp)
	if expired {
		a.c.expiredSent++
		ev.Reason += fmt.Sprintf(", expired %s ago", short(now.Sub(t.exp)))
	}
	a.emit(ev, at)
	if expired && !t.expiredSent {
		t.expiredSent = true
		a.finding(RuleExpiredTokenSent, x.id, t.fp, fmt.Sprintf("%s: %s %s carried access token %s %s after its exp by the server's clock: check exp before sending and refresh first (or the client's clock is off)",
			t.fam.name(), x.method, x.path, t.describe(), short(now.Sub(t.exp))), at)
	}
	if t == nil {
		return
	}
	if p := a.pending.take(x.key, t.fp, at, a.window); p != nil {
		a.c.retried++
		x.chain = p.chain + 1
		a.emit(session.Event{Kind: session.KindRetry, RequestID: x.id, Method: x.method, Path: x.path, Token: t.fp, Attempt: x.chain + 1,
			Reason: fmt.Sprintf("resends #%d %s after its 401, with another token", p.id, short(at.Sub(p.at)))}, at)
		if x.chain == 2 {
			a.finding(RuleRetryLoop, x.id, t.fp, fmt.Sprintf("%s: %s %s was sent again after a 401 %d times (first #%d): after one refresh and one retry, a second 401 means the session is over; stop and ask for a login",
				t.fam.name(), x.method, x.path, x.chain, p.id), at)
		}
	}
}

// endResource reads a request's answer: a 401 waits for its retry.
func (a *Analyzer) endResource(x *Exchange, ans Answer, at time.Time) {
	if ans.Status != 401 {
		return
	}
	a.c.unauthorized++
	a.last401 = at
	if fam := famOf(x.access); fam != nil {
		fam.last401 = at
	}
	reason := "401 (not the profile's access-expired answer)"
	if ok, why := a.prof.AccessExpired.Match(ans.Status, ans.Header, ans.Body); ok {
		reason = why
	}
	a.emit(session.Event{Kind: session.KindUnauthorized, RequestID: x.id, Method: x.method, Path: x.path, Status: 401,
		Token: fp(x.access), Reason: reason + injectedSuffix(ans.Injected)}, at)
	a.pending.add(&pending401{key: x.key, id: x.id, method: x.method, path: x.path, token: fp(x.access),
		fam: famOf(x.access), at: at, chain: x.chain})
	if len(a.pending.queue) > maxPending {
		a.lost(a.pending.expire(at, a.window, false), at, "within "+short(a.window))
	}
}

// Sweep settles what time has decided by now: 401s past the retry window are lost, a transient
// refresh failure followed by silence is a finding, a stampede followed by a calm retry window
// is reported. The proxy calls it on a ticker.
func (a *Analyzer) Sweep(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lost(a.pending.expire(now, a.window, false), now, "within "+short(a.window))
	a.silenceRule(now)
	a.flushStampedes(now, false)
}

// Close ends the analysis at now: every 401 still unpaired is lost, stampedes not yet reported
// (or still running) are.
func (a *Analyzer) Close(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.silenceRule(now)
	a.lost(a.pending.expire(now, a.window, true), now, "before observing ended")
	a.flushEpisodes(now)
	a.flushStampedes(now, true)
}

// lost counts lost requests and names them, one finding per family; when says by when they were
// not sent again.
func (a *Analyzer) lost(ps []*pending401, now time.Time, when string) {
	if len(ps) == 0 {
		return
	}
	a.c.lost += int64(len(ps))
	byFam := map[*family][]*pending401{}
	var order []*family
	for _, p := range ps {
		if _, ok := byFam[p.fam]; !ok {
			order = append(order, p.fam)
		}
		byFam[p.fam] = append(byFam[p.fam], p)
	}
	for _, f := range order {
		list := byFam[f]
		if f != nil && f.end != nil {
			// Resending cannot work once the family is dead: no refresh will mint a token for it.
			a.finding(RuleLostAfter401, list[0].id, list[0].token, fmt.Sprintf("%s: %s answered 401, not sent again %s (%s), and none could succeed: %s, so the session is over and the client must log in again (resending is no use)%s",
				f.name(), plural(len(list), "request"), when, requestList(list), f.end.killed(), f.end.cure()), now)
			continue
		}
		a.finding(RuleLostAfter401, list[0].id, list[0].token, fmt.Sprintf("%s: %s answered 401, not sent again %s (%s): after the refresh, resend every request a 401 rejected (queue them while the refresh runs)",
			f.name(), plural(len(list), "request"), when, requestList(list)), now)
	}
}

// requestList names requests briefly: "GET /api/items ×44 (first #3)".
func requestList(ps []*pending401) string {
	counts := map[string]int{}
	var names []string
	for _, p := range ps {
		n := p.method + " " + p.path
		if counts[n] == 0 {
			names = append(names, n)
		}
		counts[n]++
	}
	sort.SliceStable(names, func(i, j int) bool { return counts[names[i]] > counts[names[j]] })
	if len(names) > 5 {
		names = append(names[:5], "…")
	}
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n
		if counts[n] > 1 {
			parts[i] = fmt.Sprintf("%s ×%d", n, counts[n])
		}
	}
	return strings.Join(parts, ", ") + fmt.Sprintf("; first #%d", ps[0].id)
}

// finding logs a finding and counts it. The caller holds a.mu.
func (a *Analyzer) finding(rule string, reqID uint64, token, sentence string, at time.Time) {
	a.c.findings[rule]++
	a.emit(session.Event{Kind: session.KindFinding, Rule: rule, RequestID: reqID, Token: token, Reason: sentence}, at)
}

// Summary is observe's last line; the issue fixes its fields.
type Summary struct {
	Requests                int64          `json:"requests"`
	Unauthorized            int64          `json:"unauthorized"`
	RetriedAfter401         int64          `json:"retried_after_401"`
	LostAfter401            int64          `json:"lost_after_401"`
	RefreshCalls            int64          `json:"refresh_calls"`
	RefreshRejected         int64          `json:"refresh_rejected"`
	RefreshTokenReused      int64          `json:"refresh_token_reused"`
	PeakConcurrentRefreshes int            `json:"peak_concurrent_refreshes"`
	Logins                  int64          `json:"logins"`
	ExpiredTokenSent        int64          `json:"expired_token_sent"`
	Findings                map[string]int `json:"findings"`
	// Events is how many events the analysis logged.
	Events uint64 `json:"events"`
}

// Summary counts what was seen so far.
func (a *Analyzer) Summary() Summary {
	a.mu.Lock()
	defer a.mu.Unlock()
	f := make(map[string]int, len(a.c.findings))
	for k, v := range a.c.findings {
		f[k] = v
	}
	c := a.c
	return Summary{Requests: c.requests, Unauthorized: c.unauthorized, RetriedAfter401: c.retried, LostAfter401: c.lost,
		RefreshCalls: c.refreshCalls, RefreshRejected: c.refreshRejected, RefreshTokenReused: c.reused,
		PeakConcurrentRefreshes: c.peak, Logins: c.logins, ExpiredTokenSent: c.expiredSent, Findings: f, Events: a.log.Total()}
}

// Text is the summary for a person.
func (s Summary) Text() string {
	var fs []string
	for _, r := range Rules() {
		if n := s.Findings[r]; n > 0 {
			fs = append(fs, fmt.Sprintf("%s ×%d", r, n))
		}
	}
	found := "no findings"
	if len(fs) > 0 {
		found = "findings: " + strings.Join(fs, ", ")
	}
	return fmt.Sprintf("%s · %d answered 401: %d retried, %d lost · %s (%d rejected, %d presented a refresh token again, at most %d at once) · %s · %d sent an expired access token · %s",
		plural(int(s.Requests), "request"), s.Unauthorized, s.RetriedAfter401, s.LostAfter401, plural(int(s.RefreshCalls), "refresh call"),
		s.RefreshRejected, s.RefreshTokenReused, s.PeakConcurrentRefreshes, plural(int(s.Logins), "login"), s.ExpiredTokenSent, found)
}
