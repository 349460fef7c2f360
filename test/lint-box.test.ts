/**
 * The box algebra lint's coverage search rests on, against brute force over a small universe
 * (addresses and flows 0..4, interface names a, b and one standing for every other name, both
 * connection states): every set test, intersection and subtraction, `covered`, the corner test run
 * before it, and `smallCover` against a plain restatement of its greedy-then-prune rule. Written
 * when these functions lost their callbacks and for-of loops (they allocated on every call).
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import * as R from '../src/util/rangeset.js';
import type { RangeSet, Span } from '../src/util/rangeset.js';
import {
  boxContains,
  boxIntersect,
  boxIntersects,
  boxIsEmpty,
  boxMeetsBeyondAddresses,
  boxSubtract,
  boxVolume,
  cornerOutside,
  covered,
  nameHas,
  rsCovers,
  rsIntersects,
  smallCover,
  type Box,
  type Budget,
  type NameSet,
} from '../src/verify/box.js';
import { assertProperty } from './support/seed.js';

const MAX = 4;
const VALUES = Array.from({ length: MAX + 1 }, (_, k) => k);
const LISTED = ['a', 'b'];
/** 'z' is in no listed set: it stands for every name a co-finite set takes in. */
const UNIVERSE = [...LISTED, 'z'];

const rangeSet: fc.Arbitrary<RangeSet> = fc.subarray(VALUES).map((xs) => R.normalize(xs.map((x): Span => [x, x])));
const nonEmptyRangeSet = fc.subarray(VALUES, { minLength: 1 }).map((xs) => R.normalize(xs.map((x): Span => [x, x])));
const nameSet: fc.Arbitrary<NameSet> = fc.tuple(fc.boolean(), fc.subarray(LISTED)).map(([neg, names]) => ({ neg, names: [...names].sort() }));
const box = (rs: fc.Arbitrary<RangeSet>): fc.Arbitrary<Box> =>
  fc.record({ src: rs, dst: rs, flow: rs, iif: nameSet, oif: nameSet, port: nameSet, state: fc.constantFrom(0, 1, 2, 3) });
/** Mostly non-empty boxes, wide enough that covers happen. */
const wideBox = box(nonEmptyRangeSet).map((b) => ({ ...b, state: b.state === 0 ? 3 : b.state }));

const rsHas = (rs: RangeSet, x: number): boolean => rs.some(([lo, hi]) => lo <= x && x <= hi);
const rsPoints = (rs: RangeSet): number[] => VALUES.filter((x) => rsHas(rs, x));
const nsPoints = (s: NameSet): string[] => UNIVERSE.filter((x) => nameHas(s, x));
const statePoints = (s: number): number[] => [1, 2].filter((x) => (s & x) !== 0);

interface Point {
  src: number;
  dst: number;
  flow: number;
  iif: string;
  oif: string;
  port: string;
  state: number;
}

function points(b: Box): Point[] {
  const out: Point[] = [];
  for (const src of rsPoints(b.src))
    for (const dst of rsPoints(b.dst))
      for (const flow of rsPoints(b.flow))
        for (const iif of nsPoints(b.iif))
          for (const oif of nsPoints(b.oif))
            for (const port of nsPoints(b.port)) for (const state of statePoints(b.state)) out.push({ src, dst, flow, iif, oif, port, state });
  return out;
}

function inBox(b: Box, p: Point): boolean {
  return (
    rsHas(b.src, p.src) &&
    rsHas(b.dst, p.dst) &&
    rsHas(b.flow, p.flow) &&
    nameHas(b.iif, p.iif) &&
    nameHas(b.oif, p.oif) &&
    nameHas(b.port, p.port) &&
    (b.state & p.state) !== 0
  );
}

describe('box set tests against brute force', () => {
  it('range and name sets: intersects, covers, intersection', () => {
    assertProperty(
      fc.property(rangeSet, rangeSet, nameSet, nameSet, (a, b, m, n) => {
        const pa = rsPoints(a);
        const pb = rsPoints(b);
        assert.equal(
          rsIntersects(a, b),
          pa.some((x) => pb.includes(x)),
        );
        assert.equal(
          rsCovers(a, b),
          pb.every((x) => pa.includes(x)),
        );
        const full: Box = { src: [[0, MAX]], dst: [[0, MAX]], flow: [[0, MAX]], iif: m, oif: m, port: m, state: 3 };
        const other: Box = { ...full, iif: n, oif: n, port: n };
        const meet = nsPoints(m).some((x) => nameHas(n, x));
        assert.equal(boxIntersects(full, other), meet);
        assert.equal(boxMeetsBeyondAddresses(full, other), meet);
        assert.equal(
          boxContains(full, other),
          nsPoints(n).every((x) => nameHas(m, x)),
        );
        const x = boxIntersect(full, other);
        for (const name of UNIVERSE) assert.equal(nameHas(x.iif, name), nameHas(m, name) && nameHas(n, name), name);
        // Sorted and free of duplicates, as every name set must be.
        assert.ok(x.iif.names.every((v, k) => k === 0 || x.iif.names[k - 1]! < v));
      }),
      { numRuns: 600 },
      901,
    );
  });

  it('boxes: intersects, contains, subtract (disjoint pieces, exactly a minus b)', () => {
    assertProperty(
      fc.property(box(rangeSet), box(rangeSet), (a, b) => {
        const pa = points(a);
        const pb = points(b);
        assert.equal(boxIsEmpty(a), pa.length === 0);
        assert.equal(
          boxIntersects(a, b),
          pa.some((p) => inBox(b, p)),
        );
        if (pb.length > 0)
          assert.equal(
            boxContains(a, b),
            pb.every((p) => inBox(a, p)),
          );
        const pieces = boxSubtract(a, b);
        for (const p of pa) {
          const holders = pieces.filter((x) => inBox(x, p)).length;
          assert.equal(holders, inBox(b, p) ? 0 : 1);
        }
        for (const x of pieces) for (const p of points(x)) assert.ok(inBox(a, p) && !inBox(b, p));
      }),
      { numRuns: 600 },
      902,
    );
  });
});

