/**
 * The fast paths lint's speed rests on, each against a plain reference on random inputs: range-set
 * intersection when one side is much shorter (binary search instead of a merge), the interval
 * index's filtered query (lint's source × destination neighbour search), and the merge of two
 * co-finite interface-name sets in a box intersection.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { IntervalIndex, type IntervalItem } from '../src/util/interval-index.js';
import { IntBuffer } from '../src/util/int-buffer.js';
import * as R from '../src/util/rangeset.js';
import type { RangeSet, Span } from '../src/util/rangeset.js';
import { boxIntersect, type Box, type NameSet } from '../src/verify/box.js';
import { assertProperty } from './support/seed.js';

/** The two-pointer merge `intersect` used for every input before its short-side path. */
function mergeIntersect(a: RangeSet, b: RangeSet): RangeSet {
  const out: [number, number][] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const lo = Math.max(a[i]![0], b[j]![0]);
    const hi = Math.min(a[i]![1], b[j]![1]);
    if (lo <= hi) out.push([lo, hi]);
    if (a[i]![1] < b[j]![1]) i++;
    else j++;
  }
  return out;
}

/** A normalised set of `min` to `max` spans, each at most `width` wide, with gaps of 1 to `gap` between them. */
const rangeSet = (min: number, max: number, width: number, gap: number): fc.Arbitrary<RangeSet> =>
  fc.array(fc.tuple(fc.integer({ min: 1, max: gap }), fc.integer({ min: 0, max: width })), { minLength: min, maxLength: max }).map((xs) => {
    const out: Span[] = [];
    let at = -1;
    for (const [g, w] of xs) {
      out.push([at + 1 + g, at + 1 + g + w]);
      at += 1 + g + w;
    }
    return out;
  });

describe('range-set intersection', () => {
  it('gives the merge result whatever the lengths (one side up to 40 times shorter)', () => {
    assertProperty(
      fc.property(rangeSet(0, 4, 12, 3), rangeSet(40, 120, 8, 8), (short, long) => {
        assert.deepEqual(R.intersect(short, long), mergeIntersect(short, long));
        assert.deepEqual(R.intersect(long, short), mergeIntersect(long, short));
      }),
      { numRuns: 500 },
      101,
    );
  });

  it('handles a span of the short side that meets several spans of the long one, and the edges', () => {
    const long: RangeSet = Array.from({ length: 40 }, (_, k): Span => [10 * k, 10 * k + 4]);
    const cases: RangeSet[] = [
      [[0, 399]],
      [[3, 12]],
      [[4, 10]],
      [[5, 9]],
      [[395, 1000]],
      [[0, 0]],
      [[399, 399]],
      [[-5, -1]],
      [
        [12, 33],
        [37, 52],
      ],
    ];
    for (const short of cases) assert.deepEqual(R.intersect(short, long), mergeIntersect(short, long), JSON.stringify(short));
    assert.deepEqual(R.intersect([], long), []);
    assert.deepEqual(R.intersect(long, []), []);
  });
});

describe('interval index: filtered query', () => {
  const item = fc.record({
    lo: fc.integer({ min: 0, max: 60 }),
    w: fc.integer({ min: 0, max: 40 }),
    lo2: fc.integer({ min: 0, max: 60 }),
    w2: fc.integer({ min: 0, max: 40 }),
    id: fc.integer({ min: 0, max: 30 }),
    two: fc.boolean(),
  });
  it('finds exactly the ids of items meeting both query intervals (brute force)', () => {
    assertProperty(
      fc.property(fc.array(item, { maxLength: 80 }), fc.array(item, { minLength: 1, maxLength: 10 }), fc.boolean(), (raw, queries, anyTwo) => {
        const items: IntervalItem[] = raw.map((r) =>
          anyTwo && r.two ? { lo: r.lo, hi: r.lo + r.w, id: r.id, lo2: r.lo2, hi2: r.lo2 + r.w2 } : { lo: r.lo, hi: r.lo + r.w, id: r.id },
        );
        const index = new IntervalIndex(items);
        for (const q of queries) {
          const [lo, hi, lo2, hi2] = [q.lo, q.lo + q.w, q.lo2, q.lo2 + q.w2];
          const want = new Set(
            items.filter((it) => it.lo <= hi && it.hi >= lo && (it.lo2 ?? -Infinity) <= hi2 && (it.hi2 ?? Infinity) >= lo2).map((it) => it.id),
          );
          const got = new IntBuffer(1);
          index.queryWithin(lo, hi, lo2, hi2, got);
          assert.deepEqual(new Set(got.view()), want);
          // The unfiltered query is unchanged by second intervals.
          const all: number[] = [];
          index.query(lo, hi, all);
          assert.deepEqual(new Set(all), new Set(items.filter((it) => it.lo <= hi && it.hi >= lo).map((it) => it.id)));
        }
      }),
      { numRuns: 300 },
      102,
    );
  });
});

