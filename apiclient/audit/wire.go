package audit

// The token endpoint's manners: its error shape, its caching headers, its refresh cookie and
// its logout.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"tokenscope/apiclient/profile"
	"tokenscope/internal/hostcheck"
	"tokenscope/internal/sanitize"
)

// isOAuth reports whether the profile speaks RFC 6749 at its token endpoint, whose error
// shapes (§5.2) are judged; the other conventions have their own, which are reported.
func (l *lab) isOAuth() bool {
	p := l.t.Profile
	return p.OAuthClient || p.Refresh.Extra["grant_type"] == "refresh_token"
}

type refreshErrorValue struct {
	Status int     `json:"status"`
	Error  *string `json:"error"`
}

type refreshErrorCheck struct{}

func (refreshErrorCheck) id() string { return "refresh_error_shape" }

// invalidRefresh is a refresh token no server issued.
const invalidRefresh = "tokenscope-audit-not-a-refresh-token"

func (refreshErrorCheck) run(ctx context.Context, l *lab) Result {
	const id = "refresh_error_shape"
	f := &family{}
	if l.t.Profile.CookieMode() {
		// The double submit's cookie comes from a login; only the refresh token is invented.
		var err error
		if f, _, err = l.login(ctx); err != nil {
			return skipped(id, err.Error())
		}
	}
	v, x := l.refresh(ctx, f, invalidRefresh, "(a refresh token no server issued)")
	if v.Outcome == profile.VerdictTransient && (v.Cause == profile.CauseTransport || v.Cause == profile.CauseStatus) {
		return skipped(id, "The refresh endpoint failed (a 5xx, 408 or 429, or no answer): try again later.")
	}
	val := refreshErrorValue{Status: x.status, Error: bodyCode(x.body, "error", "code")}
	r := Result{Value: val, Reference: "RFC 6749 §5.2"}
	switch {
	case x.ok():
		r.Status, r.Summary = Fail, "The refresh endpoint answers success to a refresh token no server issued."
	case !l.isOAuth():
		r.Status, r.Summary = Info, fmt.Sprintf("A rejected refresh token gets %d%s, this convention's own shape (RFC 6749 §5.2 is for OAuth token endpoints): clients must match it to send the user to a login.", x.status, codeWords(val.Error))
	case x.status == http.StatusBadRequest && val.Error != nil && *val.Error == "invalid_grant":
		r.Status, r.Summary = Pass, "A rejected refresh token gets 400 invalid_grant, as RFC 6749 §5.2 says: OAuth clients know to log in again."
	default:
		r.Status, r.Summary = Fail, fmt.Sprintf("A rejected refresh token gets %d%s, not 400 invalid_grant: OAuth libraries may retry it or take it for a server fault.", x.status, codeWords(val.Error))
	}
	return r
}

func codeWords(code *string) string {
	if code == nil {
		return ""
	}
	return " " + *code
}

type headersValue struct {
	CacheControl *string `json:"cache_control"`
	NoStore      bool    `json:"no_store"`
}

type headersCheck struct{}

func (headersCheck) id() string { return "token_response_headers" }

func (headersCheck) run(ctx context.Context, l *lab) Result {
	const id = "token_response_headers"
	f, x1, err := l.login(ctx)
	if err != nil {
		return skipped(id, err.Error())
	}
	v, x2 := l.refresh(ctx, f, f.refresh.Raw, "(its headers)")
	answers := []exchange{x1}
	if v.Outcome == profile.VerdictOK {
		answers = append(answers, x2)
	}
	val := headersValue{NoStore: true}
	for _, x := range answers {
		cc := x.header.Get("Cache-Control")
		if !strings.Contains(strings.ToLower(cc), "no-store") {
			if val.NoStore && cc != "" {
				s := sanitize.Line(cc)
				val.CacheControl = &s
			}
			val.NoStore = false
		} else if val.CacheControl == nil && val.NoStore {
			s := sanitize.Line(cc)
			val.CacheControl = &s
		}
	}
	if !val.NoStore && val.CacheControl != nil && strings.Contains(strings.ToLower(*val.CacheControl), "no-store") {
		val.CacheControl = nil // the login's no-store is not the answer that lacked it
	}
	r := Result{Value: val, Reference: "RFC 6749 §5.1"}
	if val.NoStore {
		r.Status, r.Summary = Pass, "Token answers carry Cache-Control: no-store: no cache or proxy keeps a copy of the tokens."
	} else {
		r.Status, r.Summary = Fail, "A token answer lacks Cache-Control: no-store: a shared cache or the browser may keep the tokens."
	}
	return r
}

type cookieValue struct {
	HTTPOnly bool    `json:"http_only"`
	Secure   bool    `json:"secure"`
	SameSite *string `json:"same_site"`
	Path     string  `json:"path"`
}

type cookieCheck struct{}

func (cookieCheck) id() string { return "cookie" }

