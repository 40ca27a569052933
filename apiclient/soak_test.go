package apiclient

import (
	"context"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tokenscope/apiclient/profile"
	"tokenscope/demoserver"
	"tokenscope/session"
)

// TestSoak runs the engine for TOKENSCOPE_SOAK (a duration, e.g. 3m) against a demo server with
// 2 s access tokens and rotation: 20 workers send requests without pause, a manual refresh
// every 3 s, a revocation of every family every 20 s (the engine parks, logs in again, and
// replays). It reports requests, refreshes, 401s and memory, and fails on a lost request, a
// leaked goroutine or memory that keeps growing. Skipped unless the variable is set.
func TestSoak(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("TOKENSCOPE_SOAK"))
	if err != nil || d <= 0 {
		t.Skip("set TOKENSCOPE_SOAK=3m to run the soak test")
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	goroutines := runtime.NumGoroutine()

	srv, err := demoserver.Start(demoserver.Options{AccessTTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := profile.Builtin("simplejwt")
	e, err := New(Config{BaseURL: srv.URL(), Profile: p, Username: "demo", Password: "demo",
		RefreshBackoff: 20 * time.Millisecond, Log: session.NewLog(4096)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	var sent, ok, failed, parked, replayedOK atomic.Int64
	var mu sync.Mutex
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				sent.Add(1)
				switch r := e.Do(context.Background(), p.PresetRequests()[0]); r.Outcome {
				case OK:
					ok.Add(1)
				case Parked:
					parked.Add(1)
					time.Sleep(10 * time.Millisecond)
				default:
					failed.Add(1)
					if r.Reason == "" {
						t.Error("failed without a reason")
					}
				}
			}
		}()
	}
	manual, revocations, relogins := 0, 0, 0
	tick := time.NewTicker(100 * time.Millisecond)
	lastManual, lastRevoke := time.Now(), time.Now()
	for time.Now().Before(deadline) {
		<-tick.C
		if time.Since(lastManual) > 3*time.Second {
			_ = e.RefreshNow(context.Background())
			manual++
			lastManual = time.Now()
		}
		if time.Since(lastRevoke) > 20*time.Second {
			srv.RevokeAllFamilies()
			revocations++
			lastRevoke = time.Now()
		}
		if e.Snapshot().State == session.StateLoginRequired {
			rs, err := e.Login(context.Background())
			if err != nil {
				t.Errorf("login: %v", err)
			}
			mu.Lock()
			relogins++
			for _, r := range rs {
				if r.Outcome == OK {
					replayedOK.Add(1)
				}
			}
			mu.Unlock()
		}
	}
	tick.Stop()
	wg.Wait()
	// Whatever is still parked is replayed by a last login.
	if e.Parked() > 0 {
		rs, _ := e.Login(context.Background())
		for _, r := range rs {
			if r.Outcome == OK {
				replayedOK.Add(1)
			}
		}
	}
	c := e.Counters()
	st := srv.Stats()
	e.Close()
	srv.Close()

	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	t.Logf("soak %s: %d requests (%d ok, %d failed, %d parked → %d replayed ok); %d refresh calls (%d failed), %d 401s, "+
		"%d manual refreshes, %d revocations, %d logins again; server: %d refresh ok, %d rejected, %d reuse; "+
		"heap %.1f → %.1f MiB, goroutines %d → %d",
		d, sent.Load(), ok.Load(), failed.Load(), parked.Load(), replayedOK.Load(), c.RefreshCalls, c.RefreshFailures,
		c.Unauthorized, manual, revocations, relogins, st.RefreshOK, st.RefreshRejected, st.ReuseDetected,
		float64(before.HeapAlloc)/(1<<20), float64(after.HeapAlloc)/(1<<20), goroutines, runtime.NumGoroutine())
	if sent.Load() != ok.Load()+failed.Load()+parked.Load() {
		t.Errorf("lost requests: %d sent, %d accounted for", sent.Load(), ok.Load()+failed.Load()+parked.Load())
	}
	if parked.Load() != replayedOK.Load() {
		t.Errorf("%d parked but %d replayed ok", parked.Load(), replayedOK.Load())
	}
	if st.ReuseDetected != 0 {
		t.Errorf("single flight let a rotated refresh token be reused %d times", st.ReuseDetected)
	}
	if after.HeapAlloc > before.HeapAlloc+64<<20 {
		t.Errorf("heap grew from %d to %d bytes", before.HeapAlloc, after.HeapAlloc)
	}
	for i := 0; i < 20 && runtime.NumGoroutine() > goroutines+2; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines+2 {
		t.Errorf("goroutines %d → %d", goroutines, n)
	}
}
