package themes

import (
	"testing"

	"github.com/charmbracelet/lipgloss"
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
