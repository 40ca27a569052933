package observe

import (
	"crypto/tls"
	"crypto/x509"
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
	"testing"
	"time"

	"tokenscope/demoserver"
)

// BenchmarkForwardOverhead is one run of the same authenticated request, interleaved: straight to
// the server, through observe's reverse mode, through observe's forward mode (absolute-form http,
// and https through a CONNECT tunnel opened with tokenscope's CA), and through mitmdump as a
// forward proxy (http, and https through its own CA) when mitmdump is installed. The clients keep
// their connections (and tunnels) alive, as a test suite's client does. It reports µs per request
// for each path.
func BenchmarkForwardOverhead(b *testing.B) {
	demo, err := demoserver.New(demoserver.Options{AccessTTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	plainUp := httptest.NewServer(demo.Handler())
	defer plainUp.Close()
	tlsUp := httptest.NewTLSServer(demo.Handler())
	defer tlsUp.Close()
	upCA := filepath.Join(b.TempDir(), "up.pem")
	_ = os.WriteFile(upCA, pemCert(tlsUp.Certificate().Raw), 0o600)

	target, _ := url.Parse(plainUp.URL)
	rev, err := New(Config{Upstreams: []Upstream{{URL: target}}, Profile: simplejwtProfile()})
	if err != nil {
		b.Fatal(err)
	}
	defer rev.Close()
	revSrv := httptest.NewServer(rev)
	defer revSrv.Close()
	fwd := newForwardRigB(b, upCA)

	c := newClient(plainUp.URL)
	if err := c.login(); err != nil {
		b.Fatal(err)
	}
	tok, _, _ := c.tokens()
	paths := []struct {
		name string
		hc   *http.Client
		base string
	}{
		{"direct", plainClient(nil, nil), plainUp.URL},
		{"observe-reverse", plainClient(nil, nil), revSrv.URL},
		{"observe-forward-http", plainClient(fwd.url, nil), plainUp.URL},
		{"observe-forward-https", plainClient(fwd.url, fwd.ca.PEM()), tlsUp.URL},
	}
	if m := startMitmdump(b, upCA); m != nil {
		paths = append(paths, struct {
			name string
			hc   *http.Client
			base string
		}{"mitmdump-http", plainClient(m.url, nil), plainUp.URL}, struct {
			name string
			hc   *http.Client
			base string
		}{"mitmdump-https", plainClient(m.url, m.caPEM), tlsUp.URL})
	}
	get := func(hc *http.Client, base string) time.Duration {
		req, _ := http.NewRequest("GET", base+"/api/protected/", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		start := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("%s: status %d", base, resp.StatusCode)
		}
		return time.Since(start)
	}
	for _, p := range paths {
		get(p.hc, p.base) // connections and tunnels up before the clock runs
	}
	took := make([]time.Duration, len(paths))
	b.ResetTimer()
	for range b.N {
		for i, p := range paths {
			took[i] += get(p.hc, p.base)
		}
	}
	b.StopTimer()
	for i, p := range paths {
		b.ReportMetric(float64(took[i].Microseconds())/float64(b.N), p.name+"_µs/req")
	}
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func plainClient(proxy *url.URL, caPEM []byte) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	if proxy != nil {
		tr.Proxy = http.ProxyURL(proxy)
	}
	if caPEM != nil {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(caPEM)
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func newForwardRigB(b *testing.B, upCA string) *forwardRig {
	ca, err := LoadOrCreateCA(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	p, err := New(Config{Profile: simplejwtProfile(), Forward: true, CA: ca, Listen: ln.Addr().String()})
	if err != nil {
		b.Fatal(err)
	}
	p.fwd.rp.Transport = upstreamTransport(b, upCA)
	srv := &http.Server{Handler: p}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close(); p.Close() })
	return &forwardRig{proxy: p, url: &url.URL{Scheme: "http", Host: ln.Addr().String()}, ca: ca}
}

func upstreamTransport(b *testing.B, caFile string) http.RoundTripper {
	data, err := os.ReadFile(caFile)
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(data)
	return &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 256, DisableCompression: true}
}

type mitm struct {
	url   *url.URL
	caPEM []byte
}

// startMitmdump runs mitmdump as a forward proxy on a free loopback port (its CA in a temporary
// directory, the upstream's certificate trusted), or returns nil when it is not installed.
func startMitmdump(b *testing.B, upCA string) *mitm {
	bin, err := exec.LookPath("mitmdump")
	if err != nil {
		b.Log("mitmdump is not installed (Debian: mitmproxy): its rows are left out")
		return nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := b.TempDir()
	cmd := exec.Command(bin, "-q", "--listen-host", "127.0.0.1", "--listen-port", fmt.Sprint(port),
		"--set", "confdir="+conf, "--set", "ssl_verify_upstream_trusted_ca="+upCA)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	caFile := filepath.Join(conf, "mitmproxy-ca-cert.pem")
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			if pem, err := os.ReadFile(caFile); err == nil {
				return &mitm{url: &url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", port)}, caPEM: pem}
			}
		}
	}
	b.Fatal("mitmdump did not start")
	return nil
}
