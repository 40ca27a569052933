package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"tokenscope/demoserver"
	"tokenscope/internal/testutil"
)

const harFixture = "../../apiclient/observe/testdata/stampede.har"

func TestObserveCommandRefuses(t *testing.T) {
	for _, args := range [][]string{
		{"observe", "--listen", "0.0.0.0:9000", "--upstream", "http://127.0.0.1:1"},
		{"observe", "--listen", ":9000", "--upstream", "http://127.0.0.1:1"},
		{"observe"},
		{"observe", "--har", harFixture, "--upstream", "http://127.0.0.1:1"},
		{"observe", "--upstream", "ftp://x"},
		{"observe", "--upstream", "http://127.0.0.1:1", "--retry-window", "0s"},
		{"observe", "--upstream", "http://127.0.0.1:1", "--profile", "nope"},
		{"observe", "--upstream", "http://127.0.0.1:1", "--log-size", "0"},
		{"observe", "--upstream", "http://127.0.0.1:1", "stray"},
		{"observe", "--json", "--", "true"},
		{"observe", "--duration", "1s", "--", "true"},
		{"observe", "--upstream", "http://127.0.0.1:1", "--issuer", "https://idp.example"},
		{"observe", "--forward", "--fail-on", "stampede,nope"},
		{"observe", "--forward", "--scenario", "/nonexistent/scenario"},
		{"observe", "--har", harFixture, "--forward"},
		{"observe", "--forward", "--allow-remote", "--listen", "0.0.0.0:0"},
	} {
		_, _, err := run(context.Background(), args...)
		if err == nil || exitCode(err) != 2 {
			t.Errorf("%v: %v (status %d)", args, err, exitCode(err))
		}
	}
}

func TestObserveCommandHAR(t *testing.T) {
	out, _, err := run(context.Background(), "observe", "--har", harFixture, "--json")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var s struct {
		Requests, LostAfter401 int
		RefreshTokenReused     int            `json:"refresh_token_reused"`
		Lost                   int            `json:"lost_after_401"`
		Findings               map[string]int `json:"findings"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s); err != nil {
		t.Fatalf("summary %q: %v", lines[len(lines)-1], err)
	}
	if s.Requests != 8 || s.Lost != 1 || s.RefreshTokenReused != 1 || s.Findings["stampede"] != 1 {
		t.Errorf("summary %+v", s)
	}
	findings := 0
	for _, l := range lines[:len(lines)-1] {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		if ev["kind"] == "finding" && ev["rule"] != "" {
			findings++
		}
	}
	if findings != 3 {
		t.Errorf("%d finding events", findings)
	}
	text, _, err := run(context.Background(), "observe", "--har", harFixture)
	if err != nil || !strings.Contains(text, "finding        stampede:") || !strings.Contains(text, "8 requests · 2 answered 401: 1 retried, 1 lost") {
		t.Errorf("text output %v:\n%s", err, text)
	}
}

// The live proxy end to end: a login and a request through it, a fault typed on stdin, a
// hostile path, and the summary when the context ends (as on SIGINT).
func TestObserveCommandLive(t *testing.T) {
	demo, err := demoserver.Start(demoserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer demo.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errb testutil.SyncBuffer
	stdinR, stdinW := io.Pipe()
	defer stdinW.Close()
	root := newRootCmd(&out, &errb)
	root.SetIn(stdinR)
	root.SetArgs([]string{"observe", "--listen", "127.0.0.1:0", "--upstream", demo.URL(), "--json", "--faults", "--retry-window", "200ms"})
	done := make(chan error, 1)
	runCtx, stop := context.WithCancel(ctx)
	go func() { done <- root.ExecuteContext(runCtx) }()
	base := waitForListen(t, &errb)

	resp, err := http.Post(base+"/api/token/", "application/json", strings.NewReader(`{"username":"demo","password":"demo"}`))
	if err != nil {
		t.Fatal(err)
	}
	var pair map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&pair)
	resp.Body.Close()
	if _, err := io.WriteString(stdinW, "f\n"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(out.String(), `"fault: 503 for the next refresh call"`) })
	resp, err = http.Post(base+"/api/token/refresh/", "application/json", strings.NewReader(`{"refresh":"`+pair["refresh"]+`"}`))
	if err != nil || resp.StatusCode != 503 {
		t.Fatalf("refresh: %v %v", resp, err)
	}
	resp.Body.Close()
	// c on stdin clears what is pending; it used to crash the proxy (sync: unlock of unlocked
	// mutex), and the run with it.
	if _, err := io.WriteString(stdinW, "f\nc\n"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(out.String(), `"fault: cleared"`) })
	req, _ := http.NewRequest("GET", base+"/api/%1b%5b2J%e2%80%ae", nil)
	req.Header.Set("Authorization", "Bearer "+pair["access"])
	if resp, err = http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if strings.ContainsAny(got, "\x1b\u202e") {
		t.Errorf("a control character reached stdout: %q", got)
	}
	if strings.Contains(got, pair["access"]) || strings.Contains(got, pair["refresh"]) {
		t.Error("a raw token reached stdout")
	}
	lines := strings.Split(strings.TrimSpace(got), "\n")
	var s map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s); err != nil {
		t.Fatalf("summary %q", lines[len(lines)-1])
	}
	if s["requests"] != 3.0 || s["refresh_calls"] != 1.0 || s["logins"] != 1.0 {
		t.Errorf("summary %v", s)
	}
	if f, _ := s["findings"].(map[string]any); f["refresh-without-need"] != 1.0 {
		t.Errorf("findings %v", s["findings"])
	}
}

var listenRE = regexp.MustCompile(`http://127\.0\.0\.1:\d+`)

func waitForListen(t *testing.T, errb *testutil.SyncBuffer) string {
	t.Helper()
	var base string
	waitFor(t, func() bool { base = listenRE.FindString(errb.String()); return base != "" })
	return base
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("timed out waiting")
}

// --duration ends a run by itself, with the summary.
func TestObserveCommandDuration(t *testing.T) {
	demo, err := demoserver.Start(demoserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer demo.Close()
	start := time.Now()
	out, errOut, err := run(context.Background(), "observe", "--listen", "127.0.0.1:0", "--upstream", demo.URL(), "--duration", "300ms")
	if err != nil || time.Since(start) > 5*time.Second {
		t.Fatalf("%v after %s", err, time.Since(start))
	}
	if !strings.Contains(out, "0 requests · 0 answered 401") || !strings.Contains(errOut, "point your app at http://127.0.0.1:") {
		t.Errorf("stdout %q stderr %q", out, errOut)
	}
}
