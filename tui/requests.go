package tui

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"tokenscope/apiclient/profile"
	"tokenscope/session"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"tokenscope/apiclient"
	"tokenscope/apiclient/httpfile"
	"tokenscope/internal/human"
	"tokenscope/internal/sanitize"
)

var burstSizes = []int{10, 50, 100, 500, 1000}

// requestsPanel is the request list beside the selected request's last answer, which scrolls.
type requestsPanel struct {
	sh       *shared
	keys     scrollKeys // up and down pick a request, the page keys scroll its answer
	own      requestKeys
	delAsked int // the request d was pressed on once, +1; 0: none
	list     []profile.Request
	selected int
	answers  *answers // the answers, the model's: the last one per request, the history
	flights  *flights // the requests in flight, the model's
	burstN   int

	head              []string // the answer's fixed lines: request, status, reason
	resp              viewport.Model
	width, height     int
	listW             int
	listCol, rightCol lipgloss.Style
}

func newRequestsPanel(sh *shared, reqs []profile.Request, ans *answers, fl *flights) *requestsPanel {
	return &requestsPanel{
		sh: sh, list: reqs, answers: ans, flights: fl, burstN: 100, resp: viewport.New(0, 0),
		keys: newScrollKeys("select up", "select down", "answer top", "answer bottom"),
		own:  requestKeys{CopyBody: bind("copy the answer's body", "B"), Delete: bind("delete the request (asks)", "d")},
	}
}

// requestKeys are the requests panel's keys beyond moving.
type requestKeys struct{ CopyBody, Delete key.Binding }

// copyMsg asks the model to put text on the clipboard.
type copyMsg struct{ text, what string }

func (p *requestsPanel) ShortHelp() []key.Binding { return nil }

func (p *requestsPanel) FullHelp() [][]key.Binding {
	return [][]key.Binding{append(p.keys.all(), p.own.CopyBody, p.own.Delete)}
}

func (p *requestsPanel) SetSize(width, height int) {
	p.width, p.height = width, height
	p.listW = min(requestListMax, width/3)
	p.listCol = lipgloss.NewStyle().Width(p.listW)
	p.rightCol = lipgloss.NewStyle().Width(width - p.listW - 1)
	p.layout()
}

func (p *requestsPanel) Update(msg tea.KeyMsg) (tea.Cmd, bool) {
	switch {
	case key.Matches(msg, p.keys.Up):
		p.selectIndex(p.selected - 1)
	case key.Matches(msg, p.keys.Down):
		p.selectIndex(p.selected + 1)
	case key.Matches(msg, p.own.CopyBody):
		r, ok := p.answers.of(p.selected)
		if !ok || len(r.Body) == 0 {
			return flash("no answer body to copy: send the request first"), true
		}
		// Raw, as the server sent it: a body that echoes a token is the user's to paste.
		return func() tea.Msg { return copyMsg{text: string(r.Body), what: "the answer's body"} }, true
	case key.Matches(msg, p.own.Delete):
		return p.deleteSelected(), true
	default:
		return nil, p.keys.scroll(&p.resp, msg, false)
	}
	return nil, true
}

func (p *requestsPanel) title() string { return "requests" }

func (p *requestsPanel) status() string { return fmt.Sprintf("burst size %d (+/-)", p.burstN) }

// current is the selected request; ok is false when there is none.
func (p *requestsPanel) current() (profile.Request, bool) {
	if len(p.list) == 0 {
		return profile.Request{}, false
	}
	return p.list[p.selected], true
}

func (p *requestsPanel) selectIndex(i int) {
	p.selected = min(max(i, 0), max(len(p.list)-1, 0))
	p.layout()
}

// answered shows request i's new answer from the top when i is the one shown.
func (p *requestsPanel) answered(i int) {
	if i == p.selected {
		p.layout()
	}
}

// save puts a composed request in place of request i, or at the end when i is out of range,
// and selects it.
func (p *requestsPanel) save(i int, r profile.Request) string {
	if i >= 0 && i < len(p.list) {
		r.Name = p.list[i].Name
		p.list[i] = r
		p.answers.forget(i) // the answer was to the request as it was
		p.selectIndex(i)
		return "request saved: " + r.Method + " " + r.Path
	}
	p.list = append(p.list, r)
	p.selectIndex(len(p.list) - 1)
	return "request added: " + r.Method + " " + r.Path
}

// flightChanged lays the answer out again when request i, sent or answered, is the one shown.
func (p *requestsPanel) flightChanged(i int) {
	if i == p.selected {
		p.relayout()
	}
}

// flightMark stands in the answer's fixed lines for the in-flight line, which View draws
// afresh on every frame (its spinner and elapsed time move; the layout does not).
const flightMark = "\x00in-flight"

