package observe

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"tokenscope/apiclient/profile"
	"tokenscope/session"
)

// seen is what an upstream received.
type seen struct {
	method, host, path, rawPath, query string
	header                             http.Header
	body                               []byte
}

// echoUpstream records each request and answers with what answer writes.
func echoUpstream(t *testing.T, answer http.HandlerFunc) (*httptest.Server, func() []seen) {
	t.Helper()
	var mu sync.Mutex
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, seen{r.Method, r.Host, r.URL.Path, r.URL.RawPath, r.URL.RawQuery, r.Header.Clone(), body})
		mu.Unlock()
		answer(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []seen {
		mu.Lock()
		defer mu.Unlock()
		return append([]seen(nil), got...)
	}
}

func proxyFor(t *testing.T, edit func(*Config), ups ...string) (*Proxy, *httptest.Server) {
	t.Helper()
	prof, _ := profile.Builtin("simplejwt")
	cfg := Config{Profile: prof}
	for _, u := range ups {
		up, err := ParseUpstream(u)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Upstreams = append(cfg.Upstreams, up)
	}
	if edit != nil {
		edit(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(func() { srv.Close(); p.Close() })
	return p, srv
}

// rawExchange sends a request written by hand and returns the answer as read.
func rawExchange(t *testing.T, addr, req string) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestObserveProxyIsTransparent(t *testing.T) {
	answerBody := make([]byte, 100<<10)
	_, _ = rand.Read(answerBody)
	up, got := echoUpstream(t, func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h["Date"] = nil // an upstream without Date or Content-Type: the proxy must not add them
		h["Content-Type"] = nil
		h.Add("Set-Cookie", "a=1; Path=/")
		h.Add("Set-Cookie", "b=2; HttpOnly")
		h.Set("X-Custom", "kept")
		h.Set("Connection", "X-Hop")
		h.Set("X-Hop", "dropped")
		h.Set("Content-Length", fmt.Sprint(len(answerBody)))
		w.WriteHeader(418)
		_, _ = w.Write(answerBody)
	})
	_, px := proxyFor(t, nil, up.URL)
	body := `{"name":"widget","qty":1}`
	req := "POST /api/items/%2Fx?b=2&a=1&a=0 HTTP/1.1\r\nHost: " + px.Listener.Addr().String() + "\r\n" +
		"User-Agent: seed/1.0\r\nAuthorization: Bearer not-a-jwt\r\nX-Forwarded-For: 10.9.8.7\r\n" +
		"Connection: X-Drop-Me\r\nX-Drop-Me: 1\r\nContent-Type: application/json\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
	resp := rawExchange(t, px.Listener.Addr().String(), req)
	gotBody, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 418 || !bytes.Equal(gotBody, answerBody) {
		t.Fatalf("status %d, body %d bytes equal=%v", resp.StatusCode, len(gotBody), bytes.Equal(gotBody, answerBody))
	}
	if c := resp.Header.Values("Set-Cookie"); len(c) != 2 || c[0] != "a=1; Path=/" || c[1] != "b=2; HttpOnly" {
		t.Errorf("Set-Cookie %q", c)
	}
	if resp.Header.Get("X-Custom") != "kept" || resp.Header.Get("X-Hop") != "" || resp.Header.Get("Date") != "" ||
		resp.Header.Get("Content-Type") != "" || resp.ContentLength != int64(len(answerBody)) {
		t.Errorf("answer headers %v", resp.Header)
	}
	s := got()
	if len(s) != 1 {
		t.Fatalf("upstream saw %d requests", len(s))
	}
	r := s[0]
	upHost := strings.TrimPrefix(up.URL, "http://")
	if r.method != "POST" || r.host != upHost || r.rawPath != "/api/items/%2Fx" || r.query != "b=2&a=1&a=0" || string(r.body) != body {
		t.Errorf("upstream saw %+v", r)
	}
	h := r.header
	if h.Get("User-Agent") != "seed/1.0" || h.Get("Authorization") != "Bearer not-a-jwt" || h.Get("X-Forwarded-For") != "10.9.8.7" ||
		h.Get("X-Drop-Me") != "" || h.Get("X-Forwarded-Host") != "" || h.Get("X-Forwarded-Proto") != "" || h.Get("Accept-Encoding") != "" {
		t.Errorf("upstream headers %v", h)
	}
}

func TestObserveForwardedOnlyWhenAsked(t *testing.T) {
	up, got := echoUpstream(t, func(w http.ResponseWriter, _ *http.Request) {})
	_, plain := proxyFor(t, nil, up.URL)
	_, fwd := proxyFor(t, func(c *Config) { c.Forwarded = true }, up.URL)
	for _, u := range []string{plain.URL, fwd.URL} {
		resp, err := http.Get(u + "/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	s := got()
	if v := s[0].header.Values("X-Forwarded-For"); len(v) != 0 {
		t.Errorf("without --forwarded: X-Forwarded-For %q", v)
	}
	if v := s[1].header.Get("X-Forwarded-For"); v != "127.0.0.1" || s[1].header.Get("X-Forwarded-Host") == "" {
		t.Errorf("with --forwarded: %v", s[1].header)
	}
}

// A streamed answer arrives in pieces: the client reads the first before the upstream writes
// the second.
func TestObserveStreamsAnswers(t *testing.T) {
	firstRead := make(chan struct{})
	up, _ := echoUpstream(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-firstRead:
		case <-time.After(5 * time.Second):
			_, _ = io.WriteString(w, "data: too-late\n\n")
			return
		}
		_, _ = io.WriteString(w, "data: two\n\n")
	})
	_, px := proxyFor(t, nil, up.URL)
	resp, err := http.Get(px.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, _ := br.ReadString('\n')
	if line != "data: one\n" {
		t.Fatalf("first piece %q", line)
	}
	close(firstRead)
	rest, _ := io.ReadAll(br)
	if string(rest) != "\ndata: two\n\n" {
		t.Errorf("rest %q: the answer did not stream", rest)
	}
}

// Several upstreams: the longest prefix wins and the path goes on unchanged.
func TestObserveRoutesByPrefix(t *testing.T) {
	idp, idpSeen := echoUpstream(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "idp") })
	admin, adminSeen := echoUpstream(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "admin") })
	api, apiSeen := echoUpstream(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "api") })
	_, px := proxyFor(t, nil, "/auth="+idp.URL, api.URL, "/auth/admin/="+admin.URL+"/base")
	for path, want := range map[string]string{"/auth/token": "idp", "/auth": "idp", "/authx": "api", "/auth/admin/x": "admin", "/api/me": "api"} {
		resp, err := http.Get(px.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != want {
			t.Errorf("%s went to %s, want %s", path, b, want)
		}
	}
	if s := idpSeen(); len(s) != 2 || s[0].path != "/auth/token" && s[1].path != "/auth/token" {
		t.Errorf("idp saw %+v", s)
	}
	if s := adminSeen(); len(s) != 1 || s[0].path != "/base/auth/admin/x" {
		t.Errorf("admin saw %+v", s)
	}
	if s := apiSeen(); len(s) != 2 {
		t.Errorf("api saw %+v", s)
	}
}

