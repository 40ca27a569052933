package profile

// What hosted auth services (Firebase, Supabase, Cognito) need of a profile beyond the four
// conventions: a key in the query, fixed headers, values from the environment, another content
// type, nested JSON bodies, other field names in the login answer than in the refresh answer,
// and endpoints on other hosts than the API. The keys are general: the built-in profiles below
// use nothing a profile file cannot say, so that users can write the next service themselves.

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"mime"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"tokenscope/internal/hostcheck"
)

// EndpointExtras are the optional parts of a login or refresh call. They are embedded in
// Endpoint, so their keys sit in [login] and [refresh] beside the others.
type EndpointExtras struct {
	// Query parameters added to the URL (Firebase's ?key=API_KEY), and parameters whose value
	// is read from an environment variable (parameter → variable): a secret stays out of
	// argv and out of the profile file.
	Query    map[string]string `toml:"query"`
	QueryEnv map[string]string `toml:"query_env"`
	// Headers sent with the call (Cognito's X-Amz-Target), and headers read from the
	// environment (Supabase's apikey).
	Headers    map[string]string `toml:"headers"`
	HeadersEnv map[string]string `toml:"headers_env"`
	// ExtraEnv are body fields read from the environment (Cognito's ClientId).
	ExtraEnv map[string]string `toml:"extra_env"`
	// JSON members added to a JSON body as they are written: nested tables, booleans and
	// numbers too (Firebase's returnSecureToken = true, Cognito's AuthFlow).
	JSON map[string]any `toml:"json"`
	// ContentType replaces the body's media type (Cognito's application/x-amz-json-1.1).
	ContentType string `toml:"content_type"`
	// URLEnv names an environment variable holding the endpoint's absolute URL; when set it
	// wins over path (Cognito's endpoint depends on the user pool's region).
	URLEnv string `toml:"url_env"`
	// Tokens override the profile's [tokens] for this call's answer (Firebase's login answers
	// idToken, its refresh id_token).
	Tokens TokenPaths `toml:"tokens"`
}

// AuthExtras are headers every API request carries besides the token (Supabase's apikey).
type AuthExtras struct {
	Headers    map[string]string `toml:"headers"`
	HeadersEnv map[string]string `toml:"headers_env"`
}

// Env is what a profile's *_env keys resolved to, read once when an engine starts.
type Env struct {
	APIHeaders map[string]string // [auth] headers and headers_env, resolved
	Secrets    []string          // every value read for a *_env key: redacted wherever text is shown
}

// HostedNames lists the built-in profiles of hosted auth services.
func HostedNames() []string { return []string{"firebase", "supabase", "cognito"} }

// AllNames lists every built-in profile: the conventions, then the hosted services.
func AllNames() []string { return append(Names(), HostedNames()...) }

