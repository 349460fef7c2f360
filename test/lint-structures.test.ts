/**
 * The structures lint's eighth speed round added, each against a plain reference on random inputs:
 * NameSplit (a big address pair's rules by interface and port name: its candidates must include
 * every rule whose names meet the query's), IntervalColumns (an interval index built from columns
 * must be the index built from the same items), CutMemo keyed by the neighbours before the earlier
 * rule only (the same cut as computed afresh), and the corner test run before the cover search
 * (when it says "uncovered", `covered` says so too).
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { IrRule } from '../src/ir/types.js';
import { IntervalColumns, IntervalIndex, type IntervalItem } from '../src/util/interval-index.js';
import { IntBuffer } from '../src/util/int-buffer.js';
import {
  boxMeetsBeyondAddresses,
  boxOf,
  cornerOutside,
  covered,
  flowsToLine,
  meetsRange,
  nameHas,
  rsIntersects,
  type Box,
  type NameSet,
} from '../src/verify/box.js';
import { spanGroups } from '../src/verify/lint-chain.js';
import type { IrMatch } from '../src/ir/types.js';
import type { FlowSet } from '../src/util/flows.js';
import { CutMemo, EarlierMeets } from '../src/verify/lint-overlap.js';
import { NameSplit } from '../src/verify/name-split.js';
import { assertProperty } from './support/seed.js';

const NAMES = ['tap1', 'tap2', 'tap3', 'vmbr0', 'vmbr1', 'wg0'];
const nameSet: fc.Arbitrary<NameSet> = fc
  .tuple(fc.boolean(), fc.uniqueArray(fc.constantFrom(...NAMES), { maxLength: 3 }))
  .map(([neg, names]) => ({ neg, names: [...names].sort() }));
const anyOr = (a: fc.Arbitrary<NameSet>): fc.Arbitrary<NameSet> => fc.oneof(a, fc.constant({ neg: true, names: [] }));
const span = (max: number): fc.Arbitrary<[number, number]> =>
  fc.tuple(fc.integer({ min: 0, max }), fc.integer({ min: 0, max })).map(([a, b]) => (a <= b ? [a, b] : [b, a]));
const box = (max: number): fc.Arbitrary<Box> =>
  fc.record({
    src: span(max).map((s) => [s]),
    dst: span(max).map((s) => [s]),
    flow: span(max).map((s) => [s]),
    iif: anyOr(nameSet),
    oif: anyOr(nameSet),
    port: anyOr(nameSet),
    state: fc.constantFrom(1, 2, 3),
  });
const namesMeet = (a: NameSet, b: NameSet): boolean => (a.neg && b.neg) || NAMES.concat(['other']).some((x) => nameHas(a, x) && nameHas(b, x));

describe('NameSplit', () => {
  it('offers every rule whose interface and port names meet the query, each once', () => {
    assertProperty(
      fc.property(fc.array(box(9), { minLength: 1, maxLength: 40 }), fc.array(box(9), { minLength: 1, maxLength: 8 }), (boxes, queries) => {
        const rules = boxes.map((_, k) => k);
        const split = new NameSplit(boxes, rules);
        const stamp = new Int32Array(boxes.length).fill(-1);
        queries.forEach((q, mark) => {
          const buf = new IntBuffer(1);
          split.candidates(q, stamp, mark, buf);
          const got = [...buf.view()];
          assert.equal(new Set(got).size, got.length, 'no rule twice');
          for (const j of rules) {
            const b = boxes[j]!;
            if (namesMeet(b.port, q.port) && namesMeet(b.iif, q.iif) && namesMeet(b.oif, q.oif)) assert.ok(got.includes(j), `rule ${j} missing`);
          }
        });
      }),
      { numRuns: 300 },
      801,
    );
  });
});

describe('NameSplit families', () => {
  // Rules alike but for their port (one base, several ports), mixed with rules of every shape.
  const portOnly = fc.constantFrom(...NAMES).map((x): NameSet => ({ neg: false, names: [x] }));
  const family = fc.tuple(box(9), fc.array(portOnly, { minLength: 1, maxLength: 6 })).map(([base, ps]) => ps.map((port) => ({ ...base, port })));
  const boxesOf = fc
    .array(
      fc.oneof(
        family,
        box(9).map((b) => [b]),
      ),
      { minLength: 1, maxLength: 12 },
    )
    .map((gs) => gs.flat());
  const anyPort = box(9).map((b): Box => ({ ...b, port: { neg: true, names: [] } }));
  it('with families, a query matching every port meets exactly the rules boxMeetsBeyondAddresses says', () => {
    assertProperty(
      fc.property(boxesOf, fc.array(fc.oneof(anyPort, box(9)), { minLength: 1, maxLength: 8 }), (boxes, queries) => {
        const rules = boxes.map((_, k) => k);
        const split = new NameSplit(boxes, rules);
        for (const f of split.families) {
          const r = boxes[f.rep]!;
          for (const j of f.members) {
            const b = boxes[j]!;
            assert.ok(!b.port.neg && b.port.names.length > 0 && b.state === r.state, 'filed under port names, same state');
            assert.deepEqual([b.flow, b.iif, b.oif], [r.flow, r.iif, r.oif], 'alike but for the port');
          }
        }
        const stamp = new Int32Array(boxes.length).fill(-1);
        queries.forEach((q, mark) => {
          const namedBuf = new IntBuffer(1);
          const famBuf = new IntBuffer(1);
          split.candidates(q, stamp, mark, namedBuf, famBuf);
          const named = [...namedBuf.view()];
          const fams = [...famBuf.view()];
          if (!(q.port.neg && q.port.names.length === 0)) assert.equal(fams.length, 0, 'families only for a query matching every port');
          const got = named.filter((j) => boxMeetsBeyondAddresses(q, boxes[j]!));
          for (const f of fams) if (boxMeetsBeyondAddresses(q, boxes[split.families[f]!.rep]!)) got.push(...split.families[f]!.members);
          const want = rules.filter((j) => boxMeetsBeyondAddresses(q, boxes[j]!));
          assert.deepEqual(
            [...got].sort((a, b) => a - b),
            want,
          );
        });
      }),
      { numRuns: 300 },
      802,
    );
  });
});

describe('IntervalColumns', () => {
  const item = fc.record({
    lo: fc.integer({ min: 0, max: 60 }),
    w: fc.integer({ min: 0, max: 40 }),
    id: fc.integer({ min: 0, max: 30 }),
    lo2: fc.integer({ min: 0, max: 60 }),
    w2: fc.integer({ min: 0, max: 40 }),
  });
  it('gives the index the same items give, query for query (growing past its first capacity)', () => {
    assertProperty(
      fc.property(fc.array(item, { minLength: 17, maxLength: 90 }), fc.array(item, { minLength: 1, maxLength: 10 }), fc.boolean(), (raw, queries, two) => {
        const items: IntervalItem[] = raw.map((r) =>
          two ? { lo: r.lo, hi: r.lo + r.w, id: r.id, lo2: r.lo2, hi2: r.lo2 + r.w2 } : { lo: r.lo, hi: r.lo + r.w, id: r.id },
        );
        const cols = new IntervalColumns(1, two);
        for (const it of items) cols.push(it.lo, it.hi, it.id, it.lo2, it.hi2);
        assert.equal(cols.length, items.length);
        const a = new IntervalIndex(items);
        const b = new IntervalIndex(cols);
        for (const q of queries) {
          const [lo, hi, lo2, hi2] = [q.lo, q.lo + q.w, q.lo2, q.lo2 + q.w2];
          const x = new IntBuffer(1);
          const y = new IntBuffer(1);
          a.queryWithin(lo, hi, lo2, hi2, x);
          b.queryWithin(lo, hi, lo2, hi2, y);
          assert.deepEqual([...y.view()], [...x.view()]);
          assert.equal(b.estimate(lo, hi), a.estimate(lo, hi));
        }
      }),
      { numRuns: 300 },
      802,
    );
  });
});

describe('boxOf (flow lines and name sets kept per IR object)', () => {
  const span = fc.tuple(fc.integer({ min: 0, max: 70 }), fc.integer({ min: 0, max: 9 })).map(([lo, w]) => [lo, lo + w] as const);
  const flows = fc.record({
    tcp: fc.array(span, { maxLength: 3 }).map((xs) => [...xs].sort((a, b) => a[0] - b[0]).filter((x, k, all) => k === 0 || x[0] > all[k - 1]![1] + 1)),
    udp: fc.array(span, { maxLength: 3 }).map((xs) => [...xs].sort((a, b) => a[0] - b[0]).filter((x, k, all) => k === 0 || x[0] > all[k - 1]![1] + 1)),
    icmp: fc.boolean(),
    other: fc.boolean(),
  });
  const list = fc.option(fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { maxLength: 4 }), { nil: undefined });
  it('gives each rule the line and names of its own objects, shared ones built once', () => {
    assertProperty(
      fc.property(
        fc.array(flows, { minLength: 1, maxLength: 6 }),
        fc.array(list, { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { minLength: 2, maxLength: 30 }),
        (fs, ls, picks) => {
          const match = (k: number): IrMatch => ({
            src: undefined,
            dst: undefined,
            flows: fs[k % fs.length]!,
            iif: ls[k % ls.length],
            oif: ls[(k + 1) % ls.length],
            inPort: ls[(k + 2) % ls.length],
            state: undefined,
          });
          const names = (l: readonly string[] | undefined) => (l === undefined ? { neg: true, names: [] } : { neg: false, names: [...new Set(l)].sort() });
          const seen = new Map<FlowSet, Box['flow']>();
          for (const k of picks) {
            const m = match(k);
            const b = boxOf(m);
            assert.deepEqual(b.flow, flowsToLine(m.flows));
            assert.deepEqual(b.iif, names(m.iif));
            assert.deepEqual(b.oif, names(m.oif));
            assert.deepEqual(b.port, names(m.inPort));
            const before = seen.get(m.flows);
            if (before) assert.equal(b.flow, before);
            else seen.set(m.flows, b.flow);
          }
        },
      ),
      { numRuns: 300 },
      803,
    );
  });
});

describe('CutMemo', () => {
  it('gives the cut computed afresh, whatever neighbour lists share it', () => {
    assertProperty(
      fc.property(
        fc.array(box(6), { minLength: 3, maxLength: 14 }),
        fc.array(fc.array(fc.boolean(), { minLength: 14, maxLength: 14 }), { minLength: 2, maxLength: 6 }),
        (boxes, picks) => {
          const rules = boxes.map((_, k) => ({ index: k }) as unknown as IrRule);
          const memo = new CutMemo(rules, boxes);
          // Keyed by which of the rules meeting j each list holds (EarlierMeets scans: no lists given).
          const masked = new CutMemo(rules, boxes, new EarlierMeets(boxes, new Map()));
          for (const pick of picks) {
            const nb = Int32Array.from(boxes.map((_, k) => k).filter((k) => pick[k]));
            for (const j of nb) {
              const fresh = new CutMemo(rules, boxes).cut(nb, j);
              assert.deepEqual(memo.cut(nb, j), fresh, `nb ${nb.join(',')} j ${j}`);
              assert.deepEqual(masked.cut(nb, j), fresh, `masked: nb ${nb.join(',')} j ${j}`);
            }
          }
        },
      ),
      { numRuns: 300 },
      803,
    );
  });
});

/**
 * Boxes equal but for the source: single addresses, and whole ranges only past the first 64 (a
 * range before them would take all of the later ones). Each range is cut by the addresses before
 * it into one piece, a different one for each set of cutters.
 */
