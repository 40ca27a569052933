package apiclient

import (
	"fmt"
	"io"
	"os"
)

// MaxConfigFileBytes bounds every file tokenscope reads on the user's behalf (profiles, config,
// keys, certificates): a path to /dev/zero or a huge log by mistake must give an error, not a
// hang or an out-of-memory.
const MaxConfigFileBytes = 1 << 20

// ReadFileCapped reads a regular file of at most max bytes.
func ReadFileCapped(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, max)
	}
	return data, nil
}
