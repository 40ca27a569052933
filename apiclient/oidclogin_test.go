package apiclient

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"tokenscope/apiclient/oidc"
	"tokenscope/apiclient/profile"
	"tokenscope/demoserver"
	"tokenscope/internal/clock"
	"tokenscope/internal/testutil"
	"tokenscope/session"
)

// newOIDCEnv is a demo server (the OpenID provider and the API at once) and an engine that
// logs in there through oc. It does not log in. wrap, when set, stands between the two.
func newOIDCEnv(t *testing.T, so demoserver.Options, oc oidc.Config, wrap func(http.Handler) http.Handler) *env {
	t.Helper()
	clock := testClock(epoch)
	so.Clock = clock
	srv, err := demoserver.New(so)
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = srv
	if wrap != nil {
		h = wrap(srv)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	p, _ := profile.Builtin("oauth2")
	oc.Issuer = ts.URL
	cfg := Config{BaseURL: ts.URL, Profile: p, Clock: clock, OIDC: &oc, RefreshBackoff: 5 * time.Millisecond,
		Transport: &http.Transport{MaxConnsPerHost: 64, MaxIdleConnsPerHost: 64}}
	if oc.Flow == oidc.FlowPassword {
		// Only here: the events redact the password, and the user's name is the same word.
		cfg.Username, cfg.Password = "demo", "demo"
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return &env{t: t, srv: srv, clock: clock, e: e, p: p}
}

// browser drives the demo provider's HTML pages as a person would (testutil.Browser: a cookie
// jar, no redirects followed; the last one goes to the engine's loopback listener).
type browser struct{ *testutil.Browser }

func newBrowser() browser { return browser{testutil.NewBrowser()} }

// approveDevice enters the user code on the verification page, logs in and approves.
func (b browser) approveDevice(d oidc.DeviceAuth) error {
	return b.ApproveDevice(d.VerificationURI, d.UserCode, "demo", "demo")
}

// authorize opens the authorization URL, logs in, approves and follows the redirect back to
// the loopback listener.
func (b browser) authorize(authURL string) error { return b.Authorize(authURL, "demo", "demo") }

// deviceConfig approves every device code through the HTML pages; once approved, the shared
// clock moves to the waiting poll's deadline (the engine's poll timer runs on it) and that poll
// collects the tokens.
func deviceConfig(t *testing.T, clk func() *clock.Manual) oidc.Config {
	return oidc.Config{
		Flow: oidc.FlowDevice,
		OnDeviceCode: func(d oidc.DeviceAuth) {
			go func() {
				if err := newBrowser().approveDevice(d); err != nil {
					t.Error("approving the device:", err)
					return
				}
				// Two timers: the background refresher's (idle, an hour away) and the poll's.
				if !clk().AwaitTimers(2, 10*time.Second) {
					t.Error("the device poll never waited on the engine's clock")
					return
				}
				_, next := clk().Pending()
				clk().Advance(next)
			}()
		},
	}
}

// es256 has the demo sign with a published key, so that ID token signatures are checked.
var es256 = demoserver.Options{Alg: demoserver.AlgES256}

func notes(v *env) string {
	var b strings.Builder
	for _, ev := range v.e.Log().Events() {
		if ev.Kind == session.KindNote {
			b.WriteString(ev.Reason + "\n")
		}
	}
	return b.String()
}

func loginReason(t *testing.T, v *env) string {
	t.Helper()
	ev, ok := firstOf(v.e.Log().Events(), session.KindLogin)
	if !ok {
		t.Fatal("no login event")
	}
	return ev.Reason
}

// burstAtExpiry lets the access token expire, sends n requests at once and checks that all
// succeed after exactly one refresh.
func burstAtExpiry(t *testing.T, v *env, n int) {
	t.Helper()
	v.clock.Advance(31 * time.Second)
	rs := v.burst(n, v.get())
	if ok, failed, parked := tally(rs); ok != n {
		t.Fatalf("ok %d failed %d parked %d; first failure %+v", ok, failed, parked, firstFailure(rs))
	}
	if got := count(v.e.Log().Events(), session.KindRefreshStart); got != 1 {
		t.Errorf("%d refreshes started, want 1", got)
	}
	if c := v.e.Counters(); c.RefreshCalls != 1 || c.RefreshOK != 1 {
		t.Errorf("counters %+v, want one refresh call", c)
	}
}

func TestOIDCClientCredentialsOneFetchAtExpiry(t *testing.T) {
	v := newOIDCEnv(t, demoserver.Options{}, oidc.Config{Flow: oidc.FlowClientCredentials, ClientID: "tokenscope-cc", ClientSecret: "demo-secret"}, nil)
	if _, err := v.e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := loginReason(t, v); !strings.Contains(r, "client-credentials flow as client tokenscope-cc") {
		t.Errorf("login reason %q", r)
	}
	if s := v.e.Snapshot(); s.Refresh.Raw != "" || s.Access.Raw == "" {
		t.Fatalf("want an access token and no refresh token, got %+v", s.Session)
	}
	burstAtExpiry(t, v, 50)
	if st := v.srv.Stats(); st.ClientCredentialsTokens != 2 {
		t.Errorf("client_credentials_tokens %d, want 2 (login + one fetch at expiry)", st.ClientCredentialsTokens)
	}
	if s := v.e.Snapshot(); s.Generation != 2 {
		t.Errorf("generation %d, want 2", s.Generation)
	}
}

func TestOIDCDeviceFlowThenOneRefresh(t *testing.T) {
	var v *env
	v = newOIDCEnv(t, es256, deviceConfig(t, func() *clock.Manual { return v.clock }), nil)
	if _, err := v.e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := loginReason(t, v); !strings.Contains(r, "logged in with the device flow as demo") {
		t.Errorf("login reason %q", r)
	}
	s := v.e.Snapshot()
	if s.Refresh.Raw == "" || s.IDToken.Raw == "" {
		t.Fatalf("want a refresh token and an ID token: refresh %q id %q", s.Refresh.Raw, s.IDToken.Raw)
	}
	if strings.Contains(notes(v), "not checked") {
		t.Error("ES256 ID token signatures should be checked")
	}
	burstAtExpiry(t, v, 100)
	st := v.srv.Stats()
	if st.ReuseDetected != 0 || st.RefreshOK != 1 {
		t.Errorf("stats reuse_detected %d refresh_ok %d, want 0 and 1", st.ReuseDetected, st.RefreshOK)
	}
	if st.DeviceCodesIssued != 1 {
		t.Errorf("device codes issued %d, want 1", st.DeviceCodesIssued)
	}
}

func TestOIDCAuthCodeThenOneRefresh(t *testing.T) {
	v := authCodeLogin(t)
	if r := loginReason(t, v); !strings.Contains(r, "logged in with the auth-code flow as demo") {
		t.Errorf("login reason %q", r)
	}
	if s := v.e.Snapshot(); s.Refresh.Raw == "" || s.IDToken.Raw == "" {
		t.Fatal("want a refresh token and an ID token")
	}
	burstAtExpiry(t, v, 50)
	st := v.srv.Stats()
	if st.AuthCodesRedeemed != 1 || st.ReuseDetected != 0 || st.RefreshOK != 1 {
		t.Errorf("stats codes redeemed %d reuse %d refresh_ok %d, want 1, 0, 1", st.AuthCodesRedeemed, st.ReuseDetected, st.RefreshOK)
	}
}

func TestOIDCPasswordAtDiscoveredEndpoint(t *testing.T) {
	v := newOIDCEnv(t, demoserver.Options{}, oidc.Config{Flow: oidc.FlowPassword}, nil)
	if _, err := v.e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := loginReason(t, v); !strings.Contains(r, "logged in with the password flow as demo") {
		t.Errorf("login reason %q", r)
	}
	burstAtExpiry(t, v, 20)
}

func TestOIDCInvalidClientShowsHint(t *testing.T) {
	v := newOIDCEnv(t, demoserver.Options{}, oidc.Config{Flow: oidc.FlowClientCredentials, ClientID: "tokenscope-cc", ClientSecret: "wrong"}, nil)
	_, err := v.e.Login(context.Background())
	hint := (&oidc.Error{Code: "invalid_client"}).Hint()
	if err == nil || !strings.Contains(err.Error(), "invalid_client") || !strings.Contains(err.Error(), hint) {
		t.Fatalf("err %v, want invalid_client with its hint", err)
	}
	ev, ok := firstOf(v.e.Log().Events(), session.KindLoginFailed)
	if !ok || !strings.Contains(ev.Reason, hint) {
		t.Errorf("login-failed event %+v lacks the hint", ev)
	}
}

// stripRefreshTokens answers token requests without their refresh token, as providers do
// when offline_access is not granted.
func stripRefreshTokens(h http.Handler) http.Handler {
	return editTokenAnswers(h, func(m map[string]any) { delete(m, "refresh_token") })
}

// offlineNotGranted answers token requests as Ory Hydra does when the consent granted openid
// but left offline_access out: no refresh token, and a scope that says what was granted.
func offlineNotGranted(h http.Handler) http.Handler {
	return editTokenAnswers(h, func(m map[string]any) {
		delete(m, "refresh_token")
		m["scope"] = "openid"
	})
}

// editTokenAnswers has edit change every JSON answer of the token endpoint.
func editTokenAnswers(h http.Handler, edit func(map[string]any)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth/token" {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		var m map[string]any
		if json.Unmarshal(body, &m) == nil {
			edit(m)
			body, _ = json.Marshal(m)
		}
		for k, vs := range rec.Header() {
			if k != "Content-Length" {
				w.Header()[k] = vs
			}
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	})
}

func TestOIDCNoRefreshTokenNote(t *testing.T) {
	var v *env
	// HS256 (the demo's default): the ID token's signature cannot be checked; a note says so.
	v = newOIDCEnv(t, demoserver.Options{}, deviceConfig(t, func() *clock.Manual { return v.clock }), stripRefreshTokens)
	if _, err := v.e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range v.e.Log().Events() {
		found = found || (ev.Kind == session.KindNote && strings.Contains(ev.Reason, oidc.NoRefreshHint))
	}
	if !found {
		t.Error("no note with oidc.NoRefreshHint")
	}
	if !strings.Contains(notes(v), "ID token signatures are not checked") {
		t.Error("no note that HS256 ID tokens go unverified")
	}
}

// TestOIDCOfflineAccessNotGrantedNote: when the answer's scope shows that consent left
// offline_access out (Hydra's answer, seen in interop/hydra), the note says so instead of
// advising to ask for offline_access, which the engine did.
func TestOIDCOfflineAccessNotGrantedNote(t *testing.T) {
	var v *env
	v = newOIDCEnv(t, es256, deviceConfig(t, func() *clock.Manual { return v.clock }), offlineNotGranted)
	if _, err := v.e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v.e.Snapshot().Refresh.Raw != "" {
		t.Fatal("want no refresh token")
	}
	n := notes(v)
	if !strings.Contains(n, oidc.NotGrantedRefreshHint+` (granted scope "openid")`) || strings.Contains(n, oidc.NoRefreshHint) {
		t.Errorf("notes:\n%s", n)
	}
}

func TestOIDCConfigChecked(t *testing.T) {
	p, _ := profile.Builtin("oauth2")
	for _, tc := range []struct {
		oc   oidc.Config
		want string
	}{
		{oidc.Config{Issuer: "http://127.0.0.1:1", Flow: "implicit"}, "auth-code, device, client-credentials, password"},
		{oidc.Config{Issuer: "http://127.0.0.1:1"}, "OnAuthURL"},
		{oidc.Config{Issuer: "http://127.0.0.1:1", Flow: oidc.FlowDevice}, "OnDeviceCode"},
		{oidc.Config{Flow: oidc.FlowPassword}, "issuer"},
	} {
		_, err := New(Config{BaseURL: "http://127.0.0.1:1", Profile: p, OIDC: &tc.oc})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err %v, want it to name %q", tc.oc, err, tc.want)
		}
	}
	// Defaults: the oauth2 wire format, the scope and redirect URI, the caller's struct untouched.
	oc := oidc.Config{Issuer: "http://127.0.0.1:1", Flow: oidc.FlowDevice, OnDeviceCode: func(oidc.DeviceAuth) {}}
	e, err := New(Config{BaseURL: "http://127.0.0.1:1", OIDC: &oc})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	got := e.cfg.OIDC
	if e.Profile().Name != "oauth2" || got.Scope != oidc.DefaultScope || got.ClientID != "tokenscope" || got.RedirectURI != oidc.DefaultRedirectURI {
		t.Errorf("defaults: profile %s, %+v", e.Profile().Name, *got)
	}
	if oc.Scope != "" {
		t.Error("New changed the caller's oidc.Config")
	}
	if _, err := e.Login(context.Background()); err == nil || !strings.Contains(err.Error(), "discovery") {
		t.Errorf("login against nothing: err %v, want a discovery failure", err)
	}
}

// A session resumed from a file discovers the provider on its first refresh and refreshes at
// the discovered token endpoint.
func TestOIDCResumedSessionRefreshes(t *testing.T) {
	var v *env
	v = newOIDCEnv(t, es256, deviceConfig(t, func() *clock.Manual { return v.clock }), nil)
	if _, err := v.e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	stored := v.e.Stored()
	p, _ := profile.Builtin("oauth2")
	oc := *v.e.cfg.OIDC
	e2, err := New(Config{BaseURL: v.e.Target(), Profile: p, Clock: v.clock, OIDC: &oc})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	e2.Resume(stored, "test")
	if e2.idp.Load() != nil {
		t.Fatal("resume should not discover")
	}
	v.clock.Advance(31 * time.Second)
	if r := e2.Do(context.Background(), v.get()); r.Outcome != OK {
		t.Fatalf("request after resume: %+v", r)
	}
	if e2.idp.Load() == nil || e2.Counters().RefreshOK != 1 {
		t.Errorf("want discovery and one refresh, counters %+v", e2.Counters())
	}
}
