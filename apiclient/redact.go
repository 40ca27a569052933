package apiclient

// Keeping secrets out of what the engine says about a server's answers.

import (
	"encoding/json"
	"net/url"
	"strings"

	"github.com/go-resty/resty/v2"

	"tokenscope/session"
)

// redact removes secrets from text built from a server's answer: servers do echo what they
// were sent ("wrong password hunter2", "bad token eyJ…"), and the text goes to the screen, the
// event log and exports. Each secret is also looked for in the forms an echo takes: URL-encoded
// (a form body) and JSON-escaped.
func (e *Engine) redact(s string, extra ...string) string {
	e.mu.Lock()
	secrets := append([]string{e.cfg.Password, e.cfg.ClientSecret, e.sess.Access.Raw, e.sess.Refresh.Raw}, extra...)
	e.mu.Unlock()
	for _, sec := range secrets {
		// Very short values would redact ordinary words; nothing that short is a secret worth
		// the damage.
		if len(sec) < 4 {
			continue
		}
		quoted, _ := json.Marshal(sec)
		escaped := string(quoted[1 : len(quoted)-1])
		for _, form := range []string{sec, url.QueryEscape(sec), url.PathEscape(sec), escaped, strings.ReplaceAll(escaped, "/", `\/`)} {
			s = strings.ReplaceAll(s, form, "[redacted]")
		}
	}
	return s
}

// bodySummary says what an error answer said: its message field when it has one, else the
// start of the body. The whole body is redacted before anything is taken from it, so that a
// cut cannot leave most of an echoed secret behind.
func (e *Engine) bodySummary(resp *resty.Response, extra ...string) string {
	body := []byte(e.redact(string(resp.Body()), extra...))
	for _, f := range []string{"error_description", "detail", "message", "error", "reason"} {
		if v, ok := lookupJSON(body, f); ok {
			if s, ok := v.(string); ok && s != "" {
				// Redacted again (a JSON escape may have hidden a secret from the first pass), then
				// clipped: a message may be megabytes.
				return session.Clip(e.redact(s, extra...))
			}
		}
	}
	if len(body) == 0 {
		return "empty body"
	}
	return snippet(body)
}
