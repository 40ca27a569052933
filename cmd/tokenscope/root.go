package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"tokenscope/internal/sanitize"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3"; otherwise it comes from
// the module's build info.
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// versionLine is what --version prints: the version, and the commit and its date from the
// build's VCS stamp (go build stamps them from git; -buildvcs=false or a tree without git does
// not, and then it says so).
func versionLine() string {
	v := versionString()
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v + " (commit unknown)"
	}
	return v + " (" + vcsStamp(bi.Settings) + ", " + bi.GoVersion + ")"
}

// vcsStamp reads vcs.revision, vcs.time and vcs.modified from a build's settings.
func vcsStamp(settings []debug.BuildSetting) string {
	var rev, at, dirty string
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = ", modified"
			}
		}
	}
	if rev == "" {
		return "commit unknown"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if at != "" {
		rev += " of " + at
	}
	return "commit " + rev + dirty
}

// exitError carries a specific exit status out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError is a command line tokenscope refuses (a flag's value it cannot use): exit
// status 2, like a flag it cannot parse.
func usageError(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

// guarded is one of the process's outputs behind the sanitizer: every write is cleaned, so
// nothing a server sends reaches the terminal raw, whichever line quotes it. raw is the output
// itself, for the escape sequences tokenscope writes on purpose (fire's progress line) and
// nothing else.
type guarded struct {
	*sanitize.Writer
	raw io.Writer
}

// guard puts w behind the sanitizer (once: a guarded writer is returned as it is).
func guard(w io.Writer) io.Writer {
	if g, ok := w.(*guarded); ok {
		return g
	}
	return &guarded{Writer: sanitize.NewWriter(w), raw: w}
}

// rawTerminal is the terminal behind w, when w is (or guards) one.
func rawTerminal(w io.Writer) (*os.File, bool) {
	if g, ok := w.(*guarded); ok {
		w = g.raw
	}
	f, ok := w.(*os.File)
	if !ok || !isatty.IsTerminal(f.Fd()) {
		return nil, false
	}
	return f, true
}

// newRootCmd builds the command tree writing text to stdout and stderr, both behind the
// sanitizer (see guard). The TUI is the exception: Bubble Tea draws styled output on
// os.Stdout itself.
func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	stdout, stderr = guard(stdout), guard(stderr)
	var (
		tf    targetFlags
		theme string
		every time.Duration
	)
	root := &cobra.Command{
		Use:   "tokenscope",
		Short: "Watch token refresh happen: a terminal session inspector for token-based APIs",
		Long: `tokenscope logs in to an API, shows the live access and refresh tokens, counts down
to the access token's exp, and logs every request, 401, refresh, rotation and retry.

Without flags it starts an embedded demo auth server on 127.0.0.1 that speaks every
refresh convention (simplejwt, bearer-json, element-admin, oauth2, cookie) and is an OpenID
provider too.`,
		Version:       versionLine(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          unknownCommand,
		Example: `  tokenscope                                    # the embedded demo server, 30 s tokens
  tokenscope --access-ttl 10s --theme light     # faster expiry, light theme
  tokenscope --access-ttl 6s --every 1s         # a request a second: watch refreshes happen unattended
  MY_PW=... tokenscope --target https://api.example.com --profile oauth2 --user me --password-env MY_PW`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if every < 0 || cmd.Flags().Changed("every") && every == 0 {
				return usageError("--every %s: want a positive period such as 1s", every)
			}
			return runTUI(cmd, &tf, theme, every)
		},
	}
	tf.register(root.Flags())
	registerTargetCompletion(root, &tf)
	root.Flags().DurationVar(&every, "every", 0, "heartbeat: send the selected request on this period (the a key starts and stops it)")
	root.Flags().StringVar(&theme, "theme", "", "colour theme: dark, light, high-contrast or mono (default mono when NO_COLOR is set, else dark)")
	// A flag that cannot be parsed is a usage error (status 2) in every command but decode,
	// whose 2 means "signature invalid" and which keeps its own.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &exitError{code: 2, err: err} })
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetVersionTemplate("tokenscope {{.Version}}\n")
	root.AddCommand(newDemoServerCmd(), newFireCmd(), newConfigCmd(), newDecodeCmd(), newObserveCmd())
	root.AddCommand(newRequestCmd())
	root.AddCommand(newProfileCmd())
	root.AddCommand(newAuditCmd())
	root.SuggestionsMinimumDistance = 2
	root.SetUsageTemplate(usageTemplate)
	usageArgs(root)
	return root
}

// unknownCommand is the root's argument check: it takes none, so an argument is a subcommand
// tokenscope does not have, and the nearest ones are suggested.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return errors.New(msg + " (tokenscope --help lists the commands)")
}

// usageArgs makes every command's argument check a usage error (exit 2), as a flag that cannot
// be parsed is: too many or too few arguments is a command line tokenscope refuses.
func usageArgs(c *cobra.Command) {
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return &exitError{code: 2, err: err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		usageArgs(sub)
	}
}
