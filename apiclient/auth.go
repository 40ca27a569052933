package apiclient

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-resty/resty/v2"

	"tokenscope/internal/human"
	"tokenscope/session"
)

// pair is a parsed login or refresh answer.
type pair struct {
	access, refresh session.Token
	rotated         bool
}

// Login logs in with the configured credentials, starting a new token family. Requests parked
// while the session was dead are then replayed in the order they arrived; their results are
// returned in that order.
func (e *Engine) Login(ctx context.Context) ([]Result, error) {
	ep := e.profile.Login
	fields := map[string]string{ep.UserField: e.cfg.Username, ep.PasswordField: e.cfg.Password}
	r := e.authRequest(ctx, ep, fields)
	sent := e.now()
	resp, err := r.Execute(ep.Method, ep.Path)
	recv := e.now()
	if err != nil {
		return nil, e.loginFailed(describeErr(err))
	}
	e.observeDate(resp.Header(), sent, recv)
	if st := resp.StatusCode(); st >= 300 && st < 400 {
		return nil, e.loginFailed(fmt.Sprintf("HTTP %d redirect to %q, not followed: credentials go to the login endpoint only", st, resp.Header().Get("Location")))
	} else if st >= 400 {
		return nil, e.loginFailed(fmt.Sprintf("HTTP %d: %s", st, e.bodySummary(resp)))
	}
	p, err := e.parsePair(resp, sent, recv, true)
	if err != nil {
		return nil, e.loginFailed(err.Error())
	}
	e.mu.Lock()
	logins := e.sess.Logins + 1
	e.sess = session.Session{
		State: session.StateActive, Access: p.access, Refresh: p.refresh, Generation: 1,
		Family: session.FamilyName(p.refresh, logins), Logins: logins, Skew: e.skew.Estimate(), Source: "login",
	}
	e.serial++
	e.verifyLocked()
	e.mu.Unlock()
	e.emit(session.Event{Kind: session.KindLogin, Generation: 1, Exp: p.access.ExpiresAt, Token: p.access.Fingerprint(),
		Reason: fmt.Sprintf("logged in as %s; gen #1 %s", e.cfg.Username, expiryText(p.access, e.serverNow()))})
	e.nudge()
	return e.replayParked(ctx), nil
}

// replayParked sends parked requests one at a time in the order the user sent them (request
// ids are given out as requests arrive). Requests of one burst park in whatever order their
// 401s came back, so the queue is sorted, not taken as parked. Requests parked while the
// replay runs are replayed too.
func (e *Engine) replayParked(ctx context.Context) []Result {
	var results []Result
	for {
		e.mu.Lock()
		if len(e.parked) == 0 || e.sess.State != session.StateActive {
			e.mu.Unlock()
			return results
		}
		if !e.parkedSorted {
			slices.SortStableFunc(e.parked, func(a, b *parkedReq) int { return cmp.Compare(a.id, b.id) })
			e.parkedSorted = true
		}
		pr := e.parked[0]
		e.parked = e.parked[1:]
		e.mu.Unlock()
		e.emit(session.Event{Kind: session.KindReplayed, RequestID: pr.id, Method: pr.req.Method, Path: pr.req.Path,
			Reason: "replaying after login"})
		results = append(results, e.do(ctx, &call{id: pr.id, req: pr.req, replayed: true}))
	}
}

func (e *Engine) loginFailed(reason string) error {
	reason = e.redact(reason)
	e.emit(session.Event{Kind: session.KindLoginFailed, Reason: reason})
	return fmt.Errorf("login failed: %s", reason)
}

// Logout forgets the tokens. Requests sent afterwards are parked until the next Login.
func (e *Engine) Logout() {
	e.mu.Lock()
	e.sess.State = session.StateLoggedOut
	e.sess.Access, e.sess.Refresh = session.Token{}, session.Token{}
	e.sess.Reason = "logged out"
	e.serial++
	e.mu.Unlock()
	e.emit(session.Event{Kind: session.KindLogout, Reason: "logged out by the user"})
}

// Parked returns how many requests wait for a login.
func (e *Engine) Parked() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.parked)
}

