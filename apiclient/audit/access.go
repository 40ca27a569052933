package audit

// The access token's rules: its expiry and leeway, whether a refresh ends the previous one,
// the lifetimes and claims, and what the API answers a token it refuses.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"tokenscope/apiclient/profile"
	"tokenscope/internal/sanitize"
	"tokenscope/session"
)

// dateResolution is how far the server's clock may be ahead of what its Date header says.
const dateResolution = time.Second

// apiFact says whether the audit's API request works with a fresh token: the checks that read
// the API's answers mean nothing otherwise.
type apiFact struct{ skip string }

func (l *lab) apiWorks(ctx context.Context, f *family) string {
	if l.api != nil {
		return l.api.skip
	}
	x := l.apiCall(ctx, f.access.Raw, "(a fresh access token: does the API request work?)")
	a := apiFact{}
	switch {
	case f.dpopBound():
		a.skip = "The access tokens are DPoP-bound: the audit does not prove possession of their key."
	case x.err != nil:
		a.skip = "The API request got no answer: " + l.redact(x.err.Error())
	case !x.ok():
		a.skip = fmt.Sprintf("The API request %s %s answered %d with a fresh token: name one the user may make (METHOD PATH).", l.t.API.Method, l.t.API.Path, x.status)
	}
	l.api = &a
	return a.skip
}

type accessExpiryValue struct {
	Enforced   *bool    `json:"enforced"`
	LeewaySMax *float64 `json:"leeway_s_max"`
}

type accessExpiryCheck struct{}

func (accessExpiryCheck) id() string { return "access_expiry" }

func (accessExpiryCheck) run(ctx context.Context, l *lab) Result {
	const id = "access_expiry"
	f, x, err := l.login(ctx)
	if err != nil {
		return skipped(id, err.Error())
	}
	if skip := l.apiWorks(ctx, f); skip != "" {
		return skipped(id, skip)
	}
	exp := f.access.ExpiresAt
	if exp.IsZero() {
		return skipped(id, "The access token has neither exp nor expires_in: there is no expiry to test.")
	}
	if life := exp.Sub(l.serverTime(x.recv)); life > l.s.MaxWait {
		return skipped(id, fmt.Sprintf("The access token lives %s, longer than the longest wait allowed (%s).", life.Round(time.Second), l.s.MaxWait))
	}
	base := l.localFor(exp)
	val := accessExpiryValue{Enforced: new(bool)}
	for _, d := range graceDelays(l.s.MaxWait) {
		if err := l.waitUntil(ctx, base.Add(d), fmt.Sprintf("presenting the access token %s past its exp", d)); err != nil {
			return skipped(id, err.Error())
		}
		x := l.apiCall(ctx, f.access.Raw, fmt.Sprintf("(access token %s past its exp by the server's clock)", d))
		if x.ok() {
			continue
		}
		if x.err != nil || x.status >= 500 {
			return skipped(id, "The API failed for now (a 5xx or no answer): try again later.")
		}
		*val.Enforced = true
		leeway := seconds(d + dateResolution)
		val.LeewaySMax = &leeway
		break
	}
	r := Result{Value: val, Reference: "RFC 7519 §4.1.4"}
	switch {
	case !*val.Enforced:
		r.Status, r.Summary = Fail, fmt.Sprintf("The API still accepts an access token %s after its exp: a stolen one outlives its lifetime.", l.s.MaxWait)
	case *val.LeewaySMax > 60:
		r.Status, r.Summary = Warn, fmt.Sprintf("The API accepts expired access tokens for up to %.0f s: clients that refresh at exp see no harm, a stolen token lives that much longer.", *val.LeewaySMax)
	default:
		r.Status, r.Summary = Pass, fmt.Sprintf("The API refuses an expired access token within %.0f s of its exp (Date has whole seconds): refresh before exp, not after a 401.", *val.LeewaySMax)
	}
	return r
}

type oldAccessCheck struct{}

func (oldAccessCheck) id() string { return "old_access_after_refresh" }

