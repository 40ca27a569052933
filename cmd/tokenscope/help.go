package main

// Help lists a command's flags in groups (target and login, identity provider, refresh engine,
// demo server, output), the command's own first: about 50 flags in one alphabetical run hid the
// two a user needs among the demo server's knobs.

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

const groupAnnotation = "tokenscope_group"

// The groups, in the order help lists them.
const (
	groupTarget = "Target and login"
	groupIDP    = "Identity provider (OpenID Connect, OAuth 2.x)"
	groupEngine = "Refresh engine"
	groupDemo   = "Embedded demo server (when there is no --target)"
	groupOutput = "Logs and evidence"
)

var groupOrder = []string{groupTarget, groupIDP, groupEngine, groupDemo, groupOutput}

// group runs add, which registers flags on fs, and files the flags it added under name.
func group(fs *pflag.FlagSet, name string, add func()) {
	before := map[string]bool{}
	fs.VisitAll(func(f *pflag.Flag) { before[f.Name] = true })
	add()
	fs.VisitAll(func(f *pflag.Flag) {
		if !before[f.Name] {
			_ = fs.SetAnnotation(f.Name, groupAnnotation, []string{name})
		}
	})
}

// groupedFlags is the help's flag section: the command's own flags, then each group.
func groupedFlags(cmd *cobra.Command) string {
	sets := map[string]*pflag.FlagSet{}
	own := pflag.NewFlagSet("own", pflag.ContinueOnError)
	cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
		g := f.Annotations[groupAnnotation]
		if len(g) == 0 {
			own.AddFlag(f)
			return
		}
		if sets[g[0]] == nil {
			sets[g[0]] = pflag.NewFlagSet(g[0], pflag.ContinueOnError)
		}
		sets[g[0]].AddFlag(f)
	})
	var b strings.Builder
	section := func(title string, fs *pflag.FlagSet) {
		if u := strings.TrimRight(fs.FlagUsages(), " \n"); u != "" {
			fmt.Fprintf(&b, "\n%s:\n%s\n", title, u)
		}
	}
	section("Flags", own)
	for _, g := range groupOrder {
		if fs := sets[g]; fs != nil {
			section(g, fs)
		}
	}
	return b.String()
}

// usageTemplate is cobra's, with the local flags in groups.
const usageTemplate = `Usage:{{if .Runnable}}
  {{.UseLine}}{{end}}{{if .HasAvailableSubCommands}}
  {{.CommandPath}} [command]{{end}}{{if gt (len .Aliases) 0}}

Aliases:
  {{.NameAndAliases}}{{end}}{{if .HasExample}}

Examples:
{{.Example}}{{end}}{{if .HasAvailableSubCommands}}

Available Commands:{{range .Commands}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{if .HasAvailableLocalFlags}}
{{groupedFlags .}}{{end}}{{if .HasAvailableInheritedFlags}}

Global Flags:
{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableSubCommands}}

Use "{{.CommandPath}} [command] --help" for more information about a command.{{end}}
`

func init() { cobra.AddTemplateFunc("groupedFlags", groupedFlags) }
