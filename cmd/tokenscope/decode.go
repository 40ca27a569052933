package main

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"tokenscope/apiclient/transport"
	"tokenscope/internal/hostcheck"
	"tokenscope/internal/human"
	"tokenscope/internal/redact"
	"tokenscope/internal/sanitize"
	"tokenscope/session"
)

// maxDecodeInput limits a token on stdin; anything bigger is not a token.
const maxDecodeInput = 4 << 20

// Exit statuses of decode; the Long help documents them. 2 is a usage error, as in every command.
const (
	decodeExitExpired = 1
	decodeExitNotJWT  = 3
	decodeExitInvalid = 4
)

type decodeOpts struct {
	keys    keyFlags
	caCert  string
	jsonOut bool
}

func newDecodeCmd() *cobra.Command {
	o := decodeOpts{keys: keyFlags{argSecret: true}}
	cmd := &cobra.Command{
		Use:   "decode [TOKEN|-]",
		Short: "Decode a token: header, claims, readable times, phase, fingerprint and signature check",
		Long: `decode prints a token's header and claims, its iat, nbf and exp as local times with how
long ago or how soon they are, its phase (fresh, expired or no expiry), its fingerprint and the
result of checking its signature. It never prints the token itself.

The token is the argument, or is read from stdin when the argument is - or absent; surrounding
whitespace and a leading "Bearer " are ignored (put -- before a token that starts with -). An
argument is visible to other users in the process list: pipe a live token on stdin instead.

The signature is checked with at most one of --secret-env or --secret (HMAC), --key (a PEM
public key or certificate) or --jwks (a key set fetched over http or https). Without a key it
is not checked, except that alg "none" is always invalid. Expiry is judged by this machine's
clock; nbf is shown but does not change the exit status.

Exit status:
  0  decoded, not expired, and the signature verified (or no key was given to check it)
  1  expired; also a --jwks fetch that failed or brought no signing keys
  2  a command line it refuses, as in every command: no token, two key options, an unreadable
     or private key file, a --jwks that is not an http(s) URL, an unknown flag
  3  not a decodable JWT (opaque, malformed or too large), or an iat, nbf or exp that is not
     a number; what is known (length, fingerprint, why) is still printed
  4  signature invalid, alg "none", or no key given matches the token
A token that is not a JWT is always 3; otherwise 4 wins over 3, and 3 over 1.`,
		Example: `  # a token as the argument (fine for test tokens: argv is visible to other users)
  tokenscope decode eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJkZW1vIn0.c2ln

  # a token that starts with "-" (base64url opaque tokens can) goes after --
  tokenscope decode -- -mTWsgqi_RpZ5fvYh6Jslwrpog

  # from stdin through a pipe, with or without its "Bearer " prefix
  printf 'Bearer %s' "$TOKEN" | tokenscope decode
  tokenscope decode - < token.txt

  # verify an HS256 token with a secret kept out of argv
  JWT_SECRET=... tokenscope decode --secret-env JWT_SECRET < token.txt

  # verify against an identity provider's published keys, JSON for scripts
  tokenscope decode --jwks https://idp.example.com/.well-known/jwks.json --json < token.txt`,
		Args:          cobra.MaximumNArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDecode(cmd, o, args)
		},
	}
	// Opaque tokens are often base64url, which may begin with "-": cobra then reads the token as
	// flags. Say how to pass one instead of only "unknown shorthand flag".
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		if strings.HasPrefix(err.Error(), "unknown") {
			return usageError("%w (a token that starts with - goes after --, as in: tokenscope decode -- TOKEN; or pipe it in on stdin)", err)
		}
		return usageError("%w", err)
	})
	fs := cmd.Flags()
	fs.StringVar(&o.keys.secret, "secret", "", "HMAC secret (HS256/384/512) to verify with; visible to other users in the process list and kept in shell history, so prefer --secret-env")
	fs.StringVar(&o.keys.secretEnv, "secret-env", "", "name of an environment variable holding the HMAC secret to verify with (preferred over --secret: argv is visible to other users)")
	fs.StringVar(&o.keys.keyFile, "key", "", "PEM file with the public key or certificate (RSA, EC or Ed25519) to verify with")
	fs.StringVar(&o.keys.jwksURL, "jwks", "", "http(s) URL of a JSON Web Key Set to verify with (10 s timeout, at most 1 MiB)")
	fs.StringVar(&o.caCert, "ca-cert", "", "with --jwks: trust this PEM CA certificate for TLS")
	fs.BoolVar(&o.jsonOut, "json", false, "print one JSON object instead of text")
	return cmd
}

