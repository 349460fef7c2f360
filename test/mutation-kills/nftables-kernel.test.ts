/**
 * The nftables renderer (src/render/nftables/index.ts) judged by what its output means to the
 * kernel: each enforcing host's rule set is loaded with `nft -f` into a fresh, anonymous network
 * namespace (`unshare -n`: it has no name and dies with the process, so a test killed half-way —
 * as Stryker does on a timeout — leaves nothing behind), listed back with `nft -j`, imported, and
 * must give the spec's own reachability matrix, cell by cell, under both assumptions. A rendered
 * verdict, set element, interface, mark or chain policy that means something else shows up as a
 * cell; comments and log prefixes do not (test/render-nftables.test.ts pins those as text).
 *
 * Specs: small inline ones that use what the examples do not (rate limits, logged accepts,
 * hand-written rejects and interface bindings, several bridges with per-guest filters), plus every
 * example.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { compile } from '../../src/ir/compile.js';
import type { Ir } from '../../src/ir/types.js';
import { importNftJson, withImportedChains } from '../../src/import/nft-json/index.js';
import { loadModelFromText } from '../../src/model/load.js';
import { enforcingHosts, nftablesRenderer } from '../../src/render/nftables/index.js';
import { formatFlowSet } from '../../src/util/flows.js';
import { computeMatrix } from '../../src/verify/matrix.js';
import { requireOrSkip } from '../support/require-env.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function probe(): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux network namespaces';
  if (process.getuid?.() !== 0) return 'needs root (loads rule sets into throw-away network namespaces)';
  const r = spawnSync('unshare', ['-n', 'nft', 'list', 'ruleset'], { encoding: 'utf8' });
  if (r.status !== 0) return `cannot run nft in a new network namespace (unshare -n): ${(r.stderr || r.error?.message || '').trim()}`;
  return undefined;
}

const skip = requireOrSkip('nftables kernel round trip', probe());

function build(text: string, file: string): Ir {
  const r = loadModelFromText(text, file);
  assert.ok(r.model, r.diagnostics.map((d) => d.message).join('\n'));
  return compile(r.model);
}

/** Loads one host's rendered rule set in a namespace of its own and returns what the kernel lists. */
function kernelListing(content: string, label: string): unknown {
  const r = spawnSync('unshare', ['-n', 'sh', '-c', 'nft -f - && nft -j list ruleset'], { input: content, encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `${label}: nft -f refused the rendered rule set: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Every cell where the kernel's reading of the rendered rule sets differs from the spec's IR. */
function kernelDiff(ir: Ir, label: string): string[] {
  let rebuilt = ir;
  for (const host of enforcingHosts(ir)) {
    const out = nftablesRenderer.render(ir, { host, params: new Map() });
    assert.deepEqual(
      out.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message),
      [],
      `${label}/${host}: render errors`,
    );
    assert.equal(out.files.length, 1, `${label}/${host}: one file per host`);
    const imported = importNftJson(kernelListing(out.files[0]!.content, `${label}/${host}`), { model: ir.model, host });
    assert.deepEqual(
      imported.diagnostics.map((d) => d.message),
      [],
      `${label}/${host}: the importer should understand cordon's own output`,
    );
    rebuilt = withImportedChains(rebuilt, host, imported.chains);
  }
  const out: string[] = [];
  for (const assume of ['configured', 'compromised'] as const) {
    const a = computeMatrix(ir, assume);
    const b = computeMatrix(rebuilt, assume);
    a.cells.forEach((row, i) =>
      row.forEach((cell, j) => {
        const other = b.cells[i]?.[j];
        const x = cell ? formatFlowSet(cell) : '·';
        const y = other ? formatFlowSet(other) : '·';
        if (x !== y) out.push(`${assume}: ${a.endpoints[i]!.name} → ${a.endpoints[j]!.name}: spec ${x}, kernel ${y}`);
      }),
    );
  }
  return out;
}

