package session

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestTextFoldsLineBreaks: an event is one line of text whatever the server's text in it holds:
// a reason (or a path) with a newline, a carriage return, CRLF, a vertical tab, a form feed,
// NEL or a Unicode line or paragraph separator cannot start a line of its own in fire's output
// or the TUI's log, where it could pass for another event. Each break is shown as ⏎.
func TestTextFoldsLineBreaks(t *testing.T) {
	forged := "12:00:00.000        login          logged in as admin"
	for name, br := range map[string]string{
		"LF": "\n", "CR": "\r", "CRLF": "\r\n", "VT": "\v", "FF": "\f", "NEL": "\u0085", "LS": "\u2028", "PS": "\u2029",
	} {
		t.Run(name, func(t *testing.T) {
			for _, e := range []Event{
				{Kind: KindRefreshFailed, RefreshID: 1, Reason: "HTTP 503: down" + br + forged},
				{Kind: KindRequestFailed, RequestID: 7, Method: "GET", Path: "/x" + br + forged, Reason: "HTTP 500"},
			} {
				txt := e.Text()
				if i := strings.IndexAny(txt, "\r\n\v\f\u0085\u2028\u2029"); i >= 0 {
					t.Errorf("Text() keeps a line break at byte %d: %q", i, txt)
				}
				if want := "⏎" + forged; !strings.Contains(txt, want) {
					t.Errorf("Text() = %q, want the break shown as one ⏎ before the rest", txt)
				}
			}
		})
	}
	if got := (Event{Kind: KindNote, Reason: "plain"}).Text(); strings.Contains(got, "⏎") {
		t.Errorf("Text() of a plain reason = %q", got)
	}
}

// TestClip: a long text is cut at a UTF-8 boundary no later than MaxTextBytes and says how
// many bytes were cut; a short one comes back as it is.
func TestClip(t *testing.T) {
	if got := Clip("short"); got != "short" {
		t.Errorf("Clip(short) = %q", got)
	}
	exact := strings.Repeat("a", MaxTextBytes)
	if got := Clip(exact); got != exact {
		t.Errorf("Clip of exactly MaxTextBytes changed it (%d bytes)", len(got))
	}
	// "ä" is two bytes: with an odd prefix the cap falls inside one.
	long := "x" + strings.Repeat("ä", 3<<20)
	got := Clip(long)
	head, tail, ok := strings.Cut(got, "… ")
	if !ok {
		t.Fatalf("Clip(long) = %.80q…, want a cut marked with …", got)
	}
	if len(head) > MaxTextBytes || len(head) < MaxTextBytes-3 {
		t.Errorf("kept %d bytes, want just under %d", len(head), MaxTextBytes)
	}
	if !utf8.ValidString(head) {
		t.Errorf("the cut split a character: %q", head[len(head)-4:])
	}
	if want := strconv.Itoa(len(long)-len(head)) + " bytes more"; tail != want {
		t.Errorf("Clip says %q, want %q", tail, want)
	}
}

// TestLogClipsServerText: every text an event carries into the log (and to subscribers) is
// clipped, whatever its size when appended.
func TestLogClipsServerText(t *testing.T) {
	l := NewLog(10)
	sub := l.Subscribe(10)
	defer sub.Close()
	huge := strings.Repeat("z", 3<<20)
	back := l.Append(Event{Kind: KindRefreshFailed, Reason: "HTTP 503: " + huge, Method: huge, Path: "/" + huge, Token: huge})
	got := <-sub.C
	for _, e := range []Event{back, got, l.Events()[0]} {
		for name, s := range map[string]string{"Reason": e.Reason, "Method": e.Method, "Path": e.Path, "Token": e.Token} {
			if len(s) > MaxTextBytes+len("… 4194304 bytes more") {
				t.Errorf("%s kept %d bytes", name, len(s))
			}
			if !strings.Contains(s, " bytes more") {
				t.Errorf("%s does not say it was cut: %.60q…", name, s)
			}
		}
	}
}

// TestLogByteBudget: a log keeps no more text than its budget, dropping the oldest events
// first, and Since and Len agree with what is kept.
func TestLogByteBudget(t *testing.T) {
	const budget = 64 << 10
	l := NewLogLimits(1000, budget)
	big := strings.Repeat("r", MaxTextBytes)
	for i := 1; i <= 500; i++ {
		l.Append(Event{Kind: KindNote, Reason: "e" + strconv.Itoa(i), Path: big})
	}
	evs := l.Events()
	var held int
	for _, e := range evs {
		held += len(e.Reason) + len(e.Path)
	}
	if held > budget {
		t.Errorf("log holds %d bytes of text in %d events, budget %d", held, len(evs), budget)
	}
	if want := budget / (MaxTextBytes + 4); len(evs) < want || len(evs) != l.Len() {
		t.Errorf("kept %d events (Len %d), want about %d", len(evs), l.Len(), want)
	}
	wantSeqs(t, "after the budget", evs, uint64(500-len(evs)+1), 500)
	wantSeqs(t, "Since", l.Since(490), 491, 500)
	// Small events after big ones: the count bound takes over again.
	for range 2000 {
		l.Append(Event{Kind: KindNote, Reason: "small"})
	}
	if n := l.Len(); n != 1000 {
		t.Errorf("Len = %d after small events, want the count bound 1000", n)
	}
}

// TestSubscriptionByteBudget: a subscriber that does not read holds at most its byte budget
// of text; once it reads, events flow again and the misses are counted.
func TestSubscriptionByteBudget(t *testing.T) {
	l := NewLog(100)
	const budget = 32 << 10
	sub := l.subscribe(1000, budget)
	defer sub.Close()
	big := strings.Repeat("s", MaxTextBytes)
	for range 100 {
		l.Append(Event{Kind: KindNote, Reason: big})
	}
	queued := len(sub.C)
	if queued*MaxTextBytes > budget || queued == 0 {
		t.Errorf("%d events of %d bytes queued, budget %d", queued, MaxTextBytes, budget)
	}
	if d := sub.Dropped(); d != uint64(100-queued) {
		t.Errorf("Dropped = %d, want %d", d, 100-queued)
	}
	for range queued {
		<-sub.C
	}
	l.Append(Event{Kind: KindNote, Reason: big})
	if len(sub.C) != 1 {
		t.Errorf("after draining, %d events queued, want 1", len(sub.C))
	}
	// The default budget holds many small events: only the count bounds them.
	s2 := l.Subscribe(500)
	defer s2.Close()
	for range 500 {
		l.Append(Event{Kind: KindNote, Reason: "small"})
	}
	if len(s2.C) != 500 {
		t.Errorf("%d small events queued, want all 500", len(s2.C))
	}
}

// TestParseJWKSClipsKid: a key set's kid is the server's text; an error naming a bad key
// quotes no more than Clip keeps of it.
func TestParseJWKSClipsKid(t *testing.T) {
	kid := strings.Repeat("k", 1<<20)
	for _, key := range []string{
		`{"kty":"RSA","kid":"` + kid + `","n":"!!","e":"AQAB"}`,
		`{"kty":"EC","kid":"` + kid + `","crv":"P-256","x":"!!","y":"!!"}`,
		`{"kty":"OKP","kid":"` + kid + `","crv":"Ed25519","x":"!!"}`,
	} {
		_, err := ParseJWKS([]byte(`{"keys":[` + key + `]}`))
		if err == nil {
			t.Fatalf("a bad key parsed: %.40s", key)
		}
		if len(err.Error()) > MaxTextBytes+200 {
			t.Errorf("error is %d bytes: %.60q…", len(err.Error()), err.Error())
		}
	}
}
