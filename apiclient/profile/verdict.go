package profile

// The one verdict on a refresh answer: the engine's refresh, its client-credentials refresh and
// observe's reading of an app's refresh all decide ok / transient / rejected here, by the
// profile's rules, so that they cannot drift apart.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"tokenscope/internal/sanitize"
)

// Outcome is what a refresh answer means for the session.
type Outcome int

// Outcomes.
const (
	// VerdictOK: the answer carries tokens the profile can read.
	VerdictOK Outcome = iota
	// VerdictTransient: the refresh failed for now (5xx, 408, 429, a timeout, a network error,
	// an answer that could not be read); the session is kept and the refresh retried.
	VerdictTransient
	// VerdictRejected: the refresh token is no longer good; a login is required.
	VerdictRejected
)

func (o Outcome) String() string {
	switch o {
	case VerdictOK:
		return "ok"
	case VerdictTransient:
		return "transient"
	case VerdictRejected:
		return "rejected"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Cause is what decided a verdict.
type Cause int

// Causes.
const (
	CauseTokens     Cause = iota // ok: the answer's tokens were read
	CauseMatched                 // rejected: the profile's refresh_rejected matcher matched
	CauseStatus                  // the status alone: 5xx, 408, 429 transient; any other 4xx rejected
	CauseRedirect                // rejected: a 3xx, not followed (a refresh token goes to the refresh endpoint only)
	CauseUnreadable              // transient: a 2xx (or other) answer without tokens the profile can read
	CauseTransport               // transient: no answer at all (network error, timeout)
)

// Reply is what came back from a refresh call.
type Reply struct {
	Status int
	Header http.Header
	Body   []byte
	// Err is the transport's error when there was no answer; Status, Header and Body are then
	// ignored.
	Err error
	// ServerRecv is when the answer arrived, on the server's clock: opaque tokens' expiries
	// count from it.
	ServerRecv time.Time
	// Redact masks the session's secrets in text quoted from the answer (and may clip it); nil
	// quotes as is.
	Redact func(string) string
}

// Verdict is the one judgement of a refresh answer.
type Verdict struct {
	Outcome Outcome
	Cause   Cause
	// Why names what decided it in a few words, never a value the server chose: the matcher's
	// reason ("401 code token_not_valid"), the status's text ("Bad Request"), "HTTP 302
	// redirect", the parse or transport error.
	Why string
	// Words are what the server said, redacted: its error message (Supabase's msg, Google's
	// nested error.message, OAuth's error_description, ...) or the start of its body. Empty for
	// an answer that was read or never came.
	Words string
	// Answer holds the tokens when Outcome is VerdictOK.
	Answer Answer
	// Err is the parse error (CauseUnreadable) or the transport error (CauseTransport).
	Err error
}

// RefreshVerdict judges a refresh answer by the profile's rules: the refresh_rejected matcher
// first; then 5xx, 408 and 429 are transient, a redirect and any other 4xx rejected; anything
// else must carry tokens at the refresh's token paths, or it is transient (an HTML error page
// from a proxy, a half-written body may well be right the next time).
func (p Profile) RefreshVerdict(r Reply) Verdict {
	if r.Err != nil {
		return Verdict{Outcome: VerdictTransient, Cause: CauseTransport, Why: r.Err.Error(), Err: r.Err}
	}
	words := func() string { return Words(r.Body, r.Redact) }
	if ok, why := p.RefreshRejected.Match(r.Status, r.Header, r.Body); ok {
		return Verdict{Outcome: VerdictRejected, Cause: CauseMatched, Why: why, Words: words()}
	}
	switch s := r.Status; {
	case s >= 500 || s == http.StatusRequestTimeout || s == http.StatusTooManyRequests:
		return Verdict{Outcome: VerdictTransient, Cause: CauseStatus, Why: http.StatusText(s), Words: words()}
	case s >= 300 && s < 400:
		return Verdict{Outcome: VerdictRejected, Cause: CauseRedirect, Why: fmt.Sprintf("HTTP %d redirect", s)}
	case s >= 400:
		return Verdict{Outcome: VerdictRejected, Cause: CauseStatus, Why: http.StatusText(s), Words: words()}
	}
	a, err := p.ParseAnswer(r.Header, r.Body, r.ServerRecv, false)
	if err != nil {
		return Verdict{Outcome: VerdictTransient, Cause: CauseUnreadable, Why: err.Error(), Err: err}
	}
	return Verdict{Outcome: VerdictOK, Cause: CauseTokens, Answer: a}
}

// Words says what an error answer said: its message field when it has one, else the start of
// the body. redact masks secrets before anything is cut, so that a cut cannot leave most of an
// echoed secret behind; nil quotes as is.
func Words(body []byte, redact func(string) string) string {
	if redact == nil {
		redact = func(s string) string { return s }
	}
	// Decoded once, not once per field: an error body may be megabytes.
	var doc any
	if json.Unmarshal(body, &doc) == nil {
		m, _ := doc.(map[string]any)
		for _, f := range []string{"error_description", "detail", "message", "msg", "error", "reason"} {
			if s, ok := m[f].(string); ok && s != "" {
				return redact(s)
			}
		}
		// Google's APIs (Firebase) nest it: {"error": {"code": 400, "message": "TOKEN_EXPIRED"}}.
		if e, ok := m["error"].(map[string]any); ok {
			if s, ok := e["message"].(string); ok && s != "" {
				return redact(s)
			}
		}
	}
	if len(body) == 0 {
		return "empty body"
	}
	if looksHTML(body) {
		return htmlWords(redact(string(body[:min(len(body), maxHTMLRead)])))
	}
	return Snippet([]byte(redact(string(body))))
}

// maxHTMLRead is how much of an HTML error page is read for its words: its title and first
// lines are near the top, and an error page may be megabytes.
const maxHTMLRead = 16 << 10

// looksHTML reports an HTML document: a gateway's or a framework's error page rather than an
// API's answer.
func looksHTML(b []byte) bool {
	b = bytes.TrimSpace(b[:min(len(b), 512)])
	if len(b) == 0 || b[0] != '<' {
		return false
	}
	low := bytes.ToLower(b)
	return bytes.HasPrefix(low, []byte("<!doctype html")) || bytes.Contains(low, []byte("<html")) ||
		bytes.Contains(low, []byte("<body")) || bytes.Contains(low, []byte("<h1"))
}

var (
	htmlTitle   = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)
	htmlNoWords = regexp.MustCompile(`(?is)<(head|script|style)\b[^>]*>.*?</(head|script|style)\s*>|<!--.*?-->`)
	htmlTag     = regexp.MustCompile(`(?s)<[^>]*>`)
)

// htmlWords is an HTML page as the text a browser shows of it, on one line: "HTML page: 502
// Bad Gateway nginx", its title first when the text does not start with it. Quoted with its
// markup ("<html>\r\n<head>…") it said nothing a person could read.
func htmlWords(page string) string {
	text := htmlText(htmlNoWords.ReplaceAllString(page, " "))
	if m := htmlTitle.FindStringSubmatch(page); m != nil {
		if title := htmlText(m[1]); title != "" && !strings.HasPrefix(text, title) {
			text = strings.TrimSpace(title + ": " + text)
		}
	}
	if text == "" {
		return "an HTML page with no text"
	}
	const n = 100
	if utf8.RuneCountInString(text) > n {
		text = string([]rune(text)[:n]) + "…"
	}
	return "HTML page: " + text
}

// htmlText is markup's text: tags dropped, entities read, whitespace one space, nothing that
// could act on a terminal.
func htmlText(s string) string {
	s = html.UnescapeString(htmlTag.ReplaceAllString(s, " "))
	return strings.TrimSpace(sanitize.Line(strings.Join(strings.Fields(s), " ")))
}
