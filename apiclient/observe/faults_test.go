package observe

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestClearFaults: c (clear) cancels what is pending and leaves fault injection on; it used to
// overwrite the struct that holds its own lock and crash the proxy ("sync: unlock of unlocked
// mutex") on the spot.
func TestClearFaults(t *testing.T) {
	up, _ := echoUpstream(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"access":"a","refresh":"r"}`)) })
	p, srv := proxyFor(t, func(c *Config) { c.Faults = true }, up.URL)
	refresh := func() int {
		t.Helper()
		resp, err := http.Post(srv.URL+"/api/token/refresh/", "application/json", strings.NewReader(`{"refresh":"r"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if err := p.Fail503Next(2); err != nil {
		t.Fatal(err)
	}
	if err := p.SlowRefresh(time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := p.ClearFaults(); err != nil {
		t.Fatal(err)
	}
	if got := refresh(); got != http.StatusOK {
		t.Errorf("a refresh after c answered %d, want the upstream's 200 at once", got)
	}
	if !p.FaultsEnabled() {
		t.Fatal("c turned fault injection off")
	}
	if err := p.Fail503Next(1); err != nil {
		t.Fatal(err)
	}
	if got := refresh(); got != http.StatusServiceUnavailable {
		t.Errorf("a fault set after c: the refresh answered %d, want the injected 503", got)
	}
}

// TestFaultsUnderConcurrentUse: the stdin commands and the proxy's traffic share the pending
// faults; clearing while requests read them must neither race nor crash.
func TestFaultsUnderConcurrentUse(t *testing.T) {
	up, _ := echoUpstream(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"access":"a","refresh":"r"}`)) })
	p, srv := proxyFor(t, func(c *Config) { c.Faults = true }, up.URL)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range 50 {
				_ = p.Fail503Next(1)
				_ = p.RevokeNext(1)
				_ = p.ExpireNow()
				_ = p.ClearFaults()
			}
		}()
		go func() {
			defer wg.Done()
			for range 10 {
				resp, err := http.Post(srv.URL+"/api/token/refresh/", "application/json", strings.NewReader(`{"refresh":"r"}`))
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if err := p.ClearFaults(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(srv.URL+"/api/token/refresh/", "application/json", strings.NewReader(`{"refresh":"r"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("after the last clear a refresh answered %d, want 200", resp.StatusCode)
	}
}
