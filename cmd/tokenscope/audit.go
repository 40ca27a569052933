package main

// `tokenscope audit`: the server's token rules by experiment (apiclient/audit), with the
// consent it needs, a progress line on a terminal, and the card as a table, JSON or Markdown.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"tokenscope/apiclient"
	"tokenscope/apiclient/audit"
	"tokenscope/apiclient/oidc"
	"tokenscope/apiclient/profile"
	"tokenscope/internal/hostcheck"
	"tokenscope/internal/privfile"
	"tokenscope/internal/redact"
	"tokenscope/internal/sanitize"
)

type auditOpts struct {
	tf       targetFlags
	checks   []string
	maxWait  time.Duration
	logins   int
	parallel int
	active   bool
	jsonOut  bool
	markdown string
	strict   bool
	yes      bool
	// clock replaces real time in tests against a demo server with a manual clock.
	clock audit.Clock
	// terminal says whether stdin and stderr are a terminal (nil: ask the files).
	terminal func() bool
	stdin    io.Reader
}

func newAuditCmd() *cobra.Command {
	var o auditOpts
	cmd := &cobra.Command{
		Use:   "audit [flags] [METHOD PATH | NAME]",
		Short: "Measure a server's token rules by experiment and print a report card",
		Long: `audit runs small experiments against the target and prints a report card: does the
server rotate refresh tokens, does a replayed one end its family, is there a grace window for
refreshes that race, does a race's losing answer clear the refresh cookie, how much leeway does
the API give an expired access token, are token answers cacheable, what do its 401s and
rejected refreshes look like.

Each check logs in as often as it needs, up to --logins times, and deliberately presents rotated
refresh tokens, which a server may punish by ending the account's sessions: use a test account.
On a terminal it asks first unless --yes; a target that is not loopback needs --yes without one.

The API request the checks use is METHOD PATH (or a request's NAME, as in fire); without one,
the profile's first preset. At an identity provider (--issuer, --flow password) the checks log in
with the password grant at the token endpoint its discovery document names, and the logout check
revokes at its revocation_endpoint. Without --target it audits the embedded demo server, tuned with the
demo-server flags (--rotation-grace 2s, --cacheable-tokens, ...).

Verdicts: ✔ pass, ▲ warn, ✗ fail, · info, – skip. The exit status is 0 when no check failed, 1
when one did (--strict: or warned), 2 for a command line it cannot use.`,
		Example: `  # the embedded demo server's defaults: no failure, a warning for the missing grace window
  tokenscope audit --access-ttl 5s --yes

  # a grace window of 2 s, measured within a factor of 2
  tokenscope audit --access-ttl 5s --rotation-grace 2s --checks grace,reuse --yes

  # a real API, the card as JSON and as Markdown for an issue
  MY_PW=... tokenscope audit --target https://api.example.com --profile simplejwt --user test \
      --password-env MY_PW --json --markdown audit.md GET /api/me`,
		Args: cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAudit(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), &o, args, commandLine(cmd, args))
		},
	}
	fs := cmd.Flags()
	o.tf.register(fs)
	fs.StringSliceVar(&o.checks, "checks", nil, "run only these checks (comma-separated ids: "+strings.Join(audit.IDs(), ", ")+")")
	fs.DurationVar(&o.maxWait, "max-wait", audit.DefaultMaxWait, "the longest any experiment waits (the grace series, the access token's expiry and leeway)")
	fs.IntVar(&o.logins, "logins", audit.DefaultLogins, "the most logins any one check makes")
	fs.IntVar(&o.parallel, "parallel", audit.DefaultParallel, "concurrent_refresh: how many refreshes present one refresh token at once")
	fs.BoolVar(&o.active, "active", false, "also present forged access tokens (token_acceptance: alg none, no signature, another key, tampered, expired)")
	fs.BoolVar(&o.jsonOut, "json", false, "print the card as one JSON object on one line, the last line of stdout")
	fs.StringVar(&o.markdown, "markdown", "", "also write the card with its evidence (tokens masked) as Markdown to this file")
	fs.BoolVar(&o.strict, "strict", false, "a warning makes the exit status 1 too")
	fs.BoolVarP(&o.yes, "yes", "y", false, "do not ask before the experiments (needed without a terminal when the target is not loopback)")
	registerTargetCompletion(cmd, &o.tf)
	return cmd
}

