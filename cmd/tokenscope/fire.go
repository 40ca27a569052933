package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/spf13/cobra"

	"tokenscope/apiclient"
	"tokenscope/apiclient/httpfile"
	"tokenscope/apiclient/profile"
	"tokenscope/internal/redact"
	"tokenscope/internal/sanitize"
	"tokenscope/session"
	"tokenscope/themes"
)

// summary is fire's last line; DESIGN.md fixes its fields.
type summary struct {
	Requests         int     `json:"requests"`
	OK               int     `json:"ok"`
	Failed           int     `json:"failed"`
	Parked           int     `json:"parked"`
	Lost             int     `json:"lost"`
	UnauthorizedSeen uint64  `json:"unauthorized_seen"`
	Refreshes        uint64  `json:"refreshes"`
	RefreshFailures  uint64  `json:"refresh_failures"`
	LoggedOut        uint64  `json:"logged_out"`
	Replayed         int     `json:"replayed"`
	WallMS           float64 `json:"wall_ms"`
	P50MS            float64 `json:"p50_ms"`
	P99MS            float64 `json:"p99_ms"`
	// RatePerS is the pace held: requests started per second, from the first start to the
	// last. RateAskedPerS and DurationMS are what --rate and --duration asked, when given.
	RatePerS float64 `json:"rate_per_s"`
	// ThroughputPerS is what was answered per second of the wall time: in a burst the start
	// rate is the goroutines' (tens of thousands per second), the throughput the server's.
	ThroughputPerS float64 `json:"throughput_per_s"`
	RateAskedPerS  float64 `json:"rate_asked_per_s,omitempty"`
	DurationMS     float64 `json:"duration_ms,omitempty"`
	// Events is how many the engine logged; EventsDropped how many did not reach stdout or the
	// --log-file (LogFile says which, with the first write error). Both are never silent: a
	// drop makes the exit status 1.
	Events        uint64        `json:"events"`
	EventsDropped uint64        `json:"events_dropped"`
	LogFile       *logFileStats `json:"log_file,omitempty"`
	// Error says why nothing was sent (the login failed, or the wait for expiry did).
	Error string `json:"error,omitempty"`
}

type fireOpts struct {
	tf          targetFlags
	count       int // 0: no cap (only with --duration)
	countSet    bool
	rateSet     bool
	durationSet bool
	concurrency int
	rate        float64       // requests per second; 0: as fast as --concurrency allows
	duration    time.Duration // send until it is up; 0: until --count are sent
	waitExpiry  bool
	jsonOut     bool
	quiet       bool // -q: the summary only
	noRelogin   bool
	revoke      bool
	headers     []string // -H
}

