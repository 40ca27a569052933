package profile

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"
)

// Request is what a user sends. The body is kept as bytes so that a retry or a replay sends it
// intact (resty re-sends readers empty).
type Request struct {
	Name   string // what a list shows it as (a preset's or a .http file's name); the engine ignores it
	Method string
	Path   string
	Header http.Header
	Body   []byte
	// Provider names a call to the identity provider the engine builds itself
	// (apiclient.ProviderIntrospect); empty for an API request.
	Provider string
	// Err says why this request cannot be sent (a file gave it a method that is not one, or a
	// target that is neither a path nor an http(s) URL): it is listed with its name, and sending
	// it fails with this reason, while the rest of its file still loads.
	Err string
}

// PresetRequests returns the profile's ready-made requests as Requests, read by the rules every
// request is read by (CheckMethod, RequestPath): a preset's full URL keeps only its path, so that
// a profile file cannot send the session's token to another origin, and a preset whose method
// or path cannot be sent comes back with Err set.
func (p Profile) PresetRequests() []Request {
	out := make([]Request, 0, len(p.Presets))
	for _, ps := range p.Presets {
		h := http.Header{}
		for k, v := range ps.Headers {
			h.Set(k, v)
		}
		r := Request{Name: ps.Name, Method: ps.Method, Path: ps.Path, Header: h, Body: []byte(ps.Body)}
		m, err := CheckMethod(ps.Method)
		if err == nil {
			r.Method = m
			r.Path, err = RequestPath(ps.Path)
		}
		if err != nil {
			r.Err = fmt.Sprintf("preset %q: %v", ps.Name, err)
		}
		out = append(out, r)
	}
	return out
}

// methods are the methods a request may use.
var methods = []string{
	http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodHead, http.MethodOptions,
}

// CheckMethod returns the method in upper case when it is one a request may use. Every reader
// of requests (.http files, Postman collections, pasted curl, presets, the composer, the
// command line) asks it: a method goes on the wire and into a copied curl command, so one that
// is not even an RFC 9110 token (GET;touch x) is refused as such.
func CheckMethod(m string) (string, error) {
	up := strings.ToUpper(m)
	switch {
	case slices.Contains(methods, up):
		return up, nil
	case !IsToken(m):
		return "", fmt.Errorf("unknown method %q: not an HTTP method token (RFC 9110 §9.1: no spaces, ;, |, & and the like)", m)
	}
	return "", fmt.Errorf("unknown method %q (want GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS)", m)
}

// RequestPath turns a request target into the path and query the engine sends. It is where a
// request may go, for every reader (.http files, Postman, pasted curl, presets, the composer,
// the command line): a path, or an http(s) URL of which only the path and query are kept, so
// that the session's credentials go to the session's target and nowhere else.
func RequestPath(target string) (string, error) {
	switch low := strings.ToLower(target); {
	case strings.HasPrefix(target, "/"):
		if j := strings.IndexByte(target, '#'); j >= 0 {
			target = target[:j]
		}
		if _, err := url.Parse(target); err != nil {
			return "", fmt.Errorf("bad target %q: %v", target, URLError(err))
		}
		return target, nil
	case strings.HasPrefix(low, "http://"), strings.HasPrefix(low, "https://"):
		u, err := url.Parse(target)
		if err != nil {
			return "", fmt.Errorf("bad URL %q: %v", target, URLError(err))
		}
		if u.Host == "" || u.Opaque != "" {
			return "", fmt.Errorf("URL %q has no host", target)
		}
		path := u.EscapedPath()
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		if u.RawQuery != "" || u.ForceQuery {
			path += "?" + u.RawQuery
		}
		return path, nil
	}
	return "", fmt.Errorf("target %q is neither a path (/api/...) nor an http(s) URL: want METHOD /path", target)
}

// IsToken reports whether s is a valid header name (an RFC 9110 token).
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// BadURLRune reports whitespace and control characters.
func BadURLRune(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsControl(r)
}

// URLError drops url.Error's repetition of the URL.
func URLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
