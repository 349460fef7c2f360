#!/usr/bin/env bash
# make demo: a newcomer's tour of cordon on seed 000 (Proxmox dual bridge).
# Prints what cordon understood, who can reach whom, the seed's own checks, and what the seed as
# written gets wrong. Exit status: non-zero only if the example itself fails its checks.
set -euo pipefail
cd "$(dirname "$0")/.."
spec=examples/proxmox-dual-bridge.yaml
mistake=examples/mistakes/proxmox-dual-bridge-as-written.yaml
c() { ./bin/cordon "$@"; }
# Bold headings only on a terminal and without NO_COLOR, as cordon itself does (a log file gets plain text).
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
h() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
# The live part (sections 8-10) needs root; CORDON_DEMO_LIVE=0 leaves it out (the tests do).
live_ok=0
if [ "${CORDON_DEMO_LIVE:-1}" != 0 ] && [ "$(id -u)" = 0 ] && ip netns list >/dev/null 2>&1; then live_ok=1; fi
others=()
for f in examples/*.yaml; do [ "$f" = "$spec" ] || others+=("$f"); done

printf '%s\n' "The seed's own comments are Swedish and are quoted as written. A glossary:" \
  '  Ska fungera = should work · Ska INTE fungera = must NOT work · Från = from · Tillåt = allow' \
  '  inkommande på = incoming on · Blockera routing mellan … och … = block routing between … and …' \
  '  Ollama-servern har ingen internetåtkomst = the Ollama server has no internet access'

h "1. What cordon understood from $spec"
c describe "$spec"

h "2. Who can reach whom, as configured"
c matrix "$spec"

h "3. Who can reach whom if every guest were hostile (forges sources, adds routes, drops its own firewall)"
# Printed only where it differs from section 2: the same table twice would read like a mistake.
configured=$(NO_COLOR=1 c matrix "$spec" --list | grep -v '^view:')
compromised=$(NO_COLOR=1 c matrix "$spec" --list --assume compromised | grep -v '^view:')
if [ "$configured" = "$compromised" ]; then
  echo "The same as section 2, cell for cell: every rule that stops a guest is enforced on pve (its bridge"
  echo "ports, forward and input chains), outside the guests, so a guest that turns hostile gains nothing."
  echo "(Section 6 shows the seed as written, where it does.)"
else
  c matrix "$spec" --assume compromised
fi

h "4. The seed's own verification steps and the built-in invariants"
c test "$spec"

h "5. Why can a WireGuard client not reach Ollama? (the seed: \"Ska INTE fungera\", must NOT work)"
c explain "$spec" --from wg-client --to ollama.api || true

if [ -f "$mistake" ]; then
  h "6. The seed exactly as written: what cordon catches"
  c test "$mistake" || echo "(cordon test exits 1 here: these are the seed's mistakes)"
fi

h "7. The nftables rule set cordon renders for pve (first lines)"
c render "$spec" --target nftables --host pve | sed -n '1,40p'
echo "…"

live=0
if [ "$live_ok" = 1 ]; then
  h "8. Live: $spec built in network namespaces (one per host, bridges, veth, the rendered nftables, wireguard-go), every pair probed from inside, compared with the matrix above"
  c lab verify "$spec" || live=1

  h "9. The other ${#others[@]} examples, live (lab verify: probes, live = static, the seed's own steps run live)"
  for f in "${others[@]}"; do
    printf '%-40s ' "$f"
    c lab verify "$f" --json 2>/dev/null | node -e '
      let t = ""; process.stdin.on("data", (d) => (t += d)).on("end", () => {
        const r = JSON.parse(t);
        const steps = r.steps.filter((s) => s.ok).length;
        console.log(`${r.probes} probes, ${r.ok ? "live = static" : `${r.differences.length} DIFFERENCES`}, expectations live ${steps}/${r.steps.length}, ${r.ms.total} ms`);
        process.exitCode = r.ok ? 0 : 1;
      });' || live=1
  done

  h "10. If agentfarm's workload turns hostile: what it tries from inside its VM, what gets through (= cordon matrix --assume compromised), and what cordon guard saw of it"
  out=$(c lab up "$spec" --again --guard --json 2>/dev/null) && prefix=$(printf '%s' "$out" | node -e 'let t="";process.stdin.on("data",d=>t+=d).on("end",()=>console.log(JSON.parse(t).prefix))')
  if [ -n "${prefix:-}" ]; then
    c lab attack agentfarm --lab "$prefix" 2>/dev/null || live=1
    c lab down "$prefix" >/dev/null
  fi
else
  h "8. Live lab"
  if [ "${CORDON_DEMO_LIVE:-1}" = 0 ]; then echo "(skipped: CORDON_DEMO_LIVE=0)"
  else echo "(skipped: cordon lab needs root and network namespaces; run make demo as root to see the spec built and probed live)"; fi
fi

printf '\nNext: cordon --help (make install puts cordon on PATH; or ./bin/cordon), README.md, and examples/: the other %d specs, and mistakes/ with the seeds as written.\n' "${#others[@]}"
exit $live
