package demoserver

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

const realm = "tokenscope-demo"

// writeJSON writes v as the response. Token responses must not be cached (RFC 6749 §5.1), and
// nothing this server returns is worth caching, so every answer says so.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if rec, ok := w.(*recorder); !ok || !rec.cacheable {
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// conventionError answers in the error shape of a convention: DRF's {"detail"} for simplejwt,
// {"message"} for bearer-json, {"code","message"} for element-admin, RFC 6749 §5.2 for oauth2.
func conventionError(w http.ResponseWriter, conv string, status int, msg string) {
	note(w, "%s", msg)
	switch conv {
	case BearerJSON:
		writeJSON(w, status, map[string]any{"message": msg})
	case ElementAdmin:
		writeJSON(w, status, map[string]any{"code": status * 100, "message": msg})
	case OAuth2:
		writeJSON(w, status, map[string]any{"error": "invalid_request", "error_description": msg})
	default:
		writeJSON(w, status, map[string]any{"detail": msg})
	}
}

// inputError is a request body the server cannot use, with the status it deserves.
type inputError struct {
	status int
	msg    string
}

func (e *inputError) Error() string { return e.msg }

// readJSONObject reads a capped JSON object body. Everything that can be wrong with a body from
// the network becomes an inputError, never a panic or a 500.
func (s *Server) readJSONObject(w http.ResponseWriter, r *http.Request) (map[string]any, *inputError) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		if ct == "" {
			ct = "none"
		}
		return nil, &inputError{http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported media type %q: send application/json", ct)}
	}
	data, ierr := s.readBody(w, r)
	if ierr != nil {
		return nil, ierr
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, &inputError{http.StatusBadRequest, "request body is empty: expected a JSON object"}
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, &inputError{http.StatusBadRequest, "malformed JSON: " + err.Error()}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &inputError{http.StatusBadRequest, "expected a JSON object"}
	}
	return m, nil
}

func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *inputError) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, &inputError{http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", s.opts.MaxBodyBytes)}
	case err != nil:
		return nil, &inputError{http.StatusBadRequest, "reading request body: " + err.Error()}
	}
	return data, nil
}

// stringField returns m[name] when it is a non-empty string, or an error message naming the
// field.
func stringField(m map[string]any, name string) (string, string) {
	v, ok := m[name]
	if !ok || v == nil {
		return "", "This field is required."
	}
	s, ok := v.(string)
	if !ok {
		return "", "Must be a string."
	}
	if s == "" {
		return "", "This field may not be blank."
	}
	return s, ""
}

// fieldsError answers a missing or mistyped field. simplejwt (DRF) keys errors by field name.
func fieldsError(w http.ResponseWriter, conv, field, msg string) {
	if conv == SimpleJWT {
		note(w, "%s: %s", field, msg)
		writeJSON(w, http.StatusBadRequest, map[string][]string{field: {msg}})
		return
	}
	conventionError(w, conv, http.StatusBadRequest, fmt.Sprintf("%s: %s", field, msg))
}

func (s *Server) checkPassword(user, pass string) bool {
	want, ok := s.opts.Users[user]
	if !ok {
		want = "\x00never" // compare anyway so that timing does not reveal which users exist
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(pass)) == 1 && ok
}

// jsonLogin handles the three JSON logins; it returns the user on success, having answered
// otherwise.
func (s *Server) jsonLogin(w http.ResponseWriter, r *http.Request, conv string) (string, bool) {
	m, ierr := s.readJSONObject(w, r)
	if ierr != nil {
		conventionError(w, conv, ierr.status, ierr.msg)
		return "", false
	}
	user, msg := stringField(m, "username")
	if msg != "" {
		fieldsError(w, conv, "username", msg)
		return "", false
	}
	pass, msg := stringField(m, "password")
	if msg != "" {
		fieldsError(w, conv, "password", msg)
		return "", false
	}
	if !s.checkPassword(user, pass) {
		s.count(func(st *Stats) { st.LoginsFailed++ })
		note(w, "login failed")
		switch conv {
		case SimpleJWT, Cookie:
			writeJSON(w, http.StatusUnauthorized, map[string]string{"detail": "No active account found with the given credentials"})
		case BearerJSON:
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Invalid username or password"})
		case ElementAdmin:
			writeJSON(w, http.StatusUnauthorized, map[string]any{"code": 60204, "message": "Account and password are incorrect."})
		}
		return "", false
	}
	return user, true
}

