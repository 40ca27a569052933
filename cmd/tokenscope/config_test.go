package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"tokenscope/demoserver"
	"tokenscope/session"
)

// resolveWith parses args into fresh target flags and resolves them.
func resolveWith(t *testing.T, args ...string) (*targetFlags, error) {
	t.Helper()
	var f targetFlags
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	f.register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return &f, f.resolve()
}

func writeConfig(t *testing.T, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

const stagingConfig = `
[targets.staging]
url = "http://127.0.0.1:9"
profile = "oauth2"
user = "file-user"
password_env = "TS_CFG_PW"
strategy = "reactive"
threshold = "7s"
`

func TestConfigPrecedence(t *testing.T) {
	p := writeConfig(t, stagingConfig, 0o644)
	t.Setenv("TS_CFG_PW", "pw")

	// The file alone.
	f, err := resolveWith(t, "--config", p, "--target", "staging")
	if err != nil {
		t.Fatal(err)
	}
	if f.target != "http://127.0.0.1:9" || f.profile != "oauth2" || f.user != "file-user" || f.strategy != "reactive" ||
		f.threshold != 7*time.Second || f.password != "pw" {
		t.Fatalf("from the file: %+v", f)
	}

	// Environment beats the file.
	t.Setenv("TOKENSCOPE_STRATEGY", "proactive")
	t.Setenv("TOKENSCOPE_USER", "env-user")
	f, err = resolveWith(t, "--config", p, "--target", "staging")
	if err != nil {
		t.Fatal(err)
	}
	if f.strategy != "proactive" || f.user != "env-user" || f.profile != "oauth2" {
		t.Fatalf("env over file: strategy %q user %q profile %q", f.strategy, f.user, f.profile)
	}

	// Flags beat both.
	f, err = resolveWith(t, "--config", p, "--target", "staging", "--strategy", "off", "--user", "flag-user")
	if err != nil {
		t.Fatal(err)
	}
	if f.strategy != "off" || f.user != "flag-user" {
		t.Fatalf("flag over env: strategy %q user %q", f.strategy, f.user)
	}

	// TOKENSCOPE_TARGET and TOKENSCOPE_CONFIG pick the target and the file.
	t.Setenv("TOKENSCOPE_CONFIG", p)
	t.Setenv("TOKENSCOPE_TARGET", "staging")
	if f, err = resolveWith(t); err != nil || f.target != "http://127.0.0.1:9" {
		t.Fatalf("from TOKENSCOPE_*: %v %q", err, f.target)
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir()) // no config file at the default path
	f, err := resolveWith(t)
	if err != nil {
		t.Fatal(err)
	}
	if f.target != "" || f.strategy != "auto" || f.profile != "simplejwt" {
		t.Errorf("defaults: target %q strategy %q profile %q", f.target, f.strategy, f.profile)
	}
	if _, err := resolveWith(t, "--config", filepath.Join(t.TempDir(), "missing.toml")); err == nil {
		t.Error("a missing --config file is not an error")
	}
}

func TestConfigValidationErrors(t *testing.T) {
	t.Setenv("TS_CFG_PW", "pw")
	cases := []struct {
		name, body string
		mode       os.FileMode
		args       []string
		want       []string // substrings of the error
	}{
		{"unknown profile", "[targets.a]\nurl = \"http://127.0.0.1:9\"\nprofile = \"graphql\"\nuser = \"u\"\n", 0o600, nil,
			[]string{"config.toml:3:", `target "a"`, "graphql"}},
		{"bad url", "\n[targets.a]\nurl = \"ftp://x\"\n", 0o600, nil, []string{"config.toml:3:", "not an http(s) URL"}},
		{"no url", "[targets.a]\nuser = \"u\"\n", 0o600, nil, []string{"config.toml:1:", "url is required"}},
		{"bad strategy", "[targets.a]\nurl = \"http://127.0.0.1:9\"\n\nstrategy = \"sometimes\"\n", 0o600, nil, []string{"config.toml:4:", "sometimes"}},
		{"bad threshold", "[targets.a]\nurl = \"http://127.0.0.1:9\"\nthreshold = \"soon\"\n", 0o600, nil, []string{"config.toml:3:", "soon"}},
		{"world-readable password", "[targets.a]\nurl = \"http://127.0.0.1:9\"\nuser = \"u\"\npassword = \"hunter2\"\n", 0o644, nil,
			[]string{"config.toml:4:", "readable by others", "chmod 600"}},
		{"unknown key", "[targets.a]\nurl = \"http://127.0.0.1:9\"\npasword = \"x\"\n", 0o600, nil, []string{"config.toml:3:", "unknown key", "pasword"}},
		{"syntax", "[targets.a]\nurl = \"http://127.0.0.1:9\n", 0o600, nil, []string{"config.toml:2:"}},
		{"missing credentials", "[targets.a]\nurl = \"http://127.0.0.1:9\"\nuser = \"u\"\n", 0o600, []string{"--target", "a"},
			[]string{`target "a"`, "config.toml", "no password"}},
		{"missing user", "[targets.a]\nurl = \"http://127.0.0.1:9\"\n", 0o600, []string{"--target", "a"}, []string{"no user"}},
		{"unset password env", "[targets.a]\nurl = \"http://127.0.0.1:9\"\nuser = \"u\"\npassword_env = \"TS_UNSET_PW\"\n", 0o600,
			[]string{"--target", "a"}, []string{"TS_UNSET_PW", "empty or unset"}},
		{"unknown target", "[targets.a]\nurl = \"http://127.0.0.1:9\"\n", 0o600, []string{"--target", "b"},
			[]string{`"b"`, "has: a"}},
		{"two password sources", "[targets.a]\nurl = \"http://127.0.0.1:9\"\npassword_env = \"X\"\npassword_prompt = true\n", 0o600, nil,
			[]string{"one of password_env"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeConfig(t, c.body, c.mode)
			_, err := resolveWith(t, append([]string{"--config", p}, c.args...)...)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	// The same plain password in a 0600 file is accepted.
	p := writeConfig(t, "[targets.a]\nurl = \"http://127.0.0.1:9\"\nuser = \"u\"\npassword = \"hunter2\"\n", 0o600)
	if f, err := resolveWith(t, "--config", p, "--target", "a"); err != nil || f.password != "hunter2" {
		t.Errorf("0600 file with a password: %v", err)
	}
}

func TestConfigCommands(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "config.toml")
	out, _, err := run(context.Background(), "config", "path", "--config", p)
	if err != nil || strings.TrimSpace(out) != p {
		t.Fatalf("path: %q %v", out, err)
	}
	out, _, err = run(context.Background(), "config", "init", "--config", p)
	if err != nil || !strings.Contains(out, "wrote "+p) {
		t.Fatalf("init: %q %v", out, err)
	}
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("init wrote %v mode %v", err, st.Mode())
	}
	if _, _, err := run(context.Background(), "config", "init", "--config", p); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("init over an existing file: %v", err)
	}
	out, _, err = run(context.Background(), "config", "show", "--config", p)
	if err != nil || !strings.Contains(out, "[targets.demo]") || !strings.Contains(out, "from $DEMO_PASSWORD") {
		t.Errorf("show: %q %v", out, err)
	}
	// The example is a working config: it parses, and its demo target resolves.
	t.Setenv("DEMO_PASSWORD", "demo")
	if _, err := resolveWith(t, "--config", p, "--target", "demo"); err != nil {
		t.Errorf("the example config does not resolve: %v", err)
	}
}

// TestConfigTargetEndToEnd: a demo server run separately, a config file naming it, and fire
// with --target NAME, as the README's "Use it on your API" section does.
func TestConfigTargetEndToEnd(t *testing.T) {
	srv, err := demoserver.Start(demoserver.Options{Users: map[string]string{"alice": "wonderland"}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, prof := range []string{"simplejwt", "bearer-json", "element-admin", "oauth2"} {
		body := "[targets.local]\nurl = \"" + srv.URL() + "\"\nprofile = \"" + prof + "\"\nuser = \"alice\"\npassword_env = \"TS_ALICE\"\n" +
			"[[targets.local.presets]]\nname = \"me\"\nmethod = \"GET\"\npath = \"" + map[bool]string{true: "/sys/user/info", false: "/api/me"}[prof == "element-admin"] + "\"\n"
		p := writeConfig(t, body, 0o600)
		t.Setenv("TS_ALICE", "wonderland")
		_, s, err := fireJSON(t, "--config", p, "--target", "local", "-n", "3")
		if err != nil || s.OK != 3 {
			t.Errorf("%s: %v %+v", prof, err, s)
		}
	}
}

func TestSessionFileResumes(t *testing.T) {
	srv, err := demoserver.Start(demoserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	t.Setenv("TS_DEMO_PW", "demo")
	sf := filepath.Join(t.TempDir(), "s.json")
	args := []string{"--target", srv.URL(), "--user", "demo", "--password-env", "TS_DEMO_PW", "--session-file", sf}
	if _, s, err := fireJSON(t, args...); err != nil || s.OK != 1 {
		t.Fatalf("first run: %v %+v", err, s)
	}
	st, err := os.Stat(sf)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("session file: %v %v", err, st)
	}
	saved, err := session.LoadFile(sf)
	if err != nil || saved.Access == "" || saved.Target != srv.URL() {
		t.Fatalf("saved: %+v %v", saved, err)
	}
	evs, s, err := fireJSON(t, args...)
	if err != nil || s.OK != 1 {
		t.Fatalf("second run: %v %+v", err, s)
	}
	if srv.Stats().Logins != 1 {
		t.Errorf("the second run logged in again (%d logins)", srv.Stats().Logins)
	}
	if k := kinds(evs); k["login"] != 1 || !strings.Contains(evs[0]["reason"].(string), "resumed from session file") {
		t.Errorf("second run did not resume: %v", evs[0])
	}

	// A corrupted file: a clear error, the file left as it was.
	if err := os.WriteFile(sf, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = run(context.Background(), append([]string{"fire"}, args...)...)
	if err == nil || !strings.Contains(err.Error(), "corrupt") || !strings.Contains(err.Error(), sf) {
		t.Errorf("corrupt file: %v", err)
	}
	if b, _ := os.ReadFile(sf); string(b) != "{not json" {
		t.Error("the corrupt file was changed")
	}
}

func TestLogFileHasNoRawTokens(t *testing.T) {
	dir := t.TempDir()
	logPath, sf := filepath.Join(dir, "events.jsonl"), filepath.Join(dir, "s.json")
	if _, s, err := fireJSON(t, "--access-ttl", "1s", "--wait-expiry", "-n", "5", "--log-file", logPath, "--session-file", sf); err != nil || s.OK != 5 {
		t.Fatalf("fire: %v %+v", err, s)
	}
	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(logPath)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("log file mode %v", st.Mode())
	}
	saved, _ := session.LoadFile(sf)
	for _, tok := range []string{saved.Access, saved.Refresh} {
		if tok == "" || bytes.Contains(data, []byte(tok)) {
			t.Fatalf("raw token in the log file (or no token saved)")
		}
	}
	if !bytes.Contains(data, []byte(`"kind":"refresh-ok"`)) || !bytes.Contains(data, []byte(`"token":"fp:`)) {
		t.Errorf("log lacks events or fingerprints:\n%s", data)
	}

	revealed := filepath.Join(dir, "revealed.jsonl")
	if _, _, err := fireJSON(t, "-n", "1", "--log-file", revealed, "--reveal-tokens", "--session-file", filepath.Join(dir, "s2.json")); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(revealed)
	saved, _ = session.LoadFile(filepath.Join(dir, "s2.json"))
	if !bytes.Contains(data, []byte(saved.Access)) {
		t.Error("--reveal-tokens did not write the raw tokens")
	}
}

func TestTLSFlags(t *testing.T) {
	srv, err := demoserver.New(demoserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv)          // 127.0.0.1, a certificate no system trusts
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	ts.StartTLS()
	defer ts.Close()
	t.Setenv("TS_DEMO_PW", "demo")
	base := []string{"--target", ts.URL, "--user", "demo", "--password-env", "TS_DEMO_PW"}
	if _, _, err := run(context.Background(), append([]string{"fire"}, base...)...); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted certificate accepted: %v", err)
	}
	if _, s, err := fireJSON(t, append(base, "--insecure")...); err != nil || s.OK != 1 {
		t.Errorf("--insecure: %v %+v", err, s)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	cert := ts.TLS.Certificates[0].Certificate[0]
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert}), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, s, err := fireJSON(t, append(base, "--ca-cert", ca)...); err != nil || s.OK != 1 {
		t.Errorf("--ca-cert: %v %+v", err, s)
	}
}
