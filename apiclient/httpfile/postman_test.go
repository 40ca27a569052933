package httpfile

import (
	"strings"
	"testing"
)

// TestPostmanCollection: a v2.1 collection loads as presets: folders named in the path,
// variables substituted, hosts cut, disabled headers and the collection's auth left out.
func TestPostmanCollection(t *testing.T) {
	reqs, err := LoadFile("testdata/collection.postman.json", map[string]string{"owner": "me"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range reqs {
		got[r.Name] = r.Request.Method + " " + r.Request.Path + " " + string(r.Request.Body) + " " + r.Request.Header.Get("Content-Type")
		if r.Request.Header.Get("Authorization") != "" || r.Request.Header.Get("X-Old") != "" {
			t.Errorf("%s kept the Authorization or a disabled header: %v", r.Name, r.Request.Header)
		}
	}
	want := map[string]string{
		"me":             "GET /api/me  ",
		"items / create": `POST /api/items?draft=1 {"item": "for me"} application/json`,
		"items / form":   "POST /api/form a=1&b=x+y application/x-www-form-urlencoded",
		"plain":          "GET /api/protected/  ",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	if len(reqs) != 4 {
		t.Errorf("%d requests, want 4", len(reqs))
	}
}

func TestPostmanErrors(t *testing.T) {
	for in, want := range map[string]string{
		`{"info":{"schema":"https://schema.getpostman.com/x"},"item":[]}`:                                                               "holds no requests",
		`{"info":{"schema":"https://schema.getpostman.com/x"},"item":[{"name":"f","request":{"body":{"mode":"formdata"},"url":"/x"}}]}`: "formdata",
		`{"info":{"schema":"https://schema.getpostman.com/x"},"item":5}`:                                                                "not a Postman collection",
		// A method that is shell code once copied as curl (it was upper-cased and kept).
		`{"info":{"schema":"https://schema.getpostman.com/x"},"item":[{"name":"evil","request":{"method":"GET;A=TOUCH;touch /tmp/x;","url":"/x"}}]}`: `"evil": unknown method "GET;A=TOUCH;touch /tmp/x;": not an HTTP method token`,
		`{"info":{"schema":"https://schema.getpostman.com/x"},"item":[{"name":"sp","request":{"method":"GET /x HTTP/1.1\r\nX: y","url":"/x"}}]}`:     "not an HTTP method token",
	} {
		if !IsPostman([]byte(in)) {
			t.Fatalf("not recognised: %s", in)
		}
		if _, err := ParsePostman("c.json", []byte(in), nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want %q", in, err, want)
		}
	}
	if IsPostman([]byte("GET /x")) || IsPostman([]byte(`{"info":{}}`)) {
		t.Error("a .http file or another JSON taken for a Postman collection")
	}
}
