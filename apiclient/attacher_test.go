package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"tokenscope/apiclient/dpop"
	"tokenscope/apiclient/oidc"
	"tokenscope/apiclient/profile"
	"tokenscope/apiclient/sent"
	"tokenscope/demoserver"
	"tokenscope/internal/har"
	"tokenscope/session"
)

// wireTap keeps the headers of the last request that reached an API path.
type wireTap struct {
	mu   sync.Mutex
	last http.Header
}

func (w *wireTap) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") && !strings.HasPrefix(r.URL.Path, "/api/token") {
			w.mu.Lock()
			w.last = r.Header.Clone()
			w.mu.Unlock()
		}
		next.ServeHTTP(rw, r)
	})
}

func (w *wireTap) header() http.Header {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// checkRecordIsTheWire: every header of the attempt's record reached the server with the raw
// value the record holds, and every header the server got that tokenscope decides is in the
// record (the clients' own defaults aside: Go's User-Agent and Accept-Encoding, resty's Accept
// for a JSON body).
func checkRecordIsTheWire(t *testing.T, out sent.Request, wire http.Header, extra ...string) {
	t.Helper()
	inRecord := map[string]bool{}
	for _, h := range out.Header() {
		inRecord[http.CanonicalHeaderKey(h.Name)] = true
		if got := wire.Get(h.Name); got != h.Raw() {
			t.Errorf("%s: the wire carried %q, the record says %q", h.Name, got, h.Raw())
		}
	}
	ignore := map[string]bool{"User-Agent": true, "Accept-Encoding": true, "Accept": true}
	for _, k := range extra {
		ignore[k] = true
	}
	for k := range wire {
		if !inRecord[k] && !ignore[k] {
			t.Errorf("the wire carried %s, which the record does not have", k)
		}
	}
}

// TestAttacherRecordIsTheWire: a profile with a fixed header and a headers_env API key. What
// the server got is what the record says went, header for header; the record masks the token
// and the key and names the key's variable; the attempt says which token it carried and when.
func TestAttacherRecordIsTheWire(t *testing.T) {
	const key = "sb-test-api-key-0123456789abcdef"
	t.Setenv("TS_ATTACHER_KEY", key)
	clock := testClock(epoch)
	srv, err := demoserver.New(demoserver.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	var tap wireTap
	ts := httptest.NewServer(tap.wrap(srv))
	t.Cleanup(ts.Close)
	p, _ := profile.Builtin("simplejwt")
	p.Auth.Headers = map[string]string{"X-Client-Info": "tokenscope-test"}
	p.Auth.HeadersEnv = map[string]string{"apikey": "TS_ATTACHER_KEY"}
	e, err := New(Config{BaseURL: ts.URL, Profile: p, Username: "demo", Password: "demo", Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	if _, err := e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	req := profile.Request{Method: "POST", Path: "/api/items", Header: http.Header{"X-Own": {"mine"}, "Content-Type": {"application/json"}},
		Body: []byte(`{"a":1}`)}
	r := e.Do(context.Background(), req)
	if r.Outcome != OK || len(r.Attempts) != 1 {
		t.Fatalf("%v %d %s, %d attempts", r.Outcome, r.Status, r.Reason, len(r.Attempts))
	}
	a := r.Attempts[0]
	acc := e.Snapshot().Access
	if a.Generation != 1 || a.Token != acc.Fingerprint() || a.Status != 201 || a.Sent.IsZero() || a.Answered.Before(a.Sent) {
		t.Errorf("attempt %+v: want gen 1, the token's fingerprint, 201, sent then answered", a)
	}
	checkRecordIsTheWire(t, a.Out, tap.header(), "Content-Length")
	byName := map[string]sent.Header{}
	for _, h := range a.Out.Header() {
		byName[http.CanonicalHeaderKey(h.Name)] = h
		if strings.Contains(h.Value, key) || strings.Contains(h.Value, acc.Raw) {
			t.Errorf("the record shows a secret: %s: %s", h.Name, h.Value)
		}
	}
	if h := byName["Apikey"]; h.Secret != sent.APIKey || h.Var != "TS_ATTACHER_KEY" || h.Raw() != key || h.Value != "[masked]" {
		t.Errorf("apikey in the record: %+v", h)
	}
	if h := byName["Authorization"]; h.Secret != sent.Access || h.Prefix != "Bearer " || h.Var != "TOKEN" || h.Raw() != "Bearer "+acc.Raw {
		t.Errorf("Authorization in the record: %+v", h)
	}
	if h := byName["X-Client-Info"]; h.Secret != sent.None || h.Value != "tokenscope-test" {
		t.Errorf("the fixed header in the record: %+v", h)
	}
	if body, more := a.Out.Body(); string(body) != `{"a":1}` || more != 0 || a.Out.URL() != ts.URL+"/api/items" || a.Out.Method != "POST" {
		t.Errorf("record %s %s body %q", a.Out.Method, a.Out.URL(), body)
	}
	// A request that sets the fixed header itself keeps its own, on the wire and in the record.
	req.Header.Set("X-Client-Info", "the user's")
	r = e.Do(context.Background(), req)
	checkRecordIsTheWire(t, r.Attempts[0].Out, tap.header(), "Content-Length")
	if got := tap.header().Values("X-Client-Info"); len(got) != 1 || got[0] != "the user's" {
		t.Errorf("X-Client-Info on the wire: %q", got)
	}
}

// TestAttemptsCarryTheRetrysGeneration: a 401 on an expired token, a refresh, the retry: two
// attempts, each with the generation, token and status it had; the result's generation is the
// retry's.
func TestAttemptsCarryTheRetrysGeneration(t *testing.T) {
	v := newEnv(t, "simplejwt", demoserver.Options{}, Config{Strategy: Reactive})
	first := v.e.Snapshot().Access
	v.clock.Advance(31 * time.Second)
	r := v.e.Do(context.Background(), v.get())
	if r.Outcome != OK || len(r.Attempts) != 2 {
		t.Fatalf("%v %d %s, %d attempts: want ok on the retry", r.Outcome, r.Status, r.Reason, len(r.Attempts))
	}
	a, b := r.Attempts[0], r.Attempts[1]
	second := v.e.Snapshot().Access
	if a.Generation != 1 || a.Status != 401 || a.Token != first.Fingerprint() {
		t.Errorf("first attempt %+v: want gen 1, 401, the first token", a)
	}
	if b.Generation != 2 || b.Status != 200 || b.Token != second.Fingerprint() || b.Sent.Before(a.Answered) {
		t.Errorf("retry %+v: want gen 2, 200, the new token, sent after the 401", b)
	}
	if r.Generation() != 2 {
		t.Errorf("Result.Generation() = %d, want the retry's 2", r.Generation())
	}
	if a.Out.Header()[0].Raw() == b.Out.Header()[0].Raw() {
		t.Error("both attempts' records carry the same token")
	}
}

// TestReplayedResultIsComplete: a request parked while logged out, replayed by the next login,
// has its attempt, generation, status and record like any other.
func TestReplayedResultIsComplete(t *testing.T) {
	v := newEnv(t, "simplejwt", demoserver.Options{}, Config{})
	v.e.Logout()
	if r := v.e.Do(context.Background(), v.get()); r.Outcome != Parked || len(r.Attempts) != 0 || r.Generation() != 0 {
		t.Fatalf("logged out: %v with %d attempts, want parked with none", r.Outcome, len(r.Attempts))
	}
	replayed, err := v.e.Login(context.Background())
	if err != nil || len(replayed) != 1 {
		t.Fatalf("login: %v, %d replayed", err, len(replayed))
	}
	r := replayed[0]
	if !r.Replayed || r.Outcome != OK || r.Status != 200 || len(r.Attempts) != 1 || r.Generation() != 1 ||
		r.Attempts[0].Status != 200 || r.Attempts[0].Token != v.e.Snapshot().Access.Fingerprint() || r.Attempts[0].Out.URL() == "" {
		t.Errorf("replayed result %+v", r)
	}
}

// TestAttacherDPoPRecordAndCopy: a DPoP-bound token's attempt records Authorization: DPoP and
// its proof (masked), and the preview a copy is made from carries a fresh proof the server
// takes when the request is sent as the copy says, by another client.
func TestAttacherDPoPRecordAndCopy(t *testing.T) {
	v := newOIDCEnv(t, demoserver.Options{}, oidc.Config{Flow: oidc.FlowClientCredentials, ClientID: "tokenscope-cc",
		ClientSecret: "demo-secret", DPoP: true}, nil)
	ctx := context.Background()
	if _, err := v.e.Login(ctx); err != nil {
		t.Fatal(err)
	}
	r := v.e.Do(ctx, profile.Request{Method: "GET", Path: "/api/me"})
	if r.Outcome != OK || len(r.Attempts) != 1 {
		t.Fatalf("%v %d %s", r.Outcome, r.Status, r.Reason)
	}
	var auth, proof sent.Header
	for _, h := range r.Attempts[0].Out.Header() {
		switch h.Name {
		case "Authorization":
			auth = h
		case dpop.Header:
			proof = h
		}
	}
	if auth.Prefix != "DPoP " || auth.Secret != sent.Access || proof.Secret != sent.DPoPProof || proof.Value != "[masked]" ||
		len(r.Attempts[0].Out.Proofs) != 1 {
		t.Errorf("record: Authorization %+v, DPoP %+v, proofs %+v", auth, proof, r.Attempts[0].Out.Proofs)
	}
	o := v.e.Outgoing(profile.Request{Method: "GET", Path: "/api/me"})
	hr, err := http.NewRequest(o.Method, o.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range o.Header() {
		hr.Header.Set(h.Name, h.Raw())
	}
	if hr.Header.Get(dpop.Header) == "" || !strings.HasPrefix(hr.Header.Get("Authorization"), "DPoP ") {
		t.Fatalf("the preview lacks the DPoP proof or scheme: %v", hr.Header)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("the copy, sent by another client, answered %d", resp.StatusCode)
	}
}

// TestAttacherPutsTheCookies: in the cookie convention the attacher, not the client's jar,
// puts the cookies on an API request, so that its record holds them: the CSRF cookie (Path=/)
// goes to /api/data, the refresh cookie (Path=/api/session) does not, and the record is the wire.
func TestAttacherPutsTheCookies(t *testing.T) {
	s := newSPA(time.Minute, 0)
	var tap wireTap
	hs := httptest.NewServer(tap.wrap(s))
	defer hs.Close()
	e := cookieEngine(t, hs.URL, spaProfile(t))
	ctx := context.Background()
	if _, err := e.Login(ctx); err != nil {
		t.Fatal(err)
	}
	r := e.Do(ctx, profile.Request{Method: "GET", Path: "/api/data"})
	if r.Outcome != OK {
		t.Fatalf("%v %d %s", r.Outcome, r.Status, r.Reason)
	}
	out := r.Attempts[0].Out
	checkRecordIsTheWire(t, out, tap.header())
	wire := tap.header().Get("Cookie")
	if !strings.Contains(wire, "XSRF-TOKEN=") || strings.Contains(wire, "__Host-rt") {
		t.Errorf("Cookie on /api/data: %q", wire)
	}
	for _, h := range out.Header() {
		if h.Name == "Cookie" && (h.Secret != sent.Cookie || strings.Contains(h.Value, "XSRF-TOKEN=")) {
			t.Errorf("the record shows the cookie: %+v", h)
		}
	}
}

// TestRecorderTakesTheRecord: --har's entries of API requests carry the generation the
// attempt carried, from the engine's record, beside the token's fingerprint; the API key of a
// header not on any list of secret headers is masked.
func TestRecorderTakesTheRecord(t *testing.T) {
	const key = "har-test-api-key-0123456789abcdef"
	t.Setenv("TS_HAR_KEY", key)
	srv, err := demoserver.New(demoserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	p, _ := profile.Builtin("simplejwt")
	p.Auth.HeadersEnv = map[string]string{"X-Weird-Key": "TS_HAR_KEY"} // not on the recorder's list of secret headers
	rec := har.NewRecorder(http.DefaultTransport)
	rec.Generation = RequestGeneration
	e, err := New(Config{BaseURL: ts.URL, Profile: p, Username: "demo", Password: "demo", Transport: rec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	rec.SetSecrets(e.Secrets())
	if _, err := e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := e.Do(context.Background(), profile.Request{Method: "GET", Path: "/api/protected/"}); r.Outcome != OK {
		t.Fatal(r.Reason)
	}
	var b bytes.Buffer
	if err := rec.WriteHAR(&b, "test"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), key) {
		t.Error("the HAR holds the API key")
	}
	var doc struct {
		Log struct {
			Entries []struct {
				Tokens struct {
					Generation int
					Sent       []struct{ Kind, FP string }
				} `json:"_tokenscope"`
				Request struct {
					URL     string `json:"url"`
					Headers []struct{ Name, Value string }
				}
			}
		}
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, en := range doc.Log.Entries {
		if !strings.HasSuffix(en.Request.URL, "/api/protected/") {
			continue
		}
		found = true
		fp := e.Snapshot().Access.Fingerprint()
		if en.Tokens.Generation != 1 || len(en.Tokens.Sent) == 0 || en.Tokens.Sent[0].FP != fp {
			t.Errorf("HAR entry's tokens %+v, want gen 1 and %s sent", en.Tokens, fp)
		}
		for _, h := range en.Request.Headers {
			if strings.EqualFold(h.Name, "X-Weird-Key") && strings.Contains(h.Value, key) {
				t.Errorf("X-Weird-Key in the HAR: %q", h.Value)
			}
		}
	}
	if !found {
		t.Error("no HAR entry for the API request")
	}
}

// TestAttacherRedirectHopGetsItsOwnCookies: a request to the refresh cookie's path carries it;
// a same-origin redirect from there to /api/data carries only the cookies /api/data is owed,
// as a browser's would (Go would copy the first request's Cookie header to the hop).
func TestAttacherRedirectHopGetsItsOwnCookies(t *testing.T) {
	s := newSPA(time.Minute, 0)
	mux := http.NewServeMux()
	mux.Handle("/", s)
	var sawRefreshCookie bool
	mux.HandleFunc("/api/session/peek", func(w http.ResponseWriter, r *http.Request) {
		_, err := r.Cookie("__Host-rt")
		sawRefreshCookie = err == nil
		http.Redirect(w, r, "/api/data", http.StatusFound)
	})
	hs := httptest.NewServer(mux)
	defer hs.Close()
	e := cookieEngine(t, hs.URL, spaProfile(t))
	ctx := context.Background()
	if _, err := e.Login(ctx); err != nil {
		t.Fatal(err)
	}
	if r := e.Do(ctx, profile.Request{Method: "GET", Path: "/api/session/peek"}); r.Outcome != OK {
		t.Fatalf("%v %d %s", r.Outcome, r.Status, r.Reason)
	}
	if !sawRefreshCookie {
		t.Error("the request to the cookie's own path went without it")
	}
	if n := s.otherCookies.Load(); n != 0 {
		t.Errorf("the redirect hop to /api/data carried the refresh cookie (%d times)", n)
	}
}

// TestAttacherKeepsHeadersToTheirOrigin: the session's headers go only where they belong. The
// profile's headers_env API key goes to the target's origin alone (the TUI's userinfo request
// once carried it to the identity provider's host); the access token to the target's origin and
// to the provider's own endpoints the engine names (userinfo), never to another whole URL.
func TestAttacherKeepsHeadersToTheirOrigin(t *testing.T) {
	p := profile.Profile{Auth: profile.AuthHeader{Header: "Authorization", Scheme: "Bearer"}}
	p.Auth.HeadersEnv = map[string]string{"Apikey": "TS_KEY"}
	a := newAttacher("https://api.test/v1", p, profile.Env{APIHeaders: map[string]string{"Apikey": "k-0123456789"}},
		nil, func(session.Token) time.Duration { return time.Second })
	acc := session.Token{Raw: "access-token-0123456789"}
	cred := a.credential(1, &acc, false)
	carried := func(req profile.Request) (token, key bool) {
		h := http.Header{}
		a.outgoing(&req, cred, "").Apply(h)
		return h.Get("Authorization") != "", h.Get("Apikey") != ""
	}
	for _, c := range []struct {
		req        profile.Request
		token, key bool
	}{
		{profile.Request{Method: "GET", Path: "/me"}, true, true},
		{profile.Request{Method: "GET", Path: "https://API.test:443/v1/me"}, true, true}, // the same origin, spelled otherwise
		{profile.Request{Method: "GET", Path: "https://idp.test/userinfo", Provider: ProviderUserinfo}, true, false},
		{profile.Request{Method: "GET", Path: "https://evil.test/collect"}, false, false},
		{profile.Request{Method: "GET", Path: "http://api.test/v1/me"}, false, false}, // http is another origin
	} {
		if token, key := carried(c.req); token != c.token || key != c.key {
			t.Errorf("%s (provider %q): token %v, API key %v; want %v, %v", c.req.Path, c.req.Provider, token, key, c.token, c.key)
		}
	}
}

// TestRecordIsTheWireWhenTheAPISetsCookies: cookies an API's answers set go back to it (to its
// host only, on their paths) and are in the record of what went, masked: resty's default jar sent
// them, and the copied curl and --har left them out. A request's own Cookie goes first. A cookie
// the login's answer set stays with the login and refresh calls.
func TestRecordIsTheWireWhenTheAPISetsCookies(t *testing.T) {
	srv, err := demoserver.New(demoserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var tap wireTap
	setsCookies := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/token/" {
			http.SetCookie(w, &http.Cookie{Name: "login", Value: "at-login", Path: "/"})
		} else {
			http.SetCookie(w, &http.Cookie{Name: "AWSALB", Value: "sticky-0123", Path: "/"})
			http.SetCookie(w, &http.Cookie{Name: "sessionid", Value: "sess-4567", Path: "/api/"})
			http.SetCookie(w, &http.Cookie{Name: "elsewhere", Value: "x", Path: "/other/"})
		}
		srv.ServeHTTP(w, r)
	})
	ts := httptest.NewServer(tap.wrap(setsCookies))
	t.Cleanup(ts.Close)
	e := edgeNew(t, edgeConfig(ts.URL, edgeProfile(t, "simplejwt")))
	t.Cleanup(e.Close)
	edgeLogin(t, e)
	req := profile.Request{Method: "GET", Path: "/api/protected/"}
	r := e.Do(context.Background(), req)
	if r.Outcome != OK {
		t.Fatalf("%v %s", r.Outcome, r.Reason)
	}
	checkRecordIsTheWire(t, r.Attempts[0].Out, tap.header())
	if c := tap.header().Get("Cookie"); c != "" {
		t.Errorf("the first request carried Cookie %q: the login's cookie is the login's", c)
	}
	req.Header = http.Header{"Cookie": {"mine=1"}}
	r = e.Do(context.Background(), req)
	checkRecordIsTheWire(t, r.Attempts[0].Out, tap.header())
	if c := tap.header().Get("Cookie"); c != "mine=1; sessionid=sess-4567; AWSALB=sticky-0123" {
		t.Errorf("the request's own cookie, then the API's on their paths: %q", c)
	}
	for _, h := range r.Attempts[0].Out.Header() {
		if h.Name == "Cookie" && (h.Secret != sent.Cookie || strings.Contains(h.Value, "sess-4567") || !strings.HasPrefix(h.Value, "mine=1; ")) {
			t.Errorf("the record's Cookie: %+v", h)
		}
	}
	if o := e.Outgoing(req); !strings.Contains(o.Header()[len(o.Header())-1].Name, "Cookie") {
		t.Errorf("the copied request leaves the cookies out: %+v", o.Header())
	}
}
