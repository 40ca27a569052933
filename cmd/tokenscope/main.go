// Command tokenscope is a terminal session inspector for token-based APIs: it logs in, shows
// the live access and refresh tokens, counts down to exp, and logs every request, 401, refresh,
// rotation and retry. See the README for the subcommands.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd(os.Stdout, os.Stderr).Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "tokenscope:", err)
		os.Exit(exitCode(err))
	}
}
