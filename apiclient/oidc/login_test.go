package oidc

import (
	"errors"
	"fmt"
	"testing"
)

// A token call's failure is transient unless the provider gave its verdict: an OAuth error
// below 500 other than 408 and 429.
func TestTransient(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{errors.New("dial tcp: connection refused"), true},
		{&Error{Code: "server_error", Status: 503}, true},
		{&Error{Code: "slow_down", Status: 429}, true},
		{&Error{Code: "timeout", Status: 408}, true},
		{fmt.Errorf("refresh: %w", &Error{Code: "invalid_client", Status: 401}), false},
		{&Error{Code: "invalid_grant", Status: 400}, false},
	} {
		if got := Transient(c.err); got != c.want {
			t.Errorf("Transient(%v) = %t, want %t", c.err, got, c.want)
		}
	}
}

// A login flow the engine runs itself is refused here, not run as some other flow.
func TestLoginRefusesThePasswordFlow(t *testing.T) {
	if _, err := (&Client{}).Login(t.Context(), &Config{Flow: FlowPassword}, ""); err == nil {
		t.Error("the password flow ran")
	}
}
