/**
 * Golden matrices and IR for every examples/*.yaml (whatever examples exist when the test runs):
 *
 *   test/golden/<example>/matrix-configured.json   matrixToJson, assume configured
 *   test/golden/<example>/matrix-compromised.json  matrixToJson, assume compromised
 *   test/golden/<example>/matrix-configured.txt    matrixToList, no colour
 *   test/golden/<example>/matrix-compromised.txt
 *   test/golden/<example>/ir.json                  every chain (sorted by id) with its rules and origins
 *
 * Byte-for-byte; UPDATE_GOLDEN=1 writes them and fails naming those it changed (review the diff,
 * run again). Rendering twice must give the same bytes, and the compromised view must allow at
 * least what the configured one does. Golden files no test produces any more are reported.
 */
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import type { Chain, Ir, IrMatch, IrRule } from '../src/ir/types.js';
import type { Origin } from '../src/model/types.js';
import { matrixToJson, matrixToList } from '../src/report/matrix.js';
import { flowCovers, flowSubtract, formatFlowSet } from '../src/util/flows.js';
import { formatRange } from '../src/util/ip.js';
import type { RangeSet } from '../src/util/rangeset.js';
import { computeMatrix, type Matrix } from '../src/verify/matrix.js';
import { RENDERERS } from '../src/render/registry.js';
import { checkGoldenFile, exampleFiles, exampleName, failIfUpdated, GOLDEN, listFiles, ROOT, UPDATE, writeIfChanged } from './support/golden.js';
import { loadExample } from './support/target-golden.js';

/** Address sets as readable ranges (`10.0.0.0/24`, `10.0.0.5`, `a-b`); null = any address. */
function addrs(r: RangeSet | undefined): string[] | null {
  return r === undefined ? null : r.map(([lo, hi]) => formatRange({ lo, hi }));
}

function origin(o: Origin): Origin {
  return { file: o.file, line: o.line, col: o.col, path: o.path, text: o.text };
}

function match(m: IrMatch) {
  return {
    src: addrs(m.src),
    dst: addrs(m.dst),
    flows: formatFlowSet(m.flows),
    iif: m.iif ?? null,
    oif: m.oif ?? null,
    inPort: m.inPort ?? null,
    state: m.state ?? null,
  };
}

function rule(r: IrRule) {
  return {
    id: r.id,
    action: r.action,
    match: match(r.match),
    log: r.log,
    rate: r.rate ?? null,
    role: r.role,
    policyIndex: r.policyIndex ?? null,
    origin: origin(r.origin),
  };
}

function chain(c: Chain) {
  return {
    point: c.point,
    host: c.host,
    hook: c.hook,
    enforcedOn: c.enforcedOn,
    inGuest: c.inGuest,
    handwritten: c.handwritten,
    policy: c.policy,
    policyOrigin: origin(c.policyOrigin),
    rules: c.rules.map(rule),
  };
}

/**
 * The IR as JSON: chains sorted by id, rules in chain order, every field spelled out (null for
 * "any"/"none"), so the file reads the same on every machine and run.
 */
