package tui

// What a request carried and which token it used, as the engine's result says: the copied curl
// (y) is the attacher's record, and the history rows take their generation from the result.

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest"

	"tokenscope/apiclient"
	"tokenscope/apiclient/oidc"
	"tokenscope/apiclient/profile"
	"tokenscope/demoserver"
	"tokenscope/session"
)

// shellArgs runs a copied curl in bash with curl a function that prints its arguments, one per
// line, in dir, with env added.
func shellArgs(t *testing.T, copied, dir string, env ...string) []string {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	cmd := exec.Command(bash, "-c", "curl() { for a in \"$@\"; do printf '%s\\n' \"$a\"; done; }\n"+copied)
	cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	return strings.Split(string(out), "\n")
}

// TestCopiedCurlCarriesTheProfileHeaders: a profile with a fixed header and a headers_env API
// key (Supabase's apikey): the copied curl carries both, masked as the key's own environment
// variable, whole once revealed. Before the attacher's record the copy had neither.
func TestCopiedCurlCarriesTheProfileHeaders(t *testing.T) {
	const key = "sb-anon-key-for-the-copied-curl-0123"
	t.Setenv("TS_CURL_APIKEY", key)
	srv, err := demoserver.New(demoserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	p, _ := profile.Builtin("simplejwt")
	p.Auth.Headers = map[string]string{"X-Client-Info": "tokenscope/test"}
	p.Auth.HeadersEnv = map[string]string{"apikey": "TS_CURL_APIKEY"}
	e, err := apiclient.New(apiclient.Config{BaseURL: ts.URL, Profile: p, Username: "demo", Password: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	if _, err := e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	var copied []string
	m := New(Options{Driver: Drive(e, nil), Tick: 10 * time.Millisecond, NoAutoLogin: true,
		Clipboard: func(s string) error { copied = append(copied, s); return nil }})
	t.Cleanup(m.Close)
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	upd(t, m, press("y"))
	upd(t, m, press("v"))
	upd(t, m, press("y"))
	if len(copied) != 2 {
		t.Fatalf("copies: %q", copied)
	}
	if strings.Contains(copied[0], key) || !strings.Contains(copied[0], `'apikey: '"$TS_CURL_APIKEY"`) {
		t.Errorf("masked copy: %s", copied[0])
	}
	raw := e.Snapshot().Access.Raw
	for i, want := range [][]string{
		{"apikey: key-from-env", "X-Client-Info: tokenscope/test", "Authorization: Bearer token-from-env"},
		{"apikey: " + key, "X-Client-Info: tokenscope/test", "Authorization: Bearer " + raw},
	} {
		lines := shellArgs(t, copied[i], t.TempDir(), "TOKEN=token-from-env", "TS_CURL_APIKEY=key-from-env")
		for _, w := range want {
			if !slices.Contains(lines, w) {
				t.Errorf("copy %d: curl got\n%s\nwant a line %q", i, strings.Join(lines, "\n"), w)
			}
		}
	}
}

// TestCopiedCurlQuotesTheMethod: a method read from a file (a Postman collection's
// "GET;touch …") is one quoted argument of the copied curl, never shell code.
func TestCopiedCurlQuotesTheMethod(t *testing.T) {
	f := sized(t, apiclient.Config{}, false)
	method := "GET;touch pwned;echo"
	f.m.reqs.list[0].Method = method
	upd(t, f.m, press("y"))
	if len(f.copied) != 1 {
		t.Fatalf("copies: %q", f.copied)
	}
	dir := t.TempDir()
	lines := shellArgs(t, f.copied[0], dir, "TOKEN=t")
	if i := slices.Index(lines, "-X"); i < 0 || i+1 >= len(lines) || lines[i+1] != method {
		t.Errorf("curl got\n%s\nwant -X then %q", strings.Join(lines, "\n"), method)
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Error("the copied curl ran the method as a command")
	}
}

// TestCopiedCurlDPoPAnswers: with a DPoP-bound token, the revealed copy carries
// Authorization: DPoP and a fresh proof, and curl itself, run as pasted, gets a 200 from the
// demo server, which checks the proof; the masked copy names $TOKEN and $DPOP_PROOF. Before
// the attacher's record the copy sent the token as Bearer, without a proof.
func TestCopiedCurlDPoPAnswers(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	srv, err := demoserver.New(demoserver.Options{Alg: demoserver.AlgES256})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	prof, _ := profile.Builtin("oauth2")
	e, err := apiclient.New(apiclient.Config{BaseURL: ts.URL, Profile: prof, OIDC: &oidc.Config{
		Issuer: ts.URL, Flow: oidc.FlowClientCredentials, ClientID: "tokenscope-cc", ClientSecret: "demo-secret", DPoP: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	var copied []string
	m := New(Options{Driver: Drive(e, nil), Tick: 10 * time.Millisecond, Requests: []profile.Request{{Method: "GET", Path: "/api/me"}},
		Clipboard: func(s string) error { copied = append(copied, s); return nil }})
	t.Cleanup(m.Close)
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	run(t, m, m.loginCmd(e))
	upd(t, m, press("y"))
	upd(t, m, press("v"))
	upd(t, m, press("y"))
	if len(copied) != 2 {
		t.Fatalf("copies: %q", copied)
	}
	for _, want := range []string{`'Authorization: DPoP '"$TOKEN"`, `'DPoP: '"$DPOP_PROOF"`} {
		if !strings.Contains(copied[0], want) {
			t.Errorf("masked copy lacks %s: %s", want, copied[0])
		}
	}
	cmd := exec.Command("bash", "-c", "curl() { "+curl+" -o /dev/null -w '%{http_code}' \"$@\"; }\n"+copied[1])
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "200" {
		t.Errorf("the revealed copy, run: %v %q", err, out)
	}
}

// historyRow is the history's first row as drawn.
func historyRow(m *Model) string {
	lines := m.reqs.historyLines(10)
	if len(lines) < 3 {
		return ""
	}
	return ansi.Strip(lines[2])
}

// runUntil runs the model as a program, sends keys after waiting for each text, and returns the
// final model.
func runUntil(t *testing.T, f *fixture, steps ...[2]string) *Model {
	t.Helper()
	tm := teatest.NewTestModel(t, f.m, teatest.WithInitialTermSize(120, 40))
	for _, st := range steps {
		if st[0] != "" {
			tm.Send(press(st[0]))
		}
		teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(st[1])) },
			teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
	}
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	return tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(*Model)
}

// TestHistoryReplayedRowTurns200: a request parked while the session was dead shows "parked"
// in the history; after l logs in and replays it, its row shows the replay's 200 and the
// generation it carried, not a red "parked".
func TestHistoryReplayedRowTurns200(t *testing.T) {
	f := newFixture(t, "simplejwt", apiclient.Config{}, "dark")
	f.srv.RevokeAllFamilies()
	f.clock.Advance(31 * time.Second)
	m := runUntil(t, f, [2]string{"tab", "[requests]"}, [2]string{"enter", "parked gen –"},
		[2]string{"l", "200 gen #1"})
	row := historyRow(m)
	shown := m.answers.newest(10)
	if !strings.HasPrefix(row, "200 gen #1 ") || len(shown) != 1 || shown[0].res.Outcome != apiclient.OK {
		t.Errorf("history row %q (%d rows), want the replay's 200 gen #1", row, len(shown))
	}
	if r, ok := m.answers.get(shown[0].res.ID); !ok || !r.Replayed || r.Status != 200 || r.Generation() != 1 {
		t.Errorf("the detail's answer for the request: %+v", r)
	}
	if s := f.e.Snapshot(); s.State != session.StateActive || s.Parked != 0 {
		t.Errorf("after l: %v, %d parked", s.State, s.Parked)
	}
}

// TestHistoryRetryShowsItsGeneration: a request rejected with 401 and retried after a
// refresh shows the generation the retry carried, from the result, with no log to read.
func TestHistoryRetryShowsItsGeneration(t *testing.T) {
	f := newFixture(t, "simplejwt", apiclient.Config{Strategy: apiclient.Reactive}, "dark")
	f.clock.Advance(31 * time.Second)
	m := runUntil(t, f, [2]string{"tab", "[requests]"}, [2]string{"enter", "200 gen #2"})
	if row := historyRow(m); !strings.HasPrefix(row, "200 gen #2 ") || !strings.Contains(row, " 2× ") {
		t.Errorf("history row %q, want 200 gen #2 after 2 attempts", row)
	}
	// The model alone, without the event stream: the row needs no log.
	f2 := sized(t, apiclient.Config{Strategy: apiclient.Reactive}, false)
	f2.clock.Advance(31 * time.Second)
	upd(t, f2.m, press("enter"))
	if row := historyRow(f2.m); !strings.HasPrefix(row, "200 gen #2 ") {
		t.Errorf("without the log, history row %q, want 200 gen #2", row)
	}
}
