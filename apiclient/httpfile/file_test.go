package httpfile

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

func parseHTTPFileOK(t *testing.T, src string, vars map[string]string) []NamedRequest {
	t.Helper()
	reqs, err := ParseFile("f.http", []byte(src), vars)
	if err != nil {
		t.Fatalf("ParseFile: %v", err)
	}
	return reqs
}

type httpFileWant struct {
	name, method, path string
	line               int
	header             http.Header // nil: expect no headers
	body               string
}

func checkHTTPFile(t *testing.T, got []NamedRequest, want []httpFileWant) {
	t.Helper()
	if len(got) != len(want) {
		for _, g := range got {
			t.Logf("got %q %s %s line %d", g.Name, g.Request.Method, g.Request.Path, g.Line)
		}
		t.Fatalf("got %d requests, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Name != w.name || g.Request.Method != w.method || g.Request.Path != w.path || g.Line != w.line {
			t.Errorf("request %d = %q %s %s line %d, want %q %s %s line %d", i,
				g.Name, g.Request.Method, g.Request.Path, g.Line, w.name, w.method, w.path, w.line)
		}
		wh := w.header
		if wh == nil {
			wh = http.Header{}
		}
		if !reflect.DeepEqual(g.Request.Header, wh) {
			t.Errorf("request %d headers = %v, want %v", i, g.Request.Header, wh)
		}
		if string(g.Request.Body) != w.body {
			t.Errorf("request %d body = %q, want %q", i, g.Request.Body, w.body)
		}
		if w.body == "" && g.Request.Body != nil {
			t.Errorf("request %d body = %q, want nil", i, g.Request.Body)
		}
	}
}

func TestHTTPFileNamesAndComments(t *testing.T) {
	src := `# a collection
// another comment

### Get me
GET /api/me

###
# @name create-user
post /api/users HTTP/1.1
Content-Type: application/json

{"name": "ann"}

### ignored because of the tag
// @name = tagged
# a comment between the tag and the request
DELETE /api/users/1

###
/api/health

###
HEAD /api/x HTTP/2
###
/api/y HTTP/1.1
### trailing separator, no request
# just a comment
`
	checkHTTPFile(t, parseHTTPFileOK(t, src, nil), []httpFileWant{
		{name: "Get me", method: "GET", path: "/api/me", line: 5},
		{name: "create-user", method: "POST", path: "/api/users", line: 9,
			header: http.Header{"Content-Type": {"application/json"}}, body: `{"name": "ann"}`},
		{name: "tagged", method: "DELETE", path: "/api/users/1", line: 17},
		{name: "GET /api/health", method: "GET", path: "/api/health", line: 20},
		{name: "HEAD /api/x", method: "HEAD", path: "/api/x", line: 23},
		{name: "GET /api/y", method: "GET", path: "/api/y", line: 25},
	})
}

func TestHTTPFileMethods(t *testing.T) {
	var src strings.Builder
	var want []httpFileWant
	for i, m := range []string{"get", "Post", "PUT", "patch", "DELETE", "head", "options"} {
		src.WriteString("###\n" + m + " /m\n")
		up := strings.ToUpper(m)
		want = append(want, httpFileWant{name: up + " /m", method: up, path: "/m", line: 2*i + 2})
	}
	checkHTTPFile(t, parseHTTPFileOK(t, src.String(), nil), want)
}

