package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"tokenscope/internal/privfile"
	"tokenscope/internal/redact"
	"tokenscope/internal/sanitize"
)

// configPathFlag is the config subcommands' --config; path says where the file is.
type configPathFlag struct{ value string }

// path is the config file the subcommands act on, and whether the user named it.
func (c *configPathFlag) path() (string, bool) {
	if c.value != "" {
		return c.value, true
	}
	if v := os.Getenv(envName("config")); v != "" {
		return v, true
	}
	return defaultConfigPath(), false
}

func newConfigCmd() *cobra.Command {
	var cp configPathFlag
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Find, show or create the config file of named targets",
		Long: `The config file names the APIs you use, so that --target NAME is all you type. It lives in
your config directory (` + defaultConfigPath() + `) unless --config or TOKENSCOPE_CONFIG
says otherwise. Flags override it, and TOKENSCOPE_* environment variables override it too.`,
		Example: `  tokenscope config init          # write a commented example
  tokenscope config show          # the targets, as tokenscope reads them
  tokenscope --target demo        # the TUI against a target of the file`,
	}
	cmd.PersistentFlags().StringVar(&cp.value, "config", "", "config file (default "+defaultConfigPath()+")")
	cmd.AddCommand(newConfigPathCmd(&cp), newConfigShowCmd(&cp), newConfigInitCmd(&cp))
	return cmd
}

func newConfigPathCmd(cp *configPathFlag) *cobra.Command {
	return &cobra.Command{
		Use:   "path",
		Short: "Print where the config file is (or would be)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, _ := cp.path()
			fmt.Fprintln(cmd.OutOrStdout(), sanitize.Line(p))
			return nil
		},
	}
}

func newConfigShowCmd(cp *configPathFlag) *cobra.Command {
	return &cobra.Command{
		Use:   "show",
		Short: "Check the config file and print its targets (passwords masked)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, explicit := cp.path()
			c, err := loadConfig(p, explicit)
			if err != nil {
				return err
			}
			showConfig(cmd.OutOrStdout(), p, c)
			return nil
		},
	}
}

// showConfig prints the targets as tokenscope read them, passwords masked (a URL's too). Every
// value from the file goes through sanitize.Line: a config file may come from someone else.
func showConfig(out io.Writer, p string, c *fileConfig) {
	if !c.found {
		fmt.Fprintf(out, "no config file at %s (tokenscope config init writes one)\n", sanitize.Line(p))
		return
	}
	fmt.Fprintf(out, "# %s (mode %04o)\n", sanitize.Line(p), c.perm)
	if c.DefaultTarget != "" {
		fmt.Fprintf(out, "default_target = %q\n", redact.URL(c.DefaultTarget))
	}
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(out, "  %-14s %s\n", k, sanitize.Line(v))
		}
	}
	for _, name := range c.targetNames() {
		t := c.Targets[name]
		fmt.Fprintf(out, "\n[targets.%s]\n", sanitize.Line(name))
		pw := "none"
		switch {
		case t.PasswordEnv != "":
			pw = "from $" + t.PasswordEnv
		case t.PasswordPrompt:
			pw = "asked for at start"
		case t.Password != "":
			pw = "stored in the file (masked)"
		}
		row("url", redact.URL(t.URL)) // a password in the userinfo is masked like any other
		row("profile", t.Profile)
		row("user", t.User)
		row("password", pw)
		row("strategy", t.Strategy)
		row("threshold", t.Threshold)
		row("client_id", t.ClientID)
		if t.ClientSecretEnv != "" {
			row("client_secret", "from $"+t.ClientSecretEnv)
		}
		row("requests", t.Requests)
		row("session_file", t.SessionFile)
		showVerification(row, t)
		showIdentityProvider(row, t)
		row("ca_cert", t.CACert)
		if t.Insecure {
			row("insecure", "TLS verification OFF")
		}
		if len(t.Presets) > 0 {
			var ps []string
			for _, p := range t.Presets {
				ps = append(ps, p.Method+" "+p.Path)
			}
			row("presets", strings.Join(ps, ", "))
		}
	}
}

func newConfigInitCmd(cp *configPathFlag) *cobra.Command {
	return &cobra.Command{
		Use:   "init",
		Short: "Write a commented example config file (never overwrites one)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, _ := cp.path()
			if err := writeExampleConfig(p); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\nnext: start `tokenscope demo-server` and run `DEMO_PASSWORD=demo tokenscope --target demo`\n", sanitize.Line(p))
			return nil
		},
	}
}

// writeExampleConfig creates p (0600, its directory 0700) with the example; an existing file
// is never overwritten.
func writeExampleConfig(p string) error {
	if _, err := os.Stat(p); err == nil {
		return fmt.Errorf("%s already exists; not overwriting it", p)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	f, err := privfile.Open(p, privfile.New)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(exampleConfig); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// showVerification prints how token signatures are checked (a JWKS URL's password masked).
func showVerification(row func(k, v string), t targetConfig) {
	if t.VerifySecretEnv != "" {
		row("verify_secret", "from $"+t.VerifySecretEnv)
	}
	row("verify_key", t.VerifyKey)
	row("verify_jwks", redact.URL(t.VerifyJWKS))
}

// showIdentityProvider prints the identity-provider keys, auth_params in key order.
func showIdentityProvider(row func(k, v string), t targetConfig) {
	row("issuer", redact.URL(t.Issuer))
	row("flow", t.Flow)
	row("scope", t.Scope)
	row("redirect_uri", t.RedirectURI)
	row("client_auth", t.ClientAuth)
	if len(t.AuthParams) > 0 {
		var ps []string
		for _, k := range slices.Sorted(maps.Keys(t.AuthParams)) {
			ps = append(ps, k+"="+t.AuthParams[k])
		}
		row("auth_params", strings.Join(ps, " "))
	}
	if t.NoBrowser {
		row("no_browser", "true")
	}
	if t.DPoP {
		row("dpop", "true")
	}
}

// registerTargetCompletion completes --target with the config file's target names (the URL
// as each one's description). The file is the one --config or TOKENSCOPE_CONFIG names, else
// the default; a file that cannot be read completes nothing rather than failing the shell.
func registerTargetCompletion(cmd *cobra.Command, tf *targetFlags) {
	_ = cmd.RegisterFlagCompletionFunc("target", func(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
		cp := configPathFlag{value: tf.config}
		p, explicit := cp.path()
		c, err := loadConfig(p, explicit)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, name := range c.targetNames() {
			if strings.HasPrefix(name, prefix) {
				out = append(out, name+"\t"+sanitize.Line(redact.URL(c.Targets[name].URL)))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	})
}
