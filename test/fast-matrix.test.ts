/**
 * The fast all-pairs engine gives exactly computeMatrix's cells, in both views, on every example
 * (mistakes included) and on generated specs; its compact form reads back consistently. The
 * per-pair engine agrees with the brute-force evaluator on every example, with every port
 * enumerated on the smallest ones.
 */
import { strict as assert } from 'node:assert';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generateSpec } from '../src/gen/generate.js';
import { compile } from '../src/ir/compile.js';
import type { Ir } from '../src/ir/types.js';
import { loadModel, loadModelFromText, type LoadResult } from '../src/model/load.js';
import type { Assume } from '../src/model/types.js';
import { flowEqual, flowIsEmpty, formatFlowSet, type FlowSet } from '../src/util/flows.js';
import { BruteForce, bruteMatrix } from '../src/verify/brute.js';
import { endpoints } from '../src/verify/endpoints.js';
import { Engine } from '../src/verify/engine.js';
import { computeFastMatrix } from '../src/verify/fast-matrix.js';
import { computeMatrix, type Matrix } from '../src/verify/matrix.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const VIEWS: readonly Assume[] = ['configured', 'compromised'];

function exampleFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      // examples/sandbox holds `cordon run` config files, not specs; examples/seed-configs holds
      // the seeds' own files (netplan, interfaces, rule sets), of which only topology.yaml is a spec.
      const seedConfigs = dir.includes(join('examples', 'seed-configs'));
      if (e.isDirectory()) {
        if (e.name !== 'sandbox') walk(join(dir, e.name));
      } else if (seedConfigs ? e.name === 'topology.yaml' : e.name.endsWith('.yaml')) out.push(join(dir, e.name));
    }
  };
  walk(join(ROOT, 'examples'));
  return out.sort();
}

function irOf(r: LoadResult): Ir | undefined {
  return r.model ? compile(r.model) : undefined;
}

/** The IR of a spec that must load. */
function loadedIr(spec: string): Ir {
  const r = loadModelFromText(spec);
  assert.ok(r.model, `spec loads: ${JSON.stringify(r.diagnostics?.slice(0, 3))}`);
  return compile(r.model);
}

const show = (f: FlowSet | undefined): string => (f === undefined ? '·' : formatFlowSet(f));

function assertSameCells(name: string, slow: Matrix, fast: { cell(i: number, j: number): FlowSet | undefined }): void {
  slow.cells.forEach((row, i) =>
    row.forEach((c, j) => {
      const f = fast.cell(i, j);
      const same = c === undefined ? f === undefined : f !== undefined && flowEqual(c, f);
      assert.ok(same, `${name} ${slow.assume}: ${slow.endpoints[i]!.name} → ${slow.endpoints[j]!.name}: computeMatrix ${show(c)}, fast ${show(f)}`);
    }),
  );
}

/** Spec lines of guests `[name, nics, extra line]`, ids from 101, each with a web and a dns service. */
function guestLines(guests: readonly (readonly string[])[]): string[] {
  return guests.flatMap(([name, nics, extra], k) => [
    `  ${name}:`,
    '    kind: vm',
    `    id: ${101 + k}`,
    `    nics: ${nics}`,
    '    services: { web: tcp/80, dns: udp/53 }',
    ...(extra ? [`    ${extra}`] : []),
  ]);
}