func TestHTTPFileVariables(t *testing.T) {
	t.Setenv("TOKENSCOPE_HTTPFILE_TOKEN", "s3cr3t")
	t.Setenv("TOKENSCOPE_HTTPFILE_USER", "bob")
	src := `@host = https://example.com:8443
@api = {{host}}/api/v1
@user = ann
@page=2

### {{not substituted in names}}
GET {{api}}/users/{{ user }}?page={{page}}
Authorization: Bearer {{$processEnv TOKENSCOPE_HTTPFILE_TOKEN}}
X-{{user}}: {{$env TOKENSCOPE_HTTPFILE_USER}}

{"user": "{{user}}", "who": "{{$env.TOKENSCOPE_HTTPFILE_USER}}", "empty": {}}

###
@user = carl
GET /users/{{user}}
`
	checkHTTPFile(t, parseHTTPFileOK(t, src, nil), []httpFileWant{
		{name: "{{not substituted in names}}", method: "GET", path: "/api/v1/users/ann?page=2", line: 7,
			header: http.Header{"Authorization": {"Bearer s3cr3t"}, "X-Ann": {"bob"}},
			body:   `{"user": "ann", "who": "bob", "empty": {}}`},
		{name: "GET /users/carl", method: "GET", path: "/users/carl", line: 15},
	})

	// The caller's variables override the file's, also inside later definitions, and a
	// definition they override is never evaluated.
	over := `@host = {{undefined_here}}
@user = ann
@base = {{host}}/v2
GET {{base}}/users/{{user}}
`
	checkHTTPFile(t, parseHTTPFileOK(t, over, map[string]string{"host": "http://h", "user": "zed"}), []httpFileWant{
		{name: "GET /v2/users/zed", method: "GET", path: "/v2/users/zed", line: 4},
	})

	// Substituted values are not expanded again.
	lit := "GET /x\n\n{{v}}\n"
	checkHTTPFile(t, parseHTTPFileOK(t, lit, map[string]string{"v": "{{w}}"}), []httpFileWant{
		{name: "GET /x", method: "GET", path: "/x", line: 1, body: "{{w}}"},
	})

	// Unclosed braces are literal text.
	open := "POST /x\n\n{\"a\": \"{{\"}\n"
	checkHTTPFile(t, parseHTTPFileOK(t, open, nil), []httpFileWant{
		{name: "POST /x", method: "POST", path: "/x", line: 1, body: "{\"a\": \"{{\"}"},
	})
}

func TestHTTPFileBodies(t *testing.T) {
	src := `### json
POST /api/items
Content-Type: application/json
Accept: application/json
Accept: text/plain


{
  "name": "widget",
  "tags": ["a", "b"],

  "nested": {"deep": true}
}


### form
POST /login
content-type: application/x-www-form-urlencoded

username=ann&password=p%40ss
&remember=1
###
PUT /empty
X-Only: header
`
	checkHTTPFile(t, parseHTTPFileOK(t, src, nil), []httpFileWant{
		{name: "json", method: "POST", path: "/api/items", line: 2,
			header: http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json", "text/plain"}},
			body:   "{\n  \"name\": \"widget\",\n  \"tags\": [\"a\", \"b\"],\n\n  \"nested\": {\"deep\": true}\n}"},
		{name: "form", method: "POST", path: "/login", line: 17,
			header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
			body:   "username=ann&password=p%40ss\n&remember=1"},
		{name: "PUT /empty", method: "PUT", path: "/empty", line: 23, header: http.Header{"X-Only": {"header"}}},
	})
}

func TestHTTPFileHeaders(t *testing.T) {
	src := `GET /h
Authorization:Bearer abc
X-Empty:
# a comment among headers
X-Colons: a:b:c
  X-Indented  :   spaced value
`
	checkHTTPFile(t, parseHTTPFileOK(t, src, nil), []httpFileWant{
		{name: "GET /h", method: "GET", path: "/h", line: 1, header: http.Header{
			"Authorization": {"Bearer abc"}, "X-Empty": {""}, "X-Colons": {"a:b:c"}, "X-Indented": {"spaced value"},
		}},
	})
}

