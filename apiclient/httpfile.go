package apiclient

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"unicode"

	"tokenscope/internal/cappedfile"
)

// Request collections: the .http / .rest files of the JetBrains HTTP Client and VS Code's REST
// Client. The subset understood here:
//
//	@host = https://api.example.com          variables, usable as {{host}} from here on
//	### Get me                                separator; its text names the next request
//	# @name me                                names the request (// @name works too)
//	GET {{host}}/api/me HTTP/1.1              METHOD target [HTTP/x]; a bare target is a GET
//	    ?page=2                               query continuation lines
//	    &size=10
//	Accept: application/json                  headers until a blank line
//
//	{"body": "until the next ###"}
//
//	> {% client.test(...) %}                  response handlers, >> redirections and <>
//	>> out.json                               response references are skipped
//
// {{$processEnv NAME}}, {{$env NAME}} and {{$env.NAME}} read environment variables. Absolute
// URLs keep only their path and query: the engine sends everything to its own target.
// Lines starting with # or // are comments outside bodies; body lines are sent as they are,
// joined with \n whatever the file's line endings.

// maxHTTPFileBytes is the largest collection file accepted.
const maxHTTPFileBytes = 1 << 20

// maxHTTPFileExpansion caps the bytes variable substitution may produce in one file, so that
// definitions doubling each other (@b = {{a}}{{a}}, @c = {{b}}{{b}}, ...) cannot exhaust memory.
const maxHTTPFileExpansion = 8 << 20

// NamedRequest is one request of a collection file.
type NamedRequest struct {
	Name    string // from "### name" or "# @name name"; else "METHOD path"
	Request Request
	Line    int // 1-based line of its request line, for messages
}

// ParseHTTPFile parses a .http / .rest file. name is the file name used in error messages
// ("file.http:12: ..."). vars are extra variables (from the command line or the
// environment); they override the file's own @name = value definitions.
func ParseHTTPFile(name string, data []byte, vars map[string]string) ([]NamedRequest, error) {
	p := &httpFileParser{name: name, vars: vars, defs: map[string]string{}, budget: maxHTTPFileExpansion}
	if len(data) > maxHTTPFileBytes {
		return nil, tooLarge(name)
	}
	return p.parse(data)
}

// LoadHTTPFile reads and parses a .http / .rest file (see ParseHTTPFile).
func LoadHTTPFile(path string, vars map[string]string) ([]NamedRequest, error) {
	data, err := cappedfile.Read(path, maxHTTPFileBytes)
	if errors.Is(err, cappedfile.ErrTooLarge) {
		return nil, tooLarge(path)
	}
	if err != nil {
		return nil, err
	}
	return ParseHTTPFile(path, data, vars)
}

var (
	httpFileVarDef = regexp.MustCompile(`^@([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$`)
	httpFileMethod = map[string]bool{
		http.MethodGet: true, http.MethodPost: true, http.MethodPut: true, http.MethodPatch: true,
		http.MethodDelete: true, http.MethodHead: true, http.MethodOptions: true,
	}
)

func tooLarge(name string) error {
	return fmt.Errorf("%s:1: file is larger than the %d MiB limit for request collections", name, maxHTTPFileBytes>>20)
}

type httpFileParser struct {
	name string
	vars map[string]string // given by the caller; win over defs
	defs map[string]string // the file's @definitions so far
	// budget is how many more bytes substituted values may add.
	budget int
}

func (p *httpFileParser) errf(line int, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", p.name, line, fmt.Sprintf(format, args...))
}

func (p *httpFileParser) parse(data []byte) ([]NamedRequest, error) {
	text := strings.TrimPrefix(string(data), "\ufeff")
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	last := len(lines) // the line the file ends on, for "no requests"
	if last > 1 && lines[last-1] == "" {
		last--
	}

	var out []NamedRequest
	name := "" // of the next request
	for i := 0; i < len(lines); {
		line := lines[i]
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "###"):
			name = strings.TrimSpace(strings.TrimLeft(line, "#"))
			i++
		case t == "":
			i++
		case httpFileComment(t):
			if n, ok := httpFileNameTag(t); ok {
				name = n
			}
			i++
		case strings.HasPrefix(t, "@"):
			if err := p.define(t, i+1); err != nil {
				return nil, err
			}
			i++
		default:
			nr, next, err := p.request(lines, i)
			if err != nil {
				return nil, err
			}
			if name != "" {
				nr.Name = name
			}
			out = append(out, nr)
			name = ""
			i = next
		}
	}
	if len(out) == 0 {
		return nil, p.errf(last, "no requests")
	}
	return out, nil
}

