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
)

// MaxConfigBytes bounds the small files: config, profiles, keys, certificates, session files.
const MaxConfigBytes = 1 << 20

// ErrTooLarge is wrapped by Read's error for a file over the limit.
var ErrTooLarge = errors.New("file too large")

// Read returns the contents of the regular file at path, which must hold at most max bytes.
// A missing file gives an error wrapping fs.ErrNotExist; directories, devices, FIFOs and
// sockets are refused without reading them (opening a FIFO would block until a writer came).
func Read(path string, max int64) ([]byte, error) {
	// Stat before open: Open on a FIFO blocks.
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Stat again what was opened: the path may have been swapped in between.
	if st, err = f.Stat(); err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes: %w", path, max, ErrTooLarge)
	}
	return data, nil
}
