package apiclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tokenscope/apiclient/profile"
	"tokenscope/internal/clock"
	"tokenscope/session"
)

// The hosted services' wire formats, reproduced by loopback servers from their public
// documentation: Firebase Auth REST API (identitytoolkit signInWithPassword, securetoken
// /v1/token), Supabase Auth (GoTrue /auth/v1/token), Amazon Cognito user pools (InitiateAuth,
// JSON 1.1). Field names, types (Firebase's expiresIn is a string), content types, status codes
// and error shapes are as documented; tokens are opaque, so expires_in drives the countdown.

const (
	testFirebaseKey = "AIzaSyTEST-firebase-web-api-key-0123456789"
	testSupabaseKey = "sb-anon-key-eyJ0ZXN0IjoiYW5vbiJ9-abcdef"
	testCognitoID   = "3n4b5urk1ft4fl3mg5e62d9ado"
)

// hostedServer is the state every fake service shares: one user, its tokens and counters.
type hostedServer struct {
	t        *testing.T
	clock    *clock.Manual
	mu       sync.Mutex
	seq      int
	access   string          // the current access token
	accessAt time.Time       // when it was issued, by the manual clock
	refresh  map[string]bool // refresh token → still good
	rotate   bool
	revoked  atomic.Bool // every refresh token rejected from now on
	refreshN atomic.Int32
	hosts    sync.Map // host → true, every host the engine's transport was asked for
}

func newHostedServer(t *testing.T, clock *clock.Manual, rotate bool) *hostedServer {
	return &hostedServer{t: t, clock: clock, refresh: map[string]bool{}, rotate: rotate}
}

// issue mints a new opaque pair; keepRefresh is the refresh token to keep, "" for a new one.
func (s *hostedServer) issue(keepRefresh string) (access, refresh string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	s.access, s.accessAt = fmt.Sprintf("opaque-access-%d-%x", s.seq, s.seq*7919), s.clock.Now()
	if keepRefresh != "" {
		return s.access, keepRefresh
	}
	refresh = fmt.Sprintf("opaque-refresh-%d-%x", s.seq, s.seq*104729)
	s.refresh[refresh] = true
	return s.access, refresh
}

// useRefresh checks a refresh token: "" when good, else why not ("used", "unknown").
func (s *hostedServer) useRefresh(r string) string {
	s.refreshN.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	good, known := s.refresh[r]
	switch {
	case s.revoked.Load() || !known:
		return "unknown"
	case !good:
		return "used"
	}
	if s.rotate {
		s.refresh[r] = false
	}
	return ""
}

// api is the protected resource: the current access token, unexpired (an hour), or 401.
func (s *hostedServer) api(w http.ResponseWriter, r *http.Request, extra func(*http.Request) bool) {
	s.mu.Lock()
	ok := r.Header.Get("Authorization") == "Bearer "+s.access && s.clock.Now().Sub(s.accessAt) < time.Hour
	s.mu.Unlock()
	if !ok || (extra != nil && !extra(r)) {
		writeJSON(w, s.clock, "application/json", http.StatusUnauthorized, map[string]any{"message": "JWT expired"})
		return
	}
	writeJSON(w, s.clock, "application/json", http.StatusOK, map[string]any{"ok": true})
}

