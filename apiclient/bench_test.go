package apiclient

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/go-resty/resty/v2"
	"golang.org/x/oauth2"

	"tokenscope/apiclient/profile"
	"tokenscope/demoserver"
	"tokenscope/internal/oauth2ref"
	"tokenscope/session"
)

// benchServer is a quiet demo server with long-lived tokens, so the token stays fresh for the
// whole benchmark unless the benchmark moves the clock.
func benchServer(b *testing.B, clock demoserver.Clock) string {
	b.Helper()
	srv, err := demoserver.New(demoserver.Options{AccessTTL: time.Hour, RefreshTTL: 24 * time.Hour, Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	b.Cleanup(ts.Close)
	return ts.URL
}

func benchEngine(b *testing.B, url string, clock session.Clock) *Engine {
	b.Helper()
	p, _ := profile.Builtin("simplejwt")
	e, err := New(Config{BaseURL: url, Profile: p, Username: "demo", Password: "demo", Clock: clock,
		Log:       session.NewLog(1 << 14),
		Transport: &http.Transport{MaxConnsPerHost: 64, MaxIdleConnsPerHost: 64}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(e.Close)
	if _, err := e.Login(context.Background()); err != nil {
		b.Fatal(err)
	}
	return e
}

// BenchmarkRequestBare is the baseline: plain resty with a fixed token against the same server.
func BenchmarkRequestBare(b *testing.B) {
	url := benchServer(b, nil)
	e := benchEngine(b, url, nil)
	tok := e.Snapshot().Access.Raw
	c := resty.New().SetBaseURL(url).SetTransport(&http.Transport{MaxConnsPerHost: 64, MaxIdleConnsPerHost: 64})
	b.ResetTimer()
	for b.Loop() {
		resp, err := c.R().SetHeader("Authorization", "Bearer "+tok).Get("/api/protected/")
		if err != nil || resp.StatusCode() != 200 {
			b.Fatal(err, resp.StatusCode())
		}
	}
}

// BenchmarkRequestBareConfigured is plain resty with the three features the engine needs from
// resty itself: a retry hook, a cap on response bodies and a per-request deadline. Engine over
// this is the cost of the engine's own hooks; this over Bare is the cost of those features.
func BenchmarkRequestBareConfigured(b *testing.B) {
	url := benchServer(b, nil)
	e := benchEngine(b, url, nil)
	tok := e.Snapshot().Access.Raw
	c := resty.New().SetBaseURL(url).SetTransport(&http.Transport{MaxConnsPerHost: 64, MaxIdleConnsPerHost: 64}).
		SetRetryCount(1).SetRetryWaitTime(0).SetRetryMaxWaitTime(0).
		AddRetryCondition(func(*resty.Response, error) bool { return false }).
		SetResponseBodyLimit(4 << 20)
	b.ResetTimer()
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		resp, err := c.R().SetContext(ctx).SetHeader("Authorization", "Bearer "+tok).Get("/api/protected/")
		cancel()
		if err != nil || resp.StatusCode() != 200 {
			b.Fatal(err, resp.StatusCode())
		}
	}
}

// BenchmarkRequestEngine is one request through the engine with a fresh token; its ratio to
// BenchmarkRequestBare is the engine's per-request overhead.
func BenchmarkRequestEngine(b *testing.B) {
	url := benchServer(b, nil)
	e := benchEngine(b, url, nil)
	req := profile.Request{Method: "GET", Path: "/api/protected/"}
	b.ResetTimer()
	for b.Loop() {
		if r := e.Do(context.Background(), req); r.Outcome != OK {
			b.Fatal(r.Reason)
		}
	}
}

// BenchmarkRequestOverhead alternates one plain-resty request, one engine request and one
// request through golang.org/x/oauth2's Transport against the same server, timing each, so all
// see the same machine noise (separate benchmarks on a loopback server drift by ±10% between
// runs, more than the overhead being measured). The engine-ratio metric is the engine's
// per-request overhead over bare resty; oauth2-ratio is x/oauth2's over the same bare resty
// (a client built on net/http alone, without resty's own cost).
func BenchmarkRequestOverhead(b *testing.B) {
	url := benchServer(b, nil)
	e := benchEngine(b, url, nil)
	tok := e.Snapshot().Access.Raw
	c := resty.New().SetBaseURL(url).SetTransport(&http.Transport{MaxConnsPerHost: 64, MaxIdleConnsPerHost: 64})
	oc := oauth2ref.Client(&oauth2.Token{AccessToken: tok, TokenType: "Bearer"}, nil, 0,
		&http.Transport{MaxConnsPerHost: 64, MaxIdleConnsPerHost: 64})
	req := profile.Request{Method: "GET", Path: "/api/protected/"}
	var bare, engine, oauth time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		// Rotate which goes first, so none always gets the warm connection.
		for j := range 3 {
			start := time.Now()
			switch (i + j) % 3 {
			case 0:
				resp, err := c.R().SetHeader("Authorization", "Bearer "+tok).Get("/api/protected/")
				if err != nil || resp.StatusCode() != 200 {
					b.Fatal(err, resp.StatusCode())
				}
				bare += time.Since(start)
			case 1:
				if r := e.Do(context.Background(), req); r.Outcome != OK {
					b.Fatal(r.Reason)
				}
				engine += time.Since(start)
			default:
				oauth2Get(b, oc, url+"/api/protected/")
				oauth += time.Since(start)
			}
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(bare.Nanoseconds())/n, "bare-ns/req")
	b.ReportMetric(float64(engine.Nanoseconds())/n, "engine-ns/req")
	b.ReportMetric(float64(oauth.Nanoseconds())/n, "oauth2-ns/req")
	b.ReportMetric(float64(engine)/float64(bare), "engine-ratio")
	b.ReportMetric(float64(oauth)/float64(bare), "oauth2-ratio")
}

// oauth2Get is one GET through an x/oauth2 client, its body read to the end as resty reads it.
func oauth2Get(b *testing.B, c *http.Client, url string) {
	resp, err := c.Get(url)
	if err != nil {
		b.Error(err)
		return
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		b.Error(err, resp.StatusCode)
	}
}

func burst(b *testing.B, e *Engine, n int) {
	var wg sync.WaitGroup
	req := profile.Request{Method: "GET", Path: "/api/protected/"}
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := e.Do(context.Background(), req); r.Outcome != OK {
				b.Error(r.Reason)
			}
		}()
	}
	wg.Wait()
}

// BenchmarkBurstFresh is 1000 concurrent requests on a fresh token.
func BenchmarkBurstFresh(b *testing.B) {
	url := benchServer(b, nil)
	e := benchEngine(b, url, nil)
	b.ResetTimer()
	for b.Loop() {
		burst(b, e, 1000)
	}
}

// BenchmarkBurstExpired is 1000 concurrent requests on an expired token: one refresh, 999
// callers waiting on it, then all go through. Its ratio to BenchmarkBurstFresh is the cost of
// the refresh under load.
func BenchmarkBurstExpired(b *testing.B) {
	clock := testClock(time.Now())
	url := benchServer(b, clock)
	e := benchEngine(b, url, clock)
	b.ResetTimer()
	for b.Loop() {
		clock.Advance(time.Hour + time.Second)
		burst(b, e, 1000)
	}
	b.StopTimer()
	if c := e.Counters(); c.RefreshCalls != c.RefreshOK {
		b.Errorf("refresh failures: %+v", c)
	}
}

// oauth2Arm is the x/oauth2 side of the expired-token burst: a user's client of
// golang.org/x/oauth2 (Transport over ReuseTokenSourceWithExpiry, 1 s early) whose source
// refreshes at the demo server's simplejwt endpoint.
type oauth2Arm struct {
	url  string
	base *http.Transport
	ref  *oauth2ref.Refresher
	tok  *oauth2.Token // the newest token, handed to the next burst's ReuseTokenSource
}

func newOAuth2Arm(b *testing.B, url string) *oauth2Arm {
	b.Helper()
	base := &http.Transport{MaxConnsPerHost: 64, MaxIdleConnsPerHost: 64}
	b.Cleanup(base.CloseIdleConnections)
	hc := &http.Client{Transport: base}
	tok, err := oauth2ref.Login(context.Background(), hc, url, "demo", "demo")
	if err != nil {
		b.Fatal(err)
	}
	return &oauth2Arm{url: url, base: base, ref: oauth2ref.NewRefresher(hc, url, tok), tok: tok}
}

// burst sends n concurrent GETs on an expired token. The server's clock was moved past exp;
// x/oauth2 reads expiry against real time, so its copy of the token is made to have expired
// too, as it would have after the same wait: the first caller refreshes, the others wait on
// ReuseTokenSource's lock.
func (a *oauth2Arm) burst(b *testing.B, n int) {
	expired := *a.tok
	expired.Expiry = time.Now().Add(-time.Second)
	src := oauth2.ReuseTokenSourceWithExpiry(&expired, a.ref, time.Second)
	c := &http.Client{Transport: &oauth2.Transport{Source: src, Base: a.base}}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			oauth2Get(b, c, a.url+"/api/protected/")
		}()
	}
	wg.Wait()
	tok, err := src.Token()
	if err != nil {
		b.Fatal(err)
	}
	a.tok = tok
}

