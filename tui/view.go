package tui

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/aymanbagabas/go-osc52/v2"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"tokenscope/apiclient"
	"tokenscope/session"
)

// Layout sizes, in cells.
const (
	minWidth       = 60
	minHeight      = 18
	tokenRows      = 7 // two token panels: title + 2 lines + bar, and title + 2 lines
	timelineRows   = 3
	chromeRows     = 3 // header, tabs, help bar
	requestListMax = 34
	wideTokens     = 150 // at this width the token panels sit side by side
)

func osc52Copy(s string) error {
	_, err := osc52.New(s).WriteTo(stdoutWriter())
	return err
}

func (m *Model) mainHeight() int {
	return max(m.height-chromeRows-timelineRows-m.tokensHeight(), 1)
}

func (m *Model) tokensHeight() int {
	if m.width >= wideTokens {
		return 4
	}
	return tokenRows
}

// View draws the screen. It does no I/O and builds no styles.
func (m *Model) View() string {
	if m.quitting {
		return ""
	}
	if m.width == 0 {
		return "starting tokenscope…"
	}
	if m.width < minWidth || m.height < minHeight {
		msg := fmt.Sprintf("tokenscope needs a terminal of at least %d×%d\n(this one is %d×%d)\n\nq quits", minWidth, minHeight, m.width, m.height)
		return lipgloss.Place(m.width, m.height, lipgloss.Center, lipgloss.Center, msg)
	}
	if m.showHelp {
		return m.helpView()
	}
	parts := []string{m.headerView(), m.tokensView(), m.timelineView(), m.tabsView()}
	var main string
	if m.loginDialog() {
		main = m.dialogView(m.mainHeight())
	} else {
		main = m.mainView(m.mainHeight())
	}
	if m.editing {
		main = m.editorView(m.mainHeight())
	}
	parts = append(parts, main, m.helpBar())
	return strings.Join(parts, "\n")
}

func (m *Model) loginDialog() bool {
	return m.snap.State == session.StateLoginRequired && !m.dismissed
}

func (m *Model) headerView() string {
	th := m.theme
	s := m.snap
	target := strings.TrimPrefix(s.Target, "http://")
	if m.opts.Demo {
		target = "demo " + target
	}
	state := s.State.String()
	stateStyle := th.OK
	switch s.State {
	case session.StateRefreshing:
		stateStyle = th.Refresh
	case session.StateLoginRequired, session.StateLoggedOut:
		stateStyle = th.Bad
	case session.StateActive:
		// Active means the session can refresh; with the strategy off (or between requests in
		// reactive mode) the token in hand may be dead all the same.
		if s.Access.Phase(s.ServerNow(m.now), s.Threshold) == session.PhaseExpired {
			state, stateStyle = "active · access token expired", th.Warn
		}
	}
	sf := th.Value.Render("single flight")
	if !s.SingleFlight {
		sf = th.Warn.Render("NO single flight")
	}
	skew := "skew ?"
	if s.Skew.Known {
		skew = fmt.Sprintf("skew %+.1fs", s.Skew.Applied().Seconds())
	}
	sep := th.Subtle.Render(" · ")
	// Most telling first: a narrow terminal cuts from the right.
	fields := []string{
		th.Title.Render("tokenscope") + " " + stateStyle.Render("● "+state),
		th.Label.Render("strategy ") + th.Value.Render(string(s.Strategy)),
		sf,
		th.Label.Render(skew),
		th.Value.Render(s.Profile),
		th.Value.Render(SanitizeLine(target)),
	}
	if m.inflight > 0 {
		fields = append(fields, th.Wait.Render(fmt.Sprintf("%d in flight", m.inflight)))
	}
	if m.opts.Insecure {
		// Second place, so that no terminal is too narrow to show it.
		fields = append([]string{fields[0], th.Banner.Render(" INSECURE TLS: certificates not verified ")}, fields[1:]...)
	}
	line := strings.Join(fields, sep)
	return ansi.Truncate(line, m.width, "…")
}