func writeJSON(w http.ResponseWriter, clock *clock.Manual, ct string, status int, v any) {
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Date", clock.Now().UTC().Format(http.TimeFormat)) // the engine learns the clock from it
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// firebaseHandler serves identitytoolkit's signInWithPassword, securetoken's /v1/token and the
// app's own API, as https://firebase.google.com/docs/reference/rest/auth documents them.
func firebaseHandler(s *hostedServer) http.Handler {
	fail := func(w http.ResponseWriter, status int, msg string) {
		writeJSON(w, s.clock, "application/json; charset=UTF-8", status,
			map[string]any{"error": map[string]any{"code": status, "message": msg, "status": "INVALID_ARGUMENT"}})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/accounts:signInWithPassword", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Email, Password   string
			ReturnSecureToken bool `json:"returnSecureToken"`
		}
		if r.URL.Query().Get("key") != testFirebaseKey {
			fail(w, 400, "API key not valid. Please pass a valid API key.")
			return
		}
		if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&in) != nil || !in.ReturnSecureToken {
			fail(w, 400, "INVALID_ARGUMENT")
			return
		}
		if in.Email != "ada@example.com" || in.Password != "pw-firebase" {
			fail(w, 400, "INVALID_LOGIN_CREDENTIALS")
			return
		}
		a, rt := s.issue("")
		writeJSON(w, s.clock, "application/json; charset=UTF-8", 200, map[string]any{"kind": "identitytoolkit#VerifyPasswordResponse",
			"localId": "uid-1", "email": in.Email, "displayName": "", "idToken": a, "registered": true, "refreshToken": rt, "expiresIn": "3600"})
	})
	mux.HandleFunc("POST /v1/token", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("key") != testFirebaseKey {
			fail(w, 400, "API key not valid. Please pass a valid API key.")
			return
		}
		if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.ParseForm() != nil || r.PostForm.Get("grant_type") != "refresh_token" {
			fail(w, 400, "INVALID_GRANT_TYPE")
			return
		}
		rt := r.PostForm.Get("refresh_token")
		if why := s.useRefresh(rt); why != "" {
			fail(w, 400, "TOKEN_EXPIRED")
			return
		}
		a, _ := s.issue(rt) // Firebase answers with the refresh token it was given
		writeJSON(w, s.clock, "application/json; charset=UTF-8", 200, map[string]any{"expires_in": "3600", "token_type": "Bearer",
			"refresh_token": rt, "id_token": a, "user_id": "uid-1", "project_id": "1234567890"})
	})
	mux.HandleFunc("GET /api/me", func(w http.ResponseWriter, r *http.Request) { s.api(w, r, nil) })
	return mux
}

// supabaseHandler serves GoTrue's /auth/v1/token behind the API gateway (apikey required) and
// a PostgREST table, as supabase.com/docs and the GoTrue API document them.
func supabaseHandler(s *hostedServer) http.Handler {
	fail := func(w http.ResponseWriter, status int, code, msg string) {
		writeJSON(w, s.clock, "application/json", status, map[string]any{"code": status, "error_code": code, "msg": msg})
	}
	keyed := func(r *http.Request) bool { return r.Header.Get("apikey") == testSupabaseKey }
	mux := http.NewServeMux()
	mux.HandleFunc("POST /auth/v1/token", func(w http.ResponseWriter, r *http.Request) {
		if !keyed(r) {
			writeJSON(w, s.clock, "application/json", 401, map[string]any{"message": "No API key found in request"})
			return
		}
		var in struct{ Email, Password, RefreshToken string }
		body, _ := io.ReadAll(r.Body)
		var raw map[string]string
		if r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &raw) != nil {
			fail(w, 400, "bad_json", "Could not parse request body as JSON")
			return
		}
		in.Email, in.Password, in.RefreshToken = raw["email"], raw["password"], raw["refresh_token"]
		switch r.URL.Query().Get("grant_type") {
		case "password":
			if in.Email != "ada@example.com" || in.Password != "pw-supabase" {
				fail(w, 400, "invalid_credentials", "Invalid login credentials")
				return
			}
		case "refresh_token":
			switch s.useRefresh(in.RefreshToken) {
			case "unknown":
				fail(w, 400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found")
				return
			case "used":
				fail(w, 400, "refresh_token_already_used", "Invalid Refresh Token: Already Used")
				return
			}
		default:
			fail(w, 400, "validation_failed", "unsupported_grant_type")
			return
		}
		a, rt := s.issue("")
		writeJSON(w, s.clock, "application/json", 200, map[string]any{"access_token": a, "token_type": "bearer", "expires_in": 3600,
			"expires_at": s.clock.Now().Add(time.Hour).Unix(), "refresh_token": rt, "user": map[string]any{"id": "uid-1"}})
	})
	mux.HandleFunc("GET /rest/v1/items", func(w http.ResponseWriter, r *http.Request) { s.api(w, r, keyed) })
	return mux
}

