package apiclient

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"tokenscope/apiclient/profile"
	"tokenscope/internal/clock"
)

// TestFailedRetryTimesTheWaitForTheRefresh: a request whose retry gives up waiting for the
// refresh after a 401 ends when it gives up, not when the 401 came: its Duration and Done
// include the wait (five seconds on the engine's clock here).
func TestFailedRetryTimesTheWaitForTheRefresh(t *testing.T) {
	clk := clock.NewManual(epoch)
	refreshing, release := make(chan struct{}, 1), make(chan struct{})
	var logins atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/token/", edgeOpaquePair("t", &logins))
	mux.HandleFunc("POST /api/token/refresh/", func(w http.ResponseWriter, r *http.Request) {
		refreshing <- struct{}{}
		<-release
		edgeWriteJSON(w, http.StatusServiceUnavailable, `{"detail":"busy"}`)
	})
	mux.HandleFunc("GET /api/protected/", edgeTokenNotValid)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	t.Cleanup(func() { close(release) })
	cfg := edgeConfig(ts.URL, edgeProfile(t, "simplejwt"))
	cfg.Clock, cfg.Strategy, cfg.Timeout, cfg.RefreshTimeout = clk, Reactive, time.Minute, time.Minute
	e := edgeNew(t, cfg)
	t.Cleanup(e.Close)
	edgeLogin(t, e)

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-refreshing // the retry waits on the refresh now
		clk.Advance(5 * time.Second)
		cancel()
	}()
	r := e.Do(ctx, profile.Request{Method: "GET", Path: "/api/protected/"})
	if r.Outcome != Failed || len(r.Attempts) != 1 {
		t.Fatalf("%v %q, %d attempts; want a failure after one attempt", r.Outcome, r.Reason, len(r.Attempts))
	}
	if r.Duration != 5*time.Second || !r.Done.Equal(r.Sent.Add(5*time.Second)) {
		t.Errorf("duration %v, done %v after sent: want the five seconds it waited", r.Duration, r.Done.Sub(r.Sent))
	}
}
