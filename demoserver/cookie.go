package demoserver

// The cookie convention (DESIGN.md's `cookie` row): a single-page app's backend keeps the
// refresh token in an HttpOnly cookie scoped to /auth, and guards the refresh with a CSRF
// double submit.
//
//	POST /auth/login   {username,password} → {accessToken}
//	                   Set-Cookie: refresh_token=R; Path=/auth; Max-Age=…; HttpOnly; SameSite=Strict
//	                   Set-Cookie: csrf_token=C; Path=/; Max-Age=…; SameSite=Strict
//	POST /auth/refresh Cookie: refresh_token=R; csrf_token=C, X-CSRF-Token: C, no body
//	                   → {accessToken} and a rotated refresh_token cookie
//
// Errors are simplejwt's: a rejected refresh token (absent, expired, rotated away, revoked,
// reused) is 401 {"detail", "code": "token_not_valid", "reason"}; an expired access token is
// the resources' 401 with code token_not_valid. A failed CSRF check is 403
// {"detail", "code": "csrf_failed"}: the token may be fine, the request is not the app's.

import (
	"crypto/subtle"
	"math"
	"net/http"
)

// Cookie is the cookie convention's name, as DESIGN.md spells it.
const Cookie = "cookie"

// Cookie names and paths of the demo's cookie convention.
const (
	RefreshCookieName = "refresh_token"
	CSRFCookieName    = "csrf_token"
	CSRFHeaderName    = "X-CSRF-Token"
	RefreshCookiePath = "/auth"
)

func (s *Server) cookieLogin(w http.ResponseWriter, r *http.Request) {
	user, ok := s.jsonLogin(w, r, Cookie)
	if !ok {
		return
	}
	p, ok := s.loginOK(w, user, false, "")
	if !ok {
		return
	}
	s.setRefreshCookie(w, r, p.refresh)
	http.SetCookie(w, &http.Cookie{Name: CSRFCookieName, Value: randOpaque(), Path: "/", MaxAge: s.cookieMaxAge(),
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusOK, map[string]string{"accessToken": p.access})
}

func (s *Server) cookieRefresh(w http.ResponseWriter, r *http.Request) {
	if msg := csrfProblem(r); msg != "" {
		s.count(func(st *Stats) { st.CSRFRejected++ })
		note(w, "403 csrf: %s", msg)
		writeJSON(w, http.StatusForbidden, map[string]string{"detail": "CSRF check failed: " + msg, "code": "csrf_failed"})
		return
	}
	rc, err := r.Cookie(RefreshCookieName)
	if err != nil || rc.Value == "" {
		s.count(func(st *Stats) { st.RefreshRejected++ })
		note(w, "refresh rejected: no %s cookie", RefreshCookieName)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"detail": "No refresh token cookie: log in again",
			"code": "token_not_valid", "reason": "the request carried no " + RefreshCookieName + " cookie"})
		return
	}
	if p, ok := s.doRefresh(w, r, Cookie, rc.Value, false); ok {
		if p.rotated {
			s.setRefreshCookie(w, r, p.refresh)
		}
		writeJSON(w, http.StatusOK, map[string]string{"accessToken": p.access})
	}
}

// csrfProblem is what is wrong with a refresh's double submit, or "".
func csrfProblem(r *http.Request) string {
	c, err := r.Cookie(CSRFCookieName)
	h := r.Header.Get(CSRFHeaderName)
	switch {
	case err != nil || c.Value == "":
		return "no " + CSRFCookieName + " cookie"
	case h == "":
		return "no " + CSRFHeaderName + " header (send the " + CSRFCookieName + " cookie's value in it)"
	case subtle.ConstantTimeCompare([]byte(c.Value), []byte(h)) != 1:
		return "the " + CSRFHeaderName + " header does not match the " + CSRFCookieName + " cookie"
	}
	return ""
}

func (s *Server) setRefreshCookie(w http.ResponseWriter, r *http.Request, raw string) {
	http.SetCookie(w, &http.Cookie{Name: RefreshCookieName, Value: raw, Path: RefreshCookiePath, MaxAge: s.cookieMaxAge(),
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
}

// cookieMaxAge is the refresh token's lifetime in whole seconds: the cookie lives as long.
func (s *Server) cookieMaxAge() int { return int(math.Ceil(s.opts.RefreshTTL.Seconds())) }
