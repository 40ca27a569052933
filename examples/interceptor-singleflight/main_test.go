package main

import (
	"testing"
	"time"

	"tokenscope/demoserver"
)

// TestSingleFlightInterceptorRefreshesOnce runs the example against the demo server: 20 requests
// at expiry make one refresh call, and every request succeeds.
func TestSingleFlightInterceptorRefreshesOnce(t *testing.T) {
	srv, err := demoserver.Start(demoserver.Options{AccessTTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.SetLatency(0, 50*time.Millisecond) // the refreshes overlap, as a real server's do
	*base, *n = srv.URL(), 20
	main()
	if st := srv.Stats(); refreshCalled != 1 || st.RefreshOK != 1 || st.ReuseDetected != 0 || st.ResourceOK != 20 {
		t.Errorf("%d refresh calls, %d accepted, %d reuses, %d answered: want one refresh and 20 answers", refreshCalled, st.RefreshOK, st.ReuseDetected, st.ResourceOK)
	}
}
