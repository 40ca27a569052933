package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"tokenscope/apiclient/profile"
	"tokenscope/internal/sanitize"
)

func newProfileCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "profile",
		Short: "Write, check, list and show profiles (an API's auth wire format)",
		Long: `A profile is the wire format of one API's auth: where to log in and refresh, how the
credentials and tokens travel, where the tokens are in the answers, and how an expired token
and a rejected refresh are recognised. Built-ins cover the four conventions and three hosted
services; a TOML file describes any other API (--profile FILE).`,
		Example: `  tokenscope profile init my-api.toml            # an annotated profile to edit
  tokenscope profile init --base supabase sb.toml  # start from a built-in
  tokenscope profile check my-api.toml           # what tokenscope will do with it
  tokenscope profile list                        # the built-ins`,
	}
	cmd.AddCommand(newProfileInitCmd(), newProfileCheckCmd(), newProfileListCmd(), newProfileShowCmd())
	return cmd
}

func newProfileInitCmd() *cobra.Command {
	var base string
	c := &cobra.Command{
		Use:   "init [--base NAME] [FILE]",
		Short: "Write an annotated profile (every key, with a comment) to FILE, or to stdout",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := exampleProfile
			if base != "" {
				b, ok := profile.Builtin(base)
				if !ok {
					return usageError("--base %q: not a built-in profile (%s)", base, strings.Join(profile.AllNames(), ", "))
				}
				p = b
			}
			text := profileTemplate(p, base)
			if len(args) == 0 {
				_, err := fmt.Fprint(cmd.OutOrStdout(), text)
				return err
			}
			if err := writeNewFile(args[0], text); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\nnext: edit it, then `tokenscope profile check %s`\n", sanitize.Line(args[0]), sanitize.Line(args[0]))
			return nil
		},
	}
	c.Flags().StringVar(&base, "base", "", "start from this built-in profile ("+strings.Join(profile.AllNames(), ", ")+")")
	return c
}

// writeNewFile creates p with text, never overwriting a file. 0644: a profile holds no
// secrets (the *_env keys name variables instead).
func writeNewFile(p, text string) error {
	if _, err := os.Stat(p); err == nil {
		return fmt.Errorf("%s already exists; not overwriting it", p)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func newProfileCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check FILE|NAME",
		Short: "Load a profile and say in plain lines what tokenscope will do with it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := profile.Resolve(args[0])
			if err != nil {
				return err
			}
			printExplain(cmd, p)
			return nil
		},
	}
}

// printExplain prints a profile's explanation; every line goes through sanitize.Line, as a
// profile file may come from someone else.
func printExplain(cmd *cobra.Command, p profile.Profile) {
	out := cmd.OutOrStdout()
	for _, l := range p.Explain() {
		fmt.Fprintln(out, sanitize.Line(l))
	}
}

func newProfileListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the built-in profiles",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			for _, n := range profile.Names() {
				fmt.Fprintf(out, "%-14s convention (the demo server speaks it)\n", n)
			}
			for _, n := range profile.HostedNames() {
				fmt.Fprintf(out, "%-14s hosted service: %s\n", n, hostedNotes[n])
			}
			return nil
		},
	}
}

// hostedNotes say what each hosted profile needs from the user.
var hostedNotes = map[string]string{
	"firebase": "Firebase Auth REST API; needs FIREBASE_API_KEY; --target is your API",
	"supabase": "Supabase Auth; needs SUPABASE_ANON_KEY; --target is the project URL",
	"cognito":  "Cognito user pools, InitiateAuth; needs COGNITO_ENDPOINT and COGNITO_CLIENT_ID; --target is your API",
}

func newProfileShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Print a built-in profile as an annotated profile file (and what it does)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, ok := profile.Builtin(args[0])
			if !ok {
				return usageError("%q is not a built-in profile (%s)", args[0], strings.Join(profile.AllNames(), ", "))
			}
			fmt.Fprint(cmd.OutOrStdout(), profileTemplate(p, ""))
			return nil
		},
	}
}
