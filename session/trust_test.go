package session

import (
	"strings"
	"testing"
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
