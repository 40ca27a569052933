package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"tokenscope/demoserver"
	"tokenscope/session"
)

// Security-review tests for the command line: no raw token in what fire prints or --log-file
// writes, no credential flag in argv (decode --secret excepted, with a warning), files holding
// tokens private, and a demo server that will not listen beyond loopback unless told to. Every
// server listens on 127.0.0.1:0; helpers are prefixed sec so that they cannot collide with
// other test files of the package.

const secCmdPassword = "Cmd-pw-3e8f1a77-x9"

// secCmdWorld is a demo server behind a recorder that also scripts the session: the first
// resource request expires every access token and fails the next refresh once (a 401, a
// transient refresh failure, a refresh, a retry); the third revokes every family (a fatal
// refresh, a logout, parked requests that fire replays after logging in again).
type secCmdWorld struct {
	srv   *demoserver.Server
	ts    *httptest.Server
	mu    sync.Mutex
	resp  [][]byte // every answer body
	nRes  int
	reqLn []string
}

type secCmdCapture struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (c *secCmdCapture) Write(p []byte) (int, error) {
	c.body.Write(p)
	return c.ResponseWriter.Write(p)
}

func newSecCmdWorld(t *testing.T) *secCmdWorld {
	t.Helper()
	srv, err := demoserver.New(demoserver.Options{Users: map[string]string{"alice": secCmdPassword}})
	if err != nil {
		t.Fatal(err)
	}
	w := &secCmdWorld{srv: srv}
	w.ts = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/protected") {
			w.mu.Lock()
			w.nRes++
			n := w.nRes
			w.mu.Unlock()
			switch n {
			case 1:
				srv.ExpireAccessTokens()
				srv.FailNextRefreshes(1)
			case 3:
				srv.RevokeAllFamilies()
				srv.ExpireAccessTokens()
			}
		}
		c := &secCmdCapture{ResponseWriter: rw}
		srv.ServeHTTP(c, r)
		w.mu.Lock()
		w.resp = append(w.resp, c.body.Bytes())
		w.reqLn = append(w.reqLn, r.Method+" "+r.URL.Path)
		w.mu.Unlock()
	}))
	t.Cleanup(w.ts.Close)
	return w
}

// tokens are every token the server handed out, found by their field names.
func (w *secCmdWorld) tokens() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	keys := map[string]bool{"access": true, "refresh": true, "accessToken": true, "refreshToken": true,
		"token": true, "access_token": true, "refresh_token": true}
	seen := map[string]bool{}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, vv := range x {
				if s, ok := vv.(string); ok && keys[k] && s != "" && !seen[s] {
					seen[s] = true
					out = append(out, s)
				}
				walk(vv)
			}
		case []any:
			for _, vv := range x {
				walk(vv)
			}
		}
	}
	for _, b := range w.resp {
		var doc any
		if json.Unmarshal(b, &doc) == nil {
			walk(doc)
		}
	}
	return out
}

// secCmdLeaks names the secrets (by fingerprint) found in text: the whole secret, or for a JWT
// its payload or signature.
func secCmdLeaks(text string, secrets []string) []string {
	var out []string
	for _, s := range secrets {
		pieces := []string{s}
		if parts := strings.Split(s, "."); len(parts) == 3 {
			pieces = append(pieces, parts[1], parts[2])
		}
		for _, p := range pieces {
			if len(p) >= 8 && strings.Contains(text, p) {
				out = append(out, session.Fingerprint(s))
				break
			}
		}
	}
	return out
}

// secIsolate keeps the user's own config file and TOKENSCOPE_* variables out of a test.
func secIsolate(t *testing.T) {
	t.Helper()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "TOKENSCOPE_") {
			t.Setenv(k, "")
		}
	}
	t.Setenv("TS_SEC_PW", secCmdPassword)
}

