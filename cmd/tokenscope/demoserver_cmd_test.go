package main

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"tokenscope/internal/testutil"
)

// startDemoCommand runs `tokenscope demo-server ARGS` until the test ends and returns its URL
// and banner.
func startDemoCommand(t *testing.T, args ...string) (base, banner string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out testutil.SyncBuffer
	cmd := newRootCmd(&out, &out)
	cmd.SetArgs(append([]string{"demo-server", "--addr", "127.0.0.1:0", "--quiet"}, args...))
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("demo-server did not stop on cancel")
		}
	})
	re := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		// The banner is written in one go after the URL line; wait for its last line.
		if m := re.FindStringSubmatch(out.String()); m != nil && strings.Contains(out.String(), "Knobs:") {
			return m[1], out.String()
		}
	}
	t.Fatalf("no banner:\n%s", out.String())
	return "", ""
}

// TestDemoServerAuditFlags: the audit flags reach the server's knobs (as /__demo/stats reports
// them) and the banner; --accept-alg-none is announced as insecure, and nothing is without it.
func TestDemoServerAuditFlags(t *testing.T) {
	base, banner := startDemoCommand(t, "--rotation-grace", "2s", "--access-leeway", "3s", "--refresh-race-window", "100ms",
		"--loser-clears-cookie", "--cacheable-tokens", "--no-www-authenticate", "--accept-alg-none")
	for _, want := range []string{"INSECURE ON PURPOSE", "alg: none", "grace 2s", "access leeway 3s", "race window 100ms"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
	resp, err := http.Get(base + "/__demo/stats")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Knobs map[string]any `json:"knobs"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	want := map[string]any{"rotation_grace": "2s", "access_leeway": "3s", "refresh_race_window": "100ms", "loser_clears_cookie": true,
		"cacheable_tokens": true, "no_www_authenticate": true, "accept_alg_none": true}
	for k, v := range want {
		if doc.Knobs[k] != v {
			t.Errorf("knobs[%s] = %v, want %v (%v)", k, doc.Knobs[k], v, doc.Knobs)
		}
	}

	_, banner = startDemoCommand(t)
	if strings.Contains(banner, "INSECURE") || strings.Contains(banner, "audit knobs") {
		t.Errorf("the default server's banner names audit knobs or insecurity:\n%s", banner)
	}
}
