package oidc

import "testing"

// A login flow the engine runs itself is refused here, not run as some other flow.
func TestLoginRefusesThePasswordFlow(t *testing.T) {
	if _, err := (&Client{}).Login(t.Context(), &Config{Flow: FlowPassword}, "", func(string) {}); err == nil {
		t.Error("the password flow ran")
	}
}