func TestObserveParseUpstream(t *testing.T) {
	for _, bad := range []string{"", "api.example", "/auth", "/auth=ftp://x", "https://u:p@x", "https://x/?q=1", "=https://x"} {
		if _, err := ParseUpstream(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	u, err := ParseUpstream("/auth/=https://idp.example/base")
	if err != nil || u.Prefix != "/auth" || u.URL.Host != "idp.example" {
		t.Errorf("%+v %v", u, err)
	}
}

// No upstream for a path, an upstream that is down: 502, and an event saying why.
func TestObserveUpstreamErrors(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	p, px := proxyFor(t, nil, "/api="+deadURL)
	for _, path := range []string{"/api/me", "/other"} {
		resp, err := http.Get(px.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadGateway {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
	n := 0
	for _, e := range p.Log().Events() {
		if e.Kind == session.KindRequestFailed {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d request-failed events", n)
	}
}

// A refresh answer compressed by the upstream is read all the same, and reaches the client as
// the upstream sent it.
func TestObserveReadsGzipAnswers(t *testing.T) {
	access := jwtWithExp(time.Now().Add(time.Minute))
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	fmt.Fprintf(zw, `{"access":%q,"refresh":"r2"}`, access)
	zw.Close()
	up, _ := echoUpstream(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(zipped.Bytes())
	})
	p, px := proxyFor(t, nil, up.URL)
	req, _ := http.NewRequest("POST", px.URL+"/api/token/refresh/", strings.NewReader(`{"refresh":"r1"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept-Encoding", "gzip")
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(b, zipped.Bytes()) {
		t.Errorf("the client got %d bytes, not the upstream's %d", len(b), zipped.Len())
	}
	p.Close()
	var ok bool
	for _, e := range p.Log().Events() {
		ok = ok || (e.Kind == session.KindRefreshOK && e.Rotated && e.Token == session.Fingerprint(access))
	}
	if !ok {
		t.Errorf("no refresh-ok with the new token: %v", p.Log().Events())
	}
}

// jwtWithExp makes a JWT whose payload has exp (and a signature nobody checks): the analyzer
// only reads it.
func jwtWithExp(exp time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." +
		enc(fmt.Appendf(nil, `{"exp":%d,"iat":%d}`, exp.Unix(), exp.Add(-time.Minute).Unix())) + ".c2ln"
}
