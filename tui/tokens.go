package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"tokenscope/apiclient"
	"tokenscope/apiclient/dpop"
	"tokenscope/apiclient/oidc"
	"tokenscope/apiclient/profile"
	"tokenscope/internal/human"
	"tokenscope/internal/sanitize"
	"tokenscope/session"
)

func (m *Model) tokensHeight() int {
	h := tokenRows
	if m.width >= wideTokens {
		h = wideTokenRows
	}
	if m.idRow {
		h++ // the ID token's line
	}
	return h
}

// tokensView draws the access and refresh token panels: stacked, or side by side when the
// terminal is wide.
func (m *Model) tokensView() string {
	s := m.sh.snap
	serverNow := s.ServerNow(m.sh.now)
	w := m.width
	if w >= wideTokens {
		w = w/2 - 1
	}
	acc := m.tokenLines(tokenPanel{title: "Access", tok: s.Access, verify: s.AccessVerify, threshold: s.Threshold, bar: true,
		extra: fmt.Sprintf("gen #%d via %s", s.Generation, sanitize.Line(s.Source)) + dpopText(s.DPoP)}, serverNow, w)
	ref := m.tokenLines(tokenPanel{title: "Refresh", tok: s.Refresh, verify: s.RefreshVerify, none: m.noRefreshWhy(),
		head:  cookieText(s.RefreshCookie, m.sh.now),
		extra: fmt.Sprintf("family %s · rotated %d×", sanitize.Line(firstRunes(s.Family, 8)), s.Rotations)}, serverNow, w)
	var out string
	if m.width >= wideTokens {
		out = lipgloss.JoinHorizontal(lipgloss.Top, m.styles.tokenLeft.Render(strings.Join(acc, "\n")),
			m.styles.tokenRight.Render(strings.Join(ref, "\n")))
	} else {
		out = strings.Join(append(acc, ref...), "\n")
	}
	if m.idRow {
		out += "\n" + m.idLine(serverNow)
	}
	return out
}

// cookieText is the refresh cookie in a few words: its name and attributes, and when the
// browser would drop it ("" when the refresh token is not a cookie).
func cookieText(c *profile.CookieInfo, now time.Time) string {
	if c == nil {
		return ""
	}
	parts := []string{"cookie " + sanitize.Line(firstRunes(c.Name, 24)) + ":"}
	if c.Resumed {
		parts = append(parts, "resumed")
	}
	for _, a := range []struct {
		on   bool
		text string
	}{{c.HttpOnly, "HttpOnly"}, {c.Secure, "Secure"}, {c.SameSite != "", "SameSite=" + c.SameSite}, {c.Path != "", "Path=" + c.Path}} {
		if a.on {
			parts = append(parts, sanitize.Line(a.text))
		}
	}
	if !c.Expires.IsZero() {
		parts = append(parts, "kept "+strings.TrimSuffix(human.Countdown(c.Expires.Sub(now)), " left")+" more")
	} else if !c.Resumed {
		parts = append(parts, "(until the browser closes)")
	}
	return strings.Join(parts, " ")
}

// dpopText is the access token's DPoP binding in a few words, or "" without DPoP.
func dpopText(d *apiclient.DPoPStatus) string {
	if d == nil {
		return ""
	}
	switch {
	case !d.Bound:
		return " · DPoP not bound (" + sanitize.Line(firstRunes(d.TokenType, 12)) + ")"
	case d.Binding == dpop.BindingMatch:
		return " · DPoP-bound, cnf.jkt ✓"
	case d.Binding == dpop.BindingMismatch:
		return " · DPoP: cnf.jkt is another key's"
	}
	return " · DPoP-bound"
}

// noRefreshWhy says why a logged-in session has no refresh token, when the flow explains it.
func (m *Model) noRefreshWhy() string {
	s := m.sh.snap
	switch {
	case s.Access.Empty():
		return ""
	case s.Flow == oidc.FlowClientCredentials:
		return "client credentials have none: at expiry a new token is fetched, one for all waiting requests"
	case s.Flow != "":
		return "the provider issued none: ask for offline_access in the scope; some providers also want consent"
	}
	return ""
}

