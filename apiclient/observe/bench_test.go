package observe

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"

	"tokenscope/demoserver"
)

// BenchmarkObserveOverhead sends the same authenticated request to the demo server straight,
// through a bare httputil.ReverseProxy, and through observe's proxy, interleaved in one run so
// that the machine's mood hits all three alike. It reports:
//
//   - proxy/direct: what the extra hop with the analysis costs, end to end;
//   - observe/reverseproxy: what the analysis adds over a plain reverse proxy (the hop itself is
//     the same for any proxy).
//
// "bare" is the demo server answering at once, the worst case for a proxy: there the second
// loopback hop itself (which any proxy pays) is most of the cost. "1ms-server" and "5ms-server"
// give the server that much work, as a real API has.
func BenchmarkObserveOverhead(b *testing.B) {
	for _, bc := range []struct {
		name    string
		latency time.Duration
	}{{"bare", 0}, {"1ms-server", time.Millisecond}, {"5ms-server", 5 * time.Millisecond}} {
		b.Run(bc.name, func(b *testing.B) { benchOverhead(b, bc.latency) })
	}
}

func benchOverhead(b *testing.B, latency time.Duration) {
	demo, err := demoserver.Start(demoserver.Options{AccessTTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer demo.Close()
	demo.SetLatency(latency, 0)
	target, _ := url.Parse(demo.URL())
	p, err := New(Config{Upstreams: []Upstream{{URL: target}}, Profile: simplejwtProfile()})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	observed := httptest.NewServer(p)
	defer observed.Close()
	plain := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) }})
	defer plain.Close()

	c := newClient(demo.URL())
	if err := c.login(); err != nil {
		b.Fatal(err)
	}
	tok, _, _ := c.tokens()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	get := func(base string) time.Duration {
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
			b.Fatalf("status %d", resp.StatusCode)
		}
		return time.Since(start)
	}
	for _, u := range []string{demo.URL(), plain.URL, observed.URL} {
		get(u) // connections up before the clock runs
	}
	var direct, rp, obs time.Duration
	b.ResetTimer()
	for range b.N {
		direct += get(demo.URL())
		rp += get(plain.URL)
		obs += get(observed.URL)
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(direct.Microseconds())/n, "direct_µs/req")
	b.ReportMetric(float64(obs.Microseconds())/n, "observe_µs/req")
	b.ReportMetric(float64(obs)/float64(direct), "proxy/direct")
	b.ReportMetric(float64(obs)/float64(rp), "observe/reverseproxy")
}

// BenchmarkObserveAnalyzer is the analysis of one authenticated request and its 200, alone: what
// the proxy's HTTP path pays for reading the traffic.
func BenchmarkObserveAnalyzer(b *testing.B) {
	a := NewAnalyzer(Options{Profile: simplejwtProfile()})
	h := http.Header{"Authorization": {"Bearer " + jwtWithExp(time.Now().Add(time.Hour))}}
	ans := Answer{Status: 200, Header: http.Header{"Date": {time.Now().UTC().Format(http.TimeFormat)}}}
	b.ReportAllocs()
	for b.Loop() {
		now := time.Now()
		x := a.Begin(Request{Method: "GET", Path: "/api/protected/", Header: h}, now)
		a.End(x, ans, now)
	}
}
