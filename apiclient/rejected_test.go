package apiclient

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"tokenscope/apiclient/profile"
	"tokenscope/demoserver"
	"tokenscope/session"
)

// raceSize is the burst of the race tests: that many requests at expiry, single flight off.
const raceSize = 50

// newRaceEnv is newEnv behind a barrier: the burst's refresh calls all reach the server before
// any is answered, and the winner's answer (the one 200) comes back after the losers' rejections,
// so every loser learns its fate while its token is still the session's current one.
func newRaceEnv(t *testing.T, so demoserver.Options, strategy Strategy) *env {
	t.Helper()
	clock := testClock(epoch)
	so.Clock = clock
	srv, err := demoserver.New(so)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := profile.Builtin("simplejwt")
	var hold atomic.Bool
	var arrived atomic.Int32
	all := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		held := hold.Load() && r.URL.Path == p.Refresh.Path
		if held {
			if arrived.Add(1) == raceSize {
				close(all)
			}
			select {
			case <-all:
			case <-time.After(10 * time.Second):
			}
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, r)
		if held && rec.Code == http.StatusOK {
			time.Sleep(300 * time.Millisecond) // the winner answers last
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(ts.Close)
	e, err := New(Config{BaseURL: ts.URL, Profile: p, Username: "demo", Password: "demo", Clock: clock,
		Strategy: strategy, NoSingleFlight: true, RefreshBackoff: 5 * time.Millisecond,
		Transport: &http.Transport{MaxConnsPerHost: 2 * raceSize, MaxIdleConnsPerHost: 2 * raceSize}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	if _, err := e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	v := &env{t: t, srv: srv, clock: clock, e: e, p: p}
	clock.Advance(10 * time.Minute / 2) // the access token (5 min) has expired; the refresh token (10 min) has not
	hold.Store(true)
	return v
}

// TestRaceLoserKeepsTheWinnersToken is the bug: single flight off, rotation on, a burst
// at expiry against a server that rejects a rotated token without revoking its family. The
// losers' rejections come back first; the session must not end, the winner's tokens must stay,
// and every request must be answered with them.
func TestRaceLoserKeepsTheWinnersToken(t *testing.T) {
	for _, strategy := range []Strategy{Reactive, Auto} {
		t.Run(string(strategy), func(t *testing.T) {
			v := newRaceEnv(t, demoserver.Options{NoReuseDetection: true}, strategy)
			login := v.e.Snapshot().Refresh.Fingerprint()
			for i, r := range v.burst(raceSize, v.get()) {
				if r.Outcome != OK || r.Status != http.StatusOK {
					t.Errorf("request %d: %v %d %s", i, r.Outcome, r.Status, r.Reason)
				}
			}
			st := v.srv.Stats()
			if st.RefreshOK != 1 || st.RefreshRejected != raceSize-1 || st.ReuseDetected != 0 {
				t.Fatalf("server stats %+v, want one winner and %d losers", st, raceSize-1)
			}
			s := v.e.Snapshot()
			if s.State != session.StateActive || s.End != session.EndNone || s.Generation != 2 || s.Refresh.Fingerprint() == login {
				t.Fatalf("session %v end %q gen %d refresh %s (login's %s): want active with the winner's tokens",
					s.State, s.End, s.Generation, s.Refresh.Fingerprint(), login)
			}
			evs := v.e.Log().Events()
			if n := count(evs, session.KindLogout); n != 0 {
				t.Errorf("%d logouts", n)
			}
			var kept int
			for _, e := range evs {
				if e.End != session.EndNone {
					t.Errorf("an event names an end: %s", e.Text())
				}
				// A loser's note names its refresh and the token rejected; reuse notes name no refresh.
				if e.Kind == session.KindNote && e.RefreshID != 0 && e.Token == login {
					kept++
				}
			}
			if kept != raceSize-1 {
				t.Errorf("%d losers noted their rejection, want %d", kept, raceSize-1)
			}
			// The winner's refresh token is good: the next refresh takes it.
			if err := v.e.RefreshNow(context.Background()); err != nil || v.e.Snapshot().Generation != 3 {
				t.Errorf("refresh after the race: %v, gen %d", err, v.e.Snapshot().Generation)
			}
		})
	}
}

// TestRaceAgainstReuseDetectionEndsRevoked: the same race against a server that revokes the
// family on reuse. The losers do not end the session (their tokens are no longer current); the
// winner's tokens died with the family, and the first call that shows it (the current refresh
// token rejected after the reuse) ends the session as revoked, said then and not before.
func TestRaceAgainstReuseDetectionEndsRevoked(t *testing.T) {
	for _, strategy := range []Strategy{Reactive, Auto} {
		t.Run(string(strategy), func(t *testing.T) {
			v := newRaceEnv(t, demoserver.Options{}, strategy)
			results := v.burst(raceSize, v.get())
			// A later call: the winner's access token is revoked with its family, and so is its
			// refresh token.
			results = append(results, v.e.Do(context.Background(), v.get()))
			for i, r := range results {
				if r.Outcome != Parked {
					t.Errorf("request %d: %v %d %s", i, r.Outcome, r.Status, r.Reason)
				}
			}
			if st := v.srv.Stats(); st.RefreshOK != 1 || st.ReuseDetected != 1 {
				t.Fatalf("server stats %+v, want one winner and the reuse detected", st)
			}
			s := v.e.Snapshot()
			if s.State != session.StateLoginRequired || s.End != session.EndRevoked {
				t.Fatalf("session %v end %q (%s), want login required, revoked", s.State, s.End, s.Reason)
			}
			evs := v.e.Log().Events()
			logout, ok := firstOf(evs, session.KindLogout)
			if !ok || logout.End != session.EndRevoked || count(evs, session.KindLogout) != 1 {
				t.Fatalf("logouts %d, first %s (end %q)", count(evs, session.KindLogout), logout.Text(), logout.End)
			}
			for _, e := range evs {
				if e.Seq < logout.Seq && strings.Contains(e.Reason, "revoked the") {
					t.Errorf("revocation said before a call showed it: %s", e.Text())
				}
			}
		})
	}
}

// TestSessionEndsCarryTheirCause: each way a session ends puts its End on the session and on
// the event, and a new login clears it.
func TestSessionEndsCarryTheirCause(t *testing.T) {
	v := newEnv(t, "simplejwt", demoserver.Options{}, Config{})
	endOf := func(k session.Kind) session.End {
		t.Helper()
		evs := v.e.Log().Events()
		for i := len(evs) - 1; i >= 0; i-- {
			if evs[i].Kind == k {
				return evs[i].End
			}
		}
		t.Fatalf("no %v event", k)
		return session.EndNone
	}
	// The refresh token outlives nothing: past its 10 minutes, the server refuses it.
	v.clock.Advance(11 * time.Minute)
	if r := v.e.Do(context.Background(), v.get()); r.Outcome != Parked {
		t.Fatalf("request with an expired refresh token: %v %s", r.Outcome, r.Reason)
	}
	if s := v.e.Snapshot(); s.End != session.EndExpired || endOf(session.KindLogout) != session.EndExpired {
		t.Errorf("expired refresh token: session end %q, event end %q", s.End, endOf(session.KindLogout))
	}
	if _, err := v.e.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := v.e.Snapshot(); s.End != session.EndNone || endOf(session.KindLogin) != session.EndNone {
		t.Errorf("after a login: end %q", s.End)
	}
	// The server forgets the family: the current token is refused with no reuse to explain it.
	v.srv.RevokeAllFamilies()
	if err := v.e.RefreshNow(context.Background()); err == nil {
		t.Fatal("a revoked family refreshed")
	}
	if s := v.e.Snapshot(); s.End != session.EndRejected || endOf(session.KindLogout) != session.EndRejected {
		t.Errorf("rejected: session end %q, event end %q", s.End, endOf(session.KindLogout))
	}
	v.e.Logout()
	if s := v.e.Snapshot(); s.End != session.EndUserLogout || endOf(session.KindLogout) != session.EndUserLogout {
		t.Errorf("logout: session end %q, event end %q", s.End, endOf(session.KindLogout))
	}
	v.e.cfg.Password = "wrong"
	if _, err := v.e.Login(context.Background()); err == nil {
		t.Fatal("a wrong password logged in")
	}
	if endOf(session.KindLoginFailed) != session.EndLoginFailed || v.e.Snapshot().End != session.EndUserLogout {
		t.Errorf("failed login: event end %q, session end %q", endOf(session.KindLoginFailed), v.e.Snapshot().End)
	}
}

// TestEndOfNamesTheReuse: the current token's rejection is the family's revocation when an
// older token of the same family was reused; its own overlapping presentations make it
// suspected reuse; nothing else is a plain rejection. Another family's reuse says nothing.
func TestEndOfNamesTheReuse(t *testing.T) {
	var u tokenUses
	run := func(fp, fam string, rotated bool) {
		u.enter(fp, fam)
		u.present(fp)
		u.answered(fp, rotated)
		u.leave(fp)
	}
	if end, _ := u.endOf("fp:a", "#1"); end != session.EndRejected {
		t.Errorf("unknown token: %q", end)
	}
	run("fp:a", "#1", true)
	if end, _ := u.endOf("fp:b", "#1"); end != session.EndRejected {
		t.Errorf("after a clean rotation: %q", end)
	}
	// fp:a presented again after its rotation: the server saw reuse.
	u.enter("fp:a", "#1")
	u.present("fp:a")
	u.leave("fp:a")
	if end, stale := u.endOf("fp:b", "#1"); end != session.EndRevoked || stale != "fp:a" {
		t.Errorf("after reuse of fp:a: %q %q", end, stale)
	}
	if end, _ := u.endOf("fp:x", "#2"); end != session.EndRejected {
		t.Errorf("another family: %q", end)
	}
	// A retry after a failed call, one at a time, then the rotation: no reuse.
	u.enter("fp:r", "#3")
	u.present("fp:r")
	u.present("fp:r")
	u.answered("fp:r", true)
	u.leave("fp:r")
	if end, _ := u.endOf("fp:s", "#3"); end != session.EndRejected {
		t.Errorf("after a retry and a rotation: %q", end)
	}
	// Two calls with fp:y at once, the server not seen keeping it: fp:y's own reuse.
	u.enter("fp:y", "#2")
	u.enter("fp:y", "#2")
	u.present("fp:y")
	u.present("fp:y")
	if end, _ := u.endOf("fp:y", "#2"); end != session.EndReuseSuspected {
		t.Errorf("overlapping calls: %q", end)
	}
}
