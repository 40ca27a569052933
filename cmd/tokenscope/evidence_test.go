package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tokenscope/session"
)

// TestHARAndLogBodies: fire --har writes the session's exchanges as HAR 1.2 (0600), and
// --log-bodies adds them to the JSON-lines log; neither shows a token, a password or the
// refresh token, while the answers' other fields stay readable.
func TestHARAndLogBodies(t *testing.T) {
	dir := t.TempDir()
	har, log, sess := filepath.Join(dir, "s.har"), filepath.Join(dir, "s.jsonl"), filepath.Join(dir, "s.json")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, stderr, err := run(ctx, "fire", "--access-ttl", "2s", "--wait-expiry", "-n", "3", "--har", har,
		"--log-file", log, "--log-bodies", "--session-file", sess, "GET", "/api/me"); err != nil {
		t.Fatalf("fire: %v\n%s", err, stderr)
	}
	st, err := session.LoadFile(sess)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{har, log} {
		info, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s is %v, want 0600", f, info.Mode().Perm())
		}
		b, _ := os.ReadFile(f)
		for _, secret := range []string{st.Access, st.Refresh, `"password":"demo"`} {
			if strings.Contains(string(b), secret) {
				t.Errorf("%s shows a secret (%.20s…)", filepath.Base(f), secret)
			}
		}
	}
	var doc struct {
		Log struct {
			Entries []struct {
				Request struct {
					Method, URL string
				} `json:"request"`
				Response struct {
					Status  int
					Content struct{ Text string } `json:"content"`
				} `json:"response"`
			} `json:"entries"`
		} `json:"log"`
	}
	b, _ := os.ReadFile(har)
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range doc.Log.Entries {
		paths = append(paths, e.Request.Method+" "+e.Request.URL[strings.LastIndex(e.Request.URL, "/api/"):])
	}
	if got := strings.Join(paths, ", "); got != "POST /api/token/, POST /api/token/refresh/, GET /api/me, GET /api/me, GET /api/me" {
		t.Errorf("HAR entries: %s", got)
	}
	if body := doc.Log.Entries[2].Response.Content.Text; !strings.Contains(body, `"name":"Demo User"`) {
		t.Errorf("an answer's body: %q", body)
	}
	lb, _ := os.ReadFile(log)
	if n := strings.Count(string(lb), `"kind":"exchange"`); n != 5 {
		t.Errorf("%d exchange lines in the log, want 5", n)
	}
	// The API calls carried the current access token: named by its fingerprint, not shown, and
	// by the generation the engine's record of each attempt gives (#2, after the refresh).
	if want := `"tokens":{"sent":[{"kind":"access","fp":"` + session.Fingerprint(st.Access) + `"}],"generation":2}`; strings.Count(string(lb), want) != 3 {
		t.Errorf("the log does not name the access token the 3 calls carried (%s)", want)
	}
}

// TestProcessEnvValuesMasked: a .http file's {{$processEnv NAME}} values are secrets of the
// session: the events printed and the --log-file show them masked, and so do --har and
// --log-bodies, wherever the request put them (its path, a header).
func TestProcessEnvValuesMasked(t *testing.T) {
	const secret = "env-api-key-4f2a9c81"
	t.Setenv("TS_PROBE_SECRET", secret)
	dir := t.TempDir()
	file, log, har := filepath.Join(dir, "c.http"), filepath.Join(dir, "s.jsonl"), filepath.Join(dir, "s.har")
	http := "### probe\nGET /api/me?probe={{$processEnv TS_PROBE_SECRET}}\nX-Api-Key: {{$processEnv TS_PROBE_SECRET}}\n"
	if err := os.WriteFile(file, []byte(http), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, stderr, err := run(ctx, "fire", "--requests", file, "-n", "2", "--json", "--log-file", log, "--log-bodies", "--har", har, "probe")
	if err != nil {
		t.Fatalf("fire: %v\n%s", err, stderr)
	}
	if !strings.Contains(out, "/api/me") {
		t.Fatalf("the output does not show the request: the test tests nothing\n%s", out)
	}
	lb, _ := os.ReadFile(log)
	hb, _ := os.ReadFile(har)
	for name, text := range map[string]string{"the output": out + stderr, "--log-file": string(lb), "--har": string(hb)} {
		if strings.Contains(text, secret) {
			t.Errorf("%s shows the $processEnv value", name)
		}
		if !strings.Contains(text, "probe=[redacted]") {
			t.Errorf("%s does not show the value masked", name)
		}
	}
}

// TestEvidenceFilesRefuseAnotherUsersFile: --har and --log-file refuse an existing file of
// another user, before the session starts, and leave it as it was (the HAR once went into a
// 0666 file of another user, the chmod's error ignored). Root (CI) gives the file to nobody;
// another user's file elsewhere is root's /etc/passwd, which open refuses first.
func TestEvidenceFilesRefuseAnotherUsersFile(t *testing.T) {
	theirs := "/etc/passwd"
	if os.Geteuid() == 0 {
		theirs = filepath.Join(t.TempDir(), "theirs")
		if err := os.WriteFile(theirs, []byte("theirs"), 0o666); err != nil {
			t.Fatal(err)
		}
		_ = os.Chmod(theirs, 0o666)
		if err := os.Chown(theirs, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := os.ReadFile(theirs)
	for _, flag := range [][]string{{"--har", theirs}, {"--log-file", theirs}} {
		_, _, err := run(context.Background(), append([]string{"fire", "-n", "1"}, append(flag, "GET", "/api/me")...)...)
		if err == nil || !strings.Contains(err.Error(), flag[0]) {
			t.Errorf("%s %s: err = %v", flag[0], theirs, err)
		}
		if os.Geteuid() == 0 && !strings.Contains(err.Error(), "owned by another user") {
			t.Errorf("%s: err = %v", flag[0], err)
		}
	}
	if after, _ := os.ReadFile(theirs); string(after) != string(before) {
		t.Errorf("the file changed: %q", after)
	}
}
