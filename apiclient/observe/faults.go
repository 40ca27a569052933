package observe

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"tokenscope/apiclient/profile"
)

// ErrFaultsOff is what the fault methods return when the proxy was not started with faults
// allowed (--faults): off, the proxy never changes a byte.
var ErrFaultsOff = errors.New("observe: fault injection is off")

// faults are the pending injections, under their own lock. The proxy answers in the upstream's
// place, in the profile's convention, so the user's app handles what a real expiry, outage or
// revocation sends.
type faults struct {
	on bool

	mu      sync.Mutex
	pending pending
}

// pending is what is due: a value apart from the lock, so that clearing replaces it whole and
// leaves the lock (held while clearing) alone.
type pending struct {
	expireNext   int       // answer this many more requests with the access-expired 401
	expireBefore time.Time // answer 401 to tokens not issued after this (ExpireNow)
	fail503      int       // answer this many more refresh calls 503
	revoke       int       // answer this many more refresh calls as a revoked token
	slow         time.Duration
}

// FaultsEnabled reports whether the proxy was started with faults allowed.
func (p *Proxy) FaultsEnabled() bool { return p.faults.on }

func (p *Proxy) setFault(note string, f func(*pending)) error {
	if !p.faults.on {
		return ErrFaultsOff
	}
	p.faults.mu.Lock()
	f(&p.faults.pending)
	p.faults.mu.Unlock()
	p.an.Note("fault: "+note, p.clock.Now())
	return nil
}

// Expire401Next answers the next n requests that carry an access token with the profile's
// access-expired 401, without forwarding them.
func (p *Proxy) Expire401Next(n int) error {
	return p.setFault("the access-expired 401 for "+theNext(n, "request")+" carrying a token",
		func(f *pending) { f.expireNext = max(n, 0) })
}

// ExpireNow makes every access token issued so far expire, as far as the app can tell: requests
// carrying one get the profile's access-expired 401; tokens issued after this pass again.
func (p *Proxy) ExpireNow() error {
	now := p.clock.Now()
	return p.setFault("access tokens issued so far now get the access-expired 401", func(f *pending) { f.expireBefore = now })
}

// Fail503Next answers the next n refresh calls with 503, as an overloaded server does.
func (p *Proxy) Fail503Next(n int) error {
	return p.setFault("503 for "+theNext(n, "refresh call"), func(f *pending) { f.fail503 = max(n, 0) })
}

// RevokeNext answers the next n refresh calls with the profile's refresh-rejected answer, as if
// the refresh token had been revoked.
func (p *Proxy) RevokeNext(n int) error {
	return p.setFault("the refresh-rejected answer (revoked) for "+theNext(n, "refresh call"), func(f *pending) { f.revoke = max(n, 0) })
}

// SlowRefresh holds every refresh call for d before forwarding it (0: no delay).
func (p *Proxy) SlowRefresh(d time.Duration) error {
	return p.setFault("refresh calls are held "+short(max(d, 0))+" each", func(f *pending) { f.slow = max(d, 0) })
}

// theNext says "the next refresh call" or "the next 3 refresh calls".
func theNext(n int, what string) string {
	if n == 1 {
		return "the next " + what
	}
	return "the next " + plural(n, what)
}

// ClearFaults cancels every pending injection.
func (p *Proxy) ClearFaults() error {
	return p.setFault("cleared", func(f *pending) { *f = pending{} })
}

// injectFault answers in the upstream's place when a fault is due, and reports whether it did.
// A slowed refresh waits here and is then forwarded.
func (p *Proxy) injectFault(w http.ResponseWriter, r *http.Request, x *Exchange) bool {
	if x.Kind() == profile.CallRefresh {
		p.refreshArrives(int(x.refreshID)) // a scenario's step for this very call comes first
	}
	p.faults.mu.Lock()
	f := &p.faults.pending
	var status int
	var what string
	switch x.Kind() {
	case profile.CallRefresh:
		switch {
		case f.fail503 > 0:
			f.fail503--
			status, what = http.StatusServiceUnavailable, "refresh failed with 503"
		case f.revoke > 0:
			f.revoke--
			status, what = -1, "refresh token revoked"
		}
	case profile.CallOther:
		switch {
		case !p.an.carriesToken(x):
		case f.expireNext > 0:
			f.expireNext--
			status, what = http.StatusUnauthorized, "access token expired"
		case !f.expireBefore.IsZero() && !p.an.issuedAfter(x, f.expireBefore):
			status, what = http.StatusUnauthorized, "access token expired"
		}
	}
	slow := f.slow
	p.faults.mu.Unlock()
	if status == 0 && slow > 0 && x.Kind() == profile.CallRefresh {
		select {
		case <-p.clock.After(slow):
		case <-r.Context().Done():
		}
	}
	if status == 0 {
		return false
	}
	prof := p.an.prof
	var ans Answer
	switch status {
	case http.StatusUnauthorized:
		ans = conventionAnswer(prof.AccessExpired, http.StatusUnauthorized, "access token expired (injected by tokenscope observe)")
	case http.StatusServiceUnavailable:
		ans = conventionAnswer(profile.Matcher{Status: []int{503}, Field: "error", Values: []string{"temporarily_unavailable"}}, 503, "refresh temporarily unavailable (injected by tokenscope observe)")
		ans.Header.Set("Retry-After", "1")
	default:
		ans = conventionAnswer(prof.RefreshRejected, http.StatusUnauthorized, "refresh token revoked (injected by tokenscope observe)")
	}
	ans.Injected = what
	for k, v := range ans.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(ans.Status)
	_, _ = w.Write(ans.Body)
	p.an.End(x, ans, p.clock.Now())
	return true
}

// conventionAnswer builds an answer the matcher recognises: its status, its field with its first
// value (a number stays a number: element-admin's clients compare code === 50014), its header.
func conventionAnswer(m profile.Matcher, status int, msg string) Answer {
	if len(m.Status) > 0 {
		status = m.Status[0]
	}
	h := http.Header{"Content-Type": {"application/json"}}
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+msg+`"`)
	}
	if m.Header != "" && !strings.EqualFold(m.Header, "WWW-Authenticate") {
		h.Set(m.Header, m.HeaderContains)
	}
	doc := map[string]any{"detail": msg, "message": msg}
	if m.Field != "" {
		var v any = "invalid"
		if len(m.Values) > 0 {
			v = m.Values[0]
			if _, err := strconv.ParseInt(m.Values[0], 10, 64); err == nil {
				v = json.Number(m.Values[0])
			}
		}
		profile.SetJSONPath(doc, m.Field, v)
	}
	body, _ := json.Marshal(doc) // strings, numbers and maps: cannot fail
	return Answer{Status: status, Header: h, Body: body}
}

// carriesToken reports whether a request carried an access token.
func (a *Analyzer) carriesToken(x *Exchange) bool { return x.access != nil }

// issuedAfter reports whether the access token a request carried was issued (seen in a login or
// refresh answer) after t.
func (a *Analyzer) issuedAfter(x *Exchange, t time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return x.access != nil && x.access.issued.After(t)
}
