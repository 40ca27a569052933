package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tokenscope/demoserver"
)

// httpsDemo is the demo server behind TLS with a certificate of its own, and the PEM file that
// trusts it (what --ca-cert names).
func httpsDemo(t *testing.T) (*demoserver.Server, string, string) {
	t.Helper()
	return httpsDemoWith(t, demoserver.Options{})
}

func httpsDemoWith(t *testing.T, opts demoserver.Options) (*demoserver.Server, string, string) {
	t.Helper()
	demo, err := demoserver.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(demo.Handler())
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "upstream.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return demo, srv.URL, caFile
}

// The client's story, the same in Python and in Node: log in, call, refresh, then a second
// process refreshes with the same (now rotated) refresh token at once, which the server answers
// by revoking the family, and the call with the fresh token is answered 401 and not resent.
const pythonClient = `
import sys, requests
base = sys.argv[1]
s = requests.Session()
pair = s.post(base + "/api/token/", json={"username": "demo", "password": "demo"}).json()
assert s.get(base + "/api/me", headers={"Authorization": "Bearer " + pair["access"]}).status_code == 200
new = s.post(base + "/api/token/refresh/", json={"refresh": pair["refresh"]}).json()
assert requests.post(base + "/api/token/refresh/", json={"refresh": pair["refresh"]}).status_code == 401
print("me after the race:", s.get(base + "/api/me", headers={"Authorization": "Bearer " + new["access"]}).status_code)

# Python 3.13 verifies with VERIFY_X509_STRICT by default: tokenscope's leaf must pass it.
import os, ssl, http.client, urllib.parse
ctx = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
ctx.verify_flags |= ssl.VERIFY_X509_STRICT
proxy, target = urllib.parse.urlsplit(os.environ["HTTPS_PROXY"]), urllib.parse.urlsplit(base)
c = http.client.HTTPSConnection(proxy.hostname, proxy.port, context=ctx)
c.set_tunnel(target.hostname, target.port)
c.request("GET", "/")
print("strict:", c.getresponse().status)
`

const nodeClient = `
const axios = require(process.argv[3]);
const base = process.argv[2];
const ok = { validateStatus: () => true };
(async () => {
  const pair = (await axios.post(base + "/api/token/", { username: "demo", password: "demo" })).data;
  if ((await axios.get(base + "/api/me", { ...ok, headers: { Authorization: "Bearer " + pair.access } })).status !== 200) process.exit(4);
  const fresh = (await axios.post(base + "/api/token/refresh/", { refresh: pair.refresh })).data;
  if ((await axios.post(base + "/api/token/refresh/", { refresh: pair.refresh }, ok)).status !== 401) process.exit(5);
  const me = await axios.get(base + "/api/me", { ...ok, headers: { Authorization: "Bearer " + fresh.access } });
  console.log("me after the race:", me.status);
})().catch((e) => { console.error(e.message); process.exit(1); });
`

// axiosDir installs axios into a temporary directory with npm, or skips.
func axiosDir(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed (.ci/run installs it)")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "npm", "install", "--prefix", dir, "--no-audit", "--no-fund", "--silent", "axios@1").CombinedOutput()
	if err != nil {
		t.Skipf("npm install axios: %v\n%s", err, out)
	}
	return filepath.Join(dir, "node_modules", "axios")
}

