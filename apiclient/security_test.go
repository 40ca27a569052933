package apiclient

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"tokenscope/apiclient/profile"
	"tokenscope/demoserver"
	"tokenscope/session"
)

// Security-review tests for the engine: tokens never leave it raw (events, reasons, errors),
// the refresh token goes to the refresh endpoint only, auth headers never follow a redirect to
// another host, huge answers are refused with bounded memory, and nothing the network sends can
// make Do panic. Servers listen on 127.0.0.1:0 only; every helper is prefixed sec so that it
// cannot collide with other test files of the package.

// secPassword is distinctive, so that a leak of it can be searched for.
const secPassword = "Pw-7c1d9e0b-a55w0rd"

// secExchange is one request as the server saw it, with its answer.
type secExchange struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
	Status                 int
	RespBody               []byte
	RespHeader             http.Header // the cookie convention's refresh token is in Set-Cookie
}

// dump is everything the request carried: method, URL, headers and body.
func (x secExchange) dump() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s?%s\n", x.Method, x.Path, x.RawQuery)
	for k, vs := range x.Header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	b.WriteString("\n")
	b.Write(x.Body)
	return b.String()
}

// secRecorder wraps a handler and records every exchange.
type secRecorder struct {
	next   http.Handler
	before func(r *http.Request) // runs before next, when set
	mu     sync.Mutex
	log    []secExchange
}

type secCapture struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (c *secCapture) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *secCapture) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.body.Write(p)
	return c.ResponseWriter.Write(p)
}

func (rec *secRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	r.Body = io.NopCloser(bytes.NewReader(body))
	if rec.before != nil {
		rec.before(r)
	}
	c := &secCapture{ResponseWriter: w}
	rec.next.ServeHTTP(c, r)
	rec.mu.Lock()
	rec.log = append(rec.log, secExchange{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Header: r.Header.Clone(), Body: body, Status: c.status, RespBody: c.body.Bytes(), RespHeader: w.Header().Clone()})
	rec.mu.Unlock()
}

func (rec *secRecorder) exchanges() []secExchange {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]secExchange(nil), rec.log...)
}

var (
	secAccessKeys  = []string{"access", "accessToken", "token", "access_token"}
	secRefreshKeys = []string{"refresh", "refreshToken", "refresh_token"}
)

// secJSONStrings collects the string values of the named keys anywhere in a JSON document.
func secJSONStrings(body []byte, keys []string) []string {
	var doc any
	if json.Unmarshal(body, &doc) != nil {
		return nil
	}
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, vv := range x {
				if s, ok := vv.(string); ok && want[k] && s != "" {
					out = append(out, s)
				}
				walk(vv)
			}
		case []any:
			for _, vv := range x {
				walk(vv)
			}
		}
	}
	walk(doc)
	return out
}

// issuedTokens are every access and refresh token the server handed out.
func (rec *secRecorder) issuedTokens() (all, refresh []string) {
	seen := map[string]bool{}
	for _, x := range rec.exchanges() {
		for _, s := range secJSONStrings(x.RespBody, secAccessKeys) {
			if !seen[s] {
				seen[s] = true
				all = append(all, s)
			}
		}
		for _, s := range secJSONStrings(x.RespBody, secRefreshKeys) {
			if !seen[s] {
				seen[s] = true
				all = append(all, s)
			}
			refresh = append(refresh, s)
		}
		for _, ck := range (&http.Response{Header: x.RespHeader}).Cookies() {
			if ck.Name == "refresh_token" && ck.Value != "" && !seen[ck.Value] {
				seen[ck.Value] = true
				all = append(all, ck.Value)
				refresh = append(refresh, ck.Value)
			}
		}
	}
	return all, refresh
}

// secPieces are the parts of a secret that must not appear: the whole, and for a JWT its
// payload and signature (the header is public boilerplate); for a long opaque token its middle.
func secPieces(secret string) []string {
	out := []string{secret}
	if parts := strings.Split(secret, "."); len(parts) == 3 {
		for _, p := range parts[1:] {
			if len(p) >= 16 {
				out = append(out, p)
			}
		}
	} else if len(secret) >= 32 {
		out = append(out, secret[len(secret)/2-8:len(secret)/2+8])
	}
	return out
}

// secLeaks names (by fingerprint) the secrets whose pieces occur in text.
func secLeaks(text string, secrets []string) []string {
	var out []string
	for _, s := range secrets {
		if s == "" {
			continue
		}
		pieces := secPieces(s)
		// Trivially reversible encodings of the whole secret count too.
		jsonInner, _ := json.Marshal(s) // escapes <, > and & as \u003c, \u003e and \u0026
		for _, v := range []string{url.QueryEscape(s), strings.ReplaceAll(s, "/", `\/`), strings.ReplaceAll(s, "/", `\\/`),
			strings.Trim(string(jsonInner), `"`)} {
			if v != s {
				pieces = append(pieces, v)
			}
		}
		for _, p := range pieces {
			if strings.Contains(text, p) {
				out = append(out, session.Fingerprint(s))
				break
			}
		}
	}
	return out
}

func secCheck(t *testing.T, where, text string, secrets []string) {
	t.Helper()
	if leaks := secLeaks(text, secrets); len(leaks) > 0 {
		t.Errorf("%s carries a raw secret %v: %q", where, leaks, secShort(text))
	}
}

func secShort(s string) string {
	if len(s) > 400 {
		return s[:400] + "…"
	}
	return s
}

// secReport gathers the places a secret leaked to, so that a failing case reports once: the
// places, and one sample.
type secReport struct {
	places []string
	sample string
}

func (r *secReport) check(where, text string, secrets []string) {
	if len(secLeaks(text, secrets)) == 0 {
		return
	}
	for _, p := range r.places {
		if p == where {
			return
		}
	}
	r.places = append(r.places, where)
	if r.sample == "" {
		r.sample = text
	}
}

