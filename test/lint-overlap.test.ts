/**
 * Lint computes an overlap's part only for the pairs its message shows; for every other pair it
 * asks `hasPart` (is some piece of the part on a real bridge?), a depth-first search that stops
 * at the first witness. That answer must be exactly `parts().some(keep)`, limits included (at
 * most 64 cutting rules, and a cut past 256 pieces not made, leaving coarser pieces), for any
 * `keep` that holds for every box containing a box it holds for. Random chains small enough to
 * meet often, some with many cutting rules so the 256-piece limit is reached.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { IrRule } from '../src/ir/types.js';
import { type BoxNames, CutMemo, EarlierMeets, Overlap, overlapHasPart } from '../src/verify/lint-overlap.js';
import { boxContains, boxIntersect, boxIntersects, boxIsEmpty, boxSubtract, nameHas, type Box, type NameSet } from '../src/verify/box.js';
import { assertProperty } from './support/seed.js';

const span = (max: number): fc.Arbitrary<[number, number]> =>
  fc.tuple(fc.integer({ min: 0, max }), fc.integer({ min: 0, max })).map(([a, b]) => (a <= b ? [a, b] : [b, a]));
const ANY: NameSet = { neg: true, names: [] };
const NAMES = ['tap1', 'tap2', 'tap3', 'vmbr0', 'vmbr1'];
const nameSet: fc.Arbitrary<NameSet> = fc
  .tuple(fc.boolean(), fc.uniqueArray(fc.constantFrom(...NAMES), { maxLength: 3 }))
  .map(([neg, names]) => ({ neg, names: [...names].sort() }));
const box = (max: number): fc.Arbitrary<Box> =>
  fc.record({
    src: fc.oneof(
      span(max).map((s) => [s]),
      fc.constant([[0, max]] as [number, number][]),
    ),
    dst: fc.oneof(
      span(max).map((s) => [s]),
      fc.constant([[0, max]] as [number, number][]),
    ),
    flow: span(max).map((s) => [s]),
    iif: fc.oneof(nameSet, fc.constant({ neg: true, names: [] })),
    oif: fc.constant({ neg: true, names: [] }),
    port: fc.oneof(nameSet, fc.constant({ neg: true, names: [] })),
    state: fc.constantFrom(1, 2, 3),
  });

/** Predicates that hold for every box containing a box they hold for. */
const KEEPS: [string, (b: Box) => boolean][] = [
  ['anything', () => true],
  ['source reaches 5', (b) => b.src.some(([, hi]) => hi >= 5)],
  ['port tap1 or any port', (b) => b.port.neg || b.port.names.includes('tap1')],
  ['in on vmbr0 and flow holds 3', (b) => nameHas(b.iif, 'vmbr0') && b.flow.some(([lo, hi]) => lo <= 3 && 3 <= hi)],
  ['new connections from 0-2', (b) => (b.state & 1) !== 0 && b.src.some(([lo]) => lo <= 2)],
];

/** The most pieces any step of the cut would hold without the limit (first 64 cutters). */
function widestStep(whole: Box, cutters: readonly Box[]): number {
  let part = [whole];
  let most = 1;
  for (const c of cutters.slice(0, 64)) {
    part = part.flatMap((x) => boxSubtract(x, c));
    most = Math.max(most, part.length);
    if (most > 256) break;
  }
  return most;
}

