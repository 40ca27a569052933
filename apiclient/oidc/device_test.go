package oidc

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"tokenscope/demoserver"
	"tokenscope/internal/clock"
)

// sleeper is the client's clock: the demo server's manual clock, whose timers record each
// wait and move the clock by it at once, so that polls wait their interval without sleeping;
// short shortens the n-th wait (1-based) to provoke slow_down; during runs before the move.
type sleeper struct {
	*demoserver.ManualClock
	waits  []time.Duration
	short  map[int]time.Duration
	during map[int]func()
}

func (s *sleeper) NewTimer(d time.Duration) clock.Timer {
	s.waits = append(s.waits, d)
	n := len(s.waits)
	if f := s.during[n]; f != nil {
		f()
	}
	if sh, ok := s.short[n]; ok {
		d = sh
	}
	s.Advance(d)
	return s.ManualClock.NewTimer(0)
}

func (s *sleeper) After(d time.Duration) <-chan time.Time { return s.NewTimer(d).C() }

func newSleeper(clk *demoserver.ManualClock) *sleeper {
	return &sleeper{ManualClock: clk, short: map[int]time.Duration{}, during: map[int]func(){}}
}

func deviceClient(t *testing.T) (*Client, *sleeper, string) {
	t.Helper()
	clk := demoserver.NewManualClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	c, _, base := discovered(t, demoserver.Options{Clock: clk, DeviceInterval: 5 * time.Second}, "tokenscope", "")
	sl := newSleeper(clk)
	c.Clock = sl
	return c, sl, base
}

// approveDevice plays the user: the verification_uri_complete, the login and approve forms.
func approveDevice(t *testing.T, base string, d *DeviceAuth, approve bool) {
	t.Helper()
	b := newBrowser(t)
	last := b.consent(base, "/device", b.get(d.VerificationURIComplete), approve)
	if last.status != 200 {
		t.Fatalf("device consent: %d %s", last.status, last.body)
	}
}

