package apiclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-resty/resty/v2"

	"tokenscope/apiclient/profile"
	"tokenscope/apiclient/sent"
	"tokenscope/apiclient/transport"
	"tokenscope/internal/human"
	"tokenscope/session"
)

type callKey struct{}

// call is one request's journey through resty's hooks.
type call struct {
	id     uint64
	req    profile.Request
	serial uint64 // the access token it carries (e.serial when attached)
	token  string // fingerprint of that token
	reason string // why the first attempt was rejected
	sentAt time.Time
	// refreshFailed is a transient refresh failure the request went on despite; a failed
	// request says so, or its reason would blame only the 401 that followed.
	refreshFailed string
	replayed      bool
	start         time.Time // when Do (or the replay) took it, by the engine's clock
	attempt       int       // 1 for the first send, 2 for the retry after a 401
	ctx           callCtx   // the context its attempts are sent with
	attempts      []Attempt // the attempts that went out, in buf unless there is a retry
	buf           [1]Attempt
}

// last is the attempt going out now; the caller knows there is one.
func (c *call) last() *Attempt { return &c.attempts[len(c.attempts)-1] }

// answered is when the last attempt's answer arrived; zero when none did.
func (c *call) answered() time.Time {
	if len(c.attempts) == 0 {
		return time.Time{}
	}
	return c.last().Answered
}

// callCtx carries a call through resty's hooks: the request's context with the call as the
// value of callKey. Kept inside the call, it costs no allocation of its own, as
// context.WithValue would on every request; Done and the rest are the embedded context's, so
// net/http still sees the cancelCtx below it. With a shared deadline (see deadlines) the
// embedded context is that deadline's and values is the caller's context, whose values the
// request keeps.
type callCtx struct {
	context.Context
	values context.Context
	c      *call
}

func (x *callCtx) Value(key any) any {
	if key == (callKey{}) {
		return x.c
	}
	if v := x.Context.Value(key); v != nil || x.values == nil {
		return v
	}
	return x.values.Value(key)
}

// RequestGeneration is the access-token generation the engine's request req carries (the
// attempt's), for a recorder below the engine's transport; 0 for any other request.
func RequestGeneration(req *http.Request) int {
	if c := callOf(req.Context()); c != nil && len(c.attempts) > 0 {
		return c.last().Generation // the call's own goroutine: the transport runs inside Execute
	}
	return 0
}

func callOf(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{}).(*call)
	return c
}

// Do sends a request through the engine and returns how it ended. It never panics on
// anything the network sends, and never drops a request: it ends OK, Failed with a reason, or
// Parked until the next Login.
func (e *Engine) Do(ctx context.Context, req profile.Request) Result {
	c := &call{id: e.counters.requests.Add(1), req: req} // a request's id is its number
	switch {
	case req.Err != "":
		return e.unsendable(c)
	case req.Provider == ProviderIntrospect:
		return e.introspect(ctx, c)
	}
	return e.do(ctx, c)
}

// unsendable ends a request its file could not complete (a method, a target, a variable's
// value): nothing goes out. Apart from Do and do (see failed), so that the request's stack
// holds no event of its own while it waits on the network.
func (e *Engine) unsendable(c *call) Result {
	now := e.now()
	e.emit(&session.Event{Kind: session.KindRequestFailed, RequestID: c.id, Method: c.req.Method, Path: c.req.Path, Reason: c.req.Err})
	return Result{ID: c.id, Request: c.req, Outcome: Failed, Reason: c.req.Err, Sent: now, Done: now}
}

