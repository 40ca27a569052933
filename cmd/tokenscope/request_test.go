package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"tokenscope/apiclient"
	"tokenscope/demoserver"
	"tokenscope/internal/hostcheck"
	"tokenscope/internal/testutil"
)

// echoRecord is what the echo server's /echo last received.
type echoRecord struct {
	mu     sync.Mutex
	header http.Header
	body   string
	n      int
}

func (r *echoRecord) last() (http.Header, string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.header, r.body, r.n
}

// echoServer is the demo server (user demo / demo) with three paths more: /echo answers with
// the headers and body it was sent, /status/N answers N, /raw answers bytes a terminal would
// act on.
func echoServer(t *testing.T, tls bool) (*httptest.Server, *echoRecord) {
	t.Helper()
	demo, err := demoserver.New(demoserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec := &echoRecord{}
	mux := http.NewServeMux()
	mux.Handle("/", demo)
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.header, rec.body = r.Header.Clone(), string(b)
		rec.n++
		rec.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"headers": r.Header, "body": string(b)})
	})
	mux.HandleFunc("/status/", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
		w.WriteHeader(code)
		_, _ = w.Write([]byte("status " + strconv.Itoa(code)))
	})
	mux.HandleFunc("/raw", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("a\x1b[31mb\x07\n"))
	})
	ts := httptest.NewUnstartedServer(mux)
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	if tls {
		ts.StartTLS()
	} else {
		ts.Start()
	}
	t.Cleanup(ts.Close)
	t.Setenv("TS_TEST_PW", "demo")
	return ts, rec
}

// runIn runs the CLI in-process with stdin.
func runIn(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errb testutil.SyncBuffer
	cmd := newRootCmd(&out, &errb)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	return out.String(), errb.String(), err
}

func requestArgs(ts *httptest.Server, args ...string) []string {
	return append([]string{"request", "--target", ts.URL, "--user", "demo", "--password-env", "TS_TEST_PW"}, args...)
}

// TestRequestExitStatus: 0/3/4/5 by the answer's class, 1 when there is no answer; the body is
// printed whatever the status.
func TestRequestExitStatus(t *testing.T) {
	ts, _ := echoServer(t, false)
	for code, want := range map[int]int{200: 0, 204: 0, 304: 3, 302: 3, 404: 4, 418: 4, 500: 5, 503: 5} {
		out, _, err := runIn(t, "", requestArgs(ts, "GET", "/status/"+strconv.Itoa(code))...)
		if got := exitStatus(err); got != want {
			t.Errorf("HTTP %d: exit %d (%v), want %d", code, got, err, want)
		}
		if code != 204 && code != 304 && out != "status "+strconv.Itoa(code) {
			t.Errorf("HTTP %d: body %q", code, out)
		}
	}
	_, _, err := runIn(t, "", "request", "--target", "http://127.0.0.1:1", "--user", "demo", "--password-env", "TS_TEST_PW", "GET", "/api/me")
	if exitStatus(err) != 1 {
		t.Errorf("refused connection: exit %d (%v), want 1", exitStatus(err), err)
	}
}

func exitStatus(err error) int {
	if err == nil {
		return 0
	}
	return exitCode(err)
}

