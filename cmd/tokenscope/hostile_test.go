package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"tokenscope/internal/testutil"
)

// hostileDetail is what a hostile server says: an OSC title change ended by BEL, a screen
// clear, an 8-bit CSI, a right-to-left override and a zero-width space, around visible words.
const hostileDetail = `bad creds\u001b]0;PWNED\u0007\u001b[2J \u009b2J \u202e \u200b`

// hostileBody is the error answer that carries it, as JSON (the escapes decode to the raw
// characters).
const hostileBody = `{"detail": "` + hostileDetail + `"}`

// executeCLI runs the command line the way main does (outputs behind the sanitizer, the error
// printed on stderr) and returns stdout, stderr and the exit status.
func executeCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errb testutil.SyncBuffer
	code := execute(ctx, newRootCmd(&out, &errb), args)
	if ctx.Err() != nil {
		t.Fatalf("%v did not end within 20 s", args)
	}
	return out.String(), errb.String(), code
}

// assertInert fails when s holds anything a terminal acts on or a reader cannot see: ESC, BEL
// or another C0 control but newline and tab, a C1 control encoded as UTF-8 or as a lone byte
// 0x80–0x9F (any invalid UTF-8), U+202E or U+200B.
func assertInert(t *testing.T, what, s string) {
	t.Helper()
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			t.Errorf("%s holds the lone byte %#x at %d:\n%q", what, s[i], i, s)
			return
		case (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == '\u202e' || r == '\u200b':
			t.Errorf("%s holds %U at %d:\n%q", what, r, i, s)
			return
		}
		i += n
	}
}

// fakeJWT is a JWT with the given header (as JSON) and exp, and a signature nobody checks.
func fakeJWT(header string, exp time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString
	payload := fmt.Sprintf(`{"sub":"demo","iat":%d,"exp":%d}`, time.Now().Unix(), exp.Unix())
	return enc([]byte(header)) + "." + enc([]byte(payload)) + "." + enc([]byte("sig"))
}

// hostileServer speaks simplejwt on 127.0.0.1 and answers the step named by road with the
// hostile body: "login" (400), "refresh" (the refresh call, 400; the access token it logs in
// with is already expired), "401" (the request, 401 "token_not_valid"; then the refresh call
// 503) or "503" (the request). It serves an empty key set at /jwks.
func hostileServer(t *testing.T, road, alg string) *httptest.Server {
	t.Helper()
	hostile := func(w http.ResponseWriter, status int) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		body := hostileBody
		if status == http.StatusUnauthorized {
			body = `{"code": "token_not_valid", "detail": "` + hostileDetail + `"}`
		}
		_, _ = io.WriteString(w, body)
	}
	tokens := func(w http.ResponseWriter, exp time.Time) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"access": fakeJWT(`{"alg":"`+alg+`","typ":"JWT"}`, exp), "refresh": fakeJWT(`{"alg":"HS256"}`, time.Now().Add(time.Hour))})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/token/", func(w http.ResponseWriter, _ *http.Request) {
		switch road {
		case "login":
			hostile(w, http.StatusBadRequest)
		case "refresh":
			tokens(w, time.Now().Add(-time.Minute))
		default:
			tokens(w, time.Now().Add(time.Hour))
		}
	})
	mux.HandleFunc("POST /api/token/refresh/", func(w http.ResponseWriter, _ *http.Request) {
		if road == "401" {
			hostile(w, http.StatusServiceUnavailable)
			return
		}
		hostile(w, http.StatusBadRequest)
	})
	mux.HandleFunc("GET /api/me", func(w http.ResponseWriter, _ *http.Request) {
		switch road {
		case "401":
			hostile(w, http.StatusUnauthorized)
		case "503":
			hostile(w, http.StatusServiceUnavailable)
		default:
			_, _ = io.WriteString(w, `{"ok": true}`)
		}
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, `{"keys":[]}`) })
	srv := httptest.NewServer(mux) // 127.0.0.1:0
	t.Cleanup(srv.Close)
	return srv
}

// TestHostileServerTextIsInertInFire: whatever a server answers to the login, the refresh or a
// request, fire's stdout and stderr (the error line included) carry nothing a terminal acts
// on, in text and in JSON, and what the server said in words is still shown.
func TestHostileServerTextIsInertInFire(t *testing.T) {
	t.Setenv("TS_TEST_HOSTILE_PW", "pw")
	for _, road := range []struct{ name, visible string }{
		{"login", "bad creds"}, {"refresh", "bad creds"}, {"401", "bad creds"}, {"503", "503"},
	} {
		for _, mode := range [][]string{nil, {"--json"}} {
			t.Run(road.name+strings.Join(mode, ""), func(t *testing.T) {
				srv := hostileServer(t, road.name, "HS256")
				args := append([]string{"fire", "--target", srv.URL, "--user", "demo", "--password-env", "TS_TEST_HOSTILE_PW",
					"-n", "2", "--no-relogin", "--timeout", "5s"}, mode...)
				out, errOut, code := executeCLI(t, append(args, "GET", "/api/me")...)
				if code == 0 {
					t.Errorf("exit 0 from a server that failed every %s", road.name)
				}
				assertInert(t, "stdout", out)
				assertInert(t, "stderr", errOut)
				if !strings.Contains(out+errOut, road.visible) {
					t.Errorf("the output lost %q:\nstdout:\n%s\nstderr:\n%s", road.visible, out, errOut)
				}
			})
		}
	}
}

