package tui

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"tokenscope/session"
	"tokenscope/themes"
)

// The timeline is the session's last minutes at a glance, one cell per time slot after a
// label column:
//
//	tokens    access-token generations as alternating bars (▀, and ▔ without colour)
//	refresh   refresh calls by cause (P R B M), ×count when several started, ✗ rejected, ~ transient
//	session   its end (⊗ reuse/revoked, ⊘ login required, ■ logged out), L login, p parked, ↺ replayed
//	requests  x failed, ! 401, ↻ retry, • request
//
// and a legend. A row writes each busy slot as a label, its marks in the row's order each with
// its count ("R×50✗×49"), over the quiet cells after the slot (or before it, at the right edge):
// a stampede reads as a number, a single flight as one mark. Labels never touch: slots whose
// labels would are drawn as one label with their counts summed, so that at 80 columns a row
// reads as separate labels rather than packed marks ("R×101R✗✗"); where that label would be
// shorter than the slots it covers (a heartbeat), each slot shows its most telling mark instead
// ("••••!••"), and a slot far busier than the rest its own label.
//
// Counts are kept per tlTick as events arrive (logStore.mark), so a frame only sums the ticks
// in view, and the drawn timeline is cached until the slot, the events, the size or the theme
// change: the TUI redraws at 10 Hz.

// tlClass is what the timeline counts: one mark each.
type tlClass uint8

const (
	tlReactive tlClass = iota
	tlProactive
	tlBackground
	tlManual
	tlRejected
	tlTransient
	tlReuse
	tlLoginRequired
	tlEnded
	tlLogin
	tlParked
	tlReplayed
	tlFailed
	tlUnauthorized
	tlRetry
	tlRequest
	tlClasses             // how many are counted
	tlBar     = tlClasses // the token bar, for the legend only
)

// tlCounts is how many events of each class fell in a tick or slot.
type tlCounts [tlClasses]int32

// tlRole is the style a mark is drawn in; marks differ in shape too, so that no colour is
// needed to tell them apart.
type tlRole int

const (
	tlPlain tlRole = iota
	tlGenOdd
	tlGenEven
	tlRefresh
	tlBad
	tlWarn
	tlOK
	tlRetried
	tlMuted
	tlValue
)

type tlMark struct {
	mark rune
	name string // in the legend
	role tlRole
	sev  int // how telling: the one mark a slot of a dense stretch shows
}

var tlMarks = [tlClasses + 1]tlMark{
	tlReactive:      {'R', "reactive", tlRefresh, 2},
	tlProactive:     {'P', "proactive", tlRefresh, 2},
	tlBackground:    {'B', "background", tlRefresh, 2},
	tlManual:        {'M', "manual", tlRefresh, 2},
	tlRejected:      {'✗', "rejected", tlBad, 6},
	tlTransient:     {'~', "transient", tlWarn, 4},
	tlReuse:         {'⊗', "reuse/revoked", tlBad, 6},
	tlLoginRequired: {'⊘', "login required", tlBad, 6},
	tlEnded:         {'■', "logged out", tlValue, 4},
	tlLogin:         {'L', "login", tlOK, 3},
	tlParked:        {'p', "parked", tlWarn, 3},
	tlReplayed:      {'↺', "replayed", tlRetried, 3},
	tlFailed:        {'x', "failed", tlBad, 5},
	tlUnauthorized:  {'!', "401", tlWarn, 4},
	tlRetry:         {'↻', "retry", tlRetried, 2},
	tlRequest:       {'•', "request", tlMuted, 1},
	tlBar:           {'▀', "access token", tlGenOdd, 0},
}

// tlRows are the event rows and the order a slot's marks are written in on each.
var tlRows = [...]struct {
	label   string
	classes []tlClass
}{
	{"refresh", []tlClass{tlReactive, tlProactive, tlBackground, tlManual, tlRejected, tlTransient}},
	{"session", []tlClass{tlReuse, tlLoginRequired, tlEnded, tlLogin, tlParked, tlReplayed}},
	{"requests", []tlClass{tlFailed, tlUnauthorized, tlRetry, tlRequest}},
}

