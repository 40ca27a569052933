package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"tokenscope/internal/cappedfile"
)

// Stored is what a session file keeps: enough to resume without logging in again.
type Stored struct {
	Version    int       `json:"version"`
	Target     string    `json:"target"`
	Profile    string    `json:"profile"`
	User       string    `json:"user"`
	Access     string    `json:"access_token"`
	Refresh    string    `json:"refresh_token"`
	Family     string    `json:"family,omitempty"`
	Generation int       `json:"generation,omitempty"`
	Rotations  int       `json:"rotations,omitempty"`
	AccessExp  time.Time `json:"access_exp,omitzero"` // for opaque tokens, whose expiry came from expires_in
	SavedAt    time.Time `json:"saved_at"`
}

const storeVersion = 1

// ErrCorrupt marks a session file that exists but cannot be used.
var ErrCorrupt = errors.New("session file is corrupt")

// SaveFile writes s to path atomically with mode 0600: a temporary file in the same directory
// is written, synced and renamed over the old one, so a crash leaves the old file or the new,
// never half of one, and the tokens are never readable by others, not even for a moment.
func SaveFile(path string, s Stored) error {
	s.Version = storeVersion
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, append(data, '\n'))
}

// WriteFileAtomic writes data to path with mode 0600 by rename.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op after the rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// LoadFile reads a session file. A missing file gives an error wrapping os.ErrNotExist; one
// that cannot be used gives one wrapping ErrCorrupt, and the file is left as it is.
func LoadFile(path string) (Stored, error) {
	// A session file is a few kilobytes; one over the limit is not a session file, and a FIFO
	// or device would block or never end.
	data, err := cappedfile.Read(path, cappedfile.MaxConfigBytes)
	if errors.Is(err, cappedfile.ErrTooLarge) {
		return Stored{}, fmt.Errorf("%w: %v (left as it is; delete it to start afresh)", ErrCorrupt, err)
	}
	if err != nil {
		return Stored{}, err
	}
	var s Stored
	if err := json.Unmarshal(data, &s); err != nil {
		return Stored{}, fmt.Errorf("%w: %s: %v (left as it is; delete it to start afresh)", ErrCorrupt, path, err)
	}
	switch {
	case s.Version != storeVersion:
		return Stored{}, fmt.Errorf("%w: %s: version %d, want %d", ErrCorrupt, path, s.Version, storeVersion)
	case s.Access == "" || s.Refresh == "":
		return Stored{}, fmt.Errorf("%w: %s: no tokens in it", ErrCorrupt, path)
	}
	return s, nil
}
