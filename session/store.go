package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"tokenscope/internal/cappedfile"
	"tokenscope/internal/privfile"
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
	// An identity provider's session: where and as which client it logged in, and how. Never
	// the client secret: that stays in the variable --client-secret-env names.
	Issuer   string    `json:"issuer,omitempty"`
	ClientID string    `json:"client_id,omitempty"`
	Flow     string    `json:"flow,omitempty"`
	IDToken  string    `json:"id_token,omitempty"`
	SavedAt  time.Time `json:"saved_at"`

	// CSRF is the CSRF cookie's value in the cookie convention, which the refresh call must
	// send back; the refresh token itself is Refresh.
	CSRF string `json:"csrf_token,omitempty"`
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
// that is not safe to trust (see ErrUntrusted) gives one wrapping ErrUntrusted; one that cannot
// be used gives one wrapping ErrCorrupt. The file is left as it is in every case.
func LoadFile(path string) (Stored, error) {
	data, err := readTrusted(path)
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
	case s.Access == "" || s.Refresh == "" && s.Flow != "client-credentials":
		// The client-credentials flow has no refresh token: at expiry it fetches a new token.
		return Stored{}, fmt.Errorf("%w: %s: no tokens in it", ErrCorrupt, path)
	}
	return s, nil
}

// MaxFileBytes caps what LoadFile reads. A session file is well under a few kilobytes; anything
// larger is not one.
const MaxFileBytes = 1 << 20

// ErrUntrusted marks a session file that LoadFile refuses to read: not a regular file, larger
// than MaxFileBytes, owned by another user, or open to group or others. Tokens in a file others
// could write may be theirs (a session planted to be resumed); tokens in a file others could
// read may have leaked.
var ErrUntrusted = errors.New("session file is not safe to use")

// ErrNotPrivate is the ErrUntrusted of a file of this user's that group or others can read or
// write: not resumed, but this user may replace it with a private one.
var ErrNotPrivate = fmt.Errorf("%w", ErrUntrusted)

// readTrusted reads a session file only when it is safe to trust: a regular file of at most
// MaxFileBytes, owned by this user and private to them.
func readTrusted(path string) ([]byte, error) {
	data, err := cappedfile.Read(path, MaxFileBytes, checkTrusted)
	if errors.Is(err, cappedfile.ErrTooLarge) || err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, ErrUntrusted) {
		return nil, fmt.Errorf("%w: %v", ErrUntrusted, err)
	}
	return data, err
}

// checkTrusted says why fi, the file at path, is not a session file to trust, or nil.
func checkTrusted(path string, fi os.FileInfo) error {
	if fi.Size() > MaxFileBytes {
		return fmt.Errorf("%w: %s is %d bytes; a session file is at most %d (is it the right file?)", ErrUntrusted, path, fi.Size(), MaxFileBytes)
	}
	uid, ok := privfile.Owner(fi)
	if !ok {
		return nil // no owner or Unix permissions to check on this system
	}
	if euid := os.Geteuid(); uid != euid {
		return fmt.Errorf("%w: %s is owned by uid %d, not by you (uid %d): its tokens may be someone else's; use a session file of your own", ErrUntrusted, path, uid, euid)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %04o: group or others can read or change it, so its tokens may have leaked or been planted; fix: chmod 600 %s", ErrNotPrivate, path, perm, shellQuote(path))
	}
	return nil
}

// shellQuote quotes path for a command the user is told to run.
func shellQuote(path string) string {
	if path != "" && strings.Trim(path, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./+,:@%") == "" {
		return path
	}
	return "'" + strings.ReplaceAll(path, "'", `'\''`) + "'"
}