func runDecode(cmd *cobra.Command, o decodeOpts, args []string) error {
	changed := cmd.Flags().Changed
	if err := o.keys.exclusive(changed); err != nil {
		return err
	}
	// Key options are checked before stdin is read: a typo should not cost a pasted token.
	keys, keyDesc, err := o.keys.local(changed)
	if err != nil {
		return err
	}
	var jwksURL *url.URL
	var rt http.RoundTripper
	if changed("jwks") {
		if jwksURL, err = o.keys.jwks(); err != nil {
			return err
		}
		keyDesc = "--jwks " + redact.URL(jwksURL.String())
		// The engine's transport constructor, so that --ca-cert means what it means elsewhere.
		if rt, err = transport.New(transport.TLS{CACertFile: o.caCert}); err != nil {
			return fmt.Errorf("--ca-cert: %w", err)
		}
	}
	raw, err := readDecodeInput(args, cmd.InOrStdin(), cmd.ErrOrStderr())
	if err != nil {
		return err
	}

	now := time.Now()
	t := session.ParseToken(raw, now, 0)
	if t.JWT && jwksURL != nil {
		if jwksURL.Scheme == "http" && !hostcheck.IsLoopbackHost(jwksURL.Hostname()) {
			fmt.Fprintf(cmd.ErrOrStderr(), "tokenscope: warning: fetching keys over plain http from %s; anyone on the path can swap them\n", jwksURL.Host)
		}
		if keys.ByKID, err = fetchDecodeJWKS(cmd.Context(), &o.keys, rt, jwksURL); err != nil {
			return err
		}
	}
	v := session.Verify(raw, keys)
	if t.JWT && v.Status != session.Invalid && strings.EqualFold(t.Alg, "none") {
		// session.Verify catches "none" only; some libraries once accepted "None" or "NONE".
		v = session.Verification{Status: session.Invalid, Reason: fmt.Sprintf("alg %q: the token is unsigned", t.Alg)}
	}
	rep := buildDecodeReport(t, v, now)

	if o.jsonOut {
		_, _ = cmd.OutOrStdout().Write(rep.json())
	} else {
		// Claims and reasons are the token's words: stdout's sanitizer (newRootCmd) makes them inert.
		fmt.Fprint(cmd.OutOrStdout(), rep.text(keyDesc))
	}
	if code, msg := rep.exit(); code != 0 {
		return &exitError{code: code, err: errors.New(msg)}
	}
	return nil
}

// readDecodeInput takes the token from the argument, or from stdin for "-" or no argument.
func readDecodeInput(args []string, stdin io.Reader, stderr io.Writer) (string, error) {
	var raw string
	if len(args) == 1 && args[0] != "-" {
		raw = args[0]
	} else {
		if f, ok := stdin.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			fmt.Fprintln(stderr, "tokenscope: reading the token from stdin (end with Ctrl-D)…")
		}
		data, err := io.ReadAll(io.LimitReader(stdin, maxDecodeInput+1))
		if err != nil {
			return "", fmt.Errorf("reading the token from stdin: %w", err)
		}
		if len(data) > maxDecodeInput {
			return "", usageError("stdin holds more than %d bytes: that is not a token", maxDecodeInput)
		}
		raw = string(data)
	}
	raw = strings.TrimSpace(raw)
	// The auth scheme is case-insensitive (RFC 9110 §11.1).
	if len(raw) >= 6 && strings.EqualFold(raw[:6], "Bearer") && (len(raw) == 6 || raw[6] == ' ' || raw[6] == '\t') {
		raw = strings.TrimSpace(raw[6:])
	}
	if raw == "" {
		return "", usageError("no token: give TOKEN as the argument, or pipe it on stdin")
	}
	return raw, nil
}