func (r *secReport) fail(t *testing.T) {
	t.Helper()
	if len(r.places) > 0 {
		t.Errorf("raw secret leaked into: %s\n  e.g. %q", strings.Join(r.places, ", "), secShort(r.sample))
	}
}

func secRand(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func secFastConfig(base string, p profile.Profile) Config {
	return Config{
		BaseURL: base, Profile: p, Username: "alice", Password: secPassword,
		RefreshAttempts: 3, RefreshBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		Timeout: 5 * time.Second, RefreshTimeout: 5 * time.Second,
	}
}

func secProfile(t *testing.T, name string) profile.Profile {
	t.Helper()
	p, ok := profile.Builtin(name)
	if !ok {
		t.Fatalf("no built-in profile %q", name)
	}
	return p
}

func secEngine(t *testing.T, cfg Config) *Engine {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(e.Close)
	return e
}

// secDemo is a demo server behind a recorder, served by httptest on loopback.
func secDemo(t *testing.T, so demoserver.Options) (*demoserver.Server, *secRecorder, string) {
	t.Helper()
	so.Users = map[string]string{"alice": secPassword}
	srv, err := demoserver.New(so)
	if err != nil {
		t.Fatal(err)
	}
	rec := &secRecorder{next: srv}
	ts := httptest.NewServer(rec)
	t.Cleanup(ts.Close)
	return srv, rec, ts.URL
}

func secGet(p profile.Profile) profile.Request { return p.PresetRequests()[0] }

func secPost(t *testing.T, p profile.Profile) profile.Request {
	t.Helper()
	for _, r := range p.PresetRequests() {
		if r.Method == "POST" {
			return r
		}
	}
	t.Fatalf("profile %s has no POST preset", p.Name)
	return profile.Request{}
}

// secNoPanic runs f and turns a panic into a test failure that does not print the panic value
// (it might hold a token).
func secNoPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s panicked (%T)", what, r)
		}
	}()
	f()
}

// ---- 1. tokens never appear raw in the event log, reasons or errors ----

// TestSecurityEventLogHasNoRawTokens runs a session through every story the engine tells
// (logins, a failed login, requests, 404s, 401 → refresh → retry, refresh waits, a transient
// refresh failure, skew, a revoked family with parked requests, replay after login, logout)
// against the demo server for each convention, and checks every event's JSON and Text, every
// Result.Reason and every error for any token the server issued and for the password.
func TestSecurityEventLogHasNoRawTokens(t *testing.T) {
	cases := []struct {
		name, profile string
		opts          demoserver.Options
	}{
		{"simplejwt", "simplejwt", demoserver.Options{}},
		{"bearer-json", "bearer-json", demoserver.Options{}},
		{"element-admin", "element-admin", demoserver.Options{}},
		{"oauth2", "oauth2", demoserver.Options{}},
		{"oauth2-opaque", "oauth2", demoserver.Options{OpaqueOAuth: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, rec, base := secDemo(t, tc.opts)
			p := secProfile(t, tc.profile)
			cfg := secFastConfig(base, p)
			cfg.Log = session.NewLog(0)
			var messages []string
			note := func(what string, s string) { messages = append(messages, what+": "+s) }
			noteRes := func(what string, r Result) { note(what+" reason", r.Reason) }
			ctx := context.Background()

			// A failed login into the same log.
			badCfg := cfg
			badCfg.Password = "wrong-" + secPassword[:4]
			bad := secEngine(t, badCfg)
			if _, err := bad.Login(ctx); err == nil {
				t.Fatal("login with a wrong password succeeded")
			} else {
				note("bad login", err.Error())
			}

			e := secEngine(t, cfg)
			if _, err := e.Login(ctx); err != nil {
				t.Fatalf("login: %v", err)
			}
			get, post := secGet(p), secPost(t, p)
			if r := e.Do(ctx, get); r.Outcome != OK {
				t.Fatalf("first request: %v %d %s", r.Outcome, r.Status, r.Reason)
			}
			noteRes("404", e.Do(ctx, profile.Request{Method: "GET", Path: "/definitely-not-here"}))
			e.SetSingleFlight(false)
			e.SetSingleFlight(true)

			// 401 → refresh → retry.
			srv.ExpireAccessTokens()
			if r := e.Do(ctx, get); r.Outcome != OK || len(r.Attempts) != 2 {
				t.Errorf("after expiry: %v attempts %d (%s)", r.Outcome, len(r.Attempts), r.Reason)
			}
			// Concurrent 401s wait on one refresh.
			srv.SetLatency(0, 30*time.Millisecond)
			srv.ExpireAccessTokens()
			var wg sync.WaitGroup
			var mu sync.Mutex
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := e.Do(ctx, get)
					mu.Lock()
					noteRes("burst", r)
					mu.Unlock()
				}()
			}
			wg.Wait()
			srv.SetLatency(0, 0)
			// A transient refresh failure, then success.
			srv.FailNextRefreshes(1)
			if err := e.RefreshNow(ctx); err != nil {
				note("refresh after a 503", err.Error())
			}
			// Skew, and back.
			srv.SetSkew(-90 * time.Second)
			noteRes("skewed", e.Do(ctx, get))
			srv.SetSkew(0)
			noteRes("unskewed", e.Do(ctx, post))
			// A revoked family: the refresh is rejected, requests are parked, then replayed.
			srv.RevokeAllFamilies()
			srv.ExpireAccessTokens()
			noteRes("parked 1", e.Do(ctx, get))
			noteRes("parked 2", e.Do(ctx, post))
			if err := e.RefreshNow(ctx); err != nil {
				note("refresh while dead", err.Error())
			}
			note("session reason", e.Snapshot().Reason)
			replays, err := e.Login(ctx)
			if err != nil {
				t.Fatalf("login again: %v", err)
			}
			// The skewed server rejects the tokens it minted before the skew, so the parked
			// requests are the skewed one's and the revoked family's: at least two.
			if len(replays) < 2 {
				t.Errorf("replayed %d requests, want at least 2", len(replays))
			}
			for _, r := range replays {
				noteRes("replay", r)
			}
			e.Logout()
			noteRes("after logout", e.Do(ctx, get))
			if _, err := e.Login(ctx); err != nil {
				t.Fatalf("login after logout: %v", err)
			}

			tokens, _ := rec.issuedTokens()
			if len(tokens) < 6 {
				t.Fatalf("the server issued only %d tokens; the run did not happen", len(tokens))
			}
			secrets := append(tokens, secPassword)
			kinds := map[session.Kind]int{}
			for _, ev := range cfg.Log.Events() {
				kinds[ev.Kind]++
				secCheck(t, "event "+ev.Kind.String()+" JSON", string(ev.JSON()), secrets)
				secCheck(t, "event "+ev.Kind.String()+" Text", ev.Text(), secrets)
			}
			for _, m := range messages {
				secCheck(t, "message", m, secrets)
			}
			for _, k := range []session.Kind{
				session.KindLogin, session.KindLoginFailed, session.KindRequest, session.KindResponse,
				session.KindUnauthorized, session.KindRequestFailed, session.KindRefreshStart, session.KindRefreshWait,
				session.KindRefreshOK, session.KindRefreshFailed, session.KindRetry, session.KindParked,
				session.KindReplayed, session.KindLogout, session.KindSkew, session.KindNote,
			} {
				if kinds[k] == 0 {
					t.Errorf("the run produced no %s event; the check did not cover it", k)
				}
			}
		})
	}
}

