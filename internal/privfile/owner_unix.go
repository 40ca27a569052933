//go:build unix

package privfile

import (
	"os"
	"syscall"
)

// Owner is the uid that owns fi.
func Owner(fi os.FileInfo) (uid int, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}
