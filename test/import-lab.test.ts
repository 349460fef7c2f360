/**
 * The seeds' findings confirmed live: each seed's own configuration files, imported as `cordon
 * audit` imports them, built in the lab (namespaces, bridges, the imported rules as nftables in
 * the kernel) and probed. Where the seed says a flow is blocked and audit says it is not, a real
 * packet gets through; and the lab agrees with the static verdict on every probe (live = static),
 * so the finding is the configuration's, not the verifier's.
 *
 * Needs root, namespaces, nft (test/support/lab-env.ts); skipped without them locally, a failure
 * with CI=true. Every lab is made with a fresh prefix and taken down in finally, also on failure.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { diskTree } from '../src/cli/commands/import-common.js';
import type { Importer } from '../src/import/common/contract.js';
import { iptablesImporter } from '../src/import/iptables/index.js';
import { libvirtImporter } from '../src/import/libvirt/index.js';
import { proxmoxImporter } from '../src/import/proxmox/index.js';
import { compile } from '../src/ir/compile.js';
import type { Ir } from '../src/ir/types.js';
import { teardownLab } from '../src/lab/exec.js';
import { freshPrefix, upLab } from '../src/lab/lab.js';
import { verifyLab, type VerifyResult } from '../src/lab/verify.js';
import { loadModelFromText } from '../src/model/load.js';
import { parseSpecText } from '../src/spec/parse.js';
import { formatFlow } from '../src/util/flows.js';
import { formatIPv4 } from '../src/util/ip.js';
import { probeLab } from './support/lab-env.js';
import { requireOrSkip } from './support/require-env.js';

const SKIP = requireOrSkip('import lab (live)', probeLab());
const SEEDS = 'examples/seed-configs';

/** Labs this file built and has not taken down yet. */
const built = new Set<string>();
after(async () => {
  for (const p of built) await teardownLab(p).catch(() => undefined);
});

/** The seed's files imported against its topology, compiled: what `cordon audit` checks. */
function imported(importer: Importer, seed: string, paths: string[], host?: string): Ir {
  const topoFile = `${SEEDS}/${seed}/topology.yaml`;
  const topo = parseSpecText(readFileSync(topoFile, 'utf8'), topoFile);
  assert.ok(topo.ok);
  const r = importer.import({ paths, tree: diskTree, topology: { spec: topo.value.spec, file: topoFile }, host });
  assert.ok(!r.diagnostics.some((d) => d.severity === 'error'), JSON.stringify(r.diagnostics, null, 1));
  const m = loadModelFromText(r.text, `seed-${seed}-imported.yaml`);
  assert.ok(m.model, m.diagnostics.map((d) => d.message).join('\n'));
  return compile(m.model);
}

async function live(ir: Ir): Promise<VerifyResult & { tunnels: readonly { host: string; up: boolean; expectUp: boolean }[] }> {
  const prefix = await freshPrefix();
  built.add(prefix);
  try {
    const { report } = await upLab(ir, { prefix, say: () => undefined, ephemeral: true });
    return { ...(await verifyLab(ir, prefix, { timeoutMs: 500 })), tunnels: report.tunnels };
  } finally {
    await teardownLab(prefix);
    built.delete(prefix);
  }
}

function differences(r: VerifyResult): string {
  return r.differences
    .slice(0, 10)
    .map(
      (d) =>
        `${d.probe.from} → ${d.probe.to} ${formatIPv4(d.probe.dst)} ${formatFlow(d.probe.flow)}: static ${d.probe.staticAllowed ? 'allow' : 'deny'}, live ${d.live}`,
    )
    .join('\n');
}

function delivered(r: VerifyResult, from: string, to: string, proto: string, port?: number): boolean[] {
  return r.probes
    .filter((p) => p.id >= 0 && p.from === from && p.to === to && p.flow.proto === proto && (port === undefined || ('port' in p.flow && p.flow.port === port)))
    .map((p) => p.delivered);
}