func TestHTTPFileAbsoluteURLsAndQueries(t *testing.T) {
	src := `@host = http://localhost:8080
###
GET https://user:pw@api.example.com:8443/api/me?x=1&y=%20#frag HTTP/1.1
###
GET HTTPS://EXAMPLE.com
###
GET http://example.com?only=query
###
GET {{host}}/a%2Fb/c
###
GET /local#frag
###
GET {{host}}/api/search
    ?q=tokens
    &page=2
  &size=10 HTTP/1.1
Accept: */*
###
GET /already?a=1
    ?b=2
###
GET /amp
    &first=1
`
	checkHTTPFile(t, parseHTTPFileOK(t, src, nil), []httpFileWant{
		{name: "GET /api/me?x=1&y=%20", method: "GET", path: "/api/me?x=1&y=%20", line: 3},
		{name: "GET /", method: "GET", path: "/", line: 5},
		{name: "GET /?only=query", method: "GET", path: "/?only=query", line: 7},
		{name: "GET /a%2Fb/c", method: "GET", path: "/a%2Fb/c", line: 9},
		{name: "GET /local", method: "GET", path: "/local", line: 11},
		{name: "GET /api/search?q=tokens&page=2&size=10", method: "GET", path: "/api/search?q=tokens&page=2&size=10", line: 13,
			header: http.Header{"Accept": {"*/*"}}},
		{name: "GET /already?a=1&b=2", method: "GET", path: "/already?a=1&b=2", line: 19},
		{name: "GET /amp?first=1", method: "GET", path: "/amp?first=1", line: 22},
	})
}

func TestHTTPFileCRLF(t *testing.T) {
	lf := `@v = 1
### one
POST /a?v={{v}}
Content-Type: application/json

{
  "a": 1
}

### two
GET https://x.example/b
> {%
  client.global.set("t", response.body.token);
%}
`
	crlf := strings.ReplaceAll(lf, "\n", "\r\n")
	if crlf == lf {
		t.Fatal("test input has no line breaks")
	}
	want := parseHTTPFileOK(t, lf, nil)
	got := parseHTTPFileOK(t, "\ufeff"+crlf, nil) // with a byte order mark, as Windows editors write
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("CRLF parse = %+v\nwant %+v", got, want)
	}
	checkHTTPFile(t, got, []httpFileWant{
		{name: "one", method: "POST", path: "/a?v=1", line: 3,
			header: http.Header{"Content-Type": {"application/json"}}, body: "{\n  \"a\": 1\n}"},
		{name: "two", method: "GET", path: "/b", line: 11},
	})
	for _, r := range got {
		if strings.ContainsRune(string(r.Request.Body), '\r') || strings.ContainsRune(r.Request.Path, '\r') {
			t.Errorf("%s kept a carriage return", r.Name)
		}
	}
}

func TestHTTPFileResponseHandlersIgnored(t *testing.T) {
	src := `### login
POST /login
Content-Type: application/json

{"user": "ann"}

> {%
    client.test("ok", function() {
        client.assert(response.status === 200);
    });
    client.global.set("token", response.body.token);
%}
>> ./out/login.json
>>! ./out/login-overwrite.json
<> 2024-05-01T120000.200.json

### one-line handler right after the headers
GET /me
Accept: application/json
> {% client.log(response.body) %}
> ./handlers/check.js

###
GET /plain

> ./after-blank-line.js
###
PUT /quote
Content-Type: text/plain

>not a handler
> not a handler either
`
	checkHTTPFile(t, parseHTTPFileOK(t, src, nil), []httpFileWant{
		{name: "login", method: "POST", path: "/login", line: 2,
			header: http.Header{"Content-Type": {"application/json"}}, body: `{"user": "ann"}`},
		{name: "one-line handler right after the headers", method: "GET", path: "/me", line: 18,
			header: http.Header{"Accept": {"application/json"}}},
		{name: "GET /plain", method: "GET", path: "/plain", line: 24},
		{name: "PUT /quote", method: "PUT", path: "/quote", line: 28,
			header: http.Header{"Content-Type": {"text/plain"}}, body: ">not a handler\n> not a handler either"},
	})
}