describe('fast matrix = computeMatrix', () => {
  for (const file of exampleFiles()) {
    const name = file.slice(ROOT.length);
    it(name, (t) => {
      const ir = irOf(loadModel(file));
      if (!ir) return t.skip('does not load (a mistake caught at load time)');
      for (const assume of VIEWS) assertSameCells(name, computeMatrix(ir, assume), computeFastMatrix(ir, assume, new Engine(ir), { verifyTemplates: true }));
    });
  }
  for (const [hosts, rules, seed] of [
    [8, 12, 1],
    [25, 40, 2],
    [40, 80, 3],
    [60, 150, 4],
  ] as const) {
    it(`generated: --hosts ${hosts} --rules ${rules} --seed ${seed}`, () => {
      const ir = irOf(loadModelFromText(generateSpec({ hosts, rules, seed })))!;
      for (const assume of VIEWS)
        assertSameCells(`gen ${hosts}/${rules}/${seed}`, computeMatrix(ir, assume), computeFastMatrix(ir, assume, new Engine(ir), { verifyTemplates: true }));
    });
  }
  // Leaves of different classes (other nics, nic order, per-guest firewall, egress) whose routes
  // to a destination look alike share one path template; every instantiation is checked against
  // Topology.paths (verifyTemplates) and every cell against the per-pair engine.
  it('leaf classes sharing templates by route', () => {
    const guests = [
      ['a1', '{ vmbr1: 10.1.0.11 }', ''],
      ['a2', '{ vmbr1: 10.1.0.12 }', ''],
      ['b1', '{ vmbr1: 10.1.0.21, vmbr2: 10.2.0.21 }', ''],
      ['c1', '{ vmbr2: 10.2.0.31, vmbr1: 10.1.0.31 }', ''],
      ['d1', '{ vmbr1: 10.1.0.41 }', 'firewall: { guest: true }'],
      ['d2', '{ vmbr1: 10.1.0.42, vmbr3: 10.3.0.42 }', 'firewall: { guest: true }'],
      ['e1', '{ vmbr1: 10.1.0.51 }', 'egress: isolated'],
      ['f1', '{ vmbr3: 10.3.0.61 }', ''],
      ['g1', '{ vmbr2: 10.2.0.71, vmbr3: 10.3.0.71 }', 'firewall: { guest: true }'],
      ['h1', '{ vmbr3: 10.3.0.81, vmbr1: 10.1.0.81 }', 'firewall: { guest: true }'],
    ];
    const spec = [
      'version: 1',
      'networks:',
      '  vmbr1: { cidr: 10.1.0.0/24, gateway: 10.1.0.1, egress: nat }',
      '  vmbr2: { cidr: 10.2.0.0/24, gateway: 10.2.0.1, egress: none }',
      '  vmbr3: { cidr: 10.3.0.0/24, gateway: 10.3.0.1, egress: routed }',
      'hosts:',
      '  pve:',
      '    kind: hypervisor',
      '    uplink: enp1s0',
      '    nics: { vmbr1: 10.1.0.1, vmbr2: 10.2.0.1, vmbr3: 10.3.0.1 }',
      '    services: { ssh: tcp/22 }',
      ...guestLines(guests),
      'policy:',
      '  - allow: { from: vmbr1, to: [f1, g1.web, pve.ssh], ports: [tcp/80, tcp/22] }',
      '  - allow: { from: [b1, c1, h1], to: [a1, d1, d2], ports: [tcp/80, udp/53] }',
      '  - deny: { from: a2, to: f1 }',
      '  - allow: { from: vmbr3, to: vmbr1, ports: udp/53 }',
      '  - allow: { from: [a1, b1, d2, g1], to: internet, ports: [tcp/443, icmp] }',
      '  - allow: { from: internet, to: f1.web }',
      '  - allow: { from: vmbr2, to: [vmbr1, vmbr3] }',
    ].join('\n');
    const ir = loadedIr(spec);
    for (const assume of VIEWS) {
      const fast = computeFastMatrix(ir, assume, new Engine(ir), { verifyTemplates: true });
      assertSameCells(`shared templates ${assume}`, computeMatrix(ir, assume), fast);
      assert.ok(fast.allowedCount() > 0);
    }
  });
});

