package oidc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"tokenscope/demoserver"
)

// codeFlow runs the demo's forms for r in a browser and returns the final redirect (to the
// loopback listener) before the browser follows it.
func codeFlow(t *testing.T, base string, r *AuthCodeRequest, approve bool) *url.URL {
	t.Helper()
	authURL, err := r.AuthURL(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	last := b.consent(base, "/authorize", b.get(authURL), approve)
	if last.status != http.StatusFound || last.loc == "" {
		t.Fatalf("no redirect: %d %s", last.status, last.body)
	}
	loc, err := url.Parse(last.loc)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// waitFor runs cb.Wait as tokenscope does, before the browser comes back: the listener's page
// says what Wait decided, so a follow needs it running. The returned func gives its result.
func waitFor(t *testing.T, cb *Callback, r *AuthCodeRequest) func() (string, error) {
	t.Helper()
	type result struct {
		code string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		code, err := cb.Wait(ctxT(t), r)
		ch <- result{code, err}
	}()
	return func() (string, error) { res := <-ch; return res.code, res.err }
}

// follow is the browser arriving at the loopback listener; it returns the page it shows.
func follow(t *testing.T, loc *url.URL) page {
	t.Helper()
	return newBrowser(t).get(loc.String())
}

func startFlow(t *testing.T, opts demoserver.Options, scope string, extra url.Values) (*AuthCodeRequest, *Callback, string) {
	t.Helper()
	c, _, base := discovered(t, opts, "tokenscope", "")
	cb, err := Listen("http://127.0.0.1:0/callback")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cb.Close() })
	return c.NewAuthCodeRequest(cb.RedirectURI, scope, extra), cb, base
}

// TestAuthCodeFlow: the whole code flow against the demo server, the test playing the browser;
// the ID token's signature is checked with the discovered JWKS (ES256) and its nonce matches.
func TestAuthCodeFlow(t *testing.T) {
	r, cb, base := startFlow(t, demoserver.Options{Alg: demoserver.AlgES256}, "openid offline_access api:read",
		url.Values{"audience": {"https://api.example"}})
	keys, err := FetchKeys(ctxT(t), r.Client.HTTP, r.Client.Provider.JWKSURI)
	if err != nil {
		t.Fatal(err)
	}
	r.Client.Keyfunc = KeysKeyfunc(keys, r.Client.Provider.JWKSURI)
	loc := codeFlow(t, base, r, true)
	wait := waitFor(t, cb, r)
	if shown := follow(t, loc); shown.status != 200 || !strings.Contains(shown.body, "close this window") {
		t.Fatalf("listener page: %d %s", shown.status, shown.body)
	}
	code, err := wait()
	if err != nil {
		t.Fatal(err)
	}
	tok, err := r.Exchange(ctxT(t), code)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Access.Empty() || tok.Refresh.Empty() || tok.IDToken.Empty() || RefreshHint(r.Scope, tok) != "" {
		t.Fatalf("token %+v", tok)
	}
	claims, err := r.Client.VerifyIDToken(tok.IDToken.Raw, r.Nonce)
	if err != nil || claims["sub"] != "demo" {
		t.Fatalf("claims %v, %v", claims, err)
	}
	// The same token with another nonce is refused, signature or not.
	if _, err := r.Client.VerifyIDToken(tok.IDToken.Raw, "other"); err == nil || !strings.Contains(err.Error(), "nonce") {
		t.Fatalf("nonce: %v", err)
	}
	// A forged signature is refused once the JWKS is in use.
	dot := strings.LastIndex(tok.IDToken.Raw, ".")
	sig := []byte(tok.IDToken.Raw[dot+1:])
	if sig[10] == 'A' {
		sig[10] = 'B'
	} else {
		sig[10] = 'A'
	}
	if _, err := r.Client.VerifyIDToken(tok.IDToken.Raw[:dot+1]+string(sig), r.Nonce); err == nil {
		t.Fatal("forged signature accepted")
	}
	// A code is good once.
	var e *Error
	if _, err := r.Exchange(ctxT(t), code); !errors.As(err, &e) || e.Code != "invalid_grant" {
		t.Fatalf("second exchange: %v", err)
	}
}

