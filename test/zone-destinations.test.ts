/**
 * Engine.zoneDestinations leaves out the destination cuts that fall outside both zones before
 * sorting them; the representatives must be those of every cut (the definition), on every
 * example and on generated specs.
 */
import { strict as assert } from 'node:assert';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { generateSpec } from '../src/gen/generate.js';
import { compile } from '../src/ir/compile.js';
import type { Ir } from '../src/ir/types.js';
import { loadModel, loadModelFromText } from '../src/model/load.js';
import { Engine, representatives } from '../src/verify/engine.js';

function everyCut(ir: Ir): number[] {
  const cuts: number[] = [];
  for (const c of ir.chains.values()) for (const r of c.rules) for (const [lo, hi] of r.match.dst ?? []) cuts.push(lo, hi + 1);
  return cuts;
}

function check(name: string, ir: Ir): void {
  const engine = new Engine(ir);
  for (const zone of ['internet', 'lan'] as const) {
    const space = zone === 'internet' ? ir.model.internet : ir.model.lan;
    assert.deepEqual(engine.zoneDestinations(zone), representatives(space, everyCut(ir), engine.topo.byAddr), `${name} ${zone}`);
  }
}

describe('zone destinations = representatives of every destination cut', () => {
  const files = readdirSync('examples')
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => `examples/${f}`);
  for (const file of files) {
    it(file, (t) => {
      const r = loadModel(file);
      if (!r.model) return t.skip('does not load');
      check(file, compile(r.model));
    });
  }
  for (const [hosts, rules, seed] of [
    [40, 80, 3],
    [300, 1500, 5],
  ] as const) {
    it(`generated --hosts ${hosts} --rules ${rules} --seed ${seed}`, () =>
      check(`gen ${seed}`, compile(loadModelFromText(generateSpec({ hosts, rules, seed })).model!)));
  }
});