// tlLegendOrder is the legend's order of importance when the line has no room for every mark
// (marks on screen come first whatever their rank).
var tlLegendOrder = []tlClass{tlReactive, tlProactive, tlRejected, tlLoginRequired, tlReuse, tlUnauthorized,
	tlFailed, tlParked, tlReplayed, tlBackground, tlManual, tlTransient, tlBar, tlRetry, tlRequest, tlLogin, tlEnded}

// tlClassOf is the class an event counts in; ok is false for events the timeline does not mark
// (answers, waits, successful refreshes: the token bar shows those).
func tlClassOf(e session.Event) (c tlClass, ok bool) {
	switch e.Kind {
	case session.KindRefreshStart:
		switch e.Why {
		case session.WhyReactive:
			return tlReactive, true
		case session.WhyProactive:
			return tlProactive, true
		case session.WhyBackground:
			return tlBackground, true
		}
		return tlManual, true
	case session.KindRefreshFailed:
		if e.Transient {
			return tlTransient, true
		}
		return tlRejected, true
	case session.KindLogout:
		return logoutClass(e), true
	}
	c, ok = tlSimple[e.Kind]
	return c, ok
}

var tlSimple = map[session.Kind]tlClass{
	session.KindLogin: tlLogin, session.KindParked: tlParked, session.KindReplayed: tlReplayed,
	session.KindRequestFailed: tlFailed, session.KindUnauthorized: tlUnauthorized, session.KindRetry: tlRetry,
	session.KindRequest: tlRequest,
}

// logoutClass tells how the session ended: by the user, by a rejected refresh token, or by a
// server that saw a refresh token reused (or revoked the family): then every token of the
// family died at once, which is what a stampede without single flight does under rotation.
func logoutClass(e session.Event) tlClass {
	switch e.End {
	case session.EndReuseSuspected, session.EndRevoked:
		return tlReuse
	case session.EndUserLogout:
		return tlEnded
	}
	if e.State != session.StateLoginRequired {
		return tlEnded
	}
	return tlLoginRequired
}

// Timeline sizes.
const (
	tlLabelW = 9 // "requests" and a space
	// tlMinSlot: the shortest slot worth a cell. One refresh with its 401 and retry takes tens
	// to hundreds of milliseconds on a real network; finer slots would split one story over
	// several cells and show latency rather than the session.
	tlMinSlot = 500 * time.Millisecond
	// tlTick is the grain events are counted in, a fifth of the shortest slot: a slot's sum
	// starts at most 100 ms early or late.
	tlTick = 100 * time.Millisecond
)

// tlSpans are the spans the timeline shows, round figures to read at a glance. The shortest
// is 2m: four lifetimes of the demo server's 30 s access tokens, so that a refresh is seen
// with the generations before and after it, and at least today's ~1 s per cell at 120
// columns. The longest is timelineKeep.
var tlSpans = []time.Duration{2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour}

// timelineSpan picks the shortest round span whose slots are at least tlMinSlot over cols
// cells: the span fills the width exactly (slot = span/cols, not a whole second), so the
// label says a round figure and no column is wasted.
func timelineSpan(cols int) (span, slot time.Duration) {
	for _, span = range tlSpans {
		if span/time.Duration(cols) >= tlMinSlot {
			break
		}
	}
	return span, span / time.Duration(cols)
}

// spanText is "2m", "1h".
func spanText(d time.Duration) string {
	if d >= time.Hour && d%time.Hour == 0 {
		return strconv.Itoa(int(d/time.Hour)) + "h"
	}
	return strconv.Itoa(int(d/time.Minute)) + "m"
}

// tlKey is everything the drawn timeline depends on.
type tlKey struct {
	width   int
	theme   string
	mono    bool
	version uint64        // the store's counts and generations
	end     int64         // the slot now is in: slots are multiples of the slot since the epoch
	skew    time.Duration // generations end at exp by the server's clock
	nowGen  int           // the newest cell's generation, which changes within its slot
}

