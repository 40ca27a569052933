package audit

// The report card as text: a table for a terminal, Markdown for an issue or a wiki.

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"tokenscope/internal/sanitize"
)

// Glyph is the verdict's mark: ✔ pass, ▲ warn, ✗ fail, · info, – skip.
func (s Status) Glyph() string {
	switch s {
	case Pass:
		return "✔"
	case Warn:
		return "▲"
	case Fail:
		return "✗"
	case Info:
		return "·"
	}
	return "–"
}

// ValueText is a measured value on one line: a string as it is, anything else as compact JSON,
// "–" for none.
func ValueText(v any) string {
	switch x := v.(type) {
	case nil:
		return "–"
	case string:
		return sanitize.Line(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "?"
	}
	return sanitize.Line(string(b))
}

// Counts tallies the verdicts.
func (r Report) Counts() map[Status]int {
	n := map[Status]int{}
	for _, c := range r.Checks {
		n[c.Status]++
	}
	return n
}

// Tally is the verdict counts in a sentence: "9 pass, 2 warn, 1 fail, 1 skip".
func (r Report) Tally() string {
	n := r.Counts()
	var parts []string
	for _, s := range []Status{Pass, Warn, Fail, Info, Skip} {
		if n[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[s], s))
		}
	}
	return strings.Join(parts, ", ")
}

// Table writes the card for a terminal of the given width: per check a line with the verdict,
// the id and the value, then its meaning, wrapped and indented.
func (r Report) Table(w io.Writer, width int) {
	if width < 40 {
		width = 80
	}
	fmt.Fprintf(w, "tokenscope audit of %s (profile %s), %d logins\n\n", sanitize.Line(r.Target), sanitize.Line(r.Profile), r.LoginsUsed)
	for _, c := range r.Checks {
		fmt.Fprintf(w, "%s %-4s  %-24s %s\n", c.Status.Glyph(), c.Status, c.ID, ValueText(c.Value))
		text := sanitize.Line(c.Summary)
		if c.Reference != "" {
			text += " (" + c.Reference + ")"
		}
		for _, line := range wrap(text, width-8) {
			fmt.Fprintf(w, "        %s\n", line)
		}
	}
	fmt.Fprintf(w, "\n%s\n", r.Tally())
}

// wrap breaks text into lines of at most n runes, at spaces.
func wrap(text string, n int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && len([]rune(line))+1+len([]rune(word)) > n {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// Markdown writes the card for an issue or a wiki: how it was made, the table, and the
// evidence of each check (tokens as fingerprints).
func (r Report) Markdown(w io.Writer, command string) {
	cell := func(s string) string { return strings.ReplaceAll(sanitize.Line(s), "|", `\|`) }
	fmt.Fprintf(w, "# tokenscope audit: %s\n\n", cell(r.Target))
	fmt.Fprintf(w, "Profile `%s`, %d logins. %s.\n\n", cell(r.Profile), r.LoginsUsed, r.Tally())
	if command != "" {
		fmt.Fprintf(w, "```\n%s\n```\n\n", sanitize.Line(command))
	}
	fmt.Fprintln(w, "| check | verdict | value | what it means | reference |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, c := range r.Checks {
		fmt.Fprintf(w, "| `%s` | %s %s | `%s` | %s | %s |\n", c.ID, c.Status.Glyph(), c.Status, cell(ValueText(c.Value)), cell(c.Summary), cell(c.Reference))
	}
	fmt.Fprintln(w, "\n## Evidence")
	for _, c := range r.Checks {
		if len(c.Evidence) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n### %s\n\n", c.ID)
		for _, e := range c.Evidence {
			fmt.Fprintf(w, "- `%s`\n", strings.ReplaceAll(sanitize.Line(e), "`", "'"))
		}
	}
}