// define handles an "@name = value" line.
func (p *httpFileParser) define(t string, line int) error {
	m := httpFileVarDef.FindStringSubmatch(t)
	if m == nil {
		return p.errf(line, "malformed variable definition %q (want @name = value)", t)
	}
	if _, overridden := p.vars[m[1]]; overridden {
		return nil // the caller's value wins; the file's is never used
	}
	v, err := p.expand(strings.TrimSpace(m[2]), line)
	if err != nil {
		return err
	}
	p.defs[m[1]] = v
	return nil
}

// request parses the request starting with the request line lines[i]. It returns the index of
// the first line after the request.
func (p *httpFileParser) request(lines []string, i int) (NamedRequest, int, error) {
	ln := i + 1
	rl, err := p.expand(strings.TrimSpace(lines[i]), ln)
	if err != nil {
		return NamedRequest{}, 0, err
	}
	method, target, err := p.requestLine(rl, ln)
	if err != nil {
		return NamedRequest{}, 0, err
	}
	path, err := p.targetPath(target, ln)
	if err != nil {
		return NamedRequest{}, 0, err
	}
	i++

	// Query continuation lines: "?a=1", "&b=2". Each adds to the query, whichever its mark.
	var query strings.Builder
	hasQuery := strings.Contains(path, "?")
	for ; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		if t == "" || (t[0] != '?' && t[0] != '&') {
			break
		}
		if f := strings.Fields(t); len(f) > 1 && strings.HasPrefix(strings.ToUpper(f[len(f)-1]), "HTTP/") {
			t = strings.TrimSpace(strings.TrimSuffix(t, f[len(f)-1]))
		}
		q, err := p.expand(t, i+1)
		if err != nil {
			return NamedRequest{}, 0, err
		}
		if strings.ContainsFunc(q, httpFileBadURLRune) {
			return NamedRequest{}, 0, p.errf(i+1, "query line %q contains whitespace or a control character", q)
		}
		if j := strings.IndexByte(q, '#'); j >= 0 {
			q = q[:j]
		}
		if q == "" {
			continue
		}
		if !hasQuery {
			query.WriteByte('?')
			hasQuery = true
		} else {
			query.WriteByte('&')
		}
		query.WriteString(q[1:])
	}
	path += query.String()
	if _, err := url.Parse(path); err != nil {
		return NamedRequest{}, 0, p.errf(ln, "bad target %q: %v", path, httpFileURLError(err))
	}

	req := Request{Method: method, Path: path, Header: http.Header{}}
	nr := NamedRequest{Name: method + " " + path, Line: ln}

	// Headers, until a blank line.
	for {
		if i >= len(lines) || strings.HasPrefix(lines[i], "###") {
			nr.Request = req
			return nr, i, nil
		}
		t := strings.TrimSpace(lines[i])
		if t == "" {
			i++
			break
		}
		if httpFileTailStart(lines[i]) {
			next, err := p.tail(lines, i)
			nr.Request = req
			return nr, next, err
		}
		if httpFileComment(t) {
			i++
			continue
		}
		h, err := p.expand(t, i+1)
		if err != nil {
			return NamedRequest{}, 0, err
		}
		colon := strings.IndexByte(h, ':')
		if colon < 0 {
			return NamedRequest{}, 0, p.errf(i+1, "header line %q has no colon (want Name: value)", h)
		}
		hn, hv := strings.TrimSpace(h[:colon]), strings.TrimSpace(h[colon+1:])
		if !httpFileToken(hn) {
			return NamedRequest{}, 0, p.errf(i+1, "bad header name %q", hn)
		}
		if strings.ContainsFunc(hv, httpFileCtl) {
			return NamedRequest{}, 0, p.errf(i+1, "header %s: value contains a control character", hn)
		}
		req.Header.Add(hn, hv)
		i++
	}

	// Body, until the next ### or a response handler.
	var body []string
	for i < len(lines) && !strings.HasPrefix(lines[i], "###") {
		line := lines[i]
		if httpFileTailStart(line) {
			next, err := p.tail(lines, i)
			if err != nil {
				return NamedRequest{}, 0, err
			}
			i = next
			break
		}
		if httpFileInclude(strings.TrimSpace(line)) {
			return NamedRequest{}, 0, p.errf(i+1, "file includes are not supported (%q): paste the body into the request", strings.TrimSpace(line))
		}
		b, err := p.expand(line, i+1)
		if err != nil {
			return NamedRequest{}, 0, err
		}
		body = append(body, b)
		i++
	}
	for len(body) > 0 && strings.TrimSpace(body[0]) == "" {
		body = body[1:]
	}
	for len(body) > 0 && strings.TrimSpace(body[len(body)-1]) == "" {
		body = body[:len(body)-1]
	}
	if len(body) > 0 {
		req.Body = []byte(strings.Join(body, "\n"))
	}
	nr.Request = req
	return nr, i, nil
}