// TestAuthURL: every parameter of the request; prompt=consent with offline_access unless the
// caller chose a prompt; nonce only with openid.
func TestAuthURL(t *testing.T) {
	c := &Client{HTTP: hc(), Provider: &Provider{AuthorizationEndpoint: "https://id.example/auth?tenant=t", TokenEndpoint: "x"}, ID: "tokenscope"}
	r := c.NewAuthCodeRequest("", "openid offline_access", url.Values{"resource": {"https://api"}, "access_type": {"offline"}})
	u, err := r.AuthURL(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	pu, _ := url.Parse(u)
	q := pu.Query()
	want := map[string]string{"tenant": "t", "response_type": "code", "client_id": "tokenscope", "redirect_uri": DefaultRedirectURI,
		"scope": "openid offline_access", "state": r.State, "nonce": r.Nonce, "code_challenge": S256Challenge(r.Verifier),
		"code_challenge_method": "S256", "prompt": "consent", "resource": "https://api", "access_type": "offline"}
	for k, v := range want {
		if q.Get(k) != v || v == "" {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	r = c.NewAuthCodeRequest("", "offline_access", url.Values{"prompt": {"login"}})
	u, _ = r.AuthURL(ctxT(t))
	pu, _ = url.Parse(u)
	if pu.Query().Get("prompt") != "login" || pu.Query().Has("nonce") {
		t.Errorf("caller's prompt / nonce without openid: %s", u)
	}
}

// TestCallbackStateMismatch: an answer whose state is not the request's is refused.
func TestCallbackStateMismatch(t *testing.T) {
	r, cb, base := startFlow(t, demoserver.Options{}, "openid", nil)
	loc := codeFlow(t, base, r, true)
	wait := waitFor(t, cb, r)
	// Forged answers first: no state, another state, an error answer with another state. Each is
	// turned away with an error page, and the login keeps waiting.
	for _, forged := range []string{"code=x", "code=x&state=forged", "error=access_denied&state=forged"} {
		f := *loc
		f.RawQuery = forged
		shown := follow(t, &f)
		if shown.status != http.StatusBadRequest || !strings.Contains(shown.body, "Refused") {
			t.Fatalf("forged %q: %d %s", forged, shown.status, shown.body)
		}
	}
	if shown := follow(t, loc); shown.status != http.StatusOK || !strings.Contains(shown.body, "received") {
		t.Fatalf("the real redirect: %d %s", shown.status, shown.body)
	}
	if code, err := wait(); err != nil || code == "" || code == "x" {
		t.Fatalf("code %q, err %v", code, err)
	}
}

// TestCallbackIssMismatch: RFC 9207: another iss is a mix-up, and a missing iss is refused when
// the provider advertises the parameter.
func TestCallbackIssMismatch(t *testing.T) {
	for _, iss := range []string{"https://evil.example", ""} {
		r, cb, base := startFlow(t, demoserver.Options{}, "openid", nil)
		loc := codeFlow(t, base, r, true)
		q := loc.Query()
		if iss == "" {
			q.Del("iss")
		} else {
			q.Set("iss", iss)
		}
		loc.RawQuery = q.Encode()
		wait := waitFor(t, cb, r)
		follow(t, loc)
		if _, err := wait(); err == nil || !strings.Contains(err.Error(), "RFC 9207") {
			t.Fatalf("iss %q: err = %v", iss, err)
		}
	}
}

// TestCallbackDenied: the user presses deny; Wait returns the typed access_denied.
func TestCallbackDenied(t *testing.T) {
	r, cb, base := startFlow(t, demoserver.Options{}, "openid", nil)
	wait := waitFor(t, cb, r)
	shown := follow(t, codeFlow(t, base, r, false))
	if !strings.Contains(shown.body, "access_denied") {
		t.Errorf("page: %s", shown.body)
	}
	_, err := wait()
	var e *Error
	if !errors.As(err, &e) || e.Code != "access_denied" || e.Description == "" || e.Status != 0 || e.Hint() == "" {
		t.Fatalf("err = %#v", err)
	}
}

// TestExchangeNonce: an ID token minted for another nonce fails the exchange.
func TestExchangeNonce(t *testing.T) {
	r, cb, base := startFlow(t, demoserver.Options{}, "openid", nil)
	wait := waitFor(t, cb, r)
	follow(t, codeFlow(t, base, r, true))
	code, err := wait()
	if err != nil {
		t.Fatal(err)
	}
	r.Nonce = "not-the-one-sent"
	if _, err := r.Exchange(ctxT(t), code); err == nil || !strings.Contains(err.Error(), "nonce") {
		t.Fatalf("err = %v", err)
	}
}

// TestListen: a busy port says to pick another redirect URI; only loopback hosts; only the path is served.
func TestListen(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := Listen("http://" + ln.Addr().String() + "/callback"); err == nil || !strings.Contains(err.Error(), "pick another redirect URI") {
		t.Fatalf("busy port: %v", err)
	}
	for _, bad := range []string{"https://127.0.0.1:1/cb", "http://example.com/cb", "http://0.0.0.0:0/cb"} {
		if _, err := Listen(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	cb, err := Listen("http://localhost:0/callback")
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	if !strings.HasPrefix(cb.RedirectURI, "http://localhost:") || strings.HasSuffix(cb.RedirectURI, ":0/callback") {
		t.Fatalf("RedirectURI %s", cb.RedirectURI)
	}
	ctx, cancel := context.WithCancel(ctxT(t))
	cancel()
	if _, err := cb.Wait(ctx, &AuthCodeRequest{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait: %v", err)
	}
	u, _ := url.Parse(cb.RedirectURI)
	b := newBrowser(t)
	if p := b.get("http://127.0.0.1:" + u.Port() + "/other?code=x"); p.status != http.StatusNotFound {
		t.Errorf("other path: %d", p.status)
	}
	if p := b.get("http://127.0.0.1:" + u.Port() + "/callback"); p.status != http.StatusBadRequest {
		t.Errorf("no code: %d", p.status)
	}
}

// TestCallbackPageSurvivesClose: closing the listener as soon as Wait returned still lets the
// browser read its page (it once got a dropped connection when Close won the race).
func TestCallbackPageSurvivesClose(t *testing.T) {
	for i := 0; i < 20; i++ {
		cb, err := Listen("http://127.0.0.1:0/callback")
		if err != nil {
			t.Fatal(err)
		}
		r := &AuthCodeRequest{State: "s", Client: &Client{Provider: &Provider{}}}
		done := make(chan error, 1)
		go func() {
			resp, err := http.Get(cb.RedirectURI + "?code=c&state=s")
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("HTTP %d", resp.StatusCode)
				}
			}
			done <- err
		}()
		if _, err := cb.Wait(ctxT(t), r); err != nil {
			t.Fatal(err)
		}
		cb.Close()
		if err := <-done; err != nil {
			t.Fatalf("run %d: the browser got %v instead of the page", i, err)
		}
	}
}

// TestListenLocalhostBothFamilies: a localhost redirect is served on 127.0.0.1 and, where the
// machine has IPv6, on [::1] at the same port.
func TestListenLocalhostBothFamilies(t *testing.T) {
	cb, err := Listen("http://localhost:0/cb")
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	u, _ := url.Parse(cb.RedirectURI)
	hosts := []string{"127.0.0.1"}
	if l, err := net.Listen("tcp", "[::1]:0"); err == nil {
		l.Close()
		hosts = append(hosts, "[::1]")
	}
	for _, h := range hosts {
		resp, err := http.Get("http://" + h + ":" + u.Port() + "/cb")
		if err != nil {
			t.Fatalf("%s: %v", h, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest { // no code: refused, but served
			t.Errorf("%s: HTTP %d", h, resp.StatusCode)
		}
	}
}
