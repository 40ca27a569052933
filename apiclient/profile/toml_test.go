package profile

import (
	"fmt"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// edgeHandSimpleJWT is simplejwt written out by hand, without base.
var edgeHandSimpleJWT = func() string {
	b, err := os.ReadFile("testdata/hand-simplejwt.toml")
	if err != nil {
		panic(err)
	}
	return string(b)
}()

func builtinForTest(t *testing.T, name string) Profile {
	t.Helper()
	p, ok := Builtin(name)
	if !ok {
		t.Fatalf("no built-in profile %q", name)
	}
	return p
}

func TestEdgeTOMLErrors(t *testing.T) {
	full := func(drop string) string {
		var out []string
		for _, l := range strings.Split(edgeHandSimpleJWT, "\n") {
			if strings.TrimSpace(l) != drop {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\n")
	}
	cases := []struct {
		name string
		data string
		want []string
	}{
		{"unknown key", "base = \"simplejwt\"\n[login]\npathh = \"/x\"\n", []string{"p.toml", "unknown key", "login.pathh"}},
		{"unknown top-level key", "base = \"simplejwt\"\ncolour = \"red\"\n", []string{"p.toml", "colour"}},
		{"path without /", "base = \"simplejwt\"\n[refresh]\npath = \"api/token/refresh/\"\n", []string{"p.toml", "refresh.path", "must start with /"}},
		{"login path without /", full(`path = "/api/token/"`) + "\n", []string{"p.toml", "login.path"}},
		{"missing tokens.access", full(`access = "access"`), []string{"p.toml", "tokens.access is required"}},
		{"tokens.access emptied", "base = \"simplejwt\"\n[tokens]\naccess = \"\"\n", []string{"p.toml", "tokens.access is required"}},
		// BurntSushi/toml places an unclosed table header on the line after it (it has read the
		// newline by then), so only "a line number" is asserted here.
		{"invalid TOML", "name = \"x\"\n\n[login\npath = \"/a\"\n", []string{"p.toml:"}},
		{"invalid TOML value", "base = \"simplejwt\"\n[login]\npath = /api\n", []string{"p.toml:3:"}},
		{"unknown base", "base = \"nope\"\n", []string{"p.toml", `"nope"`, "not a built-in"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("p.toml", []byte(tc.data))
			if err == nil {
				t.Fatal("no error")
			}
			if strings.HasPrefix(tc.name, "invalid TOML") && !regexp.MustCompile(`^p\.toml:\d+: `).MatchString(err.Error()) {
				t.Errorf("error %q does not start with file:line:", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// edgeCloneProfile is a deep copy: no slice or map shared with p.
func edgeCloneProfile(p Profile) Profile {
	cloneEP := func(e Endpoint) Endpoint {
		if e.Extra != nil {
			e.Extra = maps.Clone(e.Extra)
		}
		return e
	}
	cloneM := func(m Matcher) Matcher {
		m.Status = slices.Clone(m.Status)
		m.Values = slices.Clone(m.Values)
		return m
	}
	p.Login, p.Refresh = cloneEP(p.Login), cloneEP(p.Refresh)
	p.AccessExpired, p.RefreshRejected = cloneM(p.AccessExpired), cloneM(p.RefreshRejected)
	p.Presets = edgeClonePresets(p.Presets)
	return p
}

func edgeClonePresets(ps []Preset) []Preset {
	ps = slices.Clone(ps)
	for i := range ps {
		if ps[i].Headers != nil {
			ps[i].Headers = maps.Clone(ps[i].Headers)
		}
	}
	return ps
}

// edgeProtectBuiltins restores the built-in profiles when the test ends, so that a test which
// (through a bug) corrupts them does not break the tests that run after it. Profiles that
// shared demoPresets share the restored copy again.
func edgeProtectBuiltins(t *testing.T) {
	saved := map[string]Profile{}
	shared := map[string]bool{}
	for n, p := range builtins {
		saved[n] = edgeCloneProfile(p)
		shared[n] = len(p.Presets) > 0 && len(demoPresets) > 0 && &p.Presets[0] == &demoPresets[0]
	}
	savedPresets := edgeClonePresets(demoPresets)
	t.Cleanup(func() {
		demoPresets = savedPresets
		for n, p := range saved {
			if shared[n] {
				p.Presets = demoPresets
			}
			builtins[n] = p
		}
	})
}

// edgeProfileDiff names the fields of two profiles that differ, with their values.
func edgeProfileDiff(a, b Profile) []string {
	var out []string
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := range va.NumField() {
		fa, fb := fmt.Sprintf("%+v", va.Field(i).Interface()), fmt.Sprintf("%+v", vb.Field(i).Interface())
		if fa != fb {
			out = append(out, fmt.Sprintf("%s: %s → %s", va.Type().Field(i).Name, fa, fb))
		}
	}
	return out
}

// A profile built on a base must not change the built-in it started from (nor, through shared
// presets, the other built-ins).
func TestEdgeTOMLOverrideLeavesBuiltinsAlone(t *testing.T) {
	cases := []struct{ name, data string }{
		{"matcher slices", "base = \"simplejwt\"\n[access_expired]\nstatus = [403]\nvalues = [\"expired\"]\n"},
		{"rejected status", "base = \"bearer-json\"\n[refresh_rejected]\nstatus = [400]\n"},
		{"extra map", "base = \"oauth2\"\n[login.extra]\ngrant_type = \"client_credentials\"\n"},
		{"preset headers", "base = \"simplejwt\"\n[[presets]]\nname = \"a\"\npath = \"/a\"\n[[presets]]\nname = \"b\"\npath = \"/b\"\n" +
			"[[presets]]\nname = \"c\"\npath = \"/c\"\n[presets.headers]\nX-Extra = \"1\"\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			edgeProtectBuiltins(t)
			before := map[string]Profile{}
			for _, n := range Names() {
				before[n] = edgeCloneProfile(builtinForTest(t, n))
			}
			if _, err := Parse("o.toml", []byte(tc.data)); err != nil {
				t.Fatal(err)
			}
			for _, n := range Names() {
				if d := edgeProfileDiff(before[n], builtinForTest(t, n)); len(d) > 0 {
					t.Errorf("built-in %s changed by parsing a profile: %s", n, strings.Join(d, "; "))
				}
			}
		})
	}
}

// Presets listed in a file replace the base's presets; they do not inherit fields from the
// built-in preset that happened to sit at the same index.
func TestEdgeTOMLPresetsDoNotInheritFromBase(t *testing.T) {
	data := "base = \"element-admin\"\n[[presets]]\nname = \"a\"\nmethod = \"GET\"\npath = \"/a\"\n[[presets]]\nname = \"b\"\npath = \"/b\"\n"
	p, err := Parse("o.toml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Presets) != 2 {
		t.Fatalf("%d presets, want 2", len(p.Presets))
	}
	b := p.Presets[1]
	if b.Name != "b" || b.Path != "/b" || b.Method != "" || b.Body != "" || len(b.Headers) != 0 {
		t.Errorf("preset b = %+v, want only name and path (nothing from the base's %q preset)", b, builtinForTest(t, "element-admin").Presets[1].Name)
	}
}