// cognitoHandler serves InitiateAuth at the user pool's regional endpoint (AWS JSON 1.1) and
// an API Gateway resource, as the Amazon Cognito API Reference documents them.
func cognitoHandler(s *hostedServer) http.Handler {
	const ct = "application/x-amz-json-1.1"
	fail := func(w http.ResponseWriter, typ, msg string) {
		writeJSON(w, s.clock, ct, 400, map[string]any{"__type": typ, "message": msg})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{$}", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			AuthFlow       string
			ClientID       string `json:"ClientId"`
			AuthParameters map[string]string
		}
		if r.Header.Get("X-Amz-Target") == "AWSCognitoIdentityProviderService.GetTokensFromRefreshToken" {
			cognitoGetTokens(s, w, r)
			return
		}
		if r.Header.Get("X-Amz-Target") != "AWSCognitoIdentityProviderService.InitiateAuth" {
			fail(w, "UnknownOperationException", "")
			return
		}
		if r.Header.Get("Content-Type") != ct || json.NewDecoder(r.Body).Decode(&in) != nil {
			fail(w, "SerializationException", "Start of structure or map found where not expected.")
			return
		}
		if in.ClientID != testCognitoID {
			fail(w, "ResourceNotFoundException", "User pool client "+in.ClientID+" does not exist.")
			return
		}
		res := map[string]any{"ExpiresIn": 3600, "TokenType": "Bearer", "IdToken": "opaque-id-token"}
		switch in.AuthFlow {
		case "USER_PASSWORD_AUTH":
			if in.AuthParameters["USERNAME"] != "ada" || in.AuthParameters["PASSWORD"] != "pw-cognito" {
				fail(w, "NotAuthorizedException", "Incorrect username or password.")
				return
			}
			res["AccessToken"], res["RefreshToken"] = s.issue("")
		case "REFRESH_TOKEN_AUTH":
			rt := in.AuthParameters["REFRESH_TOKEN"]
			if s.useRefresh(rt) != "" {
				fail(w, "NotAuthorizedException", "Refresh Token has been revoked")
				return
			}
			res["AccessToken"], _ = s.issue(rt) // no RefreshToken: InitiateAuth never rotates
		default:
			fail(w, "InvalidParameterException", "Unknown AuthFlow")
			return
		}
		writeJSON(w, s.clock, ct, 200, map[string]any{"AuthenticationResult": res, "ChallengeParameters": map[string]any{}})
	})
	mux.HandleFunc("GET /api/me", func(w http.ResponseWriter, r *http.Request) { s.api(w, r, nil) })
	return mux
}

// cognitoGetTokens is GetTokensFromRefreshToken for an app client with refresh token rotation:
// {ClientId, RefreshToken} in, a new RefreshToken with the others out.
func cognitoGetTokens(s *hostedServer, w http.ResponseWriter, r *http.Request) {
	const ct = "application/x-amz-json-1.1"
	var in struct{ ClientId, RefreshToken string }
	if r.Header.Get("Content-Type") != ct || json.NewDecoder(r.Body).Decode(&in) != nil || in.ClientId != testCognitoID {
		writeJSON(w, s.clock, ct, 400, map[string]any{"__type": "InvalidParameterException", "message": "bad request"})
		return
	}
	if s.useRefresh(in.RefreshToken) != "" {
		writeJSON(w, s.clock, ct, 400, map[string]any{"__type": "NotAuthorizedException", "message": "Refresh Token has been revoked"})
		return
	}
	a, rt := s.issue("")
	writeJSON(w, s.clock, ct, 200, map[string]any{"AuthenticationResult": map[string]any{"AccessToken": a, "ExpiresIn": 3600,
		"IdToken": "opaque-id-token", "RefreshToken": rt, "TokenType": "Bearer"}})
}

