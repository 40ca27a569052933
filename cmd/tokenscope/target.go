package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"tokenscope/apiclient"
	"tokenscope/apiclient/httpfile"
	"tokenscope/apiclient/oidc"
	"tokenscope/apiclient/profile"
	"tokenscope/apiclient/transport"
	"tokenscope/demoserver"
	"tokenscope/internal/har"
	"tokenscope/internal/hostcheck"
	"tokenscope/internal/privfile"
	"tokenscope/internal/redact"
	"tokenscope/internal/sanitize"
	"tokenscope/session"
)

// targetFlags say which API to talk to and how; shared by the TUI and `fire`. Without
// --target (or a default_target in the config file), an embedded demo server is started and
// tuned with the demo flags.
type targetFlags struct {
	fs              *pflag.FlagSet
	fromEnv         map[string]bool // flags set from TOKENSCOPE_* variables
	config          string
	target          string
	url             string // --url: a named target's URL instead of the file's
	profile         string
	user            string
	passwordEnv     string
	clientSecretEnv string
	clientID        string // oauth2 client_id, for a real target and the embedded demo server alike
	strategy        string
	threshold       time.Duration
	noSingleFlight  bool
	timeout         time.Duration
	logSize         int
	verify          keyFlags // --verify-secret-env, --verify-key, --verify-jwks
	requests        string
	sessionFile     string
	logFile         string
	revealTokens    bool
	caCert          string
	insecure        bool
	demo            demoFlags
	idp             idpFlags
	evidence        evidenceFlags
	// ui shows where to log in at an identity provider; set by the subcommand before build.
	ui loginUI
	// requestURL is the full URL a command line named (request's METHOD URL): its origin is the
	// target when none is given, as curl and HTTPie take it, and must be the target's otherwise.
	requestURL string

	// filled by resolve
	resolved         bool // resolve ran: a command may resolve early (to refuse flags first) and build later
	resolvedProfile  profile.Profile
	targetName       string
	clientIDFromFile string // the config target's client_id, when it gave one
	password         string
	prompt           bool
	presets          []profile.Preset
	cfg              *fileConfig
}

func (f *targetFlags) register(fs *pflag.FlagSet) {
	f.fs = fs
	group(fs, groupTarget, func() {
		fs.StringVar(&f.config, "config", "", "config file (default "+defaultConfigPath()+")")
		fs.StringVar(&f.target, "target", "", "base URL of the API, or the name of a target in the config file (default: the embedded demo server)")
		fs.StringVar(&f.url, "url", "", "with --target NAME: this base URL instead of the target's url in the config file")
		fs.StringVar(&f.profile, "profile", "simplejwt", "wire format: "+strings.Join(profile.AllNames(), ", ")+", or a TOML profile file")
		fs.StringVar(&f.user, "user", "", "user to log in as (default demo with the embedded server)")
		fs.StringVar(&f.passwordEnv, "password-env", "", "name of the environment variable holding the password (never pass a password in argv; on a terminal you are asked)")
		fs.StringVar(&f.clientSecretEnv, "client-secret-env", "", "name of the environment variable holding the oauth2 client secret")
		fs.StringVar(&f.clientID, "client-id", demoserver.DefaultClientID, "oauth2 client_id sent at login and refresh (the embedded demo server accepts it as its public client)")
		fs.StringVar(&f.requests, "requests", "", "named requests from a .http / .rest file (JetBrains HTTP Client / VS Code REST Client) or a Postman collection (v2.1 JSON)")
		fs.StringVar(&f.sessionFile, "session-file", "", "keep the tokens in this file (0600) and resume from it on the next start")
		fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "per-request timeout")
		fs.StringVar(&f.caCert, "ca-cert", "", "trust this PEM CA certificate for TLS")
		fs.BoolVar(&f.insecure, "insecure", false, "skip TLS certificate verification (dangerous; the TUI shows a red warning)")
	})
	group(fs, groupIDP, func() { f.idp.register(fs) })
	group(fs, groupEngine, func() {
		fs.StringVar(&f.strategy, "strategy", "auto", "when to refresh: auto, proactive, reactive, background or off")
		fs.DurationVar(&f.threshold, "threshold", 0, "refresh this close to exp (default: a sixth of the token's lifetime, 1s..5m, at most a third)")
		fs.BoolVar(&f.noSingleFlight, "no-single-flight", false, "let every request refresh on its own (shows the stampede)")
		fs.IntVar(&f.logSize, "log-size", session.DefaultLogSize, "events kept in memory")
		f.verify.prefix = "verify-"
		fs.StringVar(&f.verify.secretEnv, "verify-secret-env", "", "verify token signatures with the HMAC secret in this environment variable")
		fs.StringVar(&f.verify.keyFile, "verify-key", "", "verify token signatures with this PEM public key or certificate")
		fs.StringVar(&f.verify.jwksURL, "verify-jwks", "", "verify token signatures with the keys at this JWKS URL")
	})
	group(fs, groupDemo, func() { f.demo.register(fs) })
	group(fs, groupOutput, func() {
		fs.StringVar(&f.logFile, "log-file", "", "write every event to this file as JSON lines (tokens as fingerprints)")
		fs.BoolVar(&f.revealTokens, "reveal-tokens", false, "with --log-file: also write the raw tokens at each login and refresh")
		f.evidence.register(fs)
	})
}