// flightLine says that the selected request is out, for how long, and what it waits for.
func (p *requestsPanel) flightLine(w int) string {
	th := p.sh.theme
	f := p.flights.of(p.selected)
	s := spinnerFrame(p.sh.now) + " in flight"
	if f.n > 1 {
		s += fmt.Sprintf(" ×%d", f.n)
	}
	s += " · " + human.Duration(p.sh.now.Sub(f.since).Truncate(100*time.Millisecond))
	switch {
	case p.sh.snap.Refreshing > 0:
		s += " · waiting behind a refresh"
	case p.sh.snap.State == session.StateRefreshing:
		s += " · waiting behind a refresh"
	default:
		s += " · waiting for the answer"
	}
	return th.Wait.Render(truncate(s, w))
}

var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// spinnerFrame turns with the clock, so every spinner on screen agrees and needs no ticker of
// its own.
func spinnerFrame(now time.Time) string {
	return spinnerFrames[(now.UnixMilli()/100)%int64(len(spinnerFrames))]
}

// addMissing appends the requests the list does not hold yet (same method and path).
func (p *requestsPanel) addMissing(reqs []profile.Request) {
	for _, r := range reqs {
		if !slices.ContainsFunc(p.list, func(have profile.Request) bool { return have.Method == r.Method && have.Path == r.Path }) {
			p.list = append(p.list, r)
		}
	}
}

// stepBurst moves the burst size one step up or down the ladder.
func (p *requestsPanel) stepBurst(up bool) int {
	i := 0
	for j, n := range burstSizes {
		if n == p.burstN {
			i = j
		}
	}
	if up {
		i = min(i+1, len(burstSizes)-1)
	} else {
		i = max(i-1, 0)
	}
	p.burstN = burstSizes[i]
	return p.burstN
}

func (p *requestsPanel) View() string {
	var list []string
	th := p.sh.theme
	for i, r := range p.list {
		label := truncate(sanitize.Line(requestLabel(r)), p.listW-2)
		mark, markStyle, labelStyle := " ", th.Wait, th.Value
		switch {
		case p.flights.of(i).n > 0:
			mark = spinnerFrame(p.sh.now)
		case r.Err != "":
			// Its file could not give it what it needs: listed, marked, not sendable.
			mark, markStyle, labelStyle = "✗", th.Bad, th.Muted
		}
		if i == p.selected {
			list = append(list, th.Selected.Render("▸"+mark+label))
		} else {
			list = append(list, " "+markStyle.Render(mark)+labelStyle.Render(label))
		}
	}
	head := slices.Clone(p.head)
	if i := slices.Index(head, flightMark); i >= 0 {
		head[i] = p.flightLine(p.width - p.listW - 1)
	}
	right := strings.Join(head, "\n")
	if p.resp.Height > 0 {
		right += "\n" + p.resp.View()
	}
	list = append(list, p.historyLines(p.height-len(list))...)
	// A rule between the list and the answer: an answer's line is not the next preset's.
	rule := th.Subtle.Render(strings.TrimSuffix(strings.Repeat("│\n", max(p.height, 1)), "\n"))
	return lipgloss.JoinHorizontal(lipgloss.Top, p.listCol.Render(padLines(list, p.height)), rule,
		p.rightCol.Render(padLines(strings.Split(right, "\n"), p.height)))
}

// deleteSelected deletes the selected request on the second d in a row.
func (p *requestsPanel) deleteSelected() tea.Cmd {
	r, ok := p.current()
	if !ok {
		return nil
	}
	if p.flights.out() > 0 {
		// Answers find their request by its place in the list: it must not move under them.
		return flash("requests are in flight: delete once they are answered")
	}
	if p.delAsked != p.selected+1 {
		p.delAsked = p.selected + 1
		return flash("press d again to delete " + r.Method + " " + r.Path + " from the list")
	}
	p.delAsked = 0
	p.list = slices.Delete(p.list, p.selected, p.selected+1)
	p.answers.deleted(p.selected)
	p.selectIndex(p.selected)
	return flash("deleted " + r.Method + " " + r.Path)
}

// historyLines are the latest sent requests, newest first, in the rows the presets leave.
func (p *requestsPanel) historyLines(rows int) []string {
	if rows < 3 {
		return nil
	}
	shown := p.answers.newest(min(rows-2, maxHistory))
	if len(shown) == 0 {
		return nil
	}
	th := p.sh.theme
	out := []string{"", th.Subtle.Render(truncate("sent (newest first)", p.listW))}
	for _, h := range shown {
		r := h.res
		status, style := fmt.Sprint(r.Status), th.OK
		if r.Outcome != apiclient.OK {
			style = th.Bad
			if r.Status == 0 {
				status = r.Outcome.String()
			}
		}
		gen := "gen –" // nothing went out: it parked first
		if g := r.Generation(); g > 0 {
			gen = fmt.Sprintf("gen #%d", g) // the last attempt's: a retry's own
		}
		line := fmt.Sprintf("%s %s %s %d× %s", status, gen, human.Duration(r.Duration), len(r.Attempts), r.Request.Path)
		out = append(out, style.Render(truncate(sanitize.Line(line), p.listW)))
	}
	return out
}

