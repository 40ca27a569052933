//go:build unix

package main

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"tokenscope/internal/testutil"
)

// TestObserveChildSignals: a SIGTERM sent to observe reaches CMD, and CMD's exit status (its own
// choice on the signal) is observe's.
func TestObserveChildSignals(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	var out, errb testutil.SyncBuffer
	root := newRootCmd(&out, &errb)
	root.SetArgs([]string{"observe", "--", "sh", "-c", `trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.05; done`})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(context.Background()) }()
	waitFor(t, func() bool { return strings.Contains(out.String(), "ready") })
	time.Sleep(100 * time.Millisecond) // the shell is in its loop, its trap set
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if exitStatus(err) != 7 || !strings.Contains(out.String(), "got TERM") {
			t.Errorf("status %d (%v), stdout %q", exitStatus(err), err, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("CMD did not end on the SIGTERM sent to observe")
	}
}
