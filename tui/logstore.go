package tui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"tokenscope/internal/sanitize"
	"tokenscope/session"
	"tokenscope/themes"
)

// logStore keeps the events the TUI has seen, bounded, with each line rendered at most once
// per theme and width: drawing a frame touches only the lines on screen, however long the log.
type logStore struct {
	max      int
	maxBytes int // what the events' strings may hold in all: a few huge reasons must not add up
	bytes    int
	events   []session.Event
	rendered []string // cache, "" until drawn
	visible  []int    // indices into events that pass the filter
	filter   string
	lastSeq  uint64
	offset   int  // index into visible of the top line on screen
	follow   bool // stick to the bottom as events arrive
	cleared  bool // the user cleared the log (the empty log says so)

	// The timeline reads these instead of scanning events: one bucket per second with the
	// most telling mark, and the moments the access-token generation changed.
	buckets map[int64]bucket
	gens    []genChange
}

type bucket struct {
	rank int
	mark rune
}

type genChange struct {
	at  time.Time
	gen int       // 0: no usable token from here on (the session ended)
	exp time.Time // the generation's exp, by the server's clock; zero for none
}

// timelineKeep is how much history the timeline buckets keep.
const timelineKeep = 15 * time.Minute

// defaultLogBytes bounds the strings of the events on screen's store.
const defaultLogBytes = 32 << 20

func newLogStore(max int) *logStore {
	if max <= 0 {
		max = 100_000
	}
	return &logStore{max: max, maxBytes: defaultLogBytes, follow: true, buckets: map[int64]bucket{}}
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
		l.events = append(l.events, e)
		l.bytes += eventBytes(e)
		l.rendered = append(l.rendered, "")
		l.mark(e)
		if l.matches(e) {
			l.visible = append(l.visible, len(l.events)-1)
		}
	}
	if len(l.events) > l.max+l.max/4 || l.bytes > l.maxBytes {
		l.trim()
	}
}

// trim drops the oldest events at once, down to the count and three quarters of the bytes
// allowed, so that trimming stays amortised O(1) per event.
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
	l.events = append([]session.Event(nil), l.events[drop:]...)
	l.rendered = append([]string(nil), l.rendered[drop:]...)
	top := -1
	if l.offset < len(l.visible) {
		top = l.visible[l.offset]
	}
	l.rebuild()
	if !l.follow && top >= drop {
		l.offset = l.indexOf(top - drop)
	}
}

func (l *logStore) indexOf(ev int) int {
	for i, v := range l.visible {
		if v >= ev {
			return i
		}
	}
	return max(len(l.visible)-1, 0)
}

// clear forgets the events and the timeline's marks; the token generations stay, as they
// describe the session rather than the log.
func (l *logStore) clear() int {
	n := len(l.events)
	l.events, l.rendered, l.visible, l.offset, l.follow, l.cleared = nil, nil, nil, 0, true, true
	l.bytes = 0
	clear(l.buckets)
	return n
}

func (l *logStore) mark(e session.Event) {
	switch e.Kind {
	case session.KindLogin, session.KindRefreshOK:
		l.gens = append(l.gens, genChange{e.Time, e.Generation, e.Exp})
	case session.KindLogout:
		l.gens = append(l.gens, genChange{at: e.Time})
	}
	r, ch := markOf(e)
	if r == 0 {
		return
	}
	sec := e.Time.Unix()
	if b := l.buckets[sec]; r > b.rank {
		l.buckets[sec] = bucket{r, ch}
	}
	// Forget what the timeline can no longer show, now and then.
	if len(l.buckets) > 2*int(timelineKeep/time.Second) {
		cut := e.Time.Add(-timelineKeep).Unix()
		for k := range l.buckets {
			if k < cut {
				delete(l.buckets, k)
			}
		}
		i := 0
		for i < len(l.gens)-1 && l.gens[i+1].at.Unix() < cut {
			i++
		}
		l.gens = append([]genChange(nil), l.gens[i:]...)
	}
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
	l.visible = l.visible[:0]
	for i, e := range l.events {
		if l.matches(e) {
			l.visible = append(l.visible, i)
		}
	}
	if l.offset > len(l.visible) {
		l.offset = len(l.visible)
	}
}

// invalidate forgets rendered lines (theme or width changed).
func (l *logStore) invalidate() {
	clear(l.rendered)
}

func (l *logStore) scroll(delta, height int) {
	maxOff := max(len(l.visible)-height, 0)
	if l.follow {
		l.offset = maxOff
	}
	l.offset = min(max(l.offset+delta, 0), maxOff)
	l.follow = l.offset == maxOff
}

func (l *logStore) toBottom() { l.follow = true }

func (l *logStore) toTop() { l.offset, l.follow = 0, len(l.visible) == 0 }

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
	for _, idx := range l.visible[off:end] {
		if l.rendered[idx] == "" {
			l.rendered[idx] = renderEvent(th, l.events[idx], width)
		}
		out = append(out, l.rendered[idx])
	}
	return out
}

var kindIcons = map[session.Kind]string{
	session.KindRequest: "→", session.KindResponse: "←", session.KindUnauthorized: "⚠",
	session.KindRequestFailed: "✗", session.KindRefreshStart: "⟳", session.KindRefreshWait: "…",
	session.KindRefreshOK: "✓", session.KindRefreshFailed: "✗", session.KindRetry: "↻",
	session.KindParked: "⏸", session.KindReplayed: "▶", session.KindLogin: "●",
	session.KindLoginFailed: "✗", session.KindLogout: "○", session.KindSkew: "±",
	session.KindState: "·", session.KindNote: "·",
}

func renderEvent(th themes.Theme, e session.Event, width int) string {
	style := th.Value
	switch e.Kind {
	case session.KindResponse:
		switch {
		case e.Status >= 400:
			style = th.Bad
		case e.Status >= 300:
			style = th.Warn
		default:
			style = th.OK
		}
	case session.KindUnauthorized, session.KindParked:
		style = th.Warn
	case session.KindRequestFailed, session.KindRefreshFailed, session.KindLoginFailed, session.KindLogout:
		style = th.Bad
		if e.Kind == session.KindRefreshFailed && e.Transient {
			style = th.Warn
		}
	case session.KindRefreshStart, session.KindRefreshOK, session.KindLogin:
		style = th.Refresh
	case session.KindRefreshWait:
		style = th.Wait
	case session.KindRetry, session.KindReplayed:
		style = th.Retry
	case session.KindRequest, session.KindNote, session.KindState:
		style = th.Muted
	case session.KindSkew:
		style = th.Info
	}
	text := sanitize.Line(e.Text())
	prefix := e.Time.Format("15:04:05.000") + " " + kindIcons[e.Kind] + " "
	room := max(width-ansi.StringWidth(prefix), 1)
	text = ansi.Truncate(text, room, "…")
	return th.Subtle.Render(prefix) + style.Render(text)
}

// truncate cuts s to n cells, marking the cut.
func truncate(s string, n int) string { return ansi.Truncate(s, max(n, 0), "…") }

func (l *logStore) status() string {
	s := plural(len(l.events), "event", "events")
	if l.filter != "" {
		s = fmt.Sprintf("%d of %s match %q (esc clears)", len(l.visible), plural(len(l.events), "event", "events"), l.filter)
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
