package tui

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"tokenscope/internal/human"
	"tokenscope/internal/redact"
	"tokenscope/internal/sanitize"
	"tokenscope/session"
	"tokenscope/themes"
)

// logStore keeps the events the TUI has seen, bounded, with each line rendered at most once
// per theme and width: drawing a frame touches only the lines on screen, however long the log.
// Alike events close together in time share a line (see logRow), so that a burst's story
// reads on one screen: ×99 refresh-wait rather than 99 lines.
type logStore struct {
	max      int
	maxBytes int // what the events' strings may hold in all: a few huge reasons must not add up
	bytes    int
	events   []session.Event
	visible  []logRow // the lines: events that pass the filter, alike ones collapsed
	shown    int      // how many events the lines stand for
	expand   bool     // one line per event: the user turned collapsing off
	filter   string
	lastSeq  uint64
	offset   int    // index into visible of the top line on screen
	follow   bool   // stick to the bottom as events arrive
	sel      uint64 // the selected event's Seq; 0: the newest line (see logselect.go)
	cleared  bool   // the user cleared the log (the empty log says so)
	// secrets mask what an event says as it comes in (a $processEnv value in a path): the
	// panel, the detail view and the w export all read the stored events.
	secrets *redact.Secrets

	// The timeline reads these instead of scanning events: what happened per tlTick (the
	// non-empty ticks, oldest first), and the moments the access-token generation changed.
	// tlVersion counts their changes, so that the drawn timeline (tl) is kept until then.
	ticks     []tlTickCounts
	gens      []genChange
	tlVersion uint64
	trimmedAt time.Time
	tl        timelineCache
}

// tlTickCounts is what the timeline counts of the events in one tick.
type tlTickCounts struct {
	at int64 // Unix nanoseconds / tlTick
	n  tlCounts
}

type genChange struct {
	at  time.Time
	gen int       // 0: no usable token from here on (the session ended)
	exp time.Time // the generation's exp, by the server's clock; zero for none
}

// timelineKeep is how much history the timeline's counts keep: its longest span.
const timelineKeep = time.Hour

// defaultLogBytes bounds the strings of the events on screen's store.
const defaultLogBytes = 32 << 20

// logRow is one line of the log: an event, or a run of alike ones (alike) that came within
// collapseGap of each other. It stands where its first event came, and shows its newest.
type logRow struct {
	first, last int    // indices into events
	n           int    // how many events it stands for
	text        string // rendered, "" until drawn
}

// collapseGap is how close in time an alike event must come to its run to join it: the copies
// of a burst answer within milliseconds of each other, while a heartbeat's sends (a second
// apart at the quickest) keep a line each, so that the log still moves with them.
const collapseGap = 500 * time.Millisecond

// collapseLookback is how many lines back an event looks for its run: a burst interleaves a
// handful of kinds (request, response, 401, waits, retries), never dozens.
const collapseLookback = 16

// alike reports events that tell the same step: the same kind, request line, answer, token
// generation, refresh and typed cause (Why, End), and the same reason but for its numbers
// ("(17 queued)"). Request
// ids, times and durations differ within a burst and do not count.
func alike(a, b session.Event) bool {
	return a.Kind == b.Kind && a.Method == b.Method && a.Path == b.Path && a.Status == b.Status &&
		a.Generation == b.Generation && a.RefreshID == b.RefreshID && a.Why == b.Why &&
		a.Transient == b.Transient && a.State == b.State && a.Rule == b.Rule && a.End == b.End &&
		sameButNumbers(a.Reason, b.Reason)
}

// sameButNumbers compares two texts with every run of digits taken as one number.
func sameButNumbers(a, b string) bool {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		switch {
		case da > 0 && db > 0:
			a, b = a[da:], b[db:]
		case a[0] != b[0]:
			return false
		default:
			a, b = a[1:], b[1:]
		}
	}
	return a == b
}

