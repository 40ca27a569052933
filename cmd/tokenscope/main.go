// Command tokenscope is a terminal session inspector for token-based APIs: it logs in, shows
// the live access and refresh tokens, counts down to exp, and logs every request, 401, refresh,
// rotation and retry. See the README for the subcommands.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	os.Exit(execute(context.Background(), newRootCmd(os.Stdout, os.Stderr), os.Args[1:]))
}

// execute runs the command line and returns the exit status. An error is printed on the
// command's stderr, which newRootCmd put behind the sanitizer: errors quote servers (a login
// failure says what the server said).
func execute(ctx context.Context, root *cobra.Command, args []string) int {
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	printError(root.ErrOrStderr(), err)
	return exitCode(err)
}

// printError is how every command's error reaches the user: one line on w, a sanitized stderr.
func printError(w io.Writer, err error) { fmt.Fprintln(w, "tokenscope:", err) }