func (m *Model) tokensView() string {
	s := m.snap
	serverNow := s.ServerNow(m.now)
	acc := m.tokenLines("Access", s.Access, serverNow, s.Threshold, fmt.Sprintf("gen #%d via %s", s.Generation, SanitizeLine(s.Source)), s.AccessVerify, true)
	ref := m.tokenLines("Refresh", s.Refresh, serverNow, 0,
		fmt.Sprintf("family %s · rotated %d×", SanitizeLine(firstRunes(s.Family, 8)), s.Rotations), s.RefreshVerify, false)
	if m.width >= wideTokens {
		half := m.width / 2
		left := lipgloss.NewStyle().Width(half).Render(strings.Join(acc, "\n"))
		right := lipgloss.NewStyle().Width(m.width - half).Render(strings.Join(ref, "\n"))
		return lipgloss.JoinHorizontal(lipgloss.Top, left, right)
	}
	return strings.Join(append(acc, ref...), "\n")
}

// tokenLines draws one token: title and masked value, its claims in brief, times, and for the
// access token a countdown bar coloured by phase.
func (m *Model) tokenLines(title string, t session.Token, serverNow time.Time, thr time.Duration, extra string, v session.Verification, bar bool) []string {
	th := m.theme
	w := m.width
	if w >= wideTokens {
		w = w/2 - 1
	}
	if t.Empty() {
		lines := []string{th.Header.Render(title) + "  " + th.Muted.Render("none")}
		for len(lines) < m.tokenPanelRows(bar) {
			lines = append(lines, "")
		}
		return lines
	}
	shown := t.Masked()
	if m.reveal {
		shown = t.Raw
	}
	head := th.Header.Render(fmt.Sprintf("%-8s", title)) + th.Value.Render(truncate(SanitizeLine(shown), max(w-10, 10)))
	var info []string
	if t.JWT && bar { // the refresh token's alg and kid are the access token's, as a rule
		info = append(info, SanitizeLine(t.Alg))
		if t.Kid != "" {
			info = append(info, "kid "+SanitizeLine(t.Kid))
		}
		if sub := t.Subject(); sub != "" {
			info = append(info, "sub "+SanitizeLine(sub))
		}
	} else if !t.JWT {
		info = append(info, "opaque")
	}
	info = append(info, extra)
	sig := v.String()
	sigStyle := th.Muted
	switch v.Status {
	case session.Verified:
		sigStyle = th.OK
	case session.Invalid:
		sigStyle = th.Bad
	}
	line2 := "        " + th.Label.Render(truncate(strings.Join(info, " · ")+" · ", max(w-len(sig)-8, 8))) + sigStyle.Render(sig)

	var times string
	phase := t.Phase(serverNow, thr)
	// After a rejected refresh the server no longer takes these tokens, whatever exp says.
	ended := m.snap.State == session.StateLoginRequired
	if t.HasExpiry() {
		left := t.Remaining(serverNow)
		leftText := fmtLeft(left)
		if ended {
			leftText = "session ended: log in again (l)"
		}
		if !t.IssuedAt.IsZero() {
			times = "iat " + t.IssuedAt.Local().Format("15:04:05") + " · "
		} else if t.ExpirySource == "expires_in" {
			times = fmt.Sprintf("expires_in %s · ", t.Lifetime().Round(time.Second))
		}
		times += "exp " + t.ExpiresAt.Local().Format("15:04:05") + " · "
		leftStyle := m.phaseStyle(phase)
		if ended {
			leftStyle = th.Bad
		}
		times = th.Label.Render(times) + leftStyle.Render(leftText)
	} else {
		times = th.Muted.Render("no expiry")
	}
	if t.DecodeErr != "" {
		times += th.Warn.Render(" · " + truncate(SanitizeLine(t.DecodeErr), 40))
	}
	lines := []string{head, line2, "        " + times}
	if bar {
		lines = append(lines, "        "+m.countdownBar(t, serverNow, phase, ended, max(w-10, 10)))
	}
	return lines
}

func (m *Model) tokenPanelRows(bar bool) int {
	if bar {
		return 4
	}
	return 3
}

func fmtLeft(d time.Duration) string {
	switch {
	case d <= 0:
		return fmt.Sprintf("expired %s ago", roundLeft(-d))
	default:
		return roundLeft(d) + " left"
	}
}

