package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"tokenscope/apiclient/profile"
	"tokenscope/internal/clock"
	"tokenscope/session"
)

// stockSimpleJWT behaves like Django REST framework simplejwt 5.2.2 with its default settings
// but 5 s access tokens: the refresh endpoint mints an access token whose iat is copied from
// the refresh token (RefreshToken.access_token copies every claim but exp, jti and token_type),
// exp is whole seconds (PyJWT), the refresh token is not rotated, the Date header is right, and
// an access token is dead once the server's clock reaches exp.
type stockSimpleJWT struct {
	secret []byte
	ttl    time.Duration
	// refreshAge is how long ago the refresh token a login hands out was issued: a session
	// that began a while ago (simplejwt's refresh tokens live a day). Its iat is what every
	// access token minted by a refresh carries.
	refreshAge time.Duration
	clock      clock.Clock // the server's time, and its Date header's

	mu           sync.Mutex
	lastExp      time.Time // exp of the newest access token
	refreshes    int
	late         []string // refreshes that came at or after the current access token's exp
	unauthorized int
	served       int
}

func (s *stockSimpleJWT) sign(t *testing.T, claims jwt.MapClaims) string {
	raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.secret)
	if err != nil {
		t.Error(err)
	}
	return raw
}

func (s *stockSimpleJWT) parse(raw string) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithoutClaimsValidation()).
		ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return s.secret, nil })
	return claims, err
}

// access mints an access token at now with the given iat.
func (s *stockSimpleJWT) access(t *testing.T, now time.Time, iat int64) string {
	exp := now.Add(s.ttl).Unix()
	s.lastExp = time.Unix(exp, 0)
	return s.sign(t, jwt.MapClaims{"token_type": "access", "iat": iat, "exp": exp, "jti": fmt.Sprint(now.UnixNano()), "user_id": 1})
}

func (s *stockSimpleJWT) now() time.Time { return s.clock.Now() }

