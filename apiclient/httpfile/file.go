// Package httpfile reads requests written by people: the request grammar that the TUI's
// composer, fire's arguments and .http / .rest collection files share (see ParseRequest), and
// collection files themselves (see ParseFile). It builds apiclient.Requests; sending them is
// the engine's job.
package httpfile

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"

	"tokenscope/apiclient/profile"
	"tokenscope/internal/cappedfile"
)

// Collection files: the .http / .rest files of the JetBrains HTTP Client and VS Code's REST
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

// An unresolved reference ({{name}} that is not defined, an environment variable that is not
// set, a dynamic or request variable not supported here) fails the request that uses it, as
// JetBrains' client and VS Code's REST Client do: the request is listed under its name with
// Request.Err set and the rest of the file loads. A definition that uses one fails the requests
// that use the variable it defines.

// unresolvedError is a {{reference}} that has no value here: it fails only the request it is in.
type unresolvedError struct{ msg string }

func (e *unresolvedError) Error() string { return e.msg }

// NamedRequest is one request of a collection file.
type NamedRequest struct {
	Name    string // from "### name" or "# @name name"; else "METHOD path"
	Request profile.Request
	Line    int // 1-based line of its request line, for messages
	// Secrets are the environment values ({{$processEnv NAME}}, {{$env NAME}}) the file read up
	// to this request: API keys and passwords, as a rule. The caller adds them to the session's
	// secrets (redact.Secrets) so that the screen and the logs mask them.
	Secrets []string
}

// ParseFile parses a .http / .rest file. name is the file name used in error messages
// ("file.http:12: ..."). vars are extra variables (from the command line or the
// environment); they override the file's own @name = value definitions.
func ParseFile(name string, data []byte, vars map[string]string) ([]NamedRequest, error) {
	p := &parser{name: name, vars: vars, defs: map[string]string{}, budget: maxHTTPFileExpansion}
	if len(data) > maxHTTPFileBytes {
		return nil, tooLarge(name)
	}
	return p.parse(data)
}

// LoadFile reads and parses a .http / .rest file (see ParseFile), or a Postman collection
// (see ParsePostman).
func LoadFile(path string, vars map[string]string) ([]NamedRequest, error) {
	data, err := cappedfile.Read(path, maxHTTPFileBytes)
	if errors.Is(err, cappedfile.ErrTooLarge) {
		return nil, tooLarge(path)
	}
	if err != nil {
		return nil, err
	}
	if IsPostman(data) {
		return ParsePostman(path, data, vars)
	}
	return ParseFile(path, data, vars)
}

func tooLarge(name string) error {
	return fmt.Errorf("%s:1: file is larger than the %d MiB limit for request collections", name, maxHTTPFileBytes>>20)
}

var varDef = regexp.MustCompile(`^@([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$`)

// parser reads collection files and, with literal set, ParseRequest's single request.
type parser struct {
	name string
	vars map[string]string // given by the caller; win over defs
	defs map[string]string // the file's @definitions so far
	// budget is how many more bytes substituted values may add.
	budget int
	// literal: one request typed by a person, not a file; no {{variables}}, no ### separators
	// or response handlers, and errors say "line N".
	literal bool
	env     []string // the environment values read so far
	// unset are the file's definitions whose value has an unresolved reference: why each has
	// no value.
	unset map[string]*unresolvedError
	// miss is the first unresolved reference of the request being read: it cannot be sent.
	miss *unresolvedError
}

func (p *parser) errf(line int, format string, args ...any) error {
	if p.name == "" {
		return fmt.Errorf("line %d: %s", line, fmt.Sprintf(format, args...))
	}
	return fmt.Errorf("%s:%d: %s", p.name, line, fmt.Sprintf(format, args...))
}

// at puts a grammar error at its line.
func (p *parser) at(line int, err error) error {
	return p.errf(line, "%v", err)
}