function irToJson(ir: Ir): string {
  const ids = [...ir.chains.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const value = {
    chains: ids.map((id) => chain(ir.chains.get(id)!)),
    diagnostics: ir.diagnostics.map((d) => ({ code: d.code, severity: d.severity, message: d.message, line: d.line, col: d.col, path: d.path })),
  };
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** Every golden file of one example, by file name, and the two matrices. */
function renderAll(file: string): { files: Map<string, string>; matrices: Matrix[] } {
  const ex = loadExample(file);
  assert.ok(ex.ir, `${ex.shown} does not load; run cordon check on it`);
  const files = new Map<string, string>();
  const matrices: Matrix[] = [];
  for (const assume of ['configured', 'compromised'] as const) {
    const m = computeMatrix(ex.ir, assume);
    matrices.push(m);
    files.set(`matrix-${assume}.json`, `${JSON.stringify(matrixToJson(m), null, 2)}\n`);
    files.set(`matrix-${assume}.txt`, `${matrixToList(m, false)}\n`);
  }
  files.set('ir.json', irToJson(ex.ir));
  return { files, matrices };
}

describe('golden matrices and IR of every example', () => {
  const files = exampleFiles();
  it('finds the examples', () => assert.ok(files.length > 0));

  for (const file of files) {
    const name = relative(join(ROOT, 'examples'), file).replace(/\.ya?ml$/, '');
    it(name, () => {
      const { files: first, matrices } = renderAll(file);
      const { files: second } = renderAll(file);
      for (const [f, text] of first) assert.equal(second.get(f), text, `${name}/${f}: two renderings differ`);
      // Assuming guests compromised only ever adds flows: every configured cell is inside its compromised twin.
      const [conf, comp] = matrices as [Matrix, Matrix];
      conf.endpoints.forEach((a, i) =>
        conf.endpoints.forEach((b, j) => {
          const c = conf.cells[i]![j];
          const k = comp.cells[i]![j];
          if (c && k)
            assert.ok(flowCovers(k, c), `${name}: ${a.name} → ${b.name} allows ${formatFlowSet(flowSubtract(c, k))} as configured but not compromised`);
        }),
      );
      const dir = join(GOLDEN, name);
      if (UPDATE) {
        // Every file is written, then the test fails naming those that changed (review, re-run).
        const changed = [...first].map(([f, text]) => [join(dir, f), text] as const).filter(([p, text]) => writeIfChanged(p, text));
        return failIfUpdated(changed.map(([p]) => p));
      }
      for (const [f, text] of first) checkGoldenFile(join(dir, f), text);
    });
  }
});

/**
 * Golden files nothing checks any more. Each render test compares its own folder of each example
 * (and flags files in it that its target no longer renders); what no test looks at is caught here:
 * the folder of an example that is gone, an example without goldens, a file or folder in an
 * example's folder that is neither this file's own nor a render target's.
 */
describe('no stale golden files', () => {
  const examples = new Set(exampleFiles().map(exampleName));
  const own = new Set(['matrix-configured.json', 'matrix-compromised.json', 'matrix-configured.txt', 'matrix-compromised.txt', 'ir.json']);
  const targets = new Set(RENDERERS.map((r) => r.name));

  it('every folder under test/golden is an example, every example has one; other entries are docs (*.md)', () => {
    const entries = readdirSync(GOLDEN, { withFileTypes: true });
    const orphans = entries.filter((e) => (e.isDirectory() ? !examples.has(e.name) : !e.name.endsWith('.md'))).map((e) => `test/golden/${e.name}`);
    assert.deepEqual(orphans, [], `golden files of no current example (delete them): ${orphans.join(', ')}`);
    const without = [...examples].filter((x) => !entries.some((e) => e.isDirectory() && e.name === x));
    assert.deepEqual(without, [], `examples without golden files (run with UPDATE_GOLDEN=1 and review): ${without.join(', ')}`);
  });

  for (const name of [...examples].sort()) {
    it(`${name}: every entry is a golden file of golden.test.ts or the folder of a render target`, () => {
      const dir = join(GOLDEN, name);
      if (!existsSync(dir)) return; // reported above
      const stray = readdirSync(dir, { withFileTypes: true })
        .filter((e) => (e.isDirectory() ? !targets.has(e.name) : !own.has(e.name)))
        .map((e) => relative(ROOT, join(dir, e.name)) + (e.isDirectory() ? '/' : ''));
      assert.deepEqual(stray, [], `golden files no test produces (delete them): ${stray.join(', ')}`);
      // A target folder holds files only (an empty folder is left over from a deleted target output).
      for (const t of targets) {
        const d = join(dir, t);
        if (existsSync(d)) assert.ok(listFiles(d).length > 0, `${relative(ROOT, d)}/ is empty (delete it)`);
      }
    });
  }
});
