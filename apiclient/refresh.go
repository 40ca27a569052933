package apiclient

// The refresh: single flight, retries with backoff, and installing the new tokens.

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"tokenscope/apiclient/oidc"
	"tokenscope/apiclient/profile"
	"tokenscope/apiclient/transport"
	"tokenscope/session"
)

// RefreshNow refreshes at the user's request, even when the token is fresh.
func (e *Engine) RefreshNow(ctx context.Context) error {
	return e.refresh(ctx, session.WhyManual, 0, 0, said("manual: asked by the user"))
}

// because is why a caller would start a refresh, put into words only when it does: of a
// burst's thousand callers at expiry one starts the refresh and the others join it, and
// formatting the sentence for each (durations through fmt) was a tenth of the burst's time.
type because func() string

// said is a reason already in words.
func said(s string) because { return func() string { return s } }

// refresh gets a new access token. With single flight on, concurrent callers share one call
// and a caller whose token was already replaced (usedSerial older than the current one) gets
// the new token without a call at all. usedSerial 0 means "refresh regardless".
func (e *Engine) refresh(ctx context.Context, why session.Why, usedSerial, reqID uint64, reason because) error {
	f, waiters, err := e.refresher.begin(&e.store, usedSerial)
	switch {
	case err != nil || f == nil:
		return err
	case waiters > 0:
		e.emit(&session.Event{Kind: session.KindRefreshWait, RequestID: reqID, RefreshID: f.id, Why: why, Waiting: waiters,
			Reason: "waiting on refresh #" + strconv.FormatUint(f.id, 10) + " (" + strconv.Itoa(waiters) + " queued)"}) // not fmt: once per waiter
		return f.wait(ctx)
	}
	e.emit(&session.Event{Kind: session.KindRefreshStart, RequestID: reqID, RefreshID: f.id, Why: why, Reason: reason(),
		Token: f.fp})
	// The refresh runs on its own: the request that started it may give up (its deadline, its
	// caller) like any request waiting on it, and the refresh still completes for the others.
	go func() {
		err := e.runRefresh(f)
		e.noteUse(f.fp, e.refresher.end(f))
		f.finish(err)
	}()
	return f.wait(ctx)
}

// runRefresh calls the refresh endpoint, retrying transient failures with capped exponential
// backoff. The call runs on its own context: the request that started it may be cancelled, but
// the others waiting on it must not be.
func (e *Engine) runRefresh(f *flight) error {
	wait := e.cfg.RefreshBackoff
	id, refreshTok, fp := f.id, f.token, f.fp
	for attempt := 1; ; attempt++ {
		e.noteUse(fp, e.refresher.present(fp))
		ctx, cancel := context.WithTimeout(context.Background(), e.cfg.RefreshTimeout)
		p, ferr := e.callRefresh(ctx, refreshTok)
		cancel()
		if ferr == nil {
			e.refresher.answered(fp, p.Rotated && p.Refresh.Raw != refreshTok.Raw)
			e.applyRefresh(id, p)
			return nil
		}
		// Redacted and clipped: the reason goes into events, the session's reason and every
		// waiting request's result.
		ferr.Reason = e.redactClip(ferr.Reason, refreshTok.Raw)
		if !ferr.Transient {
			ferr.Reason = e.refresher.explain(fp, ferr.Reason)
		}
		e.counters.refreshFailures.Add(1)
		e.emit(&session.Event{Kind: session.KindRefreshFailed, RefreshID: id, Attempt: attempt, Transient: ferr.Transient,
			Reason: ferr.Reason})
		if !ferr.Transient {
			return e.rejected(id, refreshTok, ferr)
		}
		if attempt >= e.cfg.RefreshAttempts {
			ferr.Reason = fmt.Sprintf("%s (gave up after %d attempts; the session is kept)", ferr.Reason, attempt)
			return ferr
		}
		select {
		case <-e.cfg.Clock.After(wait):
		case <-e.refresher.loop.stop:
			return ferr
		}
		wait = min(wait*2, e.cfg.MaxBackoff)
	}
}