describe('seed findings, live', { skip: SKIP }, () => {
  it("seed 001: through the seed's own nwfilter a VM reaches its host on tcp/22, 80, 443 and 9418, where the seed says VM-to-host is blocked", async () => {
    const root = `${SEEDS}/001/root`;
    const r = await live(imported(libvirtImporter, '001', [root]));
    assert.equal(r.differences.length, 0, `live ≠ static:\n${differences(r)}`);
    // The seed's "Blocked: VM-to-host communication", as its topology states it: it fails live.
    const step = r.steps.find((s) => s.text === 'agent-1 → kvm-host tcp/22: deny');
    assert.ok(step, r.steps.map((s) => s.text).join(' | '));
    assert.equal(step.ok, false, 'the seed says it is blocked; the lab shows it is not');
    assert.ok(step.delivered > 0, step.detail);
    for (const vm of ['agent-1', 'agent-2'])
      for (const port of [22, 80, 443, 9418]) {
        const d = delivered(r, vm, 'kvm-host', 'tcp', port);
        assert.ok(d.length > 0 && d.every(Boolean), `${vm} → kvm-host tcp/${port}: probed ${d.length}, delivered ${d.filter(Boolean).length}`);
      }
    // The filter is not simply open: a port it does not list stays blocked, to the host and between the VMs.
    assert.ok(
      r.probes.some(
        (p) =>
          p.id >= 0 &&
          p.from === 'agent-1' &&
          p.to === 'kvm-host' &&
          p.flow.proto === 'tcp' &&
          'port' in p.flow &&
          ![22, 80, 443, 9418, 53].includes(p.flow.port ?? 0) &&
          !p.delivered,
      ),
      'some other tcp port to the host is dropped',
    );
    assert.ok(
      delivered(r, 'agent-1', 'agent-2', 'tcp').every((d) => !d),
      'VM-to-VM stays blocked, as the seed says',
    );
  });

  function step(r: VerifyResult, text: string): VerifyResult['steps'][number] {
    const s = r.steps.find((x) => x.text === text);
    assert.ok(s, `no step '${text}' (have: ${r.steps.map((x) => x.text).join(' | ')})`);
    return s;
  }

  it("seed 000: cluster.fw's FORWARD rule is not in force, so a WireGuard client's packets reach Ollama where the seed says they must not", async () => {
    const r = await live(imported(proxmoxImporter, '000', [`${SEEDS}/000/root`]));
    assert.equal(r.differences.length, 0, `live ≠ static:\n${differences(r)}`);
    const s = step(r, 'wg-client → ollama tcp/11434: deny');
    assert.equal(s.ok, false, 'the seed: "Ska INTE fungera"; the lab: it does');
    assert.ok(s.delivered > 0, s.detail);
  });

  it("seed 003: nginx's OUT rule lets the proxy traffic out, traefik's IN policy DROP stops it: nginx never reaches traefik on tcp/80", async () => {
    const r = await live(imported(proxmoxImporter, '003', [`${SEEDS}/003/root`]));
    assert.equal(r.differences.length, 0, `live ≠ static:\n${differences(r)}`);
    const s = step(r, 'nginx → traefik tcp/80: allow');
    assert.equal(s.ok, false, 'the seed: "Allow Nginx to proxy to Traefik"; the lab: dropped');
    assert.equal(s.delivered, 0, s.detail);
    assert.ok(s.probes > 0);
  });

  it("seed 004: the in-guest rules drop the tunnel's own UDP transport: the VPN never comes up, so nothing reaches the internet through it", async () => {
    const r = await live(imported(iptablesImporter, '004', [`${SEEDS}/004/rules.sh`], 'workload-vm'));
    assert.equal(r.differences.length, 0, `live ≠ static:\n${differences(r)}`);
    const t = r.tunnels.find((x) => x.host === 'workload-vm');
    assert.ok(t, JSON.stringify(r.tunnels));
    assert.equal(t.up, false, 'the handshake never completes');
    assert.equal(t.expectUp, false, 'and cordon says so statically');
    const s = step(r, 'workload-vm → internet tcp/443: allow');
    assert.equal(s.ok, false, 'the seed: "curl google.com — Goes through wg0 (VPN) ✅"; the lab: nothing gets out');
    assert.equal(s.delivered, 0, s.detail);
  });
});
