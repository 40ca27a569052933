package main

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"tokenscope/internal/testutil"
)

// run executes the CLI in-process and returns its output and error.
func run(ctx context.Context, args ...string) (string, string, error) {
	var out, errb testutil.SyncBuffer
	cmd := newRootCmd(&out, &errb)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	return out.String(), errb.String(), err
}

// TestVersionLine: --version names the commit and its date from the build's VCS stamp, and says
// "commit unknown" for a build without one (-buildvcs=false), not "(devel)" alone.
func TestVersionLine(t *testing.T) {
	stamp := []debug.BuildSetting{{Key: "vcs.revision", Value: "0f40209c8e04487a0f5b4aea7ef8e6b2628d1e84"},
		{Key: "vcs.time", Value: "2026-12-06T08:25:04Z"}, {Key: "vcs.modified", Value: "true"}}
	if got := vcsStamp(stamp); got != "commit 0f40209c8e04 of 2026-12-06T08:25:04Z, modified" {
		t.Errorf("stamped: %q", got)
	}
	if got := vcsStamp(nil); got != "commit unknown" {
		t.Errorf("unstamped: %q", got)
	}
	out, _, _ := run(context.Background(), "--version")
	if !strings.Contains(out, "commit ") || strings.Contains(out, "(devel)") {
		t.Errorf("--version: %q", out)
	}
}

func TestVersionAndHelp(t *testing.T) {
	out, _, err := run(context.Background(), "--version")
	if err != nil || !strings.HasPrefix(out, "tokenscope ") {
		t.Errorf("--version: %q %v", out, err)
	}
	out, _, err = run(context.Background(), "--help")
	if err != nil || !strings.Contains(out, "demo-server") {
		t.Errorf("--help does not list demo-server: %q %v", out, err)
	}
	out, _, err = run(context.Background(), "demo-server", "--help")
	if err != nil || !strings.Contains(out, "--access-ttl") || !strings.Contains(out, "Examples:") {
		t.Errorf("demo-server --help: %q %v", out, err)
	}
}

func TestDemoServerCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out testutil.SyncBuffer
	cmd := newRootCmd(&out, &out)
	t.Setenv("TS_TEST_DEMO_PW", "pw")
	cmd.SetArgs([]string{"demo-server", "--addr", "127.0.0.1:0", "--access-ttl", "5s", "--no-rotation", "--demo-user", "alice", "--demo-password-env", "TS_TEST_DEMO_PW"})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	re := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	var base string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
			break
		}
	}
	if base == "" {
		t.Fatalf("no URL printed:\n%s", out.String())
	}
	banner := out.String()
	for _, want := range []string{"alice / (the password from the environment)", "access TTL 5s", "rotation off", "simplejwt", "bearer-json", "element-admin", "oauth2", "curl -s " + base + "/oauth/token",
		"confidential client (client credentials): tokenscope-cc / demo-secret"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
	resp, err := http.Post(base+"/api/token/", "application/json", strings.NewReader(`{"username":"alice","password":"pw"}`))
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 200 || body["access"] == "" {
		t.Fatalf("login through the command's server: %d %v", resp.StatusCode, body)
	}
	for deadline := time.Now().Add(2 * time.Second); !strings.Contains(out.String(), "POST /api/token/") && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "POST /api/token/") {
		t.Errorf("request not logged:\n%s", out.String())
	}
	if strings.Contains(out.String(), body["access"]) {
		t.Error("the request log printed a raw token")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("demo-server ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("demo-server did not stop on cancel")
	}
}

func TestDemoServerRejectsBadFlags(t *testing.T) {
	cases := map[string][]string{
		"non-loopback":   {"demo-server", "--addr", "0.0.0.0:0"},
		"user:password":  {"demo-server", "--addr", "127.0.0.1:0", "--demo-user", "alice:pw"},
		"unset password": {"demo-server", "--addr", "127.0.0.1:0", "--demo-password-env", "TS_TEST_UNSET_DEMO_PW"},
		"bad alg":        {"demo-server", "--addr", "127.0.0.1:0", "--alg", "none"},
		"unset secret":   {"demo-server", "--addr", "127.0.0.1:0", "--secret-env", "TOKENSCOPE_TEST_UNSET_SECRET"},
		"negative ttl":   {"demo-server", "--addr", "127.0.0.1:0", "--access-ttl", "-1s"},
		"unknown flag":   {"demo-server", "--frobnicate"},
		"stray argument": {"demo-server", "extra"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			if _, _, err := run(ctx, args...); err == nil || ctx.Err() != nil {
				t.Errorf("%v: err=%v ctx=%v, want a prompt error", args, err, ctx.Err())
			}
		})
	}
}

// TestHelpGroupsFlags: --help lists a command's own flags first, then the target flags in
// groups, in one order; the demo server's knobs are in their own group, not among a real API's
// flags; request does not list the flags it has no use for.
func TestHelpGroupsFlags(t *testing.T) {
	out, _, err := run(context.Background(), "--help")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) int {
		i := strings.Index(out, s)
		if i < 0 {
			t.Fatalf("--help lacks %q:\n%s", s, out)
		}
		return i
	}
	order := []int{at("\nFlags:\n"), at("\n" + groupTarget + ":\n"), at("\n" + groupIDP + ":\n"), at("\n" + groupEngine + ":\n"),
		at("\n" + groupDemo + ":\n"), at("\n" + groupOutput + ":\n")}
	for i := 1; i < len(order); i++ {
		if order[i] < order[i-1] {
			t.Errorf("groups out of order: %v", order)
		}
	}
	if demo, target := at("--fail-refresh"), at("--password-env"); demo < order[4] || target > order[2] {
		t.Errorf("--fail-refresh at %d (demo group at %d), --password-env at %d", demo, order[4], target)
	}
	if theme := at("--theme"); theme > order[1] {
		t.Error("the TUI's own --theme is not among its own flags")
	}
	req, _, _ := run(context.Background(), "request", "--help")
	if strings.Contains(req, "--no-single-flight") || !strings.Contains(req, "--session-file") {
		t.Errorf("request --help:\n%s", req)
	}
}
