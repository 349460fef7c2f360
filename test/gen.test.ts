/**
 * `cordon gen`: the synthetic specs load and compile without errors, are deterministic for a
 * seed, differ across seeds, and have the sizes asked for.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { generateSpec, genOptionsError, Rng } from '../src/gen/generate.js';
import { compile } from '../src/ir/compile.js';
import { loadModelFromText } from '../src/model/load.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function load(text: string) {
  const r = loadModelFromText(text, 'gen.yaml');
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  assert.deepEqual(
    errors.map((d) => `${d.code} ${d.message} (${d.path})`),
    [],
  );
  assert.ok(r.model);
  return r.model;
}

describe('gen', () => {
  for (const [hosts, rules, seed] of [
    [1, 0, 1],
    [2, 3, 2],
    [5, 10, 3],
    [40, 60, 4],
    [300, 1000, 5],
  ] as const) {
    it(`--hosts ${hosts} --rules ${rules} --seed ${seed}: loads, compiles and has the sizes asked for`, () => {
      const text = generateSpec({ hosts, rules, seed });
      const model = load(text);
      assert.equal(model.hosts.size, hosts);
      assert.equal(model.policy.length, rules);
      const ir = compile(model);
      assert.deepEqual(
        ir.diagnostics.filter((d) => d.severity === 'error'),
        [],
      );
    });
  }

  it('is deterministic for a seed and differs across seeds', () => {
    const a = generateSpec({ hosts: 120, rules: 300, seed: 42 });
    const b = generateSpec({ hosts: 120, rules: 300, seed: 42 });
    const c = generateSpec({ hosts: 120, rules: 300, seed: 43 });
    assert.equal(a, b);
    assert.notEqual(a, c);
  });

  it('looks like a real lab: hypervisors, many networks of several sizes, groups, overlapping CIDRs, ranges, denies', () => {
    const text = generateSpec({ hosts: 3000, rules: 3000, seed: 7 });
    const doc = parse(text) as {
      networks: Record<string, { cidr: string; egress: string }>;
      hosts: Record<string, { kind: string; egress?: string; firewall?: unknown }>;
      groups: Record<string, string[]>;
      tunnels?: unknown;
      policy: Record<string, { from: unknown; to: unknown; ports?: unknown }>[];
    };
    const kinds = new Map<string, number>();
    for (const h of Object.values(doc.hosts)) kinds.set(h.kind, (kinds.get(h.kind) ?? 0) + 1);
    assert.ok((kinds.get('hypervisor') ?? 0) >= 1);
    assert.ok((kinds.get('vm') ?? 0) > 1000 && (kinds.get('container') ?? 0) > 300);
    assert.ok((kinds.get('peer') ?? 0) >= 2, 'a tunnel with peers');
    assert.ok(doc.tunnels);
    const lens = new Set(Object.values(doc.networks).map((n) => n.cidr.split('/')[1]));
    assert.ok(Object.keys(doc.networks).length >= 50 && lens.size >= 3, `networks of several sizes: ${[...lens].join(',')}`);
    assert.ok(new Set(Object.values(doc.networks).map((n) => n.egress)).size === 3);
    const egress = new Set(Object.values(doc.hosts).map((h) => h.egress ?? 'default'));
    for (const e of ['default', 'isolated', 'open', 'vpn-only']) assert.ok(egress.has(e), `egress ${e}`);
    assert.ok(
      Object.values(doc.hosts).some((h) => h.firewall),
      'some per-guest or in-guest firewalls',
    );
    const groupNames = new Set(Object.keys(doc.groups));
    assert.ok(
      Object.values(doc.groups).some((m) => m.some((x) => groupNames.has(x))),
      'some groups nest',
    );
    const refs = doc.policy.flatMap((r) => Object.values(r).flatMap((b) => [b.from, b.to].flat() as string[]));
    assert.ok(
      refs.some((r) => /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(r)),
      'CIDR targets',
    );
    assert.ok(
      refs.some((r) => /^\d+\.\d+\.\d+\.\d+$/.test(r)),
      'address targets',
    );
    assert.ok(refs.includes('internet') && refs.some((r) => r.includes('.') && !/^\d/.test(r)), 'internet and services');
    assert.ok(
      doc.policy.some((r) => 'deny' in r),
      'denies',
    );
    assert.ok(text.includes('tcp/1024-65535') || text.includes('udp/10000-20000'), 'port ranges');
  });

  it('rejects bad sizes', () => {
    assert.match(genOptionsError({ hosts: 0, rules: 1, seed: 1 }) ?? '', /hosts/);
    assert.match(genOptionsError({ hosts: 1.5, rules: 1, seed: 1 }) ?? '', /hosts/);
    assert.match(genOptionsError({ hosts: 3, rules: -1, seed: 1 }) ?? '', /rules/);
    assert.equal(genOptionsError({ hosts: 3, rules: 0, seed: -5 }), undefined);
    assert.throws(() => generateSpec({ hosts: 0, rules: 1, seed: 1 }), RangeError);
  });

  it('Rng is seeded and uniform enough', () => {
    const a = new Rng(9);
    const b = new Rng(9);
    const xs = Array.from({ length: 1000 }, () => a.float());
    assert.deepEqual(
      xs,
      Array.from({ length: 1000 }, () => b.float()),
    );
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    assert.ok(mean > 0.45 && mean < 0.55, `mean ${mean}`);
    assert.notDeepEqual(
      xs.slice(0, 5),
      Array.from({ length: 5 }, () => new Rng(10).float()),
    );
  });

  it('the CLI writes the same text, and refuses bad numbers with exit 2', () => {
    const cli = (...args: string[]) => spawnSync(`${ROOT}/bin/cordon`, ['gen', ...args], { encoding: 'utf8' });
    const ok = cli('--hosts', '12', '--rules', '20', '--seed', '3');
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout, generateSpec({ hosts: 12, rules: 20, seed: 3 }));
    for (const bad of [
      ['--hosts', 'ten'],
      ['--hosts', '0'],
      ['--hosts', '5', '--rules', '-3'],
      ['--hosts', '5', '--seed', '1.5'],
    ]) {
      const r = cli(...bad);
      assert.equal(r.status, 2, `${bad.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /cordon: gen: --(hosts|rules|seed)|--(hosts|rules|seed) must/);
    }
  });
});
