package oidc

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"tokenscope/demoserver"
)

// TestDiscoverDemo: the demo server's document gives every endpoint, PKCE and the iss parameter.
func TestDiscoverDemo(t *testing.T) {
	_, base := demo(t, demoserver.Options{})
	p, err := Discover(ctxT(t), hc(), base)
	if err != nil {
		t.Fatal(err)
	}
	if p.Issuer != base || p.TokenEndpoint != base+"/oauth/token" || p.AuthorizationEndpoint != base+"/authorize" ||
		p.DeviceAuthorizationEndpoint != base+"/oauth/device" || p.JWKSURI != base+"/.well-known/jwks.json" {
		t.Fatalf("endpoints: %+v", p)
	}
	if !p.AuthorizationResponseIssParameterSupported || !slices.Contains(p.CodeChallengeMethodsSupported, "S256") ||
		p.DiscoveryURL != base+"/.well-known/openid-configuration" {
		t.Fatalf("metadata: %+v", p)
	}
}

// TestDiscoverFallback: a 404 on the OpenID path sends Discover to RFC 8414's path, with the
// issuer's path after the well-known segment.
func TestDiscoverFallback(t *testing.T) {
	ts := httptest.NewUnstartedServer(nil)
	issuer := "http://" + ts.Listener.Addr().String() + "/tenant"
	s, err := demoserver.New(demoserver.Options{Issuer: issuer})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	ts.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path)
		mu.Unlock()
		if r.URL.Path == "/.well-known/oauth-authorization-server/tenant" {
			r2 := r.Clone(r.Context())
			r2.URL.Path = "/.well-known/openid-configuration"
			s.Handler().ServeHTTP(w, r2)
			return
		}
		http.NotFound(w, r)
	})
	ts.Start()
	defer ts.Close()
	p, err := Discover(ctxT(t), hc(), issuer)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"/tenant/.well-known/openid-configuration", "/.well-known/oauth-authorization-server/tenant"}
	if strings.Join(seen, ",") != strings.Join(want, ",") || p.Issuer != issuer || p.TokenEndpoint != issuer+"/oauth/token" {
		t.Fatalf("paths %v, provider %+v", seen, p)
	}
}

// TestDiscoverIssuerMismatch: a document naming another issuer is refused, without fallback.
func TestDiscoverIssuerMismatch(t *testing.T) {
	_, base := demo(t, demoserver.Options{Issuer: "https://evil.example"})
	_, err := Discover(ctxT(t), hc(), base)
	if err == nil || !strings.Contains(err.Error(), `"https://evil.example"`) || !strings.Contains(err.Error(), "another issuer") {
		t.Fatalf("err = %v", err)
	}
}

// TestDiscoverNotJSON: an HTML page (a wrong issuer URL, a login portal) is named with its URL
// and status; an oversized document is refused.
func TestDiscoverNotJSON(t *testing.T) {
	var calls atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if strings.Contains(r.URL.Path, "openid") {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<html>sign in</html>"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"issuer":"` + strings.Repeat("x", MaxDiscoveryBytes) + `"}`))
	}))
	defer ts.Close()
	_, err := Discover(ctxT(t), hc(), ts.URL)
	msg := err.Error()
	for _, want := range []string{ts.URL + "/.well-known/openid-configuration", "HTTP 200", "not a JSON", "text/html", "larger than 65536"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q: %s", want, msg)
		}
	}
	if calls.Load() != 2 {
		t.Errorf("calls = %d", calls.Load())
	}
	if _, err := Discover(ctxT(t), nil, ts.URL); err == nil {
		t.Error("nil client accepted")
	}
	if _, err := Discover(ctxT(t), hc(), "ftp://x"); err == nil {
		t.Error("ftp issuer accepted")
	}
	var e *Error
	if errors.As(err, &e) {
		t.Error("discovery failure is not an OAuth error")
	}
}

