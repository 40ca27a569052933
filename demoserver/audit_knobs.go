package demoserver

// The audit knobs: the token rules real servers are known to get wrong (or to choose
// differently), so that `tokenscope audit` has a passing and a failing server for each of its
// checks. The zero value is the well-behaved server. Reuse that rejects without revoking
// (Options.NoReuseDetection) and no rotation (Options.NoRotation) are options of their own, and
// accepting unsigned tokens (Options.AcceptAlgNone) is fixed at start so that it is always in
// the banner: a request cannot switch it on.

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// AuditKnobs are the server rules `tokenscope audit` measures, settable while the server runs
// (POST /__demo/audit).
type AuditKnobs struct {
	// RotationGrace keeps a rotated refresh token good for this long after its rotation, as
	// Auth0's reuse interval and Cognito's retry grace period do: presenting it again answers a
	// new pair of the same family, and only the token one generation behind the family's live
	// one qualifies (django-oauth-toolkit #1617 is the bug of letting older ones in).
	RotationGrace time.Duration
	// AccessLeeway accepts an access token this long past its exp.
	AccessLeeway time.Duration
	// RefreshRaceWindow stops serialising refreshes: a refresh checks its token, lets go of
	// the lock for this long, then rotates it without checking again, so every presentation of
	// one token inside the window succeeds (the check-then-act race of servers that read and
	// write the token store in two steps).
	RefreshRaceWindow time.Duration
	// LoserClearsCookie makes the cookie convention's rejected refresh answer with an expired
	// refresh cookie: in a browser, a race's losing answer deletes the cookie the winner set.
	LoserClearsCookie bool
	// CacheableTokens leaves Cache-Control: no-store (and Pragma: no-cache) off login and
	// refresh answers, against RFC 6749 §5.1.
	CacheableTokens bool
	// NoWWWAuthenticate answers a refused API call 401 without a WWW-Authenticate challenge,
	// against RFC 6750 §3.
	NoWWWAuthenticate bool
}

// SetAuditKnobs puts a in force.
func (s *Server) SetAuditKnobs(a AuditKnobs) {
	a.RotationGrace = max(a.RotationGrace, 0)
	a.AccessLeeway = max(a.AccessLeeway, 0)
	a.RefreshRaceWindow = max(a.RefreshRaceWindow, 0)
	s.mu.Lock()
	s.knobs.Audit = a
	s.mu.Unlock()
}

// auditKnobs reads the audit knobs in force.
func (s *Server) auditKnobs() AuditKnobs {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.knobs.Audit
}

// auditKnobsDoc is the audit part of /__demo/stats' "knobs" object.
func (s *Server) auditKnobsDoc(k AuditKnobs) map[string]any {
	return map[string]any{
		"rotation_grace":      k.RotationGrace.String(),
		"access_leeway":       k.AccessLeeway.String(),
		"refresh_race_window": k.RefreshRaceWindow.String(),
		"loser_clears_cookie": k.LoserClearsCookie,
		"cacheable_tokens":    k.CacheableTokens,
		"no_www_authenticate": k.NoWWWAuthenticate,
		"accept_alg_none":     s.opts.AcceptAlgNone, // read-only: a start flag
	}
}

// knobAudit is POST /__demo/audit?rotation_grace=DUR&access_leeway=DUR&refresh_race_window=DUR
// &loser_clears_cookie=BOOL&cacheable_tokens=BOOL&no_www_authenticate=BOOL; the knobs not named
// keep their value.
func (s *Server) knobAudit(w http.ResponseWriter, r *http.Request) {
	k := s.auditKnobs()
	q := r.URL.Query()
	for name, dst := range map[string]*time.Duration{"rotation_grace": &k.RotationGrace,
		"access_leeway": &k.AccessLeeway, "refresh_race_window": &k.RefreshRaceWindow} {
		if v := q.Get(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 || d > time.Hour {
				writeJSON(w, http.StatusBadRequest, map[string]string{"detail": name + " must be a duration between 0 and 1h, like 2s"})
				return
			}
			*dst = d
		}
	}
	for name, dst := range map[string]*bool{"loser_clears_cookie": &k.LoserClearsCookie,
		"cacheable_tokens": &k.CacheableTokens, "no_www_authenticate": &k.NoWWWAuthenticate} {
		if v := q.Get(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"detail": name + " must be true or false"})
				return
			}
			*dst = b
		}
	}
	s.SetAuditKnobs(k)
	note(w, "knob: audit %s", fmt.Sprintf("%+v", k))
	writeJSON(w, http.StatusOK, s.statsDoc())
}

// tokenAnswer marks a login or refresh endpoint's answers as token answers, which the
// cacheable-tokens knob leaves cacheable.
func (s *Server) tokenAnswer(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if rec, ok := w.(*recorder); ok && s.auditKnobs().CacheableTokens {
			rec.cacheable = true
		}
		h(w, r)
	}
}

// raceWait is the race window: real time whatever the server's clock, because the race is
// between requests in flight together, which a manual clock that tests advance does not bring.
func raceWait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// clearRefreshCookie is the losing answer's Set-Cookie under the loser-clears-cookie knob.
func clearRefreshCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: RefreshCookieName, Value: "", Path: RefreshCookiePath, MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
}

// InsecureWarnings are the sentences the banner and GET / print for the options that make the
// server unsafe on purpose; none for the defaults.
func (s *Server) InsecureWarnings() []string {
	var out []string
	if s.opts.AcceptAlgNone {
		out = append(out, "INSECURE ON PURPOSE (the accept-alg-none knob): the API accepts unsigned access tokens (alg: none); anyone can forge one")
	}
	return out
}
