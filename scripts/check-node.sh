#!/bin/sh
# Is there a Node.js new enough for cordon, and npm? `make setup` runs this first, so a missing or
# old Node is named with what to install, instead of failing later inside `npm ci` or tsx.
# The minimum is package.json's "engines": { "node": ">=MAJOR[.MINOR]" } (one source).
# Exit 0 when fine; 1 with a message on stderr when not.
set -eu
ROOT=$(unset CDPATH; cd -P -- "$(dirname -- "$0")/.." && pwd)
need=$(sed -n 's/.*"node": *">= *\([0-9][0-9.]*\)".*/\1/p' "$ROOT/package.json" | head -n 1)
[ -n "$need" ] || { echo "check-node: no engines.node \">=N\" in package.json" >&2; exit 1; }
need_major=${need%%.*}
need_minor=0
case $need in *.*) need_minor=${need#*.}; need_minor=${need_minor%%.*} ;; esac

how="install Node.js $need or newer with its npm (Debian 12's own nodejs package is 18, too old):
  NodeSource: https://github.com/nodesource/distributions (apt, then: apt-get install nodejs)
  or nvm:     https://github.com/nvm-sh/nvm (nvm install $need_major)
then run make setup again."

if ! command -v node >/dev/null 2>&1; then
  printf 'setup: Node.js not found; cordon needs Node.js >= %s and npm.\n%s\n' "$need" "$how" >&2
  exit 1
fi
have=$(node --version 2>/dev/null || true)
major=$(printf '%s' "$have" | sed -n 's/^v\([0-9][0-9]*\)\..*/\1/p')
minor=$(printf '%s' "$have" | sed -n 's/^v[0-9][0-9]*\.\([0-9][0-9]*\).*/\1/p')
if [ -z "$major" ] || [ -z "$minor" ] || [ "$major" -lt "$need_major" ] || { [ "$major" -eq "$need_major" ] && [ "$minor" -lt "$need_minor" ]; }; then
  printf 'setup: Node.js %s at %s is too old; cordon needs Node.js >= %s.\n%s\n' "${have:-(no version)}" "$(command -v node)" "$need" "$how" >&2
  exit 1
fi
if ! command -v npm >/dev/null 2>&1; then
  printf 'setup: Node.js %s is there but npm is not; cordon needs npm to install its packages.\n%s\n' "$have" "$how" >&2
  exit 1
fi
echo "setup: Node.js $have, npm $(npm --version 2>/dev/null || echo '?')"