func newFireCmd() *cobra.Command {
	var o fireOpts
	cmd := &cobra.Command{
		Use:   "fire [flags] [METHOD PATH [BODY] | NAME]",
		Short: "Send requests through the refresh engine without the TUI and print what happens",
		Long: `fire logs in, sends METHOD PATH (or the request called NAME in the --requests file, the
config target's presets or the profile's, with its headers and body; the first of them when
omitted) --count times,
--concurrency at once, and prints every event: requests, 401s, refreshes, waits on a refresh in
flight, retries, parked and replayed requests. It ends with a summary; the exit status is
non-zero when any request failed or was lost.

Without --target it starts the embedded demo server, tuned with the same flags as demo-server.`,
		Example: `  # 1000 concurrent requests on an expired token: one refresh, 999 waiting on it
  tokenscope fire --access-ttl 2s --wait-expiry --count 1000 --concurrency 1000

  # the same without single flight: a refresh stampede, reuse detected, login required
  tokenscope fire --access-ttl 2s --wait-expiry -n 200 -c 200 --no-single-flight --strategy reactive --refresh-latency 20ms

  # a paced run: 50 requests a second for a minute, at most 10 in flight
  tokenscope fire --rate 50 --duration 1m -c 10

  # log in at an identity provider in the browser, then watch its refresh at expiry
  tokenscope fire --target https://api.example.com --issuer https://login.example.com \
      --client-id my-cli --wait-expiry -n 100 -c 100 GET /v1/me

  # the embedded demo is an OpenID provider too: a device code to enter at its /device page
  tokenscope fire --flow device GET /api/me

  # a named request of a .http file, with its headers and body, and one header more
  tokenscope fire --requests api.http -H 'X-Trace: 1' "create item"

  # a real API, JSON lines for scripts
  MY_PASSWORD=... tokenscope fire --target https://api.example.com --profile oauth2 \
      --user me --password-env MY_PASSWORD --json GET /v1/me`,
		Args: cobra.MaximumNArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.countSet, o.rateSet, o.durationSet = cmd.Flags().Changed("count"), cmd.Flags().Changed("rate"), cmd.Flags().Changed("duration")
			return runFire(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), &o, args)
		},
	}
	fs := cmd.Flags()
	o.tf.register(fs)
	fs.IntVarP(&o.count, "count", "n", 1, "how many requests to send (with --duration: at most; no cap unless given)")
	fs.IntVarP(&o.concurrency, "concurrency", "c", 1, "how many requests in flight at once")
	fs.Float64Var(&o.rate, "rate", 0, "pace: start this many requests per second (default: as fast as --concurrency allows)")
	fs.DurationVar(&o.duration, "duration", 0, "send until this much time is up (--count then caps the number)")
	fs.BoolVar(&o.waitExpiry, "wait-expiry", false, "log in, wait until the access token has expired, then fire")
	fs.BoolVar(&o.jsonOut, "json", false, "print one JSON event per line, then the summary object")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "print the summary only, not each event (with --json: the summary object alone); a terminal still shows the progress line")
	fs.BoolVar(&o.noRelogin, "no-relogin", false, "do not log in again to replay requests parked by a dead session")
	fs.BoolVar(&o.revoke, "revoke-on-exit", false, "at the end, revoke the refresh token at the identity provider (RFC 7009) and log out")
	registerHeaderFlag(fs, &o.headers)
	registerTargetCompletion(cmd, &o.tf)
	return cmd
}

// printMode is how the events are shown: -q wins over --json.
func (o *fireOpts) printMode() printMode {
	if o.quiet {
		return printQuiet
	}
	return printModeOf(o.jsonOut)
}

// validate refuses values that cannot mean anything; the target flags are checked by build.
// With --duration and no --count, the count is not capped.
func (o *fireOpts) validate() error {
	switch {
	case o.count < 1 && (o.countSet || o.duration == 0):
		return usageError("--count %d: want at least 1 request", o.count)
	case o.concurrency < 1:
		return usageError("--concurrency %d: want at least 1 request in flight", o.concurrency)
	case o.rate < 0 || o.rate == 0 && o.rateSet || math.IsNaN(o.rate) || math.IsInf(o.rate, 0):
		return usageError("--rate %g: want a number of requests per second above 0", o.rate)
	case o.duration < 0 || o.duration == 0 && o.durationSet:
		return usageError("--duration %s: want a positive duration such as 30s", o.duration)
	}
	if o.duration > 0 && !o.countSet {
		o.count = 0
	}
	return nil
}

