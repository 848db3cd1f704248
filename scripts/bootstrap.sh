#!/usr/bin/env bash
# Makes this machine able to run hookyard, doing only what is missing:
#   - Java 17+, Maven (they fetch and run Kafka and the registry), redis-server and postgresql, from
#     Debian's packages (apt-get; as root, or through sudo); for ./hookyard test also chromium
#     and a font (the web console's browser tests);
#   - the Node version pinned in .nvmrc, from the npm registry (scripts/ensure-node.sh);
#   - node_modules, by `npm ci`, when it is missing or older than package-lock.json.
# Prints the pinned Node's bin directory on stdout; what it does goes to stderr.
# Used by ./hookyard (so by `./hookyard up`, `./hookyard test` and CI); one copy only.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
say() { echo "hookyard: $*" >&2; }

java_major() {
  command -v java >/dev/null || { echo 0; return; }
  java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1
}

missing=()
[ "$(java_major)" -ge 17 ] 2>/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v redis-server >/dev/null || missing+=(redis-server)
# The event history's production store (its tests and a postgres-backed console).
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
# For the tests only (./hookyard test): a real browser for the web console's tests, and a font.
if [ "${HOOKYARD_BOOTSTRAP_TESTS:-}" = 1 ]; then
  command -v chromium >/dev/null || missing+=(chromium)
  [ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
fi
if [ ${#missing[@]} -gt 0 ]; then
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { say "missing ${missing[*]}; install them (apt-get install ${missing[*]}) or run as root"; exit 1; }
    sudo=(sudo)
  fi
  command -v apt-get >/dev/null || { say "missing ${missing[*]}, and no apt-get to install them with; install them and run again"; exit 1; }
  say "installing ${missing[*]} from Debian's packages…"
  aptlog=$(mktemp)
  if ! { "${sudo[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$aptlog" 2>&1; then
    cat "$aptlog" >&2
    say "apt-get failed (above); install ${missing[*]} and run again"
    exit 1
  fi
  rm -f "$aptlog"
fi

node_bin=$(bash "$root/scripts/ensure-node.sh")
export PATH="$node_bin:$PATH"

# npm ci writes node_modules/.package-lock.json; a lock file newer than it means the
# dependencies changed since (a pull, a branch switch).
if [ ! -f "$root/node_modules/.package-lock.json" ] || [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
  say "installing npm packages (npm ci)…"
  (cd "$root" && npm ci --no-audit --no-fund --no-progress --loglevel=error >&2)
fi
echo "$node_bin"
