package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"tokenscope/themes"
	"tokenscope/tui"
)

// maxFPS caps Bubble Tea's frame rate. Its renderer wakes up on every frame even when nothing
// changed: at the default 60 that alone kept an idle TUI at about 1 % of a core. At 15 a key's
// answer is drawn within 67 ms, and idle costs about 0.3 % (measured: 10-minute tokens, 20 s).
const maxFPS = 15

// runTUI starts the Bubble Tea program. Nothing else may write to the terminal while it runs:
// resty's diagnostics are discarded and the demo server logs nothing.
func runTUI(cmd *cobra.Command, tf *targetFlags, theme string, every time.Duration) error {
	if err := checkTheme(theme); err != nil {
		return err
	}
	if err := tf.resolve(); err != nil { // flags and the config are refused before the terminal is looked at
		return err
	}
	if !isatty.IsTerminal(os.Stdout.Fd()) && !isatty.IsCygwinTerminal(os.Stdout.Fd()) {
		return usageError("the TUI needs a terminal, and stdout is not one; without a terminal use tokenscope fire, request, observe, audit or decode (tokenscope --help)")
	}
	// What is said before the TUI starts (a password prompt, a session file's warning) goes
	// through the sanitized stderr; the TUI itself draws on os.Stdout.
	prompts := tui.NewPrompts()
	tf.ui = prompts // the URL or code to log in with shows in the TUI, never on its terminal's stderr
	b, err := tf.build(cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	defer b.Close()
	if theme == "" {
		theme = tf.cfg.Theme
		if err := checkTheme(theme); err != nil {
			return fmt.Errorf("%s: %w", tf.cfg.path, err)
		}
	}
	var faults tui.Faults // the fault keys turn the embedded demo server's knobs, and none of a real API's
	if b.demo != nil {
		faults = tui.DemoFaults(b.demo)
	}
	m := tui.New(tui.Options{Driver: tui.Drive(b.engine, faults), Theme: theme, Requests: b.presets, Insecure: b.insecure,
		NoAutoLogin: b.resumed != "", Prompts: prompts, OpenURL: opener{}.open, OpenBrowser: !tf.idp.noBrowser, Every: every,
		ErrorText: errorHint})
	defer m.Close()
	p := tea.NewProgram(m, tea.WithAltScreen(), tea.WithContext(cmd.Context()), tea.WithOutput(os.Stdout), tea.WithFPS(maxFPS), tea.WithMouseCellMotion())
	_, err = p.Run()
	return err
}

// checkTheme refuses a theme tokenscope does not have (a usage error); "" is the default.
func checkTheme(theme string) error {
	if _, ok := themes.Get(theme); theme != "" && !ok {
		return usageError("theme %q: want one of %s", theme, strings.Join(themes.Names(), ", "))
	}
	return nil
}