// resolve merges flags, TOKENSCOPE_* variables and the config file, in that order of
// precedence, and checks the result.
func (f *targetFlags) resolve() error {
	if f.resolved {
		return nil
	}
	f.resolved = true
	if err := f.resolveTarget(); err != nil {
		return err
	}
	// The profile is a flag value too: refused here, before anything starts.
	p, err := profile.Resolve(f.profile)
	if err != nil {
		return usageError("%s: %w", f.origin("profile", f.profile), err)
	}
	f.resolvedProfile = p
	return nil
}

// resolveTarget applies the TOKENSCOPE_* variables, checks the flags, and takes the config
// target's settings for what they left unset.
func (f *targetFlags) resolveTarget() error {
	fromEnv, err := applyEnv(f.fs)
	if err != nil {
		return err
	}
	f.fromEnv = fromEnv
	if err := f.validate(); err != nil {
		return err
	}
	if err := f.refuseURLPasswords(); err != nil {
		return err
	}
	path, explicit := f.config, f.config != ""
	if !explicit {
		path = defaultConfigPath()
	}
	cfg, err := loadConfig(path, explicit)
	if err != nil {
		return err
	}
	f.cfg = cfg
	if o := hostcheck.Origin(f.requestURL); f.target == "" && o != "" && !cfg.targetHasOrigin(cfg.DefaultTarget, o) {
		f.target = o // the URL names the destination; the default target is elsewhere
	}
	if f.target == "" && cfg.DefaultTarget != "" {
		f.target = cfg.DefaultTarget
	}
	if f.target == "" || looksLikeURL(f.target) {
		if f.url != "" {
			return usageError("--url %s: it replaces a named target's URL (--target NAME); to talk to this URL, give it as --target", redact.URL(f.url))
		}
		if f.target != "" {
			if err := checkURL(f.target); err != nil {
				return fmt.Errorf("--target: %w", err)
			}
		}
		f.idpProfile(false)
		return f.checkCredentials("")
	}
	t, ok := cfg.Targets[f.target]
	if !ok {
		where := "no config file at " + cfg.path
		if cfg.found {
			where = fmt.Sprintf("%s has: %s", cfg.path, strings.Join(cfg.targetNames(), ", "))
			if len(cfg.Targets) == 0 {
				where = cfg.path + " defines no targets"
			}
		}
		return fmt.Errorf("--target %q is not a URL and not a target in the config file (%s); `tokenscope config init` writes an example", f.target, where)
	}
	f.targetName = f.target
	if err := f.fromConfigTarget(t); err != nil {
		return err
	}
	return f.checkCredentials(f.targetName)
}

