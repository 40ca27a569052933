package httpfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"tokenscope/apiclient/profile"
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

// ParseRequest reads one request in the composer's format: the request line, header lines, a
// blank line and the body, taken as it is but for surrounding whitespace. Line endings may be
// \n or \r\n. A JSON body without a Content-Type gets application/json. Errors name the line.
// Format is its inverse.
func ParseRequest(text string) (profile.Request, error) {
	text = strings.TrimPrefix(strings.ReplaceAll(text, "\r\n", "\n"), "\ufeff")
	lines := strings.Split(strings.TrimLeft(text, " \t\n"), "\n")
	p := &parser{literal: true}
	nr, i, err := p.head(lines, 0)
	if err != nil {
		return profile.Request{}, err
	}
	if i, _, err = p.headers(lines, i, nr.Request.Header); err != nil {
		return profile.Request{}, err
	}
	if body := strings.TrimSpace(strings.Join(lines[i:], "\n")); body != "" {
		nr.Request.Body = []byte(body)
	}
	return withContentType(nr.Request), nil
}

// NewRequest builds a request from its parts by the same rules as ParseRequest: what fire
// sends from METHOD PATH [BODY] on its command line. The method is case-insensitive.
func NewRequest(method, target string, header http.Header, body []byte) (profile.Request, error) {
	m, err := profile.CheckMethod(method)
	if err != nil {
		return profile.Request{}, err
	}
	if strings.ContainsFunc(target, profile.BadURLRune) {
		return profile.Request{}, fmt.Errorf("target %q contains whitespace or a control character", target)
	}
	path, err := profile.RequestPath(target)
	if err != nil {
		return profile.Request{}, err
	}
	r := profile.Request{Method: m, Path: path, Header: http.Header{}}
	for name, vs := range header {
		for _, v := range vs {
			if err := checkHeader(name, v); err != nil {
				return profile.Request{}, err
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
func withContentType(r profile.Request) profile.Request {
	if len(r.Body) > 0 && r.Header.Get("Content-Type") == "" && json.Valid(r.Body) {
		r.Header.Set("Content-Type", "application/json")
	}
	return r
}

// Format writes r in ParseRequest's format, header names sorted so that the same request
// always reads the same.
func Format(r profile.Request) string {
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

// requestLine splits "METHOD target [HTTP/x]" or "target [HTTP/x]".
func requestLine(rl string) (method, target string, err error) {
	f := strings.Fields(rl)
	version := func(s string) bool { return strings.HasPrefix(strings.ToUpper(s), "HTTP/") }
	switch {
	case len(f) == 0:
		return "", "", errors.New("empty request line")
	case len(f) == 1:
		if _, err := profile.CheckMethod(f[0]); err == nil {
			return "", "", fmt.Errorf("request line %q has no target", rl)
		}
		return http.MethodGet, f[0], nil
	case len(f) == 2 && version(f[1]):
		return http.MethodGet, f[0], nil
	}
	m, err := profile.CheckMethod(f[0])
	if err != nil {
		return "", "", err
	}
	if len(f) > 2 && !version(f[2]) {
		return "", "", fmt.Errorf("unexpected %q after the target (want METHOD target [HTTP/1.1])", f[2])
	}
	return m, f[1], nil
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
	if !profile.IsToken(name) {
		return fmt.Errorf("bad header name %q", name)
	}
	if strings.ContainsFunc(value, isCtl) {
		return fmt.Errorf("header %s: value contains a control character", name)
	}
	return nil
}

// isCtl reports control characters not allowed in a header value (tab is allowed).
func isCtl(r rune) bool {
	return (r < 0x20 && r != '\t') || r == 0x7f
}
