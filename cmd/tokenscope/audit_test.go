package main

import (
	"context"
	"encoding/json"
	"github.com/spf13/cobra"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"tokenscope/demoserver"
	"tokenscope/internal/testutil"
)

// auditCard is the JSON contract of `audit --json`.
type auditCard struct {
	Target     string `json:"target"`
	Profile    string `json:"profile"`
	LoginsUsed int    `json:"logins_used"`
	Checks     []struct {
		ID        string          `json:"id"`
		Status    string          `json:"status"`
		Value     json.RawMessage `json:"value"`
		Summary   string          `json:"summary"`
		Reference string          `json:"reference"`
	} `json:"checks"`
}

func lastJSONCard(t *testing.T, stdout string) auditCard {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	var c auditCard
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &c); err != nil {
		t.Fatalf("the last line of stdout is not the card: %v\n%s", err, stdout)
	}
	return c
}

func (c auditCard) status(id string) string {
	for _, k := range c.Checks {
		if k.ID == id {
			return k.Status
		}
	}
	return "absent"
}

// TestAuditDemoDefaults: against the embedded demo server's defaults the audit exits 0 with no
// check failed (the missing grace window is a warning); --json's last line is the card in the
// contract's shape, and --markdown writes the same card with masked evidence.
func TestAuditDemoDefaults(t *testing.T) {
	md := filepath.Join(t.TempDir(), "card.md")
	start := time.Now()
	out, errOut, code := executeCLI(t, "audit", "--access-ttl", "2s", "--yes", "--json", "--markdown", md)
	if code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	t.Logf("the audit took %s", time.Since(start).Round(time.Millisecond))
	c := lastJSONCard(t, out)
	if !strings.HasPrefix(c.Target, "http://127.0.0.1:") || c.Profile != "simplejwt" || c.LoginsUsed < 8 || len(c.Checks) != 12 {
		t.Errorf("card: %+v", c)
	}
	for _, k := range c.Checks {
		if k.Status == "fail" || k.Summary == "" || (k.Status != "skip" && k.Reference == "") || len(k.Value) == 0 {
			t.Errorf("check %+v", k)
		}
	}
	if c.status("grace") != "warn" || c.status("rotation") != "pass" || c.status("access_expiry") != "pass" {
		t.Errorf("grace %s, rotation %s, access_expiry %s", c.status("grace"), c.status("rotation"), c.status("access_expiry"))
	}
	b, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	card := string(b)
	for _, want := range []string{"| `grace` | ▲ warn |", "## Evidence", "POST /api/token/refresh/", "fp:", "tokenscope audit --access-ttl 2s"} {
		if !strings.Contains(card, want) {
			t.Errorf("the Markdown card lacks %q:\n%s", want, card)
		}
	}
	if strings.Contains(card, "eyJ") {
		t.Errorf("the Markdown card holds a token:\n%s", card)
	}
	if st, err := os.Stat(md); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("the Markdown card's mode: %v %v, want 0600 as every file tokenscope writes", st.Mode(), err)
	}
}

// TestAuditCommandLineMasksURLSecrets: the command line the Markdown card quotes masks a URL's
// password and its credential-named query values, in flags and arguments alike.
func TestAuditCommandLineMasksURLSecrets(t *testing.T) {
	cmd := &cobra.Command{}
	cmd.Flags().String("target", "", "")
	if err := cmd.Flags().Set("target", "https://alice:hunter2@api.example/v1?access_token=abc123"); err != nil {
		t.Fatal(err)
	}
	got := commandLine(cmd, []string{"https://bob:s3cret@idp.example/"})
	for _, secret := range []string{"hunter2", "abc123", "s3cret"} {
		if strings.Contains(got, secret) {
			t.Errorf("the command line shows %q: %s", secret, got)
		}
	}
	if !strings.Contains(got, "alice") || !strings.Contains(got, "api.example/v1") {
		t.Errorf("the command line lost what is not secret: %s", got)
	}
}

