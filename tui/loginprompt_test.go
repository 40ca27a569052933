package tui

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"tokenscope/apiclient"
	"tokenscope/apiclient/oidc"
	"tokenscope/apiclient/profile"
	"tokenscope/demoserver"
	"tokenscope/internal/testutil"
)

// TestDevicePromptShowsTheCodeLarge: the device code in large letters, the URL whole, the
// countdown to the code's expiry; y copies the URL, esc cancels the login.
func TestDevicePromptShowsTheCodeLarge(t *testing.T) {
	f := sized(t, apiclient.Config{}, false)
	m := f.m
	p := NewPrompts()
	u := "http://127.0.0.1:1/device?user_code=WDJB-MJHT"
	p.DeviceCode(oidc.DeviceAuth{UserCode: "WDJB-MJHT", VerificationURI: "http://127.0.0.1:1/device",
		VerificationURIComplete: u, Expires: f.clock.Now().Add(10 * time.Minute)})
	upd(t, m, <-p.c)
	m.sync()
	v := ansi.Strip(m.View())
	for _, want := range []string{"check that it shows the code", u, "The code expires in 10m.", "█   █ ████", "esc cancel login"} {
		if !strings.Contains(v, want) {
			t.Errorf("the prompt lacks %q:\n%s", want, v)
		}
	}
	upd(t, m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("y")})
	if got := f.copiedLast(); got != u {
		t.Errorf("y copied %q, want the URL", got)
	}
	cancelled := false
	m.cancelLogin = func() { cancelled = true }
	upd(t, m, tea.KeyMsg{Type: tea.KeyEsc})
	if !cancelled || m.prompt.active {
		t.Errorf("esc: login cancelled %v, prompt still showing %v", cancelled, m.prompt.active)
	}
}

// TestDevicePromptNarrow: at 60 columns the large letters do not fit, and the code is one
// spaced line instead, never cut.
func TestDevicePromptNarrow(t *testing.T) {
	f := sized(t, apiclient.Config{}, false)
	upd(t, f.m, tea.WindowSizeMsg{Width: 60, Height: 24})
	p := NewPrompts()
	p.DeviceCode(oidc.DeviceAuth{UserCode: "WDJB-MJHT-KQPZ", VerificationURI: "http://127.0.0.1:1/device"})
	upd(t, f.m, <-p.c)
	v := ansi.Strip(f.m.View())
	if !strings.Contains(v, "W D J B - M J H T - K Q P Z") || !strings.Contains(v, "enter the code") {
		t.Errorf("narrow prompt:\n%s", v)
	}
	for _, l := range strings.Split(v, "\n") {
		if ansi.StringWidth(l) > 60 {
			t.Errorf("line wider than the terminal: %q", l)
		}
	}
}

// TestAuthCodeLoginInTheTUI: the whole code flow through the program: the prompt shows the
// URL the engine hands it, the browser comes back, the prompt goes, the ID token shows with
// what was checked, the provider's requests join the list, and O revokes at the provider.
func TestAuthCodeLoginInTheTUI(t *testing.T) {
	srv, err := demoserver.New(demoserver.Options{Alg: demoserver.AlgES256})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	prompts := NewPrompts()
	prof, _ := profile.Builtin("oauth2")
	e, err := apiclient.New(apiclient.Config{BaseURL: ts.URL, Profile: prof, OIDC: &oidc.Config{
		Issuer: ts.URL, Flow: oidc.FlowAuthCode, ClientID: "tokenscope", RedirectURI: "http://127.0.0.1:0/callback",
		OnAuthURL: prompts.AuthURL}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	m := New(Options{Driver: Drive(e, nil), Prompts: prompts, Tick: 10 * time.Millisecond, Clipboard: func(string) error { return nil }})
	t.Cleanup(m.Close)
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	login := m.loginCmd(e)
	done := make(chan tea.Msg, 1)
	go func() { done <- login() }()
	msg := <-prompts.c
	m.Update(msg) // its command waits for the next prompt: not run here
	if v := ansi.Strip(m.View()); !strings.Contains(v, "Log in at the identity provider") || !strings.Contains(v, "/authorize?") {
		t.Fatalf("no login prompt:\n%s", v)
	}
	if err := testutil.NewBrowser().Authorize(msg.url, "demo", "demo"); err != nil {
		t.Fatal("browser:", err)
	}
	upd(t, m, <-done)
	v := ansi.Strip(m.View())
	if m.prompt.active || !strings.Contains(v, "signature, iss, aud, exp, nonce checked") || !strings.Contains(v, "sub demo") {
		t.Fatalf("after the login:\n%s", v)
	}
	if names := m.reqs.names(); !strings.Contains(names, "userinfo") || !strings.Contains(names, "introspect") {
		t.Errorf("requests %s: want userinfo and introspection added", names)
	}
	if got := upd(t, m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("O")}); !strings.Contains(string(got.(flashMsg)), "revoked the refresh token") {
		t.Errorf("O said %q", got)
	}
	if st := srv.Stats(); st.Revocations != 1 {
		t.Errorf("revocations %d, want 1", st.Revocations)
	}
}

func (f *fixture) copiedLast() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.copied) == 0 {
		return ""
	}
	return f.copied[len(f.copied)-1]
}