// fetchDecodeJWKS downloads a key set; one with no signing keys can verify nothing, which
// for decode is an error (exit 1) rather than a verdict on the token.
func fetchDecodeJWKS(ctx context.Context, k *keyFlags, rt http.RoundTripper, u *url.URL) (map[string]crypto.PublicKey, error) {
	keys, err := k.fetch(ctx, rt, u)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("--jwks %s: the key set holds no signing keys", redact.URL(u.String()))
	}
	return keys, nil
}

// decodeReport is what decode found; its JSON form is the --json output.
type decodeReport struct {
	Header           json.RawMessage    `json:"header"` // as sent: key order and numbers kept
	Claims           json.RawMessage    `json:"claims"`
	Times            decodeTimes        `json:"times"`
	ExpiresInSeconds *int64             `json:"expires_in_seconds"` // negative once expired
	Expired          bool               `json:"expired"`
	Phase            string             `json:"phase"`
	Fingerprint      string             `json:"fingerprint"`
	Verification     decodeVerification `json:"verification"`
	JWT              bool               `json:"jwt"`
	Length           int                `json:"length"`
	Error            string             `json:"error,omitempty"` // why it is not decodable, or which claims were ignored

	now time.Time
	t   session.Token
	v   session.Verification
}

type decodeTimes struct {
	IAT *string `json:"iat"`
	NBF *string `json:"nbf"`
	EXP *string `json:"exp"`
}

type decodeVerification struct {
	Status string `json:"status"`
	Reason string `json:"reason"`
}

func buildDecodeReport(t session.Token, v session.Verification, now time.Time) decodeReport {
	r := decodeReport{
		Phase:        t.Phase(now, 0).String(),
		Fingerprint:  t.Fingerprint(),
		Verification: decodeVerification{Status: v.Status.String(), Reason: v.Reason},
		JWT:          t.JWT,
		Length:       len(t.Raw),
		Error:        t.DecodeErr,
		now:          now,
		t:            t,
		v:            v,
	}
	if !t.JWT {
		r.Error = notJWTReason(t)
		return r
	}
	r.Header, r.Claims = rawSegment(t, 0, t.Header), rawSegment(t, 1, t.Claims)
	rfc := func(tm time.Time) *string {
		if tm.IsZero() {
			return nil
		}
		s := tm.UTC().Format(time.RFC3339)
		return &s
	}
	r.Times = decodeTimes{IAT: rfc(t.IssuedAt), NBF: rfc(t.NotBefore), EXP: rfc(t.ExpiresAt)}
	if t.HasExpiry() {
		secs := int64(t.Remaining(now) / time.Second)
		r.ExpiresInSeconds = &secs
		r.Expired = t.Phase(now, 0) == session.PhaseExpired
	}
	return r
}

// rawSegment is the header (i=0) or payload (i=1) JSON as the token carries it, compacted.
func rawSegment(t session.Token, i int, parsed map[string]any) json.RawMessage {
	parts := strings.Split(t.Raw, ".")
	if seg, err := jwt.NewParser().DecodeSegment(parts[i]); err == nil {
		var b bytes.Buffer
		if json.Compact(&b, seg) == nil {
			return b.Bytes()
		}
	}
	b, _ := json.Marshal(parsed) // unreachable for a token ParseToken decoded
	return b
}

// notJWTReason says why a token could not be decoded as a JWT.
func notJWTReason(t session.Token) string {
	if t.DecodeErr != "" {
		return t.DecodeErr
	}
	switch n := strings.Count(t.Raw, ".") + 1; {
	case n == 1:
		return "opaque token: it has no '.'-separated segments, so only the server that issued it knows what it means"
	case n == 5:
		return "5 '.'-separated segments: an encrypted JWT (JWE), which cannot be read without the recipient's key"
	default:
		return fmt.Sprintf("%d '.'-separated segments; a JWT has 3", n)
	}
}

// maxIndentDepth is the deepest JSON that decode indents; deeper is printed compact.
const maxIndentDepth = 32

