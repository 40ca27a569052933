package main

import (
	"testing"
	"time"

	"tokenscope/demoserver"
)

// TestRunIsTheUsersBurst: the comparison client logs in, waits past exp and sends its burst;
// every request is answered, with one refresh, as the fire side of scripts/burstcmp.sh must be.
func TestRunIsTheUsersBurst(t *testing.T) {
	srv, err := demoserver.Start(demoserver.Options{AccessTTL: 2 * time.Second}) // as burstcmp.sh: x/oauth2 takes a token 1 s early
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	res, err := run(srv.URL(), "demo", "demo", "/api/protected/", 20)
	if err != nil || res.Requests != 20 || res.OK != 20 || res.Refreshes != 1 || res.WallMS <= 0 {
		t.Fatalf("%+v, %v", res, err)
	}
}
