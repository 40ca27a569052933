// Command tokenscope is a terminal session inspector for token-based APIs: it logs in, shows
// the live access and refresh tokens, counts down to exp, and logs every request, 401, refresh,
// rotation and retry. See the README for the subcommands.
package main

import (
	"fmt"
	"os"

	"tokenscope/internal/sanitize"
)

func main() {
	if err := newRootCmd(os.Stdout, os.Stderr).Execute(); err != nil {
		// Errors quote servers (a login failure says what the server said): sanitized like any
		// other text from the network before it reaches the terminal.
		fmt.Fprintln(os.Stderr, "tokenscope:", sanitize.Text(err.Error()))
		os.Exit(exitCode(err))
	}
}