/** `smallCover` as its comment states it, with sets and callbacks: greedy by volume taken, then pruned. */
function plainSmallCover(q: Box, cands: readonly Box[], budget: Budget, prefer: readonly boolean[]): number[] | undefined {
  let rem: Box[] = [q];
  const chosen: number[] = [];
  const taken = new Set<number>();
  while (rem.length > 0) {
    budget.left -= 1 + (cands.length * rem.length) / 16;
    if (budget.left < 0 || rem.length > 4096) return undefined;
    let best = -1;
    let bestVol = 0;
    let bestPref = false;
    cands.forEach((c, i) => {
      if (taken.has(i)) return;
      const vol = rem.filter((r) => boxIntersects(r, c)).reduce((s, r) => s + boxVolume(boxIntersect(r, c)), 0);
      if (vol === 0) return;
      const pref = prefer[i] ?? true;
      if (vol > bestVol || (vol === bestVol && pref && !bestPref)) [best, bestVol, bestPref] = [i, vol, pref];
    });
    if (best < 0) return undefined;
    chosen.push(best);
    taken.add(best);
    const c = cands[best]!;
    rem = rem.flatMap((r) => boxSubtract(r, c));
  }
  for (let k = 0; k < chosen.length && chosen.length > 1;) {
    const without = chosen.filter((_, i) => i !== k);
    if (
      covered(
        q,
        without.map((i) => cands[i]!),
        budget,
      ) === 'covered'
    )
      chosen.splice(k, 1);
    else k++;
  }
  return chosen.sort((x, y) => x - y);
}

/** The two corners `cornerOutside` tests: every dimension at its lowest, or at its highest. */
function corners(q: Box): Point[] {
  if (points(q).length === 0) return [];
  const pick = (s: NameSet, last: boolean): string => (s.neg ? 'z' : last ? s.names[s.names.length - 1]! : s.names[0]!);
  return [false, true].map((last) => ({
    src: last ? q.src[q.src.length - 1]![1] : q.src[0]![0],
    dst: last ? q.dst[q.dst.length - 1]![1] : q.dst[0]![0],
    flow: last ? q.flow[q.flow.length - 1]![1] : q.flow[0]![0],
    iif: pick(q.iif, last),
    oif: pick(q.oif, last),
    port: pick(q.port, last),
    state: last ? (q.state & 2 ? 2 : 1) : q.state & 1 ? 1 : 2,
  }));
}

