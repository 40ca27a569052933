package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"tokenscope/demoserver"
	"tokenscope/internal/human"
	"tokenscope/internal/sanitize"
)

// demoFlags are the demo server's settings. The root command shares them so that the embedded
// server can be tuned exactly like `tokenscope demo-server`.
type demoFlags struct {
	accessTTL, refreshTTL   time.Duration
	noRotation, noReuse     bool
	users                   []string
	passwordEnv             string
	secretEnv               string
	alg                     string
	opaqueOAuth             bool
	clientID                string // demo-server's --client-id; an embedded server takes the target's
	latency, refreshLatency time.Duration
	skew                    time.Duration
	failRefresh             int
	deviceInterval          time.Duration
	issuer                  string
	dpopNonce               bool
	audit                   demoserver.AuditKnobs
	acceptAlgNone           bool
}

func (f *demoFlags) register(fs *pflag.FlagSet) {
	fs.DurationVar(&f.accessTTL, "access-ttl", demoserver.DefaultAccessTTL, "lifetime of access tokens")
	fs.DurationVar(&f.refreshTTL, "refresh-ttl", demoserver.DefaultRefreshTTL, "lifetime of refresh tokens")
	fs.BoolVar(&f.noRotation, "no-rotation", false, "keep the refresh token on refresh instead of rotating it")
	fs.BoolVar(&f.noReuse, "no-reuse-detection", false, "reject a rotated refresh token without revoking its family")
	fs.StringArrayVar(&f.users, "demo-user", nil, "a demo account NAME (repeatable; default demo)")
	fs.StringVar(&f.passwordEnv, "demo-password-env", "", "name of the environment variable holding the demo accounts' password (default: the public password \"demo\")")
	fs.StringVar(&f.secretEnv, "secret-env", "", "name of an environment variable holding the HS256 signing secret (random per start when unset)")
	fs.StringVar(&f.alg, "alg", demoserver.AlgHS256, "signing algorithm: HS256 or ES256 (public key at /.well-known/jwks.json)")
	fs.BoolVar(&f.opaqueOAuth, "opaque-oauth", false, "the oauth2 convention issues opaque tokens (clients must use expires_in)")
	fs.DurationVar(&f.latency, "latency", 0, "fault: delay every request by this much")
	fs.DurationVar(&f.refreshLatency, "refresh-latency", 0, "fault: delay refresh calls by this much more")
	fs.DurationVar(&f.skew, "skew", 0, "fault: server clock skew (Date header, iat and exp follow it), e.g. -90s")
	fs.IntVar(&f.failRefresh, "fail-refresh", 0, "fault: answer the next N refresh calls with 503")
	fs.BoolVar(&f.dpopNonce, "dpop-nonce", false, "OpenID provider: demand DPoP nonces (RFC 9449 §8, §9) at the token endpoint and the API")
	fs.DurationVar(&f.deviceInterval, "device-interval", demoserver.DefaultDeviceInterval, "OpenID provider: the device flow's polling interval (RFC 8628 interval)")
	fs.DurationVar(&f.audit.RotationGrace, "rotation-grace", 0, "audit: a rotated refresh token still gets a new pair of its family for this long after its rotation (Auth0's reuse interval)")
	fs.DurationVar(&f.audit.AccessLeeway, "access-leeway", 0, "audit: the API still accepts an access token this long past its exp")
	fs.DurationVar(&f.audit.RefreshRaceWindow, "refresh-race-window", 0, "audit: refreshes are not serialised: every presentation of one refresh token within this window succeeds")
	fs.BoolVar(&f.audit.LoserClearsCookie, "loser-clears-cookie", false, "audit: the cookie convention's rejected refresh answers with an expired refresh cookie (a race's loser deletes the winner's)")
	fs.BoolVar(&f.audit.CacheableTokens, "cacheable-tokens", false, "audit: login and refresh answers lack Cache-Control: no-store (against RFC 6749 §5.1)")
	fs.BoolVar(&f.audit.NoWWWAuthenticate, "no-www-authenticate", false, "audit: the API answers 401 without a WWW-Authenticate challenge (against RFC 6750 §3)")
	fs.BoolVar(&f.acceptAlgNone, "accept-alg-none", false, "audit, INSECURE ON PURPOSE: the API accepts unsigned (alg: none) access tokens; anyone can forge one")
}