// hostedBuiltins are written from each service's public REST documentation (see README).
var hostedBuiltins = map[string]Profile{
	// Firebase Auth REST API: signInWithPassword at identitytoolkit, the refresh at
	// securetoken; both take the Web API key in the query; expiresIn is a string of seconds.
	// The ID token is what a Firebase-backed API verifies, so it is the bearer.
	"firebase": {
		Name: "firebase",
		Login: Endpoint{Method: "POST", Path: "https://identitytoolkit.googleapis.com/v1/accounts:signInWithPassword",
			Send: SendJSON, UserField: "email", PasswordField: "password",
			EndpointExtras: EndpointExtras{QueryEnv: map[string]string{"key": "FIREBASE_API_KEY"},
				JSON:   map[string]any{"returnSecureToken": true},
				Tokens: TokenPaths{Access: "idToken", Refresh: "refreshToken", ExpiresIn: "expiresIn"}}},
		Refresh: Endpoint{Method: "POST", Path: "https://securetoken.googleapis.com/v1/token", Send: SendForm,
			TokenField: "refresh_token", Extra: map[string]string{"grant_type": "refresh_token"},
			EndpointExtras: EndpointExtras{QueryEnv: map[string]string{"key": "FIREBASE_API_KEY"}}},
		Tokens:        TokenPaths{Access: "id_token", Refresh: "refresh_token", ExpiresIn: "expires_in"},
		Auth:          bearer,
		AccessExpired: Matcher{Status: []int{401}},
		RefreshRejected: Matcher{Status: []int{400}, Field: "error.message", Values: []string{"TOKEN_EXPIRED",
			"USER_DISABLED", "USER_NOT_FOUND", "INVALID_REFRESH_TOKEN", "INVALID_GRANT_TYPE", "MISSING_REFRESH_TOKEN",
			"PROJECT_NUMBER_MISMATCH"}},
	},
	// Supabase Auth (GoTrue), at the project URL that also serves the REST API: every call
	// carries the project's anon key in the apikey header; refresh tokens rotate.
	"supabase": {
		Name: "supabase",
		Login: Endpoint{Method: "POST", Path: "/auth/v1/token", Send: SendJSON, UserField: "email", PasswordField: "password",
			EndpointExtras: EndpointExtras{Query: map[string]string{"grant_type": "password"},
				HeadersEnv: map[string]string{"apikey": "SUPABASE_ANON_KEY"}}},
		Refresh: Endpoint{Method: "POST", Path: "/auth/v1/token", Send: SendJSON, TokenField: "refresh_token",
			EndpointExtras: EndpointExtras{Query: map[string]string{"grant_type": "refresh_token"},
				HeadersEnv: map[string]string{"apikey": "SUPABASE_ANON_KEY"}}},
		Tokens:        TokenPaths{Access: "access_token", Refresh: "refresh_token", ExpiresIn: "expires_in"},
		Auth:          AuthHeader{Header: "Authorization", Scheme: "Bearer", AuthExtras: AuthExtras{HeadersEnv: map[string]string{"apikey": "SUPABASE_ANON_KEY"}}},
		AccessExpired: Matcher{Status: []int{401}},
		RefreshRejected: Matcher{Status: []int{400, 401}, Field: "error_code", Values: []string{"refresh_token_not_found",
			"refresh_token_already_used", "session_not_found", "session_expired", "user_not_found", "user_banned"}},
	},
	// Amazon Cognito user pools: InitiateAuth (JSON 1.1) at the pool's regional endpoint,
	// USER_PASSWORD_AUTH to log in (the app client must allow it) and REFRESH_TOKEN_AUTH to
	// refresh, which never rotates: an app client with rotation on refreshes with
	// GetTokensFromRefreshToken instead (see README).
	"cognito": {
		Name: "cognito",
		Login: Endpoint{Method: "POST", Path: "/", Send: SendJSON, UserField: "AuthParameters.USERNAME", PasswordField: "AuthParameters.PASSWORD",
			EndpointExtras: cognitoCall("USER_PASSWORD_AUTH")},
		Refresh: Endpoint{Method: "POST", Path: "/", Send: SendJSON, TokenField: "AuthParameters.REFRESH_TOKEN",
			EndpointExtras: cognitoCall("REFRESH_TOKEN_AUTH")},
		Tokens: TokenPaths{Access: "AuthenticationResult.AccessToken", Refresh: "AuthenticationResult.RefreshToken",
			ExpiresIn: "AuthenticationResult.ExpiresIn"},
		Auth:          bearer,
		AccessExpired: Matcher{Status: []int{401}},
		RefreshRejected: Matcher{Status: []int{400}, Field: "__type", Values: []string{"NotAuthorizedException",
			"UserNotFoundException", "UserNotConfirmedException", "PasswordResetRequiredException"}},
	},
}

func cognitoCall(flow string) EndpointExtras {
	return EndpointExtras{
		URLEnv:      "COGNITO_ENDPOINT",
		ContentType: "application/x-amz-json-1.1",
		Headers:     map[string]string{"X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth"},
		ExtraEnv:    map[string]string{"ClientId": "COGNITO_CLIENT_ID"},
		JSON:        map[string]any{"AuthFlow": flow},
	}
}

