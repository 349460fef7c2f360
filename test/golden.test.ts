/**
 * Golden matrices and IR for every examples/*.yaml (whatever examples exist when the test runs):
 *
 *   test/golden/<example>/matrix-configured.json   matrixToJson, assume configured
 *   test/golden/<example>/matrix-compromised.json  matrixToJson, assume compromised
 *   test/golden/<example>/matrix-configured.txt    matrixToList, no colour
 *   test/golden/<example>/matrix-compromised.txt
 *   test/golden/<example>/ir.json                  every chain (sorted by id) with its rules and origins
 *
 * Byte-for-byte; UPDATE_GOLDEN=1 writes them (review the diff). Rendering twice must give the same
 * bytes, and the compromised view must allow at least what the configured one does.
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import type { Chain, Ir, IrMatch, IrRule } from '../src/ir/types.js';
import type { Origin } from '../src/model/types.js';
import { matrixToJson, matrixToList } from '../src/report/matrix.js';
import { flowCovers, flowSubtract, formatFlowSet } from '../src/util/flows.js';
import { formatRange } from '../src/util/ip.js';
import type { RangeSet } from '../src/util/rangeset.js';
import { computeMatrix, type Matrix } from '../src/verify/matrix.js';
import { exampleFiles, GOLDEN, ROOT, UPDATE } from './support/golden.js';
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
          if (c && k) assert.ok(flowCovers(k, c), `${name}: ${a.name} → ${b.name} allows ${formatFlowSet(flowSubtract(c, k))} as configured but not compromised`);
        }),
      );
      const dir = join(GOLDEN, name);
      if (UPDATE) {
        mkdirSync(dir, { recursive: true });
        for (const [f, text] of first) writeFileSync(join(dir, f), text);
        return;
      }
      for (const [f, text] of first) {
        const p = join(dir, f);
        assert.ok(existsSync(p), `${relative(ROOT, p)} is missing: run with UPDATE_GOLDEN=1 and review it`);
        assert.equal(text, readFileSync(p, 'utf8'), `${relative(ROOT, p)} differs (UPDATE_GOLDEN=1 to accept, after reviewing)`);
      }
    });
  }
});