// fromConfigTarget takes a named target's settings for what the flags and variables left
// unset; --url replaces its URL.
func (f *targetFlags) fromConfigTarget(t targetConfig) error {
	cfg := f.cfg
	set := func(flag string, dst *string, v string) {
		if v != "" && !f.fs.Changed(flag) {
			*dst = v
		}
	}
	f.target = t.URL
	if f.url != "" {
		if err := checkURL(f.url); err != nil {
			return usageError("--url: %v", err)
		}
		f.target = f.url
	}
	set("profile", &f.profile, cfg.relative(t.Profile))
	set("user", &f.user, t.User)
	set("password-env", &f.passwordEnv, t.PasswordEnv)
	set("client-secret-env", &f.clientSecretEnv, t.ClientSecretEnv)
	set("strategy", &f.strategy, t.Strategy)
	set("verify-secret-env", &f.verify.secretEnv, t.VerifySecretEnv)
	set("verify-key", &f.verify.keyFile, cfg.relative(t.VerifyKey))
	set("verify-jwks", &f.verify.jwksURL, t.VerifyJWKS)
	set("requests", &f.requests, cfg.relative(t.Requests))
	set("ca-cert", &f.caCert, cfg.relative(t.CACert))
	set("session-file", &f.sessionFile, cfg.relative(t.SessionFile))
	if t.ClientID != "" && !f.fs.Changed("client-id") {
		f.clientID, f.clientIDFromFile = t.ClientID, t.ClientID
	}
	f.idp.fromTarget(f.fs, t)
	f.idpProfile(t.Profile != "")
	if t.Threshold != "" && !f.fs.Changed("threshold") {
		f.threshold, _ = time.ParseDuration(t.Threshold) // validated when the file was read
	}
	if t.Insecure && !f.fs.Changed("insecure") {
		f.insecure = true
	}
	f.presets = t.Presets
	if !f.fs.Changed("password-env") && os.Getenv(envName("password-env")) == "" {
		f.password, f.prompt = t.Password, t.PasswordPrompt
	}
	return nil
}

// validate refuses values that cannot mean anything (they were once taken: a timeout of 0 made
// every login fail, a negative threshold was ignored). Values from the config file are checked
// when it is read.
func (f *targetFlags) validate() error {
	switch {
	case f.timeout <= 0:
		return usageError("--timeout %s: want a positive duration such as 30s (it is each request's deadline)", f.timeout)
	case f.threshold < 0:
		what := f.origin("threshold", f.threshold.String())
		if !f.fromEnv["threshold"] {
			what += " " + f.threshold.String()
		}
		return usageError("%s: want a duration of 0 or more (0: a sixth of the token's lifetime)", what)
	case f.logSize < 1:
		return usageError("--log-size %d: want at least 1 event", f.logSize)
	case f.evidence.logBodies && f.logFile == "":
		return usageError("--log-bodies adds each exchange to the --log-file: give --log-file FILE too (or --har FILE for the exchanges alone)")
	}
	if _, err := apiclient.ParseStrategy(f.strategy); f.strategy != "" && err != nil {
		return usageError("%s: %w", f.origin("strategy", f.strategy), err)
	}
	return f.demo.validate()
}

// refuseURLPasswords refuses a URL with a password in its userinfo on the command line, for
// the reason no flag takes a password: argv is visible to every user in the process list. The
// message says where the URL can go instead.
func (f *targetFlags) refuseURLPasswords() error {
	for _, u := range []struct{ flag, value, instead string }{
		{"target", f.target, "in TOKENSCOPE_TARGET, or as a target's url in the config file"},
		{"url", f.url, "as the target's url in the config file"},
		{"verify-jwks", f.verify.jwksURL, "as a target's verify_jwks in the config file"},
	} {
		if f.fs.Changed(u.flag) && !f.fromEnv[u.flag] && urlHasPassword(u.value) {
			return usageError("--%s %s: the URL holds a password, and the command line is visible to every user in the process list: put the URL %s (a file only you can read)",
				u.flag, redact.URL(u.value), u.instead)
		}
	}
	return nil
}

