package profile

// A profile in plain words: what `tokenscope profile check` prints, so that a user can read what
// tokenscope will send and expect before pointing it at a real service.

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Explain says in plain lines what the engine will do with this profile: the login and refresh
// calls (method, URL, headers, body shape), where the tokens are read, where the countdown
// comes from, how requests carry the token, and how expiry and rejection are recognised.
// Secrets appear as placeholders (<password>, $ENV_NAME), never as values.
func (p Profile) Explain() []string {
	out := []string{"profile " + p.Name}
	out = append(out, p.explainCall("login", p.Login, map[string]string{p.Login.UserField: "<user>", p.Login.PasswordField: "<password>"})...)
	out = append(out, p.explainCall("refresh", p.Refresh, map[string]string{p.Refresh.TokenField: "<refresh token>"})...)
	auth := fmt.Sprintf("requests (to the target): %s: %s", p.Auth.Header, WithScheme(p.Auth.Scheme, "<access token>"))
	if h := headerList(p.Auth.Headers, p.Auth.HeadersEnv); h != "" {
		auth += "; also " + h
	}
	out = append(out, auth)
	out = append(out, "countdown: "+p.explainCountdown())
	out = append(out, "access expired (refresh, then retry the request once): "+explainMatcher(p.AccessExpired))
	rej := "refresh rejected (login required, requests parked): "
	if !p.RefreshRejected.Empty() {
		rej += explainMatcher(p.RefreshRejected) + "; also "
	}
	out = append(out, rej+"any other 4xx but 408 and 429",
		"refresh failed for now (session kept, retried with backoff): 5xx, 408, 429, a timeout or a network error")
	if env := p.envNames(); len(env) > 0 {
		var parts []string
		for _, n := range env {
			state := "set"
			if os.Getenv(n) == "" {
				state = "NOT SET"
			}
			parts = append(parts, n+" ("+state+")")
		}
		out = append(out, "environment: "+strings.Join(parts, ", ")+"; read once at start, and the values of query_env, headers_env and extra_env are redacted from every event")
	}
	return out
}

// explainCall describes one call from what the engine builds (Endpoint.authCall) with
// placeholders for the secrets; fields are its credential or token fields as placeholders.
func (p Profile) explainCall(what string, ep Endpoint, fields map[string]string) []string {
	extra := maps.Clone(ep.Extra)
	if extra == nil {
		extra = map[string]string{}
	}
	if p.OAuthClient {
		extra["client_id"] = "<client id>"
	}
	if ep.Send == SendCookie {
		fields = nil // the jar sends the refresh token as a cookie: see cookieLines
	}
	call := ep.authCall(extra, fields, func(name string) string { return "$" + name })
	target := ep.Path
	if ep.URLEnv != "" {
		target = "$" + ep.URLEnv
	} else if strings.HasPrefix(target, "/") {
		target = "<target>" + target
	}
	if len(call.Query) > 0 {
		target += "?" + strings.ReplaceAll(call.Query.Encode(), "%24", "$")
	}
	out := []string{fmt.Sprintf("%s: %s %s", what, ep.Method, target)}
	if ep.Send == SendCookie {
		out = append(out, p.cookieLines()...)
	}
	if h := callHeaders(call.Header); h != "" {
		out = append(out, "  headers: "+h)
	}
	out = append(out, "  body: "+explainBody(call))
	tp := p.TokenPaths(ep)
	read := "  reads: access token at " + tp.Access
	switch {
	case tp.Refresh != "" && what == "login":
		read += ", refresh token at " + tp.Refresh
	case tp.Refresh != "":
		read += ", refresh token at " + tp.Refresh + " when present (rotation; else the old one is kept)"
	case p.CookieMode():
		read += ", refresh token from its Set-Cookie " + p.Cookie.Refresh + " (the jar keeps it; a new one replaces it)"
	}
	if tp.ExpiresIn != "" {
		read += ", expires_in at " + tp.ExpiresIn
	}
	return append(out, read)
}

