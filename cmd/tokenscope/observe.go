package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/mattn/go-isatty"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	"tokenscope/apiclient/profile"
	"tokenscope/tui"

	"github.com/spf13/cobra"

	"tokenscope/apiclient/observe"
	"tokenscope/internal/cappedfile"
	"tokenscope/internal/hostcheck"
	"tokenscope/internal/sanitize"
	"tokenscope/session"
)

type observeOpts struct {
	listen      string
	upstreams   []string
	profile     string
	jsonOut     bool
	theme       string
	duration    time.Duration
	faults      bool
	har         string
	retryWindow time.Duration
	forwarded   bool
	allowRemote bool
	caCert      string
	insecure    bool
	logSize     int
	forward     bool
	issuer      string
	failOn      string
	jsonFile    string
	scenario    string
	child       []string // the command after --, run through the proxy
}

func newObserveCmd() *cobra.Command {
	var o observeOpts
	cmd := &cobra.Command{
		Use:   "observe --upstream [PREFIX=]URL... [flags] | observe --forward [flags] [-- CMD ARGS...]",
		Short: "Watch your own app refresh: a transparent proxy that reads its token traffic",
		Long:  observeLong,
		Example: `  tokenscope observe --upstream http://127.0.0.1:8000 --profile simplejwt
  tokenscope observe --listen 127.0.0.1:9000 --upstream /auth=https://idp.example --upstream https://api.example --profile oauth2 --json
  tokenscope observe --har session.har --profile simplejwt
  tokenscope observe --forward --profile oauth2 --issuer https://idp.example
  tokenscope observe --profile oauth2 --fail-on stampede,lost-after-401 -- npm test`,
		Args: observeArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.child = args
			if len(args) > 0 && !cmd.Flags().Changed("listen") {
				o.listen = "127.0.0.1:0" // a free port: CMD is told where
			}
			return runObserve(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), &o)
		},
	}
	cmd.AddCommand(newObserveCACmd())
	fs := cmd.Flags()
	fs.StringVar(&o.listen, "listen", "127.0.0.1:9000", "address to listen on (loopback only unless --allow-remote)")
	fs.StringArrayVar(&o.upstreams, "upstream", nil, "where requests go: URL, or PREFIX=URL for requests under PREFIX (repeatable; the longest prefix wins)")
	fs.StringVar(&o.profile, "profile", "simplejwt", "wire format: "+strings.Join(profile.AllNames(), ", ")+", or a TOML profile file")
	fs.BoolVar(&o.jsonOut, "json", false, "print one JSON event per line, then the summary object")
	fs.StringVar(&o.theme, "theme", "", "colour theme of the TUI (on a terminal without --json): dark, light, high-contrast or mono")
	fs.DurationVar(&o.duration, "duration", 0, "stop after this long (default: until SIGINT or SIGTERM)")
	fs.BoolVar(&o.faults, "faults", false, "allow fault injection (commands on stdin); off, the proxy never changes a byte")
	fs.StringVar(&o.har, "har", "", "analyse this HAR export (browser devtools) instead of live traffic")
	fs.DurationVar(&o.retryWindow, "retry-window", observe.DefaultRetryWindow, "how long after a 401 the app has to send the request again before it counts as lost")
	fs.BoolVar(&o.forwarded, "forwarded", false, "add X-Forwarded-For, -Host and -Proto to requests, as many reverse proxies do")
	fs.BoolVar(&o.allowRemote, "allow-remote", false, "permit a non-loopback --listen (anyone who reaches it can use your upstream)")
	fs.StringVar(&o.caCert, "ca-cert", "", "PEM file of CA certificates to trust for https upstreams, besides the system's")
	fs.BoolVar(&o.insecure, "insecure", false, "do not verify https upstreams' certificates (says so on stderr)")
	fs.IntVar(&o.logSize, "log-size", session.DefaultLogSize, "events kept in memory: observe's event log, and the TUI's")
	fs.BoolVar(&o.forward, "forward", false, "be a forward proxy too (HTTP_PROXY, HTTPS_PROXY): CONNECT with tokenscope's own CA, absolute-form URLs")
	fs.StringVar(&o.issuer, "issuer", "", "forward mode: the provider whose token endpoint (from discovery) the login and refresh calls go to")
	fs.StringVar(&o.failOn, "fail-on", "", "exit 1 when a finding of these rules was made (comma-separated, or any)")
	fs.StringVar(&o.jsonFile, "json-file", "", "write the events and the summary to this file as JSON lines")
	fs.StringVar(&o.scenario, "scenario", "", "run the faults this file schedules (see above; implies --faults)")
	return cmd
}