func (f *targetFlags) checkCredentials(name string) error {
	what := "--target " + redact.URL(f.target)
	if name != "" {
		what = fmt.Sprintf("target %q in %s", name, f.cfg.path)
	}
	if err := f.checkIDP(what); err != nil {
		return err
	}
	if f.target == "" || (f.idp.enabled() && f.idp.flow != oidc.FlowPassword) {
		return nil // the embedded demo server's own user, or a provider's login page
	}
	if f.user == "" {
		return fmt.Errorf("%s: no user: give --user (or user = \"...\" in the config file)", what)
	}
	switch {
	case f.passwordEnv != "":
		f.password = os.Getenv(f.passwordEnv)
		if f.password == "" {
			return fmt.Errorf("%s: the password variable %s is empty or unset", what, f.passwordEnv)
		}
	case f.password != "", f.prompt:
	case isatty.IsTerminal(os.Stdin.Fd()) && isatty.IsTerminal(os.Stderr.Fd()):
		f.prompt = true // as curl -u and HTTPie -a do: ask, with the input hidden
	default:
		return fmt.Errorf("%s: no password: give --password-env NAME (or password_env / password_prompt in the config file), or run it on a terminal to be asked", what)
	}
	return nil
}

// promptPassword asks on the terminal with the input hidden.
func (f *targetFlags) promptPassword(stderr io.Writer) error {
	if !f.prompt || f.password != "" {
		return nil
	}
	fd := int(os.Stdin.Fd())
	if !isatty.IsTerminal(os.Stdin.Fd()) {
		return errors.New("password_prompt is set but standard input is not a terminal: use password_env")
	}
	fmt.Fprintf(stderr, "Password for %s at %s: ", f.user, redact.URL(f.target))
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(stderr)
	if err != nil {
		return fmt.Errorf("reading the password: %w", err)
	}
	f.password = string(b)
	if f.password == "" {
		return errors.New("empty password")
	}
	return nil
}

// wiring is an engine and what runs beside it: the embedded demo server, the session file and
// the log file writers.
type wiring struct {
	engine   *apiclient.Engine
	demo     *demoserver.Server
	resumed  string // where the tokens came from, when not from a login
	presets  []profile.Request
	insecure bool
	logFile  *logSink // nil without --log-file
	stop     []func()
}

func (b *wiring) Close() {
	for i := len(b.stop) - 1; i >= 0; i-- {
		b.stop[i]()
	}
	if b.engine != nil {
		b.engine.Close()
	}
	if b.demo != nil {
		_ = b.demo.Close()
	}
}

// origin names where a flag's value came from, for an error about it: the variable when
// TOKENSCOPE_* set it, else the flag (values from the config file are checked when it is read,
// with its file and line).
func (f *targetFlags) origin(flag, value string) string {
	if f.fromEnv[flag] {
		return fmt.Sprintf("%s=%q", envName(flag), value)
	}
	return "--" + flag
}

