package demoserver

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"time"
)

const (
	codeTTL    = 60 * time.Second
	consentTTL = 10 * time.Minute
	kindCode   = "code"
	kindDevice = "device"
)

// oidcState is what the OpenID side keeps between requests. It is guarded by Server.mu.
type oidcState struct {
	pending   map[string]*consent   // by the request id the HTML forms carry
	codes     map[string]*codeRec   // authorization codes
	devices   map[string]*deviceRec // by device_code
	userCodes map[string]*deviceRec // by normalised user code
	lastPrune time.Time
}

func newOIDCState() oidcState {
	return oidcState{
		pending:   map[string]*consent{},
		codes:     map[string]*codeRec{},
		devices:   map[string]*deviceRec{},
		userCodes: map[string]*deviceRec{},
	}
}

// consent is an authorization (code flow) or a device verification waiting for the user to log
// in and approve. Its random id travels in a hidden form field; holding it is what lets a form
// post continue the request, so it is as secret as a session cookie would be.
type consent struct {
	kind      string // kindCode or kindDevice
	client    string
	scope     string
	issuer    string
	exp       time.Time
	user      string // set once the login form succeeded
	authTime  time.Time
	device    *deviceRec // kindDevice
	redirect  string     // kindCode: the redirect_uri, already checked
	state     string
	nonce     string
	challenge string // PKCE S256 code_challenge
	dpopJKT   string // RFC 9449 §10: the key the code will be bound to
}

// codeRec is an authorization code: single use, short-lived, bound to everything the
// authorization request said.
type codeRec struct {
	client, redirect, challenge, nonce, scope, user string
	dpopJKT                                         string
	authTime, exp                                   time.Time
	used                                            bool
	family                                          string // what it issued, revoked on reuse
}

var challengeRE = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// authorizeStart is GET /authorize: it checks the request and shows the login form. Errors
// that make the redirect untrustworthy (unknown client, unregistered redirect_uri) are shown as
// a page; the rest go back to the client as RFC 6749 §4.1.2.1 error redirects.
func (s *Server) authorizeStart(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k, v := range q {
		if len(v) > 1 {
			s.errorPage(w, http.StatusBadRequest, "parameter "+clip(k, 64)+" is repeated")
			return
		}
	}
	c := s.client(q.Get("client_id"))
	if c == nil {
		s.errorPage(w, http.StatusBadRequest, fmt.Sprintf("unknown client_id %q", clip(q.Get("client_id"), 64)))
		return
	}
	redirect := q.Get("redirect_uri")
	if !c.allows(grantAuthCode) || !loopbackRedirect(redirect) {
		s.errorPage(w, http.StatusBadRequest, fmt.Sprintf("redirect_uri %q is not registered for client %q (it takes http loopback URIs on any port)", clip(redirect, 200), c.id))
		return
	}
	cn := &consent{kind: kindCode, client: c.id, issuer: s.issuer(r), redirect: redirect,
		state: q.Get("state"), nonce: q.Get("nonce"), challenge: q.Get("code_challenge")}
	if !s.opts.NoDPoP {
		cn.dpopJKT = q.Get("dpop_jkt")
	}
	fail := func(code, desc string) {
		s.redirectResult(w, cn, url.Values{"error": {code}, "error_description": {desc}})
	}
	scope, err := checkScope(q.Get("scope"))
	switch {
	case q.Get("response_type") != "code":
		fail("unsupported_response_type", "response_type must be code")
	case err != nil:
		fail("invalid_scope", err.Error())
	case q.Get("code_challenge_method") != "S256":
		fail("invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256")
	case !challengeRE.MatchString(cn.challenge):
		fail("invalid_request", "code_challenge must be 43 base64url characters (S256 of the verifier)")
	case cn.dpopJKT != "" && !jktRE.MatchString(cn.dpopJKT):
		fail("invalid_request", "dpop_jkt must be a JWK SHA-256 thumbprint: 43 base64url characters")
	default:
		cn.scope = scope
		id := s.addConsent(cn)
		s.renderPage(w, http.StatusOK, page{Title: "Log in", Form: "login", Action: "/authorize", Req: id, Client: c.id, Scope: scope})
	}
}

