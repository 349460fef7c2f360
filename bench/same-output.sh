#!/bin/bash
# Compares what two builds of the CLI print, byte for byte: stdout, stderr and exit code of
# check, check --json, matrix (table, --list, --json, --assume compromised), lint, lint --json
# and render (every target but wireguard, whose keys are random) on a generated 1,000-host spec
# and on every example. For speed work that must not change any output (BENCHMARKS.md, sixth
# round). The error texts of bad specs are checked by test/bad.test.ts against test/bad/*.expected.
#
#   bench/same-output.sh OLD_DIR NEW_DIR    # each a checkout with its own `npx tsc` build in dist/
#
# Exits 0 when every output is the same, 1 with the differing files listed otherwise.
set -u
OLD=$1
NEW=$2
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
node "$NEW/dist/cli/main.js" gen --hosts 1000 --rules 10000 --seed 1 --out "$WORK/gen-1k.yaml"
SPECS=("$WORK/gen-1k.yaml" "$NEW"/examples/*.yaml "$NEW"/examples/mistakes/*.yaml)
CMDS=(
  "check" "check --json"
  "matrix" "matrix --list" "matrix --json" "matrix --assume compromised"
  "lint" "lint --json"
  "render --target nftables" "render --target nftables --json" "render --target iptables"
  "render --target kubernetes" "render --target proxmox" "render --target libvirt"
  "render --target netplan" "render --target ifupdown" "render --target dns" "render --target prometheus"
)
bad=0
for spec in "${SPECS[@]}"; do
  for cmd in "${CMDS[@]}"; do
    # The big spec: the commands of the speed targets only (the others are seconds each).
    if [[ $spec == "$WORK/gen-1k.yaml" && $cmd == "render --target "[!n]* ]]; then continue; fi
    tag="$(basename "$spec" .yaml) ${cmd}"
    for side in old new; do
      dir=$OLD
      [[ $side == new ]] && dir=$NEW
      # Relative spec paths: the file name is part of the output; both builds see the same one.
      (cd "$(dirname "$spec")" && NO_COLOR=1 node "$dir/dist/cli/main.js" $cmd "$(basename "$spec")" >"$WORK/$side.out" 2>"$WORK/$side.err"
        echo "exit $?" >>"$WORK/$side.err")
    done
    if ! cmp -s "$WORK/old.out" "$WORK/new.out" || ! cmp -s "$WORK/old.err" "$WORK/new.err"; then
      echo "DIFFERENT: $tag"
      diff <(cat "$WORK/old.out" "$WORK/old.err") <(cat "$WORK/new.out" "$WORK/new.err") | head -5
      bad=1
    else
      echo "same: $tag ($(wc -c <"$WORK/new.out") bytes)"
    fi
  done
done
exit $bad
