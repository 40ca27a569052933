//go:build unix

package session

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Tests for LoadFile's refusal of session files it cannot trust (issue 10). They need Unix
// owners, permission bits, FIFOs and /dev/zero.

// goodSessionFile writes a valid session file at path with SaveFile (mode 0600).
func goodSessionFile(t *testing.T, path string) {
	t.Helper()
	if err := SaveFile(path, Stored{Target: "http://127.0.0.1:1", User: "demo", Access: "a.b.c", Refresh: "r", SavedAt: storeEpoch}); err != nil {
		t.Fatal(err)
	}
}

// loadWithin runs LoadFile and fails the test if it does not return within d (a FIFO must not
// hang it).
func loadWithin(t *testing.T, path string, d time.Duration) (Stored, error) {
	t.Helper()
	type result struct {
		st  Stored
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := LoadFile(path)
		done <- result{st, err}
	}()
	select {
	case r := <-done:
		return r.st, r.err
	case <-time.After(d):
		t.Fatalf("LoadFile(%s) did not return within %v", path, d)
		return Stored{}, nil
	}
}

func wantUntrusted(t *testing.T, err error, why ...string) {
	t.Helper()
	if !errors.Is(err, ErrUntrusted) {
		t.Fatalf("err = %v, want ErrUntrusted", err)
	}
	if errors.Is(err, ErrCorrupt) || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v also reads as corrupt or missing", err)
	}
	for _, w := range why {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("err = %q, want it to say %q", err, w)
		}
	}
}

func TestLoadFile_OwnerOnlyModeLoads(t *testing.T) {
	dir := t.TempDir()
	for _, mode := range []os.FileMode{0o600, 0o400} {
		p := filepath.Join(dir, mode.String()+".json")
		goodSessionFile(t, p)
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		st, err := loadWithin(t, p, 5*time.Second)
		if err != nil || st.Access != "a.b.c" || st.User != "demo" {
			t.Errorf("mode %v: %+v, %v", mode, st, err)
		}
	}
	// A symlink to a good file of one's own is followed.
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(filepath.Join(dir, "-rw-------.json"), link); err != nil {
		t.Fatal(err)
	}
	if st, err := loadWithin(t, link, 5*time.Second); err != nil || st.Access != "a.b.c" {
		t.Errorf("symlink: %+v, %v", st, err)
	}
}

func TestLoadFile_GroupOrOtherBitsRefused(t *testing.T) {
	dir := t.TempDir()
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o620, 0o602, 0o610, 0o601, 0o666, 0o777} {
		t.Run(mode.String(), func(t *testing.T) {
			p := filepath.Join(dir, "s "+mode.String()+".json")
			goodSessionFile(t, p)
			if err := os.Chmod(p, mode); err != nil {
				t.Fatal(err)
			}
			before, _ := os.ReadFile(p)
			_, err := loadWithin(t, p, 5*time.Second)
			wantUntrusted(t, err, p, "group or others", "chmod 600 '"+p+"'")
			if after, _ := os.ReadFile(p); string(after) != string(before) {
				t.Error("LoadFile changed the refused file")
			}
			if st, _ := os.Stat(p); st.Mode().Perm() != mode {
				t.Errorf("LoadFile changed the mode to %v", st.Mode().Perm())
			}
		})
	}
	// The advice works: after chmod 600 the file loads.
	p := filepath.Join(dir, "fixed.json")
	goodSessionFile(t, p)
	_ = os.Chmod(p, 0o644)
	if _, err := LoadFile(p); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("0644: %v", err)
	}
	_ = os.Chmod(p, 0o600)
	if _, err := LoadFile(p); err != nil {
		t.Errorf("after chmod 600: %v", err)
	}
}

func TestLoadFile_OtherOwnerRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	p := filepath.Join(t.TempDir(), "s.json")
	goodSessionFile(t, p)
	if err := os.Chown(p, 65534, 65534); err != nil {
		t.Skipf("chown: %v", err)
	}
	_, err := loadWithin(t, p, 5*time.Second)
	wantUntrusted(t, err, "owned by uid 65534", "not by you (uid 0)")
}

func TestLoadFile_FIFORefusedWithoutHanging(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.json")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	_, err := loadWithin(t, p, 5*time.Second)
	wantUntrusted(t, err, "named pipe", "not a regular file")
	// A FIFO swapped in after the path was checked: see cappedfile's TestOpenFIFODoesNotBlock.
}

func TestLoadFile_DevicesAndDirectoriesRefused(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "zero.json")
	if err := os.Symlink("/dev/zero", link); err != nil {
		t.Fatal(err)
	}
	for path, why := range map[string]string{"/dev/zero": "character device", "/dev/null": "character device", link: "character device", dir: "directory"} {
		if _, err := os.Stat(path); err != nil {
			t.Logf("%s: %v (skipped)", path, err)
			continue
		}
		_, err := loadWithin(t, path, 5*time.Second)
		wantUntrusted(t, err, why, "not a regular file")
	}
}

func TestLoadFile_SizeCapped(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "big.json")
	goodSessionFile(t, p)
	// A sparse file far past the cap: refused by its size, without reading it.
	if err := os.Truncate(p, 1<<40); err != nil {
		t.Skipf("truncate: %v", err)
	}
	_, err := loadWithin(t, p, 5*time.Second)
	wantUntrusted(t, err, "bytes; a session file is at most")
	// Exactly at the cap it is read (and is then not JSON).
	if err := os.Truncate(p, MaxFileBytes); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(p); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a file of exactly MaxFileBytes: %v, want ErrCorrupt (read, then not valid)", err)
	}
	if err := os.Truncate(p, MaxFileBytes+1); err != nil {
		t.Fatal(err)
	}
	_, err = LoadFile(p)
	wantUntrusted(t, err, "bytes")
}

func TestLoadFile_MissingStillNotExist(t *testing.T) {
	if _, err := LoadFile(filepath.Join(t.TempDir(), "none.json")); !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrUntrusted) {
		t.Errorf("missing file: %v, want fs.ErrNotExist only", err)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/home/u/.config/tokenscope/session.json": "/home/u/.config/tokenscope/session.json",
		"my session.json":                         "'my session.json'",
		"it's.json":                               `'it'\''s.json'`,
		"$(rm -rf ~).json":                        "'$(rm -rf ~).json'",
		"":                                        "''",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