// RefreshNow refreshes at the user's request, even when the token is fresh.
func (e *Engine) RefreshNow(ctx context.Context) error {
	return e.refresh(ctx, session.WhyManual, 0, 0, "manual: asked by the user")
}

// refresh gets a new access token. With single flight on, concurrent callers share one call
// and a caller whose token was already replaced (usedSerial older than the current one) gets
// the new token without a call at all. usedSerial 0 means "refresh regardless".
func (e *Engine) refresh(ctx context.Context, why session.Why, usedSerial, reqID uint64, reason string) error {
	e.mu.Lock()
	if e.sess.State == session.StateLoginRequired || e.sess.State == session.StateLoggedOut {
		e.mu.Unlock()
		return ErrLoginRequired
	}
	if e.singleFlight && usedSerial != 0 && usedSerial < e.serial {
		e.mu.Unlock()
		return nil
	}
	if e.singleFlight && e.flight != nil {
		f := e.flight
		f.waiters++
		n := f.waiters
		e.mu.Unlock()
		e.emit(session.Event{Kind: session.KindRefreshWait, RequestID: reqID, RefreshID: f.id, Why: why, Waiting: n,
			Reason: fmt.Sprintf("waiting on refresh #%d (%d queued)", f.id, n)})
		return f.wait(ctx)
	}
	e.refreshSeq++
	f := &flight{id: e.refreshSeq, done: make(chan struct{})}
	if e.singleFlight {
		e.flight = f
	}
	e.refreshing++
	e.sess.State = session.StateRefreshing
	refreshTok := e.sess.Refresh
	e.mu.Unlock()

	e.emit(session.Event{Kind: session.KindRefreshStart, RequestID: reqID, RefreshID: f.id, Why: why, Reason: reason,
		Token: refreshTok.Fingerprint()})
	// The refresh runs on its own: the request that started it may give up (its deadline, its
	// caller) like any request waiting on it, and the refresh still completes for the others.
	go func() {
		err := e.runRefresh(f.id, refreshTok)
		e.mu.Lock()
		if e.flight == f {
			e.flight = nil
		}
		e.refreshing--
		if e.refreshing == 0 && e.sess.State == session.StateRefreshing {
			e.sess.State = session.StateActive
		}
		e.mu.Unlock()
		f.err = err
		close(f.done)
	}()
	return f.wait(ctx)
}

// wait returns the refresh's outcome, or gives up when ctx ends first.
func (f *flight) wait(ctx context.Context) error {
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return fmt.Errorf("gave up waiting for refresh #%d: %w", f.id, ctx.Err())
	}
}

// runRefresh calls the refresh endpoint, retrying transient failures with capped exponential
// backoff. The call runs on its own context: the request that started it may be cancelled, but
// the others waiting on it must not be.
func (e *Engine) runRefresh(id uint64, refreshTok session.Token) error {
	wait := e.cfg.RefreshBackoff
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), e.cfg.RefreshTimeout)
		p, ferr := e.callRefresh(ctx, refreshTok)
		cancel()
		if ferr == nil {
			e.applyRefresh(id, p)
			return nil
		}
		ferr.Reason = e.redact(ferr.Reason, refreshTok.Raw)
		e.counters.refreshFailures.Add(1)
		e.emit(session.Event{Kind: session.KindRefreshFailed, RefreshID: id, Attempt: attempt, Transient: ferr.Transient,
			Reason: ferr.Reason})
		if !ferr.Transient {
			e.loginRequired("refresh rejected: " + ferr.Reason)
			return ferr
		}
		if attempt >= e.cfg.RefreshAttempts {
			ferr.Reason = fmt.Sprintf("%s (gave up after %d attempts; the session is kept)", ferr.Reason, attempt)
			return ferr
		}
		select {
		case <-time.After(wait):
		case <-e.stop:
			return ferr
		}
		wait = min(wait*2, e.cfg.MaxBackoff)
	}
}

func (e *Engine) loginRequired(reason string) {
	e.mu.Lock()
	already := e.sess.State == session.StateLoginRequired
	e.sess.State = session.StateLoginRequired
	e.sess.Reason = reason
	e.mu.Unlock()
	if !already {
		e.counters.loggedOut.Add(1)
		e.emit(session.Event{Kind: session.KindLogout, State: session.StateLoginRequired, Reason: "login required: " + reason})
	}
}