// observeLong is observe's help.
const observeLong = `observe is a reverse proxy for your own client. Point the app (or its dev server's proxy) at
--listen, and every request goes on to --upstream unchanged, while tokenscope reads the traffic
with the profile's eyes: logins and refreshes, which token each request carried (fingerprints,
never tokens), which tokens each answer issued, and what every 401 was followed by. It prints
findings: stampede, lost-after-401, retry-loop, logout-on-transient, expired-token-sent,
refresh-without-need, rotated-token-reused, rejected-token-retried, and one about the server:
server-accepted-reused-token.

--upstream repeats with a path prefix for an identity provider on another origin; the path is
passed on unchanged (the prefix is not stripped). --har reads a browser devtools export instead
of live traffic. With --faults, type on stdin to make things happen: e (expire: requests with
an access token issued so far get the profile's 401), f (fail the next refresh with 503), s DUR
(hold every refresh DUR), r (reject the next refresh as revoked), c (clear).

It runs until --duration is up, or SIGINT or SIGTERM, and ends with a summary.

--forward makes it a forward proxy too, for clients that call https://api.example directly:
point HTTP_PROXY and HTTPS_PROXY at --listen (the banner prints the export lines). https goes
through CONNECT tunnels opened with tokenscope's own CA (made on first use, kept 0600 in your
config directory; tokenscope observe ca says where, and how to trust or remove it). Upstream
certificates are verified as everywhere (--ca-cert, --insecure). In forward mode --issuer URL
reads the provider's token endpoint from discovery: the profile's login and refresh are the calls
to that host and path.

observe [flags] -- CMD ARGS... runs CMD with the proxy and the CA in its environment
(HTTP_PROXY, HTTPS_PROXY and their lower-case twins, NO_PROXY without loopback, SSL_CERT_FILE,
NODE_EXTRA_CA_CERTS, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, GIT_SSL_CAINFO: a bundle of the system's
roots and tokenscope's CA), on a free loopback port unless --listen is given. stdin, stdout, stderr
and signals are CMD's; findings and the summary go to stderr, --json-file FILE gets the JSON lines.
The exit status is CMD's, or 1 when --fail-on matched a finding. Clients that ignore the proxy
variables are not seen (Node 20's fetch; Go's net/http never proxies loopback).

--scenario FILE schedules the faults --faults offers by hand, for a repeatable run.
` + observe.ScenarioHelp

// observeArgs: arguments come after --, as the command to run through the proxy.
func observeArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 && cmd.ArgsLenAtDash() != 0 {
		return fmt.Errorf("observe takes no arguments (%q); to run a command through the proxy: observe [flags] -- CMD ARGS", args[0])
	}
	return nil
}

func (o *observeOpts) validate() error {
	switch {
	case o.retryWindow <= 0:
		return usageError("--retry-window %s: want a positive duration such as 5s", o.retryWindow)
	case o.duration < 0:
		return usageError("--duration %s: want a positive duration such as 30s", o.duration)
	case o.logSize <= 0:
		return usageError("--log-size %d: want a positive number of events", o.logSize)
	case o.har != "" && (len(o.upstreams) > 0 || o.forward || len(o.child) > 0):
		return usageError("--har reads an export instead of live traffic: give --har, or --upstream / --forward / -- CMD, not both")
	case o.har == "" && len(o.upstreams) == 0 && !o.forward && len(o.child) == 0:
		return usageError("give --upstream URL (where the app's requests go), --forward, -- CMD ARGS, or --har FILE")
	case o.allowRemote && (o.forward || len(o.child) > 0):
		return usageError("--allow-remote with --forward would make an open proxy that opens anyone's https with your CA: the forward proxy listens on loopback only")
	case len(o.child) > 0 && o.jsonOut:
		return usageError("--json: with -- CMD, stdout is CMD's; --json-file FILE gets the JSON lines")
	case len(o.child) > 0 && o.duration > 0:
		return usageError("--duration: with -- CMD the run ends when CMD does")
	case o.issuer != "" && !o.forward && len(o.child) == 0:
		return usageError("--issuer: in observe, for --forward (or -- CMD): the calls to the provider's token endpoint are the login and refresh")
	}
	if err := checkFailOn(o.failOn); err != nil {
		return err
	}
	if o.har == "" && !o.allowRemote {
		if err := checkLoopbackListen(o.listen); err != nil {
			return err
		}
	}
	return nil
}