func (s *Server) loginOK(w http.ResponseWriter, user string, opaque bool, jkt string) (pair, bool) {
	p, err := s.loginBound(user, opaque, jkt)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"detail": "minting tokens: " + err.Error()})
		return pair{}, false
	}
	note(w, "login %s ok", user)
	return p, true
}

// doRefresh runs a refresh through the fault knobs and answers failures in the convention's
// shape. It returns the new pair when the caller should answer success.
func (s *Server) doRefresh(w http.ResponseWriter, r *http.Request, conv, raw string, opaque bool) (pair, bool) {
	ok, done := s.enterRefresh(r.Context())
	defer done()
	if !ok {
		if r.Context().Err() != nil {
			return pair{}, false // the client gave up during the injected latency
		}
		w.Header().Set("Retry-After", "1")
		msg := "refresh temporarily unavailable (injected by the fail-refresh knob)"
		if conv == OAuth2 {
			note(w, "%s", msg)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable", "error_description": msg})
		} else {
			conventionError(w, conv, http.StatusServiceUnavailable, msg)
		}
		return pair{}, false
	}
	p, err := s.refreshPair(r.Context(), raw, opaque)
	if err != nil {
		s.count(func(st *Stats) { st.RefreshRejected++ })
		if conv == Cookie && s.auditKnobs().LoserClearsCookie {
			clearRefreshCookie(w, r) // in a browser, this deletes the cookie a race's winner just set
		}
		refreshRejected(w, conv, err)
		return pair{}, false
	}
	s.count(func(st *Stats) { st.RefreshOK++ })
	if p.rotated {
		note(w, "refresh ok, rotated")
	} else {
		note(w, "refresh ok, refresh token kept")
	}
	return p, true
}

// refreshRejected answers a rejected refresh token in the convention's error shape. The fields
// clients match on (simplejwt's code token_not_valid, element-admin's 50015, RFC 6749's
// invalid_grant) never change; when the cause is reuse, the human message (the field a client
// shows: detail, message, error_description) names it too, so that the user learns that the
// family was revoked, not merely that a token was "invalid or expired".
func refreshRejected(w http.ResponseWriter, conv string, err error) {
	reason := err.Error()
	note(w, "refresh rejected: %s", reason)
	reused := errors.Is(err, errReused) || errors.Is(err, errFamilyReused)
	msg := func(usual, reuse string) string {
		if reused {
			return reuse + ": " + reason
		}
		return usual
	}
	switch conv {
	case SimpleJWT, Cookie: // cookie.go: the cookie convention answers as simplejwt does
		// simplejwt's blacklist app answers a rotated-away refresh token "Token is blacklisted".
		writeJSON(w, http.StatusUnauthorized, map[string]string{"detail": msg("Token is invalid or expired", "Token is blacklisted"),
			"code": "token_not_valid", "reason": reason})
	case BearerJSON:
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": msg("Refresh token is invalid or expired", "Refresh token is invalid"),
			"reason": reason})
	case ElementAdmin:
		writeJSON(w, http.StatusUnauthorized, map[string]any{"code": 50015, "message": msg("Refresh token expired, please log in again",
			"Refresh token invalid, please log in again"), "reason": reason})
	case OAuth2:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": reason})
	}
}