// callRefresh makes one refresh call and classifies its failure.
func (e *Engine) callRefresh(ctx context.Context, refreshTok session.Token) (pair, *RefreshError) {
	e.counters.refreshCalls.Add(1)
	ep := e.profile.Refresh
	r := e.authRequest(ctx, ep, map[string]string{ep.TokenField: refreshTok.Raw})
	sent := e.now()
	resp, err := r.Execute(ep.Method, ep.Path)
	recv := e.now()
	if err != nil {
		return pair{}, &RefreshError{Transient: true, Reason: describeErr(err)}
	}
	e.observeDate(resp.Header(), sent, recv)
	status := resp.StatusCode()
	if ok, why := e.profile.RefreshRejected.Match(status, resp.Header(), resp.Body()); ok {
		return pair{}, &RefreshError{Reason: why + ": " + e.bodySummary(resp, refreshTok.Raw)}
	}
	switch {
	case status >= 500 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests:
		return pair{}, &RefreshError{Transient: true, Reason: fmt.Sprintf("HTTP %d: %s", status, e.bodySummary(resp, refreshTok.Raw))}
	case status >= 300 && status < 400:
		return pair{}, &RefreshError{Reason: fmt.Sprintf("HTTP %d redirect to %q, not followed: a refresh token goes to the refresh endpoint only", status, resp.Header().Get("Location"))}
	case status >= 400:
		return pair{}, &RefreshError{Reason: fmt.Sprintf("HTTP %d: %s", status, e.bodySummary(resp, refreshTok.Raw))}
	}
	p, perr := e.parsePair(resp, sent, recv, false)
	if perr != nil {
		// A 200 the engine cannot read (an HTML error page from a proxy, a half-written body) may
		// well be right the next time: keep the session and retry.
		return pair{}, &RefreshError{Transient: true, Reason: perr.Error()}
	}
	return p, nil
}

// applyRefresh installs a refreshed pair.
func (e *Engine) applyRefresh(id uint64, p pair) {
	e.counters.refreshOK.Add(1)
	e.mu.Lock()
	if e.sess.State == session.StateLoginRequired || e.sess.State == session.StateLoggedOut {
		e.mu.Unlock()
		e.emit(session.Event{Kind: session.KindNote, RefreshID: id,
			Reason: fmt.Sprintf("refresh #%d succeeded but the session had already ended; its tokens are dropped", id)})
		return
	}
	e.sess.Access = p.access
	e.sess.Generation++
	rotated := p.rotated && p.refresh.Raw != e.sess.Refresh.Raw
	if rotated {
		e.sess.Refresh = p.refresh
		e.sess.Rotations++
	}
	e.sess.Source = "refresh"
	e.serial++
	e.verifyLocked()
	gen := e.sess.Generation
	e.mu.Unlock()
	rot := "refresh token kept"
	if rotated {
		rot = "refresh token rotated"
	}
	e.emit(session.Event{Kind: session.KindRefreshOK, RefreshID: id, Generation: gen, Exp: p.access.ExpiresAt,
		Rotated: rotated, Token: p.access.Fingerprint(),
		Reason: fmt.Sprintf("gen #%d %s; %s", gen, expiryText(p.access, e.serverNow()), rot)})
	e.nudge()
}