// BenchmarkBurstExpiredOAuth2 is BenchmarkBurstExpired's sibling with x/oauth2 as the client:
// 1000 concurrent GETs after expiry, one refresh.
func BenchmarkBurstExpiredOAuth2(b *testing.B) {
	clock := testClock(time.Now())
	a := newOAuth2Arm(b, benchServer(b, clock))
	b.ResetTimer()
	for b.Loop() {
		clock.Advance(time.Hour + time.Second)
		a.burst(b, 1000)
	}
	b.StopTimer()
	if calls := a.ref.Calls(); calls != int64(b.N) {
		b.Errorf("%d refreshes in %d bursts, want one each", calls, b.N)
	}
}

// BenchmarkBurstExpiredPaired alternates the engine's and x/oauth2's expired-token bursts
// against one server, so both see the same machine noise; burst-ratio is the engine's time
// over x/oauth2's.
func BenchmarkBurstExpiredPaired(b *testing.B) {
	clock := testClock(time.Now())
	url := benchServer(b, clock)
	e := benchEngine(b, url, clock)
	a := newOAuth2Arm(b, url)
	var engine, oauth time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		for j := range 2 {
			clock.Advance(time.Hour + time.Second)
			start := time.Now()
			if (i+j)%2 == 0 {
				burst(b, e, 1000)
				engine += time.Since(start)
			} else {
				a.burst(b, 1000)
				oauth += time.Since(start)
			}
		}
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(engine.Microseconds())/n/1000, "engine-ms/burst")
	b.ReportMetric(float64(oauth.Microseconds())/n/1000, "oauth2-ms/burst")
	b.ReportMetric(float64(engine)/float64(oauth), "burst-ratio")
	if c := e.Counters(); c.RefreshCalls != c.RefreshOK || c.RefreshCalls != uint64(b.N) {
		b.Errorf("engine refreshes: %+v over %d bursts", c, b.N)
	}
	if calls := a.ref.Calls(); calls != int64(b.N) {
		b.Errorf("x/oauth2: %d refreshes in %d bursts, want one each", calls, b.N)
	}
}
