package tui

import (
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"tokenscope/apiclient"
	"tokenscope/session"
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
	// secrets are the raw tokens this session has shown, newest first: an answer that echoes
	// one shows it masked until the user reveals the tokens.
	secrets []string
}

// maxSecrets bounds the tokens kept for masking echoes: the current pair and their forebears.
const maxSecrets = 32

// remember adds the snapshot's tokens to the secrets; it reports whether any was new.
func (sh *shared) remember() bool {
	added := false
	for _, raw := range []string{sh.snap.Access.Raw, sh.snap.Refresh.Raw, sh.snap.IDToken.Raw} {
		if len(raw) < minSecretLen || slices.Contains(sh.secrets, raw) {
			continue
		}
		sh.secrets = append([]string{raw}, sh.secrets[:min(len(sh.secrets), maxSecrets-1)]...)
		added = true
	}
	return added
}

// minSecretLen: shorter "tokens" would mask ordinary words.
const minSecretLen = 8

// mask hides the session's tokens in text from the network, unless they are revealed.
func (sh *shared) mask(s string) string {
	if sh.reveal {
		return s
	}
	for _, raw := range sh.secrets {
		if strings.Contains(s, raw) {
			s = strings.ReplaceAll(s, raw, session.Mask(raw))
		}
	}
	return s
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
