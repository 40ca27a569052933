package main

// observe's forward proxy and CI wiring: the CA, --issuer, --scenario, --fail-on, --json-file,
// and `observe ca`.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"tokenscope/apiclient/observe"
	"tokenscope/apiclient/oidc"
	"tokenscope/apiclient/profile"
	"tokenscope/apiclient/transport"
	"tokenscope/internal/cappedfile"
	"tokenscope/internal/privfile"
	"tokenscope/internal/redact"
	"tokenscope/internal/sanitize"
)

// proxyConfig is the proxy's configuration from the flags: its upstreams, and in forward mode
// (--forward, or -- CMD) the CA and the token endpoint's host from --issuer.
func (o *observeOpts) proxyConfig(ctx context.Context, prof profile.Profile, listen string) (observe.Config, error) {
	cfg := observe.Config{Profile: prof, RetryWindow: o.retryWindow, Faults: o.faults || o.scenario != "", Forwarded: o.forwarded,
		AnyHost: o.allowRemote, TLS: transport.TLS{CACertFile: o.caCert, Insecure: o.insecure}, LogSize: o.logSize, Listen: listen}
	for _, s := range o.upstreams {
		u, err := observe.ParseUpstream(s)
		if err != nil {
			return cfg, usageError("--upstream: %v", err)
		}
		cfg.Upstreams = append(cfg.Upstreams, u)
	}
	if !o.forward && len(o.child) == 0 {
		return cfg, nil
	}
	cfg.Forward = true
	dir, err := observe.DefaultCADir()
	if err != nil {
		return cfg, err
	}
	if cfg.CA, err = observe.LoadOrCreateCA(dir); err != nil {
		return cfg, err
	}
	if _, _, err := cfg.CA.WriteBundle(); err != nil {
		return cfg, fmt.Errorf("the CA bundle for clients: %w", err)
	}
	if o.issuer != "" {
		u, err := o.tokenEndpoint(ctx)
		if err != nil {
			return cfg, err
		}
		cfg.TokenHost = u.Scheme + "://" + u.Host
		cfg.Profile.Login.Path, cfg.Profile.Refresh.Path = u.Path, u.Path
	}
	return cfg, nil
}

// tokenEndpoint reads --issuer's token endpoint from its discovery document.
func (o *observeOpts) tokenEndpoint(ctx context.Context) (*url.URL, error) {
	if err := checkURL(o.issuer); err != nil {
		return nil, usageError("--issuer: %v", err)
	}
	tr, err := transport.New(transport.TLS{CACertFile: o.caCert, Insecure: o.insecure})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	prov, err := oidc.Discover(ctx, &http.Client{Transport: tr}, o.issuer)
	if err != nil {
		return nil, fmt.Errorf("--issuer %s: %w", redact.URL(o.issuer), err)
	}
	u, err := url.Parse(prov.TokenEndpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("--issuer %s: token endpoint %q is not a URL", redact.URL(o.issuer), prov.TokenEndpoint)
	}
	return u, nil
}

// readScenario reads --scenario; a file that cannot be read or parsed is a usage error.
func (o *observeOpts) readScenario() ([]observe.Step, error) {
	if o.scenario == "" {
		return nil, nil
	}
	data, err := cappedfile.Read(o.scenario, cappedfile.MaxConfigBytes)
	if err != nil {
		return nil, usageError("--scenario: %v", err)
	}
	steps, err := observe.ParseScenario(strings.NewReader(string(data)))
	if err != nil {
		return nil, usageError("--scenario %s: %v", o.scenario, err)
	}
	return steps, nil
}

// checkFailOn refuses a --fail-on rule observe does not have.
func checkFailOn(list string) error {
	if list == "" {
		return nil
	}
	for _, r := range strings.Split(list, ",") {
		if r = strings.TrimSpace(r); r != "any" && !slices.Contains(observe.Rules(), r) {
			return usageError("--fail-on %q: want any, or rules among %s", r, strings.Join(observe.Rules(), ", "))
		}
	}
	return nil
}