// digitRun is the length of the ASCII digits s starts with.
func digitRun(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

func newLogStore(max int) *logStore {
	if max <= 0 {
		max = 100_000
	}
	return &logStore{max: max, maxBytes: defaultLogBytes, follow: true}
}

// eventBytes is what an event's strings hold.
func eventBytes(e session.Event) int {
	return len(e.Method) + len(e.Path) + len(e.Reason) + len(e.Token)
}

func (l *logStore) add(evs []session.Event) {
	for _, e := range evs {
		if e.Seq != 0 && e.Seq <= l.lastSeq {
			continue // already have it (a catch-up overlapped the stream)
		}
		l.lastSeq = max(l.lastSeq, e.Seq)
		e.MaskText(l.secrets.Mask)
		l.events = append(l.events, e)
		l.bytes += eventBytes(e)
		l.mark(e)
		if l.matches(e) {
			l.show(len(l.events) - 1)
		}
	}
	if len(l.events) > l.max+l.max/4 || l.bytes > l.maxBytes {
		l.trim()
	}
}

// trim drops the oldest events at once, down to the count and three quarters of the bytes
// allowed, so that trimming stays amortised O(1) per event. The kept events move down in the
// arrays they are in: a trim allocates nothing (a fresh copy of a 100k-event log peaked at
// 181 MB RSS, two logs held at once).
func (l *logStore) trim() {
	drop := max(len(l.events)-l.max, 0)
	kept := l.bytes
	for _, e := range l.events[:drop] {
		kept -= eventBytes(e)
	}
	for drop < len(l.events)-1 && kept > l.maxBytes*3/4 {
		kept -= eventBytes(l.events[drop])
		drop++
	}
	l.bytes = kept
	l.events = dropFront(l.events, drop)
	top := -1
	if l.offset < len(l.visible) {
		top = l.visible[l.offset].first
	}
	l.rebuild()
	if !l.follow && top >= drop {
		l.offset = l.indexOf(top - drop)
	}
}

// dropFront removes s's first n elements in place, clearing the slots left behind so that what
// they held can be collected.
func dropFront[T any](s []T, n int) []T {
	k := copy(s, s[n:])
	clear(s[k:])
	return s[:k]
}

func (l *logStore) indexOf(ev int) int {
	for i, v := range l.visible {
		if v.first >= ev {
			return i
		}
	}
	return max(len(l.visible)-1, 0)
}

// clear forgets the events and the timeline's marks; the token generations stay, as they
// describe the session rather than the log.
func (l *logStore) clear() int {
	n := len(l.events)
	l.events, l.visible, l.offset, l.follow, l.cleared = nil, nil, 0, true, true
	l.bytes, l.shown = 0, 0
	l.ticks = nil
	l.tlVersion++
	return n
}

func (l *logStore) mark(e session.Event) {
	switch e.Kind {
	case session.KindLogin, session.KindRefreshOK:
		l.gens = append(l.gens, genChange{e.Time, e.Generation, e.Exp})
		l.tlVersion++
	case session.KindLogout:
		l.gens = append(l.gens, genChange{at: e.Time})
		l.tlVersion++
	}
	if c, ok := tlClassOf(e); ok {
		l.count(e.Time, c)
	}
	// Forget what the timeline can no longer show, now and then.
	if e.Time.Sub(l.trimmedAt) > timelineKeep {
		l.trimTimeline(e.Time.Add(-timelineKeep))
		l.trimmedAt = e.Time
	}
}

// count adds an event of class c at t to its tick. Events arrive nearly in time order (the
// engine stamps them before it appends), so the tick is the last one or close before it.
func (l *logStore) count(t time.Time, c tlClass) {
	at := floorDiv(t.UnixNano(), int64(tlTick))
	i := len(l.ticks)
	for i > 0 && l.ticks[i-1].at > at {
		i--
	}
	if i == 0 || l.ticks[i-1].at != at {
		l.ticks = slices.Insert(l.ticks, i, tlTickCounts{at: at})
		i++
	}
	l.ticks[i-1].n[c]++
	l.tlVersion++
}

// trimTimeline drops the counts before cut, and the generations that ended before it.
func (l *logStore) trimTimeline(cut time.Time) {
	at := floorDiv(cut.UnixNano(), int64(tlTick))
	i, _ := slices.BinarySearchFunc(l.ticks, at, func(t tlTickCounts, at int64) int { return cmp.Compare(t.at, at) })
	l.ticks = append([]tlTickCounts(nil), l.ticks[i:]...)
	g := 0
	for g < len(l.gens)-1 && l.gens[g+1].at.Before(cut) {
		g++
	}
	l.gens = append([]genChange(nil), l.gens[g:]...)
	l.tlVersion++
}

// slotCounts sums the ticks into cols slots of slot nanoseconds, the first starting at
// start×slot: only the ticks in view are read.
func (l *logStore) slotCounts(start, slot int64, cols int) []tlCounts {
	out := make([]tlCounts, cols)
	from := floorDiv(start*slot, int64(tlTick))
	i, _ := slices.BinarySearchFunc(l.ticks, from, func(t tlTickCounts, at int64) int { return cmp.Compare(t.at, at) })
	for _, t := range l.ticks[i:] {
		col := floorDiv(t.at*int64(tlTick), slot) - start
		if col >= int64(cols) {
			break
		}
		if col < 0 {
			continue // the tick starts in the slot before the first
		}
		for c, n := range t.n {
			out[col][c] += n
		}
	}
	return out
}

// floorDiv is a/b rounded down, for times before 1970 too.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// genAt is the access-token generation usable at local time t: 0 before the first login,
// after the session ended, and between a token's exp (server time: t plus skew) and the next
// refresh, so that the timeline shows the gaps where requests met an expired token.
func (l *logStore) genAt(t time.Time, skew time.Duration) int {
	i := sort.Search(len(l.gens), func(i int) bool { return l.gens[i].at.After(t) })
	if i == 0 {
		return 0
	}
	g := l.gens[i-1]
	if !g.exp.IsZero() && t.Add(skew).After(g.exp) {
		return 0
	}
	return g.gen
}

func (l *logStore) matches(e session.Event) bool {
	if l.filter == "" {
		return true
	}
	return strings.Contains(strings.ToLower(e.Kind.String()+" "+e.Text()), l.filter)
}

func (l *logStore) setFilter(f string) {
	l.filter = strings.ToLower(strings.TrimSpace(f))
	l.rebuild()
	l.follow = true
}

func (l *logStore) rebuild() {
	l.visible, l.shown = l.visible[:0], 0
	for i, e := range l.events {
		if l.matches(e) {
			l.show(i)
		}
	}
	if l.offset > len(l.visible) {
		l.offset = len(l.visible)
	}
}

// show puts event i on a line: its run's, when one of the last lines is alike and recent
// enough, else a line of its own.
func (l *logStore) show(i int) {
	l.shown++
	e := l.events[i]
	for r := len(l.visible) - 1; !l.expand && r >= max(len(l.visible)-collapseLookback, 0); r-- {
		row := &l.visible[r]
		last := l.events[row.last]
		if alike(last, e) && human.Abs(e.Time.Sub(last.Time)) <= collapseGap {
			row.last, row.n, row.text = i, row.n+1, ""
			return
		}
	}
	l.visible = append(l.visible, logRow{first: i, last: i, n: 1})
}

// setExpand turns collapsing alike lines off (one line per event) or on again; the selected
// line stays selected (its first event's line, collapsing).
func (l *logStore) setExpand(on bool) {
	l.expand = on
	top := -1
	if !l.follow && l.offset < len(l.visible) {
		top = l.visible[l.offset].first
	}
	l.rebuild()
	if top >= 0 {
		l.offset = l.indexOf(top)
	}
}

// invalidate forgets rendered lines (theme or width changed).
func (l *logStore) invalidate() {
	for i := range l.visible {
		l.visible[i].text = ""
	}
}

func (l *logStore) scroll(delta, height int) {
	maxOff := max(len(l.visible)-height, 0)
	if l.follow {
		l.offset = maxOff
	}
	l.offset = min(max(l.offset+delta, 0), maxOff)
	l.follow = l.offset == maxOff
}

func (l *logStore) toBottom() { l.follow, l.sel = true, 0 }

func (l *logStore) toTop() {
	l.offset, l.follow = 0, len(l.visible) == 0
	if len(l.visible) > 0 {
		l.sel = l.events[l.visible[0].first].Seq
	}
}

// lines returns the rendered lines on screen for a pane of the given size. It moves nothing:
// what it writes is the render cache.
func (l *logStore) lines(th themes.Theme, width, height int) []string {
	maxOff := max(len(l.visible)-height, 0)
	off := l.offset
	if l.follow || off > maxOff {
		off = maxOff
	}
	end := min(off+height, len(l.visible))
	out := make([]string, 0, height)
	for i := off; i < end; i++ {
		row := &l.visible[i]
		if row.text == "" {
			row.text = renderRow(th, l.events[row.first], l.events[row.last], row.n, width)
		}
		line := row.text
		if l.sel != 0 && l.events[row.first].Seq == l.sel {
			line = highlight(line, func(s string) string { return th.Selected.Render(s) })
		}
		out = append(out, line)
	}
	return out
}

var kindIcons = map[session.Kind]string{
	session.KindRequest: "→", session.KindResponse: "←", session.KindUnauthorized: "⚠",
	session.KindRequestFailed: "✗", session.KindRefreshStart: "⟳", session.KindRefreshWait: "…",
	session.KindRefreshOK: "✓", session.KindRefreshFailed: "✗", session.KindRetry: "↻",
	session.KindParked: "‖", session.KindReplayed: "▶", session.KindLogin: "●",
	session.KindLoginFailed: "✗", session.KindLogout: "○", session.KindSkew: "±",
	session.KindNote: "·",
}

func renderEvent(th themes.Theme, e session.Event, width int) string {
	style := th.Event(e)
	text := sanitize.Line(e.Text())
	prefix := e.Time.Format("15:04:05.000") + " " + kindIcons[e.Kind] + " "
	room := max(width-ansi.StringWidth(prefix), 1)
	text = ansi.Truncate(text, room, "…")
	return th.Subtle.Render(prefix) + style.Render(text)
}

// renderRow draws a line: its event, or a run's newest event at the time of its first, with
// ×count in the request-id column ("×99   refresh-wait  waiting on refresh #2").
func renderRow(th themes.Theme, first, last session.Event, n int, width int) string {
	if n == 1 {
		return renderEvent(th, first, width)
	}
	e := last
	e.Time = first.Time
	text := runText(e, n)
	prefix := e.Time.Format("15:04:05.000") + " " + kindIcons[e.Kind] + " "
	text = ansi.Truncate(sanitize.Line(text), max(width-ansi.StringWidth(prefix), 1), "…")
	return th.Subtle.Render(prefix) + th.Event(e).Render(text)
}

// runText is an event's text with its request id (the run's ids differ) replaced by the
// run's count.
func runText(e session.Event, n int) string {
	text := e.Text()
	col := 7 // "#12345 " or seven spaces: Event.Text's request-id column
	if e.RequestID != 0 {
		col = len(fmt.Sprintf("#%-5d ", e.RequestID))
	}
	return fmt.Sprintf("×%-5d ", n) + text[min(col, len(text)):]
}

// truncate cuts s to n cells, marking the cut.
func truncate(s string, n int) string { return ansi.Truncate(s, max(n, 0), "…") }

func (l *logStore) status() string {
	s := plural(len(l.events), "event", "events")
	if l.filter != "" {
		s = fmt.Sprintf("%d of %s match %q (esc clears)", l.shown, plural(len(l.events), "event", "events"), l.filter)
	}
	if len(l.visible) < l.shown {
		s += fmt.Sprintf(" in %s (z: one each)", plural(len(l.visible), "line", "lines"))
	}
	if !l.follow {
		s += " · scrolled (G or end follows)"
	}
	return s
}

// plural is "1 event", "2 events".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
