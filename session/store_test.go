package session

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var storeEpoch = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func TestStoreRoundTrip(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "s.json")
	in := Stored{Target: "http://127.0.0.1:1", Profile: "oauth2", User: "demo", Access: "a.b.c", Refresh: "r",
		Family: "f", Generation: 3, Rotations: 2, AccessExp: storeEpoch.Add(time.Minute), SavedAt: storeEpoch}
	if err := SaveFile(p, in); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v err %v", st.Mode(), err)
	}
	out, err := LoadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	in.Version = storeVersion
	if !out.AccessExp.Equal(in.AccessExp) || !out.SavedAt.Equal(in.SavedAt) {
		t.Fatalf("times: %+v", out)
	}
	out.AccessExp, out.SavedAt, in.AccessExp, in.SavedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if out != in {
		t.Fatalf("round trip:\n got %+v\nwant %+v", out, in)
	}
	// Saving again replaces the file and leaves no temporary file behind.
	in.Generation = 4
	if err := SaveFile(p, in); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("files left in the directory: %v", entries)
	}
	if out, _ := LoadFile(p); out.Generation != 4 {
		t.Errorf("second save not read back: %+v", out)
	}
}

// TestStoreTightensMode: a session file that existed with loose permissions is
// replaced by a 0600 one.
func TestStoreTightensMode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.json")
	if err := os.WriteFile(p, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := SaveFile(p, Stored{Access: "a", Refresh: "r"}); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
}

func TestStoreCorruptAndMissing(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadFile(filepath.Join(dir, "none.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	for name, body := range map[string]string{
		"not json":     "{not json",
		"empty":        "",
		"old version":  `{"version":0,"access_token":"a","refresh_token":"r"}`,
		"no tokens":    `{"version":1}`,
		"wrong types":  `{"version":"1","access_token":5}`,
		"truncated":    `{"version":1,"access_token":"a","refresh_tok`,
		"binary noise": "\x00\x01\x02\xff",
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, name+".json")
			if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadFile(p)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
			if b, _ := os.ReadFile(p); string(b) != body {
				t.Error("LoadFile changed the corrupt file")
			}
		})
	}
}

func TestWriteFileAtomicFailsCleanly(t *testing.T) {
	p := filepath.Join(t.TempDir(), "missing-dir", "s.json")
	if err := WriteFileAtomic(p, []byte("x")); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}
