package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"tokenscope/session"
)

// lastJSON decodes the last line of out into v.
func lastJSON(t *testing.T, out string, v any) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), v); err != nil {
		t.Fatalf("the last line is not JSON: %q", lines[len(lines)-1])
	}
}

// TestFireLogFileFullDevice: a --log-file that cannot be written (/dev/full) is not silent:
// the summary counts every event as dropped with the write error, stderr warns, the exit
// status is 1 though every request succeeded; and the device's mode is left alone.
func TestFireLogFileFullDevice(t *testing.T) {
	st, err := os.Stat("/dev/full")
	if err != nil {
		t.Skip("no /dev/full")
	}
	out, errOut, code := executeCLI(t, "fire", "--json", "-n", "3", "--log-file", "/dev/full", "GET", "/api/me")
	var s summary
	lastJSON(t, out, &s)
	if code != 1 || s.OK != 3 {
		t.Errorf("exit %d, summary %+v; want 1 with 3 ok", code, s)
	}
	if s.LogFile == nil || s.LogFile.Written != 0 || s.LogFile.Dropped != s.Events || s.Events == 0 ||
		!strings.Contains(s.LogFile.Error, "no space left") || s.EventsDropped < s.Events {
		t.Errorf("summary %+v, log file %+v; want every event dropped with the write error", s, s.LogFile)
	}
	if !strings.Contains(errOut, "warning") || !strings.Contains(errOut, "/dev/full") || !strings.Contains(errOut, "events were dropped") {
		t.Errorf("stderr does not warn: %q", errOut)
	}
	// The text summary says it too.
	out, _, code = executeCLI(t, "fire", "-n", "2", "--log-file", "/dev/full", "GET", "/api/me")
	if code != 1 || !strings.Contains(out, "log file: 0 written") || !strings.Contains(out, "no space left") {
		t.Errorf("text summary (exit %d):\n%s", code, out)
	}
	if after, _ := os.Stat("/dev/full"); after.Mode() != st.Mode() {
		t.Errorf("/dev/full changed mode: %v → %v", st.Mode(), after.Mode())
	}
}

// slowWriter takes each write after a pause and counts the lines.
type slowWriter struct {
	mu    sync.Mutex
	lines int
	pause time.Duration
}

func (w *slowWriter) Write(p []byte) (int, error) {
	time.Sleep(w.pause)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lines += strings.Count(string(p), "\n")
	return len(p), nil
}

func (w *slowWriter) Close() error { return nil }

// TestLogSinkCountsWhatASlowWriterMisses: events come faster than the file takes them; the
// sink catches up from the log where it can, and what it still misses is counted, so that
// written + dropped = every event, and written is what reached the file.
func TestLogSinkCountsWhatASlowWriterMisses(t *testing.T) {
	defer func(n int) { logFileBuffer = n }(logFileBuffer)
	logFileBuffer = 16
	log := session.NewLog(64)
	w := &slowWriter{pause: 200 * time.Microsecond}
	sink := startLogSink(log.View(), w, &exportWriter{jw: session.NewJSONLWriter(w)}, nil)
	const total = 5000
	for i := range total {
		log.Append(session.Event{Kind: session.KindNote, Reason: fmt.Sprint("event ", i)})
	}
	st := sink.finish()
	if st.Written+st.Dropped != total || st.Dropped == 0 || uint64(w.lines) != st.Written {
		t.Errorf("%+v, %d lines in the file; want written + dropped = %d, some dropped, written = lines", st, w.lines, total)
	}
}

// TestFireLogFileSlowReader: --log-file is a FIFO whose reader starts late; the events the
// file missed are counted, the counts add up to the events logged, the lines the reader got
// are the ones the summary says were written, and the exit status is 1.
func TestFireLogFileSlowReader(t *testing.T) {
	defer func(n int) { logFileBuffer = n }(logFileBuffer)
	logFileBuffer = 32
	fifo := filepath.Join(t.TempDir(), "events.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	lines := make(chan int, 1)
	go func() {
		f, err := os.Open(fifo) // waits for fire to open it
		if err != nil {
			lines <- -1
			return
		}
		defer f.Close()
		time.Sleep(time.Second) // the pipe fills meanwhile
		n := 0
		for sc := bufio.NewScanner(f); sc.Scan(); {
			n++
		}
		lines <- n
	}()
	out, errOut, code := executeCLI(t, "fire", "--json", "-n", "300", "-c", "10", "--log-size", "50", "--log-file", fifo, "GET", "/api/me")
	var s summary
	lastJSON(t, out, &s)
	got := <-lines
	if s.LogFile == nil || s.LogFile.Written+s.LogFile.Dropped != s.Events || uint64(got) != s.LogFile.Written {
		t.Fatalf("log file %+v, %d events, the reader got %d lines; want written + dropped = events, written = lines", s.LogFile, s.Events, got)
	}
	if s.LogFile.Dropped == 0 {
		t.Fatalf("nothing dropped with a reader a second late (%+v): the test did not test", s.LogFile)
	}
	if code != 1 || s.OK != 300 || !strings.Contains(errOut, "events were dropped") {
		t.Errorf("exit %d, %d ok, stderr %q; want 1, 300 ok and a warning", code, s.OK, errOut)
	}
}