// build resolves the settings, starts the embedded server when needed, and creates the engine.
// It does not log in; when a session file holds tokens for this target it resumes from them.
func (f *targetFlags) build(stderr io.Writer) (*wiring, error) {
	if err := f.resolve(); err != nil {
		return nil, err
	}
	if err := checkURLOrigin(f.requestURL, f.target); err != nil {
		return nil, err
	}
	cfg, err := f.engineConfig(stderr)
	if err != nil {
		return nil, err
	}
	b := &wiring{insecure: f.insecure}
	if b.presets, err = f.loadPresets(cfg.Secrets); err != nil {
		return nil, err
	}
	if f.target == "" {
		if err := f.startDemo(b, &cfg); err != nil {
			return nil, err
		}
	}
	e, err := apiclient.New(cfg)
	if err != nil {
		b.Close()
		return nil, err
	}
	b.engine = e
	if err := f.startSessionFile(b, stderr); err != nil {
		b.Close()
		return nil, err
	}
	if err := f.startLogFile(b); err != nil {
		b.Close()
		return nil, err
	}
	if err := f.evidence.start(b); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// engineConfig is the engine's configuration from the resolved settings: strategy, profile,
// credentials (asking for the password when told to), transport and verification keys.
func (f *targetFlags) engineConfig(stderr io.Writer) (apiclient.Config, error) {
	strategy, err := apiclient.ParseStrategy(f.strategy)
	if err != nil {
		return apiclient.Config{}, usageError("%s: %w", f.origin("strategy", f.strategy), err)
	}
	prof := f.resolvedProfile
	if err := f.promptPassword(stderr); err != nil {
		return apiclient.Config{}, err
	}
	cfg := apiclient.Config{
		Secrets: redact.New(), // the session's: the presets' $processEnv values join them
		BaseURL: f.target, Profile: prof, Username: f.user, Password: f.password, ClientID: f.clientID,
		Strategy: strategy, Threshold: f.threshold, NoSingleFlight: f.noSingleFlight,
		Timeout: f.timeout, Log: session.NewLog(f.logSize), Diagnostics: io.Discard, UserAgent: "tokenscope/" + versionString(),
	}
	if cfg.ClientSecret, err = f.secretFromEnv(); err != nil {
		return apiclient.Config{}, err
	}
	if f.idp.enabled() {
		ui := f.ui
		if ui == nil {
			ui = &stderrLoginUI{w: stderr, open: opener{disabled: f.idp.noBrowser}}
		}
		if cfg.OIDC, err = f.idp.oidcConfig(f.clientID, cfg.ClientSecret, ui); err != nil {
			return apiclient.Config{}, err
		}
	}
	tr, err := transport.New(transport.TLS{CACertFile: f.caCert, Insecure: f.insecure})
	if err != nil {
		return apiclient.Config{}, fmt.Errorf("--ca-cert: %w", err)
	}
	cfg.Transport = f.evidence.wrap(tr)
	if cfg.Keys, err = f.keys(tr); err != nil {
		return apiclient.Config{}, err
	}
	return cfg, nil
}

// loadPresets reads the --requests file and the config target's presets, in that order; the
// environment values the file read join the session's secrets.
func (f *targetFlags) loadPresets(secrets *redact.Secrets) ([]profile.Request, error) {
	var out []profile.Request
	if f.requests != "" {
		reqs, err := httpfile.LoadFile(f.requests, nil)
		if err != nil {
			return nil, err
		}
		for _, r := range reqs {
			secrets.Add(redact.Credential, r.Secrets...)
			r.Request.Name = r.Name
			out = append(out, r.Request)
		}
	}
	for _, p := range f.presets {
		out = append(out, profile.Profile{Presets: []profile.Preset{p}}.PresetRequests()...)
	}
	return out, nil
}

// startDemo starts the embedded demo server and points cfg at it, as its first user unless
// one was given.
func (f *targetFlags) startDemo(b *wiring, cfg *apiclient.Config) error {
	opts, err := f.demo.options()
	if err != nil {
		return err
	}
	opts.ClientID = f.clientID
	if f.idp.enabled() && !f.fs.Changed("alg") {
		// Signed with a published key, so that the ID token's signature is checked as a real
		// provider's would be (HS256 ID tokens are keyed by a client secret the public client lacks).
		opts.Alg = demoserver.AlgES256
	}
	srv, err := demoserver.Start(opts)
	if err != nil {
		return err
	}
	f.demo.applyKnobs(srv)
	b.demo = srv
	cfg.BaseURL = srv.URL()
	f.demoIDP(cfg, srv.URL())
	if cfg.Username == "" && (cfg.OIDC == nil || cfg.OIDC.Flow == oidc.FlowPassword) {
		cfg.Username, cfg.Password = firstUser(srv.Options().Users)
	}
	return nil
}

// keys loads the verification keys; a key set is fetched through tr, the engine's transport.
func (f *targetFlags) keys(tr http.RoundTripper) (session.Keys, error) {
	changed := func(name string) bool {
		v := map[string]string{"secret-env": f.verify.secretEnv, "key": f.verify.keyFile, "jwks": f.verify.jwksURL}[name]
		return v != ""
	}
	if err := f.verify.exclusive(changed); err != nil {
		return session.Keys{}, err
	}
	k, _, err := f.verify.local(changed)
	if err != nil || !changed("jwks") {
		return k, err
	}
	u, err := f.verify.jwks()
	if err != nil {
		return k, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	k.ByKID, err = f.verify.fetch(ctx, tr, u)
	return k, err
}

// startSessionFile resumes from the session file when it holds tokens for this target, user
// and profile, and saves the tokens after every login and refresh.
func (f *targetFlags) startSessionFile(b *wiring, stderr io.Writer) error {
	if f.sessionFile == "" {
		return nil
	}
	e := b.engine
	st, err := session.LoadFile(f.sessionFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case errors.Is(err, session.ErrCorrupt):
		// The file is kept as it is and not overwritten: the user decides what to do with it.
		return err
	case errors.Is(err, session.ErrNotPrivate):
		// The user's own file, open to others: its tokens are not used, and the private file
		// written after login replaces it.
		fmt.Fprintf(stderr, "tokenscope: not resuming: %v; it will be replaced by a private file after login\n", err)
	case err != nil:
		return fmt.Errorf("--session-file: %w", err)
	case e.Matches(st):
		b.resumed = "session file " + f.sessionFile
		e.Resume(st, b.resumed)
	default:
		fmt.Fprintf(stderr, "tokenscope: %s holds a session for %s as %s; it will be replaced after login\n",
			sanitize.Line(f.sessionFile), sanitize.Line(redact.URL(st.Target)), sanitize.Line(st.User))
	}
	sub := e.Log().Subscribe(256)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range sub.C {
			if ev.Kind == session.KindLogin || ev.Kind == session.KindRefreshOK {
				s := e.Stored()
				if s.Access != "" {
					if err := session.SaveFile(f.sessionFile, s); err != nil {
						e.Note("session file not saved: " + err.Error())
					}
				}
			}
		}
	}()
	b.stop = append(b.stop, func() { sub.Close(); <-done })
	return nil
}

// startLogFile streams events to a JSON-lines file (0600). Tokens appear as fingerprints only,
// unless --reveal-tokens asks for the raw tokens at each login and refresh. Events it cannot
// write are counted (wiring.logFile), not dropped silently.
func (f *targetFlags) startLogFile(b *wiring) error {
	if f.logFile == "" {
		return nil
	}
	file, err := privfile.Open(f.logFile, privfile.Append)
	if err != nil {
		return fmt.Errorf("--log-file: %w", err)
	}
	e := b.engine
	w := &exportWriter{jw: session.NewJSONLWriter(file), engine: e, reveal: f.revealTokens}
	w.jw.MaskWith(e.Secrets())
	if f.evidence.logBodies {
		w.rec = f.evidence.rec
	}
	b.logFile = startLogSink(e.Log(), file, w, e.Note)
	b.stop = append(b.stop, func() { b.logFile.finish() })
	return nil
}

// exportWriter writes events as JSON lines, and with reveal the raw tokens after each login
// and refresh.
type exportWriter struct {
	jw     *session.JSONLWriter
	engine *apiclient.Engine
	reveal bool
	rec    *har.Recorder // --log-bodies: the exchanges go in too
}

// revealed is the line --reveal-tokens adds.
type revealed struct {
	Kind    string `json:"kind"`
	Seq     uint64 `json:"seq"`
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token"`
}

func (x *exportWriter) write(ev session.Event) error {
	err := x.jw.Write(ev)
	if werr := writeExchanges(x.jw, x.rec); err == nil {
		err = werr
	}
	if x.reveal && (ev.Kind == session.KindLogin || ev.Kind == session.KindRefreshOK) {
		s := x.engine.Stored()
		if rerr := x.jw.WriteValue(revealed{Kind: "tokens", Seq: ev.Seq, Access: s.Access, Refresh: s.Refresh}); err == nil {
			err = rerr
		}
	}
	return err
}

func firstUser(users map[string]string) (string, string) {
	var name string
	for n := range users {
		if name == "" || n < name {
			name = n
		}
	}
	return name, users[name]
}

// login logs in with a deadline, so a dead target fails fast with a clear message.
func login(ctx context.Context, e *apiclient.Engine, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, e.LoginTimeout(timeout))
	defer cancel()
	if _, err := e.Login(ctx); err != nil {
		return errors.New(errorHint(err))
	}
	return nil
}
