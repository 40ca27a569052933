package apiclient

import (
	"context"
	"sync/atomic"
	"testing"

	"tokenscope/apiclient/profile"
	"tokenscope/demoserver"
)

func TestBurst(t *testing.T) {
	v := newEnv(t, "simplejwt", demoserver.Options{}, Config{})
	const n, conc = 40, 7
	var inEach, overlapped atomic.Int32
	seen := make([]bool, n)
	ok := 0
	v.e.Burst(context.Background(), profile.Request{Method: "GET", Path: "/api/protected/"}, n, conc, func(i int, r Result) {
		if inEach.Add(1) > 1 {
			overlapped.Add(1)
		}
		defer inEach.Add(-1)
		if seen[i] {
			t.Errorf("index %d twice", i)
		}
		seen[i] = true
		if r.Outcome == OK && !r.Sent.IsZero() {
			ok++
		}
	})
	if ok != n || overlapped.Load() != 0 {
		t.Fatalf("%d of %d ok (with Sent), %d overlapping calls to each", ok, n, overlapped.Load())
	}
	v.e.Burst(context.Background(), profile.Request{Method: "GET", Path: "/api/protected/"}, 3, 0, nil) // nil each: no panic
}