describe('leaf → leaf templates shared across source segments (crossKey)', () => {
  // Guests on four bridges of one hypervisor (masquerading or not, per-guest firewall or not)
  // and behind a router guest (whose bridge's owner is not the router: never shared), to
  // guests on each other's bridges and on a plain segment. Every template, computed or
  // instantiated from another segment's, is checked against Topology.paths (verifyTemplates).
  const bridges = [
    ['vmbr1', '10.1.0', 'nat'],
    ['vmbr2', '10.2.0', 'none'],
    ['vmbr3', '10.3.0', 'routed'],
    ['vmbr4', '10.4.0', 'nat'],
  ] as const;
  const guests = bridges.flatMap(([br, net], b) => [
    [`p${b}`, `{ ${br}: ${net}.11 }`, ''],
    [`q${b}`, `{ ${br}: ${net}.12 }`, 'firewall: { guest: true }'],
    [`r${b}`, `{ ${br}: ${net}.13 }`, 'egress: isolated'],
  ]);
  const spec = [
    'version: 1',
    'networks:',
    ...bridges.map(([br, net, egress]) => `  ${br}: { cidr: ${net}.0/24, gateway: ${net}.1, egress: ${egress} }`),
    '  vmbr9: { cidr: 10.9.0.0/24, gateway: 10.9.0.2, egress: nat }',
    'hosts:',
    '  pve:',
    '    kind: hypervisor',
    '    uplink: enp1s0',
    `    nics: { ${bridges.map(([br, net]) => `${br}: ${net}.1`).join(', ')}, vmbr9: 10.9.0.1 }`,
    '    services: { ssh: tcp/22 }',
    '  rt:',
    '    kind: vm',
    '    id: 150',
    '    nics: { vmbr9: 10.9.0.2, vmbr3: 10.3.0.2 }',
    '    forward: true',
    '  s9:',
    '    kind: vm',
    '    id: 151',
    '    nics: { vmbr9: 10.9.0.11 }',
    ...guestLines(guests),
    'policy:',
    '  - allow: { from: [vmbr1, vmbr2], to: [q0, q1, q2, q3, p2, p3], ports: [tcp/80, udp/53] }',
    '  - allow: { from: 10.1.0.0/16, to: [q2, q3], ports: tcp/80 }',
    '  - allow: { from: 10.4.0.1, to: q2, ports: udp/53 }',
    '  - allow: { from: [vmbr3, vmbr4, s9], to: [vmbr1, vmbr2], ports: udp/53 }',
    '  - deny: { from: p1, to: q0 }',
    '  - allow: { from: [p0, q1, r2], to: internet, ports: tcp/443 }',
  ].join('\n');

  it('the same cells as computeMatrix, with templates taken across segments', () => {
    const ir = loadedIr(spec);
    for (const assume of VIEWS) {
      const stats = { sourceClasses: 0, destClasses: 0, universe: 0, portClasses: 0, templates: 0, sweeps: 0, sweepRules: 0, visits: 0, crossTemplates: 0 };
      const fast = computeFastMatrix(ir, assume, new Engine(ir), { verifyTemplates: true, stats });
      assertSameCells(`cross templates ${assume}`, computeMatrix(ir, assume), fast);
      assert.ok(fast.allowedCount() > 0);
      // Only the configured view plans routes by class (the compromised one picks first hops).
      if (assume === 'configured') assert.ok(stats.crossTemplates > 0, `templates shared across segments: ${stats.crossTemplates}`);
    }
  });

  it('generated specs: the same cells with and without sharing across segments', () => {
    for (const seed of [5, 6, 7]) {
      const ir = irOf(loadModelFromText(generateSpec({ hosts: 70, rules: 160, seed })))!;
      const stats = { sourceClasses: 0, destClasses: 0, universe: 0, portClasses: 0, templates: 0, sweeps: 0, sweepRules: 0, visits: 0, crossTemplates: 0 };
      const shared = computeFastMatrix(ir, 'configured', new Engine(ir), { verifyTemplates: true, stats });
      const own = computeFastMatrix(ir, 'configured', new Engine(ir), { noCrossTemplates: true });
      assertSameCells(`gen 70/160/${seed}`, own.toMatrix(), shared);
      assert.ok(stats.crossTemplates > 0, `seed ${seed}: templates shared across segments: ${stats.crossTemplates}`);
    }
  });
});