describe('coverage against brute force', () => {
  it('covered, cornerOutside and smallCover', () => {
    let coveredSeen = 0;
    let cornerSeen = 0;
    assertProperty(
      // Candidates drawn from a few boxes, so equal volumes (and the tie-breaks) come up.
      fc.property(
        wideBox,
        fc.array(wideBox, { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.array(fc.boolean(), { maxLength: 10 }),
        fc.boolean(),
        (own, pool, picks, prefer, fromPool) => {
          const cands = picks.map((k) => pool[k % pool.length]!);
          // Often one of the candidates itself: covered by each of its copies, a tie.
          const q = fromPool ? pool[0]! : own;
          const pq = points(q);
          const truth = pq.every((p) => cands.some((c) => inBox(c, p)));
          const res = covered(q, cands, { left: 20_000 });
          assert.equal(res, truth ? 'covered' : 'uncovered');
          if (truth) coveredSeen++;
          const among = cands.map((_, k) => k);
          const outside = corners(q).some((p) => !cands.some((c) => inBox(c, p)));
          if (outside) cornerSeen++;
          assert.equal(cornerOutside(q, cands, among), outside);
          // Only some of the candidates: the corner test must read `among`, not all of `boxes`.
          const odd = among.filter((k) => k % 2 === 1);
          assert.equal(
            cornerOutside(q, cands, odd),
            corners(q).some((p) => !odd.some((k) => inBox(cands[k]!, p))),
          );
          const pick = smallCover(q, cands, { left: 20_000 }, prefer);
          assert.deepEqual(pick, plainSmallCover(q, cands, { left: 20_000 }, prefer));
          if (pick) assert.ok(pq.every((p) => pick.some((k) => inBox(cands[k]!, p))));
        },
      ),
      { numRuns: 500 },
      903,
    );
    assert.ok(coveredSeen > 40, `covered ${coveredSeen} times`);
    assert.ok(cornerSeen > 40, `a corner outside ${cornerSeen} times`);
  });

  it('covered and smallCover on q cut into pieces (the deep searches), with a piece left out or not', () => {
    let deep = 0;
    const cut = fc.record({
      piece: fc.nat(),
      dim: fc.constantFrom<'src' | 'dst' | 'flow'>('src', 'dst', 'flow'),
      at: fc.integer({ min: 0, max: MAX }),
    });
    assertProperty(
      fc.property(wideBox, fc.array(cut, { maxLength: 8 }), fc.nat(), fc.boolean(), fc.array(wideBox, { maxLength: 2 }), (q, cuts, drop, leaveOut, noise) => {
        fc.pre(!boxIsEmpty(q));
        let pieces: Box[] = [q];
        for (const c of cuts) {
          const k = c.piece % pieces.length;
          const p = pieces[k]!;
          const low = R.intersect(p[c.dim], [[0, c.at]]);
          const high = R.intersect(p[c.dim], [[c.at + 1, MAX]]);
          if (low.length === 0 || high.length === 0) continue;
          pieces.splice(k, 1, { ...p, [c.dim]: low }, { ...p, [c.dim]: high });
        }
        if (leaveOut && pieces.length > 1) pieces = pieces.filter((_, k) => k !== drop % pieces.length);
        // Shuffled by `drop`, with unrelated boxes among them.
        const cands = [...pieces.slice(drop % pieces.length), ...noise, ...pieces.slice(0, drop % pieces.length)];
        const pq = points(q);
        const truth = pq.every((p) => cands.some((c) => inBox(c, p)));
        if (pieces.length > 2) deep++;
        assert.equal(covered(q, cands, { left: 20_000 }), truth ? 'covered' : 'uncovered');
        const pick = smallCover(q, cands, { left: 20_000 });
        assert.deepEqual(pick, plainSmallCover(q, cands, { left: 20_000 }, []));
        assert.equal(pick !== undefined, truth);
      }),
      { numRuns: 400 },
      904,
    );
    // About 108 of the 400 runs cut q into more than two pieces (94-117 over 16 seeds): the bar
    // says the deep searches are exercised, far enough below that no seed CI draws trips it.
    assert.ok(deep > 60, `${deep} runs with more than two pieces`);
  });
});

describe('box operations on shared sets (the identity and one-range shortcuts)', () => {
  // Boxes drawn from a few set objects, as boxOf shares them between rules: a set met against
  // itself, a one-range set inside another, and any-name sets come up in most pairs.
  const ranges: RangeSet[] = [
    [[0, MAX]],
    [[1, 3]],
    [[2, 2]],
    [[0, 1]],
    [[3, 4]],
    [
      [0, 0],
      [2, 4],
    ],
    [],
  ];
  const names: NameSet[] = [
    { neg: true, names: [] },
    { neg: false, names: ['a'] },
    { neg: false, names: ['a', 'b'] },
    { neg: true, names: ['b'] },
    { neg: false, names: [] },
  ];
  const shared: fc.Arbitrary<Box> = fc.record({
    src: fc.constantFrom(...ranges),
    dst: fc.constantFrom(...ranges),
    flow: fc.constantFrom(...ranges),
    iif: fc.constantFrom(...names),
    oif: fc.constantFrom(...names),
    port: fc.constantFrom(...names),
    state: fc.constantFrom(1, 2, 3),
  });
  it('intersection, meeting, subtraction and corners as brute force finds them', () => {
    assertProperty(
      fc.property(shared, shared, fc.array(shared, { maxLength: 4 }), (a, b, others) => {
        const pa = points(a);
        assert.equal(
          boxIntersects(a, b),
          pa.some((p) => inBox(b, p)),
        );
        const x = boxIntersect(a, b);
        const px = points(x);
        assert.deepEqual(
          px,
          pa.filter((p) => inBox(b, p)),
        );
        // Normal sets: sorted, disjoint, not adjacent; names sorted and unique.
        for (const rs of [x.src, x.dst, x.flow]) assert.deepEqual(rs, R.normalize(rs));
        for (const s of [x.iif, x.oif, x.port]) assert.ok(s.names.every((v, k) => k === 0 || s.names[k - 1]! < v));
        const pieces = boxSubtract(a, b);
        for (const p of pa) assert.equal(pieces.filter((y) => inBox(y, p)).length, inBox(b, p) ? 0 : 1);
        const boxes = [b, ...others];
        const among = boxes.map((_, k) => k);
        const outside = corners(a).some((c) => !boxes.some((y) => inBox(y, c)));
        assert.equal(cornerOutside(a, boxes, among), outside);
        if (outside) assert.equal(covered(a, boxes, { left: 1e6 }), 'uncovered');
      }),
      { numRuns: 1500 },
      905,
    );
  });
});
