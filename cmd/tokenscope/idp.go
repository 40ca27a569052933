package main

// The identity-provider flags (DESIGN.md "Identity providers"): --issuer, --flow and the rest,
// the same keys in a config target, and how the URL to log in at reaches the user.

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cli/browser"
	"github.com/spf13/pflag"

	"tokenscope/apiclient"
	"tokenscope/apiclient/oidc"
	"tokenscope/demoserver"
	"tokenscope/internal/hostcheck"
	"tokenscope/internal/human"
	"tokenscope/internal/redact"
	"tokenscope/internal/sanitize"
)

type idpFlags struct {
	issuer      string
	flow        string
	scope       string
	redirectURI string
	clientAuth  string
	authParams  []string // KEY=VALUE
	noBrowser   bool
	dpop        bool
}

func (d *idpFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&d.issuer, "issuer", "", "log in at this OpenID provider / OAuth server (discovery reads its endpoints); --target stays the API")
	fs.StringVar(&d.flow, "flow", "", "how to log in at the provider: "+strings.Join(oidc.Flows(), ", ")+" (default auth-code with --issuer)")
	fs.StringVar(&d.scope, "scope", "", "scopes to ask the provider for (default \""+oidc.DefaultScope+"\" when a user logs in, none when the client logs in as itself)")
	fs.StringVar(&d.redirectURI, "redirect-uri", "", "auth-code: the loopback redirect URI registered at the provider (default "+oidc.DefaultRedirectURI+")")
	fs.StringVar(&d.clientAuth, "client-auth", "", "how the client proves itself at the token endpoint: none, basic or post (default: none for a public client, basic for a confidential one)")
	fs.StringArrayVar(&d.authParams, "auth-param", nil, "extra parameter for the provider, KEY=VALUE (repeatable): audience, resource, prompt, access_type, ...")
	fs.BoolVar(&d.noBrowser, "no-browser", false, "auth-code: print the URL to log in at, but do not open a browser")
	fs.BoolVar(&d.dpop, "dpop", false, "sender-constrained tokens (RFC 9449): a DPoP proof with every token and API call")
}

// enabled says whether tokenscope logs in at an identity provider.
func (d *idpFlags) enabled() bool { return d.issuer != "" || d.flow != "" }

// fromTarget takes a config target's keys for the flags the user did not give.
func (d *idpFlags) fromTarget(fs *pflag.FlagSet, t targetConfig) {
	set := func(flag string, dst *string, v string) {
		if v != "" && !fs.Changed(flag) {
			*dst = v
		}
	}
	set("issuer", &d.issuer, t.Issuer)
	set("flow", &d.flow, t.Flow)
	set("scope", &d.scope, t.Scope)
	set("redirect-uri", &d.redirectURI, t.RedirectURI)
	set("client-auth", &d.clientAuth, t.ClientAuth)
	if !fs.Changed("auth-param") {
		for _, k := range sortedKeys(t.AuthParams) {
			d.authParams = append(d.authParams, k+"="+t.AuthParams[k])
		}
	}
	if t.NoBrowser && !fs.Changed("no-browser") {
		d.noBrowser = true
	}
	if t.DPoP && !fs.Changed("dpop") {
		d.dpop = true
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// check refuses values that cannot work, naming the flag.
func (d *idpFlags) check() error {
	if d.flow != "" && !slices.Contains(oidc.Flows(), d.flow) {
		return usageError("--flow %q: want one of %s", d.flow, strings.Join(oidc.Flows(), ", "))
	}
	if _, err := parseClientAuth(d.clientAuth); err != nil {
		return err
	}
	if _, err := d.params(); err != nil {
		return err
	}
	if d.issuer != "" {
		if err := checkURL(d.issuer); err != nil {
			return usageError("--issuer: %v", err)
		}
	}
	if d.redirectURI != "" {
		u, err := url.Parse(d.redirectURI)
		if err != nil || u.Scheme != "http" || !hostcheck.IsLoopbackHost(u.Hostname()) {
			return usageError("--redirect-uri %q: want a loopback http URL such as %s (RFC 8252 §7.3: tokenscope listens there)", d.redirectURI, oidc.DefaultRedirectURI)
		}
	}
	return nil
}

func parseClientAuth(s string) (oidc.AuthMethod, error) {
	switch strings.ToLower(s) {
	case "":
		return "", nil
	case "none":
		return oidc.AuthNone, nil
	case "basic", string(oidc.AuthBasic):
		return oidc.AuthBasic, nil
	case "post", string(oidc.AuthPost):
		return oidc.AuthPost, nil
	}
	return "", usageError("--client-auth %q: want none, basic or post", s)
}

// params is --auth-param as url.Values. A prompt given there wins over the consent the
// offline_access scope asks for.
func (d *idpFlags) params() (url.Values, error) {
	v := url.Values{}
	for _, kv := range d.authParams {
		k, val, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageError("--auth-param %q: want KEY=VALUE, e.g. audience=https://api.example.com", kv)
		}
		v.Add(k, val)
	}
	return v, nil
}

// oidcConfig is the engine's identity-provider configuration. secret may be empty (a public
// client); ui shows the URL or code to log in with.
func (d *idpFlags) oidcConfig(clientID, secret string, ui loginUI) (*oidc.Config, error) {
	params, err := d.params()
	if err != nil {
		return nil, err
	}
	method, _ := parseClientAuth(d.clientAuth)
	if (method == oidc.AuthBasic || method == oidc.AuthPost) && secret == "" {
		return nil, usageError("--client-auth %s needs the client secret: give --client-secret-env NAME", d.clientAuth)
	}
	flow := d.flow
	if flow == "" {
		flow = oidc.FlowAuthCode
	}
	if hasWord(d.scope, "offline_access") || (d.scope == "" && flow != oidc.FlowClientCredentials) {
		// OIDC Core §11: some providers issue a refresh token for offline_access only after
		// an explicit consent; --auth-param prompt=... overrides.
		if flow == oidc.FlowAuthCode && !params.Has("prompt") {
			params.Set("prompt", "consent")
		}
	}
	if params.Has("prompt") && params.Get("prompt") == "" {
		params.Del("prompt") // --auth-param prompt= : send no prompt at all
	}
	return &oidc.Config{Issuer: d.issuer, Flow: flow, ClientID: clientID, ClientSecret: secret, Scope: d.scope,
		AuthParams: params, RedirectURI: d.redirectURI, ClientAuth: method, DPoP: d.dpop,
		OnAuthURL: ui.AuthURL, OnDeviceCode: ui.DeviceCode}, nil
}

func hasWord(s, w string) bool { return slices.Contains(strings.Fields(s), w) }

// loginUI shows the user where to log in: the URL of the auth-code flow, the device flow's
// code. fire prints to stderr; the TUI shows a dialog.
type loginUI interface {
	AuthURL(u string)
	DeviceCode(d oidc.DeviceAuth)
}

// opener opens URLs in the user's browser, unless told not to, and only https ones (or http on
// loopback: oidc.CheckBrowserURL); anything else is left for the user to read. The browser package writes
// the launcher's own output to os.Stdout and os.Stderr, where the TUI draws: that output is
// discarded.
type opener struct{ disabled bool }

var browserOnce sync.Once

func (o opener) open(u string) error {
	if o.disabled {
		return nil
	}
	if err := oidc.CheckBrowserURL(u); err != nil {
		return err
	}
	browserOnce.Do(func() { browser.Stdout, browser.Stderr = io.Discard, io.Discard })
	return browser.OpenURL(u)
}

// stderrLoginUI prints the URL alone on its line, so that a terminal makes it clickable and a
// script can read it, and opens the browser.
type stderrLoginUI struct {
	w    io.Writer
	open opener
	mu   sync.Mutex
}

func (s *stderrLoginUI) AuthURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	how := "open this URL in a browser to log in:"
	if !s.open.disabled {
		var unsafe *oidc.UnsafeURLError
		if err := s.open.open(u); errors.As(err, &unsafe) {
			how = "the provider's login URL was " + sanitize.Line(err.Error()) + "; check it before you open it by hand:"
		} else if err != nil {
			how = "could not open a browser (" + sanitize.Line(err.Error()) + "); open this URL to log in:"
		} else {
			how = "log in in the browser window that opened, or open this URL:"
		}
	}
	fmt.Fprintf(s.w, "tokenscope: %s\n%s\n", how, sanitize.Line(u))
}