const full: [number, number][] = [[0, 100]];
const ANY_NAME: NameSet = { neg: true, names: [] };
const bySource = (src: [number, number][]): Box => ({ src, dst: full, flow: full, iif: ANY_NAME, oif: ANY_NAME, port: ANY_NAME, state: 3 });
const address = fc.integer({ min: 0, max: 100 }).map((a) => bySource([[a, a]]));
const chainOfAddresses = fc
  .tuple(fc.array(address, { minLength: 66, maxLength: 75 }), fc.array(fc.oneof(address, fc.constant(bySource(full))), { minLength: 10, maxLength: 20 }))
  .map(([head, tail]) => [...head, ...tail]);

describe('CutMemo past the 64th neighbour', () => {
  it('gives the cut computed afresh for earlier rules beyond the first 64 neighbours', () => {
    assertProperty(
      fc.property(chainOfAddresses, fc.array(fc.integer({ min: 58, max: 66 }), { minLength: 1, maxLength: 6 }), (boxes, cuts) => {
        const rules = boxes.map((_, k) => ({ index: k }) as unknown as IrRule);
        const memo = new CutMemo(rules, boxes);
        // Lists longer than 64 that differ only around the 64th neighbour, one memo for all:
        // a key that ignored which rules are in the first 64 would hand one list's cut to another.
        const nb = Int32Array.from(boxes.map((_, k) => k));
        const lists = [nb, ...cuts.map((c) => nb.filter((_, t) => t !== c))];
        for (const list of lists) for (const j of list) assert.deepEqual(memo.cut(list, j), new CutMemo(rules, boxes).cut(list, j), `j ${j} of ${list.length}`);
      }),
      { numRuns: 80 },
      804,
    );
  });
});

