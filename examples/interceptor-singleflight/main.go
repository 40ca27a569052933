// Command interceptor-singleflight is examples/interceptor-naive fixed: requests rejected with a
// 401 share one refresh call (single flight), and a request whose token was replaced while it
// was on the way just resends with the new one instead of refreshing again. Through
// `tokenscope observe`, N requests at expiry make one refresh call and none is lost.
//
//	go run ./examples/interceptor-singleflight -base http://127.0.0.1:9000 -n 50
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

var (
	base          = flag.String("base", "http://127.0.0.1:9000", "where the app sends its requests (tokenscope observe's --listen)")
	n             = flag.Int("n", 50, "requests sent at once when the access token has expired")
	path          = flag.String("path", "/api/protected/", "the API request")
	user, pass    = "demo", "demo" // the demo server's user
	access, rtok  string
	mu            sync.Mutex
	client        = &http.Client{Timeout: 30 * time.Second}
	refreshCalled int
	flight        sync.Mutex // held by the one refresh in flight; the others wait on it
)

func main() {
	flag.Parse()
	if err := login(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	wait := time.Until(expiry(access)) + 100*time.Millisecond
	fmt.Printf("logged in; waiting %s for the access token to expire\n", wait.Round(time.Millisecond))
	time.Sleep(wait)
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for range *n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := get(*path)
			mu.Lock()
			statuses[st]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	fmt.Printf("%d requests: %v by status; %d refresh calls\n", *n, statuses, refreshCalled)
}

// get is the interceptor: attach the token; on a 401, refresh (once for everybody) and resend.
func get(p string) int {
	used := token()
	st := send(p, used)
	if st != http.StatusUnauthorized {
		return st
	}
	if err := refreshOnce(used); err != nil {
		return st // the session is over: the app sends the user to the login page
	}
	return send(p, token())
}

// refreshOnce refreshes unless the token that got the 401 was replaced already: whoever holds
// the flight lock refreshes, the others wait and then find the new token.
func refreshOnce(used string) error {
	flight.Lock()
	defer flight.Unlock()
	if token() != used {
		return nil
	}
	return refresh()
}

func send(p, tok string) int {
	req, _ := http.NewRequest("GET", *base+p, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func login() error {
	return post("/api/token/", map[string]string{"username": user, "password": pass})
}

// refresh posts the current refresh token.
func refresh() error {
	mu.Lock()
	refreshCalled++
	rt := rtok
	mu.Unlock()
	return post("/api/token/refresh/", map[string]string{"refresh": rt})
}

func post(p string, body map[string]string) error {
	b, _ := json.Marshal(body)
	resp, err := client.Post(*base+p, "application/json", bytes.NewReader(b))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", p, resp.Status)
	}
	var out struct{ Access, Refresh string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	access = out.Access
	if out.Refresh != "" {
		rtok = out.Refresh
	}
	return nil
}

func token() string {
	mu.Lock()
	defer mu.Unlock()
	return access
}

// expiry reads a JWT's exp without checking it: the client only needs to know when.
func expiry(jwt string) time.Time {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return time.Now()
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct{ Exp int64 }
	if err != nil || json.Unmarshal(b, &claims) != nil {
		return time.Now()
	}
	return time.Unix(claims.Exp, 0)
}