// checkLoopbackListen refuses to listen beyond this machine: the proxy forwards with the app's
// credentials to the upstream, for whoever reaches it.
func checkLoopbackListen(addr string) error {
	ok, err := hostcheck.IsLoopbackAddr(addr)
	if err != nil {
		return usageError("--listen %q: %v", addr, err)
	}
	if ok {
		return nil
	}
	return usageError("refusing to listen on %q: not a loopback address (--allow-remote to insist)", addr)
}

func runObserve(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, o *observeOpts) error {
	if err := o.validate(); err != nil {
		return err
	}
	prof, err := profile.Resolve(o.profile)
	if err != nil {
		return usageError("--profile: %v", err)
	}
	if o.har != "" {
		return observeHAR(stdout, stderr, o, prof)
	}
	steps, err := o.readScenario()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	cfg, err := o.proxyConfig(ctx, prof, ln.Addr().String())
	if err != nil {
		_ = ln.Close()
		return err
	}
	p, err := observe.New(cfg)
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer p.Close()
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	if len(steps) > 0 {
		_ = p.RunScenario(steps) // faults are on: a scenario turns them on
	}
	if len(o.child) > 0 {
		return observeChild(ctx, stdin, stdout, stderr, o, p, srv)
	}
	// In the background of an interactive shell (`observe &`), lines: a TUI would stop the job.
	if !o.jsonOut && isTerminal(os.Stdout) && inForeground(os.Stdout) {
		return observeTUI(ctx, stdout, stderr, o, p, srv)
	}
	return observeLines(ctx, stdin, stdout, stderr, o, p, srv, cfg)
}