func roundLeft(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

func (m *Model) phaseStyle(p session.Phase) lipgloss.Style {
	switch p {
	case session.PhaseRefreshWindow:
		return m.theme.Warn
	case session.PhaseExpired:
		return m.theme.Bad
	case session.PhaseFresh:
		return m.theme.OK
	}
	return m.theme.Muted
}

// countdownBar is drawn by hand from theme styles: exact at any width, and in colour only
// when the theme has colour (the phase name says the same in words).
func (m *Model) countdownBar(t session.Token, serverNow time.Time, p session.Phase, ended bool, width int) string {
	label, style, fill := " "+p.String(), m.phaseStyle(p), "█"
	if ended {
		// The time left is moot: drawn faint and hollow, labelled for what it is.
		label, style, fill = " rejected", m.theme.Bad, "▒"
	}
	barW := max(width-len(label), 4)
	filled := int(t.FractionLeft(serverNow)*float64(barW) + 0.5)
	body := style.Render(strings.Repeat(fill, filled))
	if ended {
		body = m.theme.Subtle.Render(strings.Repeat(fill, filled))
	}
	return body + m.theme.Subtle.Render(strings.Repeat("░", barW-filled)) + style.Render(label)
}

// timelineView is the last few minutes at a glance: one column per time slot, access-token
// generations as alternating bars on the top row, and the most telling event of each slot on
// the bottom row (401 > refresh failure > refresh > retry > request).
func (m *Model) timelineView() string {
	th := m.theme
	labelW := 9
	cols := max(m.width-labelW, 10)
	slot := time.Second
	span := time.Duration(cols) * slot
	end := m.now.Truncate(slot).Add(slot)
	start := end.Add(-span)

	nowCol := min(int(m.now.Sub(start)/slot), cols-1)
	skew := m.snap.Skew.Applied()
	gens := make([]int, cols)
	rank := make([]int, cols)
	marks := make([]rune, cols)
	for i := range cols {
		t := start.Add(time.Duration(i) * slot)
		b := m.log.buckets[t.Unix()]
		rank[i], marks[i] = b.rank, b.mark
		if marks[i] == 0 {
			marks[i] = ' '
		}
		if i <= nowCol {
			gens[i] = m.log.genAt(t.Add(slot-1), skew)
		}
	}
	// Cells are grouped into runs of one style: one escape sequence per run, not per cell.
	var top, bottom runs
	for i := range cols {
		switch {
		case i > nowCol || gens[i] == 0:
			top.add(-1, ' ')
		case gens[i]%2 == 1:
			top.add(1, '▀')
		case m.theme.Mono:
			top.add(2, '▔') // without colour, the shape tells neighbouring generations apart
		default:
			top.add(2, '▀')
		}
		bottom.add(rank[i], marks[i])
	}
	topStyle := func(k int) lipgloss.Style {
		if k == 1 {
			return th.Refresh
		}
		return th.Info
	}
	legend := th.Subtle.Render(fmt.Sprintf("last %s  ▀ access token (one bar per generation)  R refresh  ! 401  x failed  ↻ retry  p parked  • request", span))
	return th.Label.Render(fmt.Sprintf("%-*s", labelW, "tokens")) + top.render(topStyle) + "\n" +
		th.Label.Render(fmt.Sprintf("%-*s", labelW, "events")) + bottom.render(m.markStyle) + "\n" +
		ansi.Truncate(legend, m.width, "…")
}

// runs collects cells as (style key, text) runs; key <= 0 is drawn unstyled.
type runs struct {
	keys []int
	text []strings.Builder
}

func (r *runs) add(k int, c rune) {
	if n := len(r.keys); n == 0 || r.keys[n-1] != k {
		r.keys = append(r.keys, k)
		r.text = append(r.text, strings.Builder{})
	}
	r.text[len(r.text)-1].WriteRune(c)
}

func (r *runs) render(style func(int) lipgloss.Style) string {
	var b strings.Builder
	for i, k := range r.keys {
		if k <= 0 {
			b.WriteString(r.text[i].String())
			continue
		}
		b.WriteString(style(k).Render(r.text[i].String()))
	}
	return b.String()
}

func markOf(e session.Event) (int, rune) {
	switch e.Kind {
	case session.KindUnauthorized:
		return 6, '!'
	case session.KindRefreshFailed, session.KindRequestFailed, session.KindLogout:
		return 5, 'x'
	case session.KindRefreshStart:
		return 4, 'R'
	case session.KindRetry, session.KindReplayed:
		return 3, '↻'
	case session.KindParked:
		return 2, 'p'
	case session.KindRequest:
		return 1, '•'
	}
	return 0, ' '
}

func (m *Model) markStyle(rank int) lipgloss.Style {
	switch rank {
	case 6:
		return m.theme.Warn
	case 5:
		return m.theme.Bad
	case 4:
		return m.theme.Refresh
	case 3:
		return m.theme.Retry
	}
	return m.theme.Muted
}

func (m *Model) tabsView() string {
	th := m.theme
	var tabs []string
	for i, n := range paneNames {
		if pane(i) == m.focus {
			tabs = append(tabs, th.Selected.Render("["+n+"]"))
		} else {
			tabs = append(tabs, th.Muted.Render(" "+n+" "))
		}
	}
	right := ""
	switch m.focus {
	case paneLog:
		right = m.log.status()
		if m.filtering {
			right = m.filterIn.View()
		}
	case paneRequests:
		right = fmt.Sprintf("burst size %d (+/-)", m.burstN)
	}
	line := strings.Join(tabs, " ") + "  " + th.Muted.Render(right)
	return ansi.Truncate(line, m.width, "…")
}

func (m *Model) mainView(h int) string {
	var lines []string
	switch m.focus {
	case paneLog:
		lines = m.log.lines(m.theme, m.width, h)
		if len(lines) == 0 {
			msg := "no events yet: press enter to send the selected request, b for a burst"
			if m.log.filter != "" {
				msg = "no event matches the filter (esc clears it)"
			} else if m.log.cleared {
				msg = "log cleared: new events appear here"
			}
			lines = []string{m.theme.Muted.Render(msg)}
		}
	case paneRequests:
		return m.requestsView(h)
	case paneClaims:
		lines = m.claimsLines(h)
	}
	return fill(lines, h)
}

func fill(lines []string, h int) string {
	for len(lines) < h {
		lines = append(lines, "")
	}
	return strings.Join(lines[:h], "\n")
}

func (m *Model) requestsView(h int) string {
	th := m.theme
	listW := min(requestListMax, m.width/3)
	var list []string
	for i, r := range m.requests {
		label := truncate(SanitizeLine(requestLabel(r)), listW-2)
		if i == m.selected {
			list = append(list, th.Selected.Render("▸ "+label))
		} else {
			list = append(list, "  "+th.Value.Render(label))
		}
	}
	left := lipgloss.NewStyle().Width(listW).Render(fill(list, h))
	right := lipgloss.NewStyle().Width(m.width - listW - 1).Render(fill(m.responseLines(m.width-listW-1, h), h))
	return lipgloss.JoinHorizontal(lipgloss.Top, left, " ", right)
}

// requestLabel is how the request list names a request: its name first when it has one.
func requestLabel(r apiclient.Request) string {
	mp := r.Method + " " + r.Path
	if r.Name == "" || r.Name == mp {
		return mp
	}
	return r.Name + " · " + mp
}

// responseLines shows the selected request's last answer: status, time, headers, pretty body.
func (m *Model) responseLines(w, h int) []string {
	th := m.theme
	if len(m.requests) == 0 {
		return []string{th.Muted.Render("no requests: press e to compose one")}
	}
	req := m.requests[m.selected]
	r, ok := m.results[m.selected]
	head := []string{th.Header.Render(truncate(SanitizeLine(req.Method+" "+req.Path), w))}
	if !ok {
		head = append(head, th.Muted.Render(truncate("not sent yet: enter sends it, b sends a burst, e edits, y copies it as curl", w)))
		// Its headers and body, below the METHOD /path already shown.
		if _, rest, _ := strings.Cut(strings.TrimRight(requestText(req), "\n"), "\n"); strings.TrimSpace(rest) != "" {
			head = append(head, "")
			for _, l := range strings.Split(rest, "\n") {
				head = append(head, th.Label.Render(truncate(SanitizeLine(l), w)))
			}
		}
		return head
	}
	status := fmt.Sprintf("%s · %d · %s · %s", r.Outcome, r.Status, r.Duration.Round(time.Millisecond), plural(r.Attempts, "attempt", "attempts"))
	st := th.OK
	if r.Outcome != apiclient.OK {
		st = th.Bad
	}
	head = append(head, st.Render(truncate(status, w)))
	if r.Reason != "" {
		head = append(head, th.Warn.Render(truncate(SanitizeLine(r.Reason), w)))
	}
	var body []string
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		body = append(body, th.Label.Render(truncate(SanitizeLine(k+": "+strings.Join(r.Header[k], ", ")), w)))
	}
	body = append(body, "")
	for _, l := range strings.Split(prettyBody(r.Body), "\n") {
		body = append(body, th.Value.Render(truncate(l, w)))
	}
	off := min(m.respOff, max(len(body)-1, 0))
	return append(head, body[off:]...)
}

