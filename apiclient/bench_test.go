package apiclient

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/go-resty/resty/v2"

	"tokenscope/apiclient/profile"
	"tokenscope/demoserver"
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

// BenchmarkRequestOverhead alternates one plain-resty request and one engine request against
// the same server, timing each, so both see the same machine noise (separate benchmarks on a
// loopback server drift by ±10% between runs, more than the overhead being measured). The
// engine-ratio metric is the engine's per-request overhead.
func BenchmarkRequestOverhead(b *testing.B) {
	url := benchServer(b, nil)
	e := benchEngine(b, url, nil)
	tok := e.Snapshot().Access.Raw
	c := resty.New().SetBaseURL(url).SetTransport(&http.Transport{MaxConnsPerHost: 64, MaxIdleConnsPerHost: 64})
	req := profile.Request{Method: "GET", Path: "/api/protected/"}
	var bare, engine time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		// Alternate which goes first, so neither always gets the warm connection.
		for j := range 2 {
			start := time.Now()
			if (i+j)%2 == 0 {
				resp, err := c.R().SetHeader("Authorization", "Bearer "+tok).Get("/api/protected/")
				if err != nil || resp.StatusCode() != 200 {
					b.Fatal(err, resp.StatusCode())
				}
				bare += time.Since(start)
			} else {
				if r := e.Do(context.Background(), req); r.Outcome != OK {
					b.Fatal(r.Reason)
				}
				engine += time.Since(start)
			}
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(bare.Nanoseconds())/n, "bare-ns/req")
	b.ReportMetric(float64(engine.Nanoseconds())/n, "engine-ns/req")
	b.ReportMetric(float64(engine)/float64(bare), "engine-ratio")
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