// cloneExtras copies the maps, so that an overlay cannot write into a built-in.
func (x EndpointExtras) cloneExtras() EndpointExtras {
	x.Query, x.QueryEnv = maps.Clone(x.Query), maps.Clone(x.QueryEnv)
	x.Headers, x.HeadersEnv = maps.Clone(x.Headers), maps.Clone(x.HeadersEnv)
	x.ExtraEnv = maps.Clone(x.ExtraEnv)
	x.JSON, _ = deepCopyJSON(x.JSON).(map[string]any)
	return x
}

func (x AuthExtras) cloneExtras() AuthExtras {
	x.Headers, x.HeadersEnv = maps.Clone(x.Headers), maps.Clone(x.HeadersEnv)
	return x
}

// deepCopyJSON copies nested TOML tables and arrays; scalars are values already.
func deepCopyJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if x == nil {
			return x
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopyJSON(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopyJSON(e)
		}
		return out
	case []map[string]any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopyJSON(e)
		}
		return out
	}
	return v
}

// TokenPaths is the profile's token paths with the endpoint's overrides on top.
func (p Profile) TokenPaths(ep Endpoint) TokenPaths {
	t, o := p.Tokens, ep.Tokens
	if o.Access != "" {
		t.Access = o.Access
	}
	if o.Refresh != "" {
		t.Refresh = o.Refresh
	}
	if o.ExpiresIn != "" {
		t.ExpiresIn = o.ExpiresIn
	}
	return t
}

// Target is where the call goes: the URL from url_env when it is set, else path (relative to
// --target, or absolute). ResolveEnv checked both when the engine started.
func (ep Endpoint) Target() string {
	if ep.URLEnv != "" {
		if u := os.Getenv(ep.URLEnv); u != "" {
			return u
		}
	}
	return ep.Path
}

// contentType is the endpoint's media type: content_type when set, else def.
func (ep Endpoint) contentType(def string) string {
	if ep.ContentType != "" {
		return ep.ContentType
	}
	return def
}

// jsonBody is a JSON body: the endpoint's json members, then every field at its dotted path
// (AuthParameters.REFRESH_TOKEN is {"AuthParameters": {"REFRESH_TOKEN": ...}}).
func (ep Endpoint) jsonBody(fields map[string]string) []byte {
	doc, _ := deepCopyJSON(ep.JSON).(map[string]any)
	if doc == nil {
		doc = map[string]any{}
	}
	keys := slices.Sorted(maps.Keys(fields)) // the same body for the same fields, every time
	for _, k := range keys {
		SetJSONPath(doc, k, fields[k])
	}
	return mustJSONAny(doc)
}

// SetJSONPath sets a dotted path (data.token) in a decoded JSON object, making the objects on
// the way; a scalar in the way is replaced (Validate refuses profiles where that could happen,
// so only OIDC's own fields could). observe writes its injected answers with it too.
func SetJSONPath(doc map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := doc[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			doc[p] = next
		}
		doc = next
	}
	doc[parts[len(parts)-1]] = v
}

func mustJSONAny(v map[string]any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only a TOML value JSON cannot hold (a date-time is a string to JSON, so nothing
		// today); Validate checked the profile, so say so in the body rather than panic.
		return []byte("{}")
	}
	return b
}