// maxShownBody caps what the response view formats: a huge answer is cut, not drawn whole.
const maxShownBody = 64 << 10

func prettyBody(b []byte) string {
	cut := ""
	if len(b) > maxShownBody {
		b, cut = b[:maxShownBody], fmt.Sprintf("\n… (%d more bytes not shown)", len(b)-maxShownBody)
	}
	var v any
	if json.Unmarshal(b, &v) == nil {
		if out, err := json.MarshalIndent(v, "", "  "); err == nil {
			return Sanitize(string(out)) + cut
		}
	}
	return Sanitize(string(b)) + cut
}

func (m *Model) claimsLines(h int) []string {
	th := m.theme
	var lines []string
	for _, t := range []struct {
		name string
		tok  session.Token
	}{{"access token", m.snap.Access}, {"refresh token", m.snap.Refresh}} {
		lines = append(lines, th.Header.Render(t.name))
		if m.reveal && !t.tok.Empty() {
			// Revealed, the whole token, wrapped: the panel above has room for its ends only.
			for _, l := range strings.Split(ansi.Hardwrap(SanitizeLine(t.tok.Raw), max(m.width-4, 16), true), "\n") {
				lines = append(lines, "  "+th.Value.Render(l))
			}
		}
		switch {
		case t.tok.Empty():
			lines = append(lines, th.Muted.Render("  none"))
		case !t.tok.JWT:
			lines = append(lines, th.Muted.Render("  opaque: no claims to show"))
		default:
			doc := map[string]any{"header": t.tok.Header, "claims": t.tok.Claims}
			out, _ := json.MarshalIndent(doc, "  ", "  ")
			for _, l := range strings.Split("  "+Sanitize(string(out)), "\n") {
				lines = append(lines, th.Value.Render(truncate(l, m.width)))
			}
		}
	}
	off := min(m.claimsOff, max(len(lines)-h, 0))
	return lines[off:]
}