func (cookieCheck) run(ctx context.Context, l *lab) Result {
	const id = "cookie"
	if !l.t.Profile.CookieMode() {
		return skipped(id, "The refresh token does not travel in a cookie in this profile.")
	}
	_, x, err := l.login(ctx)
	if err != nil {
		return skipped(id, err.Error())
	}
	var c *http.Cookie
	for _, k := range (&http.Response{Header: x.header}).Cookies() {
		if k.Name == l.t.Profile.Cookie.Refresh {
			c = k
		}
	}
	if c == nil {
		return skipped(id, "The login set no "+l.t.Profile.Cookie.Refresh+" cookie.")
	}
	val := cookieValue{HTTPOnly: c.HttpOnly, Secure: c.Secure, Path: sanitize.Line(c.Path)}
	if ss := sameSite(x.header, c.Name); ss != "" {
		val.SameSite = &ss
	}
	https := strings.HasPrefix(l.t.BaseURL, "https://")
	r := Result{Value: val, Reference: "RFC 6265 §4.1.2.5–6, RFC 6265bis SameSite"}
	switch {
	case !val.HTTPOnly:
		r.Status, r.Summary = Fail, "The refresh cookie is not HttpOnly: any script on the page (an XSS) can read the refresh token."
	case https && !val.Secure:
		r.Status, r.Summary = Fail, "The refresh cookie is not Secure: it may travel over plain HTTP."
	case val.SameSite == nil || strings.EqualFold(*val.SameSite, "none"):
		r.Status, r.Summary = Warn, "The refresh cookie has no SameSite restriction: other sites' requests carry it, so the refresh endpoint relies on its CSRF check alone."
	default:
		r.Status, r.Summary = Pass, "The refresh cookie is HttpOnly and SameSite: scripts cannot read it and other sites cannot send it."
		if !https {
			r.Summary += " (An http target cannot show Secure.)"
		}
	}
	return r
}

// sameSite is the SameSite attribute of the named Set-Cookie as written ("" when absent):
// net/http reads an absent one and a bad one alike.
func sameSite(h http.Header, name string) string {
	for _, line := range h.Values("Set-Cookie") {
		parts := strings.Split(line, ";")
		if n, _, _ := strings.Cut(strings.TrimSpace(parts[0]), "="); n != name {
			continue
		}
		for _, p := range parts[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "SameSite") {
				return sanitize.Line(v)
			}
		}
	}
	return ""
}

type logoutValue struct {
	RefreshRevoked bool `json:"refresh_revoked"`
	AccessRevoked  bool `json:"access_revoked"`
}

type logoutCheck struct{}

func (logoutCheck) id() string { return "logout" }

// revocationEndpoint is the target's RFC 7009 endpoint from its RFC 8414 or OpenID metadata,
// on the target's own origin; "" when it publishes none.
func (l *lab) revocationEndpoint(ctx context.Context) string {
	if l.t.RevocationEndpoint != "" {
		return l.t.RevocationEndpoint
	}
	for _, p := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		u, _ := l.resolve(p)
		x := l.do(ctx, "metadata", http.MethodGet, u, http.Header{"Accept": {"application/json"}}, nil)
		var doc struct {
			Revocation string `json:"revocation_endpoint"`
		}
		if !x.ok() || json.Unmarshal(x.body, &doc) != nil || doc.Revocation == "" {
			continue
		}
		if hostcheck.Origin(doc.Revocation) == hostcheck.Origin(l.t.BaseURL) {
			return doc.Revocation
		}
	}
	return ""
}

func (logoutCheck) run(ctx context.Context, l *lab) Result {
	const id = "logout"
	if !l.isOAuth() {
		return skipped(id, "The profile names no logout, and only OAuth servers publish a revocation endpoint.")
	}
	ep := l.revocationEndpoint(ctx)
	if ep == "" {
		return skipped(id, "The server publishes no revocation_endpoint (RFC 8414) on its own origin.")
	}
	f, _, err := l.login(ctx)
	if err != nil {
		return skipped(id, err.Error())
	}
	if skip := l.apiWorks(ctx, f); skip != "" {
		return skipped(id, skip)
	}
	form := url.Values{"token": {f.refresh.Raw}, "token_type_hint": {"refresh_token"}, "client_id": {l.t.ClientID}}
	if l.t.ClientSecret != "" {
		form.Set("client_secret", l.t.ClientSecret)
	}
	u, _ := url.Parse(ep)
	x := l.do(ctx, "revoke", http.MethodPost, u, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, []byte(form.Encode()))
	l.note(x, "revoke the refresh token "+fp(f.refresh))
	if !x.ok() {
		return skipped(id, fmt.Sprintf("The revocation endpoint answered %d.", x.status))
	}
	v, _ := l.refresh(ctx, f, f.refresh.Raw, "(after its revocation)")
	a := l.apiCall(ctx, f.access.Raw, "(the access token, after the refresh token's revocation)")
	val := logoutValue{RefreshRevoked: v.Outcome == profile.VerdictRejected, AccessRevoked: !a.ok() && a.err == nil && a.status < 500}
	r := Result{Value: val, Reference: "RFC 7009 §2.1"}
	switch {
	case !val.RefreshRevoked:
		r.Status, r.Summary = Fail, "A revoked refresh token still refreshes: logging out does not end the session."
	case !val.AccessRevoked:
		r.Status, r.Summary = Info, "Revocation ends the refresh token; the access token stays good until its exp."
	default:
		r.Status, r.Summary = Pass, "Revocation ends the refresh token and the access tokens issued with it."
	}
	return r
}
