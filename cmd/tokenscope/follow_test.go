package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"tokenscope/session"
)

// writeLog records each write the printer makes, whole.
type writeLog struct {
	mu     sync.Mutex
	writes [][]byte
}

func (w *writeLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, bytes.Clone(p))
	return len(p), nil
}

func (w *writeLog) snapshot() [][]byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([][]byte(nil), w.writes...)
}

// The live printer batches a burst's events into a few writes, never cuts a line between two
// writes (behind the sanitizer a character cut in two is lost), prints every event in order,
// and shows a lone event without waiting for the end.
func TestPrinterBatchesWholeLines(t *testing.T) {
	log := session.NewLog(1 << 14)
	var out writeLog
	pr := startPrinterSized(&out, log.View(), printJSON, 1<<14, nil)
	const n = 3000
	long := strings.Repeat("é", 900) // 1800 bytes, so that lines straddle the buffer's end
	for i := range n {
		log.Append(session.Event{Kind: session.KindRequest, RequestID: uint64(i + 1), Path: "/api/protected/", Reason: long[:2*(i%900)]})
	}
	if dropped := pr.finish(); dropped != 0 {
		t.Fatalf("%d events dropped", dropped)
	}
	writes := out.snapshot()
	if len(writes) > n/20 {
		t.Errorf("%d writes for %d events: the printer does not batch", len(writes), n)
	}
	var all []byte
	for i, w := range writes {
		if len(w) == 0 || w[len(w)-1] != '\n' {
			t.Fatalf("write %d does not end a line: …%q", i, w[max(0, len(w)-20):])
		}
		all = append(all, w...)
	}
	lines := strings.Split(strings.TrimSuffix(string(all), "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines for %d events", len(lines), n)
	}
	for i, l := range lines {
		var ev struct {
			RequestID uint64 `json:"request_id"`
			Reason    string `json:"reason"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.RequestID != uint64(i+1) || ev.Reason != long[:2*(i%900)] {
			t.Fatalf("line %d: %v, request %d, reason of %d bytes", i, err, ev.RequestID, len(ev.Reason))
		}
	}

	// A lone event reaches the output while the printer still runs.
	var quiet writeLog
	log2 := session.NewLog(16)
	pr2 := startPrinterSized(&quiet, log2.View(), printJSON, 16, nil)
	defer pr2.finish()
	log2.Append(session.Event{Kind: session.KindNote, Reason: "alone"})
	deadline := time.Now().Add(5 * time.Second)
	for len(quiet.snapshot()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a lone event was not printed until the end")
		}
		time.Sleep(time.Millisecond)
	}
	if got := string(quiet.snapshot()[0]); !strings.Contains(got, `"reason":"alone"`) {
		t.Errorf("printed %q", got)
	}
}
