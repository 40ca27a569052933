package tui

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"
	"tokenscope/internal/human"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"tokenscope/internal/sanitize"
	"tokenscope/session"
)

// claimsPanel shows both tokens' headers and claims as JSON, and the whole tokens once
// revealed, in a viewport that scrolls.
type claimsPanel struct {
	sh   *shared
	keys scrollKeys
	vp   viewport.Model
	// What the content was laid out from, so a tick that changed nothing costs nothing.
	access, refresh, id string
	reveal              bool
	width               int
}

func newClaimsPanel(sh *shared) *claimsPanel {
	return &claimsPanel{sh: sh, keys: newScrollKeys("scroll up", "scroll down", "top", "bottom"), vp: viewport.New(0, 0)}
}

func (p *claimsPanel) ShortHelp() []key.Binding { return nil }

func (p *claimsPanel) FullHelp() [][]key.Binding { return [][]key.Binding{p.keys.all()} }

func (p *claimsPanel) title() string { return "claims" }

func (p *claimsPanel) status() string { return "" }

func (p *claimsPanel) SetSize(width, height int) {
	p.width = width
	p.vp.Width, p.vp.Height = width, height
	p.layout()
}

func (p *claimsPanel) Update(msg tea.KeyMsg) (tea.Cmd, bool) {
	return nil, p.keys.scroll(&p.vp, msg, true)
}

// sync lays the content out again when the tokens or the reveal changed.
func (p *claimsPanel) sync() {
	s := p.sh.snap
	if s.Access.Raw != p.access || s.Refresh.Raw != p.refresh || s.IDToken.Raw != p.id || p.sh.reveal != p.reveal {
		p.layout()
	}
}

func (p *claimsPanel) layout() {
	s := p.sh.snap
	p.access, p.refresh, p.id, p.reveal = s.Access.Raw, s.Refresh.Raw, s.IDToken.Raw, p.sh.reveal
	off := p.vp.YOffset
	p.vp.SetContent(strings.Join(p.lines(), "\n"))
	p.vp.SetYOffset(off)
}

func (p *claimsPanel) lines() []string {
	th := p.sh.theme
	var lines []string
	toks := []struct {
		name string
		tok  session.Token
	}{{"access token", p.sh.snap.Access}, {"refresh token", p.sh.snap.Refresh}}
	if id := p.sh.snap.IDToken; !id.Empty() {
		toks = append(toks, struct {
			name string
			tok  session.Token
		}{"ID token (" + p.sh.snap.IDTokenCheck + ")", id})
	}
	for _, t := range toks {
		lines = append(lines, th.Header.Render(t.name))
		if p.sh.reveal && !t.tok.Empty() {
			// Revealed, the whole token, wrapped: the panel above has room for its ends only.
			for _, l := range strings.Split(ansi.Hardwrap(sanitize.Line(t.tok.Raw), max(p.width-4, 16), true), "\n") {
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
			for _, l := range strings.Split("  "+sanitize.Text(string(out)), "\n") {
				lines = append(lines, th.Value.Render(truncate(l, p.width))+p.when(l))
			}
		}
	}
	return lines
}

// timeClaim is a claim line holding a NumericDate (RFC 7519 §2).
var timeClaim = regexp.MustCompile(`^\s*"(exp|iat|nbf|auth_time|updated_at)": (\d{9,11}),?$`)

// when reads a NumericDate claim line for people: the local time and how far from now on the
// server's clock ("10:33:20, in 29s"), muted after the number.
func (p *claimsPanel) when(line string) string {
	m := timeClaim.FindStringSubmatch(line)
	if m == nil {
		return ""
	}
	sec, err := strconv.ParseInt(m[2], 10, 64)
	if err != nil {
		return ""
	}
	t := time.Unix(sec, 0)
	d := t.Sub(p.sh.snap.ServerNow(p.sh.now))
	rel := "in " + human.Approx(d)
	if d < 0 {
		rel = human.Approx(-d) + " ago"
	}
	format := "15:04:05"
	if human.Abs(d) > 20*time.Hour {
		format = "2006-01-02 15:04:05"
	}
	return p.sh.theme.Muted.Render("  (" + t.Local().Format(format) + ", " + rel + ")")
}

func (p *claimsPanel) View() string { return p.vp.View() }