// TestRequestIncludeHeadersAndRawBody: -i prints the status and headers; -H reaches the server;
// the body goes out byte for byte when stdout is not a terminal (tokens the server echoes
// included), while the story on stderr has fingerprints only.
func TestRequestIncludeHeadersAndRawBody(t *testing.T) {
	ts, rec := echoServer(t, false)
	out, stderr, err := runIn(t, "", requestArgs(ts, "-i", "-H", "X-Trace: 7", "-H", "X-Trace: 8", "GET", "/echo")...)
	if err != nil {
		t.Fatal(err, stderr)
	}
	h, _, _ := rec.last()
	if got := h.Values("X-Trace"); len(got) != 2 || got[0] != "7" || got[1] != "8" {
		t.Errorf("server got X-Trace %v", got)
	}
	if !strings.HasPrefix(out, "HTTP 200 OK\n") || !strings.Contains(out, "Content-Type: application/json\n") || !strings.Contains(out, "\n\n{") {
		t.Errorf("-i output:\n%s", out)
	}
	tok := strings.TrimPrefix(h.Get("Authorization"), "Bearer ")
	if tok == "" || !strings.Contains(out, tok) {
		t.Errorf("the echoed token is not in the piped body")
	}
	if strings.Contains(stderr, tok) || !strings.Contains(stderr, "logged in as demo") {
		t.Errorf("stderr story:\n%s", stderr)
	}
	raw, _, err := runIn(t, "", requestArgs(ts, "GET", "/raw")...)
	if err != nil || raw != "a\x1b[31mb\x07\n" {
		t.Errorf("piped body %q (%v), want the server's bytes", raw, err)
	}
	if _, _, err := runIn(t, "", requestArgs(ts, "-H", "authorization: Bearer mine", "GET", "/echo")...); exitStatus(err) != 2 || !strings.Contains(err.Error(), "tokenscope sets it") {
		t.Errorf("-H Authorization: %v", err)
	}
	if _, _, err := runIn(t, "", requestArgs(ts, "-H", "no colon", "GET", "/echo")...); exitStatus(err) != 2 {
		t.Errorf("-H without a colon: %v", err)
	}
}

