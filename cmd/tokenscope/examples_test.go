package main

import (
	"path/filepath"
	"testing"

	"tokenscope/apiclient/httpfile"
	"tokenscope/apiclient/profile"
)

// TestExamplesResolve keeps the README's worked config true: every target of
// examples/config.toml resolves, its profile file parses and its .http file loads.
func TestExamplesResolve(t *testing.T) {
	t.Setenv("DEMO_PASSWORD", "demo")
	cfg := filepath.Join("..", "..", "examples", "config.toml")
	for _, name := range []string{"django", "node", "admin", "sso", "legacy"} {
		f, err := resolveWith(t, "--config", cfg, "--target", name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if _, err := profile.Resolve(f.profile); err != nil {
			t.Errorf("%s: profile: %v", name, err)
		}
		if f.requests != "" {
			reqs, err := httpfile.LoadFile(f.requests, nil)
			if err != nil || len(reqs) != 3 || reqs[2].Request.Method != "POST" || reqs[2].Request.Path != "/api/items" {
				t.Errorf("%s: requests: %v %+v", name, err, reqs)
			}
		}
	}
	// With no --target, default_target picks django.
	if f, err := resolveWith(t, "--config", cfg); err != nil || f.targetName != "django" {
		t.Errorf("default target: %v %q", err, f.targetName)
	}
}
