package apiclient

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"tokenscope/apiclient/profile"
	"tokenscope/demoserver"
	"tokenscope/session"
)

// reuseSummary is the line logged when the calls carrying a reused refresh token settle.
var reuseSummary = regexp.MustCompile(`refresh token (fp:[0-9a-f]{8}) reused: presented (\d+)× \((\d+) reuses?\)`)

// reuseLines are the events a user filtering the log for "reuse" sees: the TUI's filter matches
// the kind and the event's text (tui/logstore.go).
func reuseLines(evs []session.Event) []session.Event {
	var out []session.Event
	for _, e := range evs {
		if strings.Contains(strings.ToLower(e.Kind.String()+" "+e.Text()), "reuse") {
			out = append(out, e)
		}
	}
	return out
}

// summaries maps each reused token's fingerprint to the N of its summaries, one entry per line.
func summaries(t *testing.T, evs []session.Event) map[string][]int {
	t.Helper()
	out := map[string][]int{}
	for _, e := range evs {
		m := reuseSummary.FindStringSubmatch(e.Text())
		if m == nil {
			continue
		}
		if e.Kind != session.KindNote || e.Token != m[1] {
			t.Errorf("summary as %v with token %q: %s", e.Kind, e.Token, e.Text())
		}
		n, _ := strconv.Atoi(m[2])
		if reuses, _ := strconv.Atoi(m[3]); reuses != n-1 {
			t.Errorf("%d reuses of %d presentations: %s", reuses, n, e.Text())
		}
		out[m[1]] = append(out[m[1]], n)
	}
	return out
}

// checkReuseNamed checks what the README's stampede logs: each reused refresh token summarised
// once, the presentations adding up to the refresh calls the server saw, and the end of the
// session blamed on reuse in the engine's words and the server's.
func checkReuseNamed(t *testing.T, v *env) map[string][]int {
	t.Helper()
	// The losers' rejections do not end the session (the winner had rotated their token away);
	// the winner's tokens died with the family, and the first call with them shows it.
	if v.e.Snapshot().State == session.StateActive {
		v.e.Do(context.Background(), v.get())
	}
	st := v.srv.Stats()
	calls := int(st.RefreshOK + st.RefreshRejected + st.RefreshInjected503)
	evs := v.e.Log().Events()
	sums := summaries(t, evs)
	// Each refresh here is one call (no transient failures), so the refresh-starts carrying a
	// token are its presentations: a token carried more than once is summarised once, with
	// that count; a token carried once is not.
	starts := map[string]int{}
	for _, e := range evs {
		if e.Kind == session.KindRefreshStart {
			starts[e.Token]++
		}
	}
	if count(evs, session.KindRefreshStart) != calls {
		t.Errorf("the engine started %d refreshes, the server saw %d calls", count(evs, session.KindRefreshStart), calls)
	}
	for fp, n := range starts {
		want := []int{n}
		if n == 1 {
			want = nil
		}
		if !slices.Equal(sums[fp], want) {
			t.Errorf("token %s carried by %d refreshes, summarised %v", fp, n, sums[fp])
		}
	}
	if len(sums) > len(starts) {
		t.Errorf("summaries %v for tokens never sent %v", sums, starts)
	}
	// The session ends when its current refresh token is rejected after the reuse: the server
	// revoked the family.
	logout, ok := firstOf(evs, session.KindLogout)
	if !ok || logout.End != session.EndRevoked || count(evs, session.KindLogout) != 1 {
		t.Errorf("%d logouts, the first %q (end %q): want one, revoked", count(evs, session.KindLogout), logout.Reason, logout.End)
	}
	// The server's own words come through the profile's message field (bodySummary).
	if snap := v.e.Snapshot(); snap.End != session.EndRevoked || !strings.Contains(snap.Reason, "reuse detected") {
		t.Errorf("session end %q reason %q, want revoked in the server's words", snap.End, snap.Reason)
	}
	lines := reuseLines(evs)
	if count(lines, session.KindNote) < 2*len(sums) || count(lines, session.KindLogout) != 1 ||
		count(lines, session.KindRefreshFailed) != int(st.RefreshRejected) {
		t.Errorf("filtering for reuse finds %d notes, %d logouts, %d refresh-failed (server rejected %d)",
			count(lines, session.KindNote), count(lines, session.KindLogout), count(lines, session.KindRefreshFailed), st.RefreshRejected)
	}
	return sums
}

// TestReuseNamedInStampede is the README's stampede (200 at once, no single flight, reactive,
// 20ms refresh latency) for every convention: which tokens the stampede reuses depends on
// timing, so each is summarised once and the counts add up to the server's calls.
func TestReuseNamedInStampede(t *testing.T) {
	for _, prof := range profile.Names() {
		t.Run(prof, func(t *testing.T) {
			v := newEnv(t, prof, demoserver.Options{}, Config{Strategy: Reactive, NoSingleFlight: true})
			v.srv.SetLatency(0, 20*time.Millisecond)
			v.srv.ExpireAccessTokens()
			v.burst(200, v.get())
			if sums := checkReuseNamed(t, v); len(sums) == 0 {
				t.Error("no reuse summary")
			}
		})
	}
}

