package transport

import (
	"bytes"
	"compress/gzip"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// TestReadBodyCap: a body of exactly the limit is read whole, one byte more is refused with
// ErrBodyTooLarge, whether the server announced its length or streamed it chunked; no limit
// reads everything. A HEAD's answer names the length of a body it does not carry: nothing is
// refused for it.
func TestReadBodyCap(t *testing.T) {
	const limit = 4096
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		if r.URL.Query().Get("chunked") == "" {
			w.Header().Set("Content-Length", strconv.Itoa(n))
		}
		body := strings.Repeat("x", n)
		for len(body) > 0 { // several writes: a chunked answer arrives in pieces
			k := min(len(body), 1000)
			_, _ = w.Write([]byte(body[:k]))
			w.(http.Flusher).Flush()
			body = body[k:]
		}
	}))
	defer ts.Close()
	get := func(q string, limit int) ([]byte, error) {
		resp, err := ts.Client().Get(ts.URL + "/?" + q)
		if err != nil {
			t.Fatal(err)
		}
		return ReadBody(resp, limit)
	}
	for _, chunked := range []string{"", "&chunked=1"} {
		for _, n := range []int{0, 1, 511, 512, 513, limit - 1, limit} {
			b, err := get("n="+strconv.Itoa(n)+chunked, limit)
			if err != nil || len(b) != n || strings.Trim(string(b), "x") != "" {
				t.Errorf("n=%d%s: %d bytes, %v; want the body whole", n, chunked, len(b), err)
			}
		}
		for _, n := range []int{limit + 1, 3 * limit} {
			if b, err := get("n="+strconv.Itoa(n)+chunked, limit); !errors.Is(err, ErrBodyTooLarge) || b != nil {
				t.Errorf("n=%d%s: %d bytes, %v; want ErrBodyTooLarge", n, chunked, len(b), err)
			}
		}
		if b, err := get("n="+strconv.Itoa(3*limit)+chunked, 0); err != nil || len(b) != 3*limit {
			t.Errorf("no limit%s: %d bytes, %v", chunked, len(b), err)
		}
	}
	resp, err := ts.Client().Head(ts.URL + "/?n=" + strconv.Itoa(3*limit))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := ReadBody(resp, limit); err != nil || len(b) != 0 || resp.ContentLength != 3*limit {
		t.Errorf("HEAD naming %d bytes: %d read, %v", resp.ContentLength, len(b), err)
	}
}

// TestReadBodyGzip: an answer net/http left gzip-encoded (the request asked for gzip itself)
// is decoded, the limit counting decoded bytes, so a small compressed body that inflates past
// the limit is refused; a body that says gzip but is not is an error, not a panic; no body at
// all is an empty one.
func TestReadBodyGzip(t *testing.T) {
	zip := func(s string) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write([]byte(s))
		_ = zw.Close()
		return b.Bytes()
	}
	small, bomb := zip(`{"ok":true}`), zip(strings.Repeat("0", 1<<20))
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		switch r.URL.Path {
		case "/small":
			_, _ = w.Write(small)
		case "/bomb":
			_, _ = w.Write(bomb)
		case "/empty":
			w.(http.Flusher).Flush() // chunked, and nothing in it
		default:
			_, _ = w.Write([]byte("not gzip at all"))
		}
	}))
	defer ts.Close()
	get := func(path string) ([]byte, error) {
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		req.Header.Set("Accept-Encoding", "gzip") // net/http then hands the body over encoded
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return ReadBody(resp, 64<<10)
	}
	if b, err := get("/small"); err != nil || string(b) != `{"ok":true}` {
		t.Errorf("small: %q, %v", b, err)
	}
	if len(bomb) > 64<<10 {
		t.Fatalf("the bomb is %d bytes compressed: it must be under the limit", len(bomb))
	}
	if _, err := get("/bomb"); !errors.Is(err, ErrBodyTooLarge) {
		t.Errorf("1 MiB inflated from %d bytes under a 64 KiB limit: %v", len(bomb), err)
	}
	if _, err := get("/junk"); err == nil {
		t.Error("a body that is not gzip was read as one")
	}
	// No body at all, though the answer says gzip: a HEAD's, or an empty one.
	for _, method := range []string{"HEAD", "GET"} {
		req, _ := http.NewRequest(method, ts.URL+"/empty", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if b, err := ReadBody(resp, 64<<10); err != nil || len(b) != 0 {
			t.Errorf("%s with Content-Encoding gzip and no body: %q, %v", method, b, err)
		}
	}
}
