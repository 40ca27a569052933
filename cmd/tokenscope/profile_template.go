package main

// The annotated profile `tokenscope profile init` writes: every key of the profile format with
// a comment and a value. It is generated from a Profile rather than kept as a text, so that it
// can show a built-in's own values (--base) and cannot drift from the keys the parser knows
// (a test parses every template back).

import (
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"tokenscope/apiclient/profile"
)

// keySpec is one key of the profile format.
type keySpec struct {
	key, help string
	get       func(p *profile.Profile) any
	example   any // shown, commented out, when the profile leaves the key empty
}

// section is a table of the format and its keys; each header is written once.
type section struct {
	header, help string
	keys         []keySpec
}

func endpointKeys(ep func(p *profile.Profile) *profile.Endpoint, login bool) []keySpec {
	field := keySpec{"token_field", "the refresh token's field (dotted for nested JSON), or its header when send = \"header\"",
		func(p *profile.Profile) any { return ep(p).TokenField }, "refresh_token"}
	creds := []keySpec{
		{"token_scheme", "with send = \"header\": put this before the token (\"Bearer\")", func(p *profile.Profile) any { return ep(p).TokenScheme }, "Bearer"},
	}
	if login {
		field = keySpec{"user_field", "the user name's field; a dotted name nests in a JSON body (AuthParameters.USERNAME)",
			func(p *profile.Profile) any { return ep(p).UserField }, "username"}
		creds = []keySpec{{"password_field", "the password's field", func(p *profile.Profile) any { return ep(p).PasswordField }, "password"}}
	}
	keys := []keySpec{
		{"method", "HTTP method (default POST)", func(p *profile.Profile) any { return ep(p).Method }, "POST"},
		{"path", "relative to --target, or an absolute https URL (http only to a loopback host)", func(p *profile.Profile) any { return ep(p).Path }, "/auth/login"},
		{"url_env", "an environment variable holding the absolute URL; wins over path", func(p *profile.Profile) any { return ep(p).URLEnv }, "MY_AUTH_URL"},
		{"send", "how the fields travel: json, form (or header or cookie, refresh only)", func(p *profile.Profile) any { return ep(p).Send }, "json"},
		field,
	}
	keys = append(keys, creds...)
	return append(keys,
		keySpec{"content_type", "the body's media type instead of application/json or the form type", func(p *profile.Profile) any { return ep(p).ContentType }, "application/x-amz-json-1.1"},
		keySpec{"query", "query parameters added to the URL", func(p *profile.Profile) any { return ep(p).Query }, map[string]string{"grant_type": "password"}},
		keySpec{"query_env", "query parameters read from environment variables (parameter = VARIABLE): keys stay out of files", func(p *profile.Profile) any { return ep(p).QueryEnv }, map[string]string{"key": "MY_API_KEY"}},
		keySpec{"headers", "headers sent with this call", func(p *profile.Profile) any { return ep(p).Headers }, map[string]string{"X-Amz-Target": "Service.Operation"}},
		keySpec{"headers_env", "headers read from environment variables (Header = VARIABLE)", func(p *profile.Profile) any { return ep(p).HeadersEnv }, map[string]string{"apikey": "MY_ANON_KEY"}},
		keySpec{"extra", "more body fields, as strings", func(p *profile.Profile) any { return ep(p).Extra }, map[string]string{"grant_type": "password"}},
		keySpec{"extra_env", "body fields read from environment variables (field = VARIABLE)", func(p *profile.Profile) any { return ep(p).ExtraEnv }, map[string]string{"client_id": "MY_CLIENT_ID"}},
		keySpec{"json", "JSON members sent as written: booleans, numbers, nested tables", func(p *profile.Profile) any { return ep(p).JSON }, map[string]any{"returnSecureToken": true}},
		keySpec{"tokens", "where this answer's tokens are, when not where [tokens] says", func(p *profile.Profile) any { return ep(p).Tokens }, profile.TokenPaths{Access: "idToken", ExpiresIn: "expiresIn"}},
	)
}

func matcherKeys(m func(p *profile.Profile) *profile.Matcher, example profile.Matcher) []keySpec {
	return []keySpec{
		{"status", "the answer's status is one of these", func(p *profile.Profile) any { return m(p).Status }, example.Status},
		{"field", "a dotted path into the JSON body that must be present", func(p *profile.Profile) any { return m(p).Field }, example.Field},
		{"values", "...and hold one of these values (any value when empty)", func(p *profile.Profile) any { return m(p).Values }, example.Values},
		{"header", "a header that must be present", func(p *profile.Profile) any { return m(p).Header }, "WWW-Authenticate"},
		{"header_contains", "...and contain this, case-insensitively", func(p *profile.Profile) any { return m(p).HeaderContains }, "invalid_token"},
	}
}