func (s *stockSimpleJWT) handler(t *testing.T) http.Handler {
	if s.clock == nil {
		s.clock = clock.System{}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/token/", func(w http.ResponseWriter, r *http.Request) {
		now := s.now()
		s.mu.Lock()
		defer s.mu.Unlock()
		iat := now.Add(-s.refreshAge)
		refresh := s.sign(t, jwt.MapClaims{"token_type": "refresh", "iat": iat.Unix(), "exp": iat.Add(24 * time.Hour).Unix(), "jti": "r1", "user_id": 1})
		edgeWriteJSON(w, http.StatusOK, fmt.Sprintf(`{"refresh":%q,"access":%q}`, refresh, s.access(t, now, now.Unix())))
	})
	mux.HandleFunc("POST /api/token/refresh/", func(w http.ResponseWriter, r *http.Request) {
		now := s.now()
		var body struct{ Refresh string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			edgeWriteJSON(w, http.StatusBadRequest, `{"refresh":["This field is required."]}`)
			return
		}
		claims, err := s.parse(body.Refresh)
		if err != nil || claims["token_type"] != "refresh" {
			edgeTokenNotValid(w, r)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.refreshes++
		if !now.Before(s.lastExp) {
			s.late = append(s.late, fmt.Sprintf("refresh %d at %s, access exp %s", s.refreshes, now.Format("15:04:05.000"), s.lastExp.Format("15:04:05")))
		}
		iat, _ := claims["iat"].(float64)
		edgeWriteJSON(w, http.StatusOK, fmt.Sprintf(`{"access":%q}`, s.access(t, now, int64(iat))))
	})
	mux.HandleFunc("GET /api/protected/", func(w http.ResponseWriter, r *http.Request) {
		now := s.now()
		claims, err := s.parse(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		exp, _ := claims["exp"].(float64)
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil || claims["token_type"] != "access" || !now.Before(time.Unix(int64(exp), 0)) {
			s.unauthorized++
			edgeTokenNotValid(w, r)
			return
		}
		s.served++
		edgeWriteJSON(w, http.StatusOK, `{"ok":true}`)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", s.now().UTC().Format(http.TimeFormat)) // net/http's would be real time
		mux.ServeHTTP(w, r)
	})
}

// stockClock is a manual clock for a stock server and an engine, started a little after a
// whole second as real time would be.
func stockClock(srv *stockSimpleJWT, cfg *Config) *clock.Manual {
	clk := clock.NewManual(time.Date(2026, 11, 23, 12, 0, 0, 300*int(time.Millisecond), time.UTC))
	srv.clock, cfg.Clock = clk, clk
	return clk
}

// step moves the clock by d, as if d passed, and returns once the engine's background
// refresher waits on it again: a refresh that the move started has ended, as it would have
// within d of real time.
func step(t *testing.T, clk *clock.Manual, d time.Duration, strategy Strategy) {
	t.Helper()
	awaitRefresher(t, clk, strategy)
	clk.Advance(d)
	awaitRefresher(t, clk, strategy)
}

// awaitRefresher returns once the background refresher waits on the clock for the session as
// it is: with the background strategy, a timer due within the token's life. Its idle wait (an
// hour, before the login reached it) does not count then: moving the clock while the refresher
// had not yet seen the login let a loaded machine pass exp with no refresh. Other strategies
// wait idle.
func awaitRefresher(t *testing.T, clk *clock.Manual, strategy Strategy) {
	t.Helper()
	giveUp := time.Now().Add(10 * time.Second)
	for {
		if n, next := clk.Pending(); n > 0 && (next < time.Minute || strategy != Background) {
			return
		}
		if time.Now().After(giveUp) {
			t.Fatal("the background refresher does not wait on the clock")
		}
		clk.AwaitTimers(1, 10*time.Millisecond)
		time.Sleep(time.Millisecond)
	}
}

// TestSkewStockSimpleJWTBackground: against a stock simplejwt server, whose access tokens carry
// the refresh token's iat, the engine with the background strategy must keep its skew estimate
// at zero (from the Date header), refresh every token before its exp and never meet a 401,
// for as long as the test runs (about 11 s: a login and several refreshes, the iat lagging
// further each time). Before the fix the iat of the first refresh answer moved the estimate
// seconds into the past, the next refresh came after exp and requests met 401s.
func TestSkewStockSimpleJWTBackground(t *testing.T) {
	t.Parallel()
	srv := &stockSimpleJWT{secret: []byte("django-insecure-secret-key-for-tests"), ttl: 5 * time.Second}
	ts := httptest.NewServer(srv.handler(t))
	defer ts.Close()

	cfg := edgeConfig(ts.URL, edgeProfile(t, "simplejwt"))
	clk := stockClock(srv, &cfg)
	cfg.Strategy = Background
	cfg.Timeout, cfg.RefreshTimeout = 2*time.Second, 2*time.Second
	e := edgeNew(t, cfg)
	defer e.Close()
	defer edgeDump(t, e)
	edgeLogin(t, e)

	const run = 11 * time.Second
	req := profile.Request{Method: "GET", Path: "/api/protected/"}
	var failed []string
	for passed := time.Duration(0); passed < run; passed += 200 * time.Millisecond {
		if r := e.Do(context.Background(), req); r.Outcome != OK || len(r.Attempts) != 1 {
			failed = append(failed, fmt.Sprintf("%s: %v status %d attempts %d %s", r.Done.Format("15:04:05.000"), r.Outcome, r.Status, len(r.Attempts), r.Reason))
		}
		if s := e.Snapshot(); s.Skew.Applied() != 0 || (s.Skew.Known && s.Skew.Source != session.SkewFromDate) {
			t.Fatalf("skew estimate %s, want about 0 from the Date header", s.Skew.Describe())
		}
		step(t, clk, 200*time.Millisecond, cfg.Strategy)
	}

	srv.mu.Lock()
	refreshes, late, unauthorized, served := srv.refreshes, srv.late, srv.unauthorized, srv.served
	srv.mu.Unlock()
	t.Logf("server: %d refreshes, %d requests served, %d 401s; skew %s", refreshes, served, unauthorized, e.Snapshot().Skew.Describe())
	if unauthorized != 0 || len(failed) != 0 {
		t.Errorf("%d 401s; failed requests: %q", unauthorized, failed)
	}
	if len(late) != 0 {
		t.Errorf("refreshes at or after exp: %q", late)
	}
	// 5 s tokens (4-5 s of life, exp having whole seconds) over 11 s: at least two refreshes,
	// and not a refresh storm.
	if refreshes < 2 || refreshes > 6 {
		t.Errorf("%d refreshes in %v of 5 s tokens", refreshes, run)
	}
	// And no more than the tokens' life calls for: one per lifetime, and two for the partial
	// lifetimes at either end. The copied iat makes each token claim a longer life than the
	// last; a threshold taken from that claim grows with it until tokens are born inside it.
	if most := int(run/srv.ttl) + 2; refreshes > most {
		t.Errorf("%d refreshes in %v of %v tokens, want at most %d", refreshes, run, srv.ttl, most)
	}
	for _, ev := range edgeEvents(e, session.KindRefreshStart) {
		t.Logf("refresh #%d at %s: %s", ev.RefreshID, ev.Time.Format("15:04:05.000"), ev.Reason)
	}
	if n := len(edgeEvents(e, session.KindUnauthorized)); n != 0 {
		t.Errorf("engine saw %d 401s", n)
	}
	for _, ev := range edgeEvents(e, session.KindRefreshStart) {
		if ev.Why != session.WhyBackground {
			t.Errorf("refresh #%d started for %v, want background: %s", ev.RefreshID, ev.Why, ev.Reason)
		}
	}
	if s := e.Snapshot(); !s.Skew.Known || s.Skew.Source != session.SkewFromDate || s.Skew.Rejected < refreshes-1 {
		t.Errorf("skew %s: want known from the Date header with the copied iats rejected", s.Skew.Describe())
	}
}

// TestSkewStockSimpleJWTOldRefreshToken: against stock simplejwt with a refresh token issued an
// hour ago, every access token a refresh mints claims an hour and five seconds of life (the
// copied iat). Eight clients sending requests for 8 s must see no more refreshes than 5 s tokens
// call for, with the background strategy and with auto (proactive before requests), and no
// 401s. Before the fix the threshold was a sixth of the claimed life, 5 min: every token was
// born inside it, and the engine refreshed as fast as it could (background: once a second;
// auto: before every request).
func TestSkewStockSimpleJWTOldRefreshToken(t *testing.T) {
	t.Parallel()
	for _, strategy := range []Strategy{Background, Auto} {
		t.Run(string(strategy), func(t *testing.T) {
			t.Parallel()
			srv := &stockSimpleJWT{secret: []byte("django-insecure-secret-key-for-tests"), ttl: 5 * time.Second, refreshAge: time.Hour}
			ts := httptest.NewServer(srv.handler(t))
			defer ts.Close()
			cfg := edgeConfig(ts.URL, edgeProfile(t, "simplejwt"))
			cfg.Strategy = strategy
			cfg.Timeout, cfg.RefreshTimeout = 2*time.Second, 2*time.Second
			clk := stockClock(srv, &cfg)
			e := edgeNew(t, cfg)
			defer e.Close()
			defer edgeDump(t, e)
			edgeLogin(t, e)

			const run, workers = 8 * time.Second, 8
			var mu sync.Mutex
			var failed []string
			// Each client sends a request every 100 ms, all eight at once.
			for passed := time.Duration(0); passed < run; passed += 100 * time.Millisecond {
				var wg sync.WaitGroup
				for range workers {
					wg.Go(func() {
						r := e.Do(context.Background(), profile.Request{Method: "GET", Path: "/api/protected/"})
						if r.Outcome != OK || len(r.Attempts) != 1 {
							mu.Lock()
							failed = append(failed, fmt.Sprintf("%v status %d attempts %d %s", r.Outcome, r.Status, len(r.Attempts), r.Reason))
							mu.Unlock()
						}
					})
				}
				wg.Wait()
				step(t, clk, 100*time.Millisecond, strategy)
			}
			srv.mu.Lock()
			refreshes, unauthorized, served := srv.refreshes, srv.unauthorized, srv.served
			srv.mu.Unlock()
			t.Logf("server: %d refreshes, %d requests served, %d 401s; threshold now %v", refreshes, served, unauthorized, e.Snapshot().Threshold)
			if most := int(run/srv.ttl) + 2; refreshes > most {
				t.Errorf("%d refreshes in %v of %v tokens, want at most %d", refreshes, run, srv.ttl, most)
			}
			if refreshes < 1 {
				t.Errorf("no refresh in %v of %v tokens", run, srv.ttl)
			}
			if unauthorized != 0 || len(failed) != 0 {
				t.Errorf("%d 401s; %d failed requests: %.5q", unauthorized, len(failed), failed)
			}
			if thr := e.Snapshot().Threshold; thr > srv.ttl/3 {
				t.Errorf("threshold %v for %v tokens", thr, srv.ttl)
			}
		})
	}
}
