package observe

import (
	"fmt"
	"net/http"
	"time"

	"tokenscope/apiclient/profile"
	"tokenscope/session"
)

// raceWindow is how soon after a rotation a client presenting the old refresh token again is
// racing itself (a stampede: a request or a tab that had not seen the new token yet) rather than
// keeping the old token for good (rotated-token-reused).
const raceWindow = time.Second

// beginRefresh follows a refresh call: its token, its reuse, concurrency, and the rules that are
// decided when it starts. The caller holds a.mu.
func (a *Analyzer) beginRefresh(x *Exchange, presented string, at time.Time) {
	a.c.refreshCalls++
	a.refSeq++
	x.refreshID = a.refSeq
	var t *tokenInfo
	if presented != "" {
		t = a.presentedToken(presented, true, at)
		if t.fam == nil {
			t.fam = a.newFamily(true)
		}
	}
	x.refresh = t
	fam := famOf(t)
	ev := session.Event{Kind: session.KindRefreshStart, RequestID: x.id, RefreshID: x.refreshID, Method: x.method, Path: x.path, Token: fp(t),
		Reason: "presents no refresh token the profile can find", Why: session.WhyProactive}
	if !a.last401.IsZero() && at.Sub(a.last401) <= a.window {
		ev.Why = session.WhyReactive // a 401 came just before: the app refreshes in answer to it
	}
	if t != nil {
		ev.Reason = "presents " + t.fp
	}
	if t != nil && t.presented > 0 {
		a.c.reused++
		x.reused = true
		ev.Reason += fmt.Sprintf(" for the %s time", ordinal(t.presented+1))
	}
	a.emit(ev, at)
	a.flight[x] = struct{}{}
	a.c.peak = max(a.c.peak, len(a.flight))
	if fam != nil {
		fam.lastUse = at
		fam.failAt = time.Time{} // the client retries the refresh: no logout
		fam.inflight++
		if fam.inflight > 1 {
			a.joinEpisode(fam, x, at)
		} else if t != nil {
			a.sequentialRules(x, t, at)
		}
	}
	if t != nil {
		t.presented++
	}
}

func famOf(t *tokenInfo) *family {
	if t == nil {
		return nil
	}
	return t.fam
}

// sequentialRules judges a refresh call that has no sibling in flight: a token presented again
// after the server rejected it, or after a rotation, or while the access token its last refresh
// minted is fresh; else a refresh the access token did not need yet. (Racing calls meeting a
// rejection are the stampede's doing, named as such.)
func (a *Analyzer) sequentialRules(x *Exchange, t *tokenInfo, at time.Time) {
	now := a.serverNow(at)
	fam := t.fam
	switch {
	case t.rejected != nil:
		a.rejectedRetriedRule(x, t, at)
	case t.rotatedBy != nil && at.Sub(t.rotatedAt) <= raceWindow:
		x.raced = true
		if !t.stampeded {
			t.stampeded = true
			a.finding(RuleStampede, x.id, t.fp, fmt.Sprintf("%s: refresh token %s presented again %s after the server rotated it to %s (refresh #%d): two tabs or processes of one app (or two requests of one) refresh on their own; share one refresh between them (single flight; across tabs a lock or a BroadcastChannel)",
				fam.name(), t.fp, short(at.Sub(t.rotatedAt)), t.rotatedBy.fp, x.refreshID), at)
		}
	case t.rotatedBy != nil:
		if !t.reusedOnce {
			t.reusedOnce = true
			a.finding(RuleRotatedReused, x.id, t.fp, fmt.Sprintf("%s: the client presented refresh token %s again %s after a rotation replaced it with %s (refresh #%d): store the refresh token every refresh answer returns and send that one",
				fam.name(), t.fp, short(at.Sub(t.rotatedAt)), t.rotatedBy.fp, x.refreshID), at)
		}
	case t.presented > 0 && t.minted.fractionLeft(now) > 0.5:
		if !t.stampeded {
			t.stampeded = true
			m := t.minted
			a.finding(RuleStampede, x.id, t.fp, fmt.Sprintf("%s: refresh token %s presented again while the access token its previous refresh minted, %s, still has %s of %s left (refresh #%d): a 401 that arrives after a refresh finished must retry with the new token, not refresh again",
				fam.name(), t.fp, m.describe(), short(m.exp.Sub(now)), short(m.life), x.refreshID), at)
		}
	default:
		a.needlessRule(x, fam, now, at)
	}
}