// timelineCache is the last timeline drawn and what it was drawn from.
type timelineCache struct {
	key  tlKey
	view string
}

// tlRightMargin is how many cells the timeline keeps right of now, for labels.
const tlRightMargin = 10

// timelineGeometry lays the timeline out over a terminal width: its cells, the room kept right
// of now (so that the newest slots' labels, R×100✗×99, read forward from their slot as older
// ones do, rather than ending at it, which drew them seconds before they happened), the round
// span the cells left of it cover, and the slot per cell.
func timelineGeometry(width int) (cols, margin int, span, slot time.Duration) {
	cols = max(width-tlLabelW, 10)
	margin = min(tlRightMargin, cols/8)
	span, slot = timelineSpan(cols - margin)
	return cols, margin, span, slot
}

// timelineView draws the timeline, or returns the one drawn for the same inputs.
func (m *Model) timelineView() string {
	st := m.logp.store
	cols, margin, span, slot := timelineGeometry(m.width)
	skew := m.sh.snap.Skew.Applied()
	key := tlKey{width: m.width, theme: m.sh.tname, mono: m.sh.theme.Mono, version: st.tlVersion,
		end: floorDiv(m.sh.now.UnixNano(), int64(slot)) + int64(margin), skew: skew, nowGen: st.genAt(m.sh.now, skew)}
	if st.tl.view != "" && st.tl.key == key {
		return st.tl.view
	}
	start := key.end - int64(cols) + 1
	slots := st.slotCounts(start, int64(slot), cols)
	th := m.sh.theme
	label := func(s string) string { return th.Label.Render(fmt.Sprintf("%-*s", tlLabelW, s)) }
	lines := []string{label("tokens") + m.tokenBars(start, int64(slot), cols, skew)}
	var seen [tlClasses]bool
	for _, row := range tlRows {
		cells := layoutRow(slots, row.classes)
		var runs styledRuns
		for _, c := range cells {
			if c.r == 0 {
				runs.add(int(tlPlain), ' ')
				continue
			}
			runs.add(int(c.role), c.r)
		}
		lines = append(lines, label(row.label)+runs.render(m.tlStyle))
	}
	for i := range slots {
		for c, n := range slots[i] {
			seen[c] = seen[c] || n > 0
		}
	}
	lines = append(lines, m.tlLegend(span, seen))
	st.tl = timelineCache{key, strings.Join(lines, "\n")}
	return st.tl.view
}

// tokenBars is the tokens row: each cell shows the generation usable at its slot's end (or
// now, for the newest), alternating in style so that neighbouring generations stand apart.
func (m *Model) tokenBars(start, slot int64, cols int, skew time.Duration) string {
	now := m.sh.now.UnixNano()
	var runs styledRuns
	for i := range cols {
		at := min((start+int64(i)+1)*slot-1, now)
		switch g := m.logp.store.genAt(time.Unix(0, at), skew); {
		case (start+int64(i))*slot > now:
			runs.add(int(tlPlain), ' ') // the future: room for labels
		case g == 0:
			runs.add(int(tlPlain), ' ')
		case g%2 == 1:
			runs.add(int(tlGenOdd), '▀')
		case m.sh.theme.Mono:
			runs.add(int(tlGenEven), '▔') // without colour, the shape tells neighbouring generations apart
		default:
			runs.add(int(tlGenEven), '▀')
		}
	}
	return runs.render(m.tlStyle)
}

// tlCell is one drawn cell of an event row; r == 0 is empty.
type tlCell struct {
	r    rune
	role tlRole
}

// tlCluster is busy slots of a row whose labels would touch, drawn as one label: the marks of
// all of them with their counts summed, at the first slot. Labels then never touch ("R×101R✗✗"
// read as one count), and no event is dropped from the picture.
type tlCluster struct {
	from, to int      // the first and last busy slot
	n        tlCounts // the slots' counts, summed
}

