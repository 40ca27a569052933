package oauth2ref

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"tokenscope/demoserver"
	"tokenscope/internal/clock"
)

// TestReferenceClientRefreshesOnce: the reference client logs in at the demo server, and after
// the access token expires 50 concurrent requests through x/oauth2's Transport are all answered
// with one refresh (ReuseTokenSource's own single flight), the rotated refresh token kept.
func TestReferenceClientRefreshesOnce(t *testing.T) {
	clk := clock.NewManual(time.Now())
	srv, err := demoserver.New(demoserver.Options{AccessTTL: time.Minute, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	ctx := context.Background()
	tok, err := Login(ctx, ts.Client(), ts.URL, "demo", "demo")
	if err != nil || tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("login: %v %+v", err, tok)
	}
	// x/oauth2 reads expiry by the wall clock: the token says it expires in a minute, so move it
	// into the past as the server's clock moves past its exp.
	tok.Expiry = time.Now().Add(-time.Second)
	clk.Advance(2 * time.Minute)
	r := NewRefresher(ts.Client(), ts.URL, tok)
	hc := Client(tok, r, 0, ts.Client().Transport)
	var wg sync.WaitGroup
	codes := make(chan int, 50)
	for range 50 {
		wg.Go(func() {
			resp, err := hc.Get(ts.URL + "/api/protected/")
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		})
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusOK {
			t.Errorf("a request got %d", c)
		}
	}
	if r.Calls() != 1 || srv.Stats().RefreshOK != 1 {
		t.Errorf("refreshes: client %d, server %d; want 1", r.Calls(), srv.Stats().RefreshOK)
	}
}