// TestObserveRunsRealClients: observe -- CMD runs a Python requests client and a Node axios
// client against an https upstream with a certificate of its own (--ca-cert), the clients
// trusting tokenscope's CA through the environment alone. The findings are right: the needless
// first refresh, the stampede of two processes, and the call lost in a family the stampede
// killed, whose advice is to log in again. The JSON file's summary agrees with the server.
func TestObserveRunsRealClients(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Python and Node clients")
	}
	t.Setenv("XDG_CONFIG_HOME", t.TempDir()) // the CA is made here
	clients := map[string]func(t *testing.T, dir, base string) []string{
		"python-requests": func(t *testing.T, dir, base string) []string {
			if err := exec.Command("python3", "-c", "import requests").Run(); err != nil {
				t.Skip("python3 with requests is not installed (.ci/run installs python3-requests)")
			}
			script := filepath.Join(dir, "client.py")
			_ = os.WriteFile(script, []byte(pythonClient), 0o600)
			return []string{"python3", script, base}
		},
		"node-axios": func(t *testing.T, dir, base string) []string {
			axios := axiosDir(t)
			script := filepath.Join(dir, "client.js")
			_ = os.WriteFile(script, []byte(nodeClient), 0o600)
			return []string{"node", script, base, axios}
		},
	}
	for name, argv := range clients {
		t.Run(name, func(t *testing.T) {
			demo, base, upCA := httpsDemo(t)
			dir := t.TempDir()
			cmdline := argv(t, dir, base)
			jsonFile := filepath.Join(dir, "events.jsonl")
			args := append([]string{"observe", "--profile", "simplejwt", "--ca-cert", upCA, "--json-file", jsonFile, "--"}, cmdline...)
			out, errOut, err := run(context.Background(), args...)
			if err != nil {
				t.Fatalf("%v\nstdout %s\nstderr %s", err, out, errOut)
			}
			if !strings.Contains(out, "me after the race: 401") {
				t.Errorf("the client's stdout is not passed through: %q", out)
			}
			if name == "python-requests" && !strings.Contains(out, "strict: 200") {
				t.Errorf("VERIFY_X509_STRICT: %q", out)
			}
			for _, want := range []string{"refresh-without-need:", "stampede:", "lost-after-401:", "must log in again", "1 answered 401: 0 retried, 1 lost"} {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errOut)
				}
			}
			s := lastJSONLine(t, jsonFile)
			st := demo.Stats()
			if s["logins"] != 1.0 || s["refresh_calls"] != 2.0 || s["refresh_rejected"] != 1.0 || st.Logins != 1 || st.RefreshOK != 1 || st.ReuseDetected != 1 {
				t.Errorf("summary %v, server %+v", s, st)
			}
		})
	}
}

func lastJSONLine(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var s map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s); err != nil || len(lines) < 2 {
		t.Fatalf("%d lines, the last %q: %v", len(lines), lines[len(lines)-1], err)
	}
	return s
}

// TestObserveChildExitStatus: observe -- CMD exits with CMD's status, and with 1 when --fail-on
// matched a finding (any, or a named rule), whatever CMD's status.
func TestObserveChildExitStatus(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	_, base, upCA := httpsDemo(t)
	// curl through the proxy: a login, then a refresh while the access token is fresh (needless).
	script := `set -e
pair=$(curl -sf -H 'Content-Type: application/json' -d '{"username":"demo","password":"demo"}' "$1/api/token/")
rt=$(printf '%s' "$pair" | sed 's/.*"refresh": *"\([^"]*\)".*/\1/')
curl -sf -o /dev/null -H 'Content-Type: application/json' -d "{\"refresh\":\"$rt\"}" "$1/api/token/refresh/"
exit "$2"`
	for _, c := range []struct {
		failOn string
		exit   string
		want   int
	}{
		{"", "0", 0}, {"", "3", 3}, {"any", "0", 1}, {"refresh-without-need", "3", 1}, {"stampede,lost-after-401", "0", 0},
	} {
		args := []string{"observe", "--ca-cert", upCA}
		if c.failOn != "" {
			args = append(args, "--fail-on", c.failOn)
		}
		args = append(args, "--", "sh", "-c", script, "sh", base, c.exit)
		_, errOut, err := run(context.Background(), args...)
		if got := exitStatus(err); got != c.want || !strings.Contains(errOut, "refresh-without-need") {
			t.Errorf("--fail-on %q, CMD exits %s: status %d (%v), want %d\n%s", c.failOn, c.exit, got, err, c.want, errOut)
		}
	}
	if _, _, err := run(context.Background(), "observe", "--fail-on", "nope", "--", "true"); exitStatus(err) != 2 {
		t.Errorf("--fail-on nope: %v", err)
	}
}

// TestObserveCAInstructions: observe ca makes the CA when there is none, 0600, and says where it
// is, how to trust it and how to remove it.
func TestObserveCAInstructions(t *testing.T) {
	cfg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfg)
	out, _, err := run(context.Background(), "observe", "ca")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(cfg, "tokenscope", "observe-ca.pem")
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v %v", path, st, err)
	}
	for _, want := range []string{path, "update-ca-certificates", "Remove it", "tokenscope observe CA", "SSL_CERT_FILE"} {
		if !strings.Contains(out, want) {
			t.Errorf("observe ca lacks %q:\n%s", want, out)
		}
	}
}

