package tui

import (
	"testing"

	"tokenscope/apiclient"
)

// TestBurstShownByNewestGeneration: among a burst's equally telling results, the one whose last
// attempt carried the newest generation (as the result says) stands for the burst, whatever
// order they ended in; the lowest ID among those; a worse result still wins over any number of
// better ones.
func TestBurstShownByNewestGeneration(t *testing.T) {
	// Each result's attempts carried these generations, in order.
	carried := map[uint64][]int{1: {1, 2}, 2: {1, 3}, 3: {1, 3}}
	ok := func(id uint64) apiclient.Result {
		r := apiclient.Result{ID: id, Outcome: apiclient.OK, Status: 200}
		for _, g := range carried[id] {
			r.Attempts = append(r.Attempts, apiclient.Attempt{Generation: g})
		}
		return r
	}
	// shown folds results as burstCmd does, as they end.
	shown := func(rs []apiclient.Result) apiclient.Result {
		var worst apiclient.Result
		for _, r := range rs {
			if worst.ID == 0 || moreTelling(r, worst) {
				worst = r
			}
		}
		return worst
	}
	for _, order := range [][]uint64{{1, 2, 3}, {3, 2, 1}, {2, 1, 3}, {1, 3, 2}} {
		var tied []apiclient.Result
		for _, id := range order {
			tied = append(tied, ok(id))
		}
		if got := shown(tied); got.ID != 2 || got.Generation() != 3 {
			t.Errorf("ended in order %v: burst shown by request %d gen #%d, want 2 gen #3 (newest, lowest ID)", order, got.ID, got.Generation())
		}
	}
	if got := shown(nil); got.ID != 0 || got.Generation() != 0 {
		t.Errorf("no results: %+v", got)
	}
	failed := apiclient.Result{ID: 7, Outcome: apiclient.Failed}
	if failureRank(failed) <= failureRank(ok(2)) {
		t.Error("a failure does not rank above a success")
	}
	if got := shown([]apiclient.Result{ok(2), failed, ok(3)}); got.ID != 7 {
		t.Errorf("a failure among successes: burst shown by request %d, want the failure", got.ID)
	}
}
