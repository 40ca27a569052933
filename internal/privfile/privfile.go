// Package privfile is the one way tokenscope opens a file it writes (a session, a log, a HAR,
// an export): every such file may hold secrets, so an existing one is written into only when it
// is the user's own regular file, and is made 0600 before anything goes in. A pipe or a device
// (/dev/null, /dev/stdout) is written as it is: it is not ours to change.
package privfile

import (
	"errors"
	"fmt"
	"os"
)

// ErrNotYours wraps Open's refusal of an existing file that belongs to another user.
var ErrNotYours = errors.New("owned by another user")

// Mode is what a file tokenscope writes may be: read and written by its owner alone.
const Mode os.FileMode = 0o600

// How an existing file is written.
const (
	Truncate = iota // replace what it holds
	Append          // add to it (a log)
	New             // refuse an existing file
)

// Open opens path for writing as how says. A new file is created 0600. An existing regular file
// must be owned by this process's user (root included: root writing into another user's file
// would hand them what it writes), and is made 0600 before it is truncated or appended to;
// when either cannot be done, nothing in it is touched and the error says why.
func Open(path string, how int) (*os.File, error) {
	flags := os.O_WRONLY | os.O_CREATE
	switch how {
	case Append:
		flags |= os.O_APPEND
	case New:
		flags |= os.O_EXCL
	}
	f, err := os.OpenFile(path, flags, Mode)
	if err != nil {
		return nil, err
	}
	if err := vet(path, f); err != nil {
		f.Close()
		return nil, err
	}
	if how == Truncate {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			if err := f.Truncate(0); err != nil {
				f.Close()
				return nil, err
			}
		}
	}
	return f, nil
}

// vet checks the file that was opened, not the path: a link or a rename in between changes
// nothing.
func vet(path string, f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return nil
	}
	if uid, ok := Owner(st); ok && uid != os.Geteuid() {
		return fmt.Errorf("%s is %w (uid %d, you are uid %d): refusing to write into it; give a path of your own", path, ErrNotYours, uid, os.Geteuid())
	}
	if st.Mode().Perm() != Mode {
		if err := f.Chmod(Mode); err != nil {
			return fmt.Errorf("%s: cannot make it private (chmod 600) before writing to it: %w", path, err)
		}
	}
	return nil
}
