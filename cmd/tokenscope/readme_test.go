package main

import (
	"html"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"tokenscope/apiclient/observe"
	"tokenscope/session"
)

// docPages are the README and the reference pages it links from its contents.
var docPages = []string{
	"README.md", "docs/profiles.md", "docs/hosted.md", "docs/json.md", "docs/keys.md",
	"docs/exit-codes.md", "docs/demo-server.md",
}

func readDoc(t *testing.T, page string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../..", page))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReadmeFirstScreen: a newcomer finds the Quick start's two commands, verbatim, and a way to
// point tokenscope at their own API (a --target command and a full-URL request) within the
// README's first 80 lines, and the contents list links every reference page.
func TestReadmeFirstScreen(t *testing.T) {
	doc := readDoc(t, "README.md")
	lines := strings.Split(doc, "\n")
	first := strings.Join(lines[:min(80, len(lines))], "\n")
	for _, want := range []string{
		"go run ./cmd/tokenscope     # run tokenscope against the embedded demo server",
		"go test ./...               # run the tests",
	} {
		if !strings.Contains(first, want) {
			t.Errorf("the README's first 80 lines lack the Quick start line %q", want)
		}
	}
	if !regexp.MustCompile(`(?m)^tokenscope --target https?://\S+`).MatchString(first) {
		t.Error("the README's first 80 lines have no `tokenscope --target URL` command")
	}
	if !regexp.MustCompile(`(?m)^tokenscope request .*\b(GET|POST) https?://\S+`).MatchString(first) {
		t.Error("the README's first 80 lines have no full-URL `tokenscope request` command")
	}
	_, contents, ok := strings.Cut(doc, "\n## Contents\n")
	if !ok {
		t.Fatal("the README has no contents list")
	}
	contents, _, _ = strings.Cut(contents, "\n## ")
	for _, page := range docPages[1:] {
		if !strings.Contains(contents, "("+page+")") {
			t.Errorf("the README's contents do not link %s", page)
		}
	}
}

// slug is GitHub's anchor for a heading: lower case, punctuation but hyphens and underscores
// dropped, spaces to hyphens.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestDocsLinksResolve: every relative link of the README and the reference pages names a file
// that exists, and every #anchor a heading of the page it points into, so that moving a section
// cannot leave a link behind.
func TestDocsLinksResolve(t *testing.T) {
	link := regexp.MustCompile(`\]\(([^)\s]+)\)|src="([^"]+)"`)
	anchors := func(page string) map[string]bool {
		out := map[string]bool{}
		for _, m := range regexp.MustCompile(`(?m)^#+ (.+)$`).FindAllStringSubmatch(readDoc(t, page), -1) {
			out[slug(m[1])] = true
		}
		return out
	}
	checked := 0
	for _, page := range docPages {
		for _, m := range link.FindAllStringSubmatch(readDoc(t, page), -1) {
			target := m[1] + m[2]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			resolved := page
			if file != "" {
				resolved = filepath.ToSlash(filepath.Join(filepath.Dir(page), file))
				if _, err := os.Stat(filepath.Join("../..", resolved)); err != nil {
					t.Errorf("%s links %s, which does not exist", page, target)
					continue
				}
			}
			if anchor != "" && !anchors(resolved)[anchor] {
				t.Errorf("%s links %s: %s has no heading with that anchor", page, target, resolved)
			}
			checked++
		}
	}
	if checked < 30 {
		t.Fatalf("%d links checked; the check found too few to mean anything", checked)
	}
}

// TestReadmeScreenshotCaptions: a screenshot taken with the log filtered says so, with the
// filter line it shows, so that nobody takes a filtered log for the whole story.
func TestReadmeScreenshotCaptions(t *testing.T) {
	doc := readDoc(t, "README.md")
	filtered := regexp.MustCompile(`\d+ of \d+ events match "[^"]*"`)
	shots := regexp.MustCompile(`src="(docs/screenshots/[^"]+\.svg)"`).FindAllStringSubmatch(doc, -1)
	if len(shots) == 0 {
		t.Fatal("the README shows no screenshot")
	}
	for _, m := range shots {
		svg := html.UnescapeString(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(readDoc(t, m[1]), ""))
		f := filtered.FindString(svg)
		if f == "" {
			continue
		}
		n, _, _ := strings.Cut(f, " events")
		if !strings.Contains(doc, n+" events match") && !strings.Contains(doc, "`"+n+"`") {
			t.Errorf("%s was taken with the log filtered (%s) and the README does not say so", m[1], f)
		}
	}
}

// TestDocsCommandFlagsExist: every --flag of every tokenscope command line in the README's and
// the reference pages' shell blocks is a flag of the command it is given to, so that no printed
// command can fail on a renamed or removed flag.
func TestDocsCommandFlagsExist(t *testing.T) {
	root := newRootCmd(io.Discard, io.Discard)
	block := regexp.MustCompile("(?s)```sh\n(.*?)```")
	call := regexp.MustCompile(`(?:^|[\s(])(?:go run \./cmd/)?tokenscope\s+([^|;&#>\n]*)`)
	checked := 0
	for _, page := range docPages {
		for _, b := range block.FindAllStringSubmatch(readDoc(t, page), -1) {
			text := strings.ReplaceAll(b[1], "\\\n", " ")
			prompted := strings.Contains(text, "\n$ ") || strings.HasPrefix(text, "$ ")
			for _, line := range strings.Split(text, "\n") {
				line = strings.TrimSpace(line)
				if prompted {
					var ok bool
					if line, ok = strings.CutPrefix(line, "$ "); !ok {
						continue // the output of a command
					}
				}
				if strings.HasPrefix(line, "#") {
					continue
				}
				for _, m := range call.FindAllStringSubmatch(line, -1) {
					args := strings.Fields(m[1])
					if i := slices.Index(args, "--"); i >= 0 {
						args = args[:i] // observe -- CMD: CMD's own arguments follow
					}
					cmd, _, err := root.Find(args)
					if err != nil || len(args) > 0 && args[0] == "__complete" {
						continue
					}
					for _, a := range args {
						name, ok := strings.CutPrefix(a, "--")
						if !ok || name == "" || name == "help" {
							continue
						}
						name, _, _ = strings.Cut(name, "=")
						checked++
						if cmd.Flags().Lookup(name) == nil && cmd.InheritedFlags().Lookup(name) == nil {
							t.Errorf("%s: `tokenscope %s` gives --%s, which %q does not have", page, m[1], name, cmd.CommandPath())
						}
					}
				}
			}
		}
	}
	if checked < 40 {
		t.Fatalf("%d flags checked; the check found too few to mean anything", checked)
	}
}

// TestJSONDocNamesEveryField: docs/json.md names every field an event, fire's summary and
// observe's summary can carry, and every event kind, so that a field added to the output
// cannot go undocumented.
func TestJSONDocNamesEveryField(t *testing.T) {
	doc := readDoc(t, "docs/json.md")
	names := func(v any) []string {
		var out []string
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			tag, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			if tag != "" && tag != "-" {
				out = append(out, tag)
			}
		}
		return out
	}
	for what, fields := range map[string][]string{
		"the event":          names(session.Event{}),
		"fire's summary":     names(summary{}),
		"observe's summary":  names(observe.Summary{}),
		"the log file stats": names(logFileStats{}),
	} {
		if len(fields) < 3 {
			t.Fatalf("%s has %d JSON fields; the check found too few to mean anything", what, len(fields))
		}
		for _, f := range fields {
			if !strings.Contains(doc, "`"+f+"`") {
				t.Errorf("docs/json.md does not name %s's field %q", what, f)
			}
		}
	}
	// Kinds are numbered from 1 without gaps; the first number without a name ends them.
	kinds := 0
	for k := session.Kind(1); k.String() != "unknown"; k++ {
		kinds++
		if !strings.Contains(doc, "`"+k.String()+"`") {
			t.Errorf("docs/json.md does not name the event kind %q", k)
		}
	}
	if kinds < 10 {
		t.Fatalf("%d event kinds; the check found too few to mean anything", kinds)
	}
}