var profileSections = []section{
	{"", "", []keySpec{
		{"name", "shown in the TUI's header (default: the file name)", func(p *profile.Profile) any { return p.Name }, "my-api"},
		{"oauth_client", "send client_id (--client-id) and client_secret (--client-secret-env) with login and refresh, RFC 6749 §2.3", func(p *profile.Profile) any { return p.OAuthClient }, true},
	}},
	{"[login]", "the login call: the user's credentials for a pair of tokens",
		endpointKeys(func(p *profile.Profile) *profile.Endpoint { return &p.Login }, true)},
	{"[refresh]", "the refresh call: the refresh token for a new access token",
		endpointKeys(func(p *profile.Profile) *profile.Endpoint { return &p.Refresh }, false)},
	{"[tokens]", "dotted paths into login and refresh answers", []keySpec{
		{"access", "the access token", func(p *profile.Profile) any { return p.Tokens.Access }, "access_token"},
		{"refresh", "the refresh token (a refresh answer without it keeps the old one)", func(p *profile.Profile) any { return p.Tokens.Refresh }, "refresh_token"},
		{"expires_in", "seconds the access token lives, a number or a numeric string: the countdown of an opaque token", func(p *profile.Profile) any { return p.Tokens.ExpiresIn }, "expires_in"},
	}},
	{"[auth]", "how API requests carry the access token", []keySpec{
		{"header", "the header", func(p *profile.Profile) any { return p.Auth.Header }, "Authorization"},
		{"scheme", "before the token; empty for the bare token", func(p *profile.Profile) any { return p.Auth.Scheme }, "Bearer"},
		{"headers", "more headers on every API request", func(p *profile.Profile) any { return p.Auth.Headers }, map[string]string{"X-Tenant": "acme"}},
		{"headers_env", "headers on every API request, read from environment variables", func(p *profile.Profile) any { return p.Auth.HeadersEnv }, map[string]string{"apikey": "MY_ANON_KEY"}},
	}},
	{"[cookie]", "when refresh.send is cookie: the refresh token lives in an HttpOnly cookie", []keySpec{
		{"refresh", "the refresh token's cookie", func(p *profile.Profile) any { return p.Cookie.Refresh }, "refresh_token"},
		{"csrf_cookie", "a cookie whose value goes back in csrf_header on refresh (double submit)", func(p *profile.Profile) any { return p.Cookie.CSRFCookie }, "csrf_token"},
		{"csrf_header", "the header the CSRF value goes in (default X-CSRF-Token)", func(p *profile.Profile) any { return p.Cookie.CSRFHeader }, "X-CSRF-Token"},
		{"path", "where a resumed session's cookie is put back (default: refresh.path)", func(p *profile.Profile) any { return p.Cookie.Path }, "/auth"},
	}},
	{"[access_expired]", "an answer meaning \"the access token is no longer good\": refresh, then retry once",
		matcherKeys(func(p *profile.Profile) *profile.Matcher { return &p.AccessExpired }, profile.Matcher{Status: []int{401}, Field: "code", Values: []string{"token_expired"}})},
	{"[refresh_rejected]", "a refresh answer meaning \"log in again\" (any other 4xx but 408 and 429 is one too)",
		matcherKeys(func(p *profile.Profile) *profile.Matcher { return &p.RefreshRejected }, profile.Matcher{Status: []int{400, 401}, Field: "error", Values: []string{"invalid_grant"}})},
}

// exampleProfile is what `profile init` starts from without --base: an API with opaque tokens
// whose countdown comes from expires_in.
var exampleProfile = profile.Profile{
	Name:            "my-api",
	Login:           profile.Endpoint{Method: "POST", Path: "/auth/login", Send: "json", UserField: "username", PasswordField: "password"},
	Refresh:         profile.Endpoint{Method: "POST", Path: "/auth/refresh", Send: "json", TokenField: "refresh_token"},
	Tokens:          profile.TokenPaths{Access: "access_token", Refresh: "refresh_token", ExpiresIn: "expires_in"},
	Auth:            profile.AuthHeader{Header: "Authorization", Scheme: "Bearer"},
	AccessExpired:   profile.Matcher{Status: []int{401}},
	RefreshRejected: profile.Matcher{Status: []int{400, 401}},
	Presets: []profile.Preset{{Name: "me", Method: "GET", Path: "/api/me"},
		{Name: "create item", Method: "POST", Path: "/api/items", Headers: map[string]string{"Content-Type": "application/json"}, Body: `{"name":"widget"}`}},
}

