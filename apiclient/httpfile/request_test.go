package httpfile

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"tokenscope/apiclient/profile"
)

func TestParseRequest(t *testing.T) {
	r, err := ParseRequest("post /api/items\r\nX-Trace: a\tb\r\n# a comment\r\nAccept: */*\r\n\r\n  {\"a\": 1}\n\n")
	if err != nil {
		t.Fatal(err)
	}
	want := profile.Request{Method: "POST", Path: "/api/items", Body: []byte(`{"a": 1}`), Header: http.Header{
		"X-Trace": {"a\tb"}, "Accept": {"*/*"}, "Content-Type": {"application/json"}}}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("ParseRequest = %+v\nwant %+v", r, want)
	}
	// A given Content-Type is kept; a body that is not JSON gets none.
	if r, _ := ParseRequest("PUT /x\nContent-Type: text/plain\n\n{}"); r.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("Content-Type replaced: %v", r.Header)
	}
	if r, _ := ParseRequest("PUT /x\n\nnot json"); r.Header.Get("Content-Type") != "" {
		t.Errorf("Content-Type on a text body: %v", r.Header)
	}
	// The text is literal: no variables, and a body may hold ### and > lines.
	if r, err := ParseRequest("POST /x\n\n{{v}}\n###\n> f.js"); err != nil || string(r.Body) != "{{v}}\n###\n> f.js" {
		t.Errorf("literal body: %q, %v", r.Body, err)
	}
	// A line of spaces ends the headers like an empty one.
	if r, err := ParseRequest("POST /x\nX-A: 1\n  \nbody"); err != nil || string(r.Body) != "body" || r.Header.Get("X-A") != "1" {
		t.Errorf("blank line of spaces: %+v, %v", r, err)
	}
	if r, err := ParseRequest("GET https://api.example.com/v1/me?x=1 HTTP/1.1"); err != nil || r.Path != "/v1/me?x=1" || r.Method != "GET" {
		t.Errorf("absolute URL: %+v, %v", r, err)
	}
}

func TestParseRequestErrors(t *testing.T) {
	for text, want := range map[string]string{
		"":                             "line 1: empty request line",
		"FETCH /x":                     `line 1: unknown method "FETCH"`,
		"GET x":                        `line 1: target "x" is neither a path`,
		"GET":                          `line 1: request line "GET" has no target`,
		"GET /x\nBad Name: v":          `line 2: bad header name "Bad Name"`,
		"GET /x\nNo colon":             `line 2: header line "No colon" has no colon`,
		"GET /x\nX-A: 1\nX-B: a\x01b":  "line 3: header X-B: value contains a control character",
		"GET /x extra words":           `line 1: unexpected "extra" after the target`,
		"GET /x\nX-A: {{notexpanded}}": "",
	} {
		_, err := ParseRequest(text)
		switch {
		case want == "" && err != nil:
			t.Errorf("ParseRequest(%q): %v", text, err)
		case want != "" && (err == nil || !strings.HasPrefix(err.Error(), want)):
			t.Errorf("ParseRequest(%q) = %v, want %s…", text, err, want)
		}
	}
}

func TestFormatRoundTrip(t *testing.T) {
	r := profile.Request{Method: "POST", Path: "/x?a=1", Body: []byte("{\"k\": [1, 2]}"),
		Header: http.Header{"X-B": {"2"}, "Content-Type": {"application/json"}, "X-A": {"1", "1b"}}}
	text := Format(r)
	if want := "POST /x?a=1\nContent-Type: application/json\nX-A: 1\nX-A: 1b\nX-B: 2\n\n{\"k\": [1, 2]}"; text != want {
		t.Fatalf("Format = %q, want %q", text, want)
	}
	back, err := ParseRequest(text)
	if err != nil || !reflect.DeepEqual(back, r) {
		t.Fatalf("ParseRequest(Format(r)) = %+v, %v; want %+v", back, err, r)
	}
}

func TestNewRequest(t *testing.T) {
	r, err := NewRequest("post", "/items", nil, []byte(`{"a":1}`))
	if err != nil || r.Method != "POST" || r.Path != "/items" || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("NewRequest = %+v, %v", r, err)
	}
	for _, bad := range [][2]string{{"FETCH", "/x"}, {"GET", "x"}, {"GET", "/x\nX-Evil: 1"}, {"GET", "/a b"}} {
		if _, err := NewRequest(bad[0], bad[1], nil, nil); err == nil {
			t.Errorf("NewRequest(%q, %q) accepted", bad[0], bad[1])
		}
	}
	if _, err := NewRequest("GET", "/x", http.Header{"Bad Name": {"v"}}, nil); err == nil {
		t.Error("NewRequest accepted a bad header name")
	}
}