func (s *stderrLoginUI) DeviceCode(d oidc.DeviceAuth) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := d.VerificationURIComplete
	what := fmt.Sprintf("open this URL and check that it shows the code %s", sanitize.Line(d.UserCode))
	if u == "" {
		u = d.VerificationURI
		what = fmt.Sprintf("open this URL and enter the code %s", sanitize.Line(d.UserCode))
	}
	left := ""
	if !d.Expires.IsZero() {
		left = " (it expires in " + human.Approx(time.Until(d.Expires).Round(time.Second)) + ")"
	}
	fmt.Fprintf(s.w, "tokenscope: to log in, %s%s:\n%s\n", what, left, sanitize.Line(u))
}

// demoIDP points the identity-provider settings at the embedded demo server, which is an
// OpenID provider too: its URL is the issuer, and client-credentials uses its confidential
// client unless another was named.
func (f *targetFlags) demoIDP(cfg *apiclient.Config, demoURL string) {
	o := cfg.OIDC
	if o == nil {
		return
	}
	o.Issuer = demoURL
	if o.Flow == oidc.FlowClientCredentials && !f.fs.Changed("client-id") {
		o.ClientID, o.ClientSecret = demoserver.DefaultConfidentialClientID, demoserver.DefaultConfidentialSecret
		cfg.ClientSecret = o.ClientSecret
	}
}

// checkIDP checks the identity-provider settings against the target: --flow alone works only
// with the embedded demo server (its own provider), and a real provider needs its client id.
func (f *targetFlags) checkIDP(what string) error {
	d := &f.idp
	if !d.enabled() {
		return nil
	}
	if err := d.check(); err != nil {
		return err
	}
	switch {
	case f.target == "" && d.issuer != "":
		return usageError("--issuer %s: give --target too, the API that takes the provider's tokens (without --target tokenscope starts its demo server, which is its own provider: use --flow alone)", redact.URL(d.issuer))
	case f.target != "" && d.issuer == "":
		return usageError("%s: --flow %s needs --issuer, the identity provider's URL", what, d.flow)
	case f.target != "" && !f.fs.Changed("client-id") && f.clientIDFromFile == "":
		return usageError("%s: give --client-id, the client registered at %s", what, redact.URL(d.issuer))
	}
	return nil
}

// secretFromEnv reads the client secret the way --client-secret-env says.
func (f *targetFlags) secretFromEnv() (string, error) {
	if f.clientSecretEnv == "" {
		return "", nil
	}
	s := os.Getenv(f.clientSecretEnv)
	if s == "" {
		return "", fmt.Errorf("--client-secret-env %s: the variable is empty or unset", f.clientSecretEnv)
	}
	return s, nil
}

// idpProfile makes the standard OAuth 2.0 wire format (the oauth2 profile) the default when
// logging in at a provider, unless a flag, a variable or the config target named a profile.
func (f *targetFlags) idpProfile(fromFile bool) {
	if f.idp.enabled() && !f.fs.Changed("profile") && !fromFile {
		f.profile = "oauth2"
	}
}