// text is the cluster's label on a row of these classes.
func (c tlCluster) text(classes []tlClass) []tlCell {
	var segs []tlClass
	for _, k := range classes {
		if c.n[k] > 0 {
			segs = append(segs, k)
		}
	}
	return labelCells(c.n, segs)
}

// width is how many cells text would take, counted without building it: layoutRow asks it of
// every cluster on every redraw, and draws only the labels that show.
func (c tlCluster) width(classes []tlClass) int {
	w := 0
	for _, k := range classes {
		if n := c.n[k]; n > 1 {
			w += 2 + countWidth(n) // mark, ×, count
		} else if n == 1 {
			w++
		}
	}
	return w
}

// end is one past the last cell the cluster takes at its slot: its label or its stretch.
func (c tlCluster) end(classes []tlClass) int { return max(c.from+c.width(classes), c.to+1) }

func (c *tlCluster) merge(o tlCluster) {
	c.to = max(c.to, o.to)
	for k, v := range o.n {
		c.n[k] += v
	}
}

// layoutRow lays out one event row: busy slots left to right, each joining the cluster before
// it when its cell falls on or right after that cluster's label, so that a label always has a
// blank cell before the next. The newest cluster is moved left to end at the right edge when
// its label would run past it, joining the one before when it then touches it. A cluster whose
// label is shorter than the stretch it covers is a dense stretch (drawStretch).
func layoutRow(slots []tlCounts, classes []tlClass) []tlCell {
	var cl []tlCluster
	for i := range slots {
		c := tlCluster{from: i, to: i}
		for _, k := range classes {
			c.n[k] = slots[i][k]
		}
		if c.width(classes) == 0 {
			continue
		}
		if k := len(cl) - 1; k >= 0 && i <= cl[k].end(classes) {
			cl[k].merge(c)
			continue
		}
		cl = append(cl, c)
	}
	cols := len(slots)
	start := func(c tlCluster) int { return max(min(c.from, cols-c.width(classes)), 0) }
	for k := len(cl) - 1; k > 0 && start(cl[k]) <= cl[k-1].end(classes); k-- {
		cl[k-1].merge(cl[k])
		cl = cl[:k]
	}
	cells := make([]tlCell, cols)
	for _, c := range cl {
		if c.width(classes) < c.to-c.from+1 {
			drawStretch(cells, slots, classes, c)
		} else {
			copy(cells[start(c):], c.text(classes))
		}
	}
	return cells
}

// drawStretch draws a dense stretch (a heartbeat's requests, a slot or two apart) as one mark
// per busy slot, the most telling of its classes, so that a 401 among them shows where it
// happened; one label summing the stretch would draw it at the stretch's start. A slot far
// busier than the others (a burst among the beats) gets its own label there, a blank cell
// either side, so that its count still reads.
func drawStretch(cells []tlCell, slots []tlCounts, classes []tlClass, c tlCluster) {
	var ns []int32
	peak := tlCluster{}
	for i := c.from; i <= c.to; i++ {
		s := tlCluster{from: i, to: i}
		top := tlClass(0)
		for _, k := range classes {
			s.n[k] = slots[i][k]
			if s.n[k] > 0 && (s.n[top] == 0 || tlMarks[k].sev > tlMarks[top].sev) {
				top = k
			}
		}
		total := s.total()
		if total == 0 {
			continue
		}
		cells[i] = tlCell{tlMarks[top].mark, tlMarks[top].role}
		ns = append(ns, total)
		if total > peak.total() {
			peak = s
		}
	}
	slices.Sort(ns)
	if n := peak.total(); n < 3 || n < 3*ns[len(ns)/2] {
		return
	}
	text := peak.text(classes)
	from := max(min(peak.from, len(cells)-len(text)), 0)
	for _, j := range []int{from - 1, from + len(text)} {
		if j >= c.from && j <= c.to {
			cells[j] = tlCell{}
		}
	}
	copy(cells[from:], text)
}