// failOnMatched names the findings --fail-on asked about, "" when none was made.
func failOnMatched(list string, s observe.Summary) string {
	if list == "" {
		return ""
	}
	var hit []string
	for _, r := range observe.Rules() {
		n := s.Findings[r]
		if n > 0 && (strings.Contains(","+strings.ReplaceAll(list, " ", "")+",", ","+r+",") || strings.TrimSpace(list) == "any") {
			hit = append(hit, fmt.Sprintf("%s ×%d", r, n))
		}
	}
	return strings.Join(hit, ", ")
}

// failOnVerdict is exit status 1 when --fail-on matched.
func failOnVerdict(list string, s observe.Summary) error {
	if hit := failOnMatched(list, s); hit != "" {
		return &exitError{code: 1, err: fmt.Errorf("--fail-on: %s", hit)}
	}
	return nil
}

// jsonFile is --json-file: the events as JSON lines as they come, then the summary object.
type jsonFile struct {
	f  *os.File
	pr *printer
}

func startJSONFile(path string, p *observe.Proxy) (*jsonFile, error) {
	if path == "" {
		return nil, nil
	}
	f, err := privfile.Open(path, privfile.Truncate)
	if err != nil {
		return nil, fmt.Errorf("--json-file: %w", err)
	}
	return &jsonFile{f: f, pr: startPrinter(f, p.Log(), printJSON, nil)}, nil
}

// finish writes what is left and the summary, and closes the file (a nil jsonFile: nothing).
func (j *jsonFile) finish(s observe.Summary) error {
	if j == nil {
		return nil
	}
	j.pr.finish()
	b, _ := sanitize.JSON(s)
	_, err := fmt.Fprintf(j.f, "%s\n", b)
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	return err
}

func newObserveCACmd() *cobra.Command {
	return &cobra.Command{
		Use:   "ca",
		Short: "Where observe's certificate authority is, and how to trust it and remove it",
		Long: `observe --forward opens https tunnels with certificates its own certificate authority mints.
The CA is made on first use (this command makes it too), kept 0600 in your config directory, and
never leaves the machine. observe -- CMD needs no trust store: it points CMD at a bundle through
the environment. To trust it elsewhere, or to remove it, this command prints how.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := observe.DefaultCADir()
			if err != nil {
				return err
			}
			ca, err := observe.LoadOrCreateCA(dir)
			if err != nil {
				return err
			}
			bundle, _, err := ca.WriteBundle()
			if err != nil {
				return err
			}
			return caInstructions(cmd.OutOrStdout(), ca, bundle)
		},
	}
}

func caInstructions(w io.Writer, ca *observe.CA, bundle string) error {
	path := ca.Path()
	_, err := fmt.Fprintf(w, `tokenscope observe's CA: %q
  certificate  %s
  key          %s (0600; never share it)
  bundle       %s (the system's roots and this CA, for SSL_CERT_FILE and the like)

Trust it for one shell (what observe -- CMD does for CMD):
  export SSL_CERT_FILE=%[4]s REQUESTS_CA_BUNDLE=%[4]s CURL_CA_BUNDLE=%[4]s
  export NODE_EXTRA_CA_CERTS=%[2]s GIT_SSL_CAINFO=%[4]s

Trust it system-wide (Debian, Ubuntu):
  sudo cp %[2]s /usr/local/share/ca-certificates/tokenscope-observe.crt && sudo update-ca-certificates
macOS:
  security add-trusted-cert -r trustRoot -k ~/Library/Keychains/login.keychain-db %[2]s

Remove it:
  sudo rm /usr/local/share/ca-certificates/tokenscope-observe.crt && sudo update-ca-certificates --fresh
  security delete-certificate -c %[1]q   # macOS
  rm %[2]s %[3]s %[4]s   # a new CA is made on next use
`, ca.Name(), path, strings.TrimSuffix(path, observe.CACertFile)+observe.CAKeyFile, bundle)
	return err
}
