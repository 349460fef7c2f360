#!/usr/bin/env bash
# make demo: a newcomer's tour of cordon on seed 000 (Proxmox dual bridge).
# Prints what cordon understood, who can reach whom, the seed's own checks, and what the seed as
# written gets wrong. Exit status: non-zero only if the example itself fails its checks.
set -euo pipefail
cd "$(dirname "$0")/.."
spec=examples/proxmox-dual-bridge.yaml
mistake=examples/mistakes/proxmox-dual-bridge-as-written.yaml
c() { ./bin/cordon "$@"; }
h() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

h "1. What cordon understood from $spec"
c describe "$spec"

h "2. Who can reach whom, as configured"
c matrix "$spec"

h "3. The same if every guest were hostile (forges sources, adds routes, drops its own firewall)"
c matrix "$spec" --assume compromised

h "4. The seed's own verification steps and the built-in invariants"
c test "$spec"

h "5. Why can a WireGuard client not reach Ollama? (the seed: \"Ska INTE fungera\")"
c explain "$spec" --from wg-client --to ollama.api || true

if [ -f "$mistake" ]; then
  h "6. The seed exactly as written: what cordon catches"
  c test "$mistake" || echo "(cordon test exits 1 here: these are the seed's mistakes)"
fi

h "7. The nftables rule set cordon renders for pve (first lines)"
c render "$spec" --target nftables --host pve | sed -n '1,40p'
echo "…"
printf '\nNext: ./bin/cordon --help, README.md, and examples/ for the other four seeds.\n'