// cookieLines say what the cookie convention's refresh call carries besides its AuthCall: the
// jar's cookie and the CSRF header (Engine.prepareCookieRefresh).
func (p Profile) cookieLines() []string {
	out := []string{"  cookie: " + p.Cookie.Refresh + "=<refresh token> (from the jar, as the server set it)"}
	if p.Cookie.CSRFHeader != "" {
		out = append(out, "  csrf: "+p.Cookie.CSRFHeader+": <the "+p.Cookie.CSRFCookie+" cookie's value> (double submit)")
	}
	return out
}

// callHeaders lists a call's headers, sorted.
func callHeaders(h http.Header) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(h)) {
		parts = append(parts, k+": "+h.Get(k))
	}
	return strings.Join(parts, ", ")
}

// explainBody shows the body's shape with its placeholders.
func explainBody(c AuthCall) string {
	if len(c.Body) == 0 {
		return "none"
	}
	if form, err := url.ParseQuery(string(c.Body)); err == nil && strings.HasPrefix(c.ContentType, "application/x-www-form-urlencoded") {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(form)) {
			parts = append(parts, k+"="+form.Get(k))
		}
		return fmt.Sprintf("form (%s) %s", c.ContentType, strings.Join(parts, "&"))
	}
	return fmt.Sprintf("JSON (%s) %s", c.ContentType, readableJSON(c.Body))
}

// readableJSON undoes encoding/json's HTML escapes, which the placeholders are full of.
func readableJSON(b []byte) string {
	return strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(b))
}

func headerList(fixed, env map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(fixed)) {
		parts = append(parts, k+": "+fixed[k])
	}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		parts = append(parts, k+": $"+env[k])
	}
	return strings.Join(parts, ", ")
}

func (p Profile) explainCountdown() string {
	var src []string
	for _, ep := range []Endpoint{p.Login, p.Refresh} {
		if e := p.TokenPaths(ep).ExpiresIn; e != "" && !slices.Contains(src, e) {
			src = append(src, e)
		}
	}
	if len(src) == 0 {
		return "from the access token's exp claim (a JWT); an opaque token has no countdown and is refreshed after a 401 only — set tokens.expires_in"
	}
	return "from the access token's exp claim when it is a JWT, else from expires_in (" + strings.Join(src, ", ") +
		"; seconds, a number or a numeric string, counted from when the answer arrived)"
}

func explainMatcher(m Matcher) string {
	if m.Empty() {
		return "nothing (never recognised)"
	}
	var parts []string
	if len(m.Status) > 0 {
		codes := make([]string, len(m.Status))
		for i, c := range m.Status {
			codes[i] = strconv.Itoa(c)
		}
		parts = append(parts, "status "+strings.Join(codes, " or "))
	}
	if m.Field != "" {
		if len(m.Values) > 0 {
			parts = append(parts, "JSON field "+m.Field+" is one of "+strings.Join(m.Values, ", "))
		} else {
			parts = append(parts, "JSON field "+m.Field+" present")
		}
	}
	if m.Header != "" {
		parts = append(parts, "header "+m.Header+" contains "+strconv.Quote(m.HeaderContains))
	}
	return strings.Join(parts, " and ")
}

// envNames lists every environment variable the profile reads, sorted.
func (p Profile) envNames() []string {
	var names []string
	add := func(m map[string]string) {
		for _, v := range m {
			if !slices.Contains(names, v) {
				names = append(names, v)
			}
		}
	}
	for _, ep := range []Endpoint{p.Login, p.Refresh} {
		add(ep.QueryEnv)
		add(ep.HeadersEnv)
		add(ep.ExtraEnv)
		if ep.URLEnv != "" && !slices.Contains(names, ep.URLEnv) {
			names = append(names, ep.URLEnv)
		}
	}
	add(p.Auth.HeadersEnv)
	slices.Sort(names)
	return names
}