// validate refuses durations and counts that cannot mean anything, naming the flag.
func (f *demoFlags) validate() error {
	for _, d := range []struct {
		flag     string
		v        time.Duration
		positive bool
	}{{"access-ttl", f.accessTTL, true}, {"refresh-ttl", f.refreshTTL, true}, {"latency", f.latency, false},
		{"refresh-latency", f.refreshLatency, false}, {"device-interval", f.deviceInterval, true},
		{"rotation-grace", f.audit.RotationGrace, false}, {"access-leeway", f.audit.AccessLeeway, false},
		{"refresh-race-window", f.audit.RefreshRaceWindow, false}} {
		if d.positive && d.v <= 0 {
			return usageError("--%s %s: want a positive duration", d.flag, d.v)
		}
		if d.v < 0 {
			return usageError("--%s %s: want a duration of 0 or more", d.flag, d.v)
		}
	}
	if f.failRefresh < 0 {
		return usageError("--fail-refresh %d: want 0 or more", f.failRefresh)
	}
	return nil
}

func (f *demoFlags) options() (demoserver.Options, error) {
	if err := f.validate(); err != nil {
		return demoserver.Options{}, err
	}
	o := demoserver.Options{
		AccessTTL:        f.accessTTL,
		RefreshTTL:       f.refreshTTL,
		NoRotation:       f.noRotation,
		NoReuseDetection: f.noReuse,
		Alg:              strings.ToUpper(f.alg),
		OpaqueOAuth:      f.opaqueOAuth,
		ClientID:         f.clientID,
		DeviceInterval:   f.deviceInterval,
		Issuer:           f.issuer,
		DPoPNonce:        f.dpopNonce,
		AcceptAlgNone:    f.acceptAlgNone,
	}
	if len(f.users) > 0 || f.passwordEnv != "" {
		// Passwords never come from argv, not even the demo's: --allow-remote makes them matter.
		pass := demoserver.DefaultPassword
		if f.passwordEnv != "" {
			if pass = os.Getenv(f.passwordEnv); pass == "" {
				return o, fmt.Errorf("--demo-password-env %s: the variable is empty or unset", f.passwordEnv)
			}
		}
		names := f.users
		if len(names) == 0 {
			names = []string{demoserver.DefaultUser}
		}
		o.Users = map[string]string{}
		for _, name := range names {
			if name == "" || strings.ContainsAny(name, ": ") {
				return o, fmt.Errorf("--demo-user %q: give a user name only (the password comes from --demo-password-env)", name)
			}
			o.Users[name] = pass
		}
	}
	if f.secretEnv != "" {
		v := os.Getenv(f.secretEnv)
		if v == "" {
			return o, fmt.Errorf("--secret-env %s: the variable is empty or unset", f.secretEnv)
		}
		o.Secret = []byte(v)
	}
	return o, nil
}

// applyKnobs sets the fault knobs given on the command line.
func (f *demoFlags) applyKnobs(s *demoserver.Server) {
	s.SetLatency(f.latency, f.refreshLatency)
	s.SetSkew(f.skew)
	s.FailNextRefreshes(f.failRefresh)
	s.SetAuditKnobs(f.audit)
}

