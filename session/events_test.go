package session

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func seqs(events []Event) []uint64 {
	out := make([]uint64, len(events))
	for i, e := range events {
		out[i] = e.Seq
	}
	return out
}

func wantSeqs(t *testing.T, what string, events []Event, from, to uint64) {
	t.Helper()
	if len(events) != int(to-from+1) {
		t.Fatalf("%s: seqs %v, want %d..%d", what, seqs(events), from, to)
	}
	for i, e := range events {
		if want := from + uint64(i); e.Seq != want || e.Reason != "e"+strconv.FormatUint(want, 10) {
			t.Fatalf("%s: event %d is seq %d %q, want seq %d e%d", what, i, e.Seq, e.Reason, want, want)
		}
	}
}

func appendN(l *Log, from, to int) {
	for i := from; i <= to; i++ {
		l.Append(Event{Kind: KindNote, Reason: "e" + strconv.Itoa(i)})
	}
}

func TestLog_RingKeepsNewestInOrder(t *testing.T) {
	l := NewLog(5)
	if l.Cap() != 5 || l.Len() != 0 || l.Total() != 0 || l.Events() != nil {
		t.Fatalf("new log: Cap=%d Len=%d Total=%d Events=%v", l.Cap(), l.Len(), l.Total(), l.Events())
	}
	for i := 1; i <= 12; i++ {
		e := l.Append(Event{Kind: KindNote, Reason: "e" + strconv.Itoa(i), Seq: 999})
		if e.Seq != uint64(i) {
			t.Fatalf("Append #%d returned Seq %d (caller's Seq must be overwritten)", i, e.Seq)
		}
		if e.Reason != "e"+strconv.Itoa(i) {
			t.Fatalf("Append returned a different event: %+v", e)
		}
		if want := min(i, 5); l.Len() != want {
			t.Fatalf("after %d appends Len = %d, want %d", i, l.Len(), want)
		}
		if l.Total() != uint64(i) {
			t.Fatalf("Total = %d, want %d", l.Total(), i)
		}
		wantSeqs(t, "Events after "+strconv.Itoa(i), l.Events(), uint64(max(1, i-4)), uint64(i))
	}
	if l.Cap() != 5 {
		t.Errorf("Cap = %d, want 5", l.Cap())
	}
}

func TestLog_ExactlyFull(t *testing.T) {
	l := NewLog(4)
	appendN(l, 1, 4)
	wantSeqs(t, "Events", l.Events(), 1, 4)
	wantSeqs(t, "Since(2)", l.Since(2), 3, 4)
	appendN(l, 5, 5)
	wantSeqs(t, "Events", l.Events(), 2, 5)
}

func TestLog_SinceAcrossWraparound(t *testing.T) {
	l := NewLog(5)
	appendN(l, 1, 12) // kept: 8..12, physically wrapped (slots hold 11,12,8,9,10)
	wantSeqs(t, "Since(0)", l.Since(0), 8, 12)
	wantSeqs(t, "Since(3) (older than kept)", l.Since(3), 8, 12)
	wantSeqs(t, "Since(7)", l.Since(7), 8, 12)
	wantSeqs(t, "Since(9)", l.Since(9), 10, 12)
	wantSeqs(t, "Since(10) (crosses the wrap)", l.Since(10), 11, 12)
	wantSeqs(t, "Since(11)", l.Since(11), 12, 12)
	if got := l.Since(12); len(got) != 0 {
		t.Errorf("Since(12) = %v, want nothing", seqs(got))
	}
	if got := l.Since(1000); len(got) != 0 {
		t.Errorf("Since(1000) = %v, want nothing", seqs(got))
	}
	// A reader that keeps its last seq sees each event exactly once.
	last := uint64(12) // everything up to 12 was read above
	var seen []uint64
	for i := 13; i <= 30; i++ {
		appendN(l, i, i)
		if i%3 == 0 {
			for _, e := range l.Since(last) {
				seen = append(seen, e.Seq)
				last = e.Seq
			}
		}
	}
	for i, s := range seen {
		if s != uint64(13+i) {
			t.Fatalf("incremental reader saw %v, want 13..30", seen)
		}
	}
	if len(seen) != 18 {
		t.Fatalf("incremental reader saw %v, want 13..30", seen)
	}
}

func TestLog_ReturnedSlicesAreCopies(t *testing.T) {
	l := NewLog(3)
	appendN(l, 1, 3)
	got := l.Events()
	got[0].Reason = "mutated"
	if l.Events()[0].Reason != "e1" {
		t.Error("mutating the Events result changed the log")
	}
}

func TestLog_DefaultSize(t *testing.T) {
	for _, n := range []int{0, -3} {
		if got := NewLog(n).Cap(); got != DefaultLogSize {
			t.Errorf("NewLog(%d).Cap() = %d, want %d", n, got, DefaultLogSize)
		}
	}
}

