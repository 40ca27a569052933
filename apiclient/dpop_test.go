package apiclient

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"tokenscope/apiclient/dpop"
	"tokenscope/apiclient/oidc"
	"tokenscope/apiclient/profile"
	"tokenscope/demoserver"
	"tokenscope/internal/clock"
	"tokenscope/session"
)

// demoStats reads the demo server's /__demo/stats over HTTP, as DESIGN.md's contract has it.
func demoStats(t *testing.T, v *env) map[string]float64 {
	t.Helper()
	resp, err := http.Get(v.e.Target() + "/__demo/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Stats map[string]float64 `json:"stats"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc.Stats
}

// checkBound checks the snapshot's DPoP side: a key, and an access token bound to it.
func checkBound(t *testing.T, v *env) *DPoPStatus {
	t.Helper()
	d := v.e.Snapshot().DPoP
	if d == nil || len(d.JKT) != 43 || !d.Bound || d.TokenType != "DPoP" || d.Binding != dpop.BindingMatch || d.CnfJKT != d.JKT {
		t.Fatalf("snapshot DPoP %+v, want a bound token whose cnf.jkt is the key's", d)
	}
	if d.LastTokenProof.JTI == "" || d.LastTokenProof.HTM != "POST" || !strings.HasSuffix(d.LastTokenProof.HTU, "/oauth/token") {
		t.Errorf("last token proof %+v", d.LastTokenProof)
	}
	return d
}

// checkProofs checks a result's proofs: n of them, each for the request, with ath, and no jti twice.
func checkProofs(t *testing.T, v *env, r Result, n int) {
	t.Helper()
	if r.Outcome != OK || len(r.Proofs()) != n {
		t.Fatalf("result %v %d %q with %d proofs, want OK with %d", r.Outcome, r.Status, r.Reason, len(r.Proofs()), n)
	}
	u, _ := url.Parse(v.e.Target() + r.Request.Path)
	jtis := map[string]bool{}
	for _, p := range r.Proofs() {
		if p.HTM != r.Request.Method || p.HTU != dpop.HTU(u) || !p.ATH || p.IAT.IsZero() || jtis[p.JTI] {
			t.Errorf("proof %+v for %s %s", p, r.Request.Method, u)
		}
		jtis[p.JTI] = true
	}
}

func TestDPoPAuthCodeBindsThenOneRefreshFor100(t *testing.T) {
	errc := make(chan error, 1)
	var authURL string
	v := newOIDCEnv(t, es256, oidc.Config{Flow: oidc.FlowAuthCode, RedirectURI: "http://127.0.0.1:0/callback", DPoP: true,
		OnAuthURL: func(u string) { authURL = u; go func() { errc <- newBrowser().authorize(u) }() }}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := v.e.Login(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal("browser:", err)
	}
	d := checkBound(t, v)
	if u, _ := url.Parse(authURL); u.Query().Get("dpop_jkt") != d.JKT {
		t.Errorf("authorization request %s lacks dpop_jkt=%s", authURL, d.JKT)
	}
	checkProofs(t, v, v.e.Do(ctx, v.get()), 1)
	v.clock.Advance(31 * time.Second)
	rs := v.burst(100, v.get())
	for _, r := range rs {
		checkProofs(t, v, r, 1)
	}
	st := demoStats(t, v)
	if st["refresh_ok"] != 1 || st["reuse_detected"] != 0 || st["dpop_proofs_rejected"] != 0 || st["resource_ok"] != 101 {
		t.Errorf("/__demo/stats %v: want one refresh, no reuse, no rejected proof, 101 resource calls", st)
	}
	if c := v.e.Counters(); c.RefreshCalls != 1 {
		t.Errorf("%d refresh calls, want 1", c.RefreshCalls)
	}
	checkBound(t, v) // the refreshed token is bound to the same key
}

func TestDPoPDeviceFlowBinds(t *testing.T) {
	var v *env
	oc := deviceConfig(t, func() *clock.Manual { return v.clock })
	oc.DPoP = true
	v = newOIDCEnv(t, es256, oc, nil)
	if _, err := v.e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkBound(t, v)
	checkProofs(t, v, v.e.Do(context.Background(), v.post(`{"a":1}`)), 1)
}

func TestDPoPClientCredentialsOneFetchFor100(t *testing.T) {
	v := newOIDCEnv(t, demoserver.Options{}, oidc.Config{Flow: oidc.FlowClientCredentials, ClientID: "tokenscope-cc",
		ClientSecret: "demo-secret", DPoP: true}, nil)
	if _, err := v.e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkBound(t, v)
	burstAtExpiry(t, v, 100)
	if st := demoStats(t, v); st["client_credentials_tokens"] != 2 || st["dpop_proofs_rejected"] != 0 {
		t.Errorf("/__demo/stats %v: want 2 client_credentials tokens and no rejected proof", st)
	}
	checkBound(t, v)
}

// With a server that wants nonces, login, a request and a refresh each meet use_dpop_nonce
// once per server, and then send the kept nonce straight away.
func TestDPoPNonceDanceAtBothServers(t *testing.T) {
	v := newOIDCEnv(t, demoserver.Options{DPoPNonce: true}, oidc.Config{Flow: oidc.FlowPassword, DPoP: true}, nil)
	if _, err := v.e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkBound(t, v)
	r := v.e.Do(context.Background(), v.get())
	checkProofs(t, v, r, 2)
	if p := r.Proofs(); p[0].Nonce || p[0].Retry || !p[1].Nonce || !p[1].Retry {
		t.Errorf("proofs %+v: want one without a nonce, then the retry with it", p)
	}
	checkProofs(t, v, v.e.Do(context.Background(), v.get()), 1)
	v.clock.Advance(31 * time.Second)
	r = v.e.Do(context.Background(), v.get())
	checkProofs(t, v, r, 1)
	if !r.Proofs()[0].Nonce || v.e.Counters().RefreshOK != 1 {
		t.Errorf("after the refresh: proofs %+v, counters %+v", r.Proofs(), v.e.Counters())
	}
	if st := demoStats(t, v); st["dpop_nonce_challenges"] != 2 || st["dpop_proofs_rejected"] != 0 {
		t.Errorf("/__demo/stats %v: want two nonce challenges (one per server)", st)
	}
	n := notes(v)
	for _, role := range []string{"authorization server", "resource server"} {
		if !strings.Contains(n, "DPoP: the "+role+" asked for a nonce") {
			t.Errorf("no note of the %s's nonce in:\n%s", role, n)
		}
	}
}

func TestDPoPProviderWithoutDPoPFallsBackToBearer(t *testing.T) {
	v := newOIDCEnv(t, demoserver.Options{NoDPoP: true}, oidc.Config{Flow: oidc.FlowPassword, DPoP: true}, nil)
	if _, err := v.e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := v.e.Snapshot().DPoP; d == nil || d.Bound || d.TokenType != "Bearer" || d.Binding != dpop.BindingNoCnf {
		t.Errorf("snapshot DPoP %+v, want an unbound Bearer token", d)
	}
	if !strings.Contains(notes(v), "did not bind the token") {
		t.Errorf("no fallback note in:\n%s", notes(v))
	}
	if r := v.e.Do(context.Background(), v.get()); r.Outcome != OK || len(r.Proofs()) != 0 {
		t.Errorf("Bearer request: %v %q, %d proofs", r.Outcome, r.Reason, len(r.Proofs()))
	}
}

// A session file keeps the tokens, not the key: a bound session resumed by a new engine cannot
// use them (nor refresh: the refresh token is bound to the old key too), so it asks for a login
// at once instead of sending what will be refused. No request is lost: it is parked.
func TestDPoPResumedSessionNeedsALoginWithTheNewKey(t *testing.T) {
	v := newOIDCEnv(t, demoserver.Options{}, oidc.Config{Flow: oidc.FlowPassword, DPoP: true}, nil)
	if _, err := v.e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	oc := *v.e.cfg.OIDC
	e2, err := New(Config{BaseURL: v.e.Target(), Profile: v.p, Clock: v.clock, OIDC: &oc, Username: "demo", Password: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	e2.Resume(v.e.Stored(), "test")
	if d := e2.Snapshot().DPoP; !d.Bound || d.Binding != dpop.BindingMismatch {
		t.Fatalf("resumed: %+v, want a bound token of another key", d)
	}
	if r := e2.Do(context.Background(), v.get()); r.Outcome != Parked {
		t.Errorf("resumed request: %v %q, want parked", r.Outcome, r.Reason)
	}
	if s := e2.Snapshot(); s.State != session.StateLoginRequired || s.End != session.EndKeyLost {
		t.Errorf("state %v end %q (%q), want login required for the lost key", s.State, s.End, s.Reason)
	}
	res, err := e2.Login(context.Background())
	if err != nil || len(res) != 1 || res[0].Outcome != OK {
		t.Fatalf("login and replay: %v %+v", err, res)
	}
}

func TestDPoPTokenStaysRedacted(t *testing.T) {
	v := newOIDCEnv(t, demoserver.Options{}, oidc.Config{Flow: oidc.FlowPassword, DPoP: true}, nil)
	if _, err := v.e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	tok := v.e.Snapshot().Access.Raw
	for _, echo := range []string{"Authorization: DPoP " + tok, `{"authorization":"DPoP ` + tok + `"}`} {
		if got := v.e.redactClip(echo); strings.Contains(got, tok) || !strings.Contains(got, "DPoP") {
			t.Errorf("redacted echo %.120q", got)
		}
	}
}

// A 401 for an expired bound token: the refresh, then the retry with a proof of its own.
func TestDPoPReactiveRetryHasANewProof(t *testing.T) {
	v := newOIDCEnv(t, demoserver.Options{}, oidc.Config{Flow: oidc.FlowPassword, DPoP: true}, nil)
	if _, err := v.e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	v.e.SetStrategy(Reactive)
	v.srv.ExpireAccessTokens()
	r := v.e.Do(context.Background(), v.post(`{"n":1}`))
	checkProofs(t, v, r, 2)
	if len(r.Attempts) != 2 || r.Status != http.StatusCreated || r.Proofs()[1].Retry {
		t.Errorf("attempts %d status %d proofs %+v: want the engine's own retry after a refresh", len(r.Attempts), r.Status, r.Proofs())
	}
	if c := v.e.Counters(); c.Unauthorized != 1 || c.RefreshOK != 1 {
		t.Errorf("counters %+v", c)
	}
	checkBound(t, v)
}

// Proofs go to the token and PAR endpoints only: not to discovery, keys or the device
// authorization endpoint, and not before the provider is known.
func TestDPoPTokenCallsAreTheTokenAndPAREndpoints(t *testing.T) {
	p, _ := profile.Builtin("oauth2")
	e, err := New(Config{BaseURL: "http://127.0.0.1:1", Profile: p, OIDC: &oidc.Config{Issuer: "https://idp.test",
		Flow: oidc.FlowPassword, DPoP: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	req := func(method, u string) *http.Request { r, _ := http.NewRequest(method, u, nil); return r }
	if e.isTokenCall(req("POST", "https://idp.test/token")) {
		t.Error("a proof before discovery")
	}
	e.idp.Store(&idpLink{client: &oidc.Client{Provider: &oidc.Provider{TokenEndpoint: "https://idp.test/token",
		PushedAuthorizationRequestEndpoint: "https://idp.test/par", DeviceAuthorizationEndpoint: "https://idp.test/device"}}})
	for u, want := range map[string]bool{
		"https://IDP.test/token": true, "https://idp.test/token?x=1": true, "https://idp.test/par": true,
		"https://idp.test/device": false, "https://idp.test/jwks": false, "http://idp.test/token": false,
	} {
		if got := e.isTokenCall(req("POST", u)); got != want {
			t.Errorf("POST %s: %v, want %v", u, got, want)
		}
	}
	if e.isTokenCall(req("GET", "https://idp.test/token")) {
		t.Error("a GET got a proof")
	}
}