// callRefresh makes one refresh call and classifies its failure.
func (e *Engine) callRefresh(ctx context.Context, refreshTok session.Token) (profile.Answer, *RefreshError) {
	e.counters.refreshCalls.Add(1)
	ep := e.profile.Refresh
	target := ep.Target() // url_env, or path (relative to the target, or absolute)
	if e.cfg.OIDC != nil {
		// A resumed session has not discovered the provider yet: its first refresh does.
		l, err := e.link(ctx)
		if err != nil {
			return profile.Answer{}, &RefreshError{Transient: true, Reason: oidc.Reason(err)}
		}
		if l.flow == oidc.FlowClientCredentials {
			return e.refreshClientCredentials(ctx, l)
		}
		target = l.client.Provider.TokenEndpoint
	}
	r := e.authRequest(ctx, ep, map[string]string{ep.TokenField: refreshTok.Raw})
	sent := e.now()
	ans, err := e.exchange(r, ep.Method, target)
	recv := e.now()
	reply := profile.Reply{Err: err, Redact: func(s string) string { return e.redactClip(s, refreshTok.Raw) }}
	if err == nil {
		e.observeDate(ans.header, sent, recv)
		reply.Status, reply.Header, reply.Body = ans.status, ans.header, ans.body
	}
	reply.ServerRecv = e.onServerClock(recv) // after observeDate: the answer's Date counts
	v := e.profile.RefreshVerdict(reply)
	if v.Outcome == profile.VerdictOK {
		p, err := e.keepAnswer(ans, v.Answer, sent, recv)
		if err == nil {
			return p, nil
		}
		// A refresh cookie the jar would not send back: as unreadable as a broken body.
		v = profile.Verdict{Outcome: profile.VerdictTransient, Cause: profile.CauseUnreadable, Why: err.Error(), Err: err}
	}
	return profile.Answer{}, e.refreshError(v, reply, e.authCall(ep.Method, target))
}

// refreshError words a failed refresh's verdict. Unexpected answers name the call; a
// recognised rejection is the expected end of a refresh token and names only why.
func (e *Engine) refreshError(v profile.Verdict, r profile.Reply, call func(string) string) *RefreshError {
	transient := v.Outcome == profile.VerdictTransient
	switch v.Cause {
	case profile.CauseTransport:
		return &RefreshError{Transient: true, Reason: transport.Describe(v.Err), Err: v.Err}
	case profile.CauseMatched:
		return &RefreshError{Reason: v.Why + ": " + v.Words}
	case profile.CauseRedirect:
		return &RefreshError{Reason: call(fmt.Sprintf("HTTP %d redirect to %q, not followed: a refresh token goes to the refresh endpoint only", r.Status, r.Header.Get("Location")))}
	case profile.CauseStatus:
		return &RefreshError{Transient: transient, Reason: call(fmt.Sprintf("HTTP %d: %s", r.Status, v.Words))}
	}
	// A 200 the engine cannot read (an HTML error page from a proxy, a half-written body) may
	// well be right the next time: keep the session and retry.
	return &RefreshError{Transient: transient, Reason: call(v.Why)}
}

// applyRefresh installs a refreshed pair.
func (e *Engine) applyRefresh(id uint64, p profile.Answer) {
	e.keepSecret(p.Access, p.Refresh, session.Token{})
	e.counters.refreshOK.Add(1)
	gen, rotated, ok, bindNote := e.store.refreshed(p, func() string { return e.bind(p, false) })
	if !ok {
		e.emit(&session.Event{Kind: session.KindNote, RefreshID: id,
			Reason: fmt.Sprintf("refresh #%d succeeded but the session had already ended; its tokens are dropped", id)})
		return
	}
	if bindNote != "" {
		e.Note(bindNote)
	}
	rot := "refresh token kept"
	if rotated {
		rot = "refresh token rotated"
	}
	e.emit(&session.Event{Kind: session.KindRefreshOK, RefreshID: id, Generation: gen, Exp: p.Access.ExpiresAt,
		Rotated: rotated, Token: p.Access.Fingerprint(),
		Reason: fmt.Sprintf("gen #%d %s; %s", gen, expiryText(p.Access, e.serverNow()), rot)})
	e.nudge()
}

// expiryText says when t expires; serverNow is the server's clock, which exp is read against.
func expiryText(t session.Token, serverNow time.Time) string {
	if !t.HasExpiry() {
		return "with no expiry"
	}
	exp := t.ExpiresAt.Local().Format("15:04:05")
	// Whole seconds: exp claims are whole seconds, and "29.0s" would claim a precision they lack.
	d := t.ExpiresAt.Sub(serverNow).Round(time.Second)
	if d > 0 {
		return fmt.Sprintf("exp %s (in %s)", exp, d)
	}
	return fmt.Sprintf("exp %s (expired %s ago)", exp, -d)
}
