package demoserver

import (
	"strings"
	"testing"
	"time"
)

// messageField is where each convention's client finds the human message of an error: the field
// tokenscope's engine shows (error_description, detail, message).
var messageField = map[string]string{SimpleJWT: "detail", BearerJSON: "message", ElementAdmin: "message", OAuth2: "error_description"}

// TestReuseNamedInErrorBody: a reused refresh token, and any token of the family it revoked, is
// rejected in the convention's usual shape (the code clients match on is unchanged) with the
// message naming reuse; a rejection for another cause does not.
func TestReuseNamedInErrorBody(t *testing.T) {
	for _, c := range conventions {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			_, ref := mustLogin(t, h, c)
			a := c.refresh(h, ref)
			expectOK(t, a, "refresh")
			_, ref2 := c.tokens(a)
			for _, tc := range []struct{ tok, want string }{
				{ref, "refresh token reuse detected: it was already used, so its token family is revoked"},
				{ref2, "refresh token reuse detected earlier: its token family is revoked"},
			} {
				a := c.refresh(h, tc.tok)
				c.rejected(t, a)
				if msg := a.str(messageField[c.name]); !strings.Contains(msg, tc.want) {
					t.Errorf("%s %q, want it to contain %q", messageField[c.name], msg, tc.want)
				}
			}
			// An expired refresh token is not reuse, and says nothing of it.
			_, ref3 := mustLogin(t, h, c)
			h.clock.Advance(11 * time.Minute)
			a = c.refresh(h, ref3)
			c.rejected(t, a)
			if msg := a.str(messageField[c.name]); strings.Contains(msg, "reuse") {
				t.Errorf("expired token's %s %q names reuse", messageField[c.name], msg)
			}
		})
	}
}