// secEchoServer is a server for one profile whose login hands out opaque tokens short enough
// to fit in any snippet, and whose refresh endpoint answers as refresh says, with {R} replaced
// by the refresh token it was sent and {A2} by a fresh access token.
type secEchoServer struct {
	ts              *httptest.Server
	access, refresh string
	newAccess       string
}

func newSecEchoServer(t *testing.T, p profile.Profile, refreshStatus int, contentType, refreshBody, refreshTok string) *secEchoServer {
	t.Helper()
	s := &secEchoServer{access: secRand("A-"), refresh: secRand("R-"), newAccess: secRand("N-")}
	if refreshTok != "" {
		s.refresh = refreshTok
	}
	mux := http.NewServeMux()
	loginBody := map[string]string{
		"simplejwt":     `{"access":"{A}","refresh":"{R}"}`,
		"bearer-json":   `{"accessToken":"{A}","refreshToken":"{R}"}`,
		"element-admin": `{"code":20000,"data":{"token":"{A}","refreshToken":"{R}"}}`,
		"oauth2":        `{"access_token":"{A}","token_type":"Bearer","expires_in":3600,"refresh_token":"{R}"}`,
	}[p.Name]
	fill := func(s2 string) string {
		return strings.NewReplacer("{A}", s.access, "{R}", s.refresh, "{A2}", s.newAccess,
			"{R_ESC}", strings.ReplaceAll(s.refresh, "/", `\/`)).Replace(s2)
	}
	isRefresh := func(r *http.Request, body []byte) bool {
		if r.URL.Path != p.Refresh.Path {
			return false
		}
		if p.Name == "oauth2" {
			v, _ := url.ParseQuery(string(body))
			return v.Get("grant_type") == "refresh_token"
		}
		return true
	}
	handler := func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case r.URL.Path == p.Login.Path && !isRefresh(r, body):
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, fill(loginBody))
		case isRefresh(r, body):
			w.Header().Set("Content-Type", contentType)
			w.WriteHeader(refreshStatus)
			_, _ = io.WriteString(w, strings.ReplaceAll(fill(refreshBody), "{BODY}", string(body)))
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"ok":true}`)
		}
	}
	mux.HandleFunc("/", handler)
	s.ts = httptest.NewServer(mux)
	t.Cleanup(s.ts.Close)
	return s
}

// TestSecurityServerEchoedTokenNotInReasons: a refresh endpoint that echoes the refresh token
// (or hands out a token in an unexpected shape) in its answer must not get that token into
// RefreshError.Error(), the event log, the session's reason (the TUI's login dialog shows it)
// or a parked request's Result.Reason. The engine quotes error answers (bodySummary, snippet),
// so it has to scrub what it knows to be secret, and the scrubbing must hold when the echo is
// cut short by the snippet, percent-encoded (an echoed form body) or JSON-escaped.
func TestSecurityServerEchoedTokenNotInReasons(t *testing.T) {
	cases := []struct {
		name, profile string
		status        int
		ctype, body   string
		refresh       string // the refresh token, when the case needs a particular one
	}{
		{"simplejwt 401 detail", "simplejwt", 401, "application/json", `{"detail":"bad token {R}","code":"token_not_valid"}`, ""},
		{"bearer-json 401 message", "bearer-json", 401, "application/json", `{"message":"bad token {R}"}`, ""},
		{"element-admin 50015 message", "element-admin", 401, "application/json", `{"code":50015,"message":"bad token {R}"}`, ""},
		{"oauth2 400 error_description", "oauth2", 400, "application/json", `{"error":"invalid_grant","error_description":"refresh token {R} is revoked"}`, ""},
		{"oauth2 400 error code", "oauth2", 400, "application/json", `{"error":"{R}"}`, ""},
		{"simplejwt 403 other 4xx", "simplejwt", 403, "application/json", `{"detail":"{R} is forbidden"}`, ""},
		{"simplejwt 503 transient", "simplejwt", 503, "application/json", `{"detail":"upstream choked on {R}"}`, ""},
		{"simplejwt 502 plain text", "simplejwt", 502, "text/plain", `bad gateway for {R}`, ""},
		{"simplejwt 200 misnamed field", "simplejwt", 200, "application/json", `{"token":"{A2}"}`, ""},
		{"simplejwt 200 html", "simplejwt", 200, "text/html", `<p>your token is {A2}</p>`, ""},
		{"simplejwt 200 clean rejection", "simplejwt", 401, "application/json", `{"detail":"Token is invalid","code":"token_not_valid"}`, ""},
		// Echoes that are not the token verbatim: cut by the 80-byte snippet, percent-encoded in
		// an echoed form body, JSON-escaped ("\/", as PHP's json_encode writes it).
		{"simplejwt 401 long token cut by the snippet", "simplejwt", 401, "application/json",
			`{"errors":[{"msg":"refresh token {R} is not valid"}]}`, "R-" + strings.Repeat("0123456789abcdef", 3)},
		{"oauth2 400 echoes the form body", "oauth2", 400, "application/json",
			`{"error":"invalid_request","error_description":"cannot parse {BODY}"}`, "R-3q/8+Zx0/k1+Yw9/abc+def/ghi+jkl=="},
		{"simplejwt 401 JSON-escaped slashes", "simplejwt", 401, "application/json",
			`{"errors":"bad token {R_ESC}"}`, "R-3q/8+Zx0/k1+Yw9/abc+def/ghi+jkl=="},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := secProfile(t, tc.profile)
			s := newSecEchoServer(t, p, tc.status, tc.ctype, tc.body, tc.refresh)
			cfg := secFastConfig(s.ts.URL, p)
			cfg.RefreshAttempts = 2
			e := secEngine(t, cfg)
			if _, err := e.Login(context.Background()); err != nil {
				t.Fatalf("login: %v", err)
			}
			secrets := []string{s.access, s.refresh, s.newAccess, secPassword}
			var msgs []string
			secNoPanic(t, "RefreshNow", func() {
				err := e.RefreshNow(context.Background())
				if err == nil {
					t.Fatal("the refresh succeeded")
				}
				msgs = append(msgs, "RefreshNow error: "+err.Error())
				var re *RefreshError
				if errors.As(err, &re) {
					msgs = append(msgs, "RefreshError.Reason: "+re.Reason)
				}
			})
			secNoPanic(t, "Do", func() {
				r := e.Do(context.Background(), secGet(p))
				msgs = append(msgs, "Result.Reason: "+r.Reason)
			})
			msgs = append(msgs, "session reason: "+e.Snapshot().Reason)
			var rep secReport
			for _, m := range msgs {
				rep.check(m[:strings.Index(m, ":")], m, secrets)
			}
			for _, ev := range e.Log().Events() {
				rep.check("event "+ev.Kind.String(), string(ev.JSON())+"\n"+ev.Text(), secrets)
			}
			rep.fail(t)
		})
	}
}

// TestSecurityAccessExpiredReasonDoesNotEchoToken: a profile may recognise "access expired" by
// a field of any value (access_expired.field without values); that value is quoted in the 401
// event, the retry's reason and Result.Reason, so a server that echoes the access token there
// must not get it into any of them.
func TestSecurityAccessExpiredReasonDoesNotEchoToken(t *testing.T) {
	p, err := profile.Parse("echo.toml", []byte(`base = "simplejwt"
