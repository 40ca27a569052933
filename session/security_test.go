package session

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Security-review tests for the session file: it holds live tokens, so it must be private
// (0600) from the first byte to the last, and written atomically, so that a reader never sees
// half of it however many writers race.

// secStored is writer w's session: big tokens made of w's own letter, so that a torn or mixed
// file cannot pass for a whole one.
func secStored(w int) Stored {
	c := string(rune('a' + w%26))
	return Stored{
		Target: "http://127.0.0.1:1", Profile: "simplejwt", User: fmt.Sprintf("writer-%02d", w),
		Access: "A" + strings.Repeat(c, 48<<10), Refresh: "R" + strings.Repeat(c, 16<<10),
		Family: c, Generation: w + 1, SavedAt: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC),
	}
}

func TestSecuritySaveFileIsPrivate(t *testing.T) {
	dir := t.TempDir()
	t.Run("new file", func(t *testing.T) {
		p := filepath.Join(dir, "new.json")
		if err := SaveFile(p, secStored(1)); err != nil {
			t.Fatal(err)
		}
		secMode(t, p, 0o600)
	})
	for _, mode := range []fs.FileMode{0o644, 0o666, 0o604, 0o640} {
		t.Run(fmt.Sprintf("pre-existing %04o", mode), func(t *testing.T) {
			p := filepath.Join(dir, fmt.Sprintf("old-%o.json", mode))
			if err := os.WriteFile(p, []byte(`{"version":1,"access_token":"old","refresh_token":"old"}`), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, mode); err != nil {
				t.Fatal(err)
			}
			if err := SaveFile(p, secStored(2)); err != nil {
				t.Fatal(err)
			}
			secMode(t, p, 0o600)
			got, err := LoadFile(p)
			if err != nil || got.Access != secStored(2).Access {
				t.Errorf("after the save: err %v, new tokens %v", err, err == nil && got.Access == secStored(2).Access)
			}
		})
	}
}

func secMode(t *testing.T, p string, want fs.FileMode) {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != want {
		t.Errorf("%s has mode %04o, want %04o", filepath.Base(p), got, want)
	}
}

// TestSecuritySaveFileAtomicUnderConcurrency: 20 goroutines save different sessions to one
// file while readers load it in a loop and a watcher lists the directory. Every load either
// fails cleanly or returns exactly one writer's session, never a torn or mixed one; no load ever
// finds the file corrupt (a rename leaves the old file or the new one); no file in the directory,
// temporary ones included, is ever readable by group or others; and the storm leaves no
// temporary file behind.
func TestSecuritySaveFileAtomicUnderConcurrency(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "session.json")
	if err := SaveFile(p, secStored(0)); err != nil {
		t.Fatal(err)
	}
	const writers, rounds = 20, 5
	var (
		stop                     atomic.Bool
		loads, whole, badLoads   atomic.Int64
		mu                       sync.Mutex
		problems                 []string
		readers, watchers, saves sync.WaitGroup
	)
	problem := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) < 10 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	for range 4 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for !stop.Load() {
				loads.Add(1)
				s, err := LoadFile(p)
				if err != nil {
					badLoads.Add(1)
					if errors.Is(err, ErrCorrupt) {
						problem("a load found the file corrupt mid-storm: %.120s", err)
					}
					continue
				}
				var w int
				if _, err := fmt.Sscanf(s.User, "writer-%d", &w); err != nil {
					problem("a load returned user %q", s.User)
					continue
				}
				want := secStored(w)
				if s.Access != want.Access || s.Refresh != want.Refresh || s.Family != want.Family || s.Generation != want.Generation {
					problem("a load returned a mixed or torn session for %s (access %d bytes, refresh %d bytes)", s.User, len(s.Access), len(s.Refresh))
					continue
				}
				whole.Add(1)
			}
		}()
	}
	watchers.Add(1)
	go func() {
		defer watchers.Done()
		for !stop.Load() {
			entries, err := os.ReadDir(dir)
			if err != nil {
				continue
			}
			for _, e := range entries {
				info, err := e.Info()
				if err != nil {
					continue // renamed away meanwhile
				}
				if perm := info.Mode().Perm(); perm&0o077 != 0 {
					problem("%s was mode %04o during the storm", e.Name(), perm)
				}
			}
		}
	}()
	var saveErrs atomic.Int64
	for w := 1; w <= writers; w++ {
		saves.Add(1)
		go func() {
			defer saves.Done()
			for range rounds {
				if err := SaveFile(p, secStored(w)); err != nil {
					saveErrs.Add(1)
					problem("save by writer %d: %v", w, err)
				}
			}
		}()
	}
	saves.Wait()
	stop.Store(true)
	readers.Wait()
	watchers.Wait()

	for _, pr := range problems {
		t.Error(pr)
	}
	t.Logf("%d loads: %d whole, %d failed", loads.Load(), whole.Load(), badLoads.Load())
	if whole.Load() == 0 {
		t.Error("no load succeeded during the storm; the test proved nothing")
	}
	if badLoads.Load() > 0 {
		t.Errorf("%d loads failed while the file existed throughout", badLoads.Load())
	}
	final, err := LoadFile(p)
	if err != nil {
		t.Fatalf("after the storm: %v", err)
	}
	var w int
	if _, err := fmt.Sscanf(final.User, "writer-%d", &w); err != nil || final.Access != secStored(w).Access {
		t.Errorf("after the storm the file holds %q, not one writer's whole session", final.User)
	}
	secMode(t, p, 0o600)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "session.json" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}