// withRefresh adds the refresh field to a token response only when it was rotated: an answer
// without one tells the client to keep the token it has.
func withRefresh(m map[string]any, field string, p pair) map[string]any {
	if p.rotated {
		m[field] = p.refresh
	}
	return m
}

// ---- simplejwt and bearer-json: JSON in, JSON out, under their own field names ----

func (s *Server) simplejwtLogin(w http.ResponseWriter, r *http.Request) {
	s.fieldsLogin(w, r, SimpleJWT, "access", "refresh")
}

func (s *Server) simplejwtRefresh(w http.ResponseWriter, r *http.Request) {
	s.fieldsRefresh(w, r, SimpleJWT, "access", "refresh")
}

func (s *Server) bearerLogin(w http.ResponseWriter, r *http.Request) {
	s.fieldsLogin(w, r, BearerJSON, "accessToken", "refreshToken")
}

func (s *Server) bearerRefresh(w http.ResponseWriter, r *http.Request) {
	s.fieldsRefresh(w, r, BearerJSON, "accessToken", "refreshToken")
}

// fieldsLogin answers a JSON login with the pair under the convention's field names.
func (s *Server) fieldsLogin(w http.ResponseWriter, r *http.Request, conv, accessKey, refreshKey string) {
	user, ok := s.jsonLogin(w, r, conv)
	if !ok {
		return
	}
	if p, ok := s.loginOK(w, user, false, ""); ok {
		writeJSON(w, http.StatusOK, map[string]string{accessKey: p.access, refreshKey: p.refresh})
	}
}

// fieldsRefresh takes the refresh token from the JSON field refreshKey and answers with the
// new access token (and the rotated refresh token) under the convention's field names.
func (s *Server) fieldsRefresh(w http.ResponseWriter, r *http.Request, conv, accessKey, refreshKey string) {
	m, ierr := s.readJSONObject(w, r)
	if ierr != nil {
		conventionError(w, conv, ierr.status, ierr.msg)
		return
	}
	raw, msg := stringField(m, refreshKey)
	if msg != "" {
		fieldsError(w, conv, refreshKey, msg)
		return
	}
	if p, ok := s.doRefresh(w, r, conv, raw, false); ok {
		writeJSON(w, http.StatusOK, withRefresh(map[string]any{accessKey: p.access}, refreshKey, p))
	}
}

// ---- element-admin ----

const elementOK = 20000

func (s *Server) elementLogin(w http.ResponseWriter, r *http.Request) {
	user, ok := s.jsonLogin(w, r, ElementAdmin)
	if !ok {
		return
	}
	if p, ok := s.loginOK(w, user, false, ""); ok {
		writeJSON(w, http.StatusOK, map[string]any{"code": elementOK, "data": map[string]string{"token": p.access, "refreshToken": p.refresh}})
	}
}

func (s *Server) elementRefresh(w http.ResponseWriter, r *http.Request) {
	raw := strings.TrimSpace(r.Header.Get("X-Token"))
	if raw == "" {
		conventionError(w, ElementAdmin, http.StatusBadRequest, "send the refresh token in the X-Token header")
		return
	}
	if p, ok := s.doRefresh(w, r, ElementAdmin, raw, false); ok {
		writeJSON(w, http.StatusOK, map[string]any{"code": elementOK, "data": withRefresh(map[string]any{"token": p.access}, "refreshToken", p)})
	}
}

// ---- oauth2 (RFC 6749) ----

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	note(w, "%s: %s", code, desc)
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// oauthForm reads an RFC 6749 form body: form-encoded, capped, no repeated parameters. It
// answers the failure itself.
func (s *Server) oauthForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/x-www-form-urlencoded" {
		oauthError(w, http.StatusBadRequest, "invalid_request", fmt.Sprintf("unsupported media type %q: send application/x-www-form-urlencoded", ct))
		return nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			oauthError(w, http.StatusRequestEntityTooLarge, "invalid_request", fmt.Sprintf("request body larger than %d bytes", s.opts.MaxBodyBytes))
			return nil, false
		}
		oauthError(w, http.StatusBadRequest, "invalid_request", "malformed form body: "+err.Error())
		return nil, false
	}
	for k, v := range r.PostForm {
		if len(v) > 1 { // RFC 6749 §3.2: parameters MUST NOT be included more than once
			oauthError(w, http.StatusBadRequest, "invalid_request", "parameter "+clip(k, 64)+" is repeated")
			return nil, false
		}
	}
	return r.PostForm, true
}