func runFire(ctx context.Context, stdout, stderr io.Writer, o *fireOpts, args []string) error {
	if err := o.validate(); err != nil {
		return err
	}
	b, err := o.tf.build(stderr)
	if err != nil {
		return err
	}
	defer b.Close()
	e := b.engine
	warnInsecure(stderr, b)
	req, err := fireRequest(e.Profile(), b.presets, args, stderr)
	if err != nil {
		return err
	}
	if err := refuseAuthHeader(o.headers, e.Profile(), o.tf.idp.dpop); err != nil {
		return err
	}
	if req, err = withHeaders(req, o.headers); err != nil {
		return err
	}
	req = labelJSON(req)
	pr := startPrinter(stdout, e.Log(), o.printMode(), e.Secrets())
	// A run that ends before sending still ends with its summary line: scripts read the last line.
	abort := func(err error) error {
		pr.finish()
		if o.jsonOut {
			b, _ := sanitize.JSON(summary{Requests: o.count, Error: err.Error()})
			fmt.Fprintf(stdout, "%s\n", b)
		}
		return err
	}
	if b.resumed == "" {
		if err := login(ctx, e, o.tf.timeout); err != nil {
			return abort(err)
		}
	}
	if o.waitExpiry {
		if err := waitExpiry(ctx, e, stderr, !o.jsonOut); err != nil {
			return abort(err)
		}
	}

	start := time.Now()
	t := fireRequests(ctx, e, req, o, stderr)
	wall := time.Since(start)
	replayed := 0
	if !o.noRelogin && e.Parked() > 0 {
		if replayed = replayFired(ctx, e, t, stderr); replayed > 0 {
			wall = time.Since(start) // the last answer is a replay's
		}
	}
	if o.revoke {
		e.SignOut(ctx)
	}
	var lf *logFileStats
	if b.logFile != nil {
		st := b.logFile.finish() // first: a note that the file failed is still printed
		lf = &st
	}
	dropped := pr.finish()

	s := t.summarize(e.Counters(), wall)
	s.Replayed, s.Events, s.LogFile = replayed, e.Log().Total(), lf
	s.RateAskedPerS, s.DurationMS = o.rate, ms(o.duration)
	if s.EventsDropped = dropped; lf != nil {
		s.EventsDropped += lf.Dropped
	}
	if o.jsonOut {
		b, _ := sanitize.JSON(s)
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		fmt.Fprintln(stdout, s.text())
	}
	return s.verdict(stderr, o.tf.logFile)
}

// verdict warns of events that did not reach an output, and returns the run's error: exit
// status 1 when a request did not succeed, an event was dropped or a write failed.
func (s summary) verdict(stderr io.Writer, logFile string) error {
	var problems []string
	if s.EventsDropped > 0 || s.LogFile != nil && s.LogFile.Error != "" {
		msg := fmt.Sprintf("%d of %d events were dropped", s.EventsDropped, s.Events)
		if s.LogFile != nil {
			msg += fmt.Sprintf("; --log-file %s has %d of them", sanitize.Line(logFile), s.LogFile.Written)
			if s.LogFile.Error != "" {
				msg += "; writing it failed: " + sanitize.Line(s.LogFile.Error)
			}
		}
		fmt.Fprintf(stderr, "tokenscope: warning: %s\n", msg)
		problems = append(problems, "events were dropped")
	}
	if s.Failed > 0 || s.Lost > 0 || s.Parked > 0 {
		problems = append([]string{fmt.Sprintf("%d of %d requests did not succeed (%d failed, %d parked, %d lost)",
			s.Failed+s.Parked+s.Lost, s.Requests, s.Failed, s.Parked, s.Lost)}, problems...)
	}
	if len(problems) == 0 {
		return nil
	}
	return &exitError{code: 1, err: errors.New(strings.Join(problems, "; "))}
}

// printer prints a log's events (the engine's, or observe's) as they happen, from one goroutine: the HTTP path never
// waits on it. It follows the log (see follower): an event it could not print is counted.
type printer struct {
	follow  *follower
	printed chan struct{}
	once    sync.Once
	lost    uint64
}

// printMode is how the printer shows events.
type printMode int

const (
	printText     printMode = iota // one line each; in colour on a terminal unless NO_COLOR is set
	printJSON                      // one JSON object each
	printQuiet                     // nothing (-q): the summary, the answer or the error says enough
	printFindings                  // observe's findings alone, as printText prints them (observe -- CMD)
)

// printModeOf is text, or JSON with --json.
func printModeOf(jsonOut bool) printMode {
	if jsonOut {
		return printJSON
	}
	return printText
}

// startPrinter prints log's events in mode; secrets (the engine's; nil for an observed app's
// log) mask what an event says (a server's echo, a $processEnv value in a path).
func startPrinter(w io.Writer, log session.LogView, mode printMode, secrets *redact.Secrets) *printer {
	return startPrinterSized(w, log, mode, printerBuffer(log), secrets)
}