func (e *Engine) do(ctx context.Context, c *call) Result {
	start := e.now()
	c.start = start
	res := Result{ID: c.id, Request: c.req, Replayed: c.replayed, Sent: start}
	if dead, why := e.mustPark(); dead {
		return e.park(c, why)
	}
	c.ctx = callCtx{Context: ctx, c: c}
	switch dl, ok := ctx.Deadline(); {
	case ok && time.Until(dl) <= e.cfg.Timeout:
		// The caller's deadline comes first and bounds the request: no timer of our own.
	case ctx.Done() == nil:
		// Nothing but the timeout can end the request (context.Background, as the TUI and fire
		// send with): it shares a deadline with the requests that start about when it does.
		c.ctx = callCtx{Context: e.deadlines.get(e.cfg.Timeout), values: ctx, c: c}
	default:
		tctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
		defer cancel()
		c.ctx.Context = tctx
	}
	ans, err := e.send(&c.ctx, c)
	res.Attempts = c.attempts
	if res.Done = c.answered(); err != nil || res.Done.IsZero() {
		res.Done = e.now() // no answer ended it: a retry may have waited long for its refresh
	}
	res.Duration = res.Done.Sub(start)
	switch {
	case errors.Is(err, ErrLoginRequired):
		return e.park(c, "the session needs a new login")
	case err != nil:
		return e.sendFailed(c, res, err)
	}
	res.Status, res.Header, res.Body = ans.status, ans.header, ans.body
	if res.Status >= 400 {
		return e.failed(c, res)
	}
	return res
}

// sendFailed ends a request that got no answer.
func (e *Engine) sendFailed(c *call, res Result, err error) Result {
	res.Outcome, res.Err = Failed, err
	res.Reason = transport.Describe(err) + c.refreshNote()
	e.emit(&session.Event{Kind: session.KindRequestFailed, RequestID: c.id, Method: c.req.Method, Path: c.req.Path,
		Duration: res.Duration, Reason: res.Reason})
	return res
}

// failed ends a request answered with an error status. It and sendFailed are apart from do
// so that do's frame, on the stack of every request in flight, holds no event: a burst's
// thousand goroutines each grew their stacks once more for it.
func (e *Engine) failed(c *call, res Result) Result {
	res.Outcome = Failed
	res.Reason = fmt.Sprintf("HTTP %d", res.Status)
	if ok, why := e.profile.AccessExpired.Match(res.Status, res.Header, res.Body); ok {
		// A 401 that survived: the strategy does not retry, or the retry was rejected too.
		// If meanwhile the session died (or the refusal shows it did), the request waits
		// for the next login instead.
		if len(res.Attempts) > 1 {
			e.confirmRevoked(&c.ctx, c)
		}
		if dead, _ := e.mustPark(); dead {
			return e.park(c, "rejected ("+why+") and the session needs a new login")
		}
		res.Reason = "unauthorized: " + why
		if len(res.Attempts) > 1 {
			res.Reason += " (also on the retry; not retried again)"
		}
	}
	res.Reason += c.refreshNote()
	e.emit(&session.Event{Kind: session.KindRequestFailed, RequestID: c.id, Method: c.req.Method, Path: c.req.Path,
		Status: res.Status, Duration: res.Duration, Reason: res.Reason})
	return res
}

// reply is an attempt's answer, its body read.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// send makes the attempts: a second one only when retryAfter401 asks for it. The engine
// retries by itself rather than through resty's retry loop (SetRetryCount), which cost every
// request its closures and options although the 401 retry is the only retry there is. As
// resty's loop did, it checks the context before asking for a retry, and says what failed on
// Config.Diagnostics in resty's words. resty hands the answer over unread (the api client
// does not parse responses) and read reads it.
func (e *Engine) send(ctx context.Context, c *call) (reply, error) {
	for {
		c.attempt++
		r := e.api.R().SetContext(ctx)
		for k, vs := range c.req.Header {
			for _, v := range vs {
				r.Header.Add(k, v)
			}
		}
		if len(c.req.Body) > 0 {
			r.SetBody(c.req.Body) // bytes: a retry sends the body again intact
		}
		var ans reply
		resp, err := r.Execute(c.req.Method, sent.JoinURL(e.attach.base, c.req.Path))
		if err == nil {
			ans, err = e.read(c, resp)
		}
		if err != nil {
			e.diag().Warnf("%v, Attempt %v", err, c.attempt)
		}
		if ctx.Err() != nil || err != nil || !e.retryAfter401(c, ans) {
			if err != nil {
				e.diag().Errorf("%v", err)
			}
			return ans, err
		}
	}
}

// read takes an attempt's answer and records it (afterResponse).
func (e *Engine) read(c *call, resp *resty.Response) (reply, error) {
	ans, err := e.readReply(resp)
	if err == nil {
		e.afterResponse(c, ans, time.Since(resp.Request.Time)) // resty's Time: sent to body read
	}
	return ans, err
}

