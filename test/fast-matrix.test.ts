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