// TestDiscoveryURLs: RFC 8414 §3.1 inserts the well-known segment before the issuer's path.
func TestDiscoveryURLs(t *testing.T) {
	got, err := DiscoveryURLs("https://id.example/realms/r1/")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"https://id.example/realms/r1/.well-known/openid-configuration",
		"https://id.example/.well-known/oauth-authorization-server/realms/r1"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("got %v", got)
	}
}

// TestDiscoverUnreachableSaysSoOnce: a refused connection is one clear sentence, not the same
// refusal for each well-known path.
func TestDiscoverUnreachableSaysSoOnce(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + l.Addr().String()
	l.Close()
	_, err = Discover(context.Background(), http.DefaultClient, issuer)
	if err == nil || !strings.Contains(err.Error(), "cannot reach the issuer "+issuer) || strings.Count(err.Error(), "refused") != 1 {
		t.Fatalf("err = %v", err)
	}
}

// TestDiscoverRefusesCleartextEndpoints: under an https issuer every endpoint the document names
// must be https (a token_endpoint of http:// once sent the client secret and the password in
// clear); under an http issuer on loopback, http endpoints must be on loopback too; other schemes
// (javascript:, file:) are never endpoints.
func TestDiscoverRefusesCleartextEndpoints(t *testing.T) {
	var doc atomic.Value
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(doc.Load().(string)))
	}))
	defer ts.Close()
	fields := []string{"authorization_endpoint", "token_endpoint", "device_authorization_endpoint",
		"pushed_authorization_request_endpoint", "jwks_uri", "userinfo_endpoint", "revocation_endpoint",
		"introspection_endpoint"}
	document := func(issuer, field, value string) string {
		d := `{"issuer":"` + issuer + `","token_endpoint":"` + issuer + `/token"`
		return d + `,"` + field + `":"` + value + `"}`
	}
	for _, f := range fields {
		for _, bad := range []string{"http://" + ts.Listener.Addr().String() + "/x", "javascript:alert(1)", "file:///etc/passwd"} {
			doc.Store(document(ts.URL, f, bad))
			_, err := Discover(ctxT(t), ts.Client(), ts.URL)
			if err == nil || !strings.Contains(err.Error(), f) || !strings.Contains(err.Error(), "refused") {
				t.Errorf("%s = %s under an https issuer: err = %v", f, bad, err)
			}
		}
		doc.Store(document(ts.URL, f, ts.URL+"/ok"))
		if _, err := Discover(ctxT(t), ts.Client(), ts.URL); err != nil {
			t.Errorf("%s over https: %v", f, err)
		}
	}

	// An http issuer on loopback (the demo server): http endpoints on loopback are fine, an http
	// endpoint elsewhere is not.
	var plain atomic.Value
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(plain.Load().(string)))
	}))
	defer hs.Close()
	plain.Store(document(hs.URL, "userinfo_endpoint", "http://localhost:1/userinfo"))
	if _, err := Discover(ctxT(t), hc(), hs.URL); err != nil {
		t.Errorf("loopback http: %v", err)
	}
	plain.Store(document(hs.URL, "token_endpoint", "http://auth.example.com/token"))
	if _, err := Discover(ctxT(t), hc(), hs.URL); err == nil || !strings.Contains(err.Error(), "only on loopback") {
		t.Errorf("remote http endpoint under a loopback issuer: err = %v", err)
	}
}

// TestCheckBrowserURL: what a provider names is opened only when it is https, or http on
// loopback; anything else stays text.
func TestCheckBrowserURL(t *testing.T) {
	for _, ok := range []string{"https://login.example.com/authorize?x=1", "http://127.0.0.1:8000/device", "http://localhost/cb", "http://[::1]:9/x"} {
		if err := CheckBrowserURL(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"file:///etc/passwd", "javascript:alert(1)", "--help", "-a", "http://evil.example/x",
		"ftp://x/y", "data:text/html,hi", "https:opaque", ""} {
		if err := CheckBrowserURL(bad); err == nil || !strings.HasPrefix(err.Error(), "not opened") {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}
