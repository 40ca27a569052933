package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoadConfig: any config file gives a config or an error that names the file; never a
// panic or a hang.
func FuzzLoadConfig(f *testing.F) {
	f.Add([]byte(exampleConfig))
	f.Add([]byte(stagingConfig))
	f.Add([]byte("[targets.a]\nurl = \"http://127.0.0.1:9\"\nprofile = \"/dev/zero\"\n"))
	f.Add([]byte("[targets.a]\nurl = \"http://127.0.0.1:9\"\nrequests = \"/dev/zero\"\n"))
	f.Add([]byte("default_target = 5\n"))
	f.Add([]byte("[targets]\na = 1\n"))
	f.Add([]byte("[[targets.a.presets]]\nmethod = \"GET\"\n"))
	f.Add([]byte("\x00\xff["))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "config.toml")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := loadConfig(p, true)
		if err != nil {
			if !strings.HasPrefix(err.Error(), p) && !strings.Contains(err.Error(), p) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, name := range c.targetNames() {
			if c.Targets[name].URL == "" {
				t.Fatalf("target %q accepted without a url", name)
			}
		}
	})
}