name = "echo"
[access_expired]
status = [401]
field = "error"
values = []
`))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var issued []string
	mint := func(prefix string) string {
		mu.Lock()
		defer mu.Unlock()
		tok := secRand(prefix)
		issued = append(issued, tok)
		return tok
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case p.Login.Path, p.Refresh.Path:
			fmt.Fprintf(w, `{"access":%q,"refresh":%q}`, mint("A-"), mint("R-"))
		default:
			w.WriteHeader(http.StatusUnauthorized)
			got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			fmt.Fprintf(w, `{"error":"token %s has expired"}`, got)
		}
	}))
	defer ts.Close()
	e := secEngine(t, secFastConfig(ts.URL, p))
	if _, err := e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	res := e.Do(context.Background(), profile.Request{Method: "GET", Path: "/api/me"})
	if res.Outcome != Failed || len(res.Attempts) != 2 {
		t.Fatalf("outcome %v after %d attempts (%s), want failed after a retry", res.Outcome, len(res.Attempts), res.Reason)
	}
	mu.Lock()
	secrets := append([]string(nil), issued...)
	mu.Unlock()
	var rep secReport
	rep.check("Result.Reason", "Result.Reason: "+res.Reason, secrets)
	for _, ev := range e.Log().Events() {
		rep.check("event "+ev.Kind.String(), string(ev.JSON())+"\n"+ev.Text(), secrets)
	}
	rep.fail(t)
}

// TestSecurityLoginErrorsDoNotEchoTokens: a login answer the profile cannot read (tokens under
// other names, a missing refresh token, HTML) is reported, but without the tokens it carried.
func TestSecurityLoginErrorsDoNotEchoTokens(t *testing.T) {
	a, r := secRand("A-"), secRand("R-")
	cases := []struct {
		name, ctype, body string
	}{
		{"tokens under other names", "application/json", `{"token":"` + a + `","refresh_token":"` + r + `"}`},
		{"refresh token missing", "application/json", `{"access":"` + a + `"}`},
		{"access token is a number, refresh given", "application/json", `{"refresh":"` + r + `","access":1}`},
		{"html", "text/html", `<html>token=` + a + `</html>`},
		{"not json", "application/json", `access=` + a + `&refresh=` + r},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				_, _ = io.Copy(io.Discard, req.Body)
				w.Header().Set("Content-Type", tc.ctype)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer ts.Close()
			e := secEngine(t, secFastConfig(ts.URL, secProfile(t, "simplejwt")))
			var err error
			secNoPanic(t, "Login", func() { _, err = e.Login(context.Background()) })
			if err == nil {
				t.Fatal("login succeeded")
			}
			var rep secReport
			secrets := []string{a, r, secPassword}
			rep.check("login error", err.Error(), secrets)
			for _, ev := range e.Log().Events() {
				rep.check("event "+ev.Kind.String(), string(ev.JSON())+"\n"+ev.Text(), secrets)
			}
			rep.fail(t)
		})
	}
}

// TestSecurityLoginErrorDoesNotEchoPassword: a login endpoint that repeats the password in its
// error message, or echoes the whole request body it could not use, must not get the password
// into the login error or the log, in any trivially reversible form (a form body echoes it
// percent-encoded).
func TestSecurityLoginErrorDoesNotEchoPassword(t *testing.T) {
	const oddPassword = "p@ss w0rd+/=&x-9f"
	for _, prof := range profile.Names() {
		for _, mode := range []string{"message", "echoed body"} {
			t.Run(prof+"/"+mode, func(t *testing.T) {
				p := secProfile(t, prof)
				ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
					body, _ := io.ReadAll(req.Body)
					pw := ""
					if v, err := url.ParseQuery(string(body)); err == nil && v.Get("password") != "" {
						pw = v.Get("password")
					}
					var m map[string]any
					if json.Unmarshal(body, &m) == nil {
						pw, _ = m["password"].(string)
					}
					text := "wrong password " + pw + " for alice"
					if mode == "echoed body" {
						text = "cannot use the request " + string(body)
					}
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusUnauthorized)
					msg, _ := json.Marshal(text)
					fmt.Fprintf(w, `{"detail":%s,"message":%s,"error":"invalid_grant","error_description":%s,"code":40100}`, msg, msg, msg)
				}))
				defer ts.Close()
				cfg := secFastConfig(ts.URL, p)
				cfg.Password = oddPassword
				e := secEngine(t, cfg)
				_, err := e.Login(context.Background())
				if err == nil {
					t.Fatal("login succeeded")
				}
				var rep secReport
				rep.check("login error", err.Error(), []string{oddPassword})
				for _, ev := range e.Log().Events() {
					rep.check("event "+ev.Kind.String(), string(ev.JSON())+"\n"+ev.Text(), []string{oddPassword})
				}
				rep.fail(t)
			})
		}
	}
}

// TestSecurityDoNeverPanicsOnGarbage: whatever a resource, login or refresh endpoint answers
// (random bytes, broken framing, lying lengths, bad gzip, absurd JSON), Do, Login and
// RefreshNow return; they never panic.
func TestSecurityDoNeverPanicsOnGarbage(t *testing.T) {
	junk := make([]byte, 4096)
	_, _ = rand.Read(junk)
	raw := func(s string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			hj, ok := w.(http.Hijacker)
			if !ok {
				return
			}
			conn, buf, err := hj.Hijack()
			if err != nil {
				return
			}
			_, _ = buf.WriteString(s)
			_ = buf.Flush()
			_ = conn.Close()
		}
	}
	garbage := map[string]http.HandlerFunc{
		"random bytes as json": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(junk)
		},
		"401 random bytes": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("WWW-Authenticate", string(junk[:40]))
			w.WriteHeader(401)
			_, _ = w.Write(junk)
		},
		"401 json of the wrong shapes": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(401)
			_, _ = io.WriteString(w, `{"code":{"code":[null,1e999]},"data":[1,2],"detail":{},"error":[],"message":12}`)
		},
		"401 deeply nested": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(401)
			_, _ = io.WriteString(w, strings.Repeat("[", 100000)+strings.Repeat("]", 100000))
		},
		"raw garbage":       raw("\x00\xff\xfe garbage\r\n\r\n"),
		"bad status line":   raw("HTTP/1.1 99999999999999999999 Nope\r\nContent-Length: 3\r\n\r\nabc"),
		"truncated headers": raw("HTTP/1.1 200 OK\r\nContent-Type: appl"),
		"short body":        raw("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"a\":"),
		"bad chunking":      raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n"),
		"bad gzip": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(junk)
		},
		"401 bad gzip": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			w.WriteHeader(401)
			_, _ = w.Write(junk[:100])
		},
		"1xx then close": raw("HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"),
		"status 999": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(999)
			_, _ = w.Write(junk[:64])
		},
		"expires_in nonsense": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"access_token":"a.b.c","refresh_token":"x.y","expires_in":1e308,"access":"eyJ.eyJ.x","refresh":"..","token":"%%%","accessToken":"\u0000","refreshToken":"\ud800","data":{"token":"a","refreshToken":"b"},"code":20000}`)
		},
	}
	for _, prof := range profile.Names() {
		p := secProfile(t, prof)
		for name, h := range garbage {
			t.Run(prof+"/"+name, func(t *testing.T) {
				var loginOK bool
				goodLogin := map[string]string{
					"simplejwt":     `{"access":"ga","refresh":"gr"}`,
					"bearer-json":   `{"accessToken":"ga","refreshToken":"gr"}`,
					"element-admin": `{"code":20000,"data":{"token":"ga","refreshToken":"gr"}}`,
					"oauth2":        `{"access_token":"ga","refresh_token":"gr","expires_in":60}`,
				}[prof]
				var mu sync.Mutex
				ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					body, _ := io.ReadAll(r.Body)
					mu.Lock()
					first := !loginOK && r.URL.Path == p.Login.Path && !strings.Contains(string(body), "refresh_token=")
					if first {
						loginOK = true
					}
					mu.Unlock()
					if first {
						w.Header().Set("Content-Type", "application/json")
						_, _ = io.WriteString(w, goodLogin)
						return
					}
					h(w, r)
				}))
				defer ts.Close()
				cfg := secFastConfig(ts.URL, p)
				cfg.Timeout, cfg.RefreshTimeout, cfg.RefreshAttempts = 2*time.Second, 2*time.Second, 2
				e := secEngine(t, cfg)
				ctx := context.Background()
				secNoPanic(t, "Login", func() { _, _ = e.Login(ctx) })
				for i := range 2 {
					secNoPanic(t, fmt.Sprintf("Do #%d", i+1), func() {
						res := e.Do(ctx, secGet(p))
						if res.Outcome != OK && res.Outcome != Failed && res.Outcome != Parked {
							t.Errorf("outcome %d", res.Outcome)
						}
						if res.Outcome != OK && res.Reason == "" {
							t.Errorf("outcome %v without a reason", res.Outcome)
						}
					})
					secNoPanic(t, "RefreshNow", func() { _ = e.RefreshNow(ctx) })
				}
				secNoPanic(t, "Login again", func() { _, _ = e.Login(ctx) })
				secNoPanic(t, "Snapshot", func() { _ = e.Snapshot() })
			})
		}
	}
}