func TestHTTPFileErrors(t *testing.T) {
	t.Setenv("TOKENSCOPE_HTTPFILE_UNSET_FOR_SURE", "")
	os.Unsetenv("TOKENSCOPE_HTTPFILE_UNSET_FOR_SURE")
	cases := []struct {
		name, src string
		vars      map[string]string
		want      string // the whole message must start with this
		contains  string
	}{
		{"unknown method", "GET /ok\n###\n\nFETCH /x\n", nil, "f.http:4: unknown method \"FETCH\"", ""},
		{"lower-case unknown method", "### a\nget /a\n###\nconnect /b\n", nil, "f.http:4: unknown method \"connect\"", ""},
		{"header before request line", "Content-Type: text/plain\nGET /x\n", nil, "f.http:1: unknown method \"Content-Type:\"", ""},
		{"header without colon", "POST /x\nAccept: */*\nX-Broken value\n\nbody\n", nil, "f.http:3: header line \"X-Broken value\" has no colon", ""},
		{"bad header name", "GET /x\nBad Name: v\n", nil, "f.http:2: bad header name \"Bad Name\"", ""},
		{"header injection via variable", "GET /x\nX-A: {{v}}\n", map[string]string{"v": "a\r\nX-Evil: 1"}, "f.http:2: header X-A: value contains a control character", ""},
		{"malformed reference", "GET /x\n\n{{a b}}\n", nil, "f.http:3: malformed variable reference \"{{a b}}\"", ""},
		{"malformed definition", "@ = 1\nGET /x\n", nil, "f.http:1: malformed variable definition \"@ = 1\"", ""},
		{"file include", "POST /x\nContent-Type: application/json\n\n< ./body.json\n", nil, "f.http:4: file includes are not supported", ""},
		{"file include with variables", "POST /x\n\nfirst line\n  <@ ./body.json\n", nil, "f.http:4: file includes are not supported", ""},
		{"empty file", "", nil, "f.http:1: no requests", ""},
		{"only comments", "# one\n// two\n@v = 1\n###\n", nil, "f.http:4: no requests", ""},
		{"only blank lines", "\n\n\n", nil, "f.http:3: no requests", ""},
		{"method without target", "### x\nPOST\n", nil, "f.http:2: request line \"POST\" has no target", ""},
		{"relative target", "GET api/me\n", nil, "f.http:1: target \"api/me\" is neither a path", ""},
		{"other scheme", "GET ftp://h/x\n", nil, "f.http:1: target \"ftp://h/x\" is neither a path", ""},
		{"URL without host", "GET https:///x\n", nil, "f.http:1: URL \"https:///x\" has no host", ""},
		{"bad URL", "GET http://h:port/x\n", nil, "f.http:1: bad URL \"http://h:port/x\"", "invalid port"},
		{"bad path escape", "GET /a%zz\n", nil, "f.http:1: bad target \"/a%zz\"", ""},
		{"junk after target", "GET /x y\n", nil, "f.http:1: unexpected \"y\" after the target", ""},
		{"empty request line from a variable", "{{e}}\n", map[string]string{"e": " "}, "f.http:1: empty request line", ""},
		{"whitespace in query line", "GET /x\n  &q=a b\n", nil, "f.http:2: query line \"&q=a b\" contains whitespace", ""},
		{"unclosed handler", "GET /x\n\n> {%\n client.log(1)\n###\nGET /y\n", nil, "f.http:3: response handler is not closed with %}", ""},
		{"text after a handler", "GET /x\n\n> {% client.log(1) %}\nmore body\n", nil, "f.http:4: unexpected \"more body\" after a response handler", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reqs, err := ParseFile("f.http", []byte(c.src), c.vars)
			if err == nil {
				t.Fatalf("no error; got %+v", reqs)
			}
			if reqs != nil {
				t.Errorf("requests returned with the error: %+v", reqs)
			}
			if !strings.HasPrefix(err.Error(), c.want) || !strings.Contains(err.Error(), c.contains) {
				t.Fatalf("error %q\nwant prefix %q (containing %q)", err, c.want, c.contains)
			}
			// The same input with CRLF line endings fails the same way.
			_, err2 := ParseFile("f.http", []byte(strings.ReplaceAll(c.src, "\n", "\r\n")), c.vars)
			if err2 == nil || !strings.HasPrefix(err2.Error(), c.want) {
				t.Errorf("CRLF error %v, want prefix %q", err2, c.want)
			}
		})
	}
}

