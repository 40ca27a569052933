#!/usr/bin/env bash
# Report cards of real servers no one here wrote, for docs/audits/: stock Django simplejwt,
# simplejwt with ROTATE_REFRESH_TOKENS and the blacklist, and django-oauth-toolkit (an OpenID
# provider) with and without a refresh grace period, all from Debian's packages, on 127.0.0.1.
# A manual check, not part of CI. It installs the packages when they are missing (as root),
# starts each server on a fresh SQLite file, runs `tokenscope audit --active` against it,
# writes the card with the server's versions and settings, and stops everything it started.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${OUT:-$repo/docs/audits}
py=/usr/bin/python3 # Debian's, where its packages are
work=$(mktemp -d)
mkdir -p "$out"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pkgs=(python3-djangorestframework-simplejwt python3-django-oauth-toolkit)
if ! dpkg-query -W "${pkgs[@]}" >/dev/null 2>&1; then
  apt-get install -y -q "${pkgs[@]}"
fi
for port in 8001 8002 8003 8004; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port on 127.0.0.1 is in use: stop what listens there and try again" >&2
    exit 1
  fi
done

(cd "$repo" && go build -o "$work/tokenscope" ./cmd/tokenscope)

# wait_port NAME PORT: until the server listens, or its log and exit.
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "$1 did not start; its log:" >&2
  tail -n 20 "$work/$1.log" >&2
  exit 1
}

# serve_simplejwt NAME PORT [VAR=VALUE...]: server.py on a fresh database.
serve_simplejwt() {
  local name=$1 port=$2
  shift 2
  mkdir -p "$work/$name"
  env DATA_DIR="$work/$name" ACCESS_TTL=10 "$@" "$py" "$here/server.py" "$port" >"$work/$name.log" 2>&1 &
  pids+=($!)
  wait_port "$name" "$port"
}

# serve_dot NAME PORT [VAR=VALUE...]: dot.py on a fresh database, its user and client.
serve_dot() {
  local name=$1 port=$2
  shift 2
  local e=(DB="$work/$name.sqlite3" OIDC_KEY="$work/$name.pem" "$@")
  env "${e[@]}" "$py" "$here/dot.py" migrate -v0
  env "${e[@]}" "$py" "$here/dot.py" setup
  env "${e[@]}" "$py" "$here/dot.py" runserver "127.0.0.1:$port" --noreload >"$work/$name.log" 2>&1 &
  pids+=($!)
  wait_port "$name" "$port"
}

versions() {
  dpkg-query -W -f='${Package} ${Version}\n' python3-django python3-djangorestframework "$@"
}

# audit NAME PORT PROFILE SETTINGS PACKAGE: the card, then how it was made.
audit() {
  local name=$1 port=$2 profile=$3 settings=$4 pkg=$5
  # From the repository, with paths relative to it: the card quotes its command line.
  (cd "$repo" && AUDIT_PW=demo "$work/tokenscope" audit --target "http://127.0.0.1:$port" --profile "$profile" \
    --user demo --password-env AUDIT_PW --active --max-wait 30s --yes --markdown "$(realpath --relative-to="$repo" "$out")/$name.md") || true
  {
    echo
    echo "## The server"
    echo
    echo "$settings"
    echo
    echo "Debian bookworm packages:"
    echo
    versions "$pkg" | sed 's/^/- /'
    echo
    echo "Made by \`interop/django/run.sh\` ($(date -u +%Y-%m-%d))."
  } >>"$out/$name.md"
}

serve_simplejwt simplejwt-stock 8001
serve_simplejwt simplejwt-rotate 8002 ROTATE=1
serve_dot dot 8003
serve_dot dot-grace 8004 GRACE=5

audit simplejwt-stock 8001 simplejwt \
  "Stock \`rest_framework_simplejwt\` (\`interop/django/server.py\`): its defaults but \`ACCESS_TOKEN_LIFETIME\` 10 s (\`ACCESS_TTL=10\`), \`REFRESH_TOKEN_LIFETIME\` a day." \
  python3-djangorestframework-simplejwt
audit simplejwt-rotate-blacklist 8002 simplejwt \
  "simplejwt (\`interop/django/server.py\`) with \`ROTATE_REFRESH_TOKENS\`, \`BLACKLIST_AFTER_ROTATION\` and the \`token_blacklist\` app (\`ROTATE=1\`), \`ACCESS_TOKEN_LIFETIME\` 10 s, \`REFRESH_TOKEN_LIFETIME\` a day." \
  python3-djangorestframework-simplejwt
audit django-oauth-toolkit 8003 interop/django/dot-profile.toml \
  "django-oauth-toolkit as an OpenID provider (\`interop/django/dot.py\`, profile \`interop/django/dot-profile.toml\`): its defaults (rotation on, \`REFRESH_TOKEN_GRACE_PERIOD_SECONDS\` 0) but \`ACCESS_TOKEN_EXPIRE_SECONDS\` 10, a public client with the password grant, the API behind DRF's \`OAuth2Authentication\`, SQLite." \
  python3-django-oauth-toolkit
audit django-oauth-toolkit-grace-5s 8004 interop/django/dot-profile.toml \
  "django-oauth-toolkit as above with \`REFRESH_TOKEN_GRACE_PERIOD_SECONDS\` 5 (\`GRACE=5\`)." \
  python3-django-oauth-toolkit
echo "cards in $out"