// TestHostileAlgWithEmptyKeySetIsInert: --verify-jwks names an empty key set and the server's
// token carries a hostile alg: the signature check fails with a reason quoting the alg, and
// nothing of it reaches fire's output raw.
func TestHostileAlgWithEmptyKeySetIsInert(t *testing.T) {
	t.Setenv("TS_TEST_HOSTILE_PW", "pw")
	alg := `HS256\u001b]0;X\u0007`
	srv := hostileServer(t, "none", alg)
	for _, mode := range [][]string{nil, {"--json"}} {
		args := append([]string{"fire", "--target", srv.URL, "--user", "demo", "--password-env", "TS_TEST_HOSTILE_PW",
			"--verify-jwks", srv.URL + "/jwks", "-n", "1"}, mode...)
		args = append(args, "GET", "/api/me")
		out, errOut, code := executeCLI(t, args...)
		if code != 0 {
			t.Errorf("%v: exit %d\n%s%s", mode, code, out, errOut)
		}
		assertInert(t, "stdout", out)
		assertInert(t, "stderr", errOut)
	}
}

// rawStatusServer answers every request with statusLine as its status line, written by hand on
// a listener on 127.0.0.1: net/http would not send a reason phrase like that.
func rawStatusServer(t *testing.T, statusLine string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				_, _ = io.WriteString(c, statusLine+"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// TestDecodeJWKSHostileReasonPhrase: a key set server whose status line carries an escape
// sequence: decode fails (exit 1) saying 404, and the escape never reaches the terminal.
func TestDecodeJWKSHostileReasonPhrase(t *testing.T) {
	u := rawStatusServer(t, "HTTP/1.1 404 Not Found\x1b]0;X\x07")
	tok := fakeJWT(`{"alg":"ES256","kid":"k1"}`, time.Now().Add(time.Hour))
	for _, mode := range [][]string{nil, {"--json"}} {
		out, errOut, code := executeCLI(t, append(append([]string{"decode", "--jwks", u + "/jwks"}, mode...), tok)...)
		if code != 1 || !strings.Contains(errOut, "404 Not Found") {
			t.Errorf("%v: exit %d, stderr %q; want 1 and the status", mode, code, errOut)
		}
		assertInert(t, "stdout", out)
		assertInert(t, "stderr", errOut)
	}
}

// TestDecodeHostileAlgReasonIsInert: a token whose alg is an escape sequence, checked against
// a key set that cannot verify it: the signature reason, printed or in JSON, is inert; and an
// empty key set is refused with an inert message.
func TestDecodeHostileAlgReasonIsInert(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	coord := func(n *big.Int) string { return base64.RawURLEncoding.EncodeToString(n.FillBytes(make([]byte, 32))) }
	oneKey := fmt.Sprintf(`{"keys":[{"kty":"EC","crv":"P-256","kid":"other","use":"sig","x":%q,"y":%q}]}`, coord(key.X), coord(key.Y))
	sets := map[string]string{"/empty": `{"keys":[]}`, "/one": oneKey}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, sets[r.URL.Path])
	}))
	defer srv.Close()
	tok := fakeJWT(`{"alg":"HS256\u001b]0;X\u0007","typ":"JWT"}`, time.Now().Add(time.Hour))
	for _, c := range []struct {
		path    string
		json    bool
		code    int
		visible string
	}{
		{"/empty", false, 1, "no signing keys"},
		{"/empty", true, 1, "no signing keys"},
		{"/one", false, 4, "INVALID"},
		{"/one", true, 4, `"status":"invalid"`},
	} {
		args := []string{"decode", "--jwks", srv.URL + c.path}
		if c.json {
			args = append(args, "--json")
		}
		out, errOut, code := executeCLI(t, append(args, tok)...)
		if code != c.code || !strings.Contains(out+errOut, c.visible) {
			t.Errorf("%v: exit %d, want %d and %q:\n%s%s", args, code, c.code, c.visible, out, errOut)
		}
		if c.path == "/one" && !strings.Contains(out, "HS256") {
			t.Errorf("%v: the reason lost the alg's visible part:\n%s", args, out)
		}
		assertInert(t, "stdout", out)
		assertInert(t, "stderr", errOut)
	}
}