func TestLog_SubscribeReceivesInOrder(t *testing.T) {
	l := NewLog(10) // smaller than the number of events: the subscription is not the ring
	s := l.Subscribe(100)
	defer s.Close()
	appendN(l, 1, 50)
	for i := 1; i <= 50; i++ {
		select {
		case e := <-s.C:
			if e.Seq != uint64(i) || e.Reason != "e"+strconv.Itoa(i) {
				t.Fatalf("event %d: got seq %d %q", i, e.Seq, e.Reason)
			}
		case <-time.After(time.Second):
			t.Fatalf("event %d not delivered", i)
		}
	}
	if s.Dropped() != 0 {
		t.Errorf("Dropped = %d, want 0", s.Dropped())
	}
	select {
	case e := <-s.C:
		t.Errorf("extra event delivered: %+v", e)
	default:
	}
}

func TestLog_SubscribeFromAnotherGoroutine(t *testing.T) {
	l := NewLog(0)
	s := l.Subscribe(0) // default buffer
	if cap(s.C) != 1024 {
		t.Errorf("default subscription buffer = %d, want 1024", cap(s.C))
	}
	got := make(chan []uint64)
	go func() {
		var seen []uint64
		for e := range s.C {
			seen = append(seen, e.Seq)
		}
		got <- seen
	}()
	appendN(l, 1, 500)
	s.Close()
	var seen []uint64
	select {
	case seen = <-got:
	case <-time.After(2 * time.Second):
		t.Fatal("reader did not finish after Close")
	}
	if uint64(len(seen))+s.Dropped() != 500 {
		t.Fatalf("received %d + dropped %d != 500", len(seen), s.Dropped())
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] <= seen[i-1] {
			t.Fatalf("out of order: %d after %d", seen[i], seen[i-1])
		}
	}
}

func TestLog_SlowSubscriberDoesNotBlockAppend(t *testing.T) {
	l := NewLog(16)
	const buf = 8
	slow := l.Subscribe(buf) // never read
	fast := l.Subscribe(10 * buf)
	// No deferred Close: if Append is stuck holding the log's lock, Close would hang too and
	// turn this failure into a test-binary timeout.
	done := make(chan struct{})
	go func() {
		defer close(done)
		appendN(l, 1, 10*buf)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Append blocked on a subscriber that does not read")
	}
	if got, want := slow.Dropped(), uint64(9*buf); got != want {
		t.Errorf("slow Dropped = %d, want %d", got, want)
	}
	if fast.Dropped() != 0 {
		t.Errorf("fast Dropped = %d, want 0: one slow reader must not cost others", fast.Dropped())
	}
	if l.Total() != 10*buf {
		t.Errorf("Total = %d, want %d", l.Total(), 10*buf)
	}
	// The slow subscriber holds the first buf events; it can catch up from the log.
	var lastSeen uint64
	for i := 1; i <= buf; i++ {
		e := <-slow.C
		if e.Seq != uint64(i) {
			t.Fatalf("slow subscriber buffered seq %d at %d", e.Seq, i)
		}
		lastSeen = e.Seq
	}
	wantSeqs(t, "catch up", l.Since(lastSeen), 10*buf-15, 10*buf)
	slow.Close()
	if len(fast.C) != 10*buf {
		t.Errorf("fast subscriber has %d events buffered, want %d", len(fast.C), 10*buf)
	}
	fast.Close()
}

func TestLog_CloseClosesChannelAndIsIdempotent(t *testing.T) {
	l := NewLog(8)
	s := l.Subscribe(4)
	other := l.Subscribe(4)
	appendN(l, 1, 2)
	s.Close()
	s.Close() // must not panic (double close of the channel)
	// The buffered events are still readable, then the channel reports closed.
	for i := 1; i <= 2; i++ {
		if e, ok := <-s.C; !ok || e.Seq != uint64(i) {
			t.Fatalf("buffered event %d: %+v ok=%v", i, e, ok)
		}
	}
	select {
	case _, ok := <-s.C:
		if ok {
			t.Fatal("channel still open after Close")
		}
	case <-time.After(time.Second):
		t.Fatal("channel not closed after Close")
	}
	// Appending after Close neither panics nor counts drops for the closed subscription.
	appendN(l, 3, 20)
	if s.Dropped() != 0 {
		t.Errorf("closed subscription Dropped = %d, want 0", s.Dropped())
	}
	// Other subscriptions are unaffected.
	if other.Dropped() != 20-4 {
		t.Errorf("other Dropped = %d, want 16", other.Dropped())
	}
	other.Close()
	if _, ok := <-other.C; !ok {
		t.Error("other subscription lost its buffered events on Close")
	}
}