// requestLabel is how the request list names a request: its name first when it has one.
func requestLabel(r profile.Request) string {
	mp := r.Method + " " + r.Path
	if r.Name == "" || r.Name == mp {
		return mp
	}
	return r.Name + " · " + mp
}

// layout lays out the selected request's answer: the fixed lines above, headers and the pretty
// body in the viewport below, scrolled to the top.
func (p *requestsPanel) layout() {
	p.relayout()
	p.resp.GotoTop()
}

// relayout lays the answer out again where it was scrolled to (the reveal or the tokens to
// mask changed).
func (p *requestsPanel) relayout() {
	w := p.width - p.listW - 1
	head, body := p.answerLines(w)
	p.head = head
	off := p.resp.YOffset
	p.resp.Width, p.resp.Height = max(w, 1), max(p.height-len(head), 0)
	p.resp.SetContent(strings.Join(body, "\n"))
	p.resp.SetYOffset(off)
}

func (p *requestsPanel) answerLines(w int) (head, body []string) {
	th := p.sh.theme
	req, ok := p.current()
	if !ok {
		return []string{th.Muted.Render("no requests: press n to compose one")}, nil
	}
	head = []string{th.Header.Render(truncate(sanitize.Line(req.Method+" "+req.Path), w))}
	r, sent := p.answers.of(p.selected)
	if p.flights.of(p.selected).n > 0 {
		head = append(head, flightMark)
		if !sent {
			return head, nil
		}
	}
	if !sent && req.Err != "" {
		for _, l := range strings.Split(wrapText(sanitize.Line("cannot be sent: "+req.Err), w), "\n") {
			head = append(head, th.Bad.Render(truncate(l, w)))
		}
		return head, nil
	}
	if !sent {
		head = append(head, th.Muted.Render(truncate("not sent yet: enter sends it, b sends a burst, e edits, y copies it as curl", w)))
		// Its headers and body, below the METHOD /path already shown.
		if _, rest, _ := strings.Cut(strings.TrimRight(httpfile.Format(req), "\n"), "\n"); strings.TrimSpace(rest) != "" {
			body = append(body, "")
			for _, l := range strings.Split(rest, "\n") {
				body = append(body, th.Label.Render(truncate(sanitize.Line(l), w)))
			}
		}
		return head, body
	}
	status := fmt.Sprintf("%s · %d · %s · %s", r.Outcome, r.Status, human.Duration(r.Duration), plural(len(r.Attempts), "attempt", "attempts"))
	st := th.OK
	if r.Outcome != apiclient.OK {
		st = th.Bad
	}
	head = append(head, st.Render(truncate(status, w)))
	if r.Reason != "" {
		head = append(head, th.Warn.Render(truncate(sanitize.Line(p.sh.mask(r.Reason)), w)))
	}
	return head, append(p.proofLines(r, w), p.responseBody(r, w)...)
}

// proofLines are the DPoP proofs the request's attempts carried: one line each, then a blank.
func (p *requestsPanel) proofLines(r apiclient.Result, w int) []string {
	proofs := r.Proofs()
	if len(proofs) == 0 {
		return nil
	}
	th := p.sh.theme
	var out []string
	for _, pr := range proofs {
		var flags []string
		for _, f := range []struct {
			on   bool
			name string
		}{{pr.ATH, "ath"}, {pr.Nonce, "nonce"}, {pr.Retry, "retry after use_dpop_nonce"}} {
			if f.on {
				flags = append(flags, f.name)
			}
		}
		line := fmt.Sprintf("DPoP proof jti %s · %s %s · iat %s", firstRunes(pr.JTI, 12), pr.HTM, pr.HTU, pr.IAT.Local().Format("15:04:05"))
		if len(flags) > 0 {
			line += " · " + strings.Join(flags, ", ")
		}
		out = append(out, th.Label.Render(truncate(sanitize.Line(line), w)))
	}
	return append(out, "")
}

// responseBody is an answer's headers, sorted, a blank line, and its body pretty-printed; the
// session's tokens in them are masked until revealed.
func (p *requestsPanel) responseBody(r apiclient.Result, w int) []string {
	label, value := p.sh.theme.Label, p.sh.theme.Value
	var body []string
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		body = append(body, label.Render(truncate(sanitize.Line(p.sh.mask(k+": "+strings.Join(r.Header[k], ", "))), w)))
	}
	body = append(body, "")
	for _, l := range strings.Split(p.sh.mask(prettyBody(r.Body)), "\n") {
		body = append(body, value.Render(truncate(l, w)))
	}
	return body
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
			return sanitize.Text(string(out)) + cut
		}
	}
	return sanitize.Text(string(b)) + cut
}