// ---- 4. no auth header to another host on a redirect ----

// secRedirectWorld is server A (login, redirecting resources) and server B (another port).
// "Another host" is reached by name: A's and B's own ports under "localhost" instead of
// 127.0.0.1, so that the host name changes even when the port does not.
type secRedirectWorld struct {
	a, b          *httptest.Server
	mu            sync.Mutex
	seen          map[string][]secExchange // by "A" or "B" plus path
	access, rfrsh string
}

func (w *secRedirectWorld) record(who string, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.mu.Lock()
	defer w.mu.Unlock()
	k := who + " " + r.URL.Path
	w.seen[k] = append(w.seen[k], secExchange{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
}

func (w *secRedirectWorld) got(k string) []secExchange {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]secExchange(nil), w.seen[k]...)
}

// otherHost is base with 127.0.0.1 replaced by localhost.
func secOtherHost(base string) string { return strings.Replace(base, "127.0.0.1", "localhost", 1) }

func newSecRedirectWorld(t *testing.T, p profile.Profile) *secRedirectWorld {
	t.Helper()
	w := &secRedirectWorld{seen: map[string][]secExchange{}, access: secRand("AT-"), rfrsh: secRand("RT-")}
	w.b = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.record("B", r)
		if r.URL.Path == "/hop" {
			http.Redirect(rw, r, "/landing", http.StatusTemporaryRedirect)
			return
		}
		rw.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(rw, `{"landed":"b"}`)
	}))
	t.Cleanup(w.b.Close)
	loginBody := map[string]string{
		"bearer-json":   fmt.Sprintf(`{"accessToken":%q,"refreshToken":%q}`, w.access, w.rfrsh),
		"element-admin": fmt.Sprintf(`{"code":20000,"data":{"token":%q,"refreshToken":%q}}`, w.access, w.rfrsh),
	}[p.Name]
	var aURL string
	w.a = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.record("A", r)
		bOther := secOtherHost(w.b.URL)
		switch r.URL.Path {
		case p.Login.Path:
			rw.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(rw, loginBody)
		case "/to-other-name-same-port":
			http.Redirect(rw, r, secOtherHost(aURL)+"/landing", http.StatusFound)
		case "/to-other-port":
			http.Redirect(rw, r, w.b.URL+"/landing", http.StatusTemporaryRedirect)
		case "/to-other-host-307":
			http.Redirect(rw, r, bOther+"/landing", http.StatusTemporaryRedirect)
		case "/to-other-host-308":
			http.Redirect(rw, r, bOther+"/landing", http.StatusPermanentRedirect)
		case "/chain-1":
			http.Redirect(rw, r, "/chain-2", http.StatusFound)
		case "/chain-2":
			http.Redirect(rw, r, bOther+"/landing", http.StatusFound)
		case "/chain-307-1":
			http.Redirect(rw, r, "/chain-307-2", http.StatusTemporaryRedirect)
		case "/chain-307-2":
			http.Redirect(rw, r, bOther+"/landing", http.StatusTemporaryRedirect)
		case "/chain-other-first":
			http.Redirect(rw, r, bOther+"/hop", http.StatusTemporaryRedirect)
		default:
			rw.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(rw, `{"landed":"a"}`)
		}
	}))
	aURL = w.a.URL
	t.Cleanup(w.a.Close)
	return w
}

