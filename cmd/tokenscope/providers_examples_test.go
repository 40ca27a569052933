package main

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// providerExamples are the config files of the README's "Use it with your identity provider"
// section, one per provider.
var providerExamples = []string{"auth0", "entra", "google", "keycloak", "okta"}

// TestProviderExamplesResolve keeps examples/providers/ true: every file loads with the real
// config loader, every target names an issuer, a flow (or takes the auth-code default) and a
// client id, and resolves as the CLI would resolve it with --config FILE --target NAME.
func TestProviderExamplesResolve(t *testing.T) {
	dir := filepath.Join("..", "..", "examples", "providers")
	files, err := filepath.Glob(filepath.Join(dir, "*.toml"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".toml"))
	}
	if !slices.Equal(names, providerExamples) {
		t.Fatalf("examples/providers/ holds %v, want %v (the README names each)", names, providerExamples)
	}
	for _, path := range files {
		cfg, err := loadConfig(path, true)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if len(cfg.Targets) == 0 {
			t.Errorf("%s: no targets", path)
		}
		for name, tc := range cfg.Targets {
			switch {
			case tc.Issuer == "":
				t.Errorf("%s: target %s has no issuer", path, name)
			case tc.ClientID == "":
				t.Errorf("%s: target %s has no client_id", path, name)
			case tc.Password != "":
				t.Errorf("%s: target %s holds a password; secrets only via client_secret_env", path, name)
			}
			flow := tc.Flow
			if flow == "" {
				flow = "auth-code"
			}
			if !slices.Contains([]string{"auth-code", "device", "client-credentials"}, flow) {
				t.Errorf("%s: target %s: flow %q is not one a provider example should use", path, name, tc.Flow)
			}
			if tc.ClientSecretEnv != "" {
				t.Setenv(tc.ClientSecretEnv, "example-secret")
			}
			f, err := resolveWith(t, "--config", path, "--target", name)
			if err != nil {
				t.Errorf("%s: target %s does not resolve: %v", path, name, err)
				continue
			}
			if f.idp.issuer != tc.Issuer || f.clientID != tc.ClientID || f.profile != "oauth2" || f.target != tc.URL {
				t.Errorf("%s: target %s resolved to issuer %q client %q profile %q target %q", path, name,
					f.idp.issuer, f.clientID, f.profile, f.target)
			}
			if len(tc.AuthParams) > 0 {
				if _, err := f.idp.params(); err != nil || len(f.idp.authParams) != len(tc.AuthParams) {
					t.Errorf("%s: target %s: auth_params became %v (%v)", path, name, f.idp.authParams, err)
				}
			}
		}
	}
}

// TestReadmeProviderSectionFlagsExist: every --flag the README's identity-provider section
// mentions is a flag of tokenscope fire or of the root command, so the page cannot teach a flag
// that was renamed or removed.
func TestReadmeProviderSectionFlagsExist(t *testing.T) {
	doc, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const heading = "## Use it with your identity provider\n"
	_, section, ok := strings.Cut(string(doc), heading)
	if !ok {
		t.Fatalf("README.md has no %q section", strings.TrimSpace(heading))
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	root := newRootCmd(io.Discard, io.Discard)
	fire, _, err := root.Find([]string{"fire"})
	if err != nil || fire == root {
		t.Fatalf("no fire command: %v", err)
	}
	known := func(name string) bool {
		return fire.Flags().Lookup(name) != nil || fire.InheritedFlags().Lookup(name) != nil ||
			root.Flags().Lookup(name) != nil || root.PersistentFlags().Lookup(name) != nil
	}
	mentioned := regexp.MustCompile(`(?:^|[\s(\x60])--([a-z][a-z0-9-]*)`).FindAllStringSubmatch(section, -1)
	if len(mentioned) < 10 {
		t.Fatalf("the section mentions %d flags; the check found too few to mean anything", len(mentioned))
	}
	for _, m := range mentioned {
		if !known(m[1]) {
			t.Errorf("README.md's identity-provider section mentions --%s, which neither tokenscope nor tokenscope fire has", m[1])
		}
	}
	for _, name := range providerExamples {
		if !strings.Contains(section, "examples/providers/"+name+".toml") {
			t.Errorf("README.md's identity-provider section does not point at examples/providers/%s.toml", name)
		}
	}
}
