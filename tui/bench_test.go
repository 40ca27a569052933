package tui

import (
	"fmt"
	"runtime"
	"testing"
	"time"
	"unsafe"

	tea "github.com/charmbracelet/bubbletea"

	"tokenscope/apiclient"
	"tokenscope/session"
)

// syntheticEvents is a realistic mix: requests and answers, 401s, refreshes and waits, spread
// over the last minutes so that the timeline has something in every column.
func syntheticEvents(n int, end time.Time) []session.Event {
	kinds := []session.Kind{session.KindRequest, session.KindResponse, session.KindRequest, session.KindResponse,
		session.KindUnauthorized, session.KindRefreshStart, session.KindRefreshWait, session.KindRefreshOK, session.KindRetry}
	out := make([]session.Event, n)
	for i := range out {
		out[i] = session.Event{
			Seq: uint64(i + 1), Time: end.Add(-time.Duration(n-i) * 2 * time.Millisecond), Kind: kinds[i%len(kinds)],
			RequestID: uint64(i/4 + 1), Method: "GET", Path: "/api/protected/", Status: 200, Duration: 812 * time.Microsecond,
			Generation: i/500 + 1, Reason: fmt.Sprintf("proactive: %.1fs left < 5s", float64(i%50)/10),
		}
	}
	return out
}

// BenchmarkView renders a 200x60 screen with 100k events in the log, as on every frame.
func BenchmarkView(b *testing.B) {
	f := newFixture(b, "simplejwt", apiclient.Config{}, "dark")
	m := f.m
	m.Update(tea.WindowSizeMsg{Width: 200, Height: 60})
	m.logp.store.clear()
	m.logp.store.lastSeq = 0
	m.logp.store.add(syntheticEvents(100_000, f.clock.Now()))
	m.View()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		m.View()
	}
}

// BenchmarkViewScrolling is the worst case: every frame shows lines never drawn before.
func BenchmarkViewScrolling(b *testing.B) {
	f := newFixture(b, "simplejwt", apiclient.Config{}, "dark")
	m := f.m
	m.Update(tea.WindowSizeMsg{Width: 200, Height: 60})
	m.logp.store.add(syntheticEvents(100_000, f.clock.Now()))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		m.logp.store.scroll(-m.mainHeight(), m.mainHeight())
		if m.logp.store.offset == 0 {
			m.logp.store.toBottom()
			m.logp.store.invalidate()
		}
		m.View()
	}
}

// TestLogMemoryBounded feeds a million events through the store: it keeps at most its cap
// (plus the quarter it trims at once), and the heap stays at the size of the cap.
func TestLogMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("a million events")
	}
	l := newLogStore(100_000)
	evs := syntheticEvents(10_000, time.Now())
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for round := range 100 {
		for i := range evs {
			evs[i].Seq = uint64(round*len(evs) + i + 1)
		}
		l.add(evs)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if l.lastSeq != 1_000_000 || len(l.events) > 125_000 || l.shown != len(l.events) {
		t.Fatalf("kept %d events (last seq %d, %d visible)", len(l.events), l.lastSeq, len(l.visible))
	}
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("after 1M events: %d kept, heap %.1f MiB (grew %.1f MiB)", len(l.events), float64(after.HeapAlloc)/(1<<20), float64(grown)/(1<<20))
	if grown > 200<<20 {
		t.Errorf("heap grew %d MiB for a 100k-event store", grown>>20)
	}
}

// TestLogTrimInPlace: once the store has grown to its trimming size, trims move the kept events
// down in place: four more trims allocate a small fraction of one copy of the events (a trim
// that copied them to a fresh array allocated all of it each time), and keep every event's order.
func TestLogTrimInPlace(t *testing.T) {
	const max = 10_000
	l := newLogStore(max)
	evs := syntheticEvents(max/4, time.Now())
	seq := uint64(0)
	feed := func() {
		for i := range evs {
			seq++
			evs[i].Seq = seq
		}
		l.add(evs)
	}
	for range 6 { // grown: the arrays have held max + max/4 events
		feed()
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 4 {
		feed()
	}
	runtime.ReadMemStats(&after)
	copyBytes := uint64(max) * uint64(unsafe.Sizeof(session.Event{}))
	if grew := after.TotalAlloc - before.TotalAlloc; grew > copyBytes/10 {
		t.Errorf("4 trims allocated %d bytes; one copy of the events is %d", grew, copyBytes)
	}
	if len(l.events) < max || len(l.events) > max+max/4 || l.shown != len(l.events) {
		t.Fatalf("kept %d events, %d shown", len(l.events), l.shown)
	}
	for i, e := range l.events {
		if e.Seq != seq-uint64(len(l.events)-1-i) {
			t.Fatalf("event %d: seq %d (last %d)", i, e.Seq, seq)
		}
	}
}