func (s *Server) oauthToken(w http.ResponseWriter, r *http.Request) {
	form, c := s.clientForm(w, r)
	if c == nil {
		return
	}
	gt := form.Get("grant_type")
	switch gt {
	case "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "missing grant_type")
		return
	case grantPassword, grantRefresh, grantAuthCode, grantClientCreds, grantDeviceCode:
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("grant_type %q is not supported", clip(gt, 64)))
		return
	}
	if !c.allows(gt) {
		oauthError(w, http.StatusBadRequest, "unauthorized_client", fmt.Sprintf("client %q may not use grant_type %s", c.id, gt))
		return
	}
	// The proof comes before the grant, so that a call refused for its proof (or for want of a
	// nonce) uses up no code, device code or refresh token.
	jkt, ok := s.tokenProof(w, r)
	if !ok {
		return
	}
	switch gt {
	case grantPassword:
		s.passwordGrant(w, r, form, jkt)
	case grantRefresh:
		s.oauthRefreshGrant(w, r, c, form, jkt)
	case grantAuthCode:
		s.authCodeGrant(w, r, c, form, jkt)
	case grantClientCreds:
		s.clientCredentialsGrant(w, r, c, form, jkt)
	case grantDeviceCode:
		s.deviceCodeGrant(w, r, c, form, jkt)
	}
}

// oauthRefreshGrant is RFC 6749 §6, with a public client's DPoP binding checked first.
func (s *Server) oauthRefreshGrant(w http.ResponseWriter, r *http.Request, c *client, form url.Values, jkt string) {
	raw := form.Get("refresh_token")
	if raw == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "grant_type=refresh_token needs refresh_token")
		return
	}
	if desc := s.refreshBindingError(raw, c, jkt); desc != "" {
		s.count(func(st *Stats) { st.RefreshRejected++ })
		oauthError(w, http.StatusBadRequest, "invalid_dpop_proof", desc)
		return
	}
	if p, ok := s.doRefresh(w, r, OAuth2, raw, s.opts.OpaqueOAuth); ok {
		s.oauthTokenResponse(w, r, p, "")
	}
}

func (s *Server) passwordGrant(w http.ResponseWriter, r *http.Request, form url.Values, jkt string) {
	user, pass := form.Get("username"), form.Get("password")
	if user == "" || pass == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "grant_type=password needs username and password")
		return
	}
	if !s.checkPassword(user, pass) {
		s.count(func(st *Stats) { st.LoginsFailed++ })
		oauthError(w, http.StatusBadRequest, "invalid_grant", "invalid username or password")
		return
	}
	if p, ok := s.loginOK(w, user, s.opts.OpaqueOAuth, jkt); ok {
		s.oauthTokenResponse(w, r, p, "")
	}
}

// oauthTokenResponse answers a token request with p, adding the granted scope and, when the
// scope holds openid, an ID token (with nonce, when the authorization request had one).
func (s *Server) oauthTokenResponse(w http.ResponseWriter, r *http.Request, p pair, nonce string) {
	m := withRefresh(map[string]any{
		"access_token": p.access,
		"token_type":   "Bearer",
		"expires_in":   int(math.Ceil(s.opts.AccessTTL.Seconds())),
	}, "refresh_token", p)
	s.mu.Lock()
	f := s.families[p.family]
	var fc family
	if f != nil {
		fc = *f
	}
	s.mu.Unlock()
	if fc.scope != "" {
		m["scope"] = fc.scope
	}
	if fc.jkt != "" {
		m["token_type"] = "DPoP" // RFC 9449 §5: the access token is bound to the proof's key
	}
	if hasScope(fc.scope, scopeOpenID) {
		idt, err := s.idToken(s.issuer(r), fc, nonce)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error", "error_description": "minting the ID token: " + err.Error()})
			return
		}
		m["id_token"] = idt
	}
	writeJSON(w, http.StatusOK, m)
}