// Two bridges on one hypervisor, per-guest filters (guest-in/guest-out chains, bridge-port marks),
// an isolated guest, an open guest with a deny, a rate-limited and a logged rule.
const BRIDGES = `
version: 1
networks:
  front: { cidr: 10.1.0.0/24, gateway: 10.1.0.1, egress: nat, bridge: vmbr0 }
  back: { cidr: 10.2.0.0/24, gateway: 10.2.0.1, egress: nat, bridge: vmbr1 }
  llm: { cidr: 10.3.0.0/24, egress: none, bridge: vmbr2 }
hosts:
  hv: { kind: hypervisor, uplink: eth9, nics: { front: 10.1.0.1, back: 10.2.0.1, llm: 10.3.0.1 }, services: { ssh: tcp/22 } }
  a: { kind: vm, id: 101, firewall: { guest: true }, nics: { front: 10.1.0.10 } }
  b: { kind: vm, id: 102, firewall: { guest: true }, nics: { back: 10.2.0.10 }, services: { web: tcp/80, dns: [udp/53, tcp/53] } }
  c: { kind: vm, id: 103, nics: { back: 10.2.0.11, llm: 10.3.0.11 } }
  iso: { kind: vm, id: 104, egress: isolated, nics: { front: 10.1.0.13 } }
  opn: { kind: vm, id: 105, egress: open, nics: { front: 10.1.0.14 } }
  ai: { kind: vm, id: 106, nics: { llm: 10.3.0.20 }, services: { api: tcp/11434 } }
policy:
  - allow: { from: a, to: b.web, rate: 10/second }
  - allow: { from: a, to: b.dns, log: true }
  - allow: { from: a, to: hv.ssh }
  - allow: { from: [a, c], to: internet, ports: [tcp/443, udp/53, icmp] }
  - deny: { from: opn, to: internet, ports: [tcp/25, udp/1-1000], log: true }
  - allow: { from: iso, to: internet, ports: tcp/443 }
  - allow: { from: iso, to: b.web }
  - allow: { from: c, to: ai.api }
  - allow: { from: 10.1.0.0/28, to: 10.2.0.10, ports: tcp/8000-8999 }
`;

// Hand-written chains: interfaces, a reject, a drop by source, a chain with policy accept.
const HAND = `
version: 1
networks:
  front: { cidr: 10.1.0.0/24, gateway: 10.1.0.1, egress: nat, bridge: vmbr-front }
  back: { cidr: 10.2.0.0/24, gateway: 10.2.0.1, egress: nat, bridge: vmbr-back }
hosts:
  hv: { kind: hypervisor, uplink: eth9, nics: { front: 10.1.0.1, back: 10.2.0.1 }, services: { ssh: tcp/22 } }
  x: { kind: vm, id: 101, nics: { front: 10.1.0.10 } }
  y: { kind: vm, id: 102, nics: { back: 10.2.0.10 } }
  z: { kind: vm, id: 103, nics: { back: 10.2.0.11 } }
firewalls:
  "hv:forward":
    policy: drop
    rules:
      - { action: accept, iif: vmbr-front, to: back, ports: tcp/80 }
      - { action: accept, oif: vmbr-front, ports: tcp/22 }
      - { action: reject, from: 10.2.0.11, ports: tcp/443 }
      - { action: drop, from: 10.2.0.11, log: true }
      - { action: accept, to: internet, ports: [udp/53, tcp/443] }
  "hv:input":
    policy: accept
    rules:
      # An accept and then an unlogged drop with the same binding: two runs, never one (a run
      # takes the verdict of its first rule, so merged the drop would accept).
      - { action: accept, from: 10.1.0.10, ports: tcp/80 }
      - { action: drop, from: front, ports: tcp/22 }
`;

/** The rules of one host's rule set as the kernel lists them: table, chain and expression list. */
function kernelRules(ir: Ir, host: string): { table: string; chain: string; expr: unknown[] }[] {
  const out = nftablesRenderer.render(ir, { host, params: new Map() });
  const listing = kernelListing(out.files[0]!.content, host) as { nftables: { rule?: { table: string; chain: string; expr: unknown[] } }[] };
  return listing.nftables.flatMap((x) => (x.rule ? [x.rule] : []));
}

describe('nftables kernel round trip: the rendered rule sets mean what the spec means', { skip }, () => {
  it("a rate-limited allow is limited in the kernel, in every chain on the guests' path, and accepts", () => {
    const rules = kernelRules(build(BRIDGES, 'bridges.yaml'), 'hv');
    const limited = rules.filter((r) => r.expr.some((e) => JSON.stringify(e) === JSON.stringify({ limit: { rate: 10, burst: 5, per: 'second' } })));
    assert.deepEqual(limited.map((r) => r.table.replace(/_[0-9a-f]{4}$/, '')).sort(), ['cordon_a_guest_out', 'cordon_b_guest_in', 'cordon_hv_forward']);
    for (const r of limited) assert.deepEqual(r.expr.at(-1), { accept: null }, JSON.stringify(r.expr));
  });

  it('two bridges, per-guest filters, isolated and open guests, rate-limited and logged rules', () => {
    assert.deepEqual(kernelDiff(build(BRIDGES, 'bridges.yaml'), 'bridges'), []);
  });

  it('hand-written chains: interfaces, reject, drop by source, a chain whose default is accept', () => {
    assert.deepEqual(kernelDiff(build(HAND, 'hand.yaml'), 'hand'), []);
  });

  const examples = readdirSync(join(ROOT, 'examples'))
    .filter((f) => f.endsWith('.yaml'))
    .sort();
  for (const f of examples) {
    it(`examples/${f}`, () => {
      assert.deepEqual(kernelDiff(build(readFileSync(join(ROOT, 'examples', f), 'utf8'), f), f), []);
    });
  }
});