// dialogView puts the login-required box at the bottom of the main pane, under the newest
// lines of the log (or whichever pane is open), so the events that ended the session stay
// in view.
func (m *Model) dialogView(h int) string {
	th := m.theme
	s := m.snap
	boxW := min(76, m.width-4)
	textW := boxW - 4 // border and padding
	wrap := lipgloss.NewStyle().Width(textW)
	body := []string{
		th.Bad.Render("Session ended: login required"),
		th.Value.Render(wrap.Render(SanitizeLine(s.Reason))),
		th.Value.Render(wrap.Render(fmt.Sprintf("%s will be replayed in order after you log in again.", plural(s.Parked, "parked request", "parked requests")))),
		th.Key.Render("l") + th.HelpDesc.Render(" log in again   ") + th.Key.Render("esc") + th.HelpDesc.Render(" dismiss"),
	}
	// A fixed width, so the box does not jump as the parked count grows.
	box := th.FocusedPanel.Width(boxW).Render(strings.Join(body, "\n"))
	box = lipgloss.PlaceHorizontal(m.width, lipgloss.Center, box)
	above := h - lipgloss.Height(box)
	if above < 1 {
		return fill(strings.Split(box, "\n"), h)
	}
	return m.mainView(above) + "\n" + box
}

func (m *Model) editorView(h int) string {
	th := m.theme
	what := "New request"
	if m.editIndex >= 0 {
		what = "Edit request"
	}
	title := th.Header.Render(what) + th.Muted.Render("  METHOD /path, header lines, a blank line, the body")
	m.editor.SetHeight(max(h-2, 3))
	return fill(append([]string{truncate(title, m.width)}, strings.Split(m.editor.View(), "\n")...), h)
}

