package session

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

type failWriter struct{ after, tries int }

func (f *failWriter) Write(p []byte) (int, error) {
	f.tries++
	if f.after == 0 {
		return 0, errors.New("disk full")
	}
	f.after--
	return len(p), nil
}

func TestJSONLWriter(t *testing.T) {
	var b bytes.Buffer
	evs := []Event{{Seq: 1, Kind: KindNote, Reason: "a\x1b[2J\u202e"}, {Seq: 2, Kind: KindLogin}}
	if err := WriteJSONL(&b, evs...); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 2 || lines[0] != string(evs[0].JSON()) || strings.ContainsAny(b.String(), "\x1b\u202e") {
		t.Fatalf("JSONL = %q", b.String())
	}
	var back struct{ Reason string }
	if err := json.Unmarshal([]byte(lines[0]), &back); err != nil || back.Reason != evs[0].Reason {
		t.Fatalf("line 1 decodes to %+v, %v", back, err)
	}

	// A failed line returns its error and does not stop the lines after it.
	fw := &failWriter{after: 0}
	j := NewJSONLWriter(fw)
	if err := j.Write(evs...); err == nil || fw.tries != 2 {
		t.Fatalf("Write to a failing writer: %v after %d tries, want an error after 2", err, fw.tries)
	}
	if err := j.WriteValue(map[string]int{"x": 1}); err == nil || fw.tries != 3 {
		t.Fatalf("WriteValue: %v after %d tries", err, fw.tries)
	}
}
