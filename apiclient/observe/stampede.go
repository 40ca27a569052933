package observe

import (
	"fmt"
	"sort"
	"time"
)

// episode is a run of refresh calls of one family with at least two in flight at once: it
// starts when a second call joins one in flight and ends when none is left.
type episode struct {
	calls  int
	peak   int
	reused int
	tokens map[*tokenInfo]int
	start  time.Time
}

// stampedeRun is what a family's episodes add up to until a retry window passes without one: a
// slow server makes a naive client refresh in waves (each wave's 401s arrive while the last
// wave's refreshes are still being answered), and that is one stampede, reported once.
type stampedeRun struct {
	calls, peak, reused, waves int
	start, end                 time.Time
	top                        *tokenInfo
	reqID                      uint64
}

// joinEpisode counts a refresh call that starts while another of its family is in flight.
func (a *Analyzer) joinEpisode(fam *family, x *Exchange, at time.Time) {
	if fam.episode == nil {
		fam.episode = &episode{tokens: map[*tokenInfo]int{}, start: at}
		for other := range a.flight {
			if other != x && famOf(other.refresh) == fam {
				other.raced = true
				fam.episode.add(other)
			}
		}
	}
	x.raced = true
	fam.episode.add(x)
	fam.episode.peak = max(fam.episode.peak, fam.inflight)
}

func (e *episode) add(x *Exchange) {
	e.calls++
	e.tokens[x.refresh]++
	if x.reused {
		e.reused++
	}
}

// endEpisode adds an episode that ended to its family's stampede, or starts one. A token whose
// stampede was named already (a race after a rotation) starts none.
func (a *Analyzer) endEpisode(fam *family, reqID uint64, at time.Time) {
	e := fam.episode
	fam.episode = nil
	var top *tokenInfo
	for t, n := range e.tokens {
		if top == nil || n > e.tokens[top] || (n == e.tokens[top] && fp(t) < fp(top)) {
			top = t
		}
	}
	r := fam.stampede
	if r == nil && top != nil && top.stampeded {
		return
	}
	for t := range e.tokens {
		if t != nil {
			t.stampeded = true
		}
	}
	if r == nil {
		r = &stampedeRun{start: e.start, top: top, reqID: reqID}
		fam.stampede = r
	}
	r.calls += e.calls
	r.reused += e.reused
	r.peak = max(r.peak, e.peak)
	r.waves++
	r.end = at
}

// flushEpisodes ends the episodes still open when the analysis ends.
func (a *Analyzer) flushEpisodes(at time.Time) {
	for _, f := range a.fams {
		if f.episode != nil {
			a.endEpisode(f, 0, at)
		}
	}
}

// flushStampedes reports each family's stampede once a retry window has passed without another
// episode (all: now, whatever the time).
func (a *Analyzer) flushStampedes(now time.Time, all bool) {
	var fams []*family
	for _, f := range a.fams {
		if r := f.stampede; r != nil && f.episode == nil && (all || now.Sub(r.end) > a.window) {
			fams = append(fams, f)
		}
	}
	sort.Slice(fams, func(i, j int) bool { return fams[i].id < fams[j].id })
	for _, f := range fams {
		r := f.stampede
		f.stampede = nil
		span := fmt.Sprintf("within %s", short(r.end.Sub(r.start)))
		if r.waves > 1 {
			span = fmt.Sprintf("in %d waves over %s", r.waves, short(r.end.Sub(r.start)))
		}
		a.finding(RuleStampede, r.reqID, fp(r.top), fmt.Sprintf("%s: %d refresh calls overlapped %s (up to %d in flight together), %d of them presenting a refresh token already presented: refresh once and let every request that needs it wait for that one (single flight)",
			f.name(), r.calls, span, r.peak, r.reused), now)
	}
}