// printerBuffer is what a printer may fall behind by: the log itself (it catches up from the
// log, so a larger buffer buys nothing but memory; 64k events of it were 16 MB), at least 1024
// and at most 64k events (--log-size then bounds the printers' memory too).
func printerBuffer(log session.LogView) int { return min(max(log.Cap(), 1024), 1<<16) }

// startPrinterSized is startPrinter with a subscription of buffer events: what the printer may
// fall behind by before it catches up from the log (a buffer larger than the log buys nothing but
// memory).
func startPrinterSized(w io.Writer, log session.LogView, mode printMode, buffer int, secrets *redact.Secrets) *printer {
	p := &printer{printed: make(chan struct{})}
	if mode == printQuiet {
		close(p.printed)
		return p
	}
	// One buffered writer (batched): a burst's thousands of events were a write each.
	var show lineFormat = func(b []byte, ev session.Event) []byte { return append(ev.AppendJSON(b), '\n') }
	if mode == printText || mode == printFindings {
		show, w = textPrinter(w)
	}
	out := newBatched(w)
	p.follow = newFollower(log, buffer)
	go func() {
		defer close(p.printed)
		p.follow.runBatched(func(ev session.Event) {
			if mode == printFindings && ev.Kind != session.KindFinding {
				return
			}
			ev.MaskText(secrets.Mask)
			out.print(show, ev)
		}, out.soon)
		out.flush()
	}()
	return p
}

// textPrinter prints an event as one line (whatever a server put in its reason), coloured by
// the theme's roles when w is a terminal and NO_COLOR is not set. The colours are ours, so they
// go to the terminal itself; the text in them has been through the sanitizer (sanitize.Line).
// It returns the printer and what it should print to, buffered: w, or the terminal behind it.
func textPrinter(w io.Writer) (lineFormat, io.Writer) {
	f, ok := rawTerminal(w)
	if !ok || themes.NoColor() {
		return func(b []byte, ev session.Event) []byte {
			return fmt.Appendf(b, "%s %s\n", ev.Time.Format("15:04:05.000"), sanitize.Line(ev.Text()))
		}, w
	}
	r := lipgloss.NewRenderer(f)
	th, _ := themes.Get(themes.Default())
	stamp := th.Subtle.Renderer(r)
	return func(b []byte, ev session.Event) []byte {
		return fmt.Appendf(b, "%s %s\n", stamp.Render(ev.Time.Format("15:04:05.000")), th.Event(ev).Renderer(r).Render(sanitize.Line(ev.Text())))
	}, f
}

// finish prints what is left and returns how many events the printer missed.
func (p *printer) finish() uint64 {
	p.once.Do(func() {
		if p.follow == nil {
			return // quiet: nothing was followed
		}
		p.follow.sub.Close()
		<-p.printed
		p.lost = p.follow.lost
	})
	return p.lost
}

// fireRequests sends the requests: all at once through Engine.Burst (--concurrency at a
// time), or paced when --rate or --duration is given. Only what the summary needs is kept of
// each, not its answer and not its latency: a long run's memory must not grow with the count
// (200k answers kept whole took 640 MB; -n 1000000000 latencies ran out of memory).
func fireRequests(ctx context.Context, e *apiclient.Engine, req profile.Request, o *fireOpts, stderr io.Writer) *tally {
	loadGeneratorGC()
	t := newTally()
	var done atomic.Int64
	stopProgress := startProgress(stderr, o.count, &done, e)
	defer stopProgress()
	each := func(r apiclient.Result) {
		t.add(r)
		done.Add(1)
	}
	if o.rate == 0 && o.duration == 0 {
		t.started = o.count
		e.Burst(ctx, req, o.count, o.concurrency, func(_ int, r apiclient.Result) { each(r) })
		return t
	}
	t.started = pace(ctx, e, req, o, each)
	return t
}

// loadGeneratorGC lets the heap grow to five times what is live between collections, unless
// GOGC says otherwise: fire is a short-lived load generator, and a burst allocates for every
// request in flight at once; at the collector's default pace (a cycle each time the heap
// doubles from a few MB) a thousand-request burst ran it two or three times, a tenth of its
// time (scripts/burstcmp.sh).
func loadGeneratorGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}