func (e *Engine) verifyLocked() {
	if e.cfg.Keys.Empty() {
		e.accessVer = session.Verify(e.sess.Access.Raw, session.Keys{})
		e.refreshVer = session.Verify(e.sess.Refresh.Raw, session.Keys{})
		return
	}
	e.accessVer = session.Verify(e.sess.Access.Raw, e.cfg.Keys)
	e.refreshVer = session.Verify(e.sess.Refresh.Raw, e.cfg.Keys)
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

// authRequest builds a login or refresh call: fields travel as the endpoint says.
func (e *Engine) authRequest(ctx context.Context, ep Endpoint, fields map[string]string) *resty.Request {
	r := e.auth.R().SetContext(ctx).SetHeader("Accept", "application/json")
	all := map[string]string{}
	for k, v := range ep.Extra {
		all[k] = v
	}
	if e.profile.OAuthClient {
		all["client_id"] = e.cfg.ClientID
		if e.cfg.ClientSecret != "" {
			all["client_secret"] = e.cfg.ClientSecret
		}
	}
	switch ep.Send {
	case SendHeader:
		for k, v := range fields {
			r.SetHeader(k, withScheme(ep.TokenScheme, v))
		}
		if len(all) > 0 {
			r.SetHeader("Content-Type", "application/json").SetBody(mustJSON(all))
		}
	case SendForm:
		form := url.Values{}
		for k, v := range all {
			form.Set(k, v)
		}
		for k, v := range fields {
			form.Set(k, v)
		}
		r.SetHeader("Content-Type", "application/x-www-form-urlencoded").SetBody([]byte(form.Encode()))
	default:
		for k, v := range fields {
			all[k] = v
		}
		r.SetHeader("Content-Type", "application/json").SetBody(mustJSON(all))
	}
	return r
}

func mustJSON(v map[string]string) []byte {
	b, _ := json.Marshal(v) // a map of strings always marshals
	return b
}

// parsePair reads the tokens out of a login or refresh answer and learns the server clock
// from the new access token's iat.
func (e *Engine) parsePair(resp *resty.Response, sent, recv time.Time, login bool) (pair, error) {
	// Opaque expiries are reckoned on the server's clock, like exp claims.
	e.mu.Lock()
	skew := e.skew.Estimate().Applied()
	e.mu.Unlock()
	p, err := parseTokenResponse(e.profile.Tokens, resp.Header().Get("Content-Type"), resp.Body(), recv.Add(skew), login)
	if err != nil {
		return pair{}, err
	}
	e.observeIat(p.access, sent, recv)
	return p, nil
}

// parseTokenResponse reads a login or refresh answer by the profile's token paths. Login needs
// both tokens; a refresh answer without a refresh token keeps the old one. It is a pure
// function of its input so that it can be fuzzed: the body comes from the network.
func parseTokenResponse(paths TokenPaths, contentType string, body []byte, serverRecv time.Time, login bool) (pair, error) {
	// An answer that carries tokens is never quoted in an error: tokens the parser could not
	// find are still tokens. Errors name content types, sizes and field names instead.
	if mt, _, _ := mime.ParseMediaType(contentType); mt != "" && !strings.Contains(mt, "json") {
		return pair{}, fmt.Errorf("answer is %s (%d bytes), not JSON", mt, len(body))
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return pair{}, errors.New("answer has an empty body")
	}
	var doc any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil {
		return pair{}, fmt.Errorf("answer is not JSON (%d bytes): %v", len(body), err)
	}
	str := func(path string) (string, error) {
		v, ok := lookupPath(doc, path)
		if !ok || v == nil {
			return "", fmt.Errorf("answer has no %q field (%s)", path, shapeOf(doc))
		}
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("answer's %q is a %s, not a string", path, jsonType(v))
		}
		if s == "" {
			return "", fmt.Errorf("answer's %q is empty", path)
		}
		return s, nil
	}
	access, err := str(paths.Access)
	if err != nil {
		return pair{}, err
	}
	var expiresIn time.Duration
	if paths.ExpiresIn != "" {
		if v, ok := lookupPath(doc, paths.ExpiresIn); ok {
			secs, err := strconv.ParseFloat(scalarString(v), 64)
			if err != nil || secs < 0 || secs > 10*365*24*3600 {
				return pair{}, fmt.Errorf("answer's %q is not a sensible number of seconds: %s", paths.ExpiresIn, snippet([]byte(scalarString(v))))
			}
			expiresIn = time.Duration(secs * float64(time.Second))
		}
	}
	p := pair{access: session.ParseToken(access, serverRecv, expiresIn)}
	if paths.Refresh != "" {
		if _, present := lookupPath(doc, paths.Refresh); present || login {
			rt, err := str(paths.Refresh)
			if err != nil {
				return pair{}, err
			}
			p.refresh = session.ParseToken(rt, serverRecv, 0)
			p.rotated = true
		}
	}
	return p, nil
}

