// Package profile holds the wire formats of token auth: the built-in conventions, the hosted
// services and profile files; recognising and explaining them; the one parser of login and
// refresh answers; and the one verdict on a refresh answer. It describes calls as plain data
// and imports neither resty nor the engine, so that the engine, observe's proxy and the
// request files read the wire one way.
package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"tokenscope/internal/cappedfile"
)

// How a credential or token travels in a login or refresh call.
const (
	SendJSON   = "json"   // a field of a JSON object body
	SendForm   = "form"   // a field of an application/x-www-form-urlencoded body
	SendHeader = "header" // a request header (element-admin's X-Token)
)

// Profile is the wire format of one API's auth: where to log in and refresh, how credentials
// and tokens travel, where the tokens are in the answers, and how an expired access token and a
// rejected refresh token are recognised. Built-in profiles cover DESIGN.md's four conventions;
// a TOML file can describe any other API.
type Profile struct {
	Name    string   `toml:"name"`
	Login   Endpoint `toml:"login"`
	Refresh Endpoint `toml:"refresh"`
	// Tokens are the dotted paths of the tokens in login and refresh answers.
	Tokens TokenPaths `toml:"tokens"`
	// Auth is how the access token is attached to requests.
	Auth AuthHeader `toml:"auth"`
	// AccessExpired recognises "the access token is no longer good" (refresh and retry).
	AccessExpired Matcher `toml:"access_expired"`
	// RefreshRejected recognises "the refresh token is no longer good" (login required).
	// Any other 4xx answer to a refresh (except 408 and 429) is treated as a rejection too.
	RefreshRejected Matcher `toml:"refresh_rejected"`
	// OAuthClient sends client_id (and client_secret when given) with login and refresh, as
	// RFC 6749 §2.3 says.
	OAuthClient bool `toml:"oauth_client"`
	// Presets are ready-made requests for this API, shown in the TUI's request list.
	Presets []Preset `toml:"presets"`
	// Cookie names the cookies when refresh.send is "cookie" (cookie.go).
	Cookie CookieNames `toml:"cookie"`
}

// Endpoint is a login or refresh call.
type Endpoint struct {
	Method string `toml:"method"`
	Path   string `toml:"path"`
	// Send is how credentials (login) or the refresh token (refresh) travel: json, form or header.
	Send string `toml:"send"`
	// UserField and PasswordField name the login credentials.
	UserField     string `toml:"user_field"`
	PasswordField string `toml:"password_field"`
	// TokenField names the refresh token's field, or its header when Send is "header".
	TokenField string `toml:"token_field"`
	// TokenScheme prefixes a refresh token sent in a header ("Bearer").
	TokenScheme string `toml:"token_scheme"`
	// Extra fields sent as they are (grant_type=password).
	Extra map[string]string `toml:"extra"`
	// EndpointExtras: query, headers, environment values, JSON members (hosted.go).
	EndpointExtras
}

// TokenPaths are dotted paths (data.token) into a JSON answer.
type TokenPaths struct {
	Access    string `toml:"access"`
	Refresh   string `toml:"refresh"`
	ExpiresIn string `toml:"expires_in"`
}

// AuthHeader is how requests carry the access token.
type AuthHeader struct {
	Header string `toml:"header"` // Authorization, X-Token, ...
	Scheme string `toml:"scheme"` // Bearer, or empty for the bare token

	// AuthExtras: fixed headers on every API request (hosted.go).
	AuthExtras
}

// Matcher recognises an answer. Every part that is set must match.
type Matcher struct {
	Status []int `toml:"status"`
	// Field is a dotted path into the JSON body; Values are the accepted values (any value
	// when empty, but the field must be present).
	Field  string   `toml:"field"`
	Values []string `toml:"values"`
	// Header must contain HeaderContains (case-insensitively).
	Header         string `toml:"header"`
	HeaderContains string `toml:"header_contains"`
}

// Preset is a ready-made request.
type Preset struct {
	Name    string            `toml:"name"`
	Method  string            `toml:"method"`
	Path    string            `toml:"path"`
	Headers map[string]string `toml:"headers"`
	Body    string            `toml:"body"`
}

// Empty reports whether the matcher has nothing to match on.
func (m Matcher) Empty() bool { return len(m.Status) == 0 && m.Field == "" && m.Header == "" }