func TestHTTPFileSizeCap(t *testing.T) {
	head := "GET /x\n\n"
	at := []byte(head + strings.Repeat("a", maxHTTPFileBytes-len(head)))
	if len(at) != 1<<20 {
		t.Fatalf("test input is %d bytes", len(at))
	}
	reqs, err := ParseFile("big.http", at, nil)
	if err != nil || len(reqs) != 1 || len(reqs[0].Request.Body) != maxHTTPFileBytes-len(head) {
		t.Fatalf("exactly 1 MiB: %v (%d requests)", err, len(reqs))
	}
	over := append(at, 'a')
	if _, err := ParseFile("big.http", over, nil); err == nil ||
		err.Error() != "big.http:1: file is larger than the 1 MiB limit for request collections" {
		t.Fatalf("1 MiB + 1: %v", err)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "big.http")
	if err := os.WriteFile(path, append(over, strings.Repeat("b", 1<<20)...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(path, nil); err == nil || !strings.HasPrefix(err.Error(), path+":1: file is larger than the 1 MiB limit") {
		t.Fatalf("LoadFile of a 2 MiB file: %v", err)
	}
}

func TestHTTPFileLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "api.rest")
	if err := os.WriteFile(path, []byte("@id = 7\n### one\nGET /items/{{id}}\n###\nGET /bad/{{nope}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// One undefined variable fails the request that uses it, not the file.
	some, err := LoadFile(path, nil)
	if err != nil || len(some) != 2 || some[0].Request.Err != "" || some[1].Request.Err != path+`:5: undefined variable "nope"` {
		t.Fatalf("error %v, requests %+v", err, some)
	}
	reqs, err := LoadFile(path, map[string]string{"nope": "ok"})
	if err != nil {
		t.Fatal(err)
	}
	checkHTTPFile(t, reqs, []httpFileWant{
		{name: "one", method: "GET", path: "/items/7", line: 3},
		{name: "GET /bad/ok", method: "GET", path: "/bad/ok", line: 5},
	})
	if _, err := LoadFile(filepath.Join(dir, "missing.http"), nil); !os.IsNotExist(err) {
		t.Fatalf("missing file: %v", err)
	}
}

var httpFileErrorForm = regexp.MustCompile(`^fuzz\.http:[1-9][0-9]*: `)

func FuzzParseHTTPFile(f *testing.F) {
	f.Add([]byte("GET /api/me\n"), "")
	f.Add([]byte("@host = https://h:8443\n### a\nPOST {{host}}/x?y=1 HTTP/1.1\nContent-Type: application/json\n\n{\"a\": \"{{v}}\"}\n\n> {% client.log(1) %}\n>> out.json\n"), "V")
	f.Add([]byte("# @name q\r\nGET /s\r\n    ?q=1\r\n    &p=2\r\nAccept: */*\r\n\r\nbody\r\n###\r\n/h\r\n"), "x")
	f.Add([]byte("POST /x\n\n< ./file.json\n"), "")
	f.Add([]byte("GET https://h\n###\nGET //h/x\n  &a={{$env.HOME}}\n"), "")
	f.Add([]byte("GET {{v}}\n"), "/from/var")
	f.Add([]byte("{{v}}\n"), "http://h?x")
	f.Fuzz(func(t *testing.T, data []byte, v string) {
		reqs, err := ParseFile("fuzz.http", data, map[string]string{"v": v})
		if err != nil {
			if reqs != nil {
				t.Fatalf("requests returned with error %v", err)
			}
			if !httpFileErrorForm.MatchString(err.Error()) {
				t.Fatalf("error %q is not of the form fuzz.http:LINE: message", err)
			}
			return
		}
		if len(reqs) == 0 {
			t.Fatal("no requests and no error")
		}
		lines := strings.Count(string(data), "\n") + 1
		for _, r := range reqs {
			if r.Request.Method == "" {
				t.Fatalf("empty method: %+v", r)
			}
			// A request the file could not give a target (an unresolved {{variable}}) carries
			// why, and is never sent; every other one goes to a path on the target.
			if r.Request.Err == "" && !strings.HasPrefix(r.Request.Path, "/") {
				t.Fatalf("path %q does not start with /", r.Request.Path)
			}
			if r.Request.Err != "" && r.Name == "" {
				t.Fatalf("an unsendable request without a name: %+v", r)
			}
			if r.Line < 1 || r.Line > lines {
				t.Fatalf("line %d outside the file's %d lines", r.Line, lines)
			}
			if r.Request.Header == nil {
				t.Fatal("nil header")
			}
		}
	})
}

// Inputs at the size cap that would take minutes if any part of the parser were quadratic.
func TestHTTPFileLargeInputs(t *testing.T) {
	fill := func(head, unit string) []byte {
		n := (maxHTTPFileBytes - len(head)) / len(unit)
		return []byte(head + strings.Repeat(unit, n))
	}
	inputs := map[string][]byte{
		"query lines":     fill("GET /q\n", "&a=1\n"),
		"headers":         fill("GET /h\n", "X-A: 1\n"),
		"variables":       fill("GET /v\n\n", "{{v}}"),
		"unclosed braces": fill("GET /v\n\n", "{{"),
		"definitions":     fill("GET /d\n###\n@w = 1\n", "@w = {{w}}\n"),
		"requests":        fill("", "###\nGET /r\n"),
		"handlers":        fill("GET /t\n\n", "> {% %}\n"),
		"comments":        fill("GET /c\n", "# c\n"),
		"body":            fill("POST /b\n\n", "x\n"),
		"blank lines":     fill("POST /b\n\nx", "\n"),
	}
	for name, data := range inputs {
		start := time.Now()
		reqs, err := ParseFile("big.http", data, map[string]string{"v": "x"})
		if err != nil || len(reqs) == 0 {
			t.Errorf("%s: %v", name, err)
		}
		t.Logf("%s: %d bytes, %d requests in %v", name, len(data), len(reqs), time.Since(start))
	}
}

func TestHTTPFileExpansionCap(t *testing.T) {
	// Each definition doubles the last: 2^40 bytes unless substitution is capped.
	var src strings.Builder
	src.WriteString("@v0 = xxxxxxxx\n")
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&src, "@v%d = {{v%d}}{{v%d}}\n", i, i-1, i-1)
	}
	src.WriteString("GET /x\n\n{{v40}}\n")
	// 8 B doubled 20 times is 8 MiB: the definition of v20 (line 21) goes over the 8 MiB budget.
	_, err := ParseFile("f.http", []byte(src.String()), nil)
	if err == nil || err.Error() != "f.http:21: variables expand to more than 8 MiB in this file" {
		t.Fatalf("error %v", err)
	}

	// Many lines each using a 1 MiB variable run out too: the ninth use (line 11) is over.
	big := strings.Repeat("b", 1<<20)
	_, err = ParseFile("f.http", []byte("POST /x\n\n"+strings.Repeat("{{big}}\n", 10)), map[string]string{"big": big})
	if err == nil || err.Error() != "f.http:11: variables expand to more than 8 MiB in this file" {
		t.Fatalf("error %v", err)
	}
}