// TestSecurityRedirectDropsAuthToOtherHost: the access token (Authorization for bearer-json,
// X-Token for element-admin, and an Authorization header the user set by hand) never reaches
// another host or port through a redirect: a 302 GET to another host name on the same port, a
// 307/308 POST to another host, and chains that stay on A for one hop first.
func TestSecurityRedirectDropsAuthToOtherHost(t *testing.T) {
	cases := []struct {
		name, method, path string
		landing            string // the key of the request that must arrive
		hops               []string
	}{
		{"302 GET other name same port", "GET", "/to-other-name-same-port", "A /landing", nil},
		{"307 POST other port", "POST", "/to-other-port", "B /landing", nil},
		{"307 POST other host", "POST", "/to-other-host-307", "B /landing", nil},
		{"308 POST other host", "POST", "/to-other-host-308", "B /landing", nil},
		{"302 chain same host then other host", "GET", "/chain-1", "B /landing", []string{"A /chain-2"}},
		{"307 POST chain same host then other host", "POST", "/chain-307-1", "B /landing", []string{"A /chain-307-2"}},
		{"307 POST chain other host then on it", "POST", "/chain-other-first", "B /landing", []string{"B /hop"}},
	}
	for _, prof := range []string{"bearer-json", "element-admin"} {
		for _, tc := range cases {
			t.Run(prof+"/"+tc.name, func(t *testing.T) {
				p := secProfile(t, prof)
				w := newSecRedirectWorld(t, p)
				e := secEngine(t, secFastConfig(w.a.URL, p))
				if _, err := e.Login(context.Background()); err != nil {
					t.Fatal(err)
				}
				body := []byte(`{"name":"widget","qty":1}`)
				req := profile.Request{Method: tc.method, Path: tc.path, Header: http.Header{}}
				if tc.method == "POST" {
					req.Body = body
					req.Header.Set("Content-Type", "application/json")
				}
				// A header the user set by hand on a request is a credential too.
				req.Header.Set("Authorization", "Basic "+w.rfrsh+"-manual")
				res := e.Do(context.Background(), req)
				if res.Outcome != OK {
					t.Fatalf("outcome %v status %d (%s)", res.Outcome, res.Status, res.Reason)
				}
				first := w.got("A " + tc.path)
				if len(first) != 1 || !strings.Contains(first[0].dump(), w.access) {
					t.Fatalf("A %s did not get the token: %d requests", tc.path, len(first))
				}
				for _, hop := range tc.hops {
					if n := len(w.got(hop)); n != 1 {
						t.Errorf("hop %s seen %d times, want 1", hop, n)
					}
				}
				landed := w.got(tc.landing)
				if len(landed) != 1 {
					t.Fatalf("%s reached %d times, want 1 (the redirect was not followed)", tc.landing, len(landed))
				}
				x := landed[0]
				if tc.method == "POST" && (x.Method != "POST" || !bytes.Equal(x.Body, body)) {
					t.Errorf("307/308 landed as %s with body %q", x.Method, x.Body)
				}
				for _, h := range []string{"Authorization", "X-Token", p.Auth.Header, "Cookie"} {
					if v := x.Header.Get(h); v != "" {
						t.Errorf("%s (another host) got %s: %q", tc.landing, h, v)
					}
				}
				secCheck(t, tc.landing+" request", x.dump(), []string{w.access, w.rfrsh})
			})
		}
	}
}