// Match reports whether an answer matches, with a short reason naming what matched
// ("401 code 50014", "401 invalid_token").
func (m Matcher) Match(status int, h http.Header, body []byte) (bool, string) {
	if m.Empty() || (len(m.Status) > 0 && !slices.Contains(m.Status, status)) {
		return false, ""
	}
	reason := strconv.Itoa(status)
	if m.Field != "" {
		v, ok := lookupJSON(body, m.Field)
		if !ok {
			return false, ""
		}
		s := scalarString(v)
		if len(m.Values) > 0 && !slices.Contains(m.Values, s) {
			return false, ""
		}
		if len(m.Values) > 0 {
			reason += " " + lastSegment(m.Field) + " " + s
		} else {
			// The value was not one the profile named: it is the server's to choose, and a
			// server may well put the token there. Say which field, not what it held.
			reason += " " + lastSegment(m.Field) + " present"
		}
	}
	if m.Header != "" {
		hv := h.Get(m.Header)
		if hv == "" || !strings.Contains(strings.ToLower(hv), strings.ToLower(m.HeaderContains)) {
			return false, ""
		}
		if m.HeaderContains != "" {
			reason += " " + m.HeaderContains
		}
	}
	return true, reason
}

func lastSegment(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[i+1:]
	}
	return path
}

// lookupJSON finds a dotted path in a JSON object body. Numbers stay json.Number so that codes
// like 50014 compare as written.
func lookupJSON(body []byte, path string) (any, bool) {
	var v any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil, false
	}
	return lookupPath(v, path)
}

func lookupPath(v any, path string) (any, bool) {
	for _, p := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[p]; !ok {
			return nil, false
		}
	}
	return v, true
}

func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return "null"
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

var bearer = AuthHeader{Header: "Authorization", Scheme: "Bearer"}

var demoPresets = []Preset{
	{Name: "protected", Method: "GET", Path: "/api/protected/"},
	{Name: "me", Method: "GET", Path: "/api/me"},
	{Name: "create item", Method: "POST", Path: "/api/items", Headers: map[string]string{"Content-Type": "application/json"}, Body: `{"name":"widget","qty":1}`},
}