// replayFired logs in again so that the parked requests are replayed, and records how they
// ended. It returns how many were replayed.
func replayFired(ctx context.Context, e *apiclient.Engine, t *tally, stderr io.Writer) int {
	replays, err := e.Login(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "tokenscope: logging in again to replay parked requests: %s\n", sanitize.Line(errorHint(err)))
	}
	for _, r := range replays {
		t.replayed(r)
	}
	return len(replays)
}

// fireRequest builds the request from the arguments: METHOD PATH [BODY], the NAME of a preset
// (a --requests file's, the config target's or the profile's), or the first preset.
func fireRequest(p profile.Profile, collection []profile.Request, args []string, stderr io.Writer) (profile.Request, error) {
	presets := presetsOf(p, collection)
	switch len(args) {
	case 0:
		if len(presets) == 0 {
			return profile.Request{}, errors.New("give METHOD PATH: the profile has no presets")
		}
		return namedRequest(presets, presets[0].Name)
	case 1:
		return namedRequest(presets, args[0])
	}
	var body []byte
	if len(args) == 3 {
		body = []byte(args[2])
	}
	// The composer's and the .http files' rules: a known method, a path (or URL), a JSON body
	// labelled as such.
	r, err := httpfile.NewRequest(args[0], args[1], nil, body)
	if err != nil {
		return profile.Request{}, fmt.Errorf("METHOD PATH: %w", err)
	}
	if name, ok := sameAsPreset(presets, r); ok {
		fmt.Fprintf(stderr, "tokenscope: note: the request %q is %s %s with headers or a body, which METHOD PATH does not send; name it to send them\n",
			name, r.Method, sanitize.Line(r.Path))
	}
	return r, nil
}

// waitExpiry sleeps until the access token is expired by the server's clock.
func waitExpiry(ctx context.Context, e *apiclient.Engine, stderr io.Writer, say bool) error {
	s := e.Snapshot()
	if !s.Access.HasExpiry() {
		return errors.New("--wait-expiry: the access token has no expiry to wait for")
	}
	left := s.UntilAccessExpired(time.Now()) // past exp by the server's clock, whatever the skew's uncertainty
	if left <= 0 {
		return nil
	}
	if left > 10*time.Minute {
		return fmt.Errorf("--wait-expiry: the access token expires in %s; that is too long to wait", left.Round(time.Second))
	}
	if say {
		fmt.Fprintf(stderr, "waiting %s for the access token to expire…\n", left.Round(100*time.Millisecond))
	}
	select {
	case <-time.After(left):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startProgress keeps a progress line on stderr while a burst runs, when stderr is a terminal.
// total is 0 when the run has no cap.
func startProgress(stderr io.Writer, total int, done *atomic.Int64, e *apiclient.Engine) func() {
	// Our own escape sequence: written to the terminal itself, not through the sanitizer.
	f, ok := rawTerminal(stderr)
	if !ok || (total > 0 && total < 20) {
		return func() {}
	}
	of := fmt.Sprintf("/%d", total)
	if total == 0 {
		of = "" // a run with --duration and no cap
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				fmt.Fprint(f, "\r\x1b[K")
				return
			case <-t.C:
				c := e.Counters()
				fmt.Fprintf(f, "\r\x1b[K%d%s done · %d refresh calls · %d 401s", done.Load(), of, c.RefreshCalls, c.Unauthorized)
			}
		}
	}()
	return func() { close(stop); wg.Wait() }
}

// tally is what fire keeps of the requests: counts, a fixed-size latency histogram, and when
// each parked request was sent (to time its replay).
type tally struct {
	started, ended, ok, failed, parked int
	latency                            latencyHist
	parkedSent                         map[uint64]time.Time
	firstSent, lastSent                time.Time
}

func newTally() *tally { return &tally{parkedSent: map[uint64]time.Time{}} }

