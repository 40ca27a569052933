package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"tokenscope/apiclient"
	"tokenscope/apiclient/httpfile"
	"tokenscope/apiclient/oidc"
	"tokenscope/apiclient/profile"
	"tokenscope/internal/cappedfile"
	"tokenscope/internal/sanitize"
)

// maxRequestBody caps -d @FILE and -d @-: the engine keeps a body in memory as bytes (so that
// a retry after a refresh sends it again intact), and answers are capped the same.
const maxRequestBody = 4 << 20

type requestOpts struct {
	tf      targetFlags
	headers []string // -H
	data    string   // -d: BODY, @FILE or @-
	dataSet bool
	include bool // -i
	quiet   bool // -q
}

func newRequestCmd() *cobra.Command {
	var o requestOpts
	cmd := &cobra.Command{
		Use:   "request [flags] METHOD PATH | NAME",
		Short: "Send one request with the session (resumed, logged in or refreshed as needed) and print the answer",
		Long: `request is a session-aware curl. It resumes the --session-file (or logs in), refreshes when
it must, sends one request and prints the answer's body on stdout: the server's bytes as they
came when stdout is a file or a pipe, pretty-printed JSON made safe for the screen when it is a
terminal. -i prints the status and headers first. What happened to the session (resumed,
logged in, refreshed, rotated) goes to stderr, tokens as fingerprints.

A full URL in place of PATH names the destination as in curl: without --target its origin is the
target (give --profile and the credentials); with a --target of another origin it is refused, and
nothing is sent.

NAME instead of METHOD PATH sends a request of the --requests .http file (or the config
target's or the profile's presets) with its headers and body; -H and -d change them.

The exit status says how it went, as HTTPie's --check-status: 0 for 2xx, 3 for 3xx, 4 for
4xx, 5 for 5xx, 1 when there was no answer (the login failed, the network did), 2 for a
command line it refuses. The session's own header (Authorization, or the profile's) cannot
be given with -H: the engine sets it.`,
		Example: `  # the embedded demo server: log in, send, print
  tokenscope request GET /api/me

  # a real API named by a full URL, as in HTTPie
  tokenscope request --profile simplejwt --user me --password-env PW GET https://api.example.com/me

  # keep the session between calls: the second resumes (and refreshes if the token expired)
  tokenscope request --target demo --session-file demo.session GET /api/me
  tokenscope request --target demo --session-file demo.session -d '{"name":"x"}' POST /api/items

  # a body from a file or stdin, a header, the status and headers too
  tokenscope request --target demo -d @item.json -H 'X-Trace: 1' -i POST /api/items
  jq -n '{name:"y"}' | tokenscope request --target demo -d @- POST /api/items | jq .id

  # a named request of a .http file
  tokenscope request --target demo --requests api.http "create item"`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.dataSet = cmd.Flags().Changed("data")
			return runRequest(cmd.Context(), cmd, &o, args)
		},
	}
	fs := cmd.Flags()
	o.tf.register(fs)
	for _, unused := range []string{"no-single-flight", "log-size"} { // one request: nothing to share, little to keep
		_ = fs.MarkHidden(unused)
	}
	registerHeaderFlag(fs, &o.headers)
	fs.StringVarP(&o.data, "data", "d", "", "the body: BODY, @FILE or @- for stdin (sent as it is, at most 4 MiB)")
	fs.BoolVarP(&o.include, "include", "i", false, "print the status line and headers before the body")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "print nothing on stderr unless something fails (the body still goes to stdout)")
	registerTargetCompletion(cmd, &o.tf)
	return cmd
}

func runRequest(ctx context.Context, cmd *cobra.Command, o *requestOpts, args []string) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	body, err := o.body(cmd.InOrStdin())
	if err != nil {
		return err
	}
	o.tf.requestURL = fullURL(args)
	b, err := o.tf.build(stderr)
	if err != nil {
		return err
	}
	defer b.Close()
	e := b.engine
	warnInsecure(stderr, b)
	req, err := o.request(e.Profile(), b.presets, args, body)
	if err != nil {
		return err
	}
	mode := printText // the session's story; tokens are fingerprints in events
	if o.quiet {
		mode = printQuiet
	}
	pr := startPrinter(stderr, e.Log(), mode, e.Secrets())
	res, err := sendOne(ctx, e, req, b.resumed != "", o.tf.timeout)
	pr.finish() // the story ends before the answer is printed
	if err != nil {
		return err
	}
	if res.Status == 0 {
		return &exitError{code: 1, err: errors.New(withCertHint(res.Reason, res.Err))}
	}
	_, terminal := rawTerminal(stdout)
	if err := printAnswer(stdout, res, o.include, terminal); err != nil {
		return &exitError{code: 1, err: fmt.Errorf("writing the answer: %w", err)}
	}
	return statusVerdict(res.Status)
}

// body reads -d: the text itself, @FILE (a regular file, capped) or @- (stdin, capped).
func (o *requestOpts) body(stdin io.Reader) ([]byte, error) {
	switch {
	case !o.dataSet:
		return nil, nil
	case o.data == "@-":
		data, err := io.ReadAll(io.LimitReader(stdin, maxRequestBody+1))
		if err != nil {
			return nil, fmt.Errorf("-d @-: reading stdin: %w", err)
		}
		if len(data) > maxRequestBody {
			return nil, usageError("-d @-: stdin holds more than %d MiB", maxRequestBody>>20)
		}
		return data, nil
	case strings.HasPrefix(o.data, "@"):
		data, err := cappedfile.Read(o.data[1:], maxRequestBody)
		if err != nil {
			return nil, usageError("-d %s: %v", o.data, err)
		}
		return data, nil
	}
	return []byte(o.data), nil
}

