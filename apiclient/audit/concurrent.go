package audit

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"tokenscope/apiclient/profile"
)

// concurrentValue is concurrent_refresh's JSON value.
type concurrentValue struct {
	Parallel           int   `json:"parallel"`
	OK                 int   `json:"ok"`
	Rejected           int   `json:"rejected"`
	FamilyRevoked      bool  `json:"family_revoked"`
	LoserClearedCookie *bool `json:"loser_cleared_cookie"`
}

type concurrentCheck struct{}

func (concurrentCheck) id() string { return "concurrent_refresh" }

// race is what k simultaneous presentations of one refresh token got.
type race struct {
	winners       []*family
	ok, rejected  int
	transient     int
	clearedCookie bool
}

// races is how many races concurrent_refresh runs at most: one that lets a token through twice
// settles it, but one that does not proves little when the racers arrived apart.
const races = 3

// warm opens k connections to the refresh endpoint's origin (OPTIONS, which changes nothing),
// so that the racers leave on open connections and arrive together.
func (l *lab) warm(ctx context.Context, k int) {
	u, err := l.resolve(l.t.Profile.Refresh.Target())
	if err != nil {
		return
	}
	var wg sync.WaitGroup
	for i := 0; i < k; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = l.do(ctx, "warm", http.MethodOptions, u, http.Header{}, nil)
		}()
	}
	wg.Wait()
}

// raceRefresh presents f's refresh token k times at the same instant.
func (l *lab) raceRefresh(ctx context.Context, f *family, k int) race {
	l.warm(ctx, k)
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		out   race
		start = make(chan struct{})
	)
	for i := 0; i < k; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			mine := f.clone()
			<-start
			v, x := l.refresh(ctx, mine, f.refresh.Raw, fmt.Sprintf("(racer %d of %d)", i+1, k))
			mine.apply(v, x)
			mu.Lock()
			defer mu.Unlock()
			switch v.Outcome {
			case profile.VerdictOK:
				out.ok++
				out.winners = append(out.winners, mine)
			case profile.VerdictRejected:
				out.rejected++
				out.clearedCookie = out.clearedCookie || l.clearsRefreshCookie(x)
			default:
				out.transient++
			}
		}(i)
	}
	close(start)
	wg.Wait()
	return out
}

// clearsRefreshCookie reports whether an answer deletes the refresh cookie: an expired or
// emptied Set-Cookie of its name. In a browser that deletes the cookie a race's winner set.
func (l *lab) clearsRefreshCookie(x exchange) bool {
	for _, c := range (&http.Response{Header: x.header}).Cookies() {
		if c.Name != l.t.Profile.Cookie.Refresh {
			continue
		}
		expired := !c.Expires.IsZero() && c.Expires.Before(l.serverTime(x.recv))
		if c.MaxAge < 0 || c.Value == "" || expired {
			return true
		}
	}
	return false
}

func (concurrentCheck) run(ctx context.Context, l *lab) Result {
	rot := l.rotation(ctx)
	if rot.skip != "" {
		return skipped("concurrent_refresh", rot.skip)
	}
	var g graceFact
	if rot.rotates {
		if g = l.graceWindow(ctx); g.skip != "" {
			return skipped("concurrent_refresh", g.skip)
		}
	}
	var r Result
	for i := 0; i < races; i++ {
		f, _, err := l.login(ctx)
		if err != nil {
			if i > 0 {
				return r
			}
			return skipped("concurrent_refresh", err.Error())
		}
		r = l.race(ctx, f, rot, g)
		if r.Status == Fail || ctx.Err() != nil {
			break
		}
	}
	return r
}

// race runs one race on f's family and judges it.
func (l *lab) race(ctx context.Context, f *family, rot rotationFact, g graceFact) Result {
	k := l.s.Parallel
	l.s.Progress("concurrent_refresh", fmt.Sprintf("%d refreshes with one refresh token at once", k), 0)
	rc := l.raceRefresh(ctx, f, k)
	// A 5xx or no answer counts as refused: the racer did not get tokens.
	val := concurrentValue{Parallel: k, OK: rc.ok, Rejected: rc.rejected + rc.transient, FamilyRevoked: true}
	if len(rc.winners) > 0 {
		w := rc.winners[0]
		v, _ := l.refresh(ctx, w, w.refresh.Raw, "(a winner's token, after the race)")
		val.FamilyRevoked = v.Outcome == profile.VerdictRejected
	}
	if l.t.Profile.CookieMode() {
		val.LoserClearedCookie = &rc.clearedCookie
	}
	return judgeRace(val, rc.transient, rot, g)
}

func judgeRace(val concurrentValue, failed int, rot rotationFact, g graceFact) Result {
	r := Result{Value: val, Reference: refBCP}
	graced := g.acceptedUpTo != nil
	switch {
	case val.LoserClearedCookie != nil && *val.LoserClearedCookie:
		r.Status, r.Summary = Fail, "A losing refresh answers with an expired refresh cookie: in a browser it deletes the cookie the winner just set, and the session ends."
	case rot.rotates && !graced && val.OK > 1:
		r.Status, r.Summary = Fail, fmt.Sprintf("One refresh token was redeemed %d times at once outside any grace window: the server does not serialise refreshes, so a thief and the owner who race both win.", val.OK)
		if failed > 0 {
			r.Summary += fmt.Sprintf(" (%d more failed with a 5xx or no answer.)", failed)
		}
	case failed > 0:
		r.Status, r.Summary = Warn, fmt.Sprintf("%d of %d simultaneous refreshes failed with a 5xx or no answer: the server errs under a race, and clients see a transient failure.", failed, val.Parallel)
	case val.OK == 0:
		r.Status, r.Summary = Warn, "No refresh of the race succeeded: clients that refresh from several places at once lose the session."
	case rot.rotates && val.FamilyRevoked:
		r.Status, r.Summary = Warn, "One refresh wins and the losers' presentations revoke its family: a client that races itself (two tabs, a retry) ends its own session; refresh once per expiry."
	case !rot.rotates:
		r.Status, r.Summary = Pass, fmt.Sprintf("%d of %d refreshes succeeded: without rotation a race is harmless.", val.OK, val.Parallel)
	case graced:
		r.Status, r.Summary = Pass, fmt.Sprintf("%d of %d refreshes succeeded inside the grace window, and the family lives on.", val.OK, val.Parallel)
	default:
		r.Status, r.Summary = Pass, "Refreshes are serialised: one wins, the losers are refused, and the winner's family lives on."
	}
	return r
}
