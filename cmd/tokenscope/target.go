package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/pflag"

	"tokenscope/apiclient"
	"tokenscope/demoserver"
	"tokenscope/session"
)

// targetFlags say which API to talk to and how; shared by the TUI and `fire`. Without
// --target, an embedded demo server is started and tuned with the demo flags.
type targetFlags struct {
	target          string
	profile         string
	user            string
	passwordEnv     string
	clientSecretEnv string
	strategy        string
	threshold       time.Duration
	noSingleFlight  bool
	timeout         time.Duration
	logSize         int
	demo            demoFlags
}

func (f *targetFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.target, "target", "", "base URL of the API (default: start the embedded demo server)")
	fs.StringVar(&f.profile, "profile", "simplejwt", "wire format: simplejwt, bearer-json, element-admin, oauth2, or a TOML profile file")
	fs.StringVar(&f.user, "user", "", "user to log in as (default demo with the embedded server)")
	fs.StringVar(&f.passwordEnv, "password-env", "", "name of the environment variable holding the password (never pass a password in argv)")
	fs.StringVar(&f.clientSecretEnv, "client-secret-env", "", "name of the environment variable holding the oauth2 client secret")
	fs.StringVar(&f.strategy, "strategy", "auto", "when to refresh: auto, proactive, reactive, background or off")
	fs.DurationVar(&f.threshold, "threshold", 0, "refresh this close to exp (default: a sixth of the token's lifetime, 1s..5m)")
	fs.BoolVar(&f.noSingleFlight, "no-single-flight", false, "let every request refresh on its own (shows the stampede)")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "per-request timeout")
	fs.IntVar(&f.logSize, "log-size", session.DefaultLogSize, "events kept in memory")
	f.demo.register(fs)
}

// built is an engine and, when embedded, the demo server behind it.
type built struct {
	engine *apiclient.Engine
	demo   *demoserver.Server
}

func (b *built) Close() {
	if b.engine != nil {
		b.engine.Close()
	}
	if b.demo != nil {
		_ = b.demo.Close()
	}
}

// build starts the embedded server when needed and creates the engine. It does not log in.
func (f *targetFlags) build(diagnostics io.Writer) (*built, error) {
	strategy, err := apiclient.ParseStrategy(f.strategy)
	if err != nil {
		return nil, err
	}
	profile, err := apiclient.ResolveProfile(f.profile)
	if err != nil {
		return nil, err
	}
	b := &built{}
	cfg := apiclient.Config{
		BaseURL: f.target, Profile: profile, Username: f.user, ClientID: f.demo.clientID,
		Strategy: strategy, Threshold: f.threshold, NoSingleFlight: f.noSingleFlight,
		Timeout: f.timeout, Log: session.NewLog(f.logSize), Diagnostics: diagnostics,
	}
	if f.passwordEnv != "" {
		cfg.Password = os.Getenv(f.passwordEnv)
		if cfg.Password == "" {
			return nil, fmt.Errorf("--password-env %s: the variable is empty or unset", f.passwordEnv)
		}
	}
	if f.clientSecretEnv != "" {
		cfg.ClientSecret = os.Getenv(f.clientSecretEnv)
		if cfg.ClientSecret == "" {
			return nil, fmt.Errorf("--client-secret-env %s: the variable is empty or unset", f.clientSecretEnv)
		}
	}
	if f.target == "" {
		opts, err := f.demo.options()
		if err != nil {
			return nil, err
		}
		srv, err := demoserver.Start(opts)
		if err != nil {
			return nil, err
		}
		f.demo.applyKnobs(srv)
		b.demo = srv
		cfg.BaseURL = srv.URL()
		if cfg.Username == "" {
			cfg.Username, cfg.Password = firstUser(srv.Options().Users)
		}
	}
	if cfg.Username == "" {
		b.Close()
		return nil, errors.New("--user is required with --target (and --password-env for the password)")
	}
	e, err := apiclient.New(cfg)
	if err != nil {
		b.Close()
		return nil, err
	}
	b.engine = e
	return b, nil
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
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := e.Login(ctx)
	return err
}
