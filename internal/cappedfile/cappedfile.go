// Package cappedfile reads the files tokenscope opens on the user's behalf (config, profiles,
// keys, certificates, request collections, session files) with a size limit and only when
// they are regular files: a path to /dev/zero, a FIFO or a huge log given by mistake must give
// an error naming it, not a hang or an out-of-memory.
package cappedfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// MaxConfigBytes bounds the small files: config, profiles, keys, certificates, session files.
const MaxConfigBytes = 1 << 20

// ErrTooLarge is wrapped by Read's error for a file over the limit.
var ErrTooLarge = errors.New("file too large")

// Check vets a file before it is read (its owner, its mode); an error refuses it.
type Check func(path string, fi os.FileInfo) error

// Read returns the contents of the regular file at path, which must hold at most max bytes and
// pass every check. A missing file gives an error wrapping fs.ErrNotExist; directories,
// devices, FIFOs and sockets are refused without reading them; what is checked is the file that
// was opened.
func Read(path string, max int64, checks ...Check) ([]byte, error) {
	f, err := Open(path, checks...)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes: %w", path, max, ErrTooLarge)
	}
	return data, nil
}

// Open opens the regular file at path for a reader that streams it (and caps what it reads
// itself), vetted as Read vets it.
func Open(path string, checks ...Check) (*os.File, error) {
	// Stat before open: an open FIFO blocks until a writer comes.
	before, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := vet(path, before, checks); err != nil {
		return nil, err
	}
	f, err := openNoBlock(path)
	if err != nil {
		return nil, err
	}
	// What was opened is what gets read, so it is what gets checked: a file saved atomically
	// (written aside, renamed into place) may have been swapped in since the stat, and that is
	// fine when it passes too.
	after, err := f.Stat()
	if err == nil {
		err = vet(path, after, checks)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// openNoBlock opens path for reading without waiting for a writer, in case it became a FIFO
// since it was checked.
func openNoBlock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

func vet(path string, fi os.FileInfo, checks []Check) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is %s, not a regular file", path, Kind(fi.Mode()))
	}
	for _, c := range checks {
		if err := c(path, fi); err != nil {
			return err
		}
	}
	return nil
}

// Kind names what a file that is not a regular one is, for an error message.
func Kind(m os.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return "a special file (" + m.Type().String() + ")"
}