// requestLine splits "METHOD target [HTTP/x]" or "target [HTTP/x]".
func (p *httpFileParser) requestLine(rl string, ln int) (method, target string, err error) {
	f := strings.Fields(rl)
	version := func(s string) bool { return strings.HasPrefix(strings.ToUpper(s), "HTTP/") }
	switch {
	case len(f) == 0:
		return "", "", p.errf(ln, "empty request line")
	case len(f) == 1:
		if httpFileMethod[strings.ToUpper(f[0])] {
			return "", "", p.errf(ln, "request line %q has no target", rl)
		}
		return http.MethodGet, f[0], nil
	case len(f) == 2 && version(f[1]):
		return http.MethodGet, f[0], nil
	}
	m := strings.ToUpper(f[0])
	if !httpFileMethod[m] {
		return "", "", p.errf(ln, "unknown method %q (want GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS)", f[0])
	}
	if len(f) > 2 && !version(f[2]) {
		return "", "", p.errf(ln, "unexpected %q after the target (want METHOD target [HTTP/1.1])", f[2])
	}
	return m, f[1], nil
}

// targetPath turns a request target into the path and query the engine sends.
func (p *httpFileParser) targetPath(target string, ln int) (string, error) {
	switch low := strings.ToLower(target); {
	case strings.HasPrefix(target, "/"):
		if j := strings.IndexByte(target, '#'); j >= 0 {
			target = target[:j]
		}
		if _, err := url.Parse(target); err != nil {
			return "", p.errf(ln, "bad target %q: %v", target, httpFileURLError(err))
		}
		return target, nil
	case strings.HasPrefix(low, "http://"), strings.HasPrefix(low, "https://"):
		u, err := url.Parse(target)
		if err != nil {
			return "", p.errf(ln, "bad URL %q: %v", target, httpFileURLError(err))
		}
		if u.Host == "" || u.Opaque != "" {
			return "", p.errf(ln, "URL %q has no host", target)
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
	return "", p.errf(ln, "target %q is neither a path (/api/...) nor an http(s) URL", target)
}

// tail skips what may follow a request's body: response handlers (> {% ... %} or > script.js),
// response redirections (>> file, >>! file), response references (<> file), comments and
// blank lines. It returns the index of the next ### line, or len(lines).
func (p *httpFileParser) tail(lines []string, i int) (int, error) {
	for i < len(lines) {
		line := lines[i]
		if strings.HasPrefix(line, "###") {
			return i, nil
		}
		t := strings.TrimSpace(line)
		switch {
		case t == "", httpFileComment(t):
			i++
		case httpFileHandlerBlock(line):
			start := i
			rest := line[strings.Index(line, "{%")+2:]
			for !strings.Contains(rest, "%}") {
				i++
				if i >= len(lines) || strings.HasPrefix(lines[i], "###") {
					return 0, p.errf(start+1, "response handler is not closed with %%}")
				}
				rest = lines[i]
			}
			i++
		case httpFileTailStart(line):
			i++
		default:
			return 0, p.errf(i+1, "unexpected %q after a response handler", t)
		}
	}
	return i, nil
}

// expand replaces {{variables}} in s. Substituted values are not expanded again.
func (p *httpFileParser) expand(s string, line int) (string, error) {
	if !strings.Contains(s, "{{") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			break
		}
		j := strings.Index(s[i+2:], "}}")
		if j < 0 {
			break // no closing braces: literal text
		}
		v, err := p.resolve(s[i+2:i+2+j], line)
		if err != nil {
			return "", err
		}
		if p.budget -= len(v); p.budget < 0 {
			return "", p.errf(line, "variables expand to more than %d MiB in this file", maxHTTPFileExpansion>>20)
		}
		b.WriteString(s[:i])
		b.WriteString(v)
		s = s[i+2+j+2:]
	}
	b.WriteString(s)
	return b.String(), nil
}

