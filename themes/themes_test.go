package themes

import (
	"math"
	"testing"

	"github.com/charmbracelet/lipgloss"
	"github.com/lucasb-eyer/go-colorful"
	"github.com/muesli/termenv"
)

func TestEveryNameBuilds(t *testing.T) {
	for _, n := range Names() {
		th, ok := Get(n)
		if !ok {
			t.Fatalf("theme %q missing", n)
		}
		if n == "mono" != th.Mono {
			t.Errorf("%s: Mono = %v", n, th.Mono)
		}
	}
	if _, ok := Get("neon"); ok {
		t.Error("unknown theme accepted")
	}
}

func TestMonoHasNoColour(t *testing.T) {
	th, _ := Get("mono")
	for name, s := range map[string]lipgloss.Style{"ok": th.OK, "bad": th.Bad, "refresh": th.Refresh, "title": th.Title} {
		if _, isNo := s.GetForeground().(lipgloss.NoColor); !isNo {
			t.Errorf("mono %s style has a colour: %v", name, s.GetForeground())
		}
	}
	dark, _ := Get("dark")
	if _, isNo := dark.Bad.GetForeground().(lipgloss.NoColor); isNo {
		t.Error("dark theme has no colour for errors")
	}
}

func TestNoColorPicksMono(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	if Default() != "mono" {
		t.Errorf("NO_COLOR set, default %q", Default())
	}
}

func TestNextCycles(t *testing.T) {
	seen := map[string]bool{}
	n := "dark"
	for range Names() {
		seen[n] = true
		n = Next(n)
	}
	if len(seen) != len(Names()) || n != "dark" {
		t.Errorf("cycle visited %v and ended at %s", seen, n)
	}
	if Next("bogus") != "dark" {
		t.Error("unknown name does not restart the cycle")
	}
}

// TestReadableContrast: text of every role that carries words stays readable on the
// background each theme is meant for (WCAG contrast: 4.5 for body text, 3 for the faintest
// role, which holds timestamps, separators and the legend). The palettes are xterm-256
// indices; the backgrounds are a typical dark (#1e1e1e) and light (#ffffff) terminal.
func TestReadableContrast(t *testing.T) {
	bg := map[string]string{"dark": "#1e1e1e", "light": "#ffffff", "high-contrast": "#000000"}
	for _, p := range palettes {
		back, _ := colorful.Hex(bg[p.Name])
		roles := map[string]struct {
			c   lipgloss.TerminalColor
			min float64
		}{
			"text": {p.Text, 7}, "muted": {p.Muted, 4.5}, "subtle": {p.Subtle, 3},
			"ok": {p.OK, 3}, "warn": {p.Warn, 3}, "bad": {p.Bad, 3}, "info": {p.Info, 3},
			"refresh": {p.Refresh, 3}, "wait": {p.Wait, 3}, "retry": {p.Retry, 3}, "accent": {p.Accent, 3},
		}
		for role, r := range roles {
			fg := termenv.ConvertToRGB(termenv.ANSI256.Color(string(r.c.(lipgloss.Color))))
			if c := contrast(fg, back); c < r.min {
				t.Errorf("%s %s (colour %v) on %s: contrast %.2f, want ≥ %.1f", p.Name, role, r.c, bg[p.Name], c, r.min)
			}
		}
	}
}

func contrast(a, b colorful.Color) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

func luminance(c colorful.Color) float64 {
	lin := func(v float64) float64 {
		if v <= 0.03928 {
			return v / 12.92
		}
		return math.Pow((v+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c.R) + 0.7152*lin(c.G) + 0.0722*lin(c.B)
}