describe('cornerOutside', () => {
  it('says "uncovered" only where covered does', () => {
    let fired = 0;
    assertProperty(
      fc.property(box(6), fc.array(box(6), { maxLength: 8 }), (q, cands) => {
        const among = cands.map((_, k) => k);
        if (!cornerOutside(q, cands, among)) return;
        fired++;
        assert.equal(covered(q, cands, { left: 20_000 }), 'uncovered');
      }),
      { numRuns: 400 },
      804,
    );
    assert.ok(fired > 50, `the corner test fired ${fired} times`);
  });
});

/** Whether two range sets share a point, range pair by range pair. */
const meetsByPairs = (a: readonly [number, number][], b: readonly [number, number][]): boolean => a.some(([lo, hi]) => b.some(([l, h]) => lo <= h && l <= hi));

describe('rsIntersects', () => {
  it('is true exactly when some range of one meets some range of the other, few against many (binary search) or not', () => {
    const rangeSet = (max: number, least: number, most: number): fc.Arbitrary<[number, number][]> =>
      fc.uniqueArray(fc.integer({ min: 0, max }), { minLength: 2 * least, maxLength: 2 * most }).map((xs) => {
        const s = [...xs].sort((x, y) => x - y);
        const out: [number, number][] = [];
        // Pairs of sorted distinct points, a gap between one range and the next.
        for (let k = 0; k + 1 < s.length; k += 2) if (out.length === 0 || s[k]! > out[out.length - 1]![1] + 1) out.push([s[k]!, s[k + 1]!]);
        return out;
      });
    assertProperty(
      fc.property(rangeSet(300, 0, 2), rangeSet(300, 10, 40), fc.boolean(), (few, many, swap) => {
        const [a, b] = swap ? [many, few] : [few, many];
        assert.equal(rsIntersects(a, b), meetsByPairs(a, b));
        assert.equal(rsIntersects(many, many), many.length > 0);
        for (const r of few) assert.equal(meetsRange(many, r[0], r[1]), meetsByPairs(many, [r]));
      }),
      { numRuns: 3000 },
      805,
    );
  });
});