// ---- protected resources ----

type resourceFunc func(w http.ResponseWriter, r *http.Request, user string)

// quoteSafe makes text fit inside a quoted-string of WWW-Authenticate.
func quoteSafe(s string) string {
	return strings.NewReplacer(`"`, "'", `\`, "/").Replace(s)
}

// bearerResource guards a handler with `Authorization: Bearer` (or `DPoP` with a proof, RFC
// 9449), answering failures as simplejwt does, with RFC 6750's WWW-Authenticate.
func (s *Server) bearerResource(h resourceFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		user, _, fail := s.presentedAccess(w, r)
		if fail != nil {
			s.count(func(st *Stats) { st.ResourceUnauthorized++ })
			note(w, "401 %s", fail.desc)
			s.writeAuthFail(w, http.StatusUnauthorized, fail)
			return
		}
		s.count(func(st *Stats) { st.ResourceOK++ })
		note(w, "ok %s", user)
		h(w, r, user)
	}
}

// xtokenResource guards a handler with element-admin's `X-Token`.
func (s *Server) xtokenResource(h resourceFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimSpace(r.Header.Get("X-Token"))
		if tok == "" {
			s.count(func(st *Stats) { st.ResourceUnauthorized++ })
			note(w, "401 no X-Token")
			writeJSON(w, http.StatusUnauthorized, map[string]any{"code": 50008, "message": "Illegal token: send the access token in the X-Token header"})
			return
		}
		user, err := s.checkAccess(tok)
		if err != nil {
			s.count(func(st *Stats) { st.ResourceUnauthorized++ })
			note(w, "401 50014 %s", err)
			writeJSON(w, http.StatusUnauthorized, map[string]any{"code": 50014, "message": "Access token expired", "reason": err.Error()})
			return
		}
		s.count(func(st *Stats) { st.ResourceOK++ })
		note(w, "ok %s", user)
		h(w, r, user)
	}
}

func (s *Server) protected(w http.ResponseWriter, r *http.Request, user string) {
	writeJSON(w, http.StatusOK, map[string]any{"message": "You are authenticated", "user": user, "server_time": s.now().UTC().Format("2006-01-02T15:04:05.000Z")})
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, user string) {
	writeJSON(w, http.StatusOK, map[string]any{"username": user, "name": "Demo User", "email": user + "@example.test", "roles": []string{"admin"}})
}

func (s *Server) createItem(w http.ResponseWriter, r *http.Request, user string) {
	m, ierr := s.readJSONObject(w, r)
	if ierr != nil {
		conventionError(w, SimpleJWT, ierr.status, ierr.msg)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": s.items.Add(1), "owner": user, "item": m})
}

func (s *Server) userInfo(w http.ResponseWriter, r *http.Request, user string) {
	writeJSON(w, http.StatusOK, map[string]any{"code": elementOK, "data": map[string]any{
		"name": user, "roles": []string{"admin"}, "introduction": "I am a demo user", "avatar": "",
	}})
}

func (s *Server) createSysItem(w http.ResponseWriter, r *http.Request, user string) {
	m, ierr := s.readJSONObject(w, r)
	if ierr != nil {
		conventionError(w, ElementAdmin, ierr.status, ierr.msg)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"code": elementOK, "data": map[string]any{"id": s.items.Add(1), "owner": user, "item": m}})
}