// redirectResult sends the user agent back to the client with params, state and iss (RFC 9207).
func (s *Server) redirectResult(w http.ResponseWriter, cn *consent, params url.Values) {
	u, err := url.Parse(cn.redirect)
	if err != nil { // checked by loopbackRedirect already
		s.errorPage(w, http.StatusBadRequest, "bad redirect_uri")
		return
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	if cn.state != "" {
		q.Set("state", cn.state)
	}
	q.Set("iss", cn.issuer)
	u.RawQuery = q.Encode()
	note(w, "redirect %s", params.Get("error"))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", u.String())
	w.WriteHeader(http.StatusFound)
}

func (s *Server) addConsent(cn *consent) string {
	id := randOpaque()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneOIDCLocked(s.now())
	cn.exp = s.now().Add(consentTTL)
	s.oidc.pending[id] = cn
	return id
}

// authorizeForm is POST /authorize: the login and the approve forms.
func (s *Server) authorizeForm(w http.ResponseWriter, r *http.Request) {
	s.consentForm(w, r, kindCode)
}

// consentForm runs one step of a pending consent: log in, approve or deny.
func (s *Server) consentForm(w http.ResponseWriter, r *http.Request, kind string) {
	form, err := s.htmlForm(w, r)
	if err != nil {
		s.errorPage(w, http.StatusBadRequest, err.Error())
		return
	}
	id := form.Get("req")
	s.mu.Lock()
	cn := s.oidc.pending[id]
	if cn != nil && (cn.kind != kind || !s.now().Before(cn.exp)) {
		cn = nil
	}
	s.mu.Unlock()
	if cn == nil {
		s.errorPage(w, http.StatusBadRequest, "this request is unknown or has expired: start again from the application")
		return
	}
	action := "/authorize"
	if kind == kindDevice {
		action = "/device"
	}
	base := page{Action: action, Req: id, Client: cn.client, Scope: cn.scope}
	if cn.device != nil {
		base.Device = formatUserCode(cn.device.userCode) // set before the consent was stored: read-only
	}
	switch {
	case form.Has("deny"):
		s.finishConsent(w, id, cn, false)
	case form.Has("approve"):
		if s.consentUser(cn) == "" {
			base.Title, base.Form, base.Error = "Log in", "login", "log in first"
			s.renderPage(w, http.StatusOK, base)
			return
		}
		s.finishConsent(w, id, cn, true)
	default:
		if !s.checkPassword(form.Get("username"), form.Get("password")) {
			s.count(func(st *Stats) { st.LoginsFailed++ })
			note(w, "login form: wrong credentials")
			base.Title, base.Form, base.Error = "Log in", "login", "wrong username or password"
			s.renderPage(w, http.StatusOK, base)
			return
		}
		s.mu.Lock()
		cn.user, cn.authTime = form.Get("username"), s.now()
		s.mu.Unlock()
		base.Title, base.Form, base.User = "Approve access", "approve", form.Get("username")
		s.renderPage(w, http.StatusOK, base)
	}
}

func (s *Server) consentUser(cn *consent) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cn.user
}

// finishConsent ends a pending consent: a code (or an error) back to the client, or the
// device's verdict recorded for its poller.
func (s *Server) finishConsent(w http.ResponseWriter, id string, cn *consent, approved bool) {
	s.mu.Lock()
	if s.oidc.pending[id] != cn { // a concurrent post finished it first
		s.mu.Unlock()
		s.errorPage(w, http.StatusBadRequest, "this request was already answered")
		return
	}
	delete(s.oidc.pending, id)
	now := s.now()
	var code string
	stale := false // the device code expired (or was answered) while the user was on the forms
	switch {
	case cn.kind == kindDevice:
		stale = !now.Before(cn.device.exp) || cn.device.status != devicePending
		if !stale {
			cn.device.status, cn.device.user, cn.device.authTime = deviceDenied, cn.user, cn.authTime
			if approved {
				cn.device.status = deviceApproved
			}
		}
	case approved:
		code = randOpaque()
		s.oidc.codes[code] = &codeRec{client: cn.client, redirect: cn.redirect, challenge: cn.challenge,
			nonce: cn.nonce, scope: cn.scope, user: cn.user, authTime: cn.authTime, exp: now.Add(codeTTL), dpopJKT: cn.dpopJKT}
		s.stats.AuthCodesIssued++
	}
	s.mu.Unlock()
	switch {
	case stale:
		s.errorPage(w, http.StatusBadRequest, "the device code has expired or was already answered: start again on your device")
	case cn.kind == kindDevice && approved:
		s.renderPage(w, http.StatusOK, page{Title: "Device approved", Message: "You can return to your device."})
	case cn.kind == kindDevice:
		s.renderPage(w, http.StatusOK, page{Title: "Access denied", Message: "The device was not given access."})
	case approved:
		s.redirectResult(w, cn, url.Values{"code": {code}})
	default:
		s.redirectResult(w, cn, url.Values{"error": {"access_denied"}, "error_description": {"the user denied the request"}})
	}
}

