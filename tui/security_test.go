package tui

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"

	"tokenscope/apiclient"
	"tokenscope/apiclient/profile"
	"tokenscope/internal/redact"
	"tokenscope/session"
)

// Security-review tests for the screen: whatever the network sends (bodies, headers, token
// claims, error messages) is drawn inert — no escape sequence, BEL, 8-bit CSI or bidi override
// reaches the terminal — and a huge answer is drawn capped. Helpers are prefixed sec so that
// they cannot collide with other test files of the package.

// secEvil is every hostile sequence the review names: an OSC title change, an OSC 52 clipboard
// write, a screen clear, an 8-bit CSI (U+009B and a raw 0x9B byte), bidi overrides, and a DCS.
const secEvil = "\u200b\u061c\ufeff \x1b]0;pwned title\x07 \x1b]52;c;ZXZpbA==\x07 \x1b[2J\x1b[H \u009b31m \x9b2J \u202egnp.exe\u202c \u2066x\u2069 \x1bPq#0\x1b\\ \x1b]8;;http://evil\x07link\x1b]8;;\x07"

// secHeaderEvil is what an HTTP header can carry through Go's client (it refuses C0 controls).
const secHeaderEvil = "MARK-HEADER \u009b31m \x9b2J \u202egnp.exe\u202c \u200f"

func secSeg(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// secJWT is an unsigned-looking JWT whose header and claims carry the hostile text.
func secJWT(kind string, now time.Time) string {
	h := map[string]any{"alg": "HS256", "typ": "JWT", "kid": "MARK-KID " + secEvil}
	c := map[string]any{
		"sub": "MARK-SUB " + secEvil, "name": "MARK-CLAIM " + secEvil, "typ": kind,
		"fam": "\x1b]0;fam\x07" + secEvil, "nested": map[string]any{"x": []any{secEvil}},
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	return secSeg(h) + "." + secSeg(c) + ".c2lnbmF0dXJl"
}

// secHostile is an API whose every answer is hostile. Its refresh endpoint rejects with a
// hostile message, and logins after the first fail with one.
type secHostile struct {
	ts       *httptest.Server
	mu       sync.Mutex
	logins   int
	access   string
	refresh  string
	bigBody  []byte
	opaqueAT string // when set, the first login hands out this access token instead
}

func newSecHostile(t *testing.T) *secHostile {
	t.Helper()
	now := time.Now()
	s := &secHostile{access: secJWT("access", now), refresh: secJWT("refresh", now)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/token/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		s.mu.Lock()
		s.logins++
		n, at := s.logins, s.access
		if s.opaqueAT != "" {
			at = s.opaqueAT
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if n > 1 {
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]string{"detail": "MARK-LOGIN " + secEvil})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"access": at, "refresh": s.refresh})
	})
	mux.HandleFunc("POST /api/token/refresh/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]string{"detail": "MARK-REFRESH " + secEvil, "code": "token_not_valid"})
	})
	mux.HandleFunc("GET /api/json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Evil", secHeaderEvil)
		_ = json.NewEncoder(w).Encode(map[string]any{"message": "MARK-JSON " + secEvil, "token": s.access,
			"list": []string{secEvil, secEvil}})
	})
	mux.HandleFunc("GET /api/raw", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Evil", secHeaderEvil)
		_, _ = io.WriteString(w, "MARK-RAW "+secEvil+"\n"+s.access+"\n\x00\x01\x7f\r\n"+secEvil)
	})
	mux.HandleFunc("GET /api/401", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+secHeaderEvil+`"`)
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]string{"detail": "MARK-401 " + secEvil, "code": "token_not_valid"})
	})
	mux.HandleFunc("GET /api/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(s.bigBody)
	})
	s.ts = httptest.NewServer(mux)
	t.Cleanup(s.ts.Close)
	return s
}

