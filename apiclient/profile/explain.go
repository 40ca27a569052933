package profile

// A profile in plain words: what `tokenscope profile check` prints, so that a user can read what
// tokenscope will send and expect before pointing it at a real service.

import (
	"fmt"
	"maps"
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
	auth := fmt.Sprintf("requests (to --target): %s: %s", p.Auth.Header, WithScheme(p.Auth.Scheme, "<access token>"))
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

// explainCall describes one call; fields are its credential or token fields as placeholders.
func (p Profile) explainCall(what string, ep Endpoint, fields map[string]string) []string {
	target := ep.Path
	if ep.URLEnv != "" {
		target = "$" + ep.URLEnv
	} else if strings.HasPrefix(target, "/") {
		target = "<target>" + target
	}
	q := url.Values{}
	for k, v := range ep.Query {
		q.Set(k, v)
	}
	for k, env := range ep.QueryEnv {
		q.Set(k, "$"+env)
	}
	if len(q) > 0 {
		target += "?" + strings.ReplaceAll(q.Encode(), "%24", "$")
	}
	out := []string{fmt.Sprintf("%s: %s %s", what, ep.Method, target)}
	all := maps.Clone(ep.Extra)
	if all == nil {
		all = map[string]string{}
	}
	for k, env := range ep.ExtraEnv {
		all[k] = "$" + env
	}
	if p.OAuthClient {
		all["client_id"] = "<--client-id>"
	}
	if h := headerList(ep.Headers, ep.HeadersEnv); h != "" {
		out = append(out, "  headers: "+h)
	}
	out = append(out, "  body: "+explainBody(ep, all, fields))
	tp := p.TokenPaths(ep)
	read := "  reads: access token at " + tp.Access
	switch {
	case tp.Refresh != "" && what == "login":
		read += ", refresh token at " + tp.Refresh
	case tp.Refresh != "":
		read += ", refresh token at " + tp.Refresh + " when present (rotation; else the old one is kept)"
	}
	if tp.ExpiresIn != "" {
		read += ", expires_in at " + tp.ExpiresIn
	}
	return append(out, read)
}

// explainBody shows the body's shape with placeholders for what changes.
func explainBody(ep Endpoint, all, fields map[string]string) string {
	switch ep.Send {
	case SendHeader:
		s := ""
		for k, v := range fields {
			s = fmt.Sprintf("none; the refresh token goes in the header %s: %s", k, WithScheme(ep.TokenScheme, v))
		}
		if len(all) > 0 || len(ep.JSON) > 0 {
			s += "; a JSON body " + readableJSON(ep.jsonBody(all))
		}
		return s
	case SendForm:
		maps.Copy(all, fields)
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(all)) {
			parts = append(parts, k+"="+all[k])
		}
		return fmt.Sprintf("form (%s) %s", ep.contentType("application/x-www-form-urlencoded"), strings.Join(parts, "&"))
	}
	maps.Copy(all, fields)
	return fmt.Sprintf("JSON (%s) %s", ep.contentType("application/json"), readableJSON(ep.jsonBody(all)))
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
