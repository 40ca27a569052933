package apiclient

// Keeping secrets out of what the engine says about a server's answers.

import (
	"tokenscope/apiclient/profile"
	"tokenscope/internal/redact"
	"tokenscope/session"
)

// redactClip removes secrets from text built from a server's answer, and clips it to
// session.MaxTextBytes: servers do echo what they were sent ("wrong password hunter2", "bad
// token eyJ…"), and the text goes to the screen, the event log and exports. The session's
// secrets (redact.Secrets) are found in every form a JSON answer, an HTML page or a form body
// writes them in.
//
// Only the start of a long text is searched: what the clip keeps, and a margin so that an echo
// the cut would split is found whole. Reading megabytes of a server's text this way would
// let the server spend seconds of the engine's time.
func (e *Engine) redactClip(s string, extra ...string) string {
	sec := e.cfg.Secrets
	sec.Add(redact.Refresh, extra...) // the refresh token a failed refresh sent: one of the session's
	limit := min(len(s), session.MaxTextBytes+redactMargin*sec.Longest())
	out, end := sec.MaskPrefix(s, limit)
	return session.ClipMore(out, len(s)-end)
}

// redactMargin is how many bytes of text one byte of a secret may take when echoed: &#x27; is
// six, JSON's \u0026#x27; twelve.
const redactMargin = 32

// keepSecret adds a login's or a refresh's tokens to the session's secrets: tokens a refresh
// replaced stay secrets, as a copy of them may still be anywhere.
func (e *Engine) keepSecret(access, refresh, id session.Token) {
	e.cfg.Secrets.Add(redact.Access, access.Raw)
	e.cfg.Secrets.Add(redact.Refresh, refresh.Raw)
	e.cfg.Secrets.Add(redact.IDToken, id.Raw)
}

// Secrets is the session's secrets, for masking what leaves the program.
func (e *Engine) Secrets() *redact.Secrets { return e.cfg.Secrets }

// bodySummary says what an error answer said (profile.Words), redacted and clipped.
func (e *Engine) bodySummary(body []byte, extra ...string) string {
	return profile.Words(body, func(s string) string { return e.redactClip(s, extra...) })
}