// TestObserveScenarioRepeatable: a --scenario run of one client, three times, gives the same
// findings each time (the scenario's expiry and 503 meet the client at the same steps).
func TestObserveScenarioRepeatable(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	dir := t.TempDir()
	scenario := filepath.Join(dir, "ci.scenario")
	_ = os.WriteFile(scenario, []byte("# expire early, then fail the first refresh\nat 200ms expire\nat refresh 1 fail 503\n"), 0o600)
	// The client: log in, call after the expiry (401), refresh (503), and log in again.
	script := `login() { curl -s -H 'Content-Type: application/json' -d '{"username":"demo","password":"demo"}' "$1/api/token/"; }
pair=$(login "$1")
at=$(printf '%s' "$pair" | sed 's/.*"access": *"\([^"]*\)".*/\1/')
rt=$(printf '%s' "$pair" | sed 's/.*"refresh": *"\([^"]*\)".*/\1/')
sleep 0.5
echo "me $(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $at" "$1/api/me")"
echo "refresh $(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d "{\"refresh\":\"$rt\"}" "$1/api/token/refresh/")"
login "$1" >/dev/null`
	var first map[string]any
	for run := range 3 {
		_, base, upCA := httpsDemo(t)
		jsonFile := filepath.Join(dir, fmt.Sprintf("run%d.jsonl", run))
		out, errOut, err := runArgs("observe", "--ca-cert", upCA, "--scenario", scenario, "--json-file", jsonFile, "--", "sh", "-c", script, "sh", base)
		if err != nil || !strings.Contains(out, "me 401") || !strings.Contains(out, "refresh 503") {
			t.Fatalf("run %d: %v\n%s\n%s", run, err, out, errOut)
		}
		f, _ := lastJSONLine(t, jsonFile)["findings"].(map[string]any)
		if f["logout-on-transient"] != 1.0 || f["lost-after-401"] != 1.0 {
			t.Errorf("run %d: findings %v", run, f)
		}
		if run == 0 {
			first = f
		} else if fmt.Sprint(f) != fmt.Sprint(first) {
			t.Errorf("run %d: findings %v, first run %v", run, f, first)
		}
	}
}

func runArgs(args ...string) (string, string, error) { return run(context.Background(), args...) }

// TestChildEnv: the user's own proxy and CA variables, in either case, give way to observe's;
// the rest of the environment is CMD's as it was.
func TestChildEnv(t *testing.T) {
	env := childEnv([]string{"PATH=/bin", "https_proxy=http://corp:3128", "Http_Proxy=x", "SSL_CERT_FILE=/etc/mine.pem", "HOME=/h"},
		[]string{"HTTPS_PROXY=http://127.0.0.1:1", "HTTP_PROXY=http://127.0.0.1:1", "SSL_CERT_FILE=/b.pem"})
	if got := strings.Join(env, " "); got != "PATH=/bin HOME=/h HTTPS_PROXY=http://127.0.0.1:1 HTTP_PROXY=http://127.0.0.1:1 SSL_CERT_FILE=/b.pem" {
		t.Errorf("env %q", got)
	}
	if got := noProxyOf([]string{"A=1", "no_proxy=corp,localhost"}); got != "corp,localhost" {
		t.Errorf("no_proxy %q", got)
	}
}