// shapeOf names the top-level fields of a JSON answer, never their values.
func shapeOf(doc any) string {
	m, ok := doc.(map[string]any)
	if !ok {
		return "the answer is a JSON " + jsonType(doc)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, strconv.Quote(k))
	}
	sort.Strings(keys)
	if len(keys) > 12 {
		keys = append(keys[:12], "…")
	}
	if len(keys) == 0 {
		return "the answer is an empty object"
	}
	return "its fields: " + strings.Join(keys, ", ")
}

func jsonType(v any) string {
	switch v.(type) {
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	}
	return fmt.Sprintf("%T", v)
}

// snippet is the start of a body, printable and short, for error messages.
func snippet(b []byte) string {
	const n = 80
	s := string(b)
	if len(s) > n {
		s = s[:n]
		for !utf8.ValidString(s) && len(s) > 0 {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return strconv.Quote(s)
}

// bodySummary says what an error answer said: its message field when it has one, else the
// start of the body. The whole body is redacted before anything is taken from it, so that a
// cut cannot leave most of an echoed secret behind.
func (e *Engine) bodySummary(resp *resty.Response, extra ...string) string {
	body := []byte(e.redact(string(resp.Body()), extra...))
	for _, f := range []string{"error_description", "detail", "message", "error", "reason"} {
		if v, ok := lookupJSON(body, f); ok {
			if s, ok := v.(string); ok && s != "" {
				return e.redact(s, extra...) // a JSON escape may have hidden a secret from the first pass
			}
		}
	}
	if len(body) == 0 {
		return "empty body"
	}
	return snippet(body)
}

// observeDate learns the server clock from a Date header (one-second resolution). It runs on
// every answer, so it parses each distinct Date once and takes the lock once.
func (e *Engine) observeDate(h http.Header, sent, recv time.Time) {
	raw := h.Get("Date")
	if raw == "" {
		return
	}
	e.mu.Lock()
	d, ok := e.lastDate, e.lastDateRaw == raw
	if !ok {
		var err error
		if d, err = http.ParseTime(raw); err != nil {
			e.mu.Unlock()
			return
		}
		e.lastDate, e.lastDateRaw = d, raw
	}
	ev, show := e.observeLocked(d, sent, recv)
	e.mu.Unlock()
	if show {
		e.emit(ev)
	}
}

// observeIat learns the server clock from a token minted during the call.
func (e *Engine) observeIat(t session.Token, sent, recv time.Time) {
	if !t.IssuedAt.IsZero() {
		e.observe(t.IssuedAt, sent, recv)
	}
}

func (e *Engine) observe(stamp, sent, recv time.Time) {
	e.mu.Lock()
	ev, show := e.observeLocked(stamp, sent, recv)
	e.mu.Unlock()
	if show {
		e.emit(ev)
	}
}

// observeLocked adds a sample and returns a skew event when the estimate moved enough to tell
// the user; the caller holds e.mu and emits the event after unlocking.
func (e *Engine) observeLocked(stamp, sent, recv time.Time) (session.Event, bool) {
	est := e.skew.Observe(stamp, time.Second, sent, recv)
	e.sess.Skew = est
	show := est.Significant(time.Second) && human.Abs(est.Offset-e.skewShown) >= time.Second
	if show {
		e.skewShown = est.Offset
	} else if !est.Significant(time.Second) && e.skewShown != 0 && human.Abs(est.Offset) < time.Second {
		e.skewShown = 0
		show = true
	}
	if !show {
		return session.Event{}, false
	}
	dir := "ahead of"
	if est.Offset < 0 {
		dir = "behind"
	}
	reason := fmt.Sprintf("server clock %s %s this one (±%s); exp is compared with the server's time", human.Duration(human.Abs(est.Offset)), dir, human.Duration(est.Uncertainty))
	if !est.Significant(time.Second) {
		reason = fmt.Sprintf("server clock agrees with this one again (%+.1fs ±%s)", est.Offset.Seconds(), human.Duration(est.Uncertainty))
	}
	return session.Event{Kind: session.KindSkew, Skew: est.Offset, Reason: reason}, true
}

// backgroundLoop refreshes ahead of exp while the strategy is Background, idle or not.
func (e *Engine) backgroundLoop() {
	defer close(e.bgDone)
	retry := e.cfg.RefreshBackoff
	var last time.Time
	for {
		e.mu.Lock()
		strategy, state, tok, serial := e.strategy, e.sess.State, e.sess.Access, e.serial
		thr := e.thresholdFor(tok)
		left := tok.Remaining(e.sess.ServerNow(e.now()))
		e.mu.Unlock()

		wait := time.Hour // idle until nudged
		if strategy == Background && state == session.StateActive && tok.HasExpiry() {
			wait = left - thr
			// A server that hands out tokens already inside the threshold must not be hammered.
			if since := time.Since(last); wait <= 0 && since < time.Second {
				wait = time.Second - since
			}
			if wait <= 0 {
				last = time.Now()
				reason := fmt.Sprintf("background: %s left < %s", human.Duration(left), human.Duration(thr))
				err := e.refresh(context.Background(), session.WhyBackground, serial, 0, reason)
				var re *RefreshError
				if errors.As(err, &re) && re.Transient {
					wait = retry
					retry = min(retry*2, e.cfg.MaxBackoff)
				} else {
					retry = e.cfg.RefreshBackoff
					continue
				}
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-e.wake:
		case <-e.stop:
			t.Stop()
			return
		}
		t.Stop()
	}
}

// Resume installs tokens saved by an earlier run instead of logging in. If they are dead, the
// first refresh says so and the session asks for a login, as it would after any rejection.
func (e *Engine) Resume(s session.Stored, source string) {
	now := e.now()
	acc := session.ParseToken(s.Access, now, 0)
	if !acc.HasExpiry() && !s.AccessExp.IsZero() {
		acc.ExpiresAt, acc.ExpirySource = s.AccessExp, "expires_in"
	}
	ref := session.ParseToken(s.Refresh, now, 0)
	e.mu.Lock()
	logins := e.sess.Logins
	fam := s.Family
	if fam == "" {
		fam = session.FamilyName(ref, logins+1)
	}
	e.sess = session.Session{State: session.StateActive, Access: acc, Refresh: ref, Generation: max(s.Generation, 1),
		Family: fam, Rotations: s.Rotations, Logins: logins, Skew: e.skew.Estimate(), Source: source}
	e.serial++
	e.verifyLocked()
	gen := e.sess.Generation
	e.mu.Unlock()
	e.emit(session.Event{Kind: session.KindLogin, Generation: gen, Exp: acc.ExpiresAt, Token: acc.Fingerprint(),
		Reason: fmt.Sprintf("resumed from %s; gen #%d %s", source, gen, expiryText(acc, e.serverNow()))})
	e.nudge()
}

// Stored is the session as a session file keeps it.
func (e *Engine) Stored() session.Stored {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.sess
	st := session.Stored{Target: e.cfg.BaseURL, Profile: e.profile.Name, User: e.cfg.Username,
		Access: s.Access.Raw, Refresh: s.Refresh.Raw, Family: s.Family, Generation: s.Generation,
		Rotations: s.Rotations, SavedAt: e.now()}
	if !s.Access.JWT {
		st.AccessExp = s.Access.ExpiresAt
	}
	return st
}

// redact removes secrets from text built from a server's answer: servers do echo what they
// were sent ("wrong password hunter2", "bad token eyJ…"), and the text goes to the screen, the
// event log and exports. Each secret is also looked for in the forms an echo takes: URL-encoded
// (a form body) and JSON-escaped.
func (e *Engine) redact(s string, extra ...string) string {
	e.mu.Lock()
	secrets := append([]string{e.cfg.Password, e.cfg.ClientSecret, e.sess.Access.Raw, e.sess.Refresh.Raw}, extra...)
	e.mu.Unlock()
	for _, sec := range secrets {
		// Very short values would redact ordinary words; nothing that short is a secret worth
		// the damage.
		if len(sec) < 4 {
			continue
		}
		quoted, _ := json.Marshal(sec)
		escaped := string(quoted[1 : len(quoted)-1])
		for _, form := range []string{sec, url.QueryEscape(sec), url.PathEscape(sec), escaped, strings.ReplaceAll(escaped, "/", `\/`)} {
			s = strings.ReplaceAll(s, form, "[redacted]")
		}
	}
	return s
}