// jsonDepth is the deepest nesting of objects and arrays in valid JSON.
func jsonDepth(b []byte) int {
	depth, deepest, inString, escaped := 0, 0, false, false
	for _, c := range b {
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// exit is the exit status and the message that goes with it.
func (r decodeReport) exit() (int, string) {
	switch {
	case !r.JWT:
		return decodeExitNotJWT, "not a JWT: " + r.Error
	case r.v.Status == session.Invalid:
		return decodeExitInvalid, "signature invalid: " + r.v.Reason
	case r.Error != "":
		return decodeExitNotJWT, "malformed JWT: " + r.Error
	case r.Expired:
		return decodeExitExpired, "token " + relExpiry(r.t.ExpiresAt, r.now)
	}
	return 0, ""
}

func (r decodeReport) json() []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(r) // only strings, numbers and valid raw JSON: cannot fail
	return sanitize.EscapeJSON(b.Bytes())
}

func (r decodeReport) text(keyDesc string) string {
	t := r.t
	var b strings.Builder
	line := func(label, value string) { fmt.Fprintf(&b, "%-13s%s\n", label+":", value) }
	if !r.JWT {
		line("Not a JWT", r.Error)
		line("Length", fmt.Sprintf("%d bytes", r.Length))
		line("Fingerprint", r.Fingerprint)
		line("Phase", r.Phase)
		line("Signature", r.signatureText(keyDesc))
		return b.String()
	}
	for _, s := range []struct {
		name string
		raw  json.RawMessage
	}{{"Header", r.Header}, {"Claims", r.Claims}} {
		var pretty bytes.Buffer
		// Indenting costs depth × lines: a deeply nested 64 KiB token would print megabytes.
		if jsonDepth(s.raw) > maxIndentDepth || json.Indent(&pretty, s.raw, "", "  ") != nil {
			pretty.Reset()
			pretty.Write(s.raw)
		}
		fmt.Fprintf(&b, "%s:\n%s\n\n", s.name, sanitize.EscapeJSON(pretty.Bytes()))
	}
	b.WriteString("Times:\n")
	stamp := func(tm time.Time) string { return tm.Local().Format("2006-01-02 15:04:05 MST") }
	shown := false
	if !t.IssuedAt.IsZero() {
		shown = true
		fmt.Fprintf(&b, "  iat  %s  %s\n", stamp(t.IssuedAt), relPast(t.IssuedAt, r.now, "issued"))
	}
	if !t.NotBefore.IsZero() {
		shown = true
		d := t.NotBefore.Sub(r.now)
		rel := "valid since " + human.Approx(human.Abs(d)) + " ago"
		if d > 0 {
			rel = "not valid for another " + human.Approx(d)
		}
		fmt.Fprintf(&b, "  nbf  %s  %s\n", stamp(t.NotBefore), rel)
	}
	if t.HasExpiry() {
		shown = true
		fmt.Fprintf(&b, "  exp  %s  %s\n", stamp(t.ExpiresAt), relExpiry(t.ExpiresAt, r.now))
	}
	if !shown {
		b.WriteString("  no iat, nbf or exp claim\n")
	}
	b.WriteString("\n")
	if r.Error != "" {
		line("Note", r.Error)
	}
	line("Phase", r.Phase)
	line("Fingerprint", r.Fingerprint)
	line("Signature", r.signatureText(keyDesc))
	return b.String()
}

func (r decodeReport) signatureText(keyDesc string) string {
	switch r.v.Status {
	case session.Verified:
		how := r.t.Alg
		if r.t.Kid != "" {
			how += fmt.Sprintf(", kid %q", r.t.Kid)
		}
		return fmt.Sprintf("verified (%s, with %s)", how, keyDesc)
	case session.Invalid:
		return "INVALID: " + r.v.Reason
	}
	if !r.JWT {
		return "cannot be checked: not a JWT"
	}
	if keyDesc == "" {
		return "not checked: no key given (--secret-env, --key or --jwks)"
	}
	return "not checked"
}

// relExpiry is "expires in 4m12s" or "expired 3m ago".
func relExpiry(exp, now time.Time) string {
	d := exp.Sub(now)
	if d > 0 {
		return "expires in " + human.Approx(d)
	}
	return "expired " + human.Approx(human.Abs(d)) + " ago"
}

// relPast is "issued 5s ago", or "issued 5s in the future" when the clocks disagree.
func relPast(at, now time.Time, verb string) string {
	d := now.Sub(at)
	if d >= 0 {
		return verb + " " + human.Approx(d) + " ago"
	}
	return verb + " " + human.Approx(human.Abs(d)) + " in the future (clock skew?)"
}