// add records a request that ended. A parked request is timed when its replay ends.
func (t *tally) add(r apiclient.Result) {
	t.ended++
	if t.firstSent.IsZero() || r.Sent.Before(t.firstSent) {
		t.firstSent = r.Sent
	}
	if r.Sent.After(t.lastSent) {
		t.lastSent = r.Sent
	}
	switch r.Outcome {
	case apiclient.OK:
		t.ok++
	case apiclient.Parked:
		t.parked++
		t.parkedSent[r.ID] = r.Sent
		return
	default:
		t.failed++
	}
	t.latency.add(time.Since(r.Sent))
}

// replayed records how a parked request's replay ended. Its latency includes its wait while
// parked: that wait is what the user sees, and the replay alone would report a fraction of a
// millisecond.
func (t *tally) replayed(r apiclient.Result) {
	sent, ok := t.parkedSent[r.ID]
	if !ok {
		return
	}
	delete(t.parkedSent, r.ID)
	t.parked--
	if r.Outcome == apiclient.OK {
		t.ok++
	} else {
		t.failed++
	}
	t.latency.add(r.Done.Sub(sent))
}

// summarize counts the outcomes; a request that never came back from Do (which cannot happen)
// is counted as lost.
func (t *tally) summarize(c apiclient.Counters, wall time.Duration) summary {
	s := summary{Requests: t.started, OK: t.ok, Failed: t.failed, Parked: t.parked, Lost: t.started - t.ended,
		UnauthorizedSeen: c.Unauthorized, Refreshes: c.RefreshCalls, RefreshFailures: c.RefreshFailures,
		LoggedOut: c.LoggedOut, WallMS: ms(wall),
		P50MS: ms(t.latency.quantile(0.50)), P99MS: ms(t.latency.quantile(0.99))}
	if span := t.lastSent.Sub(t.firstSent); t.ended > 1 && span > 0 {
		s.RatePerS = math.Round(float64(t.ended-1)/span.Seconds()*100) / 100
	}
	if t.ended > 1 && wall > 0 {
		s.ThroughputPerS = math.Round(float64(t.ended)/wall.Seconds()*100) / 100
	}
	return s
}

// plural is "1 request", "2 requests": n and the noun, with an s unless n is 1.
func plural(n uint64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (s summary) text() string {
	events := fmt.Sprintf("%s, %d dropped", plural(s.Events, "event"), s.EventsDropped)
	if lf := s.LogFile; lf != nil {
		events += fmt.Sprintf(" · log file: %d written, %d dropped", lf.Written, lf.Dropped)
		if lf.Error != "" {
			events += " (" + lf.Error + ")"
		}
	}
	return fmt.Sprintf("\n%s: %d ok, %d failed, %d parked, %d lost · %s seen · %s (%d failed) · logged out %d× · %d replayed\nwall %.1f ms · p50 %.1f ms · p99 %.1f ms%s · %s",
		plural(uint64(s.Requests), "request"), s.OK, s.Failed, s.Parked, s.Lost, plural(s.UnauthorizedSeen, "401"),
		plural(s.Refreshes, "refresh call"), s.RefreshFailures, s.LoggedOut, s.Replayed, s.WallMS, s.P50MS, s.P99MS, s.pace(), events)
}

// pace says how fast requests went: the rate they were started at and the rate they were
// answered at, named, and what --rate and --duration asked. A single request has neither.
func (s summary) pace() string {
	if s.Requests < 2 {
		return ""
	}
	pace := fmt.Sprintf(" · started %.1f/s, answered %.1f/s", s.RatePerS, s.ThroughputPerS)
	switch {
	case s.RateAskedPerS > 0 && s.DurationMS > 0:
		pace += fmt.Sprintf(" (asked %g/s for %s)", s.RateAskedPerS, time.Duration(s.DurationMS*1e6))
	case s.RateAskedPerS > 0:
		pace += fmt.Sprintf(" (asked %g/s)", s.RateAskedPerS)
	case s.DurationMS > 0:
		pace += fmt.Sprintf(" (for %s)", time.Duration(s.DurationMS*1e6))
	}
	return pace
}