// ResolveEnv reads every *_env key once, at New: a variable that is not set is an error now,
// not an empty API key on the wire later. It returns the values, for redaction, and the API
// headers to send with every request.
func (p Profile) ResolveEnv() (Env, error) {
	var st Env
	read := func(key, env string) (string, error) {
		v := os.Getenv(env)
		if v == "" {
			return "", fmt.Errorf("%s names the environment variable %s, which is not set", key, env)
		}
		st.Secrets = append(st.Secrets, v)
		return v, nil
	}
	for _, ep := range []struct {
		what string
		e    Endpoint
	}{{"login", p.Login}, {"refresh", p.Refresh}} {
		for _, m := range []struct {
			key string
			m   map[string]string
		}{{"query_env", ep.e.QueryEnv}, {"headers_env", ep.e.HeadersEnv}, {"extra_env", ep.e.ExtraEnv}} {
			for _, k := range slices.Sorted(maps.Keys(m.m)) {
				if _, err := read(fmt.Sprintf("%s.%s.%s", ep.what, m.key, k), m.m[k]); err != nil {
					return Env{}, err
				}
			}
		}
		if ep.e.URLEnv != "" {
			u := os.Getenv(ep.e.URLEnv)
			if u == "" {
				return Env{}, fmt.Errorf("%s.url_env names the environment variable %s, which is not set", ep.what, ep.e.URLEnv)
			}
			if err := checkAbsURL(u); err != nil {
				return Env{}, fmt.Errorf("%s.url_env: %s: %w", ep.what, ep.e.URLEnv, err)
			}
		}
	}
	st.APIHeaders = maps.Clone(p.Auth.Headers)
	for _, k := range slices.Sorted(maps.Keys(p.Auth.HeadersEnv)) {
		v, err := read("auth.headers_env."+k, p.Auth.HeadersEnv[k])
		if err != nil {
			return Env{}, err
		}
		if st.APIHeaders == nil {
			st.APIHeaders = map[string]string{}
		}
		st.APIHeaders[k] = v
	}
	return st, nil
}

// checkAbsURL accepts an absolute endpoint URL: https, or http to a loopback host only (a
// local emulator), because credentials and refresh tokens travel in it.
func checkAbsURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("%q is not an absolute URL without user info or fragment", s)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if hostcheck.IsLoopbackHost(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q: plain http only to a loopback host (credentials travel in this call); use https", s)
	}
	return fmt.Errorf("%q: the scheme must be https (or http to a loopback host)", s)
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// validateEndpoint checks one call's path and its extras.
func validateEndpoint(what string, ep Endpoint) error {
	switch {
	case ep.URLEnv != "":
		if !envName.MatchString(ep.URLEnv) {
			return fmt.Errorf("%s.url_env: %q is not an environment variable name", what, ep.URLEnv)
		}
		if ep.Path != "" && !strings.HasPrefix(ep.Path, "/") {
			if err := checkAbsURL(ep.Path); err != nil {
				return fmt.Errorf("%s.path: %w", what, err)
			}
		}
	case strings.HasPrefix(ep.Path, "/"):
	case strings.Contains(ep.Path, "://"):
		if err := checkAbsURL(ep.Path); err != nil {
			return fmt.Errorf("%s.path: %w", what, err)
		}
	default:
		return fmt.Errorf("%s.path must start with / (or be an absolute https URL), got %q", what, ep.Path)
	}
	if err := validateMaps(what, ep.Query, ep.QueryEnv, ep.Headers, ep.HeadersEnv, ep.ExtraEnv); err != nil {
		return err
	}
	if ep.ContentType != "" {
		if _, _, err := mime.ParseMediaType(ep.ContentType); err != nil {
			return fmt.Errorf("%s.content_type %q: %v", what, ep.ContentType, err)
		}
	}
	if len(ep.JSON) > 0 && ep.Send == SendForm {
		return fmt.Errorf("%s.json needs a JSON body; send is form (use extra for form fields)", what)
	}
	return checkNesting(what, ep)
}