// names lists the requests as the list shows them.
func (p *requestsPanel) names() string {
	var out []string
	for _, r := range p.list {
		out = append(out, r.Name)
	}
	return strings.Join(out, ", ")
}

// TestDPoPShownInTheTUI: the access token's binding, and each proof in the request's detail.
func TestDPoPShownInTheTUI(t *testing.T) {
	srv, err := demoserver.New(demoserver.Options{Alg: demoserver.AlgES256})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	prof, _ := profile.Builtin("oauth2")
	e, err := apiclient.New(apiclient.Config{BaseURL: ts.URL, Profile: prof, OIDC: &oidc.Config{
		Issuer: ts.URL, Flow: oidc.FlowClientCredentials, ClientID: "tokenscope-cc", ClientSecret: "demo-secret", DPoP: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	m := New(Options{Driver: Drive(e, nil), Tick: 10 * time.Millisecond, Requests: []profile.Request{{Method: "GET", Path: "/api/me"}}})
	t.Cleanup(m.Close)
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	run(t, m, m.loginCmd(e))
	upd(t, m, tea.KeyMsg{Type: tea.KeyTab})
	upd(t, m, tea.KeyMsg{Type: tea.KeyEnter})
	v := ansi.Strip(m.View())
	for _, want := range []string{"DPoP-bound, cnf.jkt ✓", "DPoP proof jti", "GET " + ts.URL + "/api/me", "ath", "client credentials have none"} {
		if !strings.Contains(v, want) {
			t.Errorf("the screen lacks %q:\n%s", want, v)
		}
	}
}

// TestDevicePromptFitsAt80x24: the prompt takes the screen under the header, so the URL, the
// code and its countdown are all on an 80×24 screen.
func TestDevicePromptFitsAt80x24(t *testing.T) {
	f := sized(t, apiclient.Config{}, false)
	upd(t, f.m, tea.WindowSizeMsg{Width: 80, Height: 24})
	p := NewPrompts()
	u := "http://127.0.0.1:1/device?user_code=WDJB-MJHT"
	p.DeviceCode(oidc.DeviceAuth{UserCode: "WDJB-MJHT", VerificationURI: "http://127.0.0.1:1/device",
		VerificationURIComplete: u, Expires: f.clock.Now().Add(10 * time.Minute)})
	upd(t, f.m, <-p.c)
	v := ansi.Strip(f.m.View())
	if n := strings.Count(v, "\n") + 1; n != 24 {
		t.Errorf("%d lines, want 24", n)
	}
	for _, want := range []string{u, "The code expires in", "█   █ ████", "esc cancel login"} {
		if !strings.Contains(v, want) {
			t.Errorf("at 80×24 the prompt lacks %q:\n%s", want, v)
		}
	}
}
