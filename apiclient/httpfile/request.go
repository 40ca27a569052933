package httpfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"

	"tokenscope/apiclient"
)

// The request grammar, shared by the TUI's composer, fire's arguments and .http files:
//
//	METHOD target [HTTP/x]       a known method; a bare target is a GET
//	Name: value                  headers until a blank line; names are RFC 9110 tokens and
//	                             values hold no control characters but tab
//
//	body                         the rest
//
// The target is a path (/api/...) or an http(s) URL, of which only the path and query are
// kept: the engine sends everything to its own target. Lines starting with # or // among
// the headers are comments.

// methods are the methods a request may use.
var methods = []string{
	http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodHead, http.MethodOptions,
}

// ParseRequest reads one request in the composer's format: the request line, header lines, a
// blank line and the body, taken as it is but for surrounding whitespace. Line endings may be
// \n or \r\n. A JSON body without a Content-Type gets application/json. Errors name the line.
// Format is its inverse.
func ParseRequest(text string) (apiclient.Request, error) {
	text = strings.TrimPrefix(strings.ReplaceAll(text, "\r\n", "\n"), "\ufeff")
	lines := strings.Split(strings.TrimLeft(text, " \t\n"), "\n")
	p := &parser{literal: true}
	nr, i, err := p.head(lines, 0)
	if err != nil {
		return apiclient.Request{}, err
	}
	if i, _, err = p.headers(lines, i, nr.Request.Header); err != nil {
		return apiclient.Request{}, err
	}
	if body := strings.TrimSpace(strings.Join(lines[i:], "\n")); body != "" {
		nr.Request.Body = []byte(body)
	}
	return withContentType(nr.Request), nil
}

// NewRequest builds a request from its parts by the same rules as ParseRequest: what fire
// sends from METHOD PATH [BODY] on its command line. The method is case-insensitive.
func NewRequest(method, target string, header http.Header, body []byte) (apiclient.Request, error) {
	m, err := CheckMethod(method)
	if err != nil {
		return apiclient.Request{}, err
	}
	if strings.ContainsFunc(target, badURLRune) {
		return apiclient.Request{}, fmt.Errorf("target %q contains whitespace or a control character", target)
	}
	path, err := targetPath(target)
	if err != nil {
		return apiclient.Request{}, err
	}
	r := apiclient.Request{Method: m, Path: path, Header: http.Header{}}
	for name, vs := range header {
		for _, v := range vs {
			if err := checkHeader(name, v); err != nil {
				return apiclient.Request{}, err
			}
			r.Header.Add(name, v)
		}
	}
	if len(body) > 0 {
		r.Body = body
	}
	return withContentType(r), nil
}

// withContentType labels a JSON body that has no Content-Type, as the composer always did.
func withContentType(r apiclient.Request) apiclient.Request {
	if len(r.Body) > 0 && r.Header.Get("Content-Type") == "" && json.Valid(r.Body) {
		r.Header.Set("Content-Type", "application/json")
	}
	return r
}

// Format writes r in ParseRequest's format, header names sorted so that the same request
// always reads the same.
func Format(r apiclient.Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", r.Method, r.Path)
	names := make([]string, 0, len(r.Header))
	for k := range r.Header {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		for _, v := range r.Header[k] {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	b.WriteString("\n")
	b.Write(r.Body)
	return b.String()
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
	case !isToken(m):
		return "", fmt.Errorf("unknown method %q: not an HTTP method token (RFC 9110 §9.1: no spaces, ;, |, & and the like)", m)
	}
	return "", fmt.Errorf("unknown method %q (want GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS)", m)
}

// requestLine splits "METHOD target [HTTP/x]" or "target [HTTP/x]".
func requestLine(rl string) (method, target string, err error) {
	f := strings.Fields(rl)
	version := func(s string) bool { return strings.HasPrefix(strings.ToUpper(s), "HTTP/") }
	switch {
	case len(f) == 0:
		return "", "", errors.New("empty request line")
	case len(f) == 1:
		if _, err := CheckMethod(f[0]); err == nil {
			return "", "", fmt.Errorf("request line %q has no target", rl)
		}
		return http.MethodGet, f[0], nil
	case len(f) == 2 && version(f[1]):
		return http.MethodGet, f[0], nil
	}
	m, err := CheckMethod(f[0])
	if err != nil {
		return "", "", err
	}
	if len(f) > 2 && !version(f[2]) {
		return "", "", fmt.Errorf("unexpected %q after the target (want METHOD target [HTTP/1.1])", f[2])
	}
	return m, f[1], nil
}

// targetPath turns a request target into the path and query the engine sends.
func targetPath(target string) (string, error) {
	switch low := strings.ToLower(target); {
	case strings.HasPrefix(target, "/"):
		if j := strings.IndexByte(target, '#'); j >= 0 {
			target = target[:j]
		}
		if _, err := url.Parse(target); err != nil {
			return "", fmt.Errorf("bad target %q: %v", target, urlError(err))
		}
		return target, nil
	case strings.HasPrefix(low, "http://"), strings.HasPrefix(low, "https://"):
		u, err := url.Parse(target)
		if err != nil {
			return "", fmt.Errorf("bad URL %q: %v", target, urlError(err))
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

// ParseHeader reads a header given as "Name: value" (curl's -H), by the rules header lines
// of a request follow.
func ParseHeader(h string) (name, value string, err error) { return headerLine(h) }

// headerLine splits and checks "Name: value".
func headerLine(h string) (name, value string, err error) {
	colon := strings.IndexByte(h, ':')
	if colon < 0 {
		return "", "", fmt.Errorf("header line %q has no colon (want Name: value)", h)
	}
	name, value = strings.TrimSpace(h[:colon]), strings.TrimSpace(h[colon+1:])
	return name, value, checkHeader(name, value)
}

// checkHeader applies RFC 9110's rules: the name is a token, the value has no control
// characters but tab.
func checkHeader(name, value string) error {
	if !isToken(name) {
		return fmt.Errorf("bad header name %q", name)
	}
	if strings.ContainsFunc(value, isCtl) {
		return fmt.Errorf("header %s: value contains a control character", name)
	}
	return nil
}

// isToken reports whether s is a valid header name (an RFC 9110 token).
func isToken(s string) bool {
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

// isCtl reports control characters not allowed in a header value (tab is allowed).
func isCtl(r rune) bool {
	return (r < 0x20 && r != '\t') || r == 0x7f
}

// badURLRune reports whitespace and control characters.
func badURLRune(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsControl(r)
}

// urlError drops url.Error's repetition of the URL.
func urlError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