// readReply reads an answer, its body capped at Config.MaxBodyBytes: the engine's clients
// hand every answer over unread (SetDoNotParseResponse), for resty's capped read copied each
// body through a 512-byte buffer into a second one, and matched the Content-Type with a
// regular expression for a decoding the engine never asks of it.
func (e *Engine) readReply(resp *resty.Response) (reply, error) {
	raw := resp.RawResponse
	body, err := transport.ReadBody(raw, e.cfg.MaxBodyBytes)
	if err != nil {
		return reply{}, err
	}
	return reply{status: raw.StatusCode, header: raw.Header, body: body}, nil
}

// mustPark reports whether requests must be parked now, and why: the session cannot send.
func (e *Engine) mustPark() (bool, string) { return e.store.dead() }

func (e *Engine) park(c *call, why string) Result {
	res := Result{ID: c.id, Request: c.req, Outcome: Parked, Reason: why, Replayed: c.replayed, Sent: c.start, Attempts: c.attempts}
	n, ok := e.parked.push(c.id, c.req)
	if !ok {
		res.Outcome, res.Reason = Failed, fmt.Sprintf("%s, and %d requests are already parked", why, e.cfg.MaxParked)
		e.emit(&session.Event{Kind: session.KindRequestFailed, RequestID: c.id, Method: c.req.Method, Path: c.req.Path, Reason: res.Reason})
		return res
	}
	e.emit(&session.Event{Kind: session.KindParked, RequestID: c.id, Method: c.req.Method, Path: c.req.Path, Waiting: n,
		Reason: fmt.Sprintf("%d waiting for a login · %s", n, why)}) // the count first: a long reason is cut on screen
	return res
}

// beforeRequest runs before every attempt: a proactive refresh on the first, the reactive
// refresh (or the stale-token shortcut) on the retry, then the token goes on. It reads the
// session once under the lock and the clock once, unless a refresh ran in between: it runs
// for every request.
func (e *Engine) beforeRequest(_ *resty.Client, r *resty.Request) error {
	c := callOf(r.Context())
	if c == nil {
		return nil
	}
	ctx := r.Context()
	now := c.start // the first attempt goes as Do takes the request: one clock read the less
	if c.attempt > 1 {
		now = e.now()
	}
	st := e.sendState(now)
	if c.attempt > 1 {
		if err := e.afterUnauthorized(ctx, c); err != nil {
			return err
		}
		now = e.now()
		st = e.sendState(now)
	} else if refreshed, err := e.maybeProactive(ctx, c, st); err != nil {
		return err
	} else if refreshed {
		now = e.now()
		st = e.sendState(now)
	}
	if st.state == session.StateLoginRequired || st.state == session.StateLoggedOut {
		return ErrLoginRequired
	}
	c.serial, c.token, c.sentAt = st.serial, st.cred.fp, now
	out := e.attach.outgoing(&c.req, st.cred, "")
	out.Apply(r.Header)
	if c.attempts == nil {
		c.attempts = c.buf[:0]
	}
	c.attempts = append(c.attempts, Attempt{Generation: st.gen, Token: st.cred.fp, Sent: now, Out: out})
	kind, reason := session.KindRequest, ""
	if c.attempt > 1 {
		kind, reason = session.KindRetry, fmt.Sprintf("retry with gen #%d after %s", st.gen, c.reason)
	}
	e.emit(&session.Event{Time: now, Kind: kind, RequestID: c.id, Method: c.req.Method, Path: c.req.Path, Attempt: c.attempt,
		Generation: st.gen, Token: c.token, Reason: reason})
	return nil
}

// sendState is what an attempt needs of the session, read under one lock.
type sendState struct {
	state     session.State
	strategy  Strategy
	serial    uint64
	gen       int
	cred      *credential // the token's header, fingerprint and threshold (the attacher's)
	hasExpiry bool
	left      time.Duration // the access token's time left by the server's clock
}

func (e *Engine) sendState(now time.Time) sendState {
	st := sendState{strategy: e.refresher.currentStrategy()}
	serverNow := e.skew.serverNow(now)
	e.store.read(func(sess *session.Session, serial uint64) {
		acc := &sess.Access
		st.state, st.serial, st.gen = sess.State, serial, sess.Generation
		st.cred = e.attach.credential(serial, acc, e.dpop.isBound())
		st.hasExpiry, st.left = acc.HasExpiry(), acc.Remaining(serverNow)
	})
	return st
}