// validate refuses what cannot mean anything, before anything starts.
func (o *auditOpts) validate() error {
	known := audit.IDs()
	for _, id := range o.checks {
		if !slices.Contains(known, id) {
			return usageError("--checks %s: no such check; the checks are %s", id, strings.Join(known, ", "))
		}
		if slices.Contains(audit.ActiveIDs, id) && !o.active {
			return usageError("--checks %s presents forged tokens: add --active", id)
		}
	}
	switch {
	case o.maxWait <= 0:
		return usageError("--max-wait %s: want a positive duration such as 90s", o.maxWait)
	case o.logins < 1:
		return usageError("--logins %d: want at least 1", o.logins)
	case o.parallel < 2:
		return usageError("--parallel %d: a race needs at least 2", o.parallel)
	}
	if d := o.tf.idp; d.enabled() && (d.flow != oidc.FlowPassword || d.dpop) {
		// Every check logs in afresh: a flow with a person at each login, or proofs the audit
		// does not make, cannot be run that way.
		return usageError("at an identity provider audit logs in with the password grant only: give --flow password (without --dpop)")
	}
	for _, f := range []string{"session-file", "log-file", "har", "log-bodies"} {
		if o.tf.fs.Changed(f) {
			return usageError("--%s: audit keeps no session and writes its evidence with --markdown", f)
		}
	}
	return nil
}

func runAudit(ctx context.Context, stdout, stderr io.Writer, o *auditOpts, args []string, command string) error {
	if err := o.validate(); err != nil {
		return err
	}
	t, stop, err := o.target(stderr, args)
	if err != nil {
		return err
	}
	defer stop()
	if err := o.consent(stderr, t); err != nil {
		return err
	}
	progress, done := auditProgress(stderr)
	rep := audit.Run(ctx, t, audit.Settings{Checks: o.checks, MaxWait: o.maxWait, Logins: o.logins,
		Parallel: o.parallel, Active: o.active, Clock: o.clock, Progress: progress})
	done()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if o.markdown != "" {
		if err := writeMarkdown(o.markdown, rep, command); err != nil {
			return err
		}
	}
	if o.jsonOut {
		b, _ := sanitize.JSON(rep)
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		rep.Table(stdout, terminalWidth(stdout))
	}
	if rep.Failed(o.strict) {
		what := "a check failed"
		if o.strict {
			what = "a check failed or warned (--strict)"
		}
		return &exitError{code: 1, err: errors.New(what)}
	}
	return nil
}

// target resolves the target flags into what the audit talks to; stop ends the embedded demo
// server when one was started.
func (o *auditOpts) target(stderr io.Writer, args []string) (audit.Target, func(), error) {
	f := &o.tf
	if err := f.resolve(); err != nil {
		return audit.Target{}, nil, err
	}
	cfg, err := f.engineConfig(stderr)
	if err != nil {
		return audit.Target{}, nil, err
	}
	b := &wiring{insecure: f.insecure}
	if b.presets, err = f.loadPresets(cfg.Secrets); err != nil {
		return audit.Target{}, nil, err
	}
	if f.target == "" {
		if err := f.startDemo(b, &cfg); err != nil {
			return audit.Target{}, nil, err
		}
	}
	t := audit.Target{BaseURL: cfg.BaseURL, Profile: cfg.Profile, Username: cfg.Username, Password: cfg.Password,
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Transport: cfg.Transport, Timeout: cfg.Timeout, Secrets: cfg.Secrets}
	if cfg.OIDC != nil {
		if err := providerTarget(&t, cfg); err != nil {
			b.Close()
			return audit.Target{}, nil, err
		}
	}
	req, err := fireRequest(t.Profile, b.presets, args, stderr)
	if err != nil {
		b.Close()
		return audit.Target{}, nil, usageError("%v", err)
	}
	t.API = labelJSON(req)
	warnInsecure(stderr, b)
	return t, b.Close, nil
}