// TestReuseSummaryCountsEveryPresentation makes the refresh slow enough that all 200 calls carry
// the login's refresh token: exactly one summary, presented 200×, as many as the server saw.
func TestReuseSummaryCountsEveryPresentation(t *testing.T) {
	v := newEnv(t, "simplejwt", demoserver.Options{}, Config{Strategy: Reactive, NoSingleFlight: true,
		Transport: &http.Transport{MaxIdleConnsPerHost: 200}}) // every call on the wire at once
	v.srv.SetLatency(0, time.Second)
	v.srv.ExpireAccessTokens()
	login := v.e.Snapshot().Refresh.Fingerprint()
	const n = 200
	v.burst(n, v.get())
	sums := checkReuseNamed(t, v)
	if len(sums) != 1 || len(sums[login]) != 1 || sums[login][0] != n {
		t.Fatalf("summaries %v, want %s presented %d×", sums, login, n)
	}
	var announced int
	for _, e := range v.e.Log().Events() {
		if strings.Contains(e.Reason, "refresh token "+login+" reused: presented 2× (another refresh") {
			announced++
		}
	}
	if announced != 1 {
		t.Errorf("second presentation announced %d times, want once", announced)
	}
}

// TestSingleFlightNamesNoReuse: with single flight the same stampede is one refresh call, and
// nothing in the log speaks of reuse.
func TestSingleFlightNamesNoReuse(t *testing.T) {
	v := newEnv(t, "simplejwt", demoserver.Options{}, Config{Strategy: Reactive})
	v.srv.SetLatency(0, 20*time.Millisecond)
	v.srv.ExpireAccessTokens()
	v.burst(200, v.get())
	if lines := reuseLines(v.e.Log().Events()); len(lines) != 0 {
		t.Errorf("single flight logged reuse: %s", lines[0].Text())
	}
	if st := v.srv.Stats(); st.ReuseDetected != 0 || st.RefreshOK != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestNoRotationReuseIsNeutral: a server that does not rotate expects the same refresh token
// every time, so presenting it again is counted and said once, without blame.
func TestNoRotationReuseIsNeutral(t *testing.T) {
	v := newEnv(t, "simplejwt", demoserver.Options{NoRotation: true}, Config{})
	fp := v.e.Snapshot().Refresh.Fingerprint()
	for range 4 {
		if err := v.e.RefreshNow(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	var notes []string
	for _, e := range v.e.Log().Events() {
		if strings.Contains(e.Text(), "refresh token "+fp) {
			notes = append(notes, e.Text())
		}
	}
	want := "refresh token " + fp + " presented 2×: the server did not rotate it, so that is expected"
	if len(notes) != 1 || !strings.Contains(notes[0], want) {
		t.Fatalf("notes %q, want one saying %q", notes, want)
	}
	if lines := reuseLines(v.e.Log().Events()); len(lines) != 0 {
		t.Errorf("a non-rotating server's token blamed: %s", lines[0].Text())
	}
	// Counted all the same: a rejection now says how often it went, without blaming reuse.
	v.e.refresher.mu.Lock()
	n := v.e.refresher.uses.uses[fp].presented
	v.e.refresher.mu.Unlock()
	if n != 4 {
		t.Errorf("presented %d×, want 4", n)
	}
	if got := v.e.refresher.explain(fp, "401 x"); strings.Contains(got, "reuse") || !strings.Contains(got, "presented 4×, one call at a time") {
		t.Errorf("explain %q", got)
	}
}

// TestReuseAfterRotation: a token presented again after a call with it came back rotated (a
// retry whose first answer arrived late, say) is reuse even with no call overlapping.
func TestReuseAfterRotation(t *testing.T) {
	var u tokenUses
	const fp = "fp:00000001"
	u.enter(fp, "#1")
	if line := u.present(fp); line != "" {
		t.Errorf("first presentation logged %q", line)
	}
	u.answered(fp, true)
	if line := u.leave(fp); line != "" {
		t.Errorf("a single presentation summarised: %q", line)
	}
	u.enter(fp, "#1")
	want := "refresh token fp:00000001 reused: presented 2× after the server rotated it"
	if line := u.present(fp); line != want {
		t.Errorf("second presentation %q, want %q", line, want)
	}
	got := u.explain(fp, "400 error invalid_grant: nope")
	// Whether the server revoked the family is for a later call to show (endOf): not said here.
	if want := "the server most likely detected reuse of refresh token fp:00000001 (presented 2×): 400 error invalid_grant: nope"; got != want {
		t.Errorf("explain %q, want %q", got, want)
	}
	if line := u.leave(fp); line != "refresh token fp:00000001 reused: presented 2× (1 reuse)" {
		t.Errorf("summary %q", line)
	}
}

// TestTokenUsesBounded: only the last few tokens are remembered, never one still in flight.
func TestTokenUsesBounded(t *testing.T) {
	var u tokenUses
	u.enter("fp:busy", "#1")
	for i := range 100 {
		fp := "fp:" + strconv.Itoa(i)
		u.enter(fp, "#1")
		u.present(fp)
		u.leave(fp)
	}
	if len(u.uses) > maxTrackedTokens {
		t.Errorf("%d tokens remembered, want at most %d", len(u.uses), maxTrackedTokens)
	}
	if _, ok := u.uses["fp:busy"]; !ok {
		t.Error("a token in flight was forgotten")
	}
	if u.explain("fp:0", "r") != "r" || u.present("") != "" || u.leave("fp:unknown") != "" {
		t.Error("a forgotten or empty token still explained")
	}
}
