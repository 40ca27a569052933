package tui

import (
	"testing"

	"tokenscope/apiclient"
	"tokenscope/session"
)

// TestBurstShownByNewestGeneration: among a burst's equally telling results, the one whose last
// attempt carried the newest generation stands for the burst, whatever order they ended in;
// the lowest ID among those; a worse result still wins over any number of better ones.
func TestBurstShownByNewestGeneration(t *testing.T) {
	ok := func(id uint64) apiclient.Result {
		return apiclient.Result{ID: id, Outcome: apiclient.OK, Status: 200}
	}
	events := []session.Event{
		{Kind: session.KindRequest, RequestID: 1, Generation: 1},
		{Kind: session.KindRequest, RequestID: 2, Generation: 1},
		{Kind: session.KindRequest, RequestID: 3, Generation: 1},
		{Kind: session.KindRetry, RequestID: 2, Generation: 3},
		{Kind: session.KindRetry, RequestID: 3, Generation: 3},
		{Kind: session.KindRetry, RequestID: 1, Generation: 2},
		{Kind: session.KindRefreshOK, RequestID: 1, Generation: 9}, // not what a request carried
	}
	for _, order := range [][]uint64{{1, 2, 3}, {3, 2, 1}, {2, 1, 3}, {1, 3, 2}} {
		var tied []apiclient.Result
		for _, id := range order {
			tied = append(tied, ok(id))
		}
		if got, gen := newestOf(tied, events); got.ID != 2 || gen != 3 {
			t.Errorf("ended in order %v: burst shown by request %d gen #%d, want 2 gen #3 (newest, lowest ID)", order, got.ID, gen)
		}
	}
	if got, gen := newestOf(nil, events); got.ID != 0 || gen != 0 {
		t.Errorf("no results: %+v gen %d", got, gen)
	}
	failed := apiclient.Result{ID: 7, Outcome: apiclient.Failed}
	if failureRank(failed) <= failureRank(ok(2)) {
		t.Error("a failure does not rank above a success")
	}
}