// validateMaps checks header names and values and environment variable names.
func validateMaps(what string, query, queryEnv, headers, headersEnv, extraEnv map[string]string) error {
	for _, m := range []struct {
		key string
		m   map[string]string
		env bool
	}{{"query", query, false}, {"query_env", queryEnv, true}, {"headers", headers, false},
		{"headers_env", headersEnv, true}, {"extra_env", extraEnv, true}} {
		for _, k := range slices.Sorted(maps.Keys(m.m)) {
			v := m.m[k]
			if k == "" {
				return fmt.Errorf("%s.%s has an empty name", what, m.key)
			}
			if m.env && !envName.MatchString(v) {
				return fmt.Errorf("%s.%s.%s: %q is not an environment variable name (the value is read from the environment, never written here)", what, m.key, k, v)
			}
			if strings.HasPrefix(m.key, "headers") {
				if !validHeaderName(k) {
					return fmt.Errorf("%s.%s: %q is not a header name", what, m.key, k)
				}
				if strings.EqualFold(k, "Content-Type") {
					return fmt.Errorf("%s.%s: set Content-Type with content_type", what, m.key)
				}
				if strings.ContainsAny(v, "\r\n\x00") {
					return fmt.Errorf("%s.%s.%s: a header value cannot hold a line break", what, m.key, k)
				}
			}
		}
	}
	return nil
}

// validHeaderName accepts an RFC 9110 token: what net/http would send as a header name.
func validHeaderName(k string) bool {
	return k != "" && strings.IndexFunc(k, func(r rune) bool {
		return r <= ' ' || r >= 0x7f || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
	}) < 0
}

// checkNesting refuses a JSON body where one field's dotted path runs through another's value
// ("a" and "a.b"): the body could not hold both.
func checkNesting(what string, ep Endpoint) error {
	if ep.Send == SendForm {
		return nil
	}
	var names []string
	for _, n := range []string{ep.UserField, ep.PasswordField} {
		if n != "" {
			names = append(names, n)
		}
	}
	if ep.Send == SendJSON && ep.TokenField != "" {
		names = append(names, ep.TokenField)
	}
	names = append(names, slices.Collect(maps.Keys(ep.Extra))...)
	names = append(names, slices.Collect(maps.Keys(ep.ExtraEnv))...)
	names = append(names, jsonLeaves("", ep.JSON)...)
	sort.Strings(names)
	for i := 1; i < len(names); i++ {
		if strings.HasPrefix(names[i], names[i-1]+".") || names[i] == names[i-1] {
			return fmt.Errorf("%s: the body fields %q and %q overlap", what, names[i-1], names[i])
		}
	}
	return nil
}

// jsonLeaves names the scalar members of a json table by their dotted paths.
func jsonLeaves(prefix string, m map[string]any) []string {
	var out []string
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			out = append(out, jsonLeaves(prefix+k+".", sub)...)
			continue
		}
		out = append(out, prefix+k)
	}
	return out
}

// validateHosted checks what the hosted keys add to a profile.
func (p Profile) validateHosted() error {
	for _, ep := range []struct {
		what string
		e    Endpoint
	}{{"login", p.Login}, {"refresh", p.Refresh}} {
		if err := validateEndpoint(ep.what, ep.e); err != nil {
			return err
		}
	}
	if err := validateMaps("auth", nil, nil, p.Auth.Headers, p.Auth.HeadersEnv, nil); err != nil {
		return err
	}
	for _, k := range slices.Concat(slices.Collect(maps.Keys(p.Auth.Headers)), slices.Collect(maps.Keys(p.Auth.HeadersEnv))) {
		if strings.EqualFold(k, p.Auth.Header) {
			return errors.New("auth.headers: " + k + " is where the access token goes")
		}
	}
	return nil
}

// undecodedKeys are the keys of a profile file that nothing read, less the members of json
// tables: they are free-form (decoded whole into a map), though the TOML decoder lists
// their nested keys as undecoded.
func undecodedKeys(md toml.MetaData) []toml.Key {
	var out []toml.Key
	for _, k := range md.Undecoded() {
		if len(k) > 2 && (k[0] == "login" || k[0] == "refresh") && k[1] == "json" {
			continue
		}
		out = append(out, k)
	}
	return out
}