// needlessRule: a refresh while the family's access token has most of its life left and no
// 401 asked for it.
func (a *Analyzer) needlessRule(x *Exchange, fam *family, now, at time.Time) {
	acc := fam.access
	if acc == nil || acc.needless || acc.fractionLeft(now) <= 0.5 {
		return
	}
	if !fam.last401.IsZero() && at.Sub(fam.last401) <= a.window {
		return // the server said 401: whatever exp says, the refresh was needed
	}
	acc.needless = true
	a.finding(RuleNeedless, x.id, acc.fp, fmt.Sprintf("%s: refresh #%d while access token %s had %s of its %s left: refresh when exp is near or after a 401, not on every page load or on a timer that fires too early",
		fam.name(), x.refreshID, acc.describe(), short(acc.exp.Sub(now)), short(acc.life)), at)
}

// endRefresh reads a refresh answer: new tokens and rotation, a rejection, or a transient failure.
func (a *Analyzer) endRefresh(x *Exchange, ans Answer, at time.Time) {
	a.leaveFlight(x, at)
	v := a.prof.RefreshVerdict(profile.Reply{Status: ans.Status, Header: ans.Header, Body: ans.Body, ServerRecv: a.serverNow(at)})
	switch {
	case v.Outcome == profile.VerdictRejected:
		// The reason names what matched, never a value the server chose.
		a.c.refreshRejected++
		rej := rejectionOf(x, v.Why+injectedSuffix(ans.Injected), at)
		if t := x.refresh; t != nil && t.rejected == nil {
			t.rejected = rej
		}
		if fam := famOf(x.refresh); fam != nil {
			fam.dead, fam.failAt = true, time.Time{}
			if rej.moreTelling(fam.end) {
				fam.end = rej
			}
		}
		a.emit(session.Event{Kind: session.KindRefreshFailed, RequestID: x.id, RefreshID: x.refreshID, Status: ans.Status,
			Token: fp(x.refresh), Reason: "rejected: " + v.Why + injectedSuffix(ans.Injected)}, at)
		a.cur.sawRejection(rej.sessionEnd(), "refresh rejected: "+v.Why)
		return
	case v.Cause == profile.CauseStatus:
		a.refreshTransient(x, fmt.Sprintf("HTTP %d%s", ans.Status, injectedSuffix(ans.Injected)), at)
		return
	case v.Outcome == profile.VerdictTransient:
		a.refreshTransient(x, "answer not readable: "+v.Why, at)
		return
	}
	tok := v.Answer
	a.applyRefresh(x, tok.Access, tok.Refresh, at)
}

// applyRefresh records the tokens a successful refresh issued.
func (a *Analyzer) applyRefresh(x *Exchange, acc, ref session.Token, at time.Time) {
	t := x.refresh
	fam := famOf(t)
	if fam == nil {
		fam = a.newFamily(true)
	}
	fam.failAt = time.Time{}
	a.acceptedReusedRule(x, t, at)
	ai := a.issuedToken(acc, false, fam, at)
	ev := session.Event{Kind: session.KindRefreshOK, RequestID: x.id, RefreshID: x.refreshID, Generation: ai.gen,
		Exp: ai.exp, Token: ai.fp, Duration: at.Sub(x.start)}
	if !ref.Empty() && (t == nil || ref.Fingerprint() != t.fp) {
		ri := a.issuedToken(ref, true, fam, at)
		ev.Rotated = true
		ev.Reason = fmt.Sprintf("access %s; rotated: refresh token %s → %s", ai.fp, fp(t), ri.fp)
		if t != nil && t.rotatedBy == nil {
			t.rotatedBy, t.rotatedAt = ri, at
		}
	} else {
		ev.Reason = "access " + ai.fp + "; refresh token kept"
	}
	if t != nil {
		t.minted = ai
	}
	a.cur.sawRefresh(acc, ref)
	a.emit(ev, at)
}

