package observe

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"tokenscope/demoserver"
	"tokenscope/session"
)

// patterned is a reader of n bytes that are not all alike, without holding them.
type patterned struct{ n, i int }

func (p *patterned) Read(b []byte) (int, error) {
	if p.i >= p.n {
		return 0, io.EOF
	}
	k := min(len(b), p.n-p.i)
	for j := range k {
		b[j] = byte((p.i + j) * 31 >> 3)
	}
	p.i += k
	return k, nil
}

// A refresh call whose request and answer are 20 MiB each: every byte goes through, the
// analyzer reads its capped prefix and calls the answer unreadable.
func TestObserveHugeBodiesStreamThroughCapped(t *testing.T) {
	const size = 20 << 20
	var upSum [32]byte
	var upLen int64
	up, _ := echoUpstream(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.Copy(w, &patterned{n: size})
	})
	// echoUpstream reads the request body whole: compare its hash through a second look.
	p, px := proxyFor(t, func(c *Config) { c.MaxBodyBytes = 32 << 10 }, up.URL)
	h := sha256.New()
	_, _ = io.Copy(h, &patterned{n: size})
	copy(upSum[:], h.Sum(nil))

	req, _ := http.NewRequest("POST", px.URL+"/api/token/refresh/", &patterned{n: size})
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	upLen, _ = io.Copy(got, resp.Body)
	resp.Body.Close()
	if upLen != size || !bytes.Equal(got.Sum(nil), upSum[:]) {
		t.Fatalf("the answer changed on the way: %d bytes", upLen)
	}
	p.Close()
	var failed *session.Event
	for _, e := range p.Log().Events() {
		if e.Kind == session.KindRefreshFailed {
			failed = &e
		}
	}
	if failed == nil || !failed.Transient || !strings.Contains(failed.Reason, "not readable") || len(failed.Reason) > session.MaxTextBytes+64 {
		t.Errorf("refresh-failed event %+v", failed)
	}
}

// Control characters and bidi overrides in a path and in the field names of an answer reach the
// log as data; the JSON and text renderings the command prints are inert.
func TestObserveHostileTextIsInertWhenPrinted(t *testing.T) {
	up, _ := echoUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasPrefix(r.URL.Path, "/api/token/refresh") {
			_, _ = io.WriteString(w, `{"\u001b]52;c;aGk=\u0007\u202e":"x"}`)
			return
		}
		w.WriteHeader(401)
	})
	p, px := proxyFor(t, nil, up.URL)
	for _, u := range []string{"/api/%1b%5b2J%e2%80%aeevil%0d%0aforged", "/api/token/refresh/"} {
		req, _ := http.NewRequest("POST", px.URL+u, strings.NewReader(`{"refresh":"r"}`))
		req.Header.Set("Authorization", "Bearer tok")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	p.Close()
	evs := p.Log().Events()
	if len(evs) < 4 {
		t.Fatalf("events %v", evs)
	}
	sawRaw := false
	for _, e := range evs {
		sawRaw = sawRaw || strings.ContainsAny(e.Path+e.Reason, "\x1b\u202e")
		for _, out := range []string{string(e.JSON())} {
			if strings.ContainsAny(out, "\x1b\x07\u202e\r\n") {
				t.Errorf("JSON carries a control: %q", out)
			}
		}
	}
	if !sawRaw {
		t.Error("the hostile text never reached the log: the test tests nothing")
	}
}

// Junk where a HAR should be is an error, never a panic.
func TestObserveHARJunk(t *testing.T) {
	for _, junk := range []string{"", "{", "[]", `{"log":{"entries":[{}]}}`, `{"log":{"entries":[{"startedDateTime":"2026-01-01T00:00:00Z","time":-5,"request":{"url":"::"},"response":{"status":0}}]}}`} {
		if _, err := analyzeHARData([]byte(junk), Options{}); err == nil && !strings.Contains(junk, "startedDateTime") {
			t.Errorf("%q accepted", junk)
		}
	}
}

func FuzzObserveHAR(f *testing.F) {
	f.Add([]byte(`{"log":{"entries":[{"startedDateTime":"2026-01-01T00:00:00Z","time":5,"request":{"method":"POST","url":"http://x/api/token/refresh/","postData":{"text":"{\"refresh\":\"a.b.c\"}"}},"response":{"status":200,"content":{"text":"{\"access\":\"e30.e30.x\"}"}}}]}}`))
	f.Add([]byte(`{"log":{"entries":[{"startedDateTime":"2026-01-01T00:00:00Z","time":1e300,"request":{"method":"GET","url":"http://x/a","headers":[{"name":"Authorization","value":"Bearer e30.eyJleHAiOjFlMzAwfQ.x"}]},"response":{"status":401,"content":{"text":"AAAA","encoding":"base64"}}}]}}`))
	prof := simplejwtProfile()
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := analyzeHARData(data, Options{Profile: prof, RetryWindow: time.Second})
		if err == nil {
			_ = a.Summary()
			_ = a.Tokens()
		}
	})
}

// TestObserveRefusesForeignHost: a web page that rebinds its own name to 127.0.0.1 sends its
// requests with that name in Host; the proxy does not forward them (the upstream's answers would
// be the page's to read), and neither sees nor counts them. Its own names pass, and
// --allow-remote (AnyHost) answers any.
func TestObserveRefusesForeignHost(t *testing.T) {
	for _, anyHost := range []bool{false, true} {
		r := newRig(t, demoserver.Options{}, func(c *Config) { c.AnyHost = anyHost })
		u, _ := url.Parse(r.srv.URL)
		for _, host := range []string{"rebind.attacker.example", "rebind.attacker.example:" + u.Port(), u.Host, "localhost:" + u.Port()} {
			req, _ := http.NewRequest("GET", r.srv.URL+"/.well-known/jwks.json", nil)
			req.Host = host
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			foreign := strings.HasPrefix(host, "rebind")
			want := http.StatusOK
			if foreign && !anyHost {
				want = http.StatusMisdirectedRequest
			}
			if resp.StatusCode != want {
				t.Errorf("anyHost %v, Host %s: %d, want %d", anyHost, host, resp.StatusCode, want)
			}
		}
		if n := r.finish(t).Requests; !anyHost && n != 2 {
			t.Errorf("the proxy counted %d requests; the two foreign ones must not be seen", n)
		}
	}
}