describe('box intersection of interface-name sets', () => {
  const names = fc.uniqueArray(fc.constantFrom('br0', 'br1', 'eth0', 'tap100i0', 'tap101i0', 'vmbr0', 'wg0', 'Z', 'a'), { maxLength: 6 });
  const nameSet = fc.tuple(fc.boolean(), names).map(([neg, list]): NameSet => ({ neg, names: [...list].sort() }));
  const box = (iif: NameSet, oif: NameSet, port: NameSet): Box => ({ src: [[0, 9]], dst: [[0, 9]], flow: [[0, 9]], iif, oif, port, state: 3 });
  const has = (s: NameSet, x: string): boolean => s.neg !== s.names.includes(x);
  it('is the set intersection, names sorted and unique (co-finite sets merged)', () => {
    assertProperty(
      fc.property(nameSet, nameSet, nameSet, nameSet, (a, b, c, d) => {
        const x = boxIntersect(box(a, c, a), box(b, d, b));
        for (const [got, p, q] of [
          [x.iif, a, b],
          [x.oif, c, d],
          [x.port, a, b],
        ] as const) {
          assert.deepEqual([...got.names], [...new Set(got.names)].sort(), 'sorted, unique');
          for (const n of ['br0', 'br1', 'eth0', 'tap100i0', 'tap101i0', 'vmbr0', 'wg0', 'Z', 'a', 'other'])
            assert.equal(has(got, n), has(p, n) && has(q, n), n);
        }
      }),
      { numRuns: 400 },
      103,
    );
  });
});

describe('interval index: answers in scan order', () => {
  /**
   * What a scan reports, restated plainly: bucket by bucket (the bit length of the width, narrow
   * first), entries by start, then longest first, then in given order; with second intervals, an
   * id is reported once per run of it. The index's build sorts them so; a wrong order shows here
   * even where the set of answers stays right.
   */
  function scan(items: readonly IntervalItem[], two: boolean, lo: number, hi: number, lo2: number, hi2: number): number[] {
    const keyed = items.map((it, pos) => ({ ...it, pos, level: 32 - Math.clz32(it.hi - it.lo) }));
    keyed.sort((a, b) => a.level - b.level || a.lo - b.lo || b.hi - a.hi || a.pos - b.pos);
    const out: number[] = [];
    let last = -1;
    let level = -1;
    for (const it of keyed) {
      if (it.level !== level) [level, last] = [it.level, -1];
      if (it.lo > hi || it.hi < lo) continue;
      if (!two) {
        out.push(it.id);
        continue;
      }
      if ((it.lo2 ?? -Infinity) <= hi2 && (it.hi2 ?? Infinity) >= lo2 && it.id !== last) out.push((last = it.id));
    }
    return out;
  }
  // Starts that pack into a sort key (0 or more) and, in some runs, ones that do not (negative):
  // the two ways the index sorts a bucket.
  const start = (negative: boolean): fc.Arbitrary<number> => fc.integer({ min: negative ? -30 : 0, max: 40 });
  const item = (negative: boolean) =>
    fc.record({
      lo: start(negative),
      w: fc.constantFrom(0, 0, 1, 2, 3, 7, 8, 20),
      lo2: fc.integer({ min: 0, max: 20 }),
      w2: fc.integer({ min: 0, max: 10 }),
      id: fc.integer({ min: 0, max: 6 }),
    });
  it('reports what a plain scan reports, in its order', () => {
    assertProperty(
      fc.property(
        fc.boolean().chain((neg) => fc.tuple(fc.array(item(neg), { maxLength: 60 }), fc.array(item(neg), { minLength: 1, maxLength: 8 }))),
        fc.boolean(),
        ([raw, queries], two) => {
          const items: IntervalItem[] = raw.map((r) =>
            two ? { lo: r.lo, hi: r.lo + r.w, id: r.id, lo2: r.lo2, hi2: r.lo2 + r.w2 } : { lo: r.lo, hi: r.lo + r.w, id: r.id },
          );
          const index = new IntervalIndex(items);
          for (const q of queries) {
            const [lo, hi, lo2, hi2] = [q.lo, q.lo + q.w, q.lo2, q.lo2 + q.w2];
            const got = new IntBuffer(1);
            index.queryWithin(lo, hi, lo2, hi2, got);
            assert.deepEqual([...got.view()], scan(items, two, lo, hi, lo2, hi2));
          }
        },
      ),
      { numRuns: 400 },
      104,
    );
  });
});
