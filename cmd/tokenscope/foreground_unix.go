//go:build unix

package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// inForeground reports whether this process may draw on the terminal f: it is in the terminal's
// foreground process group. Started in the background of an interactive shell (`observe &`),
// a TUI's first write stops the whole job (Stopped (tty output)) and the proxied app times out.
// A file that is not this process's controlling terminal has no say: it counts as foreground.
func inForeground(f *os.File) bool {
	pg, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCGPGRP)
	if err != nil {
		return true
	}
	return pg == unix.Getpgrp()
}
