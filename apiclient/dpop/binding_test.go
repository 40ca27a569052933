package dpop

import "testing"

func TestBindingOf(t *testing.T) {
	bound := map[string]any{"cnf": map[string]any{"jkt": "abc"}}
	for _, c := range []struct {
		raw    string
		jwt    bool
		claims map[string]any
		want   Binding
	}{
		{"", false, nil, BindingNoToken},
		{"opaque-token", false, nil, BindingOpaque},
		{"a.b.c", true, map[string]any{"sub": "x"}, BindingNoCnf},
		{"a.b.c", true, map[string]any{"cnf": "not an object"}, BindingNoCnf},
		{"a.b.c", true, bound, BindingMatch},
		{"a.b.c", true, map[string]any{"cnf": map[string]any{"jkt": "other"}}, BindingMismatch},
	} {
		if got := BindingOf(c.raw, c.jwt, c.claims, "abc"); got != c.want {
			t.Errorf("BindingOf(%q, %v) = %q, want %q", c.raw, c.claims, got, c.want)
		}
	}
}
