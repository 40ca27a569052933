package testutil

import (
	"strings"
	"sync"
	"testing"
)

// TestSyncBuffer: concurrent writers lose nothing and never interleave within a write.
func TestSyncBuffer(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				_, _ = b.Write([]byte("0123456789\n"))
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 1600 {
		t.Fatalf("%d lines, want 1600", len(lines))
	}
	for _, l := range lines {
		if l != "0123456789" {
			t.Fatalf("a torn write: %q", l)
		}
	}
}