// total is how many events the cluster holds.
func (c tlCluster) total() int32 {
	var n int32
	for _, v := range c.n {
		n += v
	}
	return n
}

// labelCells is the label of the given classes of a slot: each mark, and ×count after it when
// there were several.
func labelCells(counts tlCounts, segs []tlClass) (text []tlCell) {
	for _, c := range segs {
		m := tlMarks[c]
		text = append(text, tlCell{m.mark, m.role})
		if n := counts[c]; n > 1 {
			for _, r := range "×" + countText(n) {
				text = append(text, tlCell{r, m.role})
			}
		}
	}
	return text
}

// countText is a count in at most 3 cells: "37", "999", "12k".
func countText(n int32) string {
	if n < 1000 {
		return strconv.Itoa(int(n))
	}
	return strconv.Itoa(int(min(n/1000, 99))) + "k"
}

// countWidth is len(countText(n)), for n > 1.
func countWidth(n int32) int {
	switch {
	case n < 10:
		return 1
	case n < 100:
		return 2
	case n < 1000, n >= 10000:
		return 3 // "999"; "12k" and "99k"
	}
	return 2 // "1k" to "9k"
}

// tlLegend is "last 2m" and the marks, each in its style: those on screen first, then by
// importance, as many as the width holds, in the rows' order.
func (m *Model) tlLegend(span time.Duration, seen [tlClasses]bool) string {
	room := m.width - len("last ") - len(spanText(span))
	var chosen [tlClasses + 1]bool
	for _, onScreen := range []bool{true, false} {
		for _, c := range tlLegendOrder {
			if chosen[c] || (onScreen && (c == tlBar || !seen[c])) {
				continue
			}
			if w := 2 + ansi.StringWidth(m.tlLegendEntry(c)); w <= room {
				chosen[c], room = true, room-w
			}
		}
	}
	th := m.sh.theme
	var b strings.Builder
	b.WriteString(th.Subtle.Render("last " + spanText(span)))
	for c := range tlClasses + 1 {
		if !chosen[c] {
			continue
		}
		mark, name, _ := strings.Cut(m.tlLegendEntry(c), " ")
		b.WriteString("  " + m.tlStyle(int(tlMarks[c].role)).Render(mark) + th.Subtle.Render(" "+name))
	}
	return ansi.Truncate(b.String(), m.width, "…")
}

// tlLegendEntry is a mark and its name, "R reactive".
func (m *Model) tlLegendEntry(c tlClass) string {
	if c == tlBar && m.sh.theme.Mono {
		return "▀▔ access tokens"
	}
	return string(tlMarks[c].mark) + " " + tlMarks[c].name
}

// tlStyle is the theme's style for a mark's role.
func (m *Model) tlStyle(k int) lipgloss.Style {
	return tlRoleStyle(m.sh.theme, tlRole(k))
}

func tlRoleStyle(th themes.Theme, r tlRole) lipgloss.Style {
	switch r {
	case tlGenOdd, tlRefresh:
		return th.Refresh
	case tlGenEven:
		return th.Info
	case tlBad:
		return th.Bad
	case tlWarn:
		return th.Warn
	case tlOK:
		return th.OK
	case tlRetried:
		return th.Retry
	case tlMuted:
		return th.Muted
	case tlValue:
		return th.Value
	}
	return th.Subtle
}

// styledRuns collects cells as (style key, text) runs; key <= 0 is drawn unstyled.
type styledRuns struct {
	keys []int
	text []strings.Builder
}

func (r *styledRuns) add(k int, c rune) {
	if n := len(r.keys); n == 0 || r.keys[n-1] != k {
		r.keys = append(r.keys, k)
		r.text = append(r.text, strings.Builder{})
	}
	r.text[len(r.text)-1].WriteRune(c)
}

func (r *styledRuns) render(style func(int) lipgloss.Style) string {
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