// profileTemplate writes p as an annotated profile. With base set, every key is commented out:
// the base supplies it, and the user uncomments what differs.
func profileTemplate(p profile.Profile, base string) string {
	var b strings.Builder
	b.WriteString("# A tokenscope profile: the wire format of one API's auth.\n" +
		"# Check it with `tokenscope profile check FILE`; use it with --profile FILE.\n" +
		"# Secrets never go in this file: *_env keys name environment variables instead.\n")
	if base != "" {
		fmt.Fprintf(&b, "# Starts from the built-in %q; uncomment a key to override it.\nbase = %q\n", base, base)
	}
	for _, s := range profileSections {
		if s.header != "" {
			fmt.Fprintf(&b, "\n# %s\n%s\n", s.help, s.header)
		}
		for _, k := range s.keys {
			v, set := k.get(&p), true
			if isEmpty(v) {
				v, set = k.example, false
			}
			prefix := ""
			if !set || base != "" {
				prefix = "# "
			}
			help := k.help
			if !set {
				help += " (an example: not set)"
			}
			fmt.Fprintf(&b, "%s%s = %s   # %s\n", prefix, k.key, tomlValue(v), help)
		}
	}
	writePresets(&b, p.Presets, base != "")
	return b.String()
}

func writePresets(b *strings.Builder, presets []profile.Preset, commented bool) {
	c := ""
	if commented {
		c = "# "
	}
	b.WriteString("\n# Ready-made requests the TUI lists for this API (relative to --target).\n")
	if len(presets) == 0 {
		presets, c = []profile.Preset{{Name: "me", Method: "GET", Path: "/api/me"}}, "# "
	}
	for _, ps := range presets {
		fmt.Fprintf(b, "%s[[presets]]\n", c)
		fmt.Fprintf(b, "%sname = %s   # shown in the request list\n", c, tomlValue(ps.Name))
		fmt.Fprintf(b, "%smethod = %s   # any HTTP method\n", c, tomlValue(ps.Method))
		fmt.Fprintf(b, "%spath = %s   # relative to --target\n", c, tomlValue(ps.Path))
		if len(ps.Headers) > 0 {
			fmt.Fprintf(b, "%sheaders = %s   # sent as they are\n", c, tomlValue(ps.Headers))
		}
		if ps.Body != "" {
			fmt.Fprintf(b, "%sbody = %s   # sent as it is\n", c, tomlValue(ps.Body))
		}
	}
}

func isEmpty(v any) bool {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map, reflect.Slice:
		return rv.Len() == 0
	case reflect.Bool:
		return !rv.Bool()
	}
	return rv.IsZero()
}

var bareKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// tomlValue writes a value as TOML: strings, booleans, numbers, arrays and inline tables.
func tomlValue(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x) // the keys and values here are printable ASCII, where Go's quoting is TOML's
	case bool:
		return strconv.FormatBool(x)
	case int, int64, float64:
		return fmt.Sprint(x)
	case []int:
		return tomlArray(len(x), func(i int) string { return strconv.Itoa(x[i]) })
	case []string:
		return tomlArray(len(x), func(i int) string { return strconv.Quote(x[i]) })
	case map[string]string:
		return tomlTable(slices.Sorted(maps.Keys(x)), func(k string) any { return x[k] })
	case map[string]any:
		return tomlTable(slices.Sorted(maps.Keys(x)), func(k string) any { return x[k] })
	case profile.TokenPaths:
		m := map[string]string{"access": x.Access, "refresh": x.Refresh, "expires_in": x.ExpiresIn}
		maps.DeleteFunc(m, func(_, v string) bool { return v == "" })
		return tomlValue(m)
	}
	return strconv.Quote(fmt.Sprint(v))
}

func tomlArray(n int, item func(int) string) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = item(i)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func tomlTable(keys []string, get func(string) any) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		name := k
		if !bareKey.MatchString(k) {
			name = strconv.Quote(k)
		}
		parts[i] = name + " = " + tomlValue(get(k))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
