package tui

// The log's selected line: up and down move it (the view scrolls to keep it in sight), space
// opens its detail, a click selects one. Following the newest events, the last line is the
// selection.

import (
	"github.com/charmbracelet/x/ansi"
)

// selPos is the selected line's index into visible: the newest while following.
func (l *logStore) selPos() int {
	if l.sel != 0 {
		for i := len(l.visible) - 1; i >= 0; i-- {
			if l.events[l.visible[i].first].Seq == l.sel {
				return i
			}
		}
	}
	return len(l.visible) - 1
}

// move moves the selection by delta lines and scrolls the view of height rows to show it;
// reaching the newest line follows again.
func (l *logStore) move(delta, height int) {
	if len(l.visible) == 0 {
		return
	}
	pos := min(max(l.selPos()+delta, 0), len(l.visible)-1)
	l.selectAt(pos, height)
}

// selectAt selects the line at pos in visible and scrolls to it.
func (l *logStore) selectAt(pos, height int) {
	if pos >= len(l.visible)-1 {
		l.sel, l.follow = 0, true
		return
	}
	l.sel = l.events[l.visible[pos].first].Seq
	maxOff := max(len(l.visible)-height, 0)
	off := l.offset
	if l.follow {
		off = maxOff
	}
	switch {
	case pos < off:
		off = pos
	case pos >= off+height:
		off = pos - height + 1
	}
	l.offset, l.follow = min(off, maxOff), false
}

// selectRow selects the line drawn at row of a view of height rows (a click).
func (l *logStore) selectRow(row, height int) {
	maxOff := max(len(l.visible)-height, 0)
	off := l.offset
	if l.follow || off > maxOff {
		off = maxOff
	}
	if pos := off + row; pos >= 0 && pos < len(l.visible) {
		l.selectAt(pos, height)
		if pos == len(l.visible)-1 {
			l.sel = l.events[l.visible[pos].first].Seq // clicked: selected, though at the end
		}
	}
}

// selected is the selected line: the event it shows (a run's newest) and how many it stands
// for; ok is false when the log shows none.
func (l *logStore) selected() (row logRow, ok bool) {
	if len(l.visible) == 0 {
		return logRow{}, false
	}
	return l.visible[l.selPos()], true
}

// highlight draws a selected line in the selection style, its own colours dropped.
func highlight(line string, sel func(string) string) string { return sel(ansi.Strip(line)) }