func TestLog_ConcurrentAppend(t *testing.T) {
	const goroutines, per = 50, 200
	l := NewLog(goroutines * per)
	sub := l.Subscribe(goroutines * per)
	defer sub.Close()
	results := make([][]uint64, goroutines)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	// Readers race with the writers.
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		var last uint64
		for {
			select {
			case <-stop:
				return
			default:
			}
			evs := l.Since(last)
			for i, e := range evs {
				if e.Seq <= last || (i > 0 && e.Seq != evs[i-1].Seq+1) {
					t.Errorf("Since(%d) returned seq %d out of order", last, e.Seq)
					return
				}
			}
			if len(evs) > 0 {
				last = evs[len(evs)-1].Seq
			}
			_ = l.Len()
			_ = l.Total()
			_ = sub.Dropped()
		}
	}()
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				e := l.Append(Event{Kind: KindRequest, RequestID: uint64(g*per + i)})
				results[g] = append(results[g], e.Seq)
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()

	if l.Total() != goroutines*per {
		t.Fatalf("Total = %d, want %d", l.Total(), goroutines*per)
	}
	seen := make(map[uint64]bool, goroutines*per)
	for g, rs := range results {
		for i, s := range rs {
			if seen[s] {
				t.Fatalf("seq %d handed out twice", s)
			}
			if s < 1 || s > goroutines*per {
				t.Fatalf("seq %d out of range", s)
			}
			if i > 0 && s <= rs[i-1] {
				t.Fatalf("goroutine %d: seq %d after %d", g, s, rs[i-1])
			}
			seen[s] = true
		}
	}
	evs := l.Events()
	if len(evs) != goroutines*per {
		t.Fatalf("kept %d events, want %d", len(evs), goroutines*per)
	}
	ids := make(map[uint64]bool, len(evs))
	for i, e := range evs {
		if e.Seq != uint64(i+1) {
			t.Fatalf("Events()[%d].Seq = %d", i, e.Seq)
		}
		ids[e.RequestID] = true
	}
	if len(ids) != goroutines*per {
		t.Errorf("%d distinct events kept, want %d (some were overwritten)", len(ids), goroutines*per)
	}
	if got := uint64(len(sub.C)) + sub.Dropped(); got != goroutines*per {
		t.Errorf("subscriber: buffered+dropped = %d, want %d", got, goroutines*per)
	}
}

func TestLog_ConcurrentSubscribeAndClose(t *testing.T) {
	l := NewLog(64)
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			appendN(l, 1, 100)
		}()
		go func() {
			defer wg.Done()
			for range 20 {
				s := l.Subscribe(2)
				s.Close()
				for range s.C { // drains and ends: the channel is closed
				}
			}
		}()
	}
	wg.Wait()
	if l.Total() != 1000 {
		t.Errorf("Total = %d, want 1000", l.Total())
	}
}

func TestKind_StringsAreStable(t *testing.T) {
	want := []struct {
		k    Kind
		name string
	}{
		{KindRequest, "request"}, {KindResponse, "response"}, {KindUnauthorized, "401"},
		{KindRequestFailed, "request-failed"}, {KindRefreshStart, "refresh-start"},
		{KindRefreshWait, "refresh-wait"}, {KindRefreshOK, "refresh-ok"},
		{KindRefreshFailed, "refresh-failed"}, {KindRetry, "retry"}, {KindParked, "parked"},
		{KindReplayed, "replayed"}, {KindLogin, "login"}, {KindLoginFailed, "login-failed"},
		{KindLogout, "logout"}, {KindSkew, "skew"}, {KindNote, "note"},
		{KindFinding, "finding"},
	}
	for _, w := range want {
		if w.k.String() != w.name {
			t.Errorf("Kind(%d).String() = %q, want %q", int(w.k), w.k.String(), w.name)
		}
		if b, err := w.k.MarshalText(); err != nil || string(b) != w.name {
			t.Errorf("Kind(%d).MarshalText() = %q, %v", int(w.k), b, err)
		}
	}
	if len(kindNames) != len(want) {
		t.Fatalf("%d kinds named, want %d", len(kindNames), len(want))
	}
	for _, k := range []Kind{0, KindFinding + 1, -1} {
		if k.String() != "unknown" {
			t.Errorf("Kind(%d).String() = %q, want unknown", int(k), k.String())
		}
	}
}

func TestWhy_StringAndMarshalText(t *testing.T) {
	for w, name := range map[Why]string{WhyNone: "", WhyProactive: "proactive", WhyReactive: "reactive",
		WhyBackground: "background", WhyManual: "manual", Why(99): ""} {
		if w.String() != name {
			t.Errorf("Why(%d).String() = %q, want %q", int(w), w.String(), name)
		}
		if b, err := w.MarshalText(); err != nil || string(b) != name {
			t.Errorf("Why(%d).MarshalText() = %q, %v", int(w), b, err)
		}
	}
}

