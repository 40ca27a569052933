#!/usr/bin/env bash
# Regenerates the README screenshots from the real program: it runs the TUI in tmux against the
# embedded demo server, plays a scenario with the keyboard, captures the pane with its colours
# (capture-pane -e) and renders it to SVG with charmbracelet/freeze, for the dark and the light
# theme:
#
#   docs/screenshots/single-flight-{dark,light}.svg  a burst of 100 at expiry, single flight on:
#                                                    one refresh, 99 waiting, every request succeeds
#   docs/screenshots/stampede-{dark,light}.svg       the same burst with single flight off: 100
#                                                    refresh calls with one refresh token, reuse
#                                                    detected, the session ended
#
# Both scenarios run the same steps (strategy reactive, 2 s refresh latency, the access token
# expired at the server, a burst of 100); only single flight differs.
#
# Needs go and tmux. Run from anywhere: scripts/screenshots.sh (about a minute and a half);
# KEEP=1 keeps the captured screens (.ansi) and says where.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

freeze_version=v0.2.2
cache="${XDG_CACHE_HOME:-$HOME/.cache}/tokenscope/freeze-$freeze_version"
out=docs/screenshots
cols=120
rows=40
sock="tokenscope-shots-$$" # a tmux server of our own, killed on exit

command -v tmux >/dev/null || { echo "screenshots: tmux is needed" >&2; exit 1; }

tmp=$(mktemp -d)
cleanup() {
	tmux -L "$sock" kill-server 2>/dev/null || true
	rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$sock" # the socket, which tmux leaves behind
	if [[ -n ${KEEP:-} ]]; then
		echo "kept $tmp (the binary and the captured .ansi screens)"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building tokenscope"
go build -o "$tmp/tokenscope" ./cmd/tokenscope
: >"$tmp/config.toml"

freeze="$cache/freeze"
if [[ ! -x $freeze ]]; then
	echo "installing freeze $freeze_version into $cache"
	mkdir -p "$cache"
	# Outside the module, so that go.mod is left alone.
	if ! (cd "$tmp" && GOBIN="$cache" go install "github.com/charmbracelet/freeze@$freeze_version"); then
		echo "screenshots: github.com/charmbracelet/freeze@$freeze_version did not build; no screenshots" >&2
		exit 1
	fi
fi

screen() { tmux -L "$sock" capture-pane -p -t "$1"; }

# wait_for NAME REGEX [SECONDS]: until the screen shows REGEX (grep -E); on a timeout it prints the
# screen and fails.
wait_for() {
	local name=$1 re=$2 secs=${3:-15} i
	for ((i = 0; i < secs * 5; i++)); do
		if screen "$name" | grep -Eq -- "$re"; then
			return 0
		fi
		sleep 0.2
	done
	echo "screenshots: $name: no /$re/ on the screen after ${secs}s:" >&2
	screen "$name" >&2
	exit 1
}

# press NAME KEY...: one key at a time, as a person would.
press() {
	local name=$1 k
	shift
	for k in "$@"; do
		tmux -L "$sock" send-keys -t "$name" -- "$k"
		sleep 0.3
	done
}

# header NAME: the first line, where the session state, strategy and single flight are.
header() { screen "$1" | head -n 1; }

# set_strategy NAME STRATEGY: s cycles the strategies; press it until the header says so.
set_strategy() {
	local name=$1 want=$2 i
	for ((i = 0; i < 6; i++)); do
		if header "$name" | grep -q "strategy $want "; then
			return 0
		fi
		press "$name" s
	done
	echo "screenshots: $name: the strategy never became $want:" >&2
	header "$name" >&2
	exit 1
}

# play NAME THEME SCENARIO: starts the TUI and plays the scenario up to the screen to capture.
play() {
	local name=$1 theme=$2 scenario=$3
	# Pinned surroundings: 256 colours (the themes' palette), NO_COLOR unset (it would force
	# mono), and an empty config file instead of the user's.
	tmux -L "$sock" new-session -d -s "$name" -x "$cols" -y "$rows" \
		env -u NO_COLOR -u COLORTERM TERM=tmux-256color \
		"$tmp/tokenscope" --config "$tmp/config.toml" --access-ttl 4s --theme "$theme"
	wait_for "$name" '● active'

	if [[ $scenario == stampede ]]; then
		press "$name" f
		wait_for "$name" 'NO single flight' 5
	fi
	set_strategy "$name" reactive
	press "$name" L
	wait_for "$name" 'refresh calls now take 2s'
	# The log shows only the refresh story: who refreshed, who waited, what the server said.
	press "$name" /
	tmux -L "$sock" send-keys -t "$name" -l refresh
	press "$name" Enter

	wait_for "$name" 'expired [0-9.]+s ago' 10 # the 4 s access token, on its own
	# The timeline's cells are a second or so: some idle seconds keep the login and the first
	# generation apart from the burst's marks and their labels.
	sleep 8
	press "$name" E # and at the server, for good measure
	wait_for "$name" 'demo: expired'
	press "$name" b
	if [[ $scenario == stampede ]]; then
		wait_for "$name" '● login required' 20
		wait_for "$name" 'burst of 100: .* parked'
		# The newest marks sit at the timeline's right edge, where a label may have no room;
		# wait until the rejections' count shows after the refreshes' (R×100 ✗×99).
		wait_for "$name" '✗×[0-9]'
	else
		wait_for "$name" 'burst of 100: 100 ok' 20
		sleep 1 # let the timeline catch up
	fi
}

mkdir -p "$out"
for theme in dark light; do
	case $theme in
	dark) bg='#1e1e1e' style=charm ;;
	light) bg='#ffffff' style=github ;;
	esac
	for scenario in single-flight stampede; do
		name="$scenario-$theme"
		echo "playing $name"
		play "$name" "$theme" "$scenario"
		# Without the trailing newline, which freeze would draw as an empty last line.
		printf '%s' "$(tmux -L "$sock" capture-pane -e -p -t "$name")" >"$tmp/$name.ansi"
		tmux -L "$sock" kill-session -t "$name"
		# A font family other than freeze's own "JetBrains Mono" keeps freeze from embedding the
		# font (300 KB an image); viewers fall back along the list.
		"$freeze" "$tmp/$name.ansi" --language ansi --output "$out/$name.svg" \
			--theme "$style" --background "$bg" --window=false \
			--border.radius 8 --padding 20 --margin 0 \
			--font.family "JetBrains Mono, Menlo, DejaVu Sans Mono, Consolas, monospace" \
			--font.size 14 --line-height 1.2 >/dev/null
		echo "wrote $out/$name.svg ($(wc -c <"$out/$name.svg") bytes)"
	done
done