// builtins are DESIGN.md's four conventions.
var builtins = map[string]Profile{
	"simplejwt": {
		Name:            "simplejwt",
		Login:           Endpoint{Method: "POST", Path: "/api/token/", Send: SendJSON, UserField: "username", PasswordField: "password"},
		Refresh:         Endpoint{Method: "POST", Path: "/api/token/refresh/", Send: SendJSON, TokenField: "refresh"},
		Tokens:          TokenPaths{Access: "access", Refresh: "refresh"},
		Auth:            bearer,
		AccessExpired:   Matcher{Status: []int{401}, Field: "code", Values: []string{"token_not_valid"}},
		RefreshRejected: Matcher{Status: []int{401}, Field: "code", Values: []string{"token_not_valid"}},
		Presets:         demoPresets,
	},
	"bearer-json": {
		Name:            "bearer-json",
		Login:           Endpoint{Method: "POST", Path: "/login", Send: SendJSON, UserField: "username", PasswordField: "password"},
		Refresh:         Endpoint{Method: "POST", Path: "/refresh-token", Send: SendJSON, TokenField: "refreshToken"},
		Tokens:          TokenPaths{Access: "accessToken", Refresh: "refreshToken"},
		Auth:            bearer,
		AccessExpired:   Matcher{Status: []int{401}},
		RefreshRejected: Matcher{Status: []int{401, 403}},
		Presets:         demoPresets,
	},
	"element-admin": {
		Name:            "element-admin",
		Login:           Endpoint{Method: "POST", Path: "/sys/user/login", Send: SendJSON, UserField: "username", PasswordField: "password"},
		Refresh:         Endpoint{Method: "POST", Path: "/sys/user/refreshtoken", Send: SendHeader, TokenField: "X-Token"},
		Tokens:          TokenPaths{Access: "data.token", Refresh: "data.refreshToken"},
		Auth:            AuthHeader{Header: "X-Token"},
		AccessExpired:   Matcher{Status: []int{401}, Field: "code", Values: []string{"50014"}},
		RefreshRejected: Matcher{Status: []int{401}, Field: "code", Values: []string{"50015"}},
		Presets: []Preset{
			{Name: "user info", Method: "GET", Path: "/sys/user/info"},
			{Name: "create item", Method: "POST", Path: "/sys/items", Headers: map[string]string{"Content-Type": "application/json"}, Body: `{"name":"widget","qty":1}`},
		},
	},
	"oauth2": {
		Name: "oauth2",
		Login: Endpoint{Method: "POST", Path: "/oauth/token", Send: SendForm, UserField: "username", PasswordField: "password",
			Extra: map[string]string{"grant_type": "password"}},
		Refresh: Endpoint{Method: "POST", Path: "/oauth/token", Send: SendForm, TokenField: "refresh_token",
			Extra: map[string]string{"grant_type": "refresh_token"}},
		Tokens:        TokenPaths{Access: "access_token", Refresh: "refresh_token", ExpiresIn: "expires_in"},
		Auth:          bearer,
		AccessExpired: Matcher{Status: []int{401}, Header: "WWW-Authenticate", HeaderContains: "invalid_token"},
		RefreshRejected: Matcher{Status: []int{400, 401}, Field: "error", // RFC 6749 §5.2
			Values: []string{"invalid_grant", "invalid_client", "invalid_request", "unauthorized_client", "unsupported_grant_type", "invalid_scope"}},
		OAuthClient: true,
		Presets:     demoPresets,
	},
	"cookie": {
		Name:            "cookie",
		Login:           Endpoint{Method: "POST", Path: "/auth/login", Send: SendJSON, UserField: "username", PasswordField: "password"},
		Refresh:         Endpoint{Method: "POST", Path: "/auth/refresh", Send: SendCookie},
		Tokens:          TokenPaths{Access: "accessToken"},
		Cookie:          CookieNames{Refresh: "refresh_token", CSRFCookie: "csrf_token", CSRFHeader: "X-CSRF-Token"},
		Auth:            bearer,
		AccessExpired:   Matcher{Status: []int{401}, Field: "code", Values: []string{"token_not_valid"}},
		RefreshRejected: Matcher{Status: []int{401}, Field: "code", Values: []string{"token_not_valid"}},
		Presets:         demoPresets,
	},
}

// Names lists the built-in conventions (the demo server speaks them all);
// HostedNames lists the hosted services, AllNames both.
func Names() []string {
	return []string{"simplejwt", "bearer-json", "element-admin", "oauth2", "cookie"}
}

// Builtin returns a copy of a built-in profile.
func Builtin(name string) (Profile, bool) {
	p, ok := builtins[name]
	if !ok {
		// Looked up here rather than copied in by an init func: package-level variables (and
		// other packages' init) may ask for a built-in before any init func has run.
		if p, ok = hostedBuiltins[name]; !ok {
			return Profile{}, false
		}
	}
	return p.clone(), true
}

// clone copies every slice and map, so that a caller (or a TOML overlay) can change the copy
// without touching the built-ins shared by the whole process.
func (p Profile) clone() Profile {
	p.Login.Extra = maps.Clone(p.Login.Extra)
	p.Refresh.Extra = maps.Clone(p.Refresh.Extra)
	p.Login.EndpointExtras = p.Login.cloneExtras()
	p.Refresh.EndpointExtras = p.Refresh.cloneExtras()
	p.Auth.AuthExtras = p.Auth.cloneExtras()
	for _, m := range []*Matcher{&p.AccessExpired, &p.RefreshRejected} {
		m.Status = slices.Clone(m.Status)
		m.Values = slices.Clone(m.Values)
	}
	p.Presets = slices.Clone(p.Presets)
	for i := range p.Presets {
		p.Presets[i].Headers = maps.Clone(p.Presets[i].Headers)
	}
	return p
}

// Resolve accepts a built-in name or the path of a TOML profile file.
func Resolve(nameOrFile string) (Profile, error) {
	if p, ok := Builtin(nameOrFile); ok {
		return p, nil
	}
	if _, err := os.Stat(nameOrFile); err != nil {
		return Profile{}, fmt.Errorf("profile %q is neither a built-in (%s) nor a readable file", nameOrFile, strings.Join(AllNames(), ", "))
	}
	return Load(nameOrFile)
}