func TestEvent_JSON(t *testing.T) {
	raw := mintHS256(t, map[string]any{"sub": "u"}, "", testSecret)
	exp := time.Date(2024, 5, 1, 10, 15, 0, 0, time.UTC)
	e := Event{
		Seq: 7, Time: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC), Kind: KindRefreshOK,
		RefreshID: 3, Why: WhyReactive, Reason: "401 code 50014", Generation: 2, Exp: exp,
		Rotated: true, Token: Fingerprint(raw), State: StateActive, Duration: 1500 * time.Millisecond,
	}
	b := e.JSON()
	if strings.Contains(string(b), "\n") {
		t.Errorf("JSON is not one line: %s", b)
	}
	if strings.Contains(string(b), raw) || strings.Contains(string(b), strings.Split(raw, ".")[2]) {
		t.Errorf("JSON contains the raw token or its signature: %s", b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not JSON: %v: %s", err, b)
	}
	want := map[string]any{
		"seq": 7.0, "kind": "refresh-ok", "refresh_id": 3.0, "why": "reactive", "reason": "401 code 50014",
		"generation": 2.0, "exp": "2024-05-01T10:15:00Z", "rotated": true, "token": Fingerprint(raw),
		"state": "active", "duration_ns": 1.5e9, "time": "2024-05-01T10:00:00Z",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v (%T), want %v", k, m[k], m[k], v)
		}
	}
	for _, absent := range []string{"request_id", "method", "path", "status", "attempt", "transient", "waiting", "skew_ns"} {
		if _, ok := m[absent]; ok {
			t.Errorf("zero field %q present: %s", absent, b)
		}
	}
	if len(m) != len(want) {
		t.Errorf("JSON has %d fields, want %d: %s", len(m), len(want), b)
	}

	// Zero Exp, Why and State are left out.
	m = nil
	if err := json.Unmarshal(Event{Seq: 1, Kind: KindRequest}.JSON(), &m); err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{"exp", "why", "state", "token"} {
		if _, ok := m[absent]; ok {
			t.Errorf("zero %s present in %v", absent, m)
		}
	}
	if m["kind"] != "request" {
		t.Errorf("kind = %v, want request", m["kind"])
	}
}

// TestTextMessageColumn: whatever follows the kind starts in one column for every kind, so
// the log reads as a table.
func TestTextMessageColumn(t *testing.T) {
	evs := []Event{
		{Kind: KindLogin, Reason: "logged in as demo"},
		{Kind: KindRequest, RequestID: 1, Method: "GET", Path: "/x"},
		{Kind: KindRequestFailed, RequestID: 12345, Method: "GET", Path: "/x", Reason: "HTTP 500"},
		{Kind: KindSkew, Reason: "server clock +60s"},
		{Kind: KindRefreshStart, RequestID: 3, RefreshID: 1, Reason: "proactive"},
		{Kind: KindNote, Reason: "note"},
	}
	col := -1
	for _, e := range evs {
		txt := e.Text()
		kind := e.Kind.String()
		i := strings.Index(txt, kind) + len(kind)
		for i < len(txt) && txt[i] == ' ' {
			i++
		}
		if col == -1 {
			col = i
		} else if i != col {
			t.Errorf("%s: message starts at column %d, want %d: %q", kind, i, col, txt)
		}
	}
}

// TestEnd_TextIDsAreStable: the ids exports and filters match, written as "end" in an event's
// JSON, left out when the event ends nothing, and read back to the same End.
func TestEnd_TextIDsAreStable(t *testing.T) {
	want := map[End]string{EndUserLogout: "user-logout", EndRejected: "rejected", EndExpired: "expired",
		EndReuseSuspected: "reuse-suspected", EndRevoked: "revoked", EndKeyLost: "key-lost", EndLoginFailed: "login-failed"}
	if len(want) != len(endNames)-1 {
		t.Fatalf("%d ends named, %d tested", len(endNames)-1, len(want))
	}
	for end, id := range want {
		b := Event{Kind: KindLogout, End: end}.JSON()
		if !strings.Contains(string(b), `"end":"`+id+`"`) {
			t.Errorf("%v: %s", id, b)
		}
		var back struct{ End End }
		if err := json.Unmarshal(b, &back); err != nil || back.End != end {
			t.Errorf("%s read back as %v, %v", id, back.End, err)
		}
	}
	if b := (Event{Kind: KindLogin}).JSON(); strings.Contains(string(b), `"end"`) {
		t.Errorf("an event that ends nothing: %s", b)
	}
	if End(99).String() != "unknown" {
		t.Errorf("End(99) = %q", End(99))
	}
	var e End
	if err := e.UnmarshalText([]byte("bogus")); err == nil {
		t.Error("an unknown id read")
	}
}