// helpBar is the bottom line: the last status message or the keys that matter now, then
// "? help" and "q quit", which a narrow terminal never cuts off. Status messages live here
// rather than in a row of their own, so that the screen does not jump as they come and go.
func (m *Model) helpBar() string {
	tail := []key.Binding{m.keys.Help, m.keys.Quit}
	switch {
	case m.editing:
		tail = []key.Binding{composerSave, composerCancel}
	case m.filtering:
		tail = []key.Binding{filterApply, filterClear}
	}
	m.help.Width = 0
	end := m.help.ShortHelpView(tail)
	sep := m.help.Styles.ShortSeparator.Render(m.help.ShortSeparator)
	room := max(m.width-lipgloss.Width(end)-lipgloss.Width(sep), 1)
	if m.flash != "" {
		return m.theme.Info.Render(truncate(SanitizeLine(m.flash), room)) + sep + end
	}
	if m.editing || m.filtering {
		return end
	}
	keys := m.keys.ShortHelp()
	if m.loginDialog() || m.snap.State == session.StateLoginRequired {
		keys = append([]key.Binding{m.keys.Login}, keys...)
	}
	m.help.Width = room
	return m.help.ShortHelpView(keys) + sep + end
}

// Keys of the composer and the filter input, for the bar (the inputs handle them).
var (
	composerSave   = key.NewBinding(key.WithKeys("ctrl+s"), key.WithHelp("ctrl+s", "save"))
	composerCancel = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel"))
	filterApply    = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "apply"))
	filterClear    = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear"))
)

// helpView is the ? overlay: every key, in as many columns as the terminal is wide enough for
// (the designed four groups when they fit), so no key is ever cut off.
func (m *Model) helpView() string {
	th := m.theme
	head := th.Title.Render("tokenscope keys") + th.Muted.Render("   (? or esc closes)")
	note := th.Muted.Render("Fault keys (E X F L K) drive the embedded demo server only.")
	m.help.Width = 0
	groups := m.keys.FullHelp()
	body := m.help.FullHelpView(groups)
	for n := len(groups) - 1; n >= 1 && lipgloss.Width(body) > m.width; n-- {
		body = m.help.FullHelpView(reflowKeys(groups, n))
	}
	if lipgloss.Height(body)+4 > m.height {
		// The smallest terminals: the keys matter more than the title.
		return lipgloss.JoinVertical(lipgloss.Left, body, note)
	}
	return lipgloss.JoinVertical(lipgloss.Left, head, "", body, "", note)
}

// reflowKeys lays the bindings of groups out in n columns, keeping their order.
func reflowKeys(groups [][]key.Binding, n int) [][]key.Binding {
	var all []key.Binding
	for _, g := range groups {
		all = append(all, g...)
	}
	per := (len(all) + n - 1) / n
	cols := make([][]key.Binding, 0, n)
	for len(all) > 0 {
		k := min(per, len(all))
		cols = append(cols, all[:k])
		all = all[k:]
	}
	return cols
}

func stdoutWriter() io.Writer { return os.Stdout }

func (m *Model) applyHelpStyles() {
	th := m.theme
	m.help.Styles.ShortKey = th.Key
	m.help.Styles.FullKey = th.Key
	m.help.Styles.ShortDesc = th.HelpDesc
	m.help.Styles.FullDesc = th.HelpDesc
	m.help.Styles.ShortSeparator = th.Subtle
	m.help.Styles.FullSeparator = th.Subtle
	m.help.Styles.Ellipsis = th.Subtle
}

func firstRunes(s string, n int) string {
	r := []rune(s)
	return string(r[:min(n, len(r))])
}
