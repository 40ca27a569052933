// Command burstcmp is the x/oauth2 side of issue 18's burst comparison: against a running
// `tokenscope demo-server --access-ttl 2s` it does what `tokenscope fire --profile simplejwt
// --wait-expiry -n 1000 -c 1000 GET /api/protected/` does with golang.org/x/oauth2 as the
// client (internal/oauth2ref: Transport over ReuseTokenSourceWithExpiry, 1 s early): log in,
// wait until the access token has expired, send the requests at once. It prints one JSON line
// whose ok, refreshes and wall_ms mean what fire's summary fields of those names mean: wall_ms
// runs from the first request sent to the last answer, without the login and the wait.
// scripts/burstcmp.sh runs it interleaved with fire.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"tokenscope/internal/oauth2ref"
)

type result struct {
	Requests  int     `json:"requests"`
	OK        int64   `json:"ok"`
	Failed    int64   `json:"failed"`
	Refreshes int64   `json:"refreshes"`
	WallMS    float64 `json:"wall_ms"`
}

func main() {
	target := flag.String("target", "http://127.0.0.1:8000", "the demo server's base URL")
	user := flag.String("user", "demo", "user to log in as")
	passwordEnv := flag.String("password-env", "PW", "name of the environment variable holding the password")
	n := flag.Int("n", 1000, "how many concurrent GETs to send after expiry")
	path := flag.String("path", "/api/protected/", "the resource to GET")
	flag.Parse()
	res, err := run(*target, *user, os.Getenv(*passwordEnv), *path, *n)
	if err != nil {
		fmt.Fprintln(os.Stderr, "burstcmp:", err)
		os.Exit(1)
	}
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
	if res.OK != int64(res.Requests) {
		os.Exit(1)
	}
}

func run(target, user, password, path string, n int) (result, error) {
	// What a user of x/oauth2 has: net/http's default transport.
	base := http.DefaultTransport.(*http.Transport).Clone()
	hc := &http.Client{Transport: base, Timeout: 30 * time.Second}
	tok, err := oauth2ref.Login(context.Background(), hc, target, user, password)
	if err != nil {
		return result{}, fmt.Errorf("login: %w", err)
	}
	if tok.Expiry.IsZero() {
		return result{}, fmt.Errorf("the access token has no exp to wait for")
	}
	time.Sleep(time.Until(tok.Expiry) + 10*time.Millisecond) // past exp, as fire --wait-expiry waits
	ref := oauth2ref.NewRefresher(hc, target, tok)
	c := oauth2ref.Client(tok, ref, time.Second, base)
	c.Timeout = 30 * time.Second
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if get(c, target+path) {
				ok.Add(1)
			} else {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	return result{Requests: n, OK: ok.Load(), Failed: failed.Load(), Refreshes: ref.Calls(),
		WallMS: float64(wall.Microseconds()) / 1000}, nil
}

func get(c *http.Client, url string) bool {
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err == nil && resp.StatusCode == http.StatusOK
}
