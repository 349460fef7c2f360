/**
 * Benchmark: the live lab (targets from the issue: ≤ 10 ms per host to build, a 100-host lab up
 * in under 2 s, a full matrix of 100 hosts × 5 ports probed in under 5 s).
 *
 *  1. `lab up` of a generated 100-host spec (cordon gen --hosts 100 --rules 100 --seed 7: one
 *     hypervisor, its bridges, ~95 guests, a WireGuard tunnel with roaming peers and a vpn-only
 *     guest, responders, public resolvers), batched as the lab does it: one `ip -batch` for the
 *     namespaces and links, one `ip -n NS -batch` per namespace, sysctls through the lab agent.
 *     Baseline, same run, same spec: the same plan with one command per step (`ip …` and
 *     `ip netns exec NS sysctl -w …` for each step).
 *  2. The probe matrix of that lab: every host and the internet to every address of every other
 *     host, 5 flows each (tcp/22, tcp/80, tcp/443, udp/53, icmp), through the lab agent (one
 *     process for all namespaces). Baseline: one spawned process per probe
 *     (`ip netns exec SRC timeout 0.5 bash -c 'exec 3<>/dev/tcp/DST/PORT'`), measured on 200
 *     probes of the same matrix, 8 at a time, and extrapolated to the whole matrix.
 *
 * Everything runs in the lab's own namespaces and is removed in `finally`.
 */
import { spawn } from 'node:child_process';
import { generateSpec } from '../src/gen/generate.js';
import { compile } from '../src/ir/compile.js';
import { buildLab, teardownLab } from '../src/lab/exec.js';
import { generatedKeys } from '../src/lab/keys.js';
import { freshPrefix } from '../src/lab/lab.js';
import { planLab } from '../src/lab/plan.js';
import { verifyLab } from '../src/lab/verify.js';
import { loadModelFromText } from '../src/model/load.js';
import type { Flow } from '../src/util/flows.js';
import { formatIPv4 } from '../src/util/ip.js';
import type { Row } from './row.js';

const HOSTS = 100;
const FLOWS: Flow[] = [{ proto: 'tcp', port: 22 }, { proto: 'tcp', port: 80 }, { proto: 'tcp', port: 443 }, { proto: 'udp', port: 53 }, { proto: 'icmp' }];

function spawned(argv: readonly string[]): Promise<void> {
  return new Promise((resolve) => {
    const c = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
    c.on('close', () => resolve());
    c.on('error', () => resolve());
  });
}

export async function benchLab(): Promise<Row[]> {
  const text = generateSpec({ hosts: HOSTS, rules: 100, seed: 7 });
  const loaded = loadModelFromText(text, 'bench-lab-100.yaml');
  if (!loaded.model) throw new Error(`the generated spec does not load: ${loaded.diagnostics.map((d) => d.message).join('; ')}`);
  const ir = compile(loaded.model);
  const hosts = ir.model.hosts.size;
  const rows: Row[] = [];
  const quiet = (): void => undefined;

  // 1. Build: baseline (one command per step) first, then batched.
  let baseline = 0;
  {
    const prefix = await freshPrefix();
    try {
      const r = await buildLab(planLab(ir, { prefix, keys: generatedKeys() }), { say: quiet, unbatched: true, services: false });
      baseline = core(r.stages);
    } finally {
      await teardownLab(prefix);
    }
  }
  const prefix = await freshPrefix();
  try {
    const t0 = performance.now();
    const plan = planLab(ir, { prefix, keys: generatedKeys() });
    const r = await buildLab(plan, { say: quiet });
    const upMs = performance.now() - t0;
    const coreMs = core(r.stages);
    rows.push({
      name: `lab build: ${hosts} hosts, per host (namespaces, sysctls, links, addresses, firewalls)`,
      ms: coreMs / hosts,
      baselineMs: baseline / hosts,
      ratio: coreMs / baseline,
      target: '≤ 10 ms per host',
      ok: coreMs / hosts <= 10,
      notes: `${plan.namespaces.length} namespaces, ${plan.steps.length} steps; batched ${coreMs.toFixed(0)} ms vs one command per step ${baseline.toFixed(0)} ms`,
    });
    rows.push({
      name: `lab up: ${hosts}-host spec, everything (plan, build, tunnels, handshakes, responders)`,
      ms: upMs,
      baselineMs: baseline,
      ratio: upMs / baseline,
      target: '< 2 s',
      ok: upMs < 2000,
      notes: r.stages.map((s) => `${s.stage} ${s.ms.toFixed(0)}`).join(', ') + `; baseline = core stages one command per step, without tunnels and services`,
    });

    // 2. Probe matrix.
    const v = await verifyLab(ir, prefix, { timeoutMs: 500, flows: FLOWS });
    const n = v.probes.length;
    const sample = v.probes.filter((_, i) => i % Math.max(1, Math.floor(n / 200)) === 0).slice(0, 200);
    const tb = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < sample.length) {
          const p = sample[next++]!;
          const target =
            p.flow.proto === 'icmp'
              ? ['ping', '-c1', '-W1', formatIPv4(p.dst)]
              : ['timeout', '0.5', 'bash', '-c', `exec 3<>/dev/${p.flow.proto}/${formatIPv4(p.dst)}/${p.flow.port}`];
          await spawned(['ip', 'netns', 'exec', p.srcNs, ...target]);
        }
      }),
    );
    const perSpawned = (performance.now() - tb) / sample.length;
    const baselineProbe = perSpawned * n;
    rows.push({
      name: `lab verify: ${v.endpoints.length - 1} hosts + internet, ${FLOWS.length} flows to every address (${n} probes)`,
      ms: v.ms.probe,
      baselineMs: baselineProbe,
      ratio: v.ms.probe / baselineProbe,
      target: '< 5 s',
      ok: v.ms.probe < 5000,
      notes: `one agent for all namespaces; ${v.probes.filter((p) => p.delivered).length} delivered; live = static: ${v.differences.length === 0 ? 'yes' : `no (${v.differences.length} differences)`}; comparing took ${v.ms.prepare.toFixed(0)} ms; baseline: one process per probe, ${perSpawned.toFixed(1)} ms each (8 at a time, 200 sampled, extrapolated)`,
    });
  } finally {
    await teardownLab(prefix);
  }
  return rows;
}

function core(stages: readonly { stage: string; ms: number }[]): number {
  return stages.filter((s) => ['namespaces', 'sysctls', 'links', 'addresses', 'firewalls'].includes(s.stage)).reduce((a, s) => a + s.ms, 0);
}