// TestRequestBodySources: -d BODY, @FILE and @- reach the server as they are; a missing file is
// a usage error.
func TestRequestBodySources(t *testing.T) {
	ts, rec := echoServer(t, false)
	file := filepath.Join(t.TempDir(), "item.json")
	if err := os.WriteFile(file, []byte(`{"from":"file"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ d, stdin, want string }{
		{`{"from":"arg"}`, "", `{"from":"arg"}`},
		{"@" + file, "", `{"from":"file"}`},
		{"@-", "line one\nline two\n", "line one\nline two\n"},
	} {
		if _, stderr, err := runIn(t, c.stdin, requestArgs(ts, "-d", c.d, "POST", "/echo")...); err != nil {
			t.Fatalf("-d %s: %v\n%s", c.d, err, stderr)
		}
		h, body, _ := rec.last()
		if body != c.want {
			t.Errorf("-d %s: server got %q", c.d, body)
		}
		if strings.HasPrefix(c.want, "{") && h.Get("Content-Type") != "application/json" {
			t.Errorf("-d %s: Content-Type %q", c.d, h.Get("Content-Type"))
		}
	}
	if _, _, err := runIn(t, "", requestArgs(ts, "-d", "@/nonexistent/x", "POST", "/echo")...); exitStatus(err) != 2 {
		t.Errorf("-d @missing: %v", err)
	}
}

const testHTTPFile = `@trace = 42

### make item
POST /echo
X-From-File: yes
X-Trace: {{trace}}

{"a": 1}

### me
GET /api/me
`

// TestNamedHTTPRequest: NAME sends the .http request with its headers and body, in request
// and in fire; -H replaces a header of it; an unknown name lists the names.
func TestNamedHTTPRequest(t *testing.T) {
	ts, rec := echoServer(t, false)
	file := filepath.Join(t.TempDir(), "c.http")
	if err := os.WriteFile(file, []byte(testHTTPFile), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := runIn(t, "", requestArgs(ts, "--requests", file, "-H", "X-Trace: 7", "make item")...); err != nil {
		t.Fatal(err, stderr)
	}
	h, body, n := rec.last()
	if h.Get("X-From-File") != "yes" || h.Values("X-Trace")[0] != "7" || len(h.Values("X-Trace")) != 1 || body != `{"a": 1}` {
		t.Errorf("request NAME: headers %v body %q", h, body)
	}
	fireArgs := []string{"fire", "--target", ts.URL, "--user", "demo", "--password-env", "TS_TEST_PW", "--requests", file, "-n", "2", "-H", "X-Fire: 1", "make item"}
	if out, _, err := runIn(t, "", fireArgs...); err != nil || !strings.Contains(out, "2 requests: 2 ok") {
		t.Fatalf("fire NAME: %v\n%s", err, out)
	}
	h, body, n2 := rec.last()
	if n2 != n+2 || h.Get("X-From-File") != "yes" || h.Get("X-Trace") != "42" || h.Get("X-Fire") != "1" || body != `{"a": 1}` ||
		h.Get("Content-Type") != "application/json" {
		t.Errorf("fire NAME: %d calls, headers %v body %q", n2-n, h, body)
	}
	_, _, err := runIn(t, "", requestArgs(ts, "--requests", file, "mak item")...)
	if exitStatus(err) != 2 || !strings.Contains(err.Error(), `"make item", "me"`) {
		t.Errorf("unknown name: %v", err)
	}
	_, _, err = runIn(t, "", append(fireArgs[:len(fireArgs)-1], "nope")...)
	if err == nil || !strings.Contains(err.Error(), `"make item", "me"`) {
		t.Errorf("fire, unknown name: %v", err)
	}
	// METHOD PATH of a request that has a body: the note says how to send it.
	_, stderr, _ := runIn(t, "", append(fireArgs[:len(fireArgs)-1], "POST", "/echo")...)
	if !strings.Contains(stderr, `the request "make item" is POST /echo`) {
		t.Errorf("no note about the named request:\n%s", stderr)
	}
}

// TestAuthCallNamedWithDoubledPathHint: a base URL that already ends in the profile's first
// segment: the login error names the method and URL, and says the path looks doubled.
func TestAuthCallNamedWithDoubledPathHint(t *testing.T) {
	ts, _ := echoServer(t, false)
	_, _, err := runIn(t, "", "request", "--target", ts.URL+"/api", "--user", "demo", "--password-env", "TS_TEST_PW", "GET", "/me")
	for _, want := range []string{"login failed: POST " + ts.URL + "/api/api/token/: HTTP 404", "the path looks doubled (/api/api/...): the target is the base URL"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	if exitStatus(err) != 1 {
		t.Errorf("exit %d, want 1", exitStatus(err))
	}
}

// TestCertificateHintAndInsecureWarning: an untrusted certificate's error says how to trust
// it or skip the check; --insecure works and warns on stderr, in request and in fire.
func TestCertificateHintAndInsecureWarning(t *testing.T) {
	ts, _ := echoServer(t, true)
	_, _, err := runIn(t, "", requestArgs(ts, "GET", "/api/me")...)
	if err == nil || !strings.Contains(err.Error(), "certificate") || !strings.Contains(err.Error(), "use --ca-cert FILE to trust its CA, or --insecure to skip verification") {
		t.Errorf("untrusted certificate: %v", err)
	}
	const warning = "tokenscope: warning: --insecure: TLS certificates are not verified"
	out, stderr, err := runIn(t, "", requestArgs(ts, "--insecure", "GET", "/api/me")...)
	if err != nil || !strings.Contains(out, `"username":"demo"`) || !strings.Contains(stderr, warning) {
		t.Errorf("request --insecure: %v\nstdout %s\nstderr %s", err, out, stderr)
	}
	_, stderr, err = runIn(t, "", "fire", "--target", ts.URL, "--user", "demo", "--password-env", "TS_TEST_PW", "--insecure", "GET", "/api/me")
	if err != nil || !strings.Contains(stderr, warning) {
		t.Errorf("fire --insecure: %v\n%s", err, stderr)
	}
	untrusted := fmt.Errorf("tls: %w", x509.UnknownAuthorityError{})
	if withCertHint("x", untrusted) != "x "+certHint || withCertHint("x509: certificate signed by unknown authority", errors.New("x509")) != "x509: certificate signed by unknown authority" {
		t.Error("withCertHint goes by the words, not the error's type")
	}
}

// writeTestConfig writes a config file with target "t" at url and every key config show prints.
func writeTestConfig(t *testing.T, url string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	cfg := `[targets.t]
url = "` + url + `"
user = "demo"
password_env = "TS_TEST_PW"
client_id = "my-cli"

[targets.idp]
url = "https://api.example.com"
verify_jwks = "https://keys.example.com/jwks.json"
issuer = "https://login.example.com"
flow = "device"
scope = "openid api:read"
redirect_uri = "http://127.0.0.1:8765/callback"
client_auth = "post"
auth_params = { audience = "api", prompt = "consent" }
`
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigShowAllKeys(t *testing.T) {
	p := writeTestConfig(t, "http://127.0.0.1:1")
	out, _, err := runIn(t, "", "config", "show", "--config", p)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"client_id      my-cli", "verify_jwks    https://keys.example.com/jwks.json", "issuer         https://login.example.com",
		"flow           device", "scope          openid api:read", "redirect_uri   http://127.0.0.1:8765/callback", "client_auth    post",
		"auth_params    audience=api prompt=consent"} {
		if !strings.Contains(out, want) {
			t.Errorf("config show lacks %q:\n%s", want, out)
		}
	}
}

// TestURLOverridesNamedTarget: --url replaces a named target's URL (the file's points nowhere);
// without a named target it is refused.
func TestURLOverridesNamedTarget(t *testing.T) {
	ts, _ := echoServer(t, false)
	p := writeTestConfig(t, "http://127.0.0.1:1")
	out, stderr, err := runIn(t, "", "request", "--config", p, "--target", "t", "--url", ts.URL, "GET", "/api/me")
	if err != nil || !strings.Contains(out, `"username":"demo"`) {
		t.Errorf("--url: %v\n%s%s", err, out, stderr)
	}
	if _, _, err := runIn(t, "", "request", "--config", p, "--target", "t", "--url", "ftp://x", "GET", "/api/me"); exitStatus(err) != 2 {
		t.Errorf("--url ftp://x: %v", err)
	}
	if _, _, err := runIn(t, "", "request", "--target", ts.URL, "--url", ts.URL, "GET", "/api/me"); exitStatus(err) != 2 || !strings.Contains(err.Error(), "named target") {
		t.Errorf("--url without a named target: %v", err)
	}
}

// TestTargetCompletion: --target completes the config file's target names, the URL as the
// description, in every command with target flags.
func TestTargetCompletion(t *testing.T) {
	p := writeTestConfig(t, "http://127.0.0.1:1")
	for _, cmd := range [][]string{{"request"}, {"fire"}, {}} {
		args := append(append([]string{"__complete"}, cmd...), "--config", p, "--target", "")
		out, _, err := runIn(t, "", args...)
		if err != nil || !strings.Contains(out, "idp\thttps://api.example.com\n") || !strings.Contains(out, "t\thttp://127.0.0.1:1\n") || !strings.Contains(out, ":4\n") {
			t.Errorf("%v: %v\n%s", cmd, err, out)
		}
		out, _, _ = runIn(t, "", append(args[:len(args)-1], "i")...)
		if strings.Contains(out, "t\t") || !strings.Contains(out, "idp\t") {
			t.Errorf("%v with prefix i:\n%s", cmd, out)
		}
	}
}

// TestRequestAgainstDemoProcess is the done-when of issue #14: against `tokenscope
// demo-server` with 2 s tokens and a session file, the first call logs in and prints the body;
// one 3 s later resumes and refreshes (the server counts one login and one refresh); a missing
// path exits 4; -d reaches the server, which answers 201 with the item.
func TestRequestAgainstDemoProcess(t *testing.T) {
	bin, demo := startDemoProcess(t, "--access-ttl", "2s")
	t.Setenv("TS_TEST_PW", "demo")
	file := filepath.Join(t.TempDir(), "s.json")
	call := func(args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"request", "--target", demo.url, "--user", "demo", "--password-env", "TS_TEST_PW", "--session-file", file}, args...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}
	out, stderr, code := call("GET", "/api/me")
	if code != 0 || !strings.Contains(out, `"username":"demo"`) || !strings.Contains(stderr, "logged in as demo") {
		t.Fatalf("first call: exit %d\n%s\n%s", code, out, stderr)
	}
	time.Sleep(3 * time.Second)
	out, stderr, code = call("GET", "/api/me")
	st := demo.stats(t)
	if code != 0 || !strings.Contains(out, `"username":"demo"`) || !strings.Contains(stderr, "resumed from session file") ||
		st["logins"] != 1 || st["refresh_ok"] != 1 {
		t.Fatalf("call 3 s later: exit %d, stats %v\n%s\n%s", code, st, out, stderr)
	}
	if _, _, code = call("GET", "/api/no-such-thing"); code != 4 {
		t.Errorf("missing path: exit %d, want 4", code)
	}
	out, stderr, code = call("-d", `{"name":"widget"}`, "POST", "/api/items")
	var item struct {
		Item map[string]any `json:"item"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &item) != nil || item.Item["name"] != "widget" {
		t.Errorf("POST -d: exit %d\n%s\n%s", code, out, stderr)
	}
	if st := demo.stats(t); st["logins"] != 1 {
		t.Errorf("%v logins in all, want 1", st["logins"])
	}
}

// TestRequestLogsInAgainWhenTheSessionFileIsDead: the session file's refresh token was revoked
// and its access token expired: the request is parked, tokenscope logs in again and sends it.
func TestRequestLogsInAgainWhenTheSessionFileIsDead(t *testing.T) {
	ts, _ := echoServer(t, false)
	file := filepath.Join(t.TempDir(), "s.json")
	if _, stderr, err := runIn(t, "", requestArgs(ts, "--session-file", file, "GET", "/api/me")...); err != nil {
		t.Fatal(err, stderr)
	}
	for _, knob := range []string{"/__demo/revoke-families", "/__demo/expire-access"} {
		resp, err := http.Post(ts.URL+knob, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	out, stderr, err := runIn(t, "", requestArgs(ts, "--session-file", file, "GET", "/api/me")...)
	if err != nil || !strings.Contains(out, `"username":"demo"`) || !strings.Contains(stderr, "resumed from session file") ||
		!strings.Contains(stderr, "logged in as demo") || !strings.Contains(stderr, "replayed") {
		t.Errorf("dead session file: %v\n%s\n%s", err, out, stderr)
	}
}

// TestPrintAnswerOnATerminal: on a terminal, JSON is indented and what a terminal would act
// on is made inert; in a pipe, the bytes are the server's.
func TestPrintAnswerOnATerminal(t *testing.T) {
	res := apiclient.Result{Status: 200, Header: http.Header{"X-Evil": {"a\x1b]0;title\x07b"}}, Body: []byte(`{"a":"x","b":[1,2]}`)}
	var out bytes.Buffer
	if err := printAnswer(guard(&out), res, true, true); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "HTTP 200 OK\nX-Evil: ab\n\n{\n  \"a\": \"x\",\n  \"b\": [\n    1,\n    2\n  ]\n}\n" {
		t.Errorf("terminal output %q", got)
	}
	res.Body = []byte("not json \x1b[2J\x1b]52;c;aGk=\x07 end")
	out.Reset()
	if err := printAnswer(guard(&out), res, false, true); err != nil || strings.ContainsAny(out.String(), "\x1b\x07") || !strings.HasSuffix(out.String(), " end\n") {
		t.Errorf("terminal output %q (%v)", out.String(), err)
	}
	out.Reset()
	if err := printAnswer(guard(&out), res, false, false); err != nil || out.String() != string(res.Body) {
		t.Errorf("piped output %q (%v)", out.String(), err)
	}
}

// TestRequestFullURLNamesTheTarget: as in curl and HTTPie, a full URL names the destination.
// Without --target its origin is the target (the embedded demo server is not started); with a
// target of the same origin it is fine; with a target of another origin it is refused before
// anything is sent, naming both (it once answered from the target, the host dropped).
func TestRequestFullURLNamesTheTarget(t *testing.T) {
	ts, rec := echoServer(t, false)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir()) // no default target from the user's own config
	cred := []string{"--profile", "simplejwt", "--user", "demo", "--password-env", "TS_TEST_PW"}

	out, _, err := runIn(t, "", append(append([]string{"request"}, cred...), "-d", `{"a":1}`, "POST", ts.URL+"/echo?x=1")...)
	if err != nil || !strings.Contains(out, `"body":"{\"a\":1}"`) {
		t.Fatalf("no --target: %v, %s", err, out)
	}
	if _, _, n := rec.last(); n != 1 {
		t.Fatalf("the echo server saw %d requests", n)
	}

	if _, _, err := runIn(t, "", requestArgs(ts, "GET", ts.URL+"/echo")...); err != nil {
		t.Fatalf("same origin: %v", err)
	}
	if _, _, n := rec.last(); n != 2 {
		t.Fatalf("the echo server saw %d requests", n)
	}

	u, _ := url.Parse(ts.URL)
	other := "http://localhost:" + u.Port() + "/echo" // the same server under another name: another origin
	for _, target := range []string{ts.URL, "http://127.0.0.1:1"} {
		_, _, err := runIn(t, "", "request", "--target", target, "--user", "demo", "--password-env", "TS_TEST_PW", "GET", other)
		if exitStatus(err) != 2 || !strings.Contains(err.Error(), "http://localhost:"+u.Port()) ||
			!strings.Contains(err.Error(), hostcheck.Origin(target)) || !strings.Contains(err.Error(), "nothing was sent") {
			t.Errorf("--target %s, URL %s: exit %d, %v", target, other, exitStatus(err), err)
		}
	}
	if _, _, n := rec.last(); n != 2 {
		t.Fatalf("a refused request reached the server (%d requests)", n)
	}
}

// TestOriginOf: the origin a full URL names, RFC 6454's triple with default ports filled in.
func TestOriginOf(t *testing.T) {
	for in, want := range map[string]string{
		"https://API.example.com/me":      "https://api.example.com:443",
		"https://api.example.com:443/x?y": "https://api.example.com:443",
		"http://127.0.0.1:8000":           "http://127.0.0.1:8000",
		"http://[::1]/a":                  "http://[::1]:80",
		"/api/me":                         "",
		"ftp://x/y":                       "",
		"me":                              "",
	} {
		if got := hostcheck.Origin(in); got != want {
			t.Errorf("hostcheck.Origin(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRequestQuiet: -q prints nothing on stderr when all goes well (the body still goes to
// stdout), and a failure still says what failed.
func TestRequestQuiet(t *testing.T) {
	ts, _ := echoServer(t, false)
	out, stderr, err := runIn(t, "", requestArgs(ts, "-q", "GET", "/status/200")...)
	if err != nil || out != "status 200" || stderr != "" {
		t.Errorf("quiet success: %v, out %q, stderr %q", err, out, stderr)
	}
	_, stderr, err = runIn(t, "", "request", "-q", "--target", ts.URL, "--user", "demo", "--password-env", "NO_SUCH_VAR_X", "GET", "/status/200")
	if err == nil {
		t.Errorf("a failed login under -q: no error (stderr %q)", stderr)
	}
}

// TestHTTPFileUndefinedVariableFailsOneRequest: one undefined {{variable}} no longer makes the
// whole file unusable: the file's other requests send; the one that uses it is refused by name
// with the reason (a usage error: nothing went out).
func TestHTTPFileUndefinedVariableFailsOneRequest(t *testing.T) {
	ts, rec := echoServer(t, false)
	file := filepath.Join(t.TempDir(), "v.http")
	if err := os.WriteFile(file, []byte(testHTTPFile+"\n### broken\nGET /items/{{nope}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := runIn(t, "", requestArgs(ts, "--requests", file, "make item")...); err != nil {
		t.Fatalf("a good request of the file: %v\n%s", err, stderr)
	}
	_, _, n := rec.last()
	_, _, err := runIn(t, "", requestArgs(ts, "--requests", file, "broken")...)
	if exitStatus(err) != 2 || !strings.Contains(err.Error(), `v.http:14: undefined variable "nope"`) {
		t.Errorf("the request that uses it: %v", err)
	}
	if _, _, n2 := rec.last(); n2 != n {
		t.Errorf("the broken request reached the server (%d calls)", n2-n)
	}
}

// TestUserAgentIsTokenscope: the engine's calls say tokenscope/VERSION (they said
// go-resty/2.17.2), on the login as on the request, and -H User-Agent wins for a request.
func TestUserAgentIsTokenscope(t *testing.T) {
	ts, rec := echoServer(t, false)
	if _, _, err := runIn(t, "", requestArgs(ts, "GET", "/echo")...); err != nil {
		t.Fatal(err)
	}
	h, _, _ := rec.last()
	if ua := h.Get("User-Agent"); ua != "tokenscope/"+versionString() {
		t.Errorf("User-Agent %q", ua)
	}
	if _, _, err := runIn(t, "", requestArgs(ts, "-H", "User-Agent: my-client/2", "GET", "/echo")...); err != nil {
		t.Fatal(err)
	}
	if h, _, _ := rec.last(); h.Get("User-Agent") != "my-client/2" || len(h.Values("User-Agent")) != 1 {
		t.Errorf("-H User-Agent: %q", h.Values("User-Agent"))
	}
}
