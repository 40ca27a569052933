package demoserver

import (
	"crypto/rand"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const (
	deviceTTL       = 10 * time.Minute
	slowDownStep    = 5 * time.Second
	devicePending   = 0
	deviceApproved  = 1
	deviceDenied    = 2
	userCodeAlpha   = "BCDFGHJKLMNPQRSTVWXZ" // RFC 8628 §6.1: consonants only, no ambiguous letters
	userCodeLetters = 8
)

// deviceRec is one device authorization (RFC 8628).
type deviceRec struct {
	deviceCode, userCode string
	client, scope        string
	exp                  time.Time
	interval             time.Duration // grows by 5 s with each slow_down
	lastPoll             time.Time
	status               int
	user                 string
	authTime             time.Time
	redeemed             bool
}

// newUserCode returns a code like WDJB-MJHT (its normalised form has no dash).
func newUserCode() string {
	b := make([]byte, userCodeLetters)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = userCodeAlpha[int(b[i])%len(userCodeAlpha)] // 256 % 20 bias is harmless here
	}
	return string(b)
}

func formatUserCode(c string) string { return c[:4] + "-" + c[4:] }

// normaliseUserCode accepts what a person types: any case, with dashes or spaces.
func normaliseUserCode(c string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return -1
		}
		return r
	}, strings.ToUpper(strings.TrimSpace(c)))
}

// deviceAuthorize is POST /oauth/device (RFC 8628 §3.1).
func (s *Server) deviceAuthorize(w http.ResponseWriter, r *http.Request) {
	form, c := s.clientForm(w, r)
	if c == nil {
		return
	}
	if !c.allows(grantDeviceCode) {
		oauthError(w, http.StatusBadRequest, "unauthorized_client", fmt.Sprintf("client %q may not use the device grant", c.id))
		return
	}
	scope, err := checkScope(form.Get("scope"))
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_scope", err.Error())
		return
	}
	d := &deviceRec{deviceCode: randOpaque(), client: c.id, scope: scope, interval: s.opts.DeviceInterval}
	s.mu.Lock()
	now := s.now()
	s.pruneOIDCLocked(now)
	d.exp = now.Add(deviceTTL)
	for d.userCode == "" || s.oidc.userCodes[d.userCode] != nil {
		d.userCode = newUserCode()
	}
	s.oidc.devices[d.deviceCode] = d
	s.oidc.userCodes[d.userCode] = d
	s.stats.DeviceCodesIssued++
	s.mu.Unlock()
	verify := s.issuer(r) + "/device"
	note(w, "device code issued")
	writeJSON(w, http.StatusOK, map[string]any{
		"device_code":               d.deviceCode,
		"user_code":                 formatUserCode(d.userCode),
		"verification_uri":          verify,
		"verification_uri_complete": verify + "?user_code=" + url.QueryEscape(formatUserCode(d.userCode)),
		"expires_in":                int(deviceTTL.Seconds()),
		"interval":                  max(1, int(math.Ceil(d.interval.Seconds()))),
	})
}

// devicePage is GET /device: the user code form, or straight to the login form when the
// verification_uri_complete carried a valid code.
func (s *Server) devicePage(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("user_code")
	if code == "" {
		s.renderPage(w, http.StatusOK, page{Title: "Connect a device", Form: "usercode"})
		return
	}
	s.deviceLogin(w, code)
}

// deviceForm is POST /device: a user code, or a step of the login and approve forms.
func (s *Server) deviceForm(w http.ResponseWriter, r *http.Request) {
	form, err := s.htmlForm(w, r)
	if err != nil {
		s.errorPage(w, http.StatusBadRequest, err.Error())
		return
	}
	if !form.Has("req") {
		s.deviceLogin(w, form.Get("user_code"))
		return
	}
	s.consentForm(w, r, kindDevice)
}

// deviceLogin starts a consent for the device whose user code was entered.
func (s *Server) deviceLogin(w http.ResponseWriter, code string) {
	s.mu.Lock()
	d := s.oidc.userCodes[normaliseUserCode(code)]
	if d != nil && (d.status != devicePending || !s.now().Before(d.exp)) {
		d = nil
	}
	s.mu.Unlock()
	if d == nil {
		note(w, "device: unknown user code")
		s.renderPage(w, http.StatusOK, page{Title: "Connect a device", Form: "usercode", UserCode: clip(code, 32),
			Error: "that code is unknown, used or expired: check the code on your device"})
		return
	}
	id := s.addConsent(&consent{kind: kindDevice, client: d.client, scope: d.scope, device: d})
	s.renderPage(w, http.StatusOK, page{Title: "Log in", Form: "login", Action: "/device", Req: id, Client: d.client, Scope: d.scope,
		Device: formatUserCode(d.userCode)})
}

// deviceCodeGrant is the token endpoint's device_code grant (RFC 8628 §3.4, §3.5).
func (s *Server) deviceCodeGrant(w http.ResponseWriter, r *http.Request, c *client, form url.Values, jkt string) {
	dc := form.Get("device_code")
	if dc == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the device_code grant needs device_code")
		return
	}
	s.mu.Lock()
	p, code, desc := s.pollDeviceLocked(dc, c, jkt)
	s.mu.Unlock()
	if code != "" {
		status := http.StatusBadRequest
		if code == "server_error" {
			status = http.StatusInternalServerError
		}
		oauthError(w, status, code, desc)
		return
	}
	s.oauthTokenResponse(w, r, p, "")
}

// pollDeviceLocked answers one poll: a pair, or an RFC 8628 error code and description. The
// caller holds s.mu.
func (s *Server) pollDeviceLocked(dc string, c *client, jkt string) (pair, string, string) {
	now := s.now()
	d := s.oidc.devices[dc]
	if d == nil || d.client != c.id {
		return pair{}, "invalid_grant", "unknown device_code"
	}
	s.stats.DevicePolls++
	if !now.Before(d.exp) {
		return pair{}, "expired_token", "the device code has expired: start again"
	}
	if !d.lastPoll.IsZero() && now.Sub(d.lastPoll) < d.interval {
		d.lastPoll = now
		d.interval += slowDownStep
		s.stats.DeviceSlowDown++
		return pair{}, "slow_down", fmt.Sprintf("polled too fast: wait %s between polls", d.interval)
	}
	d.lastPoll = now
	switch {
	case d.redeemed:
		return pair{}, "invalid_grant", "the device code was already redeemed"
	case d.status == devicePending:
		return pair{}, "authorization_pending", "the user has not approved yet"
	case d.status == deviceDenied:
		return pair{}, "access_denied", "the user denied the request"
	}
	d.redeemed = true
	s.stats.Logins++
	p, err := s.startFamilyLocked(family{user: d.user, client: d.client, scope: d.scope, authTime: d.authTime,
		oidc: true, noRefresh: !hasScope(d.scope, scopeOffline), jkt: jkt}, s.opts.OpaqueOAuth)
	if err != nil {
		return pair{}, "server_error", "minting tokens: " + err.Error()
	}
	return p, "", ""
}