// providerTarget points the audit at an identity provider's token endpoint: the oauth2
// convention with the discovered endpoint, the password grant and the flow's scope, and the
// provider's revocation endpoint for the logout check.
func providerTarget(t *audit.Target, cfg apiclient.Config) error {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()
	md, err := oidc.Discover(ctx, &http.Client{Transport: cfg.Transport, Timeout: cfg.Timeout}, cfg.OIDC.Issuer)
	if err != nil {
		return err
	}
	p, _ := profile.Builtin("oauth2")
	p.Name = "oauth2 at " + md.Issuer
	p.Login.Path, p.Refresh.Path = md.TokenEndpoint, md.TokenEndpoint
	scope := cfg.OIDC.Scope
	if scope == "" {
		scope = oidc.DefaultScope
	}
	p.Login.Extra["scope"] = scope
	t.Profile, t.RevocationEndpoint = p, md.RevocationEndpoint
	t.ClientID, t.ClientSecret = cfg.OIDC.ClientID, cfg.OIDC.ClientSecret
	return nil
}

// consent says what the audit will do to the account and asks, on a terminal, unless --yes.
// Without a terminal only a loopback target goes ahead unasked.
func (o *auditOpts) consent(stderr io.Writer, t audit.Target) error {
	if o.yes {
		return nil
	}
	onTerminal := o.terminal
	if onTerminal == nil {
		onTerminal = func() bool {
			_, errTTY := rawTerminal(stderr)
			return errTTY && isatty.IsTerminal(os.Stdin.Fd())
		}
	}
	if !onTerminal() {
		if u, err := url.Parse(t.BaseURL); err == nil && hostcheck.IsLoopbackHost(u.Hostname()) {
			return nil
		}
		return usageError("audit logs in up to %d times per check and presents rotated refresh tokens to %s; without a terminal to ask on, add --yes", o.logins, redact.URL(t.BaseURL))
	}
	fmt.Fprintf(stderr, "tokenscope audit of %s as %s: each check logs in up to %d times and deliberately presents rotated refresh tokens, which may end the account's sessions (use a test account).\nGo ahead? [y/N] ",
		redact.URL(t.BaseURL), sanitize.Line(t.Username), o.logins)
	in := o.stdin
	if in == nil {
		in = os.Stdin
	}
	line, _ := bufio.NewReader(in).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
		return &exitError{code: 2, err: errors.New("audit not started: it needs your yes")}
	}
	return nil
}

// auditProgress is a progress line on a terminal naming the experiment and its wait; nothing
// elsewhere. done clears it.
func auditProgress(stderr io.Writer) (func(check, doing string, wait time.Duration), func()) {
	// Our own escape sequence: written to the terminal itself, not through the sanitizer.
	f, ok := rawTerminal(stderr)
	if !ok {
		return nil, func() {}
	}
	show := func(check, doing string, wait time.Duration) {
		line := check + ": " + doing
		if wait > 0 {
			line += fmt.Sprintf(" (waiting %s)", wait.Round(100*time.Millisecond))
		}
		fmt.Fprintf(f, "\r\x1b[K%s", sanitize.Line(line))
	}
	return show, func() { fmt.Fprint(f, "\r\x1b[K") }
}

func terminalWidth(w io.Writer) int {
	if f, ok := rawTerminal(w); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil {
			return cols
		}
	}
	return 100
}

// writeMarkdown writes the card for an issue or a wiki. It holds fingerprints, never tokens,
// but it quotes what servers said: it is written as every file tokenscope writes (privfile:
// 0600, never into another user's file).
func writeMarkdown(path string, rep audit.Report, command string) error {
	var b strings.Builder
	rep.Markdown(&b, command)
	f, err := privfile.Open(path, privfile.Truncate)
	if err == nil {
		_, err = io.WriteString(f, b.String())
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("--markdown: %w", err)
	}
	return nil
}

// commandLine is the command as given, for the Markdown card: flags the user set and the
// arguments (passwords never travel in argv; a URL's userinfo password or credential-named
// query values are masked, redact.URL).
func commandLine(cmd *cobra.Command, args []string) string {
	parts := []string{"tokenscope", "audit"}
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if f.Value.Type() == "bool" {
			parts = append(parts, "--"+f.Name)
			return
		}
		parts = append(parts, "--"+f.Name, shellQuote(redact.URL(f.Value.String())))
	})
	for _, a := range args {
		parts = append(parts, shellQuote(redact.URL(a)))
	}
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