// refreshTransient records a refresh that failed in a way that leaves the session good: 5xx, a
// timeout, a network error, an answer that could not be read.
func (a *Analyzer) refreshTransient(x *Exchange, reason string, at time.Time) {
	a.leaveFlight(x, at)
	a.emit(session.Event{Kind: session.KindRefreshFailed, RequestID: x.id, RefreshID: x.refreshID, Transient: true,
		Attempt: 1, Token: fp(x.refresh), Reason: reason}, at)
	t := x.refresh
	if t == nil || t.fam == nil || t.fam.dead || (!t.exp.IsZero() && !a.serverNow(at).Before(t.exp)) {
		return // no session, or one that was over anyway: a login after this is no mistake
	}
	t.fam.failAt, t.fam.failWhy, t.fam.failRefresh = at, reason, x.refreshID
}

// leaveFlight takes a refresh call out of the calls in flight (once); when its family has none
// left, a run of concurrent calls ends (see stampede.go).
func (a *Analyzer) leaveFlight(x *Exchange, at time.Time) {
	if _, ok := a.flight[x]; !ok {
		return
	}
	delete(a.flight, x)
	fam := famOf(x.refresh)
	if fam == nil {
		return
	}
	fam.inflight--
	if fam.inflight == 0 && fam.episode != nil {
		a.endEpisode(fam, x.id, at)
	}
}

// endLogin reads a login answer; a login right after a transient refresh failure is the
// logout-on-transient finding.
func (a *Analyzer) endLogin(x *Exchange, ans Answer, at time.Time) {
	if ans.Status < 200 || ans.Status >= 300 {
		a.emit(session.Event{Kind: session.KindLoginFailed, RequestID: x.id, Status: ans.Status, Reason: http.StatusText(ans.Status)}, at)
		return
	}
	tok, err := a.prof.ParseAnswer(ans.Header, ans.Body, a.serverNow(at), true)
	if err != nil {
		a.emit(session.Event{Kind: session.KindLoginFailed, RequestID: x.id, Status: ans.Status, Reason: "answer not readable: " + err.Error()}, at)
		return
	}
	for _, f := range a.fams {
		if !f.failAt.IsZero() && !f.dead && at.Sub(f.failAt) <= a.window {
			a.finding(RuleLogoutOnTransient, x.id, "", fmt.Sprintf("%s: login %s after refresh #%d failed (%s) while the refresh token was still good: retry a transient refresh failure (5xx, timeout) with backoff instead of sending the user to log in",
				f.name(), short(at.Sub(f.failAt)), f.failRefresh, f.failWhy), at)
			f.failAt = time.Time{}
		}
	}
	fam := a.newFamily(false)
	ai := a.issuedToken(tok.Access, false, fam, at)
	reason := fam.name() + ": access " + ai.fp
	if !tok.Refresh.Empty() {
		ri := a.issuedToken(tok.Refresh, true, fam, at)
		reason += ", refresh " + ri.fp
	}
	a.cur.sawLogin(tok.Access, tok.Refresh, fam.name())
	a.emit(session.Event{Kind: session.KindLogin, RequestID: x.id, Generation: ai.gen, Exp: ai.exp, Token: ai.fp, Reason: reason}, at)
}

// silenceRule: a transient refresh failure followed by nothing at all for the retry window.
func (a *Analyzer) silenceRule(now time.Time) {
	for _, f := range a.fams {
		if f.failAt.IsZero() || f.dead || now.Sub(f.failAt) <= a.window || f.lastUse.After(f.failAt) {
			continue
		}
		a.finding(RuleLogoutOnTransient, 0, "", fmt.Sprintf("%s: after refresh #%d failed (%s) the client went silent for %s although the refresh token was still good: retry a transient refresh failure with backoff instead of giving up on the session",
			f.name(), f.failRefresh, f.failWhy, short(now.Sub(f.failAt))), now)
		f.failAt = time.Time{}
	}
}

func injectedSuffix(f string) string {
	if f == "" {
		return ""
	}
	return " (injected by tokenscope: " + f + ")"
}

func ordinal(n int) string {
	suffix := "th"
	if n%100 < 11 || n%100 > 13 {
		switch n % 10 {
		case 1:
			suffix = "st"
		case 2:
			suffix = "nd"
		case 3:
			suffix = "rd"
		}
	}
	return fmt.Sprintf("%d%s", n, suffix)
}