func (s *secHostile) engine(t *testing.T) *apiclient.Engine {
	t.Helper()
	p, _ := profile.Builtin("simplejwt")
	e, err := apiclient.New(apiclient.Config{BaseURL: s.ts.URL, Profile: p, Username: "alice", Password: "pw",
		Strategy: apiclient.Reactive, RefreshAttempts: 1, RefreshBackoff: time.Millisecond, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func secModel(t *testing.T, e *apiclient.Engine, reqs []profile.Request) *Model {
	t.Helper()
	m := New(Options{Driver: Drive(e, nil), NoAutoLogin: true, Requests: reqs, Theme: "dark", Tick: time.Hour,
		Clipboard: func(string) error { return nil }})
	t.Cleanup(m.Close)
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	return m
}

// secStep runs a command the way the program would, in line, feeding its message back, then
// brings the model's events and snapshot up to date.
func secStep(m *Model, cmd tea.Cmd) {
	if cmd != nil {
		done := make(chan tea.Msg, 1)
		go func() { done <- cmd() }()
		select {
		case msg := <-done:
			switch msg.(type) {
			case resultMsg, loginMsg, flashMsg, burstMsg:
				m.Update(msg)
			}
		case <-time.After(10 * time.Second):
		}
	}
	for {
		select {
		case ev := <-m.sub.C:
			m.logp.ingest([]session.Event{ev}, m.drv.Log().Since)
			continue
		default:
		}
		break
	}
	m.Update(tickMsg(time.Now()))
}

func secKey(m *Model, k string) {
	msg := tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
	switch k {
	case "esc":
		msg = tea.KeyMsg{Type: tea.KeyEsc}
	}
	_, cmd := m.Update(msg)
	secStep(m, cmd)
}

var secSGR = regexp.MustCompile(`\x1b\[[0-9;:]*m`)

// secInert fails when view could act on a terminal: with colour allowed, the only escape
// sequences are SGR colours; then no ESC, BEL or other C0 control but newline, no C1 control
// (8-bit CSI and friends), no invalid UTF-8 (a raw 0x9B byte), no bidi override or isolate, no
// line or paragraph separator.
func secInert(t *testing.T, where, view string, colour bool) {
	t.Helper()
	if colour {
		view = secSGR.ReplaceAllString(view, "")
	}
	if !utf8.ValidString(view) {
		t.Errorf("%s: the view is not valid UTF-8 (a raw 8-bit byte such as 0x9B CSI)", where)
	}
	bad := map[string]int{}
	for _, r := range view {
		switch {
		case r == '\n':
		case r == 0x1b:
			bad["ESC"]++
		case r == 0x07:
			bad["BEL"]++
		case r < 0x20 || r == 0x7f:
			bad[fmt.Sprintf("C0 %U", r)]++
		case r >= 0x80 && r <= 0x9f:
			bad[fmt.Sprintf("C1 %U", r)]++
		case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f:
			bad[fmt.Sprintf("bidi %U", r)]++
		case r == 0x2028 || r == 0x2029:
			bad[fmt.Sprintf("separator %U", r)]++
		case unicode.Is(unicode.Cf, r):
			bad[fmt.Sprintf("format character %U", r)]++
		}
	}
	if len(bad) > 0 {
		i := strings.IndexFunc(view, func(r rune) bool { return r == 0x1b || r == 0x07 || (r >= 0x80 && r <= 0x9f) || r == 0x202e })
		ctx := ""
		if i >= 0 {
			ctx = view[max(i-60, 0):min(i+60, len(view))]
		}
		t.Errorf("%s: live control characters reach the terminal %v, e.g. near %q", where, bad, ctx)
	}
}

// TestSecurityHostileTextDrawnInert: a JWT whose header and claims, a resource whose body and
// headers, and refresh and login errors whose messages carry OSC title and clipboard writes,
// screen clears, 8-bit CSI and bidi overrides are drawn in the token panels, requests pane,
// claims pane, log pane, login dialog and flash banner without one live control character, in
// the Ascii profile (no ESC at all) and with colour (SGR only). Markers check that the hostile
// text was really on screen.
func TestSecurityHostileTextDrawnInert(t *testing.T) {
	s := newSecHostile(t)
	e := s.engine(t)
	if _, err := e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	reqs := []profile.Request{
		{Method: "GET", Path: "/api/json"},
		{Method: "GET", Path: "/api/raw"},
		{Method: "GET", Path: "/api/401"},
		{Method: "GET", Path: "/evil-path-\x1b]0;t\x07-\u202e"},
	}
	m := secModel(t, e, reqs)
	// The 401 (reqs[2]) goes last: its refresh is rejected, and the login dialog then covers
	// the panes.
	for _, i := range []int{0, 1, 3} {
		secStep(m, m.sendCmd(e, i, false))
	}
	views := map[string]string{}
	render := func(name string) {
		for _, colour := range []bool{false, true} {
			prev := lipgloss.ColorProfile()
			if colour {
				lipgloss.SetColorProfile(termenv.ANSI256)
			}
			m.logp.store.invalidate()
			v := m.View()
			lipgloss.SetColorProfile(prev)
			where := name
			if colour {
				where += " (colour)"
			}
			secInert(t, where, v, colour)
			views[where] = v
		}
	}
	m.focus = paneRequests
	for _, i := range []int{0, 1, 3} {
		m.reqs.selectIndex(i)
		render(fmt.Sprintf("requests pane, request %d", i))
	}
	m.focus = paneClaims
	render("claims pane")
	m.sh.reveal = true
	m.claims.sync()
	render("claims pane, tokens revealed")
	m.sh.reveal = false
	m.claims.sync()
	m.focus = paneLog
	render("log pane")

	// A 401 whose refresh is rejected with a hostile message: the login dialog, the log.
	secStep(m, m.sendCmd(e, 2, false))
	render("login dialog after a hostile refresh rejection")
	secKey(m, "esc")
	m.focus = paneRequests
	m.reqs.selectIndex(2)
	render("requests pane, the parked 401")
	m.focus = paneLog
	// A manual refresh now: refused, with the hostile reason in the flash.
	secKey(m, "r")
	render("after a manual refresh")
	// A login that fails with a hostile message: the flash.
	secKey(m, "l")
	render("after a hostile login failure")
	secKey(m, "esc")
	render("log pane after the failures")

	all := strings.Join(func() []string {
		var out []string
		for _, v := range views {
			out = append(out, v)
		}
		return out
	}(), "\n")
	for _, mark := range []string{"MARK-JSON", "MARK-RAW", "MARK-HEADER", "MARK-SUB", "MARK-KID", "MARK-CLAIM", "MARK-REFRESH", "MARK-LOGIN"} {
		if !strings.Contains(all, mark) {
			t.Errorf("%s never reached the screen; the check did not cover it", mark)
		}
	}
}

// TestSecurityHostileOpaqueTokenDrawnInert: an opaque access token that is itself a string of
// escape sequences is drawn inert, masked and revealed.
func TestSecurityHostileOpaqueTokenDrawnInert(t *testing.T) {
	s := newSecHostile(t)
	s.opaqueAT = "\x1b]0;t\x07" + secEvil + "-opaque-\x1b]52;c;ZXZpbA==\x07"
	e := s.engine(t)
	if _, err := e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	m := secModel(t, e, []profile.Request{{Method: "GET", Path: "/api/json"}})
	secStep(m, m.sendCmd(e, 0, false)) // Go refuses to put control characters in a header: a failed request
	for _, reveal := range []bool{false, true} {
		m.sh.reveal = reveal
		m.claims.sync()
		for _, p := range []pane{paneLog, paneRequests, paneClaims} {
			m.focus = p
			m.logp.store.invalidate()
			secInert(t, fmt.Sprintf("%s pane, reveal %v", m.panels[p].title(), reveal), m.View(), false)
		}
	}
}

// TestSecurityHugeBodyDrawnCapped: a 3 MiB answer (under the engine's 4 MiB cap) is kept by
// the engine but drawn capped: the view stays small and says how much was left out.
func TestSecurityHugeBodyDrawnCapped(t *testing.T) {
	s := newSecHostile(t)
	var b bytes.Buffer
	b.WriteString("[\n")
	for b.Len() < 3<<20 {
		b.WriteString(`  {"id":12345,"name":"a fairly long line of filler text to fill the answer"},` + "\n")
	}
	b.WriteString("  {}\n]\n")
	s.bigBody = b.Bytes()
	e := s.engine(t)
	if _, err := e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	m := secModel(t, e, []profile.Request{{Method: "GET", Path: "/api/big"}})
	secStep(m, m.sendCmd(e, 0, false))
	r, ok := m.answers.of(0)
	if !ok || r.Outcome != apiclient.OK || len(r.Body) < 3<<20 {
		t.Fatalf("result ok=%v outcome %v, %d bytes (%s)", ok, r.Outcome, len(r.Body), r.Reason)
	}
	m.focus = paneRequests
	start := time.Now()
	v := m.View()
	took := time.Since(start)
	if len(v) >= 200_000 {
		t.Errorf("the view of a 3 MiB answer is %d bytes, want < 200 KB", len(v))
	}
	if !strings.Contains(v, "GET /api/big") {
		t.Errorf("the response pane is not on screen:\n%s", v)
	}
	for _, line := range strings.Split(v, "\n") {
		if w := lipgloss.Width(line); w > 120 {
			t.Errorf("a line is %d cells wide in a 120-cell terminal", w)
			break
		}
	}
	if took > 2*time.Second {
		t.Errorf("drawing the 3 MiB answer took %s", took)
	}
	// Scrolled to the end: still bounded, and the cut is said.
	m.Update(tea.KeyMsg{Type: tea.KeyPgDown})
	m.reqs.resp.GotoBottom()
	v = m.View()
	if len(v) >= 200_000 {
		t.Errorf("the view scrolled to the end is %d bytes", len(v))
	}
	if !strings.Contains(v, "more bytes not shown") {
		t.Errorf("the end of the shown body does not say it was cut:\n%s", v)
	}
}

// TestCopiedCurlRunsInShells: the masked curl command, pasted into bash or zsh with TOKEN set,
// sends the token (a single-quoted $TOKEN never expanded), and revealed it carries the token
// itself. curl is a shell function here that prints its arguments, one per line.
func TestCopiedCurlRunsInShells(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	f.m.reqs.list[0].Header = http.Header{"X-Quote": {`it's "quoted" $HOME`}}
	upd(t, f.m, press("y"))
	upd(t, f.m, press("v"))
	upd(t, f.m, press("y"))
	if len(f.copied) != 2 {
		t.Fatalf("copies: %q", f.copied)
	}
	raw := f.e.Snapshot().Access.Raw
	ran := 0
	for _, sh := range []string{"bash", "zsh"} {
		path, err := exec.LookPath(sh)
		if err != nil {
			t.Logf("%s not installed: not checked with it", sh)
			continue
		}
		ran++
		for i, want := range []string{"Authorization: Bearer token-from-env", "Authorization: Bearer " + raw} {
			cmd := exec.Command(path, "-c", "curl() { for a in \"$@\"; do printf '%s\\n' \"$a\"; done; }\n"+f.copied[i])
			cmd.Env = append(os.Environ(), "TOKEN=token-from-env")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", sh, err, out)
			}
			lines := strings.Split(string(out), "\n")
			if !slices.Contains(lines, want) || !slices.Contains(lines, `X-Quote: it's "quoted" $HOME`) {
				t.Errorf("%s ran copy %d and curl got:\n%s\nwant a line %q", sh, i, out, want)
			}
		}
	}
	if ran == 0 {
		t.Skip("neither bash nor zsh is installed")
	}
}

// TestServerEchoedTokensMasked: an answer that echoes the session's token (in its body or a
// header) shows it masked while the panels are masked, and whole once revealed.
func TestServerEchoedTokensMasked(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	raw := f.e.Snapshot().Access.Raw
	f.m.keep(0, apiclient.Result{ID: 1, Outcome: apiclient.OK, Status: 200, Attempts: make([]apiclient.Attempt, 1),
		Header: http.Header{"X-Token": {raw}}, Body: []byte(`{"you_sent": "` + raw + `"}`)})
	upd(t, f.m, press("tab"))
	v := ansi.Strip(f.m.View())
	if strings.Contains(v, raw[20:50]) {
		t.Fatalf("the echoed token shows while masked:\n%s", v)
	}
	if !strings.Contains(v, "[redacted:"+session.Fingerprint(raw)+"]") {
		t.Errorf("the echo is not shown masked:\n%s", v)
	}
	upd(t, f.m, press("v"))
	if v := ansi.Strip(f.m.View()); !strings.Contains(v, raw[20:50]) {
		t.Errorf("revealed, the echo is still masked:\n%s", v)
	}
}

// TestURLPasswordMasked: a password in the target URL's userinfo is masked in the header.
func TestURLPasswordMasked(t *testing.T) {
	if got := redact.URL("http://bob:hunter2@127.0.0.1:8000"); strings.Contains(got, "hunter2") || !strings.Contains(got, "bob:") {
		t.Errorf("redact.URL: %q", got)
	}
	if got := redact.URL("http://127.0.0.1:8000"); got != "http://127.0.0.1:8000" {
		t.Errorf("redact.URL without userinfo: %q", got)
	}
}

// TestSecurityHostileAlgInSignatureLine: with --verify-jwks pointing at an empty key set, the
// signature line says "no key for alg …" and carries the token header's alg and kid: a hostile
// alg is drawn inert there too.
func TestSecurityHostileAlgInSignatureLine(t *testing.T) {
	s := newSecHostile(t)
	now := time.Now()
	h := map[string]any{"alg": "HS256\x1b]0;PWNED\x07\u009b2J\u202e\u200bMARK-ALG", "typ": "JWT", "kid": "MARK-KID " + secEvil}
	c := map[string]any{"sub": "MARK-SUB", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	s.opaqueAT = secSeg(h) + "." + secSeg(c) + ".c2lnbmF0dXJl"
	p, _ := profile.Builtin("simplejwt")
	e, err := apiclient.New(apiclient.Config{BaseURL: s.ts.URL, Profile: p, Username: "alice", Password: "pw",
		Keys: session.Keys{ByKID: map[string]crypto.PublicKey{}}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	if _, err := e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	m := secModel(t, e, []profile.Request{{Method: "GET", Path: "/api/json"}})
	for _, w := range []int{120, 200} {
		m.Update(tea.WindowSizeMsg{Width: w, Height: 40})
		v := m.View()
		secInert(t, fmt.Sprintf("signature line at %d columns", w), v, false)
		if w == 200 && !strings.Contains(ansi.Strip(v), "no key for alg") {
			t.Errorf("the signature line is not on screen:\n%s", v)
		}
	}
}

// TestSessionSecretsMaskedOnScreen: the screen masks with the session's own secrets, not only
// the tokens it saw: a .http file's $processEnv value (which cmd adds to them) echoed in an
// answer shows masked until revealed, and a token the session held before a refresh too.
func TestSessionSecretsMaskedOnScreen(t *testing.T) {
	f := sized(t, apiclient.Config{}, true)
	const env = "env-api-key-4f2a9c81"
	f.e.Secrets().Add(redact.Credential, env)
	old := f.e.Snapshot().Access.Raw
	if err := f.e.RefreshNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.m.keep(0, apiclient.Result{ID: 1, Outcome: apiclient.OK, Status: 200, Attempts: make([]apiclient.Attempt, 1),
		Header: http.Header{"X-Echo": {env}}, Body: []byte(`{"key": "` + env + `", "was": "` + old + `"}`)})
	upd(t, f.m, press("tab"))
	v := ansi.Strip(f.m.View())
	if strings.Contains(v, env) || strings.Contains(v, old[20:50]) {
		t.Fatalf("a secret shows while masked:\n%s", v)
	}
	if !strings.Contains(v, "[redacted]") || !strings.Contains(v, "[redacted:"+session.Fingerprint(old)+"]") {
		t.Errorf("the secrets are not shown masked:\n%s", v)
	}
	upd(t, f.m, press("v"))
	if v := ansi.Strip(f.m.View()); !strings.Contains(v, env) {
		t.Errorf("revealed, the value is still masked:\n%s", v)
	}
	// An event that names it (a request's path) is stored masked: the log panel and the w
	// export read the stored events.
	f.m.logp.store.add([]session.Event{{Seq: 1 << 40, Time: epoch, Kind: session.KindRequest, Method: "GET",
		Path: "/api/items?key=" + env, Reason: "sent " + env}})
	last := f.m.logp.store.events[len(f.m.logp.store.events)-1]
	if last.Path != "/api/items?key=[redacted]" || last.Reason != "sent [redacted]" {
		t.Errorf("the stored event: %q %q", last.Path, last.Reason)
	}
}
