package observe

// Clients written in the style of the seeds' front ends (an axios interceptor, a Vue admin),
// in Go: what tokenscope observe watches. They speak simplejwt to the demo server through the
// proxy.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"tokenscope/apiclient/profile"
	"tokenscope/demoserver"
	"tokenscope/internal/clock"
	"tokenscope/session"
)

func simplejwtProfile() profile.Profile {
	p, _ := profile.Builtin("simplejwt")
	return p
}

// rig is the demo server, the proxy in front of it, and the proxy's listener, on one manual
// clock with the rig's clients, so that tokens expire and windows close without sleeping.
type rig struct {
	demo  *demoserver.Server
	proxy *Proxy
	srv   *httptest.Server
	clock *clock.Manual
}

func newRig(t *testing.T, opts demoserver.Options, edit func(*Config)) *rig {
	t.Helper()
	clk := clock.NewManual(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	opts.Clock = clk
	demo, err := demoserver.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = demo.Close() })
	prof, _ := profile.Builtin("simplejwt")
	up, err := ParseUpstream(demo.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Upstreams: []Upstream{up}, Profile: prof, Clock: clk}
	if edit != nil {
		edit(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(func() { srv.Close(); p.Close() })
	return &rig{demo: demo, proxy: p, srv: srv, clock: clk}
}

// newClient is a client of the proxy on the rig's clock.
func (r *rig) newClient() *client {
	c := newClient(r.srv.URL)
	c.clock = r.clock
	return c
}

// advance moves the rig's clock by d, as if d passed, and returns once the proxy's sweeper
// has looked at the new time (when d reached its next sweep).
func (r *rig) advance(t *testing.T, d time.Duration) {
	t.Helper()
	if !r.clock.AwaitTimers(1, 10*time.Second) {
		t.Fatal("the proxy's sweeper does not wait on the rig's clock")
	}
	r.clock.Advance(d)
	if !r.clock.AwaitTimers(1, 10*time.Second) { // armed again: the sweep it fired is done
		t.Fatal("the proxy's sweeper did not come back")
	}
}

// finish ends the analysis and returns the summary.
func (r *rig) finish(t *testing.T) Summary {
	r.proxy.Close()
	if testing.Verbose() {
		for _, e := range r.proxy.Log().Events() {
			t.Log(e.Text())
		}
	}
	return r.proxy.Summary()
}

// client is a seed-style front end.
type client struct {
	base string
	hc   *http.Client

	singleFlight bool          // concurrent 401s share one refresh (a mutex and a token compare)
	proactive    time.Duration // refresh first when exp is this near (0: never)
	retries      int           // how many times a request is sent again after a 401 (0: refresh, but drop it)
	// onRefreshFail decides what the app does when a refresh fails with status (0: network):
	// nil gives up on the request.
	onRefreshFail func(c *client, status int) bool

	mu      sync.Mutex
	access  string
	refresh string
	exp     time.Time
	sf      sync.Mutex

	clock clock.Clock // when its token expires; the rig's manual clock
}

func newClient(base string) *client {
	return &client{base: base, hc: &http.Client{Timeout: 10 * time.Second}, retries: 1, clock: clock.System{}}
}

func (c *client) post(path string, body any) (int, map[string]any, error) {
	b, _ := json.Marshal(body)
	resp, err := c.hc.Post(c.base+path, "application/json", bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m, nil
}

func (c *client) login() error {
	st, m, err := c.post("/api/token/", map[string]string{"username": "demo", "password": "demo"})
	if err != nil || st != 200 {
		return fmt.Errorf("login: %d %v", st, err)
	}
	c.set(m)
	return nil
}

func (c *client) set(m map[string]any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a, ok := m["access"].(string); ok {
		c.access = a
		c.exp = session.ParseToken(a, c.clock.Now(), 0).ExpiresAt
	}
	if r, ok := m["refresh"].(string); ok {
		c.refresh = r
	}
}

func (c *client) tokens() (access, refresh string, exp time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.access, c.refresh, c.exp
}

// refreshWith presents rt and installs what comes back.
func (c *client) refreshWith(rt string) (int, error) {
	st, m, err := c.post("/api/token/refresh/", map[string]string{"refresh": rt})
	if err == nil && st == 200 {
		c.set(m)
	}
	return st, err
}

// renew refreshes after a 401 on used: the naive way (every caller refreshes with the refresh
// token it has), or single flight (callers wait, and do not refresh again when the token already
// changed).
func (c *client) renew(used string) bool {
	if c.singleFlight {
		c.sf.Lock()
		defer c.sf.Unlock()
		if a, _, _ := c.tokens(); a != used {
			return true
		}
	}
	_, rt, _ := c.tokens()
	st, err := c.refreshWith(rt)
	if err != nil {
		st = 0
	}
	if st == 200 {
		return true
	}
	if c.onRefreshFail != nil {
		return c.onRefreshFail(c, st)
	}
	return false
}

func (c *client) ensureFresh() {
	a, _, exp := c.tokens()
	if c.proactive > 0 && exp.Sub(c.clock.Now()) < c.proactive {
		c.renew(a)
	}
}

// do sends a request as the app does: token attached, a 401 refreshes and resends (up to
// c.retries times).
func (c *client) do(method, path string, body []byte) int {
	return c.doGated(method, path, body, nil, nil)
}

// doGated is do whose first attempt, once it holds its token, says so on ready and waits for
// gate: a burst's requests all leave with the token they read at the same moment, as a page's
// requests do, however slowly a loaded machine starts their goroutines.
func (c *client) doGated(method, path string, body []byte, ready *sync.WaitGroup, gate chan struct{}) int {
	for attempt := 0; ; attempt++ {
		c.ensureFresh()
		tok, _, _ := c.tokens()
		if attempt == 0 && gate != nil {
			ready.Done()
			<-gate
		}
		req, _ := http.NewRequest(method, c.base+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 {
			return resp.StatusCode
		}
		if attempt >= c.retries {
			if c.retries == 0 {
				c.renew(tok) // refreshes, but the request is dropped
			}
			return resp.StatusCode
		}
		if !c.renew(tok) {
			return resp.StatusCode
		}
	}
}

// burst sends n requests at once and waits for them.
func (c *client) burst(n int, method, path string) []int {
	out := make([]int, n)
	var wg, ready sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		wg.Add(1)
		ready.Add(1)
		go func() {
			defer wg.Done()
			out[i] = c.doGated(method, path, nil, &ready, gate)
		}()
	}
	ready.Wait()
	close(gate)
	wg.Wait()
	return out
}

// waitExpired moves the manual clock just past the access token's exp.
func (c *client) waitExpired(t *testing.T) {
	t.Helper()
	_, _, exp := c.tokens()
	m, ok := c.clock.(*clock.Manual)
	if exp.IsZero() || !ok {
		t.Fatal("no exp, or not on a rig's clock")
	}
	m.Set(exp.Add(50 * time.Millisecond))
}