// request builds what is sent: METHOD PATH or a named request, then -d's body and -H's headers.
func (o *requestOpts) request(p profile.Profile, collection []profile.Request, args []string, body []byte) (profile.Request, error) {
	if err := refuseAuthHeader(o.headers, p, o.tf.idp.dpop); err != nil {
		return profile.Request{}, err
	}
	var r profile.Request
	var err error
	if len(args) == 1 {
		if r, err = namedRequest(presetsOf(p, collection), args[0]); err != nil {
			return profile.Request{}, usageError("%v", err)
		}
		if o.dataSet {
			r.Body = body
		}
	} else if r, err = httpfile.NewRequest(args[0], args[1], nil, body); err != nil {
		return profile.Request{}, usageError("METHOD PATH: %v", err)
	}
	if r, err = withHeaders(r, o.headers); err != nil {
		return profile.Request{}, err
	}
	return labelJSON(r), nil
}

// sendOne logs in unless the session was resumed, and sends req. A request parked because the
// session is dead (its refresh token rejected) is sent again after a new login: a session file
// whose refresh token has expired should cost a login, not a failed command.
func sendOne(ctx context.Context, e *apiclient.Engine, req profile.Request, resumed bool, timeout time.Duration) (apiclient.Result, error) {
	if !resumed {
		if err := login(ctx, e, timeout); err != nil {
			return apiclient.Result{}, &exitError{code: 1, err: err}
		}
	}
	res := e.Do(ctx, req)
	if res.Outcome != apiclient.Parked {
		return res, nil
	}
	lctx, cancel := context.WithTimeout(ctx, e.LoginTimeout(timeout))
	defer cancel()
	replays, err := e.Login(lctx)
	if err != nil {
		return apiclient.Result{}, &exitError{code: 1, err: fmt.Errorf("the session ended (%s) and logging in again failed: %s", res.Reason, errorHint(err))}
	}
	for _, r := range replays {
		if r.ID == res.ID {
			return r, nil
		}
	}
	return apiclient.Result{}, &exitError{code: 1, err: fmt.Errorf("logged in again, but the request was not replayed (%s)", res.Reason)}
}

// printAnswer writes the answer. With -i, the status line and headers come first, through the
// sanitizer (they are text for a reader). The body is the server's bytes as they came when
// stdout is not a terminal: a pipe to jq or a file must get exactly what was sent, tokens the
// server echoes included (the user asked for them). On a terminal, JSON is indented and the
// sanitizer makes escape sequences inert.
func printAnswer(stdout io.Writer, res apiclient.Result, include, terminal bool) error {
	if include {
		fmt.Fprintf(stdout, "HTTP %d %s\n", res.Status, http.StatusText(res.Status))
		names := slices.Sorted(func(yield func(string) bool) {
			for k := range res.Header {
				if !yield(k) {
					return
				}
			}
		})
		for _, k := range names {
			for _, v := range res.Header[k] {
				fmt.Fprintf(stdout, "%s: %s\n", k, sanitize.Line(v))
			}
		}
		fmt.Fprintln(stdout)
	}
	if !terminal {
		_, err := unguarded(stdout).Write(res.Body)
		return err
	}
	body := res.Body
	var pretty bytes.Buffer
	if json.Indent(&pretty, body, "", "  ") == nil {
		body = pretty.Bytes()
	}
	if len(body) > 0 && body[len(body)-1] != '\n' {
		body = append(slices.Clip(body), '\n')
	}
	_, err := stdout.Write(body) // guarded: sanitized
	return err
}

// unguarded is the output behind the sanitizer, for bytes that must go out as they are.
func unguarded(w io.Writer) io.Writer {
	if g, ok := w.(*guarded); ok {
		return g.raw
	}
	return w
}

// statusVerdict is the exit status for an answer's status, as HTTPie's --check-status has it.
func statusVerdict(status int) error {
	class := status / 100
	if class == 2 {
		return nil
	}
	code := 1 // 1xx, or a status no class has
	if class >= 3 && class <= 5 {
		code = class
	}
	return &exitError{code: code, err: fmt.Errorf("HTTP %d %s", status, http.StatusText(status))}
}

// warnInsecure says on stderr that TLS verification is off, as the TUI's header does in red.
func warnInsecure(stderr io.Writer, b *wiring) {
	if b.insecure {
		fmt.Fprintln(stderr, "tokenscope: warning: --insecure: TLS certificates are not verified; anyone on the path can read and change the tokens")
	}
}

// certHint is the two ways out of a certificate the transport did not trust: flags, so cmd
// says it (the library returns the transport's error, typed).
const certHint = "(use --ca-cert FILE to trust its CA, or --insecure to skip verification)"

// withCertHint is msg, with certHint after it when err is an untrusted certificate.
func withCertHint(msg string, err error) string {
	if apiclient.UntrustedCert(err) {
		return msg + " " + certHint
	}
	return msg
}

// errorHint is err's text with the flags that are the way out, where the library's typed
// error leaves them to cmd: for request, fire and the TUI's messages.
func errorHint(err error) string {
	msg := withCertHint(err.Error(), err)
	if errors.Is(err, oidc.ErrNoDeviceEndpoint) {
		msg += " (--flow auth-code)"
	}
	return msg
}
