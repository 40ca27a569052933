package httpfile

import (
	"strings"
	"testing"
)

func TestParseCurl(t *testing.T) {
	for _, tc := range []struct {
		name, in           string
		method, path, body string
		header             map[string]string
		host               string
		dropped            string
	}{
		{name: "chrome copy as cURL", in: "curl 'https://api.example.com/api/items?x=1' \\\n  -H 'accept: application/json' \\\n  -H 'authorization: Bearer eyJabc' \\\n  -H 'content-type: application/json' \\\n  --data-raw '{\"item\":\"it'\\''s\"}'",
			method: "POST", path: "/api/items?x=1", body: `{"item":"it's"}`, header: map[string]string{"Accept": "application/json", "Content-Type": "application/json"},
			host: "https://api.example.com", dropped: "Authorization"},
		{name: "explicit method", in: `curl -X PUT "http://127.0.0.1:8000/api/items/1" -d "{\"a\":1}" -H "Content-Type: application/json"`,
			method: "PUT", path: "/api/items/1", body: `{"a":1}`, header: map[string]string{"Content-Type": "application/json"}},
		{name: "joined flags", in: `curl -XDELETE -H'X-Trace: 7' http://h/x`, method: "DELETE", path: "/x", header: map[string]string{"X-Trace": "7"}},
		{name: "get with data", in: `curl -G http://h/search -d q=a --data-urlencode 'name=a b'`, method: "GET", path: "/search?q=a&name=a+b"},
		{name: "json", in: `curl --json '{"k":2}' http://h/j`, method: "POST", path: "/j", body: `{"k":2}`,
			header: map[string]string{"Content-Type": "application/json", "Accept": "application/json"}},
		{name: "form default", in: `curl -d a=1 -d b=2 http://h/f`, method: "POST", path: "/f", body: "a=1&b=2",
			header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}},
		{name: "path only, cookies dropped", in: `curl -s -b 'sid=1' /api/me --compressed --retry 3`, method: "GET", path: "/api/me", dropped: "--retry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !IsCurl(tc.in) {
				t.Fatal("not recognised as curl")
			}
			c, err := ParseCurl(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			r := c.Request
			if r.Method != tc.method || r.Path != tc.path || string(r.Body) != tc.body || (tc.host != "" && c.Host != tc.host) {
				t.Errorf("got %s %s body %q host %q", r.Method, r.Path, r.Body, c.Host)
			}
			for k, v := range tc.header {
				if r.Header.Get(k) != v {
					t.Errorf("header %s = %q, want %q", k, r.Header.Get(k), v)
				}
			}
			if r.Header.Get("Authorization") != "" {
				t.Error("the pasted Authorization header was kept")
			}
			if tc.dropped != "" && !strings.Contains(strings.Join(c.Dropped, "; "), tc.dropped) {
				t.Errorf("dropped %q, want it to name %q", c.Dropped, tc.dropped)
			}
		})
	}
}

func TestParseCurlErrors(t *testing.T) {
	for in, want := range map[string]string{
		`curl 'http://h/x`:                "unclosed",
		`curl -H 'Accept: x'`:             "no URL",
		`curl -d @body.json http://h/x`:   "reads a file",
		`curl -H nocolon http://h/x`:      "Name: value",
		`curl http://a/ http://b/`:        "two URLs",
		`curl -X`:                         "needs a value",
		`wget http://h/`:                  "not a curl command",
		`curl -X 'GET;touch x' http://h/`: `-X: unknown method "GET;touch x": not an HTTP method token`,
		`curl --request=FETCH http://h/`:  `unknown method "FETCH"`,
	} {
		if _, err := ParseCurl(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want %q", in, err, want)
		}
	}
}
