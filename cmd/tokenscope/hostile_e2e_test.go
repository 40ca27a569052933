package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// hostileText is what a hostile server puts wherever it can: a title change, a clipboard
// write (OSC 52), a screen clear, an 8-bit CSI, a bidi override and a zero-width space.
const hostileText = "PWNED\x1b]0;PWNED-TITLE\x07\x1b]52;c;UFdORUQ=\x07\x1b[2J\x1b[H\u009b2J\u202e\u200b"

func hostileSeg(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hostileAPI speaks simplejwt with hostile text in its tokens' alg, kid and sub, in its 401
// body, its refresh rejection and, after the first login, its login failures.
func hostileAPI(t *testing.T) *httptest.Server {
	t.Helper()
	var mu sync.Mutex
	logins := 0
	jwt := func() string {
		now := time.Now()
		h := map[string]any{"alg": "HS256" + hostileText, "typ": "JWT", "kid": "kid" + hostileText}
		c := map[string]any{"sub": "sub" + hostileText, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		return hostileSeg(h) + "." + hostileSeg(c) + ".c2ln"
	}
	fail := func(w http.ResponseWriter, code int) {
		w.Header().Set("Content-Type", "application/json")
		// What a header can carry through Go's client, which refuses C0 controls in it.
		w.Header().Set("X-Hostile", strings.Map(func(r rune) rune {
			if r < 0x20 {
				return -1
			}
			return r
		}, hostileText))
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]string{"detail": "bad creds " + hostileText, "code": "token_not_valid"})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/token/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		logins++
		n := logins
		mu.Unlock()
		if n > 1 {
			fail(w, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"access": jwt(), "refresh": jwt()})
	})
	mux.HandleFunc("POST /api/token/refresh/", func(w http.ResponseWriter, r *http.Request) { fail(w, http.StatusUnauthorized) })
	mux.HandleFunc("GET /api/protected/", func(w http.ResponseWriter, r *http.Request) { fail(w, http.StatusUnauthorized) })
	mux.HandleFunc("GET /api/me", func(w http.ResponseWriter, r *http.Request) { fail(w, http.StatusTeapot) })
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"keys":[]}`)
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

// TestTerminalHostileServer drives the real binary in tmux against a server that puts escape
// sequences everywhere it can: the tokens' alg, kid and sub (with an empty JWKS, so the
// signature line quotes the alg), a 401 body, a refresh rejection and a login failure. The
// terminal's title never changes, nothing reaches the clipboard, and the screen is never
// cleared: the text shows, inert.
func TestTerminalHostileServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and drives the binary in tmux")
	}
	ts := hostileAPI(t)
	s := startTmux(t, 160, 40, "--target", ts.URL, "--profile", "simplejwt", "--user", "alice",
		"--password-env", "TS_HOSTILE_PW", "--verify-jwks", ts.URL+"/jwks", "--theme", "mono")
	s.tmux("set-option", "-g", "set-clipboard", "on")
	s.tmux("select-pane", "-t", s.name, "-T", "clean-title")
	check := func(when string) {
		t.Helper()
		if title := strings.TrimSpace(s.tmux("display-message", "-p", "-t", s.name, "#{pane_title}")); title != "clean-title" {
			t.Errorf("%s: the pane title became %q", when, title)
		}
		if bufs := strings.TrimSpace(s.tmux("list-buffers")); bufs != "" {
			t.Errorf("%s: something reached the clipboard: %s", when, bufs)
		}
		if screen := s.screen(); !strings.Contains(screen, "tokenscope") {
			t.Errorf("%s: the screen was cleared:\n%s", when, screen)
		}
	}
	s.waitFor(regexp.MustCompile(`● active[\s\S]*no key for alg HS256PWNED`), 20*time.Second)
	check("after the login")
	s.keys("Tab")
	s.keys("Down")
	s.keys("Enter") // GET /api/me: a 418 whose body and header are hostile
	s.waitFor(regexp.MustCompile(`X-Hostile[\s\S]*bad creds PWNED`), 10*time.Second)
	check("on the answer")
	s.keys("Up")
	s.keys("Enter") // GET /api/protected/: a 401, then a hostile refresh rejection
	s.waitFor(regexp.MustCompile(`Session ended[\s\S]*bad creds`), 10*time.Second)
	check("after the refresh rejection")
	s.keys("c")
	s.keys("v")
	s.waitFor(regexp.MustCompile(`"sub": "subPWNED`), 5*time.Second)
	check("on the claims, revealed")
	s.keys("l")
	s.waitFor(regexp.MustCompile(`login failed[\s\S]*bad creds`), 10*time.Second)
	check("after a hostile login failure")
	s.keys("q")
}
