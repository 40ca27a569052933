package apiclient

import (
	"testing"
	"time"

	"tokenscope/session"
)

// TestTrustThresholdCopiedIat: the threshold is a fraction of the life a token arrives with,
// not of exp minus an iat the server copied from an older token: a 5 s token whose iat is an
// hour old gets the 5 s token's 1 s, not 5 min (which it would be born inside). Lifetime, the
// claims' own view, is left as it is.
func TestTrustThresholdCopiedIat(t *testing.T) {
	e := &Engine{}
	recv := epoch.Add(24 * time.Hour)
	cases := []struct {
		name          string
		iat, exp      time.Time
		want, wantAge time.Duration
	}{
		{"iat copied an hour back", recv.Add(-time.Hour), recv.Add(5 * time.Second), time.Second, time.Hour + 5*time.Second},
		{"iat copied 25 s back", recv.Add(-25 * time.Second), recv.Add(5 * time.Second), time.Second, 30 * time.Second},
		{"30 s token, iat the second before", recv.Add(-400 * time.Millisecond), recv.Add(29600 * time.Millisecond), 5 * time.Second, 30 * time.Second},
		{"1 h token minted as sent", recv, recv.Add(time.Hour), 5 * time.Minute, time.Hour},
		{"iat ahead of arrival (clock skew)", recv.Add(2 * time.Second), recv.Add(32 * time.Second), 5 * time.Second, 30 * time.Second},
	}
	for _, c := range cases {
		tok := session.Token{IssuedAt: c.iat, ExpiresAt: c.exp, ReceivedAt: recv}
		if got := e.thresholdFor(tok); got != c.want {
			t.Errorf("%s: threshold %v, want %v", c.name, got, c.want)
		}
		if got := tok.Lifetime(); got != c.wantAge {
			t.Errorf("%s: Lifetime %v, want %v (exp − iat, unchanged)", c.name, got, c.wantAge)
		}
	}
}