function check(boxes: Box[], rates: boolean[]): void {
  const rules = boxes.map((_, k) => ({ index: k, rate: rates[k] ? '10/second' : undefined }) as unknown as IrRule);
  const j = boxes.length - 2;
  const i = boxes.length - 1;
  const nb = Int32Array.from(boxes.map((_, k) => k).filter((k) => k !== i && boxIntersects(boxes[k]!, boxes[i]!)));
  if (!nb.includes(j)) return;
  const o = new Overlap(rules, boxes, j, i, nb);
  const parts = o.parts();
  // The parts lie inside what both rules match and are pairwise disjoint.
  const whole = boxIntersect(boxes[j]!, boxes[i]!);
  for (const p of parts) assert.ok(!boxIsEmpty(p) && boxContains(whole, p));
  for (let a = 0; a < parts.length; a++) for (let b = a + 1; b < parts.length; b++) assert.ok(!boxIntersects(parts[a]!, parts[b]!));
  for (const [what, keep] of KEEPS) assert.equal(o.hasPart(keep), parts.some(keep), `${what}: ${parts.length} parts`);
  // As lint builds it: cutters from j's own earlier neighbours, and j's cut shared through the
  // memo (used when that cut stays one piece). Same parts, same answers.
  const fast = new Overlap(rules, boxes, j, i, nb, new EarlierMeets(boxes, new Map([[i, nb]])), new CutMemo(rules, boxes));
  assert.deepEqual(fast.parts(), parts);
  for (const [what, keep] of KEEPS) assert.equal(fast.hasPart(keep), parts.some(keep), `memo, ${what}: ${parts.length} parts`);
}

describe('Overlap.hasPart = parts().some(keep)', () => {
  it('on random small chains', () => {
    assertProperty(
      fc.property(fc.array(box(12), { minLength: 2, maxLength: 14 }), fc.array(fc.boolean(), { maxLength: 14 }), (boxes, rates) => check(boxes, rates)),
      { numRuns: 600 },
      401,
    );
  });

  it('answers yes where the limit leaves coarse pieces although a later rule takes every fine one', () => {
    // 60 small cubes cut the part into more than 256 pieces, then a rule taking all of it: cut
    // to the end nothing would be left, but the cut stops at the limit, so lint reports a part.
    const big: Box = { src: [[0, 30]], dst: [[0, 30]], flow: [[0, 30]], iif: ANY, oif: ANY, port: ANY, state: 3 };
    const at = (k: number, m: number): number => ((k * k * m + 3 * k) % 101) % 27;
    const points: Box[] = Array.from({ length: 60 }, (_, k) => ({
      ...big,
      src: [[at(k, 7), at(k, 7) + 3]],
      dst: [[at(k, 11), at(k, 11) + 3]],
      flow: [[at(k, 5), at(k, 5) + 3]],
    }));
    const boxes = [...points, big, big, big];
    assert.ok(widestStep(big, boxes.slice(0, 61)) > 256);
    const rules = boxes.map((_, k) => ({ index: k }) as unknown as IrRule);
    const o = new Overlap(rules, boxes, 61, 62, Int32Array.from(boxes.map((_, k) => k).slice(0, 62)));
    assert.ok(o.parts().length > 0);
    assert.equal(
      o.hasPart(() => true),
      true,
    );
    // Without the limit the same cut leaves nothing (all 61 rules before j cut it).
    let rest = [big];
    for (const c of boxes.slice(0, 61)) rest = rest.flatMap((x) => boxSubtract(x, c));
    assert.equal(rest.length, 0);
  });

  it('when the cut reaches its 256-piece limit (up to 80 cutting rules of single points)', () => {
    let capped = 0;
    assertProperty(
      fc.property(
        box(30).map((b): Box => ({ ...b, src: [[0, 30]], dst: [[0, 30]], flow: [[0, 30]] })),
        fc.array(
          fc.record({ s: fc.integer({ min: 0, max: 30 }), d: fc.integer({ min: 0, max: 30 }), f: span(30), port: nameSet, state: fc.constantFrom(1, 3) }),
          { minLength: 20, maxLength: 80 },
        ),
        (big, holes) => {
          const cutters: Box[] = holes.map((h) => ({ ...big, src: [[h.s, h.s]], dst: [[h.d, h.d]], flow: [h.f], port: h.port, state: h.state }));
          const boxes = [...cutters, big, big];
          const rules = boxes.map((_, k) => ({ index: k }) as unknown as IrRule);
          const i = boxes.length - 1;
          const o = new Overlap(rules, boxes, i - 1, i, Int32Array.from(boxes.map((_, k) => k).slice(0, i)));
          const parts = o.parts();
          if (widestStep(big, cutters) > 256) capped++;
          for (const [what, keep] of KEEPS) assert.equal(o.hasPart(keep), parts.some(keep), what);
          // A keep that fails on the whole box fails everywhere.
          assert.equal(
            o.hasPart(() => false),
            false,
          );
        },
      ),
      { numRuns: 150 },
      402,
    );
    assert.ok(capped > 0);
  });
});

