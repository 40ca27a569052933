package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/spf13/pflag"

	"tokenscope/apiclient"
	"tokenscope/apiclient/profile"
	"tokenscope/internal/cappedfile"
	"tokenscope/internal/hostcheck"
	"tokenscope/internal/redact"
)

// fileConfig is the config file: named targets for real APIs.
type fileConfig struct {
	DefaultTarget string                  `toml:"default_target"`
	Theme         string                  `toml:"theme"`
	Targets       map[string]targetConfig `toml:"targets"`

	path  string // where it was read from
	data  []byte
	perm  fs.FileMode
	found bool
}

// targetHasOrigin reports whether the target called name is at origin (scheme://host:port).
func (c *fileConfig) targetHasOrigin(name, origin string) bool {
	t, ok := c.Targets[name]
	return ok && hostcheck.Origin(t.URL) == origin
}

// targetConfig is one named target. Every field is optional; flags and TOKENSCOPE_* variables
// override it.
type targetConfig struct {
	URL             string           `toml:"url"`
	Profile         string           `toml:"profile"`
	User            string           `toml:"user"`
	PasswordEnv     string           `toml:"password_env"`
	PasswordPrompt  bool             `toml:"password_prompt"`
	Password        string           `toml:"password"`
	ClientID        string           `toml:"client_id"`
	ClientSecretEnv string           `toml:"client_secret_env"`
	Strategy        string           `toml:"strategy"`
	Threshold       string           `toml:"threshold"`
	VerifySecretEnv string           `toml:"verify_secret_env"`
	VerifyKey       string           `toml:"verify_key"`
	VerifyJWKS      string           `toml:"verify_jwks"`
	Requests        string           `toml:"requests"`
	CACert          string           `toml:"ca_cert"`
	Insecure        bool             `toml:"insecure"`
	SessionFile     string           `toml:"session_file"`
	Presets         []profile.Preset `toml:"presets"`
	// An identity provider (DESIGN.md "Identity providers"), as the flags of the same names.
	Issuer      string            `toml:"issuer"`
	Flow        string            `toml:"flow"`
	Scope       string            `toml:"scope"`
	RedirectURI string            `toml:"redirect_uri"`
	ClientAuth  string            `toml:"client_auth"`
	AuthParams  map[string]string `toml:"auth_params"`
	NoBrowser   bool              `toml:"no_browser"`
	DPoP        bool              `toml:"dpop"`
}

// defaultConfigPath is os.UserConfigDir()/tokenscope/config.toml.
func defaultConfigPath() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "tokenscope", "config.toml")
}

// loadConfig reads the config file. A missing file is fine unless it was asked for by name.
func loadConfig(path string, explicit bool) (*fileConfig, error) {
	c := &fileConfig{path: path}
	if path == "" {
		return c, nil
	}
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	data, err := cappedfile.Read(path, cappedfile.MaxConfigBytes)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	c.data, c.perm, c.found = data, st.Mode().Perm(), true
	md, err := toml.Decode(string(data), c)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return nil, fmt.Errorf("%s:%d: %s", path, perr.Position.Line, perr.Message)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		k := und[0]
		return nil, fmt.Errorf("%s:%d: unknown key %q", path, c.lineOfKey(k), k.String())
	}
	for name, t := range c.Targets {
		if err := c.validateTarget(name, t); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// lineOfKey finds the line of a dotted key in the file text: TOML decoding keeps no positions,
// and an error that names the line saves the user a search.
func (c *fileConfig) lineOfKey(k toml.Key) int {
	if len(k) == 0 {
		return 0
	}
	table := strings.Join(k[:len(k)-1], ".")
	return c.lineOf(table, k[len(k)-1])
}

// lineOf returns the line of key inside [table] ("" for the top level), or of the table
// header when key is "", or 0.
func (c *fileConfig) lineOf(table, key string) int {
	cur := ""
	sc := bufio.NewScanner(bytes.NewReader(c.data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			cur = strings.NewReplacer("[", "", "]", "", `"`, "", "'", "", " ", "").Replace(line)
			if key == "" && cur == table {
				return n
			}
			continue
		}
		if cur != table || key == "" {
			continue
		}
		name, _, ok := strings.Cut(line, "=")
		if ok && strings.Trim(strings.TrimSpace(name), `"'`) == key {
			return n
		}
	}
	return 0
}

func (c *fileConfig) errAt(target, key, format string, args ...any) error {
	table := "targets." + target
	line := c.lineOf(table, key)
	if line == 0 {
		line = c.lineOf(table, "")
	}
	return fmt.Errorf("%s:%d: target %q: %s", c.path, line, target, fmt.Sprintf(format, args...))
}

func (c *fileConfig) validateTarget(name string, t targetConfig) error {
	if t.URL == "" {
		return c.errAt(name, "", "url is required")
	}
	if err := checkURL(t.URL); err != nil {
		return c.errAt(name, "url", "%v", err)
	}
	if t.Profile != "" {
		if _, err := profile.Resolve(c.relative(t.Profile)); err != nil {
			return c.errAt(name, "profile", "%v", err)
		}
	}
	if err := (&idpFlags{issuer: t.Issuer, flow: t.Flow, clientAuth: t.ClientAuth, redirectURI: t.RedirectURI}).check(); err != nil {
		key := map[bool]string{true: "flow", false: "issuer"}[t.Flow != ""]
		return c.errAt(name, key, "%s", strings.ReplaceAll(strings.ReplaceAll(err.Error(), "--redirect-uri", "redirect_uri"), "--", ""))
	}
	if t.Strategy != "" {
		if _, err := apiclient.ParseStrategy(t.Strategy); err != nil {
			return c.errAt(name, "strategy", "%v", err)
		}
	}
	if t.Threshold != "" {
		if d, err := time.ParseDuration(t.Threshold); err != nil || d < 0 {
			return c.errAt(name, "threshold", "threshold %q is not a duration like 30s", t.Threshold)
		}
	}
	sources := 0
	for _, set := range []bool{t.PasswordEnv != "", t.PasswordPrompt, t.Password != ""} {
		if set {
			sources++
		}
	}
	if sources > 1 {
		return c.errAt(name, "password", "give one of password_env, password_prompt and password")
	}
	if t.Password != "" && c.perm&0o077 != 0 {
		return c.errAt(name, "password",
			"the file holds a plain password but is readable by others (mode %04o): run chmod 600 %s, or use password_env / password_prompt instead", c.perm, c.path)
	}
	for _, u := range []struct{ key, value string }{{"url", t.URL}, {"verify_jwks", t.VerifyJWKS}} {
		if urlHasPassword(u.value) && c.perm&0o077 != 0 {
			return c.errAt(name, u.key, "%s %s holds a password but the file is readable by others (mode %04o): run chmod 600 %s",
				u.key, redact.URL(u.value), c.perm, c.path)
		}
	}
	if t.VerifyKey != "" {
		if _, err := os.Stat(c.relative(t.VerifyKey)); err != nil {
			return c.errAt(name, "verify_key", "%v", err)
		}
	}
	if t.Requests != "" {
		if _, err := os.Stat(c.relative(t.Requests)); err != nil {
			return c.errAt(name, "requests", "%v", err)
		}
	}
	if t.CACert != "" {
		if _, err := os.Stat(c.relative(t.CACert)); err != nil {
			return c.errAt(name, "ca_cert", "%v", err)
		}
	}
	return nil
}

// relative resolves a path in the config file against the file's directory; built-in profile
// names stay names.
func (c *fileConfig) relative(p string) string {
	if _, builtin := profile.Builtin(p); builtin || p == "" || filepath.IsAbs(p) || c.path == "" {
		return p
	}
	return filepath.Join(filepath.Dir(c.path), p)
}

func (c *fileConfig) targetNames() []string {
	names := make([]string, 0, len(c.Targets))
	for n := range c.Targets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", redact.URL(s))
	}
	return nil
}