// resolve is the value of the reference inside {{ }}.
func (p *httpFileParser) resolve(ref string, line int) (string, error) {
	r := strings.TrimSpace(ref)
	if strings.HasPrefix(r, "$") {
		f := strings.Fields(r)
		fn, arg := f[0], ""
		if len(f) == 2 {
			arg = f[1]
		}
		if strings.HasPrefix(fn, "$env.") && len(f) == 1 {
			fn, arg = "$env", strings.TrimPrefix(fn, "$env.")
		}
		switch {
		case fn != "$processEnv" && fn != "$env":
			return "", p.errf(line, "unsupported dynamic variable %q", "{{"+ref+"}}")
		case arg == "" || len(f) > 2 || strings.HasPrefix(arg, "%"):
			return "", p.errf(line, "malformed %s reference %q (want {{%s NAME}})", fn, "{{"+ref+"}}", fn)
		}
		v, ok := os.LookupEnv(arg)
		if !ok {
			return "", p.errf(line, "environment variable %q is not set", arg)
		}
		return v, nil
	}
	if r == "" || strings.ContainsFunc(r, httpFileBadURLRune) {
		return "", p.errf(line, "malformed variable reference %q", "{{"+ref+"}}")
	}
	if v, ok := p.vars[r]; ok {
		return v, nil
	}
	if v, ok := p.defs[r]; ok {
		return v, nil
	}
	if strings.Contains(r, ".response.") || strings.Contains(r, ".request.") {
		return "", p.errf(line, "request variables (%q) are not supported", r)
	}
	return "", p.errf(line, "undefined variable %q", r)
}

// httpFileComment reports whether a trimmed line outside a body is a comment.
func httpFileComment(t string) bool {
	return strings.HasPrefix(t, "#") || strings.HasPrefix(t, "//")
}

// httpFileNameTag reads "# @name foo", "// @name foo" or "# @name = foo".
func httpFileNameTag(t string) (string, bool) {
	if strings.HasPrefix(t, "//") {
		t = t[2:]
	} else {
		t = strings.TrimLeft(t, "#")
	}
	t = strings.TrimSpace(t)
	rest, ok := strings.CutPrefix(t, "@name")
	if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t' && rest[0] != '=') {
		return "", false
	}
	rest = strings.TrimSpace(rest)
	rest = strings.TrimSpace(strings.TrimPrefix(rest, "="))
	return rest, rest != ""
}

// httpFileHandlerBlock reports whether a line opens a "> {% ... %}" response handler.
func httpFileHandlerBlock(line string) bool {
	rest, ok := strings.CutPrefix(line, ">")
	return ok && strings.HasPrefix(strings.TrimSpace(rest), "{%")
}

// httpFileTailStart reports whether a line is a response handler (> {% or > script.js), a
// response redirection (>> file, >>! file) or a response reference (<> file). They start in
// the first column.
func httpFileTailStart(line string) bool {
	if httpFileHandlerBlock(line) {
		return true
	}
	for _, prefix := range []string{">>!", ">>", "<>", ">"} {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			// A single file name after at least one space.
			return rest != "" && (rest[0] == ' ' || rest[0] == '\t') && len(strings.Fields(rest)) == 1
		}
	}
	return false
}

// httpFileInclude reports whether a trimmed body line is a file include (< file, <@ file).
func httpFileInclude(t string) bool {
	rest, ok := strings.CutPrefix(t, "<")
	if !ok {
		return false
	}
	rest = strings.TrimPrefix(rest, "@")
	return rest != "" && (rest[0] == ' ' || rest[0] == '\t') && strings.TrimSpace(rest) != ""
}

// httpFileToken reports whether s is a valid header name (an RFC 9110 token).
func httpFileToken(s string) bool {
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

// httpFileCtl reports control characters not allowed in a header value (tab is allowed).
func httpFileCtl(r rune) bool {
	return (r < 0x20 && r != '\t') || r == 0x7f
}

// httpFileBadURLRune reports whitespace and control characters.
func httpFileBadURLRune(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsControl(r)
}

// httpFileURLError drops url.Error's repetition of the URL.
func httpFileURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