describe('spanGroups', () => {
  it('covers every range with at most `count` hulls in order, split at the widest gaps', () => {
    const sets = fc.uniqueArray(fc.integer({ min: 0, max: 500 }), { minLength: 1, maxLength: 40 }).map((xs) => {
      const out: [number, number][] = [];
      for (const x of [...xs].sort((a, b) => a - b)) if (out.length === 0 || x > out[out.length - 1]![1] + 1) out.push([x, x + (x % 3)]);
      return out.filter((r, k) => k === 0 || r[0] > out[k - 1]![1] + 1);
    });
    assertProperty(
      fc.property(sets, fc.integer({ min: 1, max: 6 }), (rs, count) => {
        const groups = spanGroups(rs, count);
        assert.equal(groups.length, Math.min(count, rs.length));
        for (let k = 1; k < groups.length; k++) assert.ok(groups[k]![0] > groups[k - 1]![1]);
        // Each range inside one group, and each group's ends are ranges' ends.
        for (const [lo, hi] of rs) assert.equal(groups.filter(([a, b]) => a <= lo && hi <= b).length, 1);
        for (const [a, b] of groups) assert.ok(rs.some(([lo]) => lo === a) && rs.some(([, hi]) => hi === b));
        // The gaps left out are the widest: none kept inside a group is wider than one left out.
        const inside = rs
          .slice(1)
          .filter((r, k) => groups.some(([a, b]) => a <= rs[k]![1] && r[0] <= b))
          .map((r) => r[0] - rs[rs.indexOf(r) - 1]![1]);
        const between = groups.slice(1).map((g, k) => g[0] - groups[k]![1]);
        for (const w of inside) for (const x of between) assert.ok(w <= x, `gap ${w} kept inside, ${x} split`);
      }),
      { numRuns: 1000 },
      806,
    );
  });
});
