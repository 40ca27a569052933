package main

import (
	"context"
	"encoding/json"
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

// privateCAServer is an ES256 demo server behind TLS with a certificate no system trusts, and
// a PEM file of that certificate for --ca-cert.
func privateCAServer(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	srv, err := demoserver.New(demoserver.Options{Alg: demoserver.AlgES256, AccessTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv)
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	ts.StartTLS()
	t.Cleanup(ts.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	cert := ts.TLS.Certificates[0].Certificate[0]
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert}), 0o600); err != nil {
		t.Fatal(err)
	}
	return ts, ca
}

// The key set is fetched through the same transport as every other call, so --ca-cert
// reaches it: before, FetchJWKS built its own client and a private CA failed there only.
func TestJWKSThroughCACert(t *testing.T) {
	ts, ca := privateCAServer(t)
	jwks := ts.URL + "/.well-known/jwks.json"

	tok := decodeLoginTLS(t, ts)
	wantDecode(t, runDecodeCmd(t, "", "--jwks", jwks, "--ca-cert", ca, tok), 0, "verified", "--jwks "+jwks)
	r := runDecodeCmd(t, "", "--jwks", jwks, tok)
	wantFetchError(t, r, "--jwks")
	wantFetchError(t, r, "certificate")

	t.Setenv("TS_DEMO_PW", "demo")
	build := func(args ...string) (*wiring, error) {
		var f targetFlags
		fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
		f.register(fs)
		base := []string{"--target", ts.URL, "--user", "demo", "--password-env", "TS_DEMO_PW", "--verify-jwks", jwks}
		if err := fs.Parse(append(base, args...)); err != nil {
			t.Fatal(err)
		}
		return f.build(io.Discard)
	}
	if _, err := build(); err == nil || !strings.Contains(err.Error(), "--verify-jwks") || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("--verify-jwks without --ca-cert: %v", err)
	}
	b, err := build("--ca-cert", ca)
	if err != nil {
		t.Fatalf("--verify-jwks with --ca-cert: %v", err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := b.engine.Login(ctx); err != nil {
		t.Fatal(err)
	}
	if v := b.engine.Snapshot().AccessVerify; v.Status != session.Verified {
		t.Errorf("access token not verified with the fetched keys: %v", v)
	}
	// An engine fetches through its own transport too.
	if keys, err := b.engine.FetchJWKS(ctx, jwks); err != nil || len(keys) == 0 {
		t.Errorf("Engine.FetchJWKS: %d keys, %v", len(keys), err)
	}
}

// decodeLoginTLS logs in to the simplejwt convention over TLS and returns the access token.
func decodeLoginTLS(t *testing.T, ts *httptest.Server) string {
	t.Helper()
	resp, err := ts.Client().Post(ts.URL+"/api/token/", "application/json", strings.NewReader(`{"username":"demo","password":"demo"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Access string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Access == "" {
		t.Fatalf("login: %d %v", resp.StatusCode, err)
	}
	return body.Access
}