// TestObserveIssuerTokenHost: --issuer reads the provider's token endpoint from discovery; in
// forward mode the calls to that host and path are the logins, and the same path on another host
// (the API's) is not.
func TestObserveIssuerTokenHost(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	_, idp, idpCA := httpsDemo(t)
	_, api, apiCA := httpsDemo(t)
	bundle := filepath.Join(t.TempDir(), "both.pem")
	a, _ := os.ReadFile(idpCA)
	b, _ := os.ReadFile(apiCA)
	_ = os.WriteFile(bundle, append(a, b...), 0o600)
	script := `for base in "$1" "$2"; do
  curl -s -o /dev/null -w '%{http_code}\n' -d grant_type=password -d username=demo -d password=demo -d client_id=tokenscope "$base/oauth/token"
done`
	jsonFile := filepath.Join(t.TempDir(), "events.jsonl")
	out, errOut, err := runArgs("observe", "--profile", "oauth2", "--issuer", idp, "--ca-cert", bundle, "--json-file", jsonFile,
		"--", "sh", "-c", script, "sh", idp, api)
	if err != nil || out != "200\n200\n" {
		t.Fatalf("%v: %q\n%s", err, out, errOut)
	}
	if s := lastJSONLine(t, jsonFile); s["logins"] != 1.0 || s["requests"] != 2.0 {
		t.Errorf("summary %v: only the provider's token endpoint logs in", s)
	}
}

// TestObservePythonRetriesRejectedToken: a Python requests client behind a lock refreshes one
// call after another with the refresh token the server keeps rejecting (expired): one
// rejected-token-retried finding, and the summary counts every refusal.
func TestObservePythonRetriesRejectedToken(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a Python client")
	}
	if err := exec.Command("python3", "-c", "import requests").Run(); err != nil {
		t.Skip("python3 with requests is not installed (.ci/run installs python3-requests)")
	}
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	_, base, upCA := httpsDemoWith(t, demoserver.Options{AccessTTL: time.Second, RefreshTTL: time.Second})
	script := filepath.Join(t.TempDir(), "retry.py")
	_ = os.WriteFile(script, []byte(`
import sys, time, threading, requests
base = sys.argv[1]
pair = requests.post(base + "/api/token/", json={"username": "demo", "password": "demo"}).json()
time.sleep(2.1)  # exp is in whole seconds: the refresh token is past it
lock = threading.Lock()
codes = []
for _ in range(10):
    with lock:
        codes.append(requests.post(base + "/api/token/refresh/", json={"refresh": pair["refresh"]}).status_code)
print(codes)
`), 0o600)
	out, errOut, err := runArgs("observe", "--ca-cert", upCA, "--fail-on", "rejected-token-retried", "--", "python3", script, base)
	if exitStatus(err) != 1 || !strings.Contains(out, "[401, 401, 401, 401, 401, 401, 401, 401, 401, 401]") {
		t.Fatalf("status %d (%v), stdout %q\n%s", exitStatus(err), err, out, errOut)
	}
	if strings.Count(errOut, "rejected-token-retried:") != 1 || !strings.Contains(errOut, "10 refresh calls (10 rejected, 9 presented a refresh token again") {
		t.Errorf("stderr:\n%s", errOut)
	}
}

// TestObservePythonRaceThroughServer: five Python threads refresh with one token at once against
// a server whose refreshes are not serialised (the demo server's race window, as Django
// simplejwt's blacklist): all five are accepted, and observe names the server's weakness as a
// server finding beside the client's stampede.
func TestObservePythonRaceThroughServer(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a Python client")
	}
	if err := exec.Command("python3", "-c", "import requests").Run(); err != nil {
		t.Skip("python3 with requests is not installed (.ci/run installs python3-requests)")
	}
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	demo, base, upCA := httpsDemo(t)
	demo.SetAuditKnobs(demoserver.AuditKnobs{RefreshRaceWindow: 300 * time.Millisecond})
	script := filepath.Join(t.TempDir(), "race.py")
	_ = os.WriteFile(script, []byte(`
import sys, threading, requests
base = sys.argv[1]
pair = requests.post(base + "/api/token/", json={"username": "demo", "password": "demo"}).json()
codes = []
def refresh():
    codes.append(requests.post(base + "/api/token/refresh/", json={"refresh": pair["refresh"]}).status_code)
threads = [threading.Thread(target=refresh) for _ in range(5)]
for t in threads: t.start()
for t in threads: t.join()
print(sorted(codes))
`), 0o600)
	out, errOut, err := runArgs("observe", "--ca-cert", upCA, "--", "python3", script, base)
	if err != nil || !strings.Contains(out, "[200, 200, 200, 200, 200]") {
		t.Fatalf("%v: stdout %q\n%s", err, out, errOut)
	}
	for _, want := range []string{"server-accepted-reused-token:", "server finding", "stampede:"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}