// idLine is the ID token in one line: who it names, for whom, its expiry and what was checked.
func (m *Model) idLine(serverNow time.Time) string {
	th := m.sh.theme
	t := m.sh.snap.IDToken
	shown := t.Masked()
	if m.sh.reveal {
		shown = truncate(t.Raw, 40) // whole in the claims panel (c)
	}
	var info []string
	for _, k := range []string{"sub", "aud"} {
		if v := claimText(t.Claims[k]); v != "" {
			info = append(info, k+" "+v)
		}
	}
	if t.HasExpiry() {
		info = append(info, "exp "+t.ExpiresAt.Local().Format("15:04:05")+" ("+human.Countdown(t.Remaining(serverNow))+")")
	}
	check, checkStyle := m.sh.snap.IDTokenCheck, th.OK
	if strings.Contains(check, "not checked") {
		checkStyle = th.Warn
	}
	head := th.Header.Render(fmt.Sprintf("%-*s", tokenIndent, "ID")) + th.Value.Render(sanitize.Line(shown)) + "  "
	rest := checkStyle.Render(sanitize.Line(check)) + th.Label.Render(" · "+sanitize.Line(strings.Join(info, " · ")))
	return ansi.Truncate(head+rest, m.width, "…")
}

// claimText is a string claim, or a list of strings (aud may be either), clipped.
func claimText(v any) string {
	switch v := v.(type) {
	case string:
		return firstRunes(v, 40)
	case []any:
		var parts []string
		for _, p := range v {
			if s, ok := p.(string); ok {
				parts = append(parts, s)
			}
		}
		return firstRunes(strings.Join(parts, ","), 40)
	}
	return ""
}

// tokenPanel is what one token panel shows.
type tokenPanel struct {
	title     string
	tok       session.Token
	verify    session.Verification
	threshold time.Duration
	extra     string
	bar       bool   // the access token's countdown bar
	none      string // why there is no token, when known
	head      string // said after the value on the first line (the refresh cookie)
}

func (p tokenPanel) rows() int {
	if p.bar {
		return 4
	}
	return 3
}

// tokenLines draws one token: title and masked value, its claims in brief, times, and for the
// access token a countdown bar coloured by phase.
func (m *Model) tokenLines(p tokenPanel, serverNow time.Time, w int) []string {
	th := m.sh.theme
	if p.tok.Empty() {
		none := "none"
		if p.none != "" {
			none += " · " + p.none
		}
		lines := []string{th.Header.Render(fmt.Sprintf("%-*s", tokenIndent, p.title)) + th.Muted.Render(truncate(none, max(w-tokenIndent, 10)))}
		for len(lines) < p.rows() {
			lines = append(lines, "")
		}
		return lines
	}
	shown := p.tok.Masked()
	if m.sh.reveal {
		shown = p.tok.Raw
	}
	indent := strings.Repeat(" ", tokenIndent)
	head := th.Header.Render(fmt.Sprintf("%-*s", tokenIndent, p.title)) + th.Value.Render(truncate(sanitize.Line(shown), max(w-10, 10)))
	if p.head != "" {
		head = truncate(head+th.Label.Render("  "+p.head), w)
	}
	phase := p.tok.Phase(serverNow, p.threshold)
	// After a rejected refresh the server no longer takes these tokens, whatever exp says.
	ended := m.sh.snap.State == session.StateLoginRequired
	lines := []string{head, indent + m.tokenInfo(p, w), indent + m.tokenTimes(p.tok, phase, serverNow, ended)}
	if p.bar {
		lines = append(lines, indent+m.countdownBar(p.tok, serverNow, phase, ended, max(w-10, 10)))
	}
	return lines
}