// cognitoRotation is the README's profile for an app client with refresh token rotation.
const cognitoRotation = `base = "cognito"
[refresh]
token_field = "RefreshToken"
headers = {X-Amz-Target = "AWSCognitoIdentityProviderService.GetTokensFromRefreshToken"}
json = {}
`

// loopbackTransport sends every request to the test server, whatever host it names (the
// built-in firebase profile names Google's hosts), and records the hosts asked for.
type loopbackTransport struct {
	to   *url.URL
	s    *hostedServer
	fail atomic.Bool // every call fails as a dropped connection would
}

func (lt *loopbackTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	lt.s.hosts.Store(r.URL.Host, true)
	if lt.fail.Load() {
		return nil, errors.New("connection reset by peer")
	}
	r2 := r.Clone(r.Context())
	r2.URL.Scheme, r2.URL.Host, r2.Host = lt.to.Scheme, lt.to.Host, ""
	return http.DefaultTransport.RoundTrip(r2)
}

type hostedCase struct {
	profile, user, password string
	overlay                 string // a profile file over the built-in, when set
	env                     map[string]string
	handler                 func(*hostedServer) http.Handler
	rotate                  bool
	resource                string
	rejectText              string   // the service's words in a rejected refresh
	secrets                 []string // values that must never reach an event
	hosts                   []string // hosts the engine must have called
}

func (c hostedCase) name() string {
	if c.overlay != "" {
		return c.profile + "-overlay"
	}
	return c.profile
}

func hostedCases() []hostedCase {
	return []hostedCase{
		{profile: "firebase", user: "ada@example.com", password: "pw-firebase", env: map[string]string{"FIREBASE_API_KEY": testFirebaseKey},
			handler: firebaseHandler, resource: "/api/me", rejectText: "TOKEN_EXPIRED", secrets: []string{testFirebaseKey},
			hosts: []string{"identitytoolkit.googleapis.com", "securetoken.googleapis.com"}},
		{profile: "supabase", user: "ada@example.com", password: "pw-supabase", env: map[string]string{"SUPABASE_ANON_KEY": testSupabaseKey},
			handler: supabaseHandler, rotate: true, resource: "/rest/v1/items", rejectText: "refresh_token_not_found", secrets: []string{testSupabaseKey}},
		{profile: "cognito", user: "ada", password: "pw-cognito", env: map[string]string{"COGNITO_CLIENT_ID": testCognitoID},
			handler: cognitoHandler, resource: "/api/me", rejectText: "Refresh Token has been revoked", secrets: []string{testCognitoID}},
		{profile: "cognito", overlay: cognitoRotation, user: "ada", password: "pw-cognito", env: map[string]string{"COGNITO_CLIENT_ID": testCognitoID},
			handler: cognitoHandler, rotate: true, resource: "/api/me", rejectText: "Refresh Token has been revoked", secrets: []string{testCognitoID}},
	}
}

