package observe

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tokenscope/apiclient/transport"
	"tokenscope/demoserver"
)

var (
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
)

func criticalExt(c *x509.Certificate, oid asn1.ObjectIdentifier) (present, critical bool) {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return true, e.Critical
		}
	}
	return false, false
}

// TestCAStrictX509: the CA and its leaves are what strict verifiers (OpenSSL's X509_STRICT,
// Python 3.13's default) want; the CA is kept 0600 and read back, not made again.
func TestCAStrictX509(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tokenscope")
	ca, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{CACertFile, CAKeyFile} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want 0600", f, st.Mode(), err)
		}
	}
	again, err := LoadOrCreateCA(dir)
	if err != nil || !again.cert.Equal(ca.cert) {
		t.Fatalf("read back: %v (same CA: %v)", err, err == nil && again.cert.Equal(ca.cert))
	}
	root := ca.cert
	if pub, ok := root.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("CA key %T, want ECDSA P-256", root.PublicKey)
	}
	if !strings.Contains(root.Subject.CommonName, "tokenscope") || root.NotAfter.Sub(root.NotBefore) < 9*365*24*time.Hour ||
		!root.IsCA || !root.MaxPathLenZero || len(root.SubjectKeyId) == 0 || root.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("CA %q valid %s..%s, IsCA %v, SKI %x", root.Subject.CommonName, root.NotBefore, root.NotAfter, root.IsCA, root.SubjectKeyId)
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	for _, host := range []string{"api.example.com", "127.0.0.1"} {
		l, err := ca.Leaf(host)
		if err != nil {
			t.Fatal(err)
		}
		leaf := l.Leaf
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: pool}); err != nil {
			t.Errorf("%s: %v", host, err)
		}
		if host == "127.0.0.1" && (len(leaf.IPAddresses) != 1 || len(leaf.DNSNames) != 0) {
			t.Errorf("an IP target wants an IP SAN: %v %v", leaf.IPAddresses, leaf.DNSNames)
		}
		if leaf.NotAfter.Sub(leaf.NotBefore) > 48*time.Hour || leaf.IsCA || len(leaf.SubjectKeyId) == 0 ||
			string(leaf.AuthorityKeyId) != string(root.SubjectKeyId) || len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
			t.Errorf("%s leaf: life %s, IsCA %v, SKI %x, AKI %x, EKU %v", host, leaf.NotAfter.Sub(leaf.NotBefore), leaf.IsCA, leaf.SubjectKeyId, leaf.AuthorityKeyId, leaf.ExtKeyUsage)
		}
		for _, c := range []*x509.Certificate{root, leaf} {
			for name, oid := range map[string]asn1.ObjectIdentifier{"basicConstraints": oidBasicConstraints, "keyUsage": oidKeyUsage} {
				if present, critical := criticalExt(c, oid); !present || !critical {
					t.Errorf("%s: %s present %v critical %v", c.Subject.CommonName, name, present, critical)
				}
			}
		}
		if again, _ := ca.Leaf(host); again != l {
			t.Errorf("%s: the leaf was minted again, not cached", host)
		}
		opensslStrict(t, ca, l)
	}
}

// opensslStrict verifies the leaf with `openssl verify -x509_strict` when openssl is there.
func opensslStrict(t *testing.T, ca *CA, l *tls.Certificate) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		return
	}
	leafPath := filepath.Join(t.TempDir(), "leaf.pem")
	_ = os.WriteFile(leafPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: l.Certificate[0]}), 0o600)
	out, err := exec.Command("openssl", "verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", ca.Path(), leafPath).CombinedOutput()
	if err != nil || !strings.Contains(string(out), ": OK") {
		t.Errorf("openssl verify -x509_strict: %v\n%s", err, out)
	}
}

// tlsDemo is the demo server behind TLS with a certificate of its own, and a CA file that trusts
// it (what --ca-cert names).
func tlsDemo(t *testing.T, opts demoserver.Options) (*demoserver.Server, *httptest.Server, string) {
	t.Helper()
	demo, err := demoserver.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(demo.Handler())
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "upstream-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return demo, srv, caFile
}

