package tui

import (
	"time"

	"github.com/charmbracelet/bubbles/help"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"tokenscope/apiclient"
	"tokenscope/internal/redact"
	"tokenscope/themes"
)

// component is what every panel of the main area is (soft-serve's contract): it answers its
// own keys, documents them for the help bar and overlay, is told its size when the terminal
// changes, and draws itself. View only draws: sizes and styles are set in SetSize and
// setTheme, content is laid out when it changes.
type component interface {
	help.KeyMap
	// Update handles a key meant for the panel; handled is false when the key is not its own.
	Update(msg tea.KeyMsg) (cmd tea.Cmd, handled bool)
	SetSize(width, height int)
	View() string
	// status is the panel's line beside the tabs.
	status() string
	// title is the panel's name on its tab.
	title() string
	// wheel scrolls by d lines (negative: up) with the pointer at column x; click picks what is
	// at row of the panel.
	wheel(x, d int)
	click(x, row int)
}

// eventWatcher is a panel that lays out from the log: it is told when events came in.
type eventWatcher interface{ eventsIn() }

// shared is what every part of the screen reads: the root sets it, the panels never do.
type shared struct {
	theme  themes.Theme
	tname  string
	snap   apiclient.Snapshot
	now    time.Time
	reveal bool
	// secrets are the session's secrets (the engine's own set when the TUI drives one, which
	// holds its credentials too): an answer that echoes one shows it masked until the user
	// reveals the tokens. seen is the set's version the layout was made with.
	secrets *redact.Secrets
	seen    uint64
}

// remember adds the snapshot's tokens to the secrets; it reports whether the secrets changed
// since the last call (the masked text changed length: lay out again).
func (sh *shared) remember() bool {
	sh.secrets.Add(redact.Access, sh.snap.Access.Raw)
	sh.secrets.Add(redact.Refresh, sh.snap.Refresh.Raw)
	sh.secrets.Add(redact.IDToken, sh.snap.IDToken.Raw)
	v := sh.secrets.Version()
	changed := v != sh.seen
	sh.seen = v
	return changed
}

// mask hides the session's secrets in text from the network, unless they are revealed.
func (sh *shared) mask(s string) string {
	if sh.reveal {
		return s
	}
	return sh.secrets.Mask(s)
}

// layoutStyles are the width-bound styles of the layout, built once per resize or theme.
type layoutStyles struct {
	tokenLeft, tokenRight lipgloss.Style // the token panels side by side on a wide terminal
}

// Layout sizes, in cells.
const (
	minWidth       = 60
	minHeight      = 18
	tokenRows      = 7 // two token panels: title + 2 lines + bar, and title + 2 lines
	wideTokenRows  = 4 // side by side
	timelineRows   = 5
	chromeRows     = 3 // header, tabs, help bar
	requestListMax = 34
	wideTokens     = 150 // at this width the token panels sit side by side
	tokenIndent    = 8   // the token panels' second and later lines start under the value
	dialogMaxWidth = 76
)

type pane int

const (
	paneLog pane = iota
	paneRequests
	paneClaims
	paneCount
)

// mode says who reads the keyboard: the panels and global keys, or one input or overlay.
type mode int

const (
	modeNormal  mode = iota
	modeFilter       // the log's filter input
	modeCompose      // the request composer
	modeHelp         // the ? overlay
	modeDetail       // one log line in full (space)
)