describe('roaming peers share templates by shape (isRoamer)', () => {
  // Peers of two tunnels (one routed on to a second server's LAN), some with rules of their
  // own: as configured, peers of one tunnel form one source class; every template is checked
  // against Topology.paths (verifyTemplates) and every cell against the per-pair engine.
  const spec = [
    'version: 1',
    'networks:',
    '  vmbr1: { cidr: 10.1.0.0/24, gateway: 10.1.0.1, egress: nat }',
    '  vmbr2: { cidr: 10.2.0.0/24, gateway: 10.2.0.1, egress: none }',
    'tunnels:',
    '  wg0: { server: pve, listen: 51820, cidr: 10.8.0.0/24 }',
    '  wg1: { server: pve, listen: 51821, cidr: 10.9.0.0/24 }',
    'hosts:',
    '  pve:',
    '    kind: hypervisor',
    '    uplink: enp1s0',
    '    nics: { vmbr1: 10.1.0.1, vmbr2: 10.2.0.1, internet: 203.0.113.10, wg0: 10.8.0.1, wg1: 10.9.0.1 }',
    '    services: { ssh: tcp/22 }',
    '  a1: { kind: vm, id: 101, nics: { vmbr1: 10.1.0.11 }, services: { web: tcp/80 } }',
    '  a2: { kind: vm, id: 102, nics: { vmbr1: 10.1.0.12 }, services: { web: tcp/80 }, firewall: { guest: true } }',
    '  b1: { kind: vm, id: 103, nics: { vmbr2: 10.2.0.11 }, services: { dns: udp/53 } }',
    ...[0, 1, 2, 3].map((k) => `  l${k}: { kind: peer, via: wg0, address: 10.8.0.${11 + k} }`),
    ...[0, 1, 2].map((k) => `  m${k}: { kind: peer, via: wg1, address: 10.9.0.${11 + k} }`),
    'policy:',
    '  - allow: { from: wg0, to: [a1, a2.web, pve.ssh] }',
    '  - allow: { from: [l1, m2], to: b1, ports: udp/53 }',
    '  - deny: { from: l2, to: a1 }',
    '  - allow: { from: wg1, to: [vmbr2, l0], ports: [udp/53, tcp/80] }',
    '  - allow: { from: [l3, m0], to: internet, ports: tcp/443 }',
    '  - allow: { from: a1, to: [l0, m1], ports: tcp/22 }',
  ].join('\n');

  it('the same cells as computeMatrix, the peers of a tunnel in one class', () => {
    const ir = loadedIr(spec);
    for (const assume of VIEWS) {
      const stats = { sourceClasses: 0, destClasses: 0, universe: 0, portClasses: 0, templates: 0, sweeps: 0, sweepRules: 0, visits: 0 };
      const fast = computeFastMatrix(ir, assume, new Engine(ir), { verifyTemplates: true, stats });
      assertSameCells(`roaming peers ${assume}`, computeMatrix(ir, assume), fast);
      assert.ok(fast.allowedCount() > 0);
      // 7 peers in 2 classes as configured; one class each when compromised.
      const n = fast.endpoints.length;
      if (assume === 'configured') assert.ok(stats.sourceClasses <= n - 5, `${stats.sourceClasses} source classes of ${n} endpoints`);
    }
  });
});

describe("a tunnel's transport: one verdict for its roaming peers, one per other peer", () => {
  // s1's own firewall lets out only wg0, so its transport to the endpoint never leaves; the
  // roaming peers' comes from the internet and gets through. A verdict shared by the wrong
  // peers gives s1 the roaming peers' tunnel or them s1's.
  const spec = [
    'version: 1',
    'networks:',
    '  vmbr1: { cidr: 10.1.0.0/24, gateway: 10.1.0.1, egress: nat }',
    '  vmbr2: { cidr: 10.2.0.0/24, gateway: 10.2.0.1, egress: none }',
    'tunnels:',
    '  wg0: { server: pve, listen: 51820, cidr: 10.8.0.0/24 }',
    'hosts:',
    '  pve:',
    '    kind: hypervisor',
    '    uplink: enp1s0',
    '    nics: { vmbr1: 10.1.0.1, vmbr2: 10.2.0.1, internet: 203.0.113.10, wg0: 10.8.0.1 }',
    '    services: { ssh: tcp/22 }',
    '  a1: { kind: vm, id: 101, nics: { vmbr1: 10.1.0.11 }, services: { web: tcp/80 } }',
    '  s1: { kind: vm, id: 102, nics: { vmbr2: 10.2.0.12, wg0: 10.8.0.20 }, services: { web: tcp/80 } }',
    '  s2: { kind: vm, id: 103, nics: { vmbr1: 10.1.0.13, wg0: 10.8.0.21 }, services: { web: tcp/80 } }',
    ...[0, 1, 2].map((k) => `  l${k}: { kind: peer, via: wg0, address: 10.8.0.${11 + k} }`),
    'firewalls:',
    '  "s1:output": { policy: drop, rules: [ { action: accept, oif: lo }, { action: accept, oif: wg0 } ] }',
    'policy:',
    '  - allow: { from: wg0, to: [a1, s1, s2, pve.ssh] }',
  ].join('\n');

  it('the same cells as computeMatrix', () => {
    const ir = loadedIr(spec);
    const engine = new Engine(ir);
    // The spec does what it is for: the two kinds of peer get different verdicts.
    assert.equal(engine.checkTransport({ tunnel: 'wg0', peer: 's1' }, 'configured').ok, false);
    assert.equal(engine.checkTransport({ tunnel: 'wg0', peer: 'l0' }, 'configured').ok, true);
    for (const assume of VIEWS) {
      const fast = computeFastMatrix(ir, assume, new Engine(ir), { verifyTemplates: true });
      assertSameCells(`transports ${assume}`, computeMatrix(ir, assume), fast);
      const names = fast.endpoints.map((e) => e.name);
      const a1 = names.indexOf('a1');
      assert.ok(!flowIsEmpty(fast.cell(names.indexOf('l0'), a1)!), 'l0 reaches a1 through wg0');
      assert.ok(flowIsEmpty(fast.cell(names.indexOf('s1'), a1)!), 's1 does not');
    }
  });
});