// TestSecurityLoginAndRefreshNeverFollowRedirects: credentials and the refresh token are sent
// to their endpoints only; a redirect of either, even a 307 that would replay the body, is not
// followed.
func TestSecurityLoginAndRefreshNeverFollowRedirects(t *testing.T) {
	for _, prof := range []string{"simplejwt", "element-admin", "oauth2"} {
		t.Run(prof, func(t *testing.T) {
			p := secProfile(t, prof)
			var bHits sync.Map
			b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				bHits.Store(r.URL.Path, string(body)+fmt.Sprint(r.Header))
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"access":"b","refresh":"b","accessToken":"b","refreshToken":"b","access_token":"b","refresh_token":"b","code":20000,"data":{"token":"b","refreshToken":"b"}}`)
			}))
			defer b.Close()
			redirectLogin := true
			var mu sync.Mutex
			refreshTok := secRand("RT-")
			a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				mu.Lock()
				rl := redirectLogin
				mu.Unlock()
				isRefresh := r.URL.Path == p.Refresh.Path && (prof != "oauth2" || strings.Contains(string(body), "grant_type=refresh_token"))
				switch {
				case isRefresh:
					http.Redirect(w, r, secOtherHost(b.URL)+"/stolen-refresh", http.StatusTemporaryRedirect)
				case r.URL.Path == p.Login.Path && rl:
					http.Redirect(w, r, secOtherHost(b.URL)+"/stolen-login", http.StatusTemporaryRedirect)
				case r.URL.Path == p.Login.Path:
					w.Header().Set("Content-Type", "application/json")
					_, _ = fmt.Fprintf(w, `{"access":"a1","refresh":%[1]q,"accessToken":"a1","refreshToken":%[1]q,"access_token":"a1","refresh_token":%[1]q,"code":20000,"data":{"token":"a1","refreshToken":%[1]q}}`, refreshTok)
				default:
					w.Header().Set("Content-Type", "application/json")
					_, _ = io.WriteString(w, `{}`)
				}
			}))
			defer a.Close()
			e := secEngine(t, secFastConfig(a.URL, p))
			if _, err := e.Login(context.Background()); err == nil {
				t.Error("login through a redirect succeeded")
			}
			mu.Lock()
			redirectLogin = false
			mu.Unlock()
			if _, err := e.Login(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := e.RefreshNow(context.Background()); err == nil {
				t.Error("refresh through a redirect succeeded")
			}
			bHits.Range(func(k, v any) bool {
				t.Errorf("the other host got %v: %.200s", k, v)
				return true
			})
		})
	}
}

// ---- 5. the refresh token goes to the refresh endpoint only ----

// TestSecurityRefreshTokenOnlyToRefreshEndpoint records every request the demo server gets
// during login, requests, 401 → refresh → retry, a manual refresh and a POST, for each built-in
// convention, and checks that no refresh token ever issued appears in any request (URL,
// headers or body) other than a refresh call.
func TestSecurityRefreshTokenOnlyToRefreshEndpoint(t *testing.T) {
	for _, prof := range profile.Names() {
		t.Run(prof, func(t *testing.T) {
			srv, rec, base := secDemo(t, demoserver.Options{})
			p := secProfile(t, prof)
			e := secEngine(t, secFastConfig(base, p))
			ctx := context.Background()
			if _, err := e.Login(ctx); err != nil {
				t.Fatal(err)
			}
			get, post := secGet(p), secPost(t, p)
			for _, r := range []profile.Request{get, post} {
				if res := e.Do(ctx, r); res.Outcome != OK {
					t.Fatalf("%s %s: %v %s", r.Method, r.Path, res.Outcome, res.Reason)
				}
			}
			srv.ExpireAccessTokens()
			if res := e.Do(ctx, get); res.Outcome != OK || len(res.Attempts) != 2 {
				t.Fatalf("401 → refresh → retry: %v attempts %d %s", res.Outcome, len(res.Attempts), res.Reason)
			}
			if err := e.RefreshNow(ctx); err != nil {
				t.Fatal(err)
			}
			srv.ExpireAccessTokens()
			if res := e.Do(ctx, post); res.Outcome != OK || len(res.Attempts) != 2 {
				t.Fatalf("POST after expiry: %v attempts %d %s", res.Outcome, len(res.Attempts), res.Reason)
			}
			if c := e.Counters(); c.RefreshOK < 3 {
				t.Fatalf("only %d refreshes happened", c.RefreshOK)
			}

			_, refresh := rec.issuedTokens()
			if len(refresh) < 3 {
				t.Fatalf("only %d refresh tokens issued", len(refresh))
			}
			refreshCalls := 0
			for _, x := range rec.exchanges() {
				isRefresh := x.Method == p.Refresh.Method && x.Path == p.Refresh.Path
				if prof == "oauth2" {
					v, _ := url.ParseQuery(string(x.Body))
					isRefresh = isRefresh && v.Get("grant_type") == "refresh_token"
				}
				if isRefresh {
					refreshCalls++
					if len(secLeaks(x.dump(), refresh)) == 0 {
						t.Errorf("a refresh call carried no refresh token")
					}
					continue
				}
				if leaks := secLeaks(x.dump(), refresh); len(leaks) > 0 {
					t.Errorf("%s %s carried refresh token(s) %v", x.Method, x.Path, leaks)
				}
			}
			if refreshCalls < 3 {
				t.Errorf("the server saw %d refresh calls, want ≥ 3", refreshCalls)
			}
		})
	}
}

// ---- 7. huge answers are refused, with bounded memory ----

// secMeasure runs f and reports the highest heap in use while it ran, above the heap before,
// and the bytes allocated in all.
func secMeasure(f func()) (peak, total uint64) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	stop, done := make(chan struct{}), make(chan uint64)
	go func() {
		top := before.HeapAlloc
		tk := time.NewTicker(2 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				done <- top
				return
			case <-tk.C:
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				top = max(top, ms.HeapAlloc)
			}
		}
	}()
	f()
	close(stop)
	top := <-done
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	top = max(top, after.HeapAlloc)
	return top - min(top, before.HeapAlloc), after.TotalAlloc - before.TotalAlloc
}

// secBigHandler streams n bytes of filler (n < 0: up to 256 MiB, chunked), stopping as soon as
// the client goes away. gzipped sends n bytes of zeros compressed (a gzip bomb), made once.
func secBigHandler(n int64, gzipped bool) http.HandlerFunc {
	chunk := bytes.Repeat([]byte("A"), 64<<10)
	var bomb []byte
	if gzipped {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		zeros := make([]byte, 1<<20)
		for i := int64(0); i < n; i += int64(len(zeros)) {
			_, _ = zw.Write(zeros)
		}
		_ = zw.Close()
		bomb = buf.Bytes()
	}
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		if gzipped {
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Content-Length", fmt.Sprint(len(bomb)))
			_, _ = w.Write(bomb)
			return
		}
		limit := n
		if n < 0 {
			limit = 256 << 20
		} else {
			w.Header().Set("Content-Length", fmt.Sprint(n))
		}
		bw := bufio.NewWriterSize(w, len(chunk))
		for sent := int64(0); sent < limit; sent += int64(len(chunk)) {
			if _, err := bw.Write(chunk[:min(int64(len(chunk)), limit-sent)]); err != nil {
				return
			}
			if r.Context().Err() != nil {
				return
			}
		}
		_ = bw.Flush()
	}
}

// TestSecurityHugeResponseIsRefused: a resource answering 10 MiB (over the default 4 MiB cap),
// an endless body and a gzip bomb all end Failed with a reason that says the body was too large,
// keep nothing of the body, stop reading at the cap and keep the heap bounded; a 10 MiB login
// answer fails the login the same way.
func TestSecurityHugeResponseIsRefused(t *testing.T) {
	p := secProfile(t, "simplejwt")
	cases := []struct {
		name    string
		n       int64
		gzipped bool
	}{
		{"10 MiB", 10 << 20, false},
		{"endless", -1, false},
		{"gzip bomb 32 MiB", 32 << 20, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mux := http.NewServeMux()
			mux.HandleFunc("POST /api/token/", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"access":"small-access","refresh":"small-refresh"}`)
			})
			mux.HandleFunc("/big", secBigHandler(tc.n, tc.gzipped))
			ts := httptest.NewServer(mux)
			defer ts.Close()
			cfg := secFastConfig(ts.URL, p)
			cfg.Timeout = 20 * time.Second
			e := secEngine(t, cfg)
			if _, err := e.Login(context.Background()); err != nil {
				t.Fatal(err)
			}
			var res Result
			start := time.Now()
			peak, total := secMeasure(func() { res = e.Do(context.Background(), profile.Request{Method: "GET", Path: "/big"}) })
			took := time.Since(start)
			t.Logf("peak heap +%d KiB, allocated %d KiB, %s", peak>>10, total>>10, took.Round(time.Millisecond))
			if res.Outcome != Failed {
				t.Fatalf("outcome %v status %d, want Failed", res.Outcome, res.Status)
			}
			if !strings.Contains(res.Reason, "too large") {
				t.Errorf("reason %q does not say the body was too large", res.Reason)
			}
			if len(res.Body) != 0 {
				t.Errorf("the failed result keeps %d bytes of body", len(res.Body))
			}
			if peak > 48<<20 {
				t.Errorf("heap grew by %d MiB while refusing the body (cap 4 MiB)", peak>>20)
			}
			if total > 160<<20 {
				t.Errorf("%d MiB allocated while refusing the body (cap 4 MiB)", total>>20)
			}
			if took > 10*time.Second {
				t.Errorf("refusing the body took %s", took)
			}
		})
	}
	t.Run("login answer of 10 MiB", func(t *testing.T) {
		ts := httptest.NewServer(secBigHandler(10<<20, false))
		defer ts.Close()
		e := secEngine(t, secFastConfig(ts.URL, p))
		_, err := e.Login(context.Background())
		if err == nil || !strings.Contains(err.Error(), "too large") {
			t.Errorf("login error %v, want one saying the answer was too large", err)
		}
	})
}
