package har

import (
	"bytes"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// What Write writes, Read reads back: the same entries, _tokenscope included, and a document
// other tools take as HAR 1.2.
func TestWriteRead(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	in := []Entry{{
		Started: at, Time: 12.5,
		Request: Request{Method: "POST", URL: "http://x/api/token/refresh/", HTTPVersion: "HTTP/1.1",
			Headers: Headers(http.Header{"B": {"2"}, "A": {"1", "3"}}), QueryString: []NV{}, Cookies: []NV{}, HeadersSize: -1,
			BodySize: 2, PostData: &PostData{MimeType: "application/json", Text: "{}"}},
		Response: Response{Status: 200, StatusText: "OK", HTTPVersion: "HTTP/1.1", Headers: []NV{}, Cookies: []NV{},
			Content: Content{Size: 2, MimeType: "application/json", Text: "{}"}, HeadersSize: -1, BodySize: 2},
		Timings: Timings{Wait: 12.5},
		Tokens:  &Tokens{Sent: []Token{{"refresh", "fp:00000001"}}, Received: []Token{{"access", "fp:00000002"}, {"refresh", "fp:00000003"}}},
	}}
	if got := in[0].Request.Headers; !reflect.DeepEqual(got, []NV{{"A", "1"}, {"A", "3"}, {"B", "2"}}) {
		t.Errorf("Headers: %v, want sorted by name", got)
	}
	var b bytes.Buffer
	if err := Write(&b, Creator{"tokenscope", "test"}, in); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"version": "1.2"`, `"_tokenscope": {`, `"startedDateTime": "2026-01-02T03:04:05.000006Z"`, `"cache": {}`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the document lacks %s", want)
		}
	}
	var out []Entry
	err := Read(&b, Limits{MaxBytes: 1 << 20, MaxEntries: 10}, func(i int, e Entry) error {
		out = append(out, e)
		return nil
	})
	if err != nil || !reflect.DeepEqual(out, in) {
		t.Errorf("read back %v (%+v)\nwant %+v", err, out, in)
	}
}

// Members other than log.entries are skipped, wherever they are; documents without entries
// and junk are errors.
func TestReadShapes(t *testing.T) {
	n := 0
	doc := `{"x":[1,{"a":[]}],"log":{"version":"1.2","pages":[{"id":"p"}],"entries":[{"startedDateTime":"2026-01-01T00:00:00Z"},{}],"comment":"c"}}`
	if err := Read(strings.NewReader(doc), Limits{}, func(int, Entry) error { n++; return nil }); err != nil || n != 2 {
		t.Errorf("read %d entries, err %v", n, err)
	}
	for _, junk := range []string{"", "{", "[]", `{"log":{}}`, `{"log":{"entries":{}}}`, `{"log":{"entries":[1]}}`, `{"log":{"entries":[{}`} {
		if err := Read(strings.NewReader(junk), Limits{}, func(int, Entry) error { return nil }); err == nil {
			t.Errorf("%q read without an error", junk)
		}
	}
	stop := errors.New("stop")
	if err := Read(strings.NewReader(doc), Limits{}, func(int, Entry) error { return stop }); err != stop {
		t.Errorf("the callback's error came back as %v", err)
	}
}

// The caps stop the reading where they are passed, before the rest of the file is read.
func TestReadCaps(t *testing.T) {
	var b bytes.Buffer
	b.WriteString(`{"log":{"entries":[{}`)
	for b.Len() < 4<<20 {
		b.WriteString(",{}")
	}
	b.WriteString("]}}")
	n := 0
	err := Read(bytes.NewReader(b.Bytes()), Limits{MaxEntries: 1000}, func(int, Entry) error { n++; return nil })
	if !errors.Is(err, ErrTooLarge) || n != 1000 {
		t.Errorf("count cap: %d entries, err %v", n, err)
	}
	r := bytes.NewReader(b.Bytes())
	err = Read(r, Limits{MaxBytes: 1 << 20}, func(int, Entry) error { return nil })
	if !errors.Is(err, ErrTooLarge) || r.Len() < b.Len()-(1<<20)-64<<10 {
		t.Errorf("byte cap: err %v, %d of %d bytes left unread", err, r.Len(), b.Len())
	}
	small := `{"log":{"entries":[]}}`
	if err := Read(strings.NewReader(small), Limits{MaxBytes: int64(len(small))}, func(int, Entry) error { return nil }); err != nil {
		t.Errorf("a document of exactly the cap: %v", err)
	}
}