// urlHasPassword reports a URL with a password in its userinfo (http://user:pw@host).
func urlHasPassword(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	_, has := u.User.Password()
	return has
}

// looksLikeURL tells a URL from a config target name.
func looksLikeURL(s string) bool { return strings.Contains(s, "://") }

// envFlags are the flags that TOKENSCOPE_* variables can set.
var envFlags = []string{"config", "target", "profile", "user", "password-env", "strategy", "threshold", "theme",
	"session-file", "log-file", "ca-cert", "client-secret-env", "issuer", "flow", "scope", "redirect-uri", "client-id"}

func envName(flag string) string {
	return "TOKENSCOPE_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applyEnv sets flags the user did not give from TOKENSCOPE_* variables: flag > env > file.
// It returns the flags it set, so that a bad value can be blamed on its variable.
func applyEnv(fs *pflag.FlagSet) (map[string]bool, error) {
	set := map[string]bool{}
	for _, name := range envFlags {
		f := fs.Lookup(name)
		if f == nil || f.Changed {
			continue
		}
		if v, ok := os.LookupEnv(envName(name)); ok && v != "" {
			if err := fs.Set(name, v); err != nil {
				return nil, fmt.Errorf("%s=%q: %w", envName(name), v, err)
			}
			f.Changed = true
			set[name] = true
		}
	}
	return set, nil
}

const exampleConfig = `# tokenscope config: named targets for real APIs.
# Pick one with: tokenscope --target NAME   (or tokenscope fire --target NAME ...)
# Flags override this file; TOKENSCOPE_* environment variables override it too.

# default_target = "staging"   # used when --target is not given (otherwise: the embedded demo)
# theme = "dark"               # dark, light, high-contrast, mono

[targets.demo]
# The demo server started on its own: tokenscope demo-server --addr 127.0.0.1:8000
url = "http://127.0.0.1:8000"
profile = "simplejwt"          # simplejwt, bearer-json, element-admin, oauth2, cookie, ... (tokenscope --help), or a profile .toml file
user = "demo"
password_env = "DEMO_PASSWORD" # the password is read from this variable; never stored here
# password_prompt = true       # or ask for it with hidden input
# strategy = "auto"            # auto, proactive, reactive, background, off
# threshold = "5s"             # refresh this close to exp
# verify_secret_env = "JWT_SECRET"       # check signatures: HMAC secret from a variable,
# verify_key = "public.pem"              # or a PEM public key,
# verify_jwks = "http://127.0.0.1:8000/.well-known/jwks.json"  # or a JWKS URL
# requests = "api.http"        # request presets from a .http / .rest file
# session_file = "demo.session.json"     # keep tokens across restarts (written 0600)
# ca_cert = "ca.pem"           # trust this CA for TLS
# insecure = false             # skip TLS verification (the header shows a red warning)

[[targets.demo.presets]]
name = "me"
method = "GET"
path = "/api/me"

# [targets.work-oauth]
# url = "https://auth.example.com"
# profile = "oauth2"
# user = "me@example.com"
# password_prompt = true
# client_id = "my-cli"
# client_secret_env = "MY_CLIENT_SECRET"
`
