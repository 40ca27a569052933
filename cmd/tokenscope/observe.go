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

	"tokenscope/apiclient"
	"tokenscope/apiclient/observe"
	"tokenscope/internal/cappedfile"
	"tokenscope/internal/hostcheck"
	"tokenscope/internal/sanitize"
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
}

func newObserveCmd() *cobra.Command {
	var o observeOpts
	cmd := &cobra.Command{
		Use:   "observe --upstream [PREFIX=]URL... [flags]",
		Short: "Watch your own app refresh: a transparent proxy that reads its token traffic",
		Long: `observe is a reverse proxy for your own client. Point the app (or its dev server's proxy) at
--listen, and every request goes on to --upstream unchanged, while tokenscope reads the traffic
with the profile's eyes: logins and refreshes, which token each request carried (fingerprints,
never tokens), which tokens each answer issued, and what every 401 was followed by. It prints
findings: stampede, lost-after-401, retry-loop, logout-on-transient, expired-token-sent,
refresh-without-need, rotated-token-reused.

--upstream repeats with a path prefix for an identity provider on another origin; the path is
passed on unchanged (the prefix is not stripped). --har reads a browser devtools export instead
of live traffic. With --faults, type on stdin to make things happen: e (expire: requests with
an access token issued so far get the profile's 401), f (fail the next refresh with 503), s DUR
(hold every refresh DUR), r (reject the next refresh as revoked), c (clear).

It runs until --duration is up, or SIGINT or SIGTERM, and ends with a summary.`,
		Example: `  tokenscope observe --upstream http://127.0.0.1:8000 --profile simplejwt
  tokenscope observe --listen 127.0.0.1:9000 --upstream /auth=https://idp.example --upstream https://api.example --profile oauth2 --json
  tokenscope observe --har session.har --profile simplejwt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runObserve(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), &o)
		},
	}
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
	return cmd
}

func (o *observeOpts) validate() error {
	switch {
	case o.retryWindow <= 0:
		return usageError("--retry-window %s: want a positive duration such as 5s", o.retryWindow)
	case o.duration < 0:
		return usageError("--duration %s: want a positive duration such as 30s", o.duration)
	case o.har != "" && len(o.upstreams) > 0:
		return usageError("--har reads an export instead of live traffic: give --har or --upstream, not both")
	case o.har == "" && len(o.upstreams) == 0:
		return usageError("give --upstream URL (where the app's requests go), or --har FILE")
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
	ups := make([]observe.Upstream, 0, len(o.upstreams))
	for _, s := range o.upstreams {
		u, err := observe.ParseUpstream(s)
		if err != nil {
			return usageError("--upstream: %v", err)
		}
		ups = append(ups, u)
	}
	p, err := observe.New(observe.Config{Upstreams: ups, Profile: prof, RetryWindow: o.retryWindow, Faults: o.faults, Forwarded: o.forwarded, AnyHost: o.allowRemote,
		TLS: apiclient.TLSOptions{CACertFile: o.caCert, Insecure: o.insecure}})
	if err != nil {
		return err
	}
	defer p.Close()
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	if !o.jsonOut && isTerminal(os.Stdout) {
		return observeTUI(ctx, stdout, stderr, o, p, srv)
	}
	pr := startPrinter(stdout, p.Log(), printModeOf(o.jsonOut), nil)
	observeBanner(stderr, ln.Addr().String(), ups, prof.Name, o.faults)
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
	// In-flight exchanges finish (briefly) so that their answers are read, then the analysis ends.
	shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(shut)
	p.Close()
	return observeEnd(stdout, stderr, pr, p.Summary(), o.jsonOut)
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

func observeBanner(w io.Writer, addr string, ups []observe.Upstream, profile string, faults bool) {
	fmt.Fprintf(w, "tokenscope observe: point your app at http://%s (profile %s)\n", addr, profile)
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
	m := tui.New(tui.Options{Driver: tui.Watch(p, faults), Theme: o.theme, Insecure: o.insecure})
	defer m.Close()
	prog := tea.NewProgram(m, tea.WithAltScreen(), tea.WithContext(ctx), tea.WithOutput(os.Stdout), tea.WithFPS(maxFPS), tea.WithMouseCellMotion())
	_, err := prog.Run()
	if err != nil && !errors.Is(err, tea.ErrProgramKilled) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(shut)
	p.Close()
	pr := startPrinter(io.Discard, p.Log(), printText, nil)
	return observeEnd(stdout, stderr, pr, p.Summary(), false)
}