/** Filters that look at names only, the kind lint's part filter is (its type says so). */
const NAME_KEEPS: [string, (b: BoxNames) => boolean][] = [
  ['anything', () => true],
  ['port tap1 or any port', (b) => b.port.neg || b.port.names.includes('tap1')],
  ['in on vmbr0', (b) => nameHas(b.iif, 'vmbr0')],
  ['port tap2 only if in on vmbr1', (b) => !nameHas(b.port, 'tap2') || b.port.names.length > 1 || b.port.neg || nameHas(b.iif, 'vmbr1')],
];
const NO_NAMES: BoxNames = { iif: ANY, oif: ANY, port: ANY };

describe('overlapHasPart with the filter asked once per cut', () => {
  it('gives parts().some(keep) where the later rule names no interface and where it does', () => {
    // Families like the guests' egress drops: one box, each member with its own source and
    // port; later rules name interfaces and ports or leave them free (the cut's answer alone).
    const member = fc.record({ s: span(12), port: fc.option(nameSet, { nil: undefined }) });
    let free = 0;
    assertProperty(
      fc.property(
        box(12),
        fc.array(member, { minLength: 2, maxLength: 10 }),
        fc.array(
          fc.oneof(
            box(12),
            box(12).map((b) => ({ ...b, ...NO_NAMES })),
          ),
          { minLength: 1, maxLength: 10 },
        ),
        fc.array(fc.nat(), { minLength: 20, maxLength: 20 }),
        (base, members, others, order) => {
          const family: Box[] = members.map((m) => ({ ...base, src: [m.s], port: m.port ?? base.port }));
          const pool = [...family, ...others];
          // Interleaved, so later rules of either kind come after family members.
          const boxes = pool
            .map((b, k) => ({ b, key: order[k % order.length]! * 100 + k }))
            .sort((x, y) => x.key - y.key)
            .map((x) => x.b);
          const rules = boxes.map((_, k) => ({ index: k }) as unknown as IrRule);
          const near = new Map<number, Int32Array>();
          for (let i = 0; i < boxes.length; i++)
            near.set(i, Int32Array.from(boxes.map((_, k) => k).filter((k) => k !== i && boxIntersects(boxes[k]!, boxes[i]!))));
          const meets = new EarlierMeets(boxes, near);
          for (const [what, keep] of NAME_KEEPS) {
            // One memo for the whole chain, as lint has: the answers of cuts kept.
            const memo = new CutMemo(rules, boxes, meets);
            const keepMeet = (a: BoxNames, b: BoxNames): boolean => keep(boxIntersect({ ...boxes[0]!, ...a }, { ...boxes[0]!, ...b }));
            for (let i = 0; i < boxes.length; i++) {
              const nb = near.get(i)!;
              if (boxes[i]!.iif === ANY && boxes[i]!.port === ANY && boxes[i]!.oif === ANY) free++;
              for (const j of nb) {
                if (j >= i) break;
                const want = new Overlap(rules, boxes, j, i, nb).parts().some(keep);
                assert.equal(overlapHasPart(rules, boxes, j, i, nb, meets, memo, keep, keepMeet), want, `${what}: j ${j} i ${i}`);
              }
            }
          }
        },
      ),
      { numRuns: 400 },
      403,
    );
    assert.ok(free > 0);
  });
});
