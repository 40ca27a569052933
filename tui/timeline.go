package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"tokenscope/session"
)

// timelineView is the last few minutes at a glance: one column per time slot, access-token
// generations as alternating bars on the top row, and the most telling event of each slot on
// the bottom row (401 > refresh failure > refresh > retry > request).
func (m *Model) timelineView() string {
	th := m.sh.theme
	labelW := 9
	cols := max(m.width-labelW, 10)
	slot := time.Second
	span := time.Duration(cols) * slot
	end := m.sh.now.Truncate(slot).Add(slot)
	start := end.Add(-span)

	nowCol := min(int(m.sh.now.Sub(start)/slot), cols-1)
	skew := m.sh.snap.Skew.Applied()
	gens := make([]int, cols)
	rank := make([]int, cols)
	marks := make([]rune, cols)
	for i := range cols {
		t := start.Add(time.Duration(i) * slot)
		b := m.logp.store.buckets[t.Unix()]
		rank[i], marks[i] = b.rank, b.mark
		if marks[i] == 0 {
			marks[i] = ' '
		}
		if i <= nowCol {
			gens[i] = m.logp.store.genAt(t.Add(slot-1), skew)
		}
	}
	// Cells are grouped into runs of one style: one escape sequence per run, not per cell.
	var top, bottom styledRuns
	for i := range cols {
		switch {
		case i > nowCol || gens[i] == 0:
			top.add(-1, ' ')
		case gens[i]%2 == 1:
			top.add(1, '▀')
		case m.sh.theme.Mono:
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
		return m.sh.theme.Warn
	case 5:
		return m.sh.theme.Bad
	case 4:
		return m.sh.theme.Refresh
	case 3:
		return m.sh.theme.Retry
	}
	return m.sh.theme.Muted
}