// TestHTTPFileUnresolvedFailsOneRequest: a reference with no value fails the request it is in,
// as JetBrains' client and VS Code's REST Client do: that request keeps its name (the file's, or
// its line as written) and carries why in Err; the requests around it load and are sendable.
func TestHTTPFileUnresolvedFailsOneRequest(t *testing.T) {
	t.Setenv("TOKENSCOPE_HTTPFILE_UNSET_FOR_SURE", "")
	os.Unsetenv("TOKENSCOPE_HTTPFILE_UNSET_FOR_SURE")
	cases := []struct {
		name, src  string
		vars       map[string]string
		err, named string // the bad request's Err (prefix) and name
	}{
		{"undefined variable in request line", "@a = 1\n\nGET /x/{{b}}\n", nil, "f.http:3: undefined variable \"b\"", ""},
		{"undefined variable in header", "GET /x\nX-A: {{ nope }}\n", nil, "f.http:2: undefined variable \"nope\"", ""},
		{"undefined variable in body", "POST /x\n\n{\n  \"a\": \"{{missing}}\"\n}\n", nil, "f.http:4: undefined variable \"missing\"", ""},
		// A definition with no value fails nothing until a request uses it.
		{"undefined variable in an unused definition", "@a = 1\n@b = {{a}}{{c}}\nGET /\n", nil, "", "GET /"},
		{"variable used before its definition", "GET /{{late}}\n###\n@late = 1\n", nil, "f.http:1: undefined variable \"late\"", ""},
		{"undefined variable in query line", "GET /x\n  ?a={{q}}\n", nil, "f.http:2: undefined variable \"q\"", ""},
		{"unset environment variable", "GET /x\nX-A: {{$processEnv TOKENSCOPE_HTTPFILE_UNSET_FOR_SURE}}\n", nil, "f.http:2: environment variable \"TOKENSCOPE_HTTPFILE_UNSET_FOR_SURE\" is not set", ""},
		{"unsupported dynamic variable", "GET /x?id={{$uuid}}\n", nil, "f.http:1: unsupported dynamic variable \"{{$uuid}}\"", ""},
		{"request variable", "GET /x\nAuthorization: Bearer {{login.response.body.$.token}}\n", nil, "f.http:2: request variables (\"login.response.body.$.token\") are not supported", ""},
		{"a whole header from a variable", "GET /x\n{{hdr}}\n", nil, "f.http:2: undefined variable \"hdr\"", ""},
		{"a whole request line from a variable", "{{line}}\n", nil, "f.http:1: undefined variable \"line\"", ""},
		{"a definition from an unset one, used", "@a = {{nope}}\n### uses a\nGET /x/{{a}}\n", nil, "f.http:3: variable \"a\" has no value (f.http:1: undefined variable \"nope\")", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := "### before\nGET /before\n\n###\n" + c.src + "\n### after\nGET /after\n"
			for _, crlf := range []bool{false, true} {
				in := src
				if crlf {
					in = strings.ReplaceAll(src, "\n", "\r\n")
				}
				reqs, err := ParseFile("f.http", []byte(in), c.vars)
				if err != nil || len(reqs) != 3 {
					t.Fatalf("crlf %v: error %v, %d requests: %+v", crlf, err, len(reqs), reqs)
				}
				bad := reqs[1]
				// Lines moved by the two requests' lines put before it.
				want := regexp.MustCompile(`f\.http:(\d+)`).ReplaceAllStringFunc(c.err, func(m string) string {
					var n int
					fmt.Sscanf(m, "f.http:%d", &n)
					return fmt.Sprintf("f.http:%d", n+4)
				})
				if !strings.HasPrefix(bad.Request.Err, want) || (want == "") != (bad.Request.Err == "") {
					t.Errorf("crlf %v: Err %q, want %q", crlf, bad.Request.Err, want)
				}
				if bad.Name == "" || (c.named != "" && bad.Name != c.named) {
					t.Errorf("crlf %v: the failed request's name %q", crlf, bad.Name)
				}
				if reqs[0].Name != "before" || reqs[0].Request.Err != "" || reqs[2].Name != "after" || reqs[2].Request.Err != "" || reqs[2].Request.Path != "/after" {
					t.Errorf("crlf %v: the requests around it: %+v / %+v", crlf, reqs[0], reqs[2])
				}
			}
		})
	}
}