func newDemoServerCmd() *cobra.Command {
	var (
		df          demoFlags
		addr        string
		allowRemote bool
		quiet       bool
	)
	cmd := &cobra.Command{
		Use:   "demo-server",
		Short: "Run the reference auth server: every refresh convention and an OpenID provider",
		Long: `Run the reference auth server on its own. It serves simplejwt, bearer-json,
element-admin and oauth2 at once, rotates refresh tokens and detects their reuse, and has
fault knobs under /__demo/ (loopback clients only). It prints its URL, the demo credentials
and one curl example per convention, then one line per request.

Its defaults are the well-behaved server. The audit flags (--rotation-grace, --access-leeway,
--refresh-race-window, --loser-clears-cookie, --cacheable-tokens, --no-www-authenticate,
with --no-rotation and --no-reuse-detection) give it the rules real servers have, for
` + "`tokenscope audit`" + ` to measure; POST /__demo/audit changes them while it runs.
--accept-alg-none makes it insecure on purpose: never expose it.`,
		Example: `  tokenscope demo-server
  tokenscope demo-server --addr 127.0.0.1:9000 --access-ttl 10s --no-rotation
  tokenscope demo-server --alg ES256 --opaque-oauth --refresh-latency 500ms`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := df.options()
			if err != nil {
				return err
			}
			opts.Addr = addr
			opts.AllowRemote = allowRemote
			out := cmd.OutOrStdout()
			if !quiet {
				opts.Log = out
			}
			srv, err := demoserver.Start(opts)
			if errors.Is(err, demoserver.ErrNotLoopback) {
				// The Go API's advice (Options.AllowRemote) means nothing on the command line.
				return fmt.Errorf("refusing to listen on %q: not a loopback address, and the demo password is public (--allow-remote to insist)", addr)
			}
			if err != nil {
				return err
			}
			df.applyKnobs(srv)
			printBanner(out, srv)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			<-ctx.Done()
			shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			return srv.Shutdown(shutdownCtx)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8000", "listen address (loopback only unless --allow-remote)")
	cmd.Flags().BoolVar(&allowRemote, "allow-remote", false, "permit a non-loopback --addr (the demo password is public)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "do not log requests")
	cmd.Flags().StringVar(&df.clientID, "client-id", demoserver.DefaultClientID, "oauth2 client_id (the demo server accepts it as its public client)")
	df.register(cmd.Flags())
	cmd.Flags().StringVar(&df.issuer, "issuer", "", "OpenID provider: the issuer URL it names itself by (default: the URL each client reached it at)")
	return cmd
}

func printBanner(w io.Writer, s *demoserver.Server) {
	o := s.Options()
	u := s.URL()
	onOff := func(b bool) string {
		if b {
			return "on"
		}
		return "off"
	}
	user, pass := firstUser(o.Users)
	user = sanitize.Line(user)
	fmt.Fprintf(w, "tokenscope demo server listening on %s\n", u)
	fmt.Fprintf(w, "  %s · access TTL %s · refresh TTL %s · rotation %s · reuse detection %s\n",
		s.Alg(), human.Approx(o.AccessTTL), human.Approx(o.RefreshTTL), onOff(!o.NoRotation), onOff(!o.NoReuseDetection))
	shown := pass
	if pass != demoserver.DefaultPassword {
		shown = "(the password from the environment)"
	}
	fmt.Fprintf(w, "  credentials: %s / %s · oauth2 client_id: %s\n", user, shown, o.ClientID)
	fmt.Fprintf(w, "  confidential client (client credentials): %s / %s\n", o.ConfidentialClientID, confidentialShown(o))
	if a := s.Knobs().Audit; a != (demoserver.AuditKnobs{}) {
		fmt.Fprintf(w, "  audit knobs: grace %s · access leeway %s · race window %s · loser clears cookie %s · cacheable tokens %s · no WWW-Authenticate %s\n",
			a.RotationGrace, a.AccessLeeway, a.RefreshRaceWindow, onOff(a.LoserClearsCookie), onOff(a.CacheableTokens), onOff(a.NoWWWAuthenticate))
	}
	for _, warn := range s.InsecureWarnings() {
		fmt.Fprintf(w, "  %s\n", warn)
	}
	fmt.Fprintln(w)
	if pass != demoserver.DefaultPassword {
		pass = "$PASSWORD"
	}
	body := fmt.Sprintf(`'{"username":"%s","password":"%s"}'`, user, pass)
	fmt.Fprintf(w, "Log in (one example per convention):\n")
	fmt.Fprintf(w, "  simplejwt      curl -s %s/api/token/ -H 'Content-Type: application/json' -d %s\n", u, body)
	fmt.Fprintf(w, "  bearer-json    curl -s %s/login -H 'Content-Type: application/json' -d %s\n", u, body)
	fmt.Fprintf(w, "  element-admin  curl -s %s/sys/user/login -H 'Content-Type: application/json' -d %s\n", u, body)
	fmt.Fprintf(w, "  oauth2         curl -s %s/oauth/token -d grant_type=password -d username=%s -d password=%s -d client_id=%s\n", u, user, pass, o.ClientID)
	fmt.Fprintf(w, "  cookie         curl -s -c jar %s/auth/login -H 'Content-Type: application/json' -d %s   (refresh: curl -b jar -X POST %s/auth/refresh -H \"X-CSRF-Token: $CSRF\")\n", u, body, u)
	fmt.Fprintf(w, "Then: curl -s %s/api/protected/ -H \"Authorization: Bearer $ACCESS\"   (element-admin: -H \"X-Token: $ACCESS\" %s/sys/user/info)\n", u, u)
	fmt.Fprintf(w, "Knobs: curl -s -X POST %s/__demo/expire-access   (also revoke-families, fail-refresh?n=3, latency?refresh=1s, skew?d=-90s, audit?rotation_grace=2s, reset; GET /__demo/stats)\n\n", u)
}

// confidentialShown is the confidential client's secret as the banner shows it: the public
// default is printed (it is in the docs too), a secret of the user's own is not.
func confidentialShown(o demoserver.Options) string {
	if o.ConfidentialSecret == demoserver.DefaultConfidentialSecret {
		return o.ConfidentialSecret
	}
	return "(a secret of your own)"
}
