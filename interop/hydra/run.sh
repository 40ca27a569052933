#!/usr/bin/env bash
# Interop check: tokenscope's engine against a local Ory Hydra (OpenID Certified), with
# auth-code + PKCE, client credentials and (when Hydra has it) the device flow. A manual
# check, not part of CI: it builds Hydra once (cached outside the repo), starts Hydra, the
# login/consent app and the driver on 127.0.0.1, prints a PASS/FAIL table and stops
# everything it started on exit. Arguments go to the driver (e.g. -flows client-credentials).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${TOKENSCOPE_INTEROP_CACHE:-$HOME/.cache/tokenscope-interop}
hydra_version=$(awk '$1 == "github.com/ory/hydra/v2" && $2 ~ /^v/ { print $2 }' "$here/tool/go.mod")
hydra=$cache/hydra-$hydra_version
logs=$cache/logs
mkdir -p "$cache" "$logs"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for port in 4444 4445 4454 3000 8765; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port on 127.0.0.1 is in use: stop what listens there (an earlier run?) and try again" >&2
    exit 1
  fi
done

if [ ! -x "$hydra" ]; then
  # DSN=memory is SQLite in memory: Hydra has SQLite only when built with these tags (cgo).
  echo "== building Hydra $hydra_version into $hydra (once; a few minutes)"
  (cd "$here/tool" && go build -p 2 -tags sqlite,sqlite_omit_load_extension -o "$hydra.tmp" github.com/ory/hydra/v2)
  mv "$hydra.tmp" "$hydra"
fi
echo "== building the login/consent app and the driver"
(cd "$here" && go build -o "$cache/loginconsent" ./loginconsent && go build -o "$cache/driver" ./driver)

echo "== starting Hydra $hydra_version (in memory), logs in $logs"
# --sqa-opt-out: no telemetry (the machine reaches nothing outside anyway, and must not try).
DSN=memory SQA_OPT_OUT=true SECRETS_SYSTEM="$(head -c 24 /dev/urandom | base64)" \
  "$hydra" serve all --dev --sqa-opt-out --config "$here/hydra.yml" >"$logs/hydra.log" 2>&1 &
pids+=($!)
"$cache/loginconsent" -addr 127.0.0.1:3000 -admin http://127.0.0.1:4445 >"$logs/loginconsent.log" 2>&1 &
pids+=($!)

ready() { curl -fsS -o /dev/null "$1" 2>/dev/null; }
for _ in $(seq 300); do
  ready http://127.0.0.1:4445/health/ready && ready http://127.0.0.1:4454/health/ready && ready http://127.0.0.1:3000/healthz && break
  sleep 0.1
done
if ! ready http://127.0.0.1:4445/health/ready; then
  echo "Hydra did not come up; its log:" >&2
  tail -n 30 "$logs/hydra.log" >&2
  exit 1
fi

echo "== driver"
# In the background and waited for, so that a signal to this script stops it at once too.
"$cache/driver" "$@" > >(tee "$logs/driver.log") 2>&1 &
driver=$!
pids+=("$driver")
rc=0
wait "$driver" || rc=$?
echo "(logs: $logs)"
exit "$rc"