// observeLines prints the events as they come, until --duration, SIGINT or SIGTERM.
func observeLines(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, o *observeOpts, p *observe.Proxy, srv *http.Server, cfg observe.Config) error {
	pr := startPrinter(stdout, p.Log(), printModeOf(o.jsonOut), nil)
	jf, err := startJSONFile(o.jsonFile, p)
	if err != nil {
		pr.finish()
		return err
	}
	observeBanner(stderr, p, cfg.Upstreams, cfg.Profile.Name, cfg.Faults)
	if o.insecure {
		fmt.Fprintln(stderr, "  INSECURE TLS: upstream certificates are not verified (--insecure)")
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	if o.faults {
		go faultCommands(ctx, stdin, stderr, p)
	}
	<-ctx.Done()
	stopProxy(srv, p)
	if err := jf.finish(p.Summary()); err != nil {
		fmt.Fprintf(stderr, "tokenscope: --json-file: %v\n", err)
	}
	if err := observeEnd(stdout, stderr, pr, p.Summary(), o.jsonOut); err != nil {
		return err
	}
	return failOnVerdict(o.failOn, p.Summary())
}

// stopProxy lets in-flight exchanges finish (briefly) so that their answers are read, then ends
// the analysis.
func stopProxy(srv *http.Server, p *observe.Proxy) {
	shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(shut)
	p.Close()
}

func observeHAR(stdout, stderr io.Writer, o *observeOpts, prof profile.Profile) error {
	f, err := cappedfile.Open(o.har)
	if err != nil {
		return err
	}
	defer f.Close()
	a := observe.NewAnalyzer(observe.Options{Profile: prof, RetryWindow: o.retryWindow, LogSize: 1 << 16})
	pr := startPrinter(stdout, a.Log(), printModeOf(o.jsonOut), nil)
	if err := a.ReplayHAR(f); err != nil {
		pr.finish()
		return err
	}
	return observeEnd(stdout, stderr, pr, a.Summary(), o.jsonOut)
}

// observeEnd prints what is left of the events, then the summary line.
func observeEnd(stdout, stderr io.Writer, pr *printer, s observe.Summary, jsonOut bool) error {
	if dropped := pr.finish(); dropped > 0 {
		fmt.Fprintf(stderr, "tokenscope: warning: %d of %d events were dropped\n", dropped, s.Events)
	}
	if jsonOut {
		b, _ := sanitize.JSON(s)
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		fmt.Fprintf(stdout, "\n%s\n", s.Text())
	}
	return nil
}

func observeBanner(w io.Writer, p *observe.Proxy, ups []observe.Upstream, profile string, faults bool) {
	if setup := p.Setup(); len(setup) > 0 {
		fmt.Fprintf(w, "tokenscope observe: forward proxy at %s (profile %s); to route a shell's clients through it, paste:\n", p.Listen(), profile)
		for _, l := range setup {
			fmt.Fprintln(w, "  "+l)
		}
	} else {
		fmt.Fprintf(w, "tokenscope observe: point your app at %s (profile %s)\n", p.Listen(), profile)
	}
	for _, u := range ups {
		prefix := u.Prefix
		if prefix == "" {
			prefix = "/"
		}
		fmt.Fprintf(w, "  %-12s → %s\n", prefix, u.URL)
	}
	if faults {
		fmt.Fprintln(w, "  faults on, type: e = expire the tokens issued so far, f = fail the next refresh with 503, s DUR = hold refreshes, r = revoke the next refresh, c = clear")
	}
}

// faultCommands reads fault commands from stdin, one a line, until it ends or ctx is done.
func faultCommands(ctx context.Context, stdin io.Reader, stderr io.Writer, p *observe.Proxy) {
	sc := bufio.NewScanner(stdin)
	for sc.Scan() && ctx.Err() == nil {
		if err := applyFault(p, sc.Text()); err != nil {
			fmt.Fprintf(stderr, "tokenscope: %v\n", err)
		}
	}
}

func applyFault(p *observe.Proxy, line string) error {
	f := strings.Fields(line)
	if len(f) == 0 {
		return nil
	}
	switch f[0] {
	case "e", "expire":
		return p.ExpireNow()
	case "f", "fail":
		return p.Fail503Next(1)
	case "r", "revoke":
		return p.RevokeNext(1)
	case "c", "clear":
		return p.ClearFaults()
	case "s", "slow":
		d := 2 * time.Second
		if len(f) > 1 {
			var err error
			if d, err = time.ParseDuration(f[1]); err != nil || d < 0 {
				return fmt.Errorf("slow %q: want a duration such as 2s", f[1])
			}
		}
		return p.SlowRefresh(d)
	}
	return errors.New("fault commands: e (expire the tokens issued so far), f (fail the next refresh with 503), s DUR (hold refreshes), r (revoke the next refresh), c (clear)")
}

// isTerminal says whether f is a terminal the TUI can draw on (a variable so that tests can
// pretend).
var isTerminal = func(f *os.File) bool { return isatty.IsTerminal(f.Fd()) }

// observeTUI shows the observed session in the TUI until the user quits (or --duration ends
// it), then prints the summary as the line mode does.
func observeTUI(ctx context.Context, stdout, stderr io.Writer, o *observeOpts, p *observe.Proxy, srv *http.Server) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM)
	defer stop()
	if o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	var faults tui.Faults // without --faults the fault keys say what it would give
	if o.faults {
		faults = tui.ProxyFaults(p)
	}
	m := tui.New(tui.Options{Driver: tui.Watch(p, faults), Theme: o.theme, Insecure: o.insecure, LogMax: o.logSize})
	defer m.Close()
	prog := tea.NewProgram(m, tea.WithAltScreen(), tea.WithContext(ctx), tea.WithOutput(os.Stdout), tea.WithFPS(maxFPS), tea.WithMouseCellMotion())
	_, err := prog.Run()
	if err != nil && !errors.Is(err, tea.ErrProgramKilled) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	stopProxy(srv, p)
	pr := startPrinter(io.Discard, p.Log(), printText, nil)
	if err := observeEnd(stdout, stderr, pr, p.Summary(), false); err != nil {
		return err
	}
	return failOnVerdict(o.failOn, p.Summary())
}