// Load reads a custom profile from a TOML file. A file may start from a built-in with
// `base = "simplejwt"` and override only what differs.
func Load(path string) (Profile, error) {
	data, err := cappedfile.Read(path, cappedfile.MaxConfigBytes)
	if err != nil {
		return Profile{}, err
	}
	return Parse(path, data)
}

// Parse parses TOML profile data; name is used in error messages.
func Parse(name string, data []byte) (Profile, error) {
	var head struct {
		Base string `toml:"base"`
	}
	if _, err := toml.Decode(string(data), &head); err != nil {
		return Profile{}, profileError(name, err)
	}
	var p Profile
	if head.Base != "" {
		b, ok := Builtin(head.Base)
		if !ok {
			return Profile{}, fmt.Errorf("%s: base %q is not a built-in profile (%s)", name, head.Base, strings.Join(AllNames(), ", "))
		}
		p = b
	}
	// Lists in the file replace the base's lists instead of being decoded over them element
	// by element (which would leave stale entries and merge unrelated presets).
	var probe Profile
	probeMD, _ := toml.Decode(string(data), &probe)
	for _, l := range []struct {
		key []string
		f   func()
	}{
		{[]string{"presets"}, func() { p.Presets = nil }},
		{[]string{"access_expired", "status"}, func() { p.AccessExpired.Status = nil }},
		{[]string{"access_expired", "values"}, func() { p.AccessExpired.Values = nil }},
		{[]string{"refresh_rejected", "status"}, func() { p.RefreshRejected.Status = nil }},
		{[]string{"refresh_rejected", "values"}, func() { p.RefreshRejected.Values = nil }},
		// A json table is free-form: merged, a base's member could never be taken out.
		{[]string{"login", "json"}, func() { p.Login.JSON = nil }},
		{[]string{"refresh", "json"}, func() { p.Refresh.JSON = nil }},
	} {
		if probeMD.IsDefined(l.key...) {
			l.f()
		}
	}
	var overlay struct {
		Profile
		Base string `toml:"base"`
	}
	overlay.Profile = p
	md, err := toml.Decode(string(data), &overlay)
	if err != nil {
		return Profile{}, profileError(name, err)
	}
	if und := undecodedKeys(md); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return Profile{}, fmt.Errorf("%s: unknown keys: %s", name, strings.Join(keys, ", "))
	}
	p = overlay.Profile
	if p.Name == "" {
		p.Name = name
	}
	p.WithDefaults()
	if err := p.Validate(); err != nil {
		return Profile{}, fmt.Errorf("%s: %w", name, err)
	}
	return p, nil
}

func profileError(name string, err error) error {
	var perr toml.ParseError
	if errors.As(err, &perr) {
		return fmt.Errorf("%s:%d: %s", name, perr.Position.Line, perr.Message)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// WithDefaults fills in what a profile may leave out: the endpoints' method is POST unless
// given, and upper case.
func (p *Profile) WithDefaults() {
	for _, e := range []*Endpoint{&p.Login, &p.Refresh} {
		if e.Method == "" {
			e.Method = "POST"
		}
		e.Method = strings.ToUpper(e.Method)
	}
	p.cookieDefaults()
}

// Validate reports the first thing that makes the profile unusable. It changes nothing.
func (p Profile) Validate() error {
	for _, ep := range []struct {
		what string
		e    *Endpoint
	}{{"login", &p.Login}, {"refresh", &p.Refresh}} {
		switch ep.e.Send {
		case SendJSON, SendForm:
		case SendHeader, SendCookie:
			if ep.what == "login" {
				return errors.New("login.send must be json or form")
			}
		default:
			return fmt.Errorf("%s.send must be json, form, header or cookie, got %q", ep.what, ep.e.Send)
		}
	}
	if p.Login.UserField == "" || p.Login.PasswordField == "" {
		return errors.New("login.user_field and login.password_field are required")
	}
	if p.Refresh.TokenField == "" && !p.CookieMode() {
		return errors.New("refresh.token_field is required")
	}
	if err := p.validateCookie(); err != nil {
		return err
	}
	if p.Tokens.Access == "" {
		return errors.New("tokens.access is required")
	}
	if p.Auth.Header == "" {
		return errors.New("auth.header is required (Authorization, X-Token, ...)")
	}
	if p.AccessExpired.Empty() {
		return errors.New("access_expired needs a status, field or header to match")
	}
	return p.validateHosted()
}
