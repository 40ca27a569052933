package apiclient

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"tokenscope/apiclient/oidc"
	"tokenscope/apiclient/profile"
	"tokenscope/demoserver"
)

// authCodeLogin logs v's engine in with the auth-code flow, the test playing the browser.
func authCodeLogin(t *testing.T) *env {
	t.Helper()
	errc := make(chan error, 1)
	v := newOIDCEnv(t, es256, oidc.Config{Flow: oidc.FlowAuthCode, RedirectURI: "http://127.0.0.1:0/callback",
		OnAuthURL: func(u string) { go func() { errc <- newBrowser().authorize(u) }() }}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := v.e.Login(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal("browser:", err)
	}
	return v
}

func TestProviderRequestsUserinfoAndIntrospection(t *testing.T) {
	v := authCodeLogin(t)
	reqs := v.e.ProviderRequests()
	if len(reqs) != 2 || reqs[0].Name != "userinfo" || reqs[1].Provider != ProviderIntrospect {
		t.Fatalf("provider requests %+v, want userinfo and introspection", reqs)
	}
	ctx := context.Background()
	ui := v.e.Do(ctx, reqs[0])
	if ui.Outcome != OK || !strings.Contains(string(ui.Body), `"sub":"demo"`) {
		t.Fatalf("userinfo: %v %d %s", ui.Outcome, ui.Status, ui.Body)
	}
	in := v.e.Do(ctx, reqs[1])
	var got map[string]any
	if in.Outcome != OK || json.Unmarshal(in.Body, &got) != nil || got["active"] != true || got["token_type"] != "Bearer" {
		t.Fatalf("introspection: %v %d %s (%s)", in.Outcome, in.Status, in.Body, in.Reason)
	}
	if strings.Contains(string(in.Request.Body), v.e.Snapshot().Access.Raw) {
		t.Error("the introspection request kept the access token in the result")
	}
}

func TestProviderRequestsNeedALogin(t *testing.T) {
	v := newOIDCEnv(t, es256, oidc.Config{Flow: oidc.FlowClientCredentials, ClientID: "tokenscope-cc", ClientSecret: "demo-secret"}, nil)
	if r := v.e.ProviderRequests(); r != nil {
		t.Fatalf("before any login: %+v", r)
	}
	r := v.e.Do(context.Background(), profile.Request{Method: "POST", Path: "/x", Provider: ProviderIntrospect})
	if r.Outcome != Failed || !strings.Contains(r.Reason, "log in first") {
		t.Fatalf("introspect before login: %v %q", r.Outcome, r.Reason)
	}
	if _, err := v.e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	reqs := v.e.ProviderRequests()
	if len(reqs) != 1 || reqs[0].Provider != ProviderIntrospect {
		t.Fatalf("client credentials: %+v, want introspection only (no user, no userinfo)", reqs)
	}
}

// TestSignOutRevokesTheRefreshToken: logging out revokes the family at the provider, so the
// refresh token is dead there too, not only forgotten here.
func TestSignOutRevokesTheRefreshToken(t *testing.T) {
	v := authCodeLogin(t)
	msg := v.e.SignOut(context.Background())
	if !strings.Contains(msg, "revoked the refresh token") {
		t.Fatalf("sign out said %q", msg)
	}
	if st := v.srv.Stats(); st.Revocations != 1 {
		t.Fatalf("revocations %d, want 1", st.Revocations)
	}
	if s := v.e.Snapshot(); s.State.String() != "logged out" || s.Refresh.Raw != "" {
		t.Fatalf("after sign out: state %v refresh %q", s.State, s.Refresh.Raw)
	}
	if !strings.Contains(notes(v), "revoked the refresh token") {
		t.Error("no note says the token was revoked")
	}
}

func TestSignOutWithoutProvider(t *testing.T) {
	v := newEnv(t, "simplejwt", demoserver.Options{}, Config{})
	if _, err := v.e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	if msg := v.e.SignOut(context.Background()); !strings.Contains(msg, "no identity provider") {
		t.Fatalf("sign out said %q", msg)
	}
}