// afterResponse records every answer and learns the server's clock from it.
func (e *Engine) afterResponse(c *call, ans reply, took time.Duration) {
	// The engine's clock, not resty's timestamps: skew is measured against the clock that
	// exp is compared with.
	recv := e.now()
	if len(c.attempts) > 0 {
		a := c.last()
		a.Status, a.Answered = ans.status, recv
	}
	e.observeDate(ans.header, c.sentAt, recv)
	e.emit(&session.Event{Time: recv, Kind: session.KindResponse, RequestID: c.id, Method: c.req.Method, Path: c.req.Path,
		Status: ans.status, Duration: took, Attempt: c.attempt, Token: c.token})
}

// retryAfter401 is the only reason a request is ever sent twice: the profile recognised the
// answer as "access token expired", this was the first attempt, and the strategy reacts to
// 401s. Network errors never cause a resend (a POST may have reached the server).
func (e *Engine) retryAfter401(c *call, ans reply) bool {
	ok, why := e.profile.AccessExpired.Match(ans.status, ans.header, ans.body)
	if !ok {
		return false
	}
	e.counters.unauthorized.Add(1)
	strategy := e.refresher.currentStrategy()
	ev := session.Event{Kind: session.KindUnauthorized, RequestID: c.id, Method: c.req.Method, Path: c.req.Path,
		Status: ans.status, Attempt: c.attempt, Token: c.token, Reason: why}
	retry := false
	switch {
	case c.attempt > 1:
		ev.Reason += " on the retry: reported, not retried again"
	case !strategy.reactive():
		ev.Reason += fmt.Sprintf(" (strategy %s does not react to 401s)", strategy)
	default:
		c.reason = why
		retry = true
	}
	e.emit(&ev)
	return retry
}

// afterUnauthorized runs before the retry: a refresh, unless the token the request carried has
// already been replaced, in which case the retry simply takes the new one.
func (e *Engine) afterUnauthorized(ctx context.Context, c *call) error {
	replaced, gen := e.store.replaced(c.serial)
	if e.refresher.singleFlight.Load() && replaced {
		e.emit(&session.Event{Kind: session.KindNote, RequestID: c.id, Generation: gen,
			Reason: fmt.Sprintf("late %s for a token already replaced: retrying with gen #%d, no refresh", c.reason, gen)})
		return nil
	}
	return e.proceedAfterRefresh(c, e.refresh(ctx, session.WhyReactive, c.serial, c.id, func() string { return "reactive: " + c.reason }))
}

func (c *call) refreshNote() string {
	if c.refreshFailed == "" {
		return ""
	}
	return "; the refresh before it failed: " + c.refreshFailed
}

// maybeProactive refreshes before the first attempt when the token is within the threshold;
// refreshed reports that it tried.
func (e *Engine) maybeProactive(ctx context.Context, c *call, st sendState) (refreshed bool, err error) {
	if !st.strategy.proactive() || st.state == session.StateLoginRequired || !st.hasExpiry || st.left > st.cred.threshold {
		return false, nil
	}
	left, threshold := st.left, st.cred.threshold
	reason := func() string {
		if left <= 0 {
			return fmt.Sprintf("proactive: expired %s ago", human.Duration(-left))
		}
		return fmt.Sprintf("proactive: %s left < %s", human.Duration(left), human.Duration(threshold))
	}
	return true, e.proceedAfterRefresh(c, e.refresh(ctx, session.WhyProactive, st.serial, c.id, reason))
}

// proceedAfterRefresh decides what a request does after the refresh it waited for: a fatal
// failure parks it (ErrLoginRequired); a transient one lets it go on with the token it has
// (the server may still take it), noting the failure for its result.
func (e *Engine) proceedAfterRefresh(c *call, err error) error {
	if err == nil {
		return nil
	}
	var re *RefreshError
	if errors.As(err, &re) && re.Transient {
		c.refreshFailed = re.Reason
		return nil
	}
	if errors.Is(err, ErrLoginRequired) || errors.As(err, &re) {
		return ErrLoginRequired
	}
	return err
}
