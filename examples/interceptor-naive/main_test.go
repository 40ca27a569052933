package main

import (
	"testing"
	"time"

	"tokenscope/demoserver"
)

// TestNaiveInterceptorStampedes runs the example against the demo server: 20 requests at
// expiry make more than one refresh call with one refresh token, and the server sees the reuse.
func TestNaiveInterceptorStampedes(t *testing.T) {
	srv, err := demoserver.Start(demoserver.Options{AccessTTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.SetLatency(0, 50*time.Millisecond) // the refreshes overlap, as a real server's do
	*base, *n = srv.URL(), 20
	main()
	if st := srv.Stats(); refreshCalled < 2 || st.ReuseDetected == 0 {
		t.Errorf("%d refresh calls, %d reuses detected: want the stampede", refreshCalled, st.ReuseDetected)
	}
}