// TestDeviceFlow: pending, then a too-early poll gets slow_down and the interval grows by 5 s
// for the rest of the flow, then the user approves; every poll waited its interval first.
func TestDeviceFlow(t *testing.T) {
	c, sl, base := deviceClient(t)
	d, err := c.StartDevice(ctxT(t), "openid offline_access", nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Interval != 5*time.Second || d.ExpiresIn != 10*time.Minute || d.UserCode == "" ||
		d.VerificationURI != base+"/device" || !strings.HasPrefix(d.VerificationURIComplete, base+"/device?user_code=") {
		t.Fatalf("device auth %+v", d)
	}
	sl.short[2] = 4 * time.Second // the server sees the second poll 4 s after the first
	sl.during[4] = func() { approveDevice(t, base, d, true) }
	tok, err := c.PollDevice(ctxT(t), d)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Access.Empty() || tok.Refresh.Empty() || tok.IDToken.Empty() {
		t.Fatalf("token %+v", tok)
	}
	want := []time.Duration{5 * time.Second, 5 * time.Second, 10 * time.Second, 10 * time.Second}
	if len(sl.waits) != len(want) {
		t.Fatalf("waits %v, want %v", sl.waits, want)
	}
	for i := range want {
		if sl.waits[i] != want[i] {
			t.Fatalf("waits %v, want %v", sl.waits, want)
		}
	}
	st := demoStats(t, base)
	if st["device_polls"] != 4 || st["device_slow_down"] != 1 || d.Interval != 10*time.Second {
		t.Fatalf("stats %v, interval %s", st, d.Interval)
	}
}

// TestDeviceDeniedExpired: access_denied and expired_token end polling with typed errors.
func TestDeviceDeniedExpired(t *testing.T) {
	c, sl, base := deviceClient(t)
	d, err := c.StartDevice(ctxT(t), "openid", nil)
	if err != nil {
		t.Fatal(err)
	}
	sl.during[1] = func() { approveDevice(t, base, d, false) }
	_, err = c.PollDevice(ctxT(t), d)
	var e *Error
	if !errors.As(err, &e) || e.Code != "access_denied" || !strings.Contains(e.Hint(), "denied") {
		t.Fatalf("denied: %v", err)
	}

	c, sl, _ = deviceClient(t)
	d, err = c.StartDevice(ctxT(t), "openid", nil)
	if err != nil {
		t.Fatal(err)
	}
	sl.short[1] = 11 * time.Minute
	_, err = c.PollDevice(ctxT(t), d)
	if !errors.As(err, &e) || e.Code != "expired_token" || e.Status != 400 {
		t.Fatalf("expired: %v", err)
	}
	// By the client's own clock too, without asking the server again.
	sl.Set(d.Expires)
	polls := len(sl.waits)
	if _, err = c.PollDevice(ctxT(t), d); !errors.As(err, &e) || e.Code != "expired_token" || len(sl.waits) != polls {
		t.Fatalf("local expiry: %v", err)
	}
}

// TestDeviceContext: the real sleeper honours ctx; a provider without the endpoint is named.
func TestDeviceContext(t *testing.T) {
	c, _, _ := discovered(t, demoserver.Options{}, "tokenscope", "")
	d, err := c.StartDevice(ctxT(t), "openid", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctxT(t), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := c.PollDevice(ctx, d); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("err %v after %s", err, time.Since(start))
	}
	c.Provider.DeviceAuthorizationEndpoint = ""
	if _, err := c.StartDevice(ctxT(t), "", nil); !errors.Is(err, ErrNoDeviceEndpoint) {
		t.Fatalf("no endpoint: %v", err)
	}
}

// TestParseDeviceAuth: interval defaults to 5 s; Google's verification_url is read.
func TestParseDeviceAuth(t *testing.T) {
	d, err := parseDeviceAuth([]byte(`{"device_code":"d","user_code":"U","verification_url":"https://g/device","expires_in":"1800"}`), time.Unix(0, 0))
	if err != nil || d.Interval != DefaultDeviceInterval || d.VerificationURI != "https://g/device" || d.Expires != time.Unix(1800, 0) {
		t.Fatalf("%+v %v", d, err)
	}
	if _, err := parseDeviceAuth([]byte(`{"device_code":"d"}`), time.Now()); err == nil {
		t.Fatal("incomplete answer accepted")
	}
}

// TestDeviceSendsPKCEWhenAdvertised: Keycloak demands PKCE on the device request of a client
// configured for it; tokenscope sends S256 when the provider advertises it, and the matching
// verifier with the polls, and nothing of the kind otherwise.
func TestDeviceSendsPKCEWhenAdvertised(t *testing.T) {
	for _, advertised := range []bool{true, false} {
		var challenge, verifier string
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			w.Header().Set("Content-Type", "application/json")
			if r.URL.Path == "/device" {
				challenge = r.PostForm.Get("code_challenge")
				_, _ = io.WriteString(w, `{"device_code":"d","user_code":"U","verification_uri":"http://x/","interval":1}`)
				return
			}
			verifier = r.PostForm.Get("code_verifier")
			_, _ = io.WriteString(w, `{"access_token":"a","token_type":"Bearer"}`)
		}))
		p := &Provider{Issuer: ts.URL, TokenEndpoint: ts.URL + "/token", DeviceAuthorizationEndpoint: ts.URL + "/device"}
		if advertised {
			p.CodeChallengeMethodsSupported = []string{"S256"}
		}
		c := &Client{HTTP: ts.Client(), Provider: p, ID: "c",
			Clock: newSleeper(clock.NewManual(time.Unix(1_800_000_000, 0)))}
		d, err := c.StartDevice(context.Background(), "openid", nil)
		if err == nil {
			_, err = c.PollDevice(context.Background(), d)
		}
		ts.Close()
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case advertised && (challenge == "" || S256Challenge(verifier) != challenge):
			t.Errorf("advertised: challenge %q, verifier %q do not match", challenge, verifier)
		case !advertised && (challenge != "" || verifier != ""):
			t.Errorf("not advertised: sent challenge %q verifier %q", challenge, verifier)
		}
	}
}