func (oldAccessCheck) run(ctx context.Context, l *lab) Result {
	const id = "old_access_after_refresh"
	f, _, err := l.login(ctx)
	if err != nil {
		return skipped(id, err.Error())
	}
	if skip := l.apiWorks(ctx, f); skip != "" {
		return skipped(id, skip)
	}
	old := f.access
	v, _ := l.refresh(ctx, f, f.refresh.Raw, "(while the access token is valid)")
	if v.Outcome != profile.VerdictOK {
		return skipped(id, fmt.Sprintf("The refresh did not succeed (%s): %s", v.Outcome, v.Why))
	}
	if old.HasExpiry() && !l.serverTime(l.s.Clock.Now()).Before(old.ExpiresAt) {
		return skipped(id, "The previous access token expired before it could be presented again.")
	}
	x := l.apiCall(ctx, old.Raw, "(the previous access token, after the refresh)")
	if x.err != nil || x.status >= 500 {
		return skipped(id, "The API failed for now (a 5xx or no answer): try again later.")
	}
	if x.ok() {
		return Result{Status: Info, Value: "accepted", Reference: "RFC 6749 §6",
			Summary: "A refresh leaves the previous access token good until its exp: a leaked one is not ended by refreshing."}
	}
	return Result{Status: Pass, Value: "rejected", Reference: "RFC 6749 §6",
		Summary: "A refresh ends the previous access token: a client must use the new one at once, and a leaked one dies with the refresh."}
}

type lifetimesValue struct {
	AccessTTLS          float64  `json:"access_ttl_s"`
	RefreshTTLS         *float64 `json:"refresh_ttl_s"`
	RefreshLifetime     string   `json:"refresh_lifetime"`
	ExpiresInMatchesExp *bool    `json:"expires_in_matches_exp"`
	IatIsIssueTime      bool     `json:"iat_is_issue_time"`
}

type lifetimesCheck struct{}

func (lifetimesCheck) id() string { return "lifetimes" }

func (lifetimesCheck) run(ctx context.Context, l *lab) Result {
	const id = "lifetimes"
	f, x1, err := l.login(ctx)
	if err != nil {
		return skipped(id, err.Error())
	}
	login := *f
	// Far enough apart that a copied iat stands out from Date's whole seconds (2 s or more
	// behind), close enough to cost little.
	if err := l.waitUntil(ctx, x1.recv.Add(3*time.Second), "refreshing 3 s after the login"); err != nil {
		return skipped(id, err.Error())
	}
	v, x2 := l.refresh(ctx, f, f.refresh.Raw, "(3 s after the login)")
	if v.Outcome != profile.VerdictOK {
		return skipped(id, fmt.Sprintf("The refresh did not succeed (%s): %s", v.Outcome, v.Why))
	}
	f.apply(v, x2)
	val := lifetimesValue{RefreshLifetime: "unknown", IatIsIssueTime: true}
	in, inOK := login.expiresIn, login.expiresIn > 0
	ttl, ok := accessTTL(login.access, in, inOK, l.serverTime(x1.recv))
	if !ok {
		return skipped(id, "The access token has neither exp nor expires_in: its lifetime is unknown.")
	}
	val.AccessTTLS = seconds(ttl)
	if rt := login.refresh; rt.JWT && !rt.IssuedAt.IsZero() && rt.HasExpiry() {
		s := seconds(rt.ExpiresAt.Sub(rt.IssuedAt))
		val.RefreshTTLS = &s
	}
	val.RefreshLifetime = refreshLifetime(login.refresh, f.refresh, v.Answer.Rotated)
	if inOK && login.access.JWT && login.access.ExpirySource == "exp" {
		match := absDur(dateOf(x1).Add(in).Sub(login.access.ExpiresAt)) <= 2*time.Second
		val.ExpiresInMatchesExp = &match
	}
	for _, p := range []struct {
		tok session.Token
		x   exchange
	}{{login.access, x1}, {f.access, x2}} {
		// iat and Date both have whole seconds, minted a moment apart: 1 s between them is
		// rounding, 2 s is another instant.
		if !p.tok.IssuedAt.IsZero() && absDur(p.tok.IssuedAt.Sub(dateOf(p.x))) >= 2*time.Second {
			val.IatIsIssueTime = false
		}
	}
	r := Result{Status: Info, Value: val, Reference: "RFC 7519 §4.1.6, RFC 6749 §5.1",
		Summary: fmt.Sprintf("Access tokens live %s; refresh tokens %s (%s).", time.Duration(val.AccessTTLS*float64(time.Second)), ttlWords(val.RefreshTTLS), val.RefreshLifetime)}
	switch {
	case !val.IatIsIssueTime:
		r.Status, r.Summary = Warn, "An access token's iat is well before the call that issued it (simplejwt copies the refresh token's): clients that read the server's clock from iat go wrong; use Date."
	case val.ExpiresInMatchesExp != nil && !*val.ExpiresInMatchesExp:
		r.Status, r.Summary = Warn, "expires_in disagrees with the token's exp: clients that count down from one refresh at the wrong time."
	}
	return r
}

func ttlWords(s *float64) string {
	if s == nil {
		return "for an unknown time"
	}
	return (time.Duration(*s * float64(time.Second))).String()
}