// startHosted starts the case's server and an engine logged in to it.
func startHosted(t *testing.T, c hostedCase) (*Engine, *hostedServer, *loopbackTransport, *clock.Manual) {
	t.Helper()
	clock := testClock(epoch)
	s := newHostedServer(t, clock, c.rotate)
	ts := httptest.NewServer(c.handler(s))
	t.Cleanup(ts.Close)
	for k, v := range c.env {
		t.Setenv(k, v)
	}
	if c.profile == "cognito" {
		t.Setenv("COGNITO_ENDPOINT", ts.URL+"/")
	}
	to, _ := url.Parse(ts.URL)
	lt := &loopbackTransport{to: to, s: s}
	p, ok := profile.Builtin(c.profile)
	if !ok {
		t.Fatalf("no built-in %s", c.profile)
	}
	if c.overlay != "" {
		var err error
		if p, err = profile.Parse("overlay.toml", []byte(c.overlay)); err != nil {
			t.Fatal(err)
		}
	}
	e, err := New(Config{BaseURL: ts.URL, Profile: p, Username: c.user, Password: c.password, Clock: clock,
		Transport: lt, RefreshBackoff: time.Millisecond, RefreshAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	if _, err := e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e, s, lt, clock
}

func TestHostedProfilesLoginRefreshOnce(t *testing.T) {
	for _, c := range hostedCases() {
		t.Run(c.name(), func(t *testing.T) {
			e, s, _, clock := startHosted(t, c)
			snap := e.Snapshot()
			if !snap.Access.HasExpiry() || snap.Access.ExpiresAt.Sub(epoch) != time.Hour {
				t.Fatalf("access expiry from expires_in: got %v, want epoch+1h", snap.Access.ExpiresAt)
			}
			req := profile.Request{Method: "GET", Path: c.resource}
			if r := e.Do(context.Background(), req); r.Outcome != OK {
				t.Fatalf("first request: %v %d %s", r.Outcome, r.Status, r.Reason)
			}
			clock.Advance(time.Hour + time.Second)
			var wg sync.WaitGroup
			results := make([]Result, 50)
			for i := range results {
				wg.Add(1)
				go func() { defer wg.Done(); results[i] = e.Do(context.Background(), req) }()
			}
			wg.Wait()
			for _, r := range results {
				if r.Outcome != OK {
					t.Fatalf("request after expiry: %v %d %s", r.Outcome, r.Status, r.Reason)
				}
			}
			if n := s.refreshN.Load(); n != 1 {
				t.Fatalf("%d refresh calls at the service for 50 concurrent requests, want 1", n)
			}
			snap = e.Snapshot()
			if snap.Generation != 2 || (snap.Rotations == 1) != c.rotate {
				t.Fatalf("gen %d rotations %d (rotate %v)", snap.Generation, snap.Rotations, c.rotate)
			}
			for _, h := range c.hosts {
				if _, ok := s.hosts.Load(h); !ok {
					t.Errorf("no call to %s", h)
				}
			}
			assertNoSecrets(t, e, c.secrets)
		})
	}
}

func TestHostedProfilesRejectedRefreshEndsSession(t *testing.T) {
	for _, c := range hostedCases() {
		t.Run(c.name(), func(t *testing.T) {
			e, s, _, clock := startHosted(t, c)
			s.revoked.Store(true)
			clock.Advance(time.Hour + time.Second)
			r := e.Do(context.Background(), profile.Request{Method: "GET", Path: c.resource})
			if r.Outcome != Parked {
				t.Fatalf("outcome %v (%s), want parked", r.Outcome, r.Reason)
			}
			if st := e.Snapshot().State; st != session.StateLoginRequired {
				t.Fatalf("state %v, want login required", st)
			}
			ev, ok := firstOf(e.Log().Events(), session.KindRefreshFailed)
			if !ok || ev.Transient || !strings.Contains(ev.Reason, c.rejectText) || strings.Contains(ev.Reason, "{") {
				t.Fatalf("refresh failure %+v, want a rejection quoting %q (the message, not the JSON)", ev, c.rejectText)
			}
			if n := s.refreshN.Load(); n != 1 {
				t.Fatalf("%d refresh calls, want 1 (a rejection is not retried)", n)
			}
			assertNoSecrets(t, e, c.secrets)
		})
	}
}

// TestHostedEnvSecretsRedacted: a dropped connection's error names the URL, and Firebase's URL
// holds the API key; the key must not reach the event log.
func TestHostedEnvSecretsRedacted(t *testing.T) {
	c := hostedCases()[0]
	e, _, lt, clock := startHosted(t, c)
	lt.fail.Store(true)
	clock.Advance(time.Hour + time.Second)
	_ = e.RefreshNow(context.Background())
	ev, ok := firstOf(e.Log().Events(), session.KindRefreshFailed)
	if !ok || !ev.Transient || !strings.Contains(ev.Reason, "securetoken.googleapis.com") {
		t.Fatalf("want a transient failure naming the host, got %+v", ev)
	}
	assertNoSecrets(t, e, c.secrets)
}

func assertNoSecrets(t *testing.T, e *Engine, secrets []string) {
	t.Helper()
	b, _ := json.Marshal(e.Log().Events())
	for _, s := range secrets {
		if strings.Contains(string(b), s) {
			t.Fatalf("secret %q reached the event log", s)
		}
	}
}

func TestHostedProfilesNeedTheirEnvironment(t *testing.T) {
	for _, c := range hostedCases() {
		for k := range c.env {
			t.Setenv(k, "")
		}
		t.Setenv("COGNITO_ENDPOINT", "")
		p, _ := profile.Builtin(c.profile)
		_, err := New(Config{BaseURL: "http://127.0.0.1:1", Profile: p})
		if err == nil || !strings.Contains(err.Error(), "which is not set") {
			t.Errorf("%s without its environment: %v", c.profile, err)
		}
	}
	t.Setenv("COGNITO_CLIENT_ID", "x")
	t.Setenv("COGNITO_ENDPOINT", "http://cognito-idp.example.com/")
	p, _ := profile.Builtin("cognito")
	if _, err := New(Config{BaseURL: "http://127.0.0.1:1", Profile: p}); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("plain http to a remote endpoint: %v", err)
	}
}

// TestHostedLoginFailureText: a refused password login ends with the service's own words.
func TestHostedLoginFailureText(t *testing.T) {
	for _, c := range []struct {
		hostedCase
		want string
	}{
		{hostedCases()[0], "INVALID_LOGIN_CREDENTIALS"},
		{hostedCases()[1], "Invalid login credentials"},
		{hostedCases()[2], "Incorrect username or password."},
	} {
		t.Run(c.name(), func(t *testing.T) {
			clock := testClock(epoch)
			s := newHostedServer(t, clock, c.rotate)
			ts := httptest.NewServer(c.handler(s))
			defer ts.Close()
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			t.Setenv("COGNITO_ENDPOINT", ts.URL+"/")
			to, _ := url.Parse(ts.URL)
			p, _ := profile.Builtin(c.profile)
			e, err := New(Config{BaseURL: ts.URL, Profile: p, Username: c.user, Password: "wrong-password", Clock: clock,
				Transport: &loopbackTransport{to: to, s: s}})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			_, err = e.Login(context.Background())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("login error %v, want the service's %q", err, c.want)
			}
			assertNoSecrets(t, e, append(c.secrets, "wrong-password"))
		})
	}
}

// TestHostedEchoedKeyRedacted: a gateway that quotes the apikey it was sent in its error does
// not put the key in the event log.
func TestHostedEchoedKeyRedacted(t *testing.T) {
	c := hostedCases()[1]
	var echo atomic.Bool
	inner := c.handler
	c.handler = func(s *hostedServer) http.Handler {
		h := inner(s)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if echo.Load() && r.URL.Query().Get("grant_type") == "refresh_token" {
				writeJSON(w, s.clock, "application/json", 401, map[string]any{"message": "Invalid API key: " + r.Header.Get("apikey")})
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	e, _, _, clock := startHosted(t, c)
	echo.Store(true)
	clock.Advance(time.Hour + time.Second)
	_ = e.RefreshNow(context.Background())
	ev, ok := firstOf(e.Log().Events(), session.KindRefreshFailed)
	if !ok || !strings.Contains(ev.Reason, "Invalid API key: [redacted]") {
		t.Fatalf("refresh failure %+v, want the echo redacted", ev)
	}
	assertNoSecrets(t, e, c.secrets)
}