func (p *parser) parse(data []byte) ([]NamedRequest, error) {
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
		case isComment(t):
			if n, ok := nameTag(t); ok {
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
			nr.Secrets = slices.Clip(p.env)
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
func (p *parser) define(t string, line int) error {
	m := varDef.FindStringSubmatch(t)
	if m == nil {
		return p.errf(line, "malformed variable definition %q (want @name = value)", t)
	}
	if _, overridden := p.vars[m[1]]; overridden {
		return nil // the caller's value wins; the file's is never used
	}
	p.miss = nil
	v, err := p.expand(strings.TrimSpace(m[2]), line)
	if err != nil {
		return err
	}
	delete(p.defs, m[1])
	delete(p.unset, m[1])
	if p.miss != nil {
		if p.unset == nil {
			p.unset = map[string]*unresolvedError{}
		}
		p.unset[m[1]] = &unresolvedError{fmt.Sprintf("variable %q has no value (%v)", m[1], p.miss)}
		p.miss = nil
		return nil
	}
	p.defs[m[1]] = v
	return nil
}

// request parses the request starting with the request line lines[i]. It returns the index of
// the first line after the request.
func (p *parser) request(lines []string, i int) (NamedRequest, int, error) {
	p.miss = nil
	nr, i, err := p.head(lines, i)
	if err != nil {
		return NamedRequest{}, 0, err
	}
	i, ended, err := p.headers(lines, i, nr.Request.Header)
	if err == nil && !ended {
		nr.Request.Body, i, err = p.body(lines, i)
	}
	if err != nil {
		return NamedRequest{}, 0, err
	}
	if p.miss != nil {
		nr.Request.Err = p.miss.Error()
	}
	return nr, i, nil
}

// head parses the request line lines[i] and the query continuation lines after it ("?a=1",
// "&b=2"; each adds to the query, whichever its mark). It returns the index of the next line.
func (p *parser) head(lines []string, i int) (NamedRequest, int, error) {
	ln := i + 1
	rl, err := p.expand(strings.TrimSpace(lines[i]), ln)
	if err != nil {
		return NamedRequest{}, 0, err
	}
	method, target, err := requestLine(rl)
	path := target
	if err == nil {
		path, err = profile.RequestPath(target)
	}
	if err != nil && p.miss == nil {
		return NamedRequest{}, 0, p.at(ln, err)
	}
	if err != nil { // the line as written names it: it will not be sent
		method, path, _ = strings.Cut(rl, " ")
	}
	var query strings.Builder
	hasQuery := strings.Contains(path, "?")
	for i++; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		if t == "" || (t[0] != '?' && t[0] != '&') {
			break
		}
		q, err := p.queryLine(t, i+1)
		if err != nil {
			return NamedRequest{}, 0, err
		}
		if q == "" {
			continue
		}
		if hasQuery {
			query.WriteByte('&')
		} else {
			query.WriteByte('?')
			hasQuery = true
		}
		query.WriteString(q[1:])
	}
	path += query.String()
	if _, err := url.Parse(path); err != nil && p.miss == nil {
		return NamedRequest{}, 0, p.errf(ln, "bad target %q: %v", path, profile.URLError(err))
	}
	req := profile.Request{Method: method, Path: path, Header: http.Header{}}
	return NamedRequest{Name: method + " " + path, Line: ln, Request: req}, i, nil
}

// queryLine reads one query continuation line t (trimmed): its "?a=1" or "&b=2" without a
// trailing HTTP version or #fragment, "" when nothing is left.
func (p *parser) queryLine(t string, ln int) (string, error) {
	if f := strings.Fields(t); len(f) > 1 && strings.HasPrefix(strings.ToUpper(f[len(f)-1]), "HTTP/") {
		t = strings.TrimSpace(strings.TrimSuffix(t, f[len(f)-1]))
	}
	q, err := p.expand(t, ln)
	if err != nil {
		return "", err
	}
	if strings.ContainsFunc(q, profile.BadURLRune) && p.miss == nil {
		return "", p.errf(ln, "query line %q contains whitespace or a control character", q)
	}
	if j := strings.IndexByte(q, '#'); j >= 0 {
		q = q[:j]
	}
	return q, nil
}

// headers adds the header lines from lines[i] on to h, up to a blank line. ended reports that
// the request ended there (the next ###, a response handler or the end of the file), so there
// is no body. It returns the index of the next line.
func (p *parser) headers(lines []string, i int, h http.Header) (next int, ended bool, err error) {
	for ; i < len(lines); i++ {
		if !p.literal && strings.HasPrefix(lines[i], "###") {
			return i, true, nil
		}
		t := strings.TrimSpace(lines[i])
		if t == "" {
			return i + 1, false, nil
		}
		if !p.literal && isTailStart(lines[i]) {
			next, err := p.tail(lines, i)
			return next, true, err
		}
		if isComment(t) {
			continue
		}
		missed := p.miss
		line, err := p.expand(t, i+1)
		if err != nil {
			return 0, false, err
		}
		name, value, err := headerLine(line)
		switch {
		case err != nil && p.miss != missed:
			// A header made of an unresolved reference: the request is not sent anyway.
		case err != nil:
			return 0, false, p.at(i+1, err)
		default:
			h.Add(name, value)
		}
	}
	return i, true, nil
}

// body reads the body from lines[i] until the next ### or a response handler, without the
// blank lines around it; nil when there is none. It returns the index of the next line.
func (p *parser) body(lines []string, i int) ([]byte, int, error) {
	var body []string
	for i < len(lines) && !strings.HasPrefix(lines[i], "###") {
		line := lines[i]
		if isTailStart(line) {
			next, err := p.tail(lines, i)
			if err != nil {
				return nil, 0, err
			}
			i = next
			break
		}
		if isInclude(strings.TrimSpace(line)) {
			return nil, 0, p.errf(i+1, "file includes are not supported (%q): paste the body into the request", strings.TrimSpace(line))
		}
		b, err := p.expand(line, i+1)
		if err != nil {
			return nil, 0, err
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
	if len(body) == 0 {
		return nil, i, nil
	}
	return []byte(strings.Join(body, "\n")), i, nil
}

// tail skips what may follow a request's body: response handlers (> {% ... %} or > script.js),
// response redirections (>> file, >>! file), response references (<> file), comments and
// blank lines. It returns the index of the next ### line, or len(lines).
func (p *parser) tail(lines []string, i int) (int, error) {
	for i < len(lines) {
		line := lines[i]
		if strings.HasPrefix(line, "###") {
			return i, nil
		}
		t := strings.TrimSpace(line)
		switch {
		case t == "", isComment(t):
			i++
		case isHandlerBlock(line):
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
		case isTailStart(line):
			i++
		default:
			return 0, p.errf(i+1, "unexpected %q after a response handler", t)
		}
	}
	return i, nil
}

// expand replaces {{variables}} in s. Substituted values are not expanded again.
func (p *parser) expand(s string, line int) (string, error) {
	if p.literal || !strings.Contains(s, "{{") {
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
		var miss *unresolvedError
		switch {
		case errors.As(err, &miss):
			// Fails the request (or definition) it is in, not the file: kept as written.
			if p.miss == nil {
				p.miss = miss
			}
			v = s[i : i+2+j+2]
		case err != nil:
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
func (p *parser) resolve(ref string, line int) (string, error) {
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
			return "", p.unresolved(line, "unsupported dynamic variable %q", "{{"+ref+"}}")
		case arg == "" || len(f) > 2 || strings.HasPrefix(arg, "%"):
			return "", p.errf(line, "malformed %s reference %q (want {{%s NAME}})", fn, "{{"+ref+"}}", fn)
		}
		v, ok := os.LookupEnv(arg)
		if !ok {
			return "", p.unresolved(line, "environment variable %q is not set", arg)
		}
		if !slices.Contains(p.env, v) {
			p.env = append(p.env, v)
		}
		return v, nil
	}
	if r == "" || strings.ContainsFunc(r, profile.BadURLRune) {
		return "", p.errf(line, "malformed variable reference %q", "{{"+ref+"}}")
	}
	if v, ok := p.vars[r]; ok {
		return v, nil
	}
	if v, ok := p.defs[r]; ok {
		return v, nil
	}
	if e, ok := p.unset[r]; ok {
		return "", p.unresolved(line, "%v", e)
	}
	if strings.Contains(r, ".response.") || strings.Contains(r, ".request.") {
		return "", p.unresolved(line, "request variables (%q) are not supported", r)
	}
	return "", p.unresolved(line, "undefined variable %q", r)
}

// unresolved is errf for a reference with no value: it fails only the request it is in.
func (p *parser) unresolved(line int, format string, args ...any) error {
	return &unresolvedError{p.errf(line, format, args...).Error()}
}

// isComment reports whether a trimmed line outside a body is a comment.
func isComment(t string) bool {
	return strings.HasPrefix(t, "#") || strings.HasPrefix(t, "//")
}

// nameTag reads "# @name foo", "// @name foo" or "# @name = foo".
func nameTag(t string) (string, bool) {
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

// isHandlerBlock reports whether a line opens a "> {% ... %}" response handler.
func isHandlerBlock(line string) bool {
	rest, ok := strings.CutPrefix(line, ">")
	return ok && strings.HasPrefix(strings.TrimSpace(rest), "{%")
}

// isTailStart reports whether a line is a response handler (> {% or > script.js), a
// response redirection (>> file, >>! file) or a response reference (<> file). They start in
// the first column.
func isTailStart(line string) bool {
	if isHandlerBlock(line) {
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

// isInclude reports whether a trimmed body line is a file include (< file, <@ file).
func isInclude(t string) bool {
	rest, ok := strings.CutPrefix(t, "<")
	if !ok {
		return false
	}
	rest = strings.TrimPrefix(rest, "@")
	return rest != "" && (rest[0] == ' ' || rest[0] == '\t') && strings.TrimSpace(rest) != ""
}