func secFileMode(t *testing.T, p string) fs.FileMode {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

// ---- 1 and 3. fire output, --log-file and --session-file ----

// TestSecurityFireOutputHasNoRawTokens runs fire, readable and --json, through logins, a 401,
// a transient and a fatal refresh failure, a refresh, a retry, parked requests and their replay,
// with --log-file (no --reveal-tokens) and --session-file over a world-readable file left by
// another target. Nothing fire prints, on stdout or stderr, and nothing in the log file carries
// a raw token or the password; the log file is whole JSON lines and 0600; the session file
// becomes 0600.
func TestSecurityFireOutputHasNoRawTokens(t *testing.T) {
	for _, mode := range []string{"readable", "json"} {
		t.Run(mode, func(t *testing.T) {
			secIsolate(t)
			w := newSecCmdWorld(t)
			dir := t.TempDir()
			logPath, sf := filepath.Join(dir, "events.jsonl"), filepath.Join(dir, "session.json")
			other := session.Stored{Target: "http://127.0.0.1:9", Profile: "simplejwt", User: "bob", Access: "old-a", Refresh: "old-r"}
			if err := session.SaveFile(sf, other); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(sf, 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{"fire", "--target", w.ts.URL, "--user", "alice", "--password-env", "TS_SEC_PW",
				"--log-file", logPath, "--session-file", sf, "-n", "4", "-c", "1"}
			if mode == "json" {
				args = append(args, "--json")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			out, errOut, err := run(ctx, args...)
			if err != nil {
				t.Fatalf("fire: %v\n%s\n%s", err, out, errOut)
			}
			if !strings.Contains(errOut, "not resuming") || !strings.Contains(errOut, "mode 0644") {
				t.Errorf("the world-readable session file was not refused with a reason:\n%s", errOut)
			}
			for _, want := range []string{"login", "401", "refresh-start", "refresh-failed", "refresh-ok", "retry", "parked", "logout", "replayed"} {
				if !strings.Contains(out, want) {
					t.Errorf("the run printed no %s event; the check did not cover it", want)
				}
			}
			tokens := w.tokens()
			if len(tokens) < 6 {
				t.Fatalf("the server issued %d tokens; the run did not happen", len(tokens))
			}
			secrets := append(tokens, secCmdPassword)
			logData, err := os.ReadFile(logPath)
			if err != nil {
				t.Fatal(err)
			}
			for what, text := range map[string]string{"stdout": out, "stderr": errOut, "--log-file": string(logData)} {
				if leaks := secCmdLeaks(text, secrets); len(leaks) > 0 {
					t.Errorf("%s carries raw secrets %v", what, leaks)
				}
			}
			sc := bufio.NewScanner(bytes.NewReader(logData))
			lines := 0
			for sc.Scan() {
				lines++
				if !json.Valid(sc.Bytes()) {
					t.Errorf("log line %d is not whole JSON: %.100q", lines, sc.Text())
				}
			}
			if lines < 20 || !bytes.HasSuffix(logData, []byte("\n")) {
				t.Errorf("log file has %d lines (ends with newline %v)", lines, bytes.HasSuffix(logData, []byte("\n")))
			}
			if m := secFileMode(t, logPath); m != 0o600 {
				t.Errorf("--log-file mode %04o, want 0600", m)
			}
			if m := secFileMode(t, sf); m != 0o600 {
				t.Errorf("--session-file mode %04o after the save, want 0600", m)
			}
			if st, err := session.LoadFile(sf); err != nil || st.User != "alice" || len(secCmdLeaks(st.Access, tokens)) == 0 {
				t.Errorf("the session file was not replaced by this session: %v", err)
			}
		})
	}
}

// TestSecurityRevealedLogFileIsPrivate: with --reveal-tokens the log file holds raw tokens, so
// it must end up 0600 whether fire creates it or appends to a file that was world-readable.
func TestSecurityRevealedLogFileIsPrivate(t *testing.T) {
	for _, pre := range []fs.FileMode{0, 0o644, 0o666} {
		name := "new file"
		if pre != 0 {
			name = "pre-existing " + pre.String()
		}
		t.Run(name, func(t *testing.T) {
			secIsolate(t)
			srv, err := demoserver.New(demoserver.Options{Users: map[string]string{"alice": secCmdPassword}})
			if err != nil {
				t.Fatal(err)
			}
			ts := httptest.NewServer(srv)
			defer ts.Close()
			logPath := filepath.Join(t.TempDir(), "revealed.jsonl")
			if pre != 0 {
				if err := os.WriteFile(logPath, []byte(`{"kind":"note","reason":"earlier run"}`+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(logPath, pre); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if out, errOut, err := run(ctx, "fire", "--target", ts.URL, "--user", "alice", "--password-env", "TS_SEC_PW",
				"--log-file", logPath, "--reveal-tokens", "-n", "1"); err != nil {
				t.Fatalf("fire: %v\n%s\n%s", err, out, errOut)
			}
			data, _ := os.ReadFile(logPath)
			if !bytes.Contains(data, []byte(`"access_token":"ey`)) {
				t.Fatalf("--reveal-tokens wrote no raw token; the file is not what this test is about:\n%s", data)
			}
			if m := secFileMode(t, logPath); m != 0o600 {
				t.Errorf("a --log-file holding raw tokens (--reveal-tokens) has mode %04o, want 0600", m)
			}
		})
	}
}

// ---- 2. no credential in argv ----

type secFlag struct {
	cmd  string
	flag *pflag.Flag
}

func secAllFlags(root *cobra.Command) []secFlag {
	var out []secFlag
	seen := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.InitDefaultHelpFlag()
		for _, set := range []*pflag.FlagSet{c.LocalFlags(), c.PersistentFlags(), c.InheritedFlags()} {
			set.VisitAll(func(f *pflag.Flag) {
				k := c.CommandPath() + " --" + f.Name
				if !seen[k] {
					seen[k] = true
					out = append(out, secFlag{c.CommandPath(), f})
				}
			})
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return out
}

// TestSecurityNoCredentialFlags: no flag of any command is named password, passwd, pass or the
// like, and none takes a password or secret as its value (a name ending in -env takes the name
// of a variable instead). The one documented exception is decode --secret, whose help warns and
// points to --secret-env.
func TestSecurityNoCredentialFlags(t *testing.T) {
	root := newRootCmd(io.Discard, io.Discard)
	flags := secAllFlags(root)
	if len(flags) < 40 {
		t.Fatalf("found only %d flags; the walk missed commands", len(flags))
	}
	forbiddenNames := map[string]bool{"password": true, "passwd": true, "pass": true, "pw": true, "pwd": true,
		"token": true, "access-token": true, "refresh-token": true, "client-secret": true, "api-key": true, "secret": true}
	credentialWords := []string{"password", "passwd", "secret", "credential"}
	// --flow's value is one of a fixed list of flow names, two of which contain the words.
	exception := func(f secFlag) bool {
		return f.cmd == "tokenscope decode" && f.flag.Name == "secret" || f.flag.Name == "flow"
	}
	byCmd := map[string][]string{}
	for _, f := range flags {
		if exception(f) {
			continue
		}
		name, usage := strings.ToLower(f.flag.Name), strings.ToLower(f.flag.Usage)
		takesValue := f.flag.Value.Type() != "bool"
		var why string
		switch {
		case forbiddenNames[name] || (f.flag.Shorthand == "p" && takesValue):
			why = "is named like a credential"
		case !takesValue || strings.HasSuffix(name, "-env"):
		case strings.Contains(name, "pass") || strings.Contains(name, "secret"):
			why = "takes a credential as its value"
		default:
			for _, w := range credentialWords {
				if strings.Contains(usage, w) {
					why = "takes a value its help describes as a " + w + ": " + f.flag.Usage
					break
				}
			}
		}
		if why != "" {
			byCmd[f.cmd] = append(byCmd[f.cmd], "--"+f.flag.Name+" "+why)
		}
	}
	for _, c := range []string{"tokenscope", "tokenscope fire", "tokenscope demo-server", "tokenscope decode", "tokenscope config", "tokenscope config show"} {
		t.Run(c, func(t *testing.T) {
			for _, v := range byCmd[c] {
				t.Errorf("%s %s (credentials in argv are visible to every user in the process list)", c, v)
			}
		})
	}
	for c, vs := range byCmd {
		switch c {
		case "tokenscope", "tokenscope fire", "tokenscope demo-server", "tokenscope decode", "tokenscope config", "tokenscope config show":
			continue
		}
		for _, v := range vs {
			t.Errorf("%s %s", c, v)
		}
	}

	// And a password flag is refused outright where a password is needed.
	for _, args := range [][]string{
		{"fire", "--password", "x"}, {"fire", "--pass", "x"}, {"--password", "x"}, {"demo-server", "--password", "x"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, _, err := run(ctx, args...)
		cancel()
		if err == nil || !strings.Contains(err.Error(), "unknown flag") {
			t.Errorf("%v: err %v, want an unknown flag", args, err)
		}
	}
}

// TestSecurityDecodeSecretFlagWarns: decode --secret, the documented exception, says in its
// help that argv is visible to others and points to --secret-env, which exists.
func TestSecurityDecodeSecretFlagWarns(t *testing.T) {
	root := newRootCmd(io.Discard, io.Discard)
	dec, _, err := root.Find([]string{"decode"})
	if err != nil || dec.Name() != "decode" {
		t.Fatalf("no decode command: %v", err)
	}
	secret := dec.Flags().Lookup("secret")
	if secret == nil {
		t.Fatal("decode has no --secret (update this test and DESIGN.md if it was removed)")
	}
	u := strings.ToLower(secret.Usage)
	if !strings.Contains(u, "visible") || !(strings.Contains(u, "process list") || strings.Contains(u, "history")) {
		t.Errorf("decode --secret help does not warn that argv is visible: %q", secret.Usage)
	}
	if !strings.Contains(secret.Usage, "--secret-env") {
		t.Errorf("decode --secret help does not point to --secret-env: %q", secret.Usage)
	}
	env := dec.Flags().Lookup("secret-env")
	if env == nil || env.Value.Type() != "string" {
		t.Fatal("decode has no --secret-env")
	}
	out, _, err := run(context.Background(), "decode", "--help")
	if err != nil || !strings.Contains(out, "--secret-env") || !strings.Contains(out, "process list") {
		t.Errorf("decode --help: %v\n%s", err, out)
	}
}

// ---- 8. the demo server stays on loopback unless told ----

func TestSecurityDemoServerLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "127.0.0.1:8000", "[::1]:0", "localhost:0", "127.0.0.2:9"} {
		if err := demoserver.CheckLoopback(addr); err != nil {
			t.Errorf("CheckLoopback(%q) = %v, want nil", addr, err)
		}
	}
	for _, addr := range []string{"0.0.0.0:0", "0.0.0.0:8000", ":8000", ":0", "[::]:0", "192.0.2.1:80", "10.0.0.1:0",
		"[2001:db8::1]:0", "example.com:80", "localhost.example.com:0", "127.0.0.1", "not an address"} {
		if err := demoserver.CheckLoopback(addr); err == nil {
			t.Errorf("CheckLoopback(%q) = nil, want a refusal", addr)
		}
	}

	// Start refuses before it listens: 192.0.2.1 (TEST-NET-1) is never a local address, so a
	// Start that tried to listen there would fail with a different message. Only once that is
	// known is 0.0.0.0 tried, so that this test never binds beyond loopback.
	refused := func(addr string) bool {
		srv, err := demoserver.Start(demoserver.Options{Addr: addr})
		if err == nil {
			_ = srv.Close()
			t.Errorf("Start(%q) listened", addr)
			return false
		}
		if !strings.Contains(err.Error(), "loopback") || !strings.Contains(err.Error(), "AllowRemote") {
			t.Errorf("Start(%q): %v, want a refusal naming loopback and AllowRemote", addr, err)
			return false
		}
		return true
	}
	if refused("192.0.2.1:0") {
		refused("0.0.0.0:0")
		refused(":0")
	}

	cli := func(addr string) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		out, _, err := run(ctx, "demo-server", "--addr", addr)
		if err == nil || ctx.Err() != nil {
			t.Errorf("demo-server --addr %s: err %v ctx %v, want a prompt refusal\n%s", addr, err, ctx.Err(), out)
			return false
		}
		if !strings.Contains(err.Error(), "--allow-remote") {
			t.Errorf("demo-server --addr %s: %v, want a message naming --allow-remote", addr, err)
			return false
		}
		if strings.Contains(out, "listening on") {
			t.Errorf("demo-server --addr %s printed a listening banner", addr)
		}
		return true
	}
	if cli("192.0.2.1:8000") {
		cli("0.0.0.0:8000")
	}
}

// TestPresetCannotSendTheTokenElsewhere: a profile file's preset naming another origin
// (http://127.0.0.1:PORT/collect) is sent to the session's target, its path kept; the other
// origin never sees a request, let alone the token or the profile's API key. A preset whose
// method is shell code is refused by name, exit 2, and nothing is sent.
func TestPresetCannotSendTheTokenElsewhere(t *testing.T) {
	var seen atomic.Int32
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen.Add(1) }))
	defer collector.Close()
	dir := t.TempDir()
	prof := filepath.Join(dir, "evil.toml")
	err := os.WriteFile(prof, []byte(`name = "evil"
base = "simplejwt"

[auth]
headers_env = { "X-Api-Key" = "TS_EVIL_KEY" }

[[presets]]
name = "me"
method = "GET"
path = "`+collector.URL+`/api/me"

[[presets]]
name = "shell"
method = "GET;A=TOUCH;touch /tmp/x;"
path = "/api/me"
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("TS_EVIL_KEY", "k-0123456789")
	_, stderr, code := executeCLI(t, "fire", "--profile", prof, "-n", "2", "me")
	if code != 0 || seen.Load() != 0 {
		t.Fatalf("exit %d, the other origin saw %d requests\n%s", code, seen.Load(), stderr)
	}
	_, stderr, code = executeCLI(t, "fire", "--profile", prof, "shell")
	if code != 2 || !strings.Contains(stderr, `preset "shell"`) || seen.Load() != 0 {
		t.Errorf("shell method: exit %d, %s", code, stderr)
	}
}
