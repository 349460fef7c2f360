#!/usr/bin/env bash
# Byte-for-byte comparison of two builds' outputs (render and lint), for speed work that must not
# change a byte: every render target of the examples, the mistakes and a `cordon gen` spec, and
# `lint` / `lint --json` (stdout, stderr, exit code) of the same files.
#   bench/compare-outputs.sh OLD_DIR NEW_DIR [SPEC...]
# OLD_DIR and NEW_DIR are checkouts with dist/ built (`npm run build`, or `npx tsc -p tsconfig.json`).
# Without SPECs: examples/*.yaml, examples/mistakes/*.yaml, examples/sandbox/agent.yaml and
# `cordon gen --hosts 1000 --rules 10000`. Exit 0 when every output is identical.
set -euo pipefail
OLD=$(cd "$1" && pwd)
NEW=$(cd "$2" && pwd)
shift 2
WORK=$(mktemp -d /tmp/cordon-compare-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
KEYS="$WORK/keys"
if [ $# -eq 0 ]; then
  set -- "$NEW"/examples/*.yaml "$NEW"/examples/mistakes/*.yaml "$NEW"/examples/sandbox/agent.yaml
  node "$NEW/dist/cli/main.js" gen --hosts 1000 --rules 10000 --out "$WORK/gen-1k.yaml"
  set -- "$@" "$WORK/gen-1k.yaml"
fi
TARGETS=$(node "$NEW/dist/cli/main.js" render --target list | awk '/^[a-z]/ {print $1}')
fail=0
run() { # side name args...
  local side=$1 name=$2
  shift 2
  local dir="$WORK/$side/$name"
  mkdir -p "$dir"
  local root=$OLD
  [ "$side" = new ] && root=$NEW
  # Same working directory for both sides: paths in messages must match.
  (cd "$WORK" && NO_COLOR=1 node "$root/dist/cli/main.js" "$@" >"$dir/stdout" 2>"$dir/stderr"; echo $? >"$dir/exit") || true
  # Rendered files go to one relative directory for both sides ("wrote out/…" reads the same).
  if [ -d "$WORK/out" ]; then mv "$WORK/out" "$dir/out"; fi
}
for spec in "$@"; do
  s="$(basename "$spec")"
  [ "$spec" -ef "$WORK/$s" ] || cp "$spec" "$WORK/$s"
  for side in old new; do
    run $side "$s-lint" lint "$s"
    run $side "$s-lint-json" lint --json "$s"
    for t in $TARGETS; do
      # One key store per side and spec, made by the old side first and copied: keys are random.
      mkdir -p "$KEYS/$s"
      run $side "$s-render-$t" render --target "$t" --keys "$KEYS/$s" -o out "$s"
    done
  done
done
if diff -r "$WORK/old" "$WORK/new" >"$WORK/diff.txt"; then
  echo "identical: $(find "$WORK/new" -type f | wc -l) files over $# specs"
else
  head -50 "$WORK/diff.txt"
  fail=1
fi
exit $fail