// TestAuditExitStatus: a knob's failing check exits 1; a warning exits 0, or 1 with --strict;
// the table names the verdicts.
func TestAuditExitStatus(t *testing.T) {
	out, _, code := executeCLI(t, "audit", "--yes", "--json", "--cacheable-tokens", "--checks", "token_response_headers")
	if c := lastJSONCard(t, out); code != 1 || c.status("token_response_headers") != "fail" || len(c.Checks) != 1 {
		t.Errorf("cacheable tokens: exit %d, %s", code, out)
	}
	out, _, code = executeCLI(t, "audit", "--yes", "--checks", "grace")
	if code != 0 || !strings.Contains(out, "▲ warn  grace") {
		t.Errorf("a warning: exit %d\n%s", code, out)
	}
	if _, _, code := executeCLI(t, "audit", "--yes", "--checks", "grace", "--strict"); code != 1 {
		t.Errorf("a warning with --strict: exit %d, want 1", code)
	}
	out, _, code = executeCLI(t, "audit", "--yes", "--json", "--accept-alg-none", "--active", "--checks", "token_acceptance")
	if c := lastJSONCard(t, out); code != 1 || c.status("token_acceptance") != "fail" || !strings.Contains(string(c.Checks[0].Value), `"alg_none":"accepted"`) {
		t.Errorf("alg none: exit %d, %s", code, out)
	}
}

// TestAuditUsage: what audit cannot use exits 2 before anything is sent.
func TestAuditUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--checks", "nonsense"},
		{"--checks", "token_acceptance"}, // forged tokens need --active
		{"--max-wait", "0s"},
		{"--logins", "0"},
		{"--parallel", "1"},
		{"--issuer", "https://login.example.com"}, // auth-code by default: a person at every login
		{"--flow", "device"},
		{"--flow", "password", "--dpop"},
		{"--log-file", "x.jsonl"},
		{"GET"},
		// Not loopback and no terminal to ask on: --yes is needed. 192.0.2.1 is never dialled.
		{"--target", "https://192.0.2.1", "--password-env", "TS_AUDIT_PW", "--user", "u"},
	} {
		t.Setenv("TS_AUDIT_PW", "pw")
		_, errOut, code := executeCLI(t, append([]string{"audit"}, args...)...)
		if code != 2 {
			t.Errorf("%v: exit %d, stderr %q; want 2", args, code, errOut)
		}
	}
}

// TestAuditConsent: on a terminal the audit says what it will do and goes ahead only on yes;
// a no sends nothing to the server.
func TestAuditConsent(t *testing.T) {
	srv, err := demoserver.Start(demoserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	t.Setenv("TS_AUDIT_PW", "demo")
	for _, answer := range []string{"n\n", "y\n"} {
		var o auditOpts
		fs := pflag.NewFlagSet("audit", pflag.ContinueOnError)
		o.tf.register(fs)
		if err := fs.Parse([]string{"--target", srv.URL(), "--user", "demo", "--password-env", "TS_AUDIT_PW"}); err != nil {
			t.Fatal(err)
		}
		o.checks, o.maxWait, o.logins, o.parallel = []string{"rotation"}, time.Minute, 2, 2
		o.terminal, o.stdin = func() bool { return true }, strings.NewReader(answer)
		var out, errOut testutil.SyncBuffer
		before := srv.Stats().Requests
		err := runAudit(context.Background(), &out, &errOut, &o, nil, "")
		if !strings.Contains(errOut.String(), "deliberately presents rotated refresh tokens") {
			t.Errorf("%q: the prompt did not say what the audit does: %q", answer, errOut.String())
		}
		sent := srv.Stats().Requests - before
		if answer == "n\n" && (exitCode(err) != 2 || sent != 0) {
			t.Errorf("no: err %v, %d requests sent", err, sent)
		}
		if answer == "y\n" && (err != nil || sent == 0 || !strings.Contains(out.String(), "✔ pass  rotation")) {
			t.Errorf("yes: err %v, %d requests, %s", err, sent, out.String())
		}
	}
}

// TestAuditAtProvider: with --flow password the audit logs in at the provider's token endpoint
// from its discovery document (the embedded demo server is one) and revokes at its
// revocation_endpoint.
func TestAuditAtProvider(t *testing.T) {
	out, errOut, code := executeCLI(t, "audit", "--flow", "password", "--yes", "--json", "--checks", "rotation,logout,refresh_error_shape")
	c := lastJSONCard(t, out)
	if code != 0 || !strings.HasPrefix(c.Profile, "oauth2 at http://127.0.0.1:") {
		t.Fatalf("exit %d, card %+v, stderr %s", code, c, errOut)
	}
	for _, id := range []string{"rotation", "logout", "refresh_error_shape"} {
		if c.status(id) != "pass" {
			t.Errorf("%s: %s\n%s", id, c.status(id), out)
		}
	}
}
