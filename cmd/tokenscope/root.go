package main

import (
	"errors"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3"; otherwise it comes from
// the module's build info.
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// exitError carries a specific exit status out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		tf    targetFlags
		theme string
	)
	root := &cobra.Command{
		Use:   "tokenscope",
		Short: "Watch token refresh happen: a terminal session inspector for token-based APIs",
		Long: `tokenscope logs in to an API, shows the live access and refresh tokens, counts down
to the access token's exp, and logs every request, 401, refresh, rotation and retry.

Without flags it starts an embedded demo auth server on 127.0.0.1 that speaks all four
refresh conventions (simplejwt, bearer-json, element-admin, oauth2).`,
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		Example: `  tokenscope                                    # the embedded demo server, 30 s tokens
  tokenscope --access-ttl 10s --theme light     # faster expiry, light theme
  MY_PW=... tokenscope --target https://api.example.com --profile oauth2 --user me --password-env MY_PW`,
		RunE: func(cmd *cobra.Command, _ []string) error { return runTUI(cmd, &tf, theme) },
	}
	tf.register(root.Flags())
	root.Flags().StringVar(&theme, "theme", "", "colour theme: dark, light, high-contrast or mono (default mono when NO_COLOR is set, else dark)")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetVersionTemplate("tokenscope {{.Version}}\n")
	root.AddCommand(newDemoServerCmd(), newFireCmd(), newConfigCmd(), newDecodeCmd())
	return root
}