// forwardRig is a forward proxy with its own CA, served on a loopback port.
type forwardRig struct {
	proxy *Proxy
	url   *url.URL
	ca    *CA
}

func newForwardRig(t *testing.T, upstreamCA string, edit func(*Config)) *forwardRig {
	t.Helper()
	ca, err := LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Profile: simplejwtProfile(), Forward: true, CA: ca, Listen: ln.Addr().String(),
		TLS: transport.TLS{CACertFile: upstreamCA}}
	if edit != nil {
		edit(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: p}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); p.Close() })
	return &forwardRig{proxy: p, url: &url.URL{Scheme: "http", Host: ln.Addr().String()}, ca: ca}
}

// client is a Go client that goes through the proxy and trusts tokenscope's CA alone.
func (f *forwardRig) client() *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(f.ca.PEM())
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy: http.ProxyURL(f.url), TLSClientConfig: &tls.Config{RootCAs: pool},
	}}
}

// TestForwardProxyConnectAndHTTP: a Go client trusting tokenscope's CA logs in, calls and
// refreshes over https through CONNECT (to an IP address: the leaf's SAN is one), and over plain
// http in absolute form; the upstream's own certificate is verified with --ca-cert. The analysis
// is the reverse proxy's: the summary matches the server's counts.
func TestForwardProxyConnectAndHTTP(t *testing.T) {
	demo, up, upCA := tlsDemo(t, demoserver.Options{})
	f := newForwardRig(t, upCA, nil)
	c := newClient(up.URL)
	c.hc = f.client()
	if err := c.login(); err != nil {
		t.Fatal(err)
	}
	if st := c.do("GET", "/api/me", nil); st != 200 {
		t.Fatalf("GET over CONNECT: %d", st)
	}
	_, rt, _ := c.tokens()
	if st, err := c.refreshWith(rt); err != nil || st != 200 {
		t.Fatalf("refresh over CONNECT: %d %v", st, err)
	}
	plain, err := demoserver.Start(demoserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	resp, err := f.client().Get(plain.URL() + "/api/me")
	if err != nil || resp.StatusCode != 401 {
		t.Fatalf("plain http through the proxy: %v %v", resp, err)
	}
	resp.Body.Close()
	f.proxy.Close()
	s := f.proxy.Summary()
	st := demo.Stats()
	if s.Logins != 1 || st.Logins != 1 || s.RefreshCalls != 1 || st.RefreshOK != 1 || s.Requests != 4 || s.Unauthorized != 1 {
		t.Errorf("summary %+v, server %+v", s, st)
	}
	var hosts []string
	for _, e := range f.proxy.Log().Events() {
		if e.Kind.String() == "request" {
			hosts = append(hosts, e.Path)
		}
	}
	want := "https://" + strings.TrimPrefix(up.URL, "https://") + "/api/me"
	if !strings.Contains(strings.Join(hosts, " "), want) || !strings.Contains(strings.Join(hosts, " "), plain.URL()+"/api/me") {
		t.Errorf("request paths %v, want %s and the plain one", hosts, want)
	}
}

// TestForwardProxyAbsoluteHTTPS: axios sends an https URL in absolute form to the proxy, without
// CONNECT; it goes to the origin over verified TLS all the same.
func TestForwardProxyAbsoluteHTTPS(t *testing.T) {
	_, up, upCA := tlsDemo(t, demoserver.Options{})
	f := newForwardRig(t, upCA, nil)
	conn, err := net.Dial("tcp", f.url.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"username":"demo","password":"demo"}`
	fmt.Fprintf(conn, "POST %s/api/token/ HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		up.URL, strings.TrimPrefix(up.URL, "https://"), len(body), body)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	var pair map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&pair)
	resp.Body.Close()
	if resp.StatusCode != 200 || pair["access"] == "" {
		t.Fatalf("login in absolute form: %d %v", resp.StatusCode, pair)
	}
	f.proxy.Close()
	if s := f.proxy.Summary(); s.Logins != 1 {
		t.Errorf("summary %+v", s)
	}
}

// TestForwardProxyRefusesWhatItMust: an upstream whose certificate nobody vouches for is not
// reached (502, the failure recorded), and a tunnel to the proxy itself is a loop.
func TestForwardProxyRefusesWhatItMust(t *testing.T) {
	_, up, _ := tlsDemo(t, demoserver.Options{})
	f := newForwardRig(t, "", nil)
	resp, err := f.client().Get(up.URL + "/api/me")
	if err != nil || resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("unverified upstream: %v %v", resp, err)
	}
	resp.Body.Close()
	conn, err := net.Dial("tcp", f.url.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", f.url.Host, f.url.Host)
	resp, err = http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != http.StatusLoopDetected {
		t.Fatalf("CONNECT to itself: %v %v", resp, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	// Asked for a page itself, a forward proxy without --upstream says what it is, and counts nothing.
	resp, err = http.Get(f.url.String() + "/")
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("origin-form to a forward proxy: %v %v", resp, err)
	}
	resp.Body.Close()
	f.proxy.Close()
	if s := f.proxy.Summary(); s.Requests != 1 {
		t.Errorf("summary %+v: the unverified upstream's request only", s)
	}
	failed := false
	for _, e := range f.proxy.Log().Events() {
		failed = failed || (e.Kind.String() == "request-failed" && strings.Contains(e.Reason, "certificate"))
	}
	if !failed {
		t.Error("the unverified upstream's failure is not in the log")
	}
}

// TestForwardTokenHost: in forward mode a profile matches calls by host and path: the same path
// on another host is an API call, not a refresh.
func TestForwardTokenHost(t *testing.T) {
	_, idp, idpCA := tlsDemo(t, demoserver.Options{})
	_, other, otherCA := tlsDemo(t, demoserver.Options{})
	bundle := filepath.Join(t.TempDir(), "both.pem")
	a, _ := os.ReadFile(idpCA)
	b, _ := os.ReadFile(otherCA)
	_ = os.WriteFile(bundle, append(a, b...), 0o600)
	f := newForwardRig(t, bundle, func(c *Config) { c.TokenHost = strings.TrimPrefix(idp.URL, "https://") })
	c := newClient(idp.URL)
	c.hc = f.client()
	if err := c.login(); err != nil {
		t.Fatal(err)
	}
	o := newClient(other.URL)
	o.hc = f.client()
	if err := o.login(); err != nil {
		t.Fatal(err)
	}
	f.proxy.Close()
	if s := f.proxy.Summary(); s.Logins != 1 || s.Requests != 2 {
		t.Errorf("summary %+v: only the token host's login is one", s)
	}
}

// TestProxyEnv: the child's environment routes both cases of the proxy variables to observe,
// keeps the user's NO_PROXY exceptions but loopback's, and points every CA variable at the bundle.
func TestProxyEnv(t *testing.T) {
	if got := NoProxyWithoutLoopback("localhost, 127.0.0.1,::1,[::1]:8080,internal.corp,.localhost,127.0.0.0/8,10.0.0.0/8,app.localhost"); got != "internal.corp,10.0.0.0/8" {
		t.Errorf("NO_PROXY without loopback: %q", got)
	}
	env := strings.Join(ProxyEnv("http://127.0.0.1:9000", "/b.pem", "internal.corp"), "\n")
	for _, want := range []string{"HTTP_PROXY=http://127.0.0.1:9000", "https_proxy=http://127.0.0.1:9000", "no_proxy=internal.corp",
		"SSL_CERT_FILE=/b.pem", "NODE_EXTRA_CA_CERTS=/b.pem", "REQUESTS_CA_BUNDLE=/b.pem", "CURL_CA_BUNDLE=/b.pem", "GIT_SSL_CAINFO=/b.pem"} {
		if !strings.Contains(env, want) {
			t.Errorf("env lacks %s:\n%s", want, env)
		}
	}
	if got := Exports([]string{"A=b c", "NO_PROXY="}); got[0] != "export A='b c'" || got[1] != "export NO_PROXY=''" {
		t.Errorf("exports %q", got)
	}
}

// TestForwardEndpointURLs: a profile whose login and refresh are full URLs on another host than
// the API (a hosted provider's) matches them by origin and path through the forward proxy, the
// refresh body arriving chunked (read all the same); the same paths on the API's host are calls.
func TestForwardEndpointURLs(t *testing.T) {
	_, idp, idpCA := tlsDemo(t, demoserver.Options{})
	_, api, apiCA := tlsDemo(t, demoserver.Options{})
	bundle := filepath.Join(t.TempDir(), "both.pem")
	a, _ := os.ReadFile(idpCA)
	b, _ := os.ReadFile(apiCA)
	_ = os.WriteFile(bundle, append(a, b...), 0o600)
	prof := simplejwtProfile()
	prof.Login.Path, prof.Refresh.Path = idp.URL+"/api/token/", idp.URL+"/api/token/refresh/"
	f := newForwardRig(t, bundle, func(c *Config) { c.Profile = prof })
	c := newClient(idp.URL)
	c.hc = f.client()
	if err := c.login(); err != nil {
		t.Fatal(err)
	}
	_, rt, _ := c.tokens()
	req, _ := http.NewRequest("POST", idp.URL+"/api/token/refresh/", io.NopCloser(strings.NewReader(`{"refresh":"`+rt+`"}`)))
	req.Header.Set("Content-Type", "application/json") // no length: sent chunked
	resp, err := c.hc.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("chunked refresh: %v %v", resp, err)
	}
	resp.Body.Close()
	o := newClient(api.URL)
	o.hc = f.client()
	if err := o.login(); err != nil {
		t.Fatal(err)
	}
	f.proxy.Close()
	if s := f.proxy.Summary(); s.Logins != 1 || s.RefreshCalls != 1 || s.Requests != 3 {
		t.Errorf("summary %+v: the provider's login and refresh only", s)
	}
	for _, e := range f.proxy.Log().Events() {
		if e.Kind.String() == "refresh-start" && !strings.Contains(e.Reason, "presents fp:") {
			t.Errorf("the chunked refresh's token was not read: %q", e.Reason)
		}
	}
}

// TestCAMadeOnce: tokenscopes starting together make one CA between them, and all use it.
func TestCAMadeOnce(t *testing.T) {
	dir := t.TempDir()
	cas := make([]*CA, 4)
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range cas {
		wg.Add(1)
		go func() { defer wg.Done(); cas[i], errs[i] = LoadOrCreateCA(dir) }()
	}
	wg.Wait()
	for i := range cas {
		if errs[i] != nil || !cas[i].cert.Equal(cas[0].cert) {
			t.Errorf("tokenscope %d: %v", i, errs[i])
		}
	}
}

// TestForwardTunnelPlainHTTP: a CONNECT tunnel whose client speaks plain HTTP in it (a ws:// or
// http:// URL tunnelled all the same) is served as http to the tunnel's host.
func TestForwardTunnelPlainHTTP(t *testing.T) {
	demo, err := demoserver.Start(demoserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer demo.Close()
	f := newForwardRig(t, "", nil)
	conn, err := net.Dial("tcp", f.url.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	host := strings.TrimPrefix(demo.URL(), "http://")
	br := bufio.NewReader(conn)
	fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", host, host)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	body := `{"username":"demo","password":"demo"}`
	fmt.Fprintf(conn, "POST /api/token/ HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", host, len(body), body)
	resp, err = http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("login in a plain tunnel: %v %v", resp, err)
	}
	resp.Body.Close()
	f.proxy.Close()
	if s := f.proxy.Summary(); s.Logins != 1 || demo.Stats().Logins != 1 {
		t.Errorf("summary %+v", s)
	}
}