// accessTTL is the access token's lifetime: exp − iat, else expires_in, else exp − arrival.
func accessTTL(t session.Token, in time.Duration, inOK bool, recv time.Time) (time.Duration, bool) {
	switch {
	case t.JWT && t.ExpirySource == "exp" && !t.IssuedAt.IsZero():
		return t.ExpiresAt.Sub(t.IssuedAt), true
	case inOK:
		return in, true
	case t.HasExpiry():
		return t.ExpiresAt.Sub(recv), true
	}
	return 0, false
}

// refreshLifetime compares the refresh tokens of a login and of a refresh some seconds later:
// the same exp is an absolute lifetime, a later one a sliding one.
func refreshLifetime(before, after session.Token, rotated bool) string {
	switch {
	case !before.JWT || !before.HasExpiry():
		return "unknown"
	case !rotated:
		return "absolute" // the same token, the same exp
	case !after.JWT || !after.HasExpiry():
		return "unknown"
	}
	switch d := after.ExpiresAt.Sub(before.ExpiresAt); {
	case d >= time.Second:
		return "sliding"
	case absDur(d) < time.Second:
		return "absolute"
	}
	return "unknown"
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// dateOf is an answer's Date, or its arrival when it has none.
func dateOf(x exchange) time.Time {
	if d, err := http.ParseTime(x.header.Get("Date")); err == nil {
		return d
	}
	return x.recv
}

type unauthorizedValue struct {
	Status          int     `json:"status"`
	WWWAuthenticate *string `json:"www_authenticate"`
	Code            *string `json:"code"`
}

type unauthorizedCheck struct{}

func (unauthorizedCheck) id() string { return "unauthorized_shape" }

// invalidToken is a JWT-shaped token no server issued.
const invalidToken = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ0b2tlbnNjb3BlLWF1ZGl0IiwiZXhwIjoxfQ.aW52YWxpZC1zaWduYXR1cmU"

func (unauthorizedCheck) run(ctx context.Context, l *lab) Result {
	const id = "unauthorized_shape"
	x := l.apiCall(ctx, invalidToken, "(a token no server issued)")
	if x.err != nil || x.status >= 500 {
		return skipped(id, "The API failed (a 5xx or no answer): try again later.")
	}
	val := unauthorizedValue{Status: x.status}
	if h := x.header.Get("WWW-Authenticate"); h != "" {
		h = sanitize.Line(l.redact(h))
		val.WWWAuthenticate = &h
	}
	val.Code = errorCode(x.body, x.header.Get("WWW-Authenticate"))
	r := Result{Value: val, Reference: "RFC 6750 §3"}
	bearer := strings.EqualFold(l.t.Profile.Auth.Header, "Authorization")
	switch {
	case x.ok():
		r.Status, r.Summary = Fail, "The API accepts a token no server issued."
	case x.status == http.StatusUnauthorized && val.WWWAuthenticate != nil:
		r.Status, r.Summary = Pass, "A refused token gets 401 with a WWW-Authenticate challenge: clients can tell it from any other failure."
	case !bearer:
		r.Status, r.Summary = Info, fmt.Sprintf("A refused token gets %d; the token travels in %s, not an HTTP authentication scheme, so RFC 6750 does not apply.", x.status, l.t.Profile.Auth.Header)
	case x.status == http.StatusUnauthorized:
		r.Status, r.Summary = Fail, "A refused token gets 401 without WWW-Authenticate (RFC 6750 §3 requires it): clients must guess from the body why."
	default:
		r.Status, r.Summary = Warn, fmt.Sprintf("A refused token gets %d, not 401: clients that refresh on 401 never refresh.", x.status)
	}
	return r
}

// errorCode is an error answer's code: the body's code or error field, else the error
// parameter of WWW-Authenticate.
func errorCode(body []byte, challenge string) *string {
	if c := bodyCode(body, "code", "error"); c != nil {
		return c
	}
	if i := strings.Index(challenge, `error="`); i >= 0 {
		rest := challenge[i+len(`error="`):]
		if j := strings.IndexByte(rest, '"'); j >= 0 {
			s := sanitize.Line(rest[:j])
			return &s
		}
	}
	return nil
}

// bodyCode is the first of the JSON body's members keys that holds a code: a non-empty string
// (made one line), or a number as JSON writes it (50014, never 5.0014e+04).
func bodyCode(body []byte, keys ...string) *string {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	for _, k := range keys {
		switch v := m[k].(type) {
		case string:
			if v != "" {
				v = sanitize.Line(v)
				return &v
			}
		case float64:
			s := strconv.FormatFloat(v, 'f', -1, 64)
			return &s
		}
	}
	return nil
}