describe('compact matrix', () => {
  it('reads back the same through cell, cellId, row, allowed, allowedCount and toMatrix', () => {
    const ir = irOf(loadModelFromText(generateSpec({ hosts: 30, rules: 60, seed: 9 })))!;
    const m = computeFastMatrix(ir, 'configured');
    const dense = m.toMatrix();
    const n = m.endpoints.length;
    let allowed = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const c = m.cell(i, j);
        assert.equal(c, dense.cells[i]![j]);
        const id = m.cellId(i, j);
        if (c === undefined) assert.equal(id, -1);
        else {
          assert.equal(m.flowSets[id], c);
          if (!flowIsEmpty(c)) allowed++;
          assert.equal(id === 0, flowIsEmpty(c));
        }
      }
      const row = m.row(i);
      assert.equal(row.to.length, row.ids.length);
      for (let k = 1; k < row.to.length; k++) assert.ok(row.to[k - 1]! < row.to[k]!);
    }
    assert.equal(m.allowedCount(), allowed);
    assert.ok(allowed > 0);
    const listed = [...m.allowed()];
    assert.equal(listed.length, allowed);
    for (const x of listed) assert.equal(m.cell(x.from, x.to), x.flows);
    // Interned: equal flow sets share one id.
    const texts = m.flowSets.map((f) => formatFlowSet(f));
    assert.equal(new Set(texts).size, texts.length);
  });
});

describe('Engine.reach = brute force on the examples', () => {
  for (const file of exampleFiles()) {
    const name = file.slice(ROOT.length);
    it(name, (t) => {
      const ir = irOf(loadModel(file));
      if (!ir) return t.skip('does not load');
      const engine = new Engine(ir);
      const bf = new BruteForce(ir, engine.topo, { ports: 'sampled', samples: 32 });
      const eps = endpoints(ir.model);
      for (const assume of VIEWS) {
        for (const a of eps) {
          for (const b of eps) {
            if (a === b || (a.source.kind === 'zone' && b.dest.kind === 'zone')) continue;
            const e = engine.reach(a.source, b.dest, assume).allowed;
            const x = bf.reach(a.source, b.dest, assume);
            assert.ok(flowEqual(e, x), `${name} ${assume}: ${a.name} → ${b.name}: engine ${show(e)}, brute force ${show(x)}`);
          }
        }
      }
    });
  }

  it('every port enumerated: proxmox-dual-bridge and libvirt-nat-filtered, as configured', () => {
    for (const f of ['proxmox-dual-bridge.yaml', 'libvirt-nat-filtered.yaml']) {
      const ir = irOf(loadModel(join(ROOT, 'examples', f)))!;
      const engine = computeMatrix(ir, 'configured');
      assertSameCells(f, bruteMatrix(ir, 'configured', { ports: 'full' }), { cell: (i, j) => engine.cells[i]![j] });
    }
  });
});