// tokenInfo is a token's second line: alg, kid and subject, where it came from, and whether
// its signature was checked.
func (m *Model) tokenInfo(p tokenPanel, w int) string {
	th := m.sh.theme
	t := p.tok
	var info []string
	if t.JWT && p.bar { // the refresh token's alg and kid are the access token's, as a rule
		info = append(info, sanitize.Line(t.Alg))
		if t.Kid != "" {
			info = append(info, "kid "+sanitize.Line(t.Kid))
		}
		if sub := t.Subject(); sub != "" {
			info = append(info, "sub "+sanitize.Line(sub))
		}
	} else if !t.JWT {
		info = append(info, "opaque")
	}
	info = append(info, p.extra)
	// The check's reason can quote the token's header: it gets at most what leaves the
	// panel's own facts a third of the line.
	verdict := p.verify.String()
	if !t.JWT && p.verify.Status != session.Verified && p.verify.Status != session.Invalid {
		verdict = "no signature to check" // an opaque token is the server's to judge
	}
	sig := truncate(sanitize.Line(verdict), max((w-tokenIndent)*2/3, 10))
	sigStyle := th.Muted
	switch p.verify.Status {
	case session.Verified:
		sigStyle = th.OK
	case session.Invalid:
		sigStyle = th.Bad
	}
	return th.Label.Render(truncate(strings.Join(info, " · ")+" · ", max(w-ansi.StringWidth(sig)-tokenIndent, 8))) + sigStyle.Render(sig)
}

// tokenTimes is a token's third line: when it was issued, when it expires, how long is left.
func (m *Model) tokenTimes(t session.Token, phase session.Phase, serverNow time.Time, ended bool) string {
	th := m.sh.theme
	var times string
	if t.HasExpiry() {
		leftText := human.Countdown(t.Remaining(serverNow))
		leftStyle := m.phaseStyle(phase)
		if ended {
			leftText, leftStyle = m.words.ended, th.Bad
		}
		if !t.IssuedAt.IsZero() {
			times = "iat " + t.IssuedAt.Local().Format("15:04:05") + " · "
		} else if t.ExpirySource == "expires_in" {
			times = "expires_in " + human.Duration(t.Lifetime()) + " · "
		}
		times += "exp " + t.ExpiresAt.Local().Format("15:04:05") + " · "
		times = th.Label.Render(times) + leftStyle.Render(leftText)
	} else {
		times = th.Muted.Render("no expiry")
	}
	if t.DecodeErr != "" {
		times += th.Warn.Render(" · " + truncate(sanitize.Line(t.DecodeErr), 40))
	}
	return times
}

func (m *Model) phaseStyle(p session.Phase) lipgloss.Style {
	switch p {
	case session.PhaseRefreshWindow:
		return m.sh.theme.Warn
	case session.PhaseExpired:
		return m.sh.theme.Bad
	case session.PhaseFresh:
		return m.sh.theme.OK
	}
	return m.sh.theme.Muted
}

// countdownBar is drawn by hand from theme styles: exact at any width, and in colour only
// when the theme has colour (the phase name says the same in words).
func (m *Model) countdownBar(t session.Token, serverNow time.Time, p session.Phase, ended bool, width int) string {
	th := m.sh.theme
	label, style, fill := " "+p.String(), m.phaseStyle(p), "█"
	if ended {
		// The time left is moot: drawn faint and hollow, labelled for what it is.
		label, style, fill = " rejected", th.Bad, "▒"
	}
	barW := max(width-len(label), 4)
	filled := int(t.FractionLeft(serverNow)*float64(barW) + 0.5)
	fillStyle := style
	if ended {
		fillStyle = th.Subtle
	}
	// The refresh window starts where the fill's edge meets the mark: the proactive refresh
	// comes when the bar shrinks past it.
	mark := -1
	if thr, life := m.sh.snap.Threshold, t.Lifetime(); thr > 0 && life > thr {
		mark = min(int(float64(thr)/float64(life)*float64(barW)+0.5), barW-1)
	}
	var b strings.Builder
	for _, seg := range []struct {
		from, to int
		s        lipgloss.Style
		c        string
	}{{0, min(filled, barW), fillStyle, fill}, {min(filled, barW), barW, th.Subtle, "░"}} {
		if mark >= seg.from && mark < seg.to {
			b.WriteString(seg.s.Render(strings.Repeat(seg.c, mark-seg.from)))
			b.WriteString(th.Warn.Render("┊"))
			b.WriteString(seg.s.Render(strings.Repeat(seg.c, seg.to-mark-1)))
			continue
		}
		b.WriteString(seg.s.Render(strings.Repeat(seg.c, seg.to-seg.from)))
	}
	return b.String() + style.Render(label)
}

func firstRunes(s string, n int) string {
	r := []rune(s)
	return string(r[:min(n, len(r))])
}