// htmlForm parses a capped form post from the HTML pages.
func (s *Server) htmlForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, fmt.Errorf("form larger than %d bytes", s.opts.MaxBodyBytes)
		}
		return nil, errors.New("malformed form")
	}
	return r.PostForm, nil
}

// pruneOIDCLocked drops expired consents, codes and device codes; the caller holds s.mu.
// Used codes are kept a while after their expiry, so that a replay still revokes.
func (s *Server) pruneOIDCLocked(now time.Time) {
	o := &s.oidc
	if now.Sub(o.lastPrune) < time.Minute && len(o.pending)+len(o.codes)+len(o.devices) < 4096 {
		return
	}
	o.lastPrune = now
	for k, c := range o.pending {
		if !now.Before(c.exp) {
			delete(o.pending, k)
		}
	}
	for k, c := range o.codes {
		if !now.Before(c.exp.Add(consentTTL)) {
			delete(o.codes, k)
		}
	}
	for k, d := range o.devices {
		if !now.Before(d.exp.Add(consentTTL)) {
			delete(o.devices, k)
			delete(o.userCodes, d.userCode)
		}
	}
}

// ---- HTML ----

// page is what the one HTML template shows. html/template escapes every field.
type page struct {
	Title, Error, Message string
	Form                  string // "login", "approve", "usercode" or empty
	Action, Req           string
	Client, Scope, User   string
	UserCode              string // the user code form's value
	// Device is the user code of the device a login or approval connects: RFC 8628 §5.4 asks
	// that the user can check it against the code their device shows (a link with the code in
	// it, verification_uri_complete, skips the form where they would have typed it).
	Device string
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} - tokenscope demo</title></head>
<body>
<h1>{{.Title}}</h1>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>
{{end}}{{if .Message}}<p>{{.Message}}</p>
{{end}}{{if .Device}}<p>Connecting the device that shows the code <b class="user-code">{{.Device}}</b>: check that your device shows this code. If it does not, do not go on.</p>
{{end}}{{if eq .Form "login"}}<p>Client <b>{{.Client}}</b> asks for: <code>{{.Scope}}</code></p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="req" value="{{.Req}}">
<p><label>Username <input name="username" autocomplete="username" autofocus></label></p>
<p><label>Password <input type="password" name="password" autocomplete="current-password"></label></p>
<p><button type="submit" name="login" value="1">Log in</button></p>
</form>
{{else if eq .Form "approve"}}<p>Let <b>{{.Client}}</b> act as <b>{{.User}}</b> with: <code>{{.Scope}}</code>?</p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="req" value="{{.Req}}">
<button type="submit" name="approve" value="1">Approve</button>
<button type="submit" name="deny" value="1">Deny</button>
</form>
{{else if eq .Form "usercode"}}<form method="post" action="/device">
<p><label>Code shown on your device <input name="user_code" value="{{.UserCode}}" autocomplete="off" autofocus></label></p>
<p><button type="submit">Continue</button></p>
</form>
{{end}}</body></html>
`))

func (s *Server) renderPage(w http.ResponseWriter, status int, p page) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, p)
}

func (s *Server) errorPage(w http.ResponseWriter, status int, msg string) {
	note(w, "%s", msg)
	s.renderPage(w, status, page{Title: "Authorization error", Error: msg})
}
