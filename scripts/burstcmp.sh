#!/usr/bin/env bash
# The burst as a user runs it (issue 18, "Speed"): a demo server with 2 s access tokens, and
# against it, interleaved for ROUNDS rounds (default 5, the first client alternating),
#
#   tokenscope fire --profile simplejwt --user demo --password-env PW --wait-expiry \
#       -n 1000 -c 1000 --json GET /api/protected/        (its events to a file, as a user's pipe)
#   scripts/burstcmp                                       (golang.org/x/oauth2 doing the same)
#
# Each prints ok, refreshes and wall_ms (from the first request to the last answer); the script
# prints both walls per round, their ratio, and the medians. Goal: tokenscope's wall ≤ 0.95 ×
# x/oauth2's, one refresh and every request answered in every round.
#
# Needs go and jq. Run from anywhere: scripts/burstcmp.sh; PORT (default 18400) and ROUNDS.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
command -v jq >/dev/null || { echo "burstcmp: jq is needed" >&2; exit 1; }

port=${PORT:-18400}
rounds=${ROUNDS:-5}
tmp=$(mktemp -d)
server=""
cleanup() {
	[[ -n $server ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/tokenscope" ./cmd/tokenscope
go build -o "$tmp/burstcmp" ./scripts/burstcmp

"$tmp/tokenscope" demo-server --quiet --addr "127.0.0.1:$port" --access-ttl 2s >"$tmp/server.log" 2>&1 &
server=$!
url="http://127.0.0.1:$port"
for _ in $(seq 50); do
	curl -fsS -o /dev/null "$url/" 2>/dev/null && break
	sleep 0.1
done
export PW=demo

fire() {
	"$tmp/tokenscope" fire --target "$url" --profile simplejwt --user demo --password-env PW --wait-expiry \
		-n 1000 -c 1000 --json GET /api/protected/ >"$tmp/fire.jsonl" 2>"$tmp/fire.err" || true
	tail -n 1 "$tmp/fire.jsonl"
}
x() { "$tmp/burstcmp" --target "$url" --password-env PW -n 1000 2>"$tmp/x.err" || true; }

check() { # name, summary line
	jq -e '.ok == 1000 and .refreshes == 1' <<<"$2" >/dev/null ||
		echo "  $1 missed the goal's conditions: $2" >&2
}

ts_walls=() x_walls=()
printf '%-6s %14s %14s %8s\n' round tokenscope_ms x/oauth2_ms ratio
for r in $(seq "$rounds"); do
	if ((r % 2)); then
		t=$(fire); o=$(x)
	else
		o=$(x); t=$(fire)
	fi
	check tokenscope "$t"
	check x/oauth2 "$o"
	tw=$(jq -r .wall_ms <<<"$t") ow=$(jq -r .wall_ms <<<"$o")
	ts_walls+=("$tw") x_walls+=("$ow")
	printf '%-6s %14s %14s %8.3f\n' "$r" "$tw" "$ow" "$(jq -n "$tw / $ow")"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mt=$(median "${ts_walls[@]}") mo=$(median "${x_walls[@]}")
printf '%-6s %14s %14s %8.3f\n' median "$mt" "$mo" "$(jq -n "$mt / $mo")"
