package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"tokenscope/internal/testutil"
)

// theBinary is tokenscope built once per test process: every test that runs it as its own
// process (in tmux, as the demo server, for the identity-provider walks) runs the same build,
// instead of linking it again (seconds each) for each.
var theBinary struct {
	once      sync.Once
	dir, path string
	err       error
}

// buildBinary returns the tokenscope binary built from this package, building it on first use.
func buildBinary(t *testing.T) (string, error) {
	t.Helper()
	theBinary.once.Do(func() {
		dir, err := os.MkdirTemp("", "tokenscope-test-bin-")
		if err != nil {
			theBinary.err = err
			return
		}
		theBinary.dir, theBinary.path = dir, filepath.Join(dir, "tokenscope")
		if out, err := exec.Command("go", "build", "-o", theBinary.path, ".").CombinedOutput(); err != nil {
			theBinary.err = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	return theBinary.path, theBinary.err
}

// TestMain removes the binary the tests shared.
func TestMain(m *testing.M) {
	code := m.Run()
	if theBinary.dir != "" {
		_ = os.RemoveAll(theBinary.dir)
	}
	os.Exit(code)
}

// demoProcess is `tokenscope demo-server` run as its own process on a free loopback port.
type demoProcess struct{ url string }

func startDemoProcess(t *testing.T, args ...string) (string, demoProcess) {
	t.Helper()
	bin, err := buildBinary(t)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, append([]string{"demo-server", "--addr", addr, "--quiet"}, args...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return bin, demoProcess{url: "http://" + addr}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("demo-server did not listen on %s", addr)
	return "", demoProcess{}
}

func (d demoProcess) stats(t *testing.T) map[string]float64 {
	t.Helper()
	resp, err := http.Get(d.url + "/__demo/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct {
		Stats map[string]float64 `json:"stats"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v.Stats
}

// fireProcess runs `tokenscope fire --json` with args; onLine sees each stderr line (where the
// URL or code to log in with is printed) and may act on it in the background.
func fireProcess(t *testing.T, bin string, onLine func(line string), args ...string) (summary, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"fire", "--json"}, args...)...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	sc := bufio.NewScanner(errPipe)
	for sc.Scan() {
		stderr.WriteString(sc.Text() + "\n")
		onLine(sc.Text())
	}
	_, _ = io.Copy(io.Discard, errPipe)
	werr := cmd.Wait()
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var s summary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s); err != nil {
		t.Fatalf("fire: %v; last line %q; stderr:\n%s", werr, lines[len(lines)-1], stderr.String())
	}
	if werr != nil {
		t.Fatalf("fire: %v\nsummary %+v\nstderr:\n%s", werr, s, stderr.String())
	}
	return s, stdout.String()
}

var urlLine = regexp.MustCompile(`^https?://\S+$`)

// TestOIDCAuthCodeEndToEnd: fire logs in with the code flow against a demo server run as its
// own process, the test playing the browser from the URL fire prints alone on its line; then
// 100 requests at expiry share one refresh, and the refresh token is revoked at exit.
func TestOIDCAuthCodeEndToEnd(t *testing.T) {
	bin, demo := startDemoProcess(t, "--access-ttl", "2s", "--alg", "ES256")
	browserErr := make(chan error, 1)
	s, out := fireProcess(t, bin, func(line string) {
		if urlLine.MatchString(line) {
			go func() { browserErr <- testutil.NewBrowser().Authorize(line, "demo", "demo") }()
		}
	}, "--target", demo.url, "--issuer", demo.url, "--client-id", "tokenscope", "--no-browser",
		"--redirect-uri", "http://127.0.0.1:0/callback", "--wait-expiry", "-n", "100", "-c", "100", "--revoke-on-exit", "GET", "/api/me")
	if err := <-browserErr; err != nil {
		t.Fatal("browser:", err)
	}
	st := demo.stats(t)
	if s.OK != 100 || s.Refreshes != 1 || st["refresh_ok"] != 1 || st["reuse_detected"] != 0 || st["auth_codes_redeemed"] != 1 {
		t.Fatalf("summary %+v; server stats %v: want 100 ok and exactly one refresh", s, st)
	}
	if st["revocations"] != 1 || !strings.Contains(out, "revoked the refresh token") {
		t.Errorf("--revoke-on-exit: %v revocations at the server; output:\n%s", st["revocations"], lastLines(out, 3))
	}
}

// TestOIDCDeviceEndToEnd: the code fire prints is entered on the demo's device page; fire
// polls no faster than the interval; 100 requests at expiry share one refresh.
func TestOIDCDeviceEndToEnd(t *testing.T) {
	bin, demo := startDemoProcess(t, "--access-ttl", "2s", "--device-interval", "1s")
	code := regexp.MustCompile(`enter the code (\S+)|shows the code (\S+)`)
	browserErr := make(chan error, 1)
	var userCode string
	s, _ := fireProcess(t, bin, func(line string) {
		if m := code.FindStringSubmatch(line); m != nil {
			userCode = m[1] + m[2]
		}
		if urlLine.MatchString(line) && userCode != "" {
			u := demo.url + "/device" // the page where the code is typed, as a person on another device would
			go func() { browserErr <- testutil.NewBrowser().ApproveDevice(u, userCode, "demo", "demo") }()
		}
	}, "--target", demo.url, "--issuer", demo.url, "--client-id", "tokenscope", "--flow", "device",
		"--wait-expiry", "-n", "100", "-c", "100", "GET", "/api/me")
	if err := <-browserErr; err != nil {
		t.Fatal("browser:", err)
	}
	st := demo.stats(t)
	if s.OK != 100 || s.Refreshes != 1 || st["refresh_ok"] != 1 || st["reuse_detected"] != 0 {
		t.Fatalf("summary %+v; server stats %v: want 100 ok and exactly one refresh", s, st)
	}
	if st["device_slow_down"] != 0 {
		t.Errorf("fire polled too fast: %v slow_down answers", st["device_slow_down"])
	}
}

// TestOIDCClientCredentialsEndToEnd: no user, no refresh token; 50 requests at expiry cause
// exactly one new token.
func TestOIDCClientCredentialsEndToEnd(t *testing.T) {
	bin, demo := startDemoProcess(t, "--access-ttl", "2s")
	t.Setenv("CC_SECRET", "demo-secret")
	s, _ := fireProcess(t, bin, func(string) {}, "--target", demo.url, "--issuer", demo.url,
		"--flow", "client-credentials", "--client-id", "tokenscope-cc", "--client-secret-env", "CC_SECRET",
		"--wait-expiry", "-n", "50", "-c", "50", "GET", "/api/me")
	st := demo.stats(t)
	if s.OK != 50 || st["client_credentials_tokens"] != 2 || st["refresh_ok"] != 0 {
		t.Fatalf("summary %+v; server stats %v: want 50 ok and exactly 2 tokens (login + one at expiry)", s, st)
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}

// TestOIDCSessionFileResumes: a second run resumes the provider's session from the file (no
// new token fetched), and the file never holds the client secret.
func TestOIDCSessionFileResumes(t *testing.T) {
	bin, demo := startDemoProcess(t)
	t.Setenv("CC_SECRET", "demo-secret")
	file := filepath.Join(t.TempDir(), "s.json")
	args := []string{"--target", demo.url, "--issuer", demo.url, "--flow", "client-credentials", "--client-id", "tokenscope-cc",
		"--client-secret-env", "CC_SECRET", "--session-file", file, "-n", "3", "GET", "/api/me"}
	fireProcess(t, bin, func(string) {}, args...)
	s, out := fireProcess(t, bin, func(string) {}, args...)
	st := demo.stats(t)
	if s.OK != 3 || st["client_credentials_tokens"] != 1 || !strings.Contains(out, "resumed from session file") {
		t.Fatalf("second run: summary %+v, %v tokens fetched; output:\n%s", s, st["client_credentials_tokens"], out)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "demo-secret") || !strings.Contains(string(b), `"flow": "client-credentials"`) {
		t.Errorf("session file:\n%s", b)
	}
}

// TestOIDCDPoPEndToEnd: --dpop against a provider that demands nonces: the token is bound
// and every request succeeds.
func TestOIDCDPoPEndToEnd(t *testing.T) {
	bin, demo := startDemoProcess(t, "--dpop-nonce", "--access-ttl", "2s")
	t.Setenv("CC_SECRET", "demo-secret")
	s, _ := fireProcess(t, bin, func(string) {}, "--target", demo.url, "--issuer", demo.url, "--flow", "client-credentials",
		"--client-id", "tokenscope-cc", "--client-secret-env", "CC_SECRET", "--dpop", "--wait-expiry", "-n", "20", "-c", "20", "GET", "/api/me")
	st := demo.stats(t)
	if s.OK != 20 || st["client_credentials_tokens"] != 2 || st["dpop_proofs_ok"] < 22 || st["dpop_proofs_rejected"] != 0 {
		t.Fatalf("summary %+v; stats %v", s, st)
	}
}
