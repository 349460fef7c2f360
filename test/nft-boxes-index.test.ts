/**
 * The nftables renderer's disjoint-box cutter finds the boxes a new one meets through an index on
 * the source interval (blocks of every power-of-two size). Its output must be exactly what cutting
 * against every earlier piece in order gives (the plain quadratic cutter kept here as the
 * reference): the same pieces, byte for byte in the rendered sets. A wrong level, block number or
 * order of the found boxes gives other pieces (or overlapping ones) on these inputs.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DisjointBoxes, ruleBoxes, ruleBoxesDisjoint, type Box, type Iv } from '../src/render/nftables/boxes.js';
import { normalize } from '../src/util/rangeset.js';
import { assertProperty } from './support/seed.js';

const ADDR_MAX = 0xffffffff;

function meets(a: Iv, b: Iv): boolean {
  return a[0] <= b[1] && b[0] <= a[1];
}

function boxMeets(a: Box, b: Box): boolean {
  if ((a.port === undefined) !== (b.port === undefined)) return false;
  return meets(a.src, b.src) && meets(a.dst, b.dst) && meets(a.proto, b.proto) && (a.port === undefined || meets(a.port, b.port!));
}

/** a minus b, dimension by dimension in the renderer's order (src, dst, proto, port). */
function subtract(a: Box, b: Box): Box[] {
  const out: Box[] = [];
  let rest: Box = a;
  for (const d of a.port === undefined ? (['src', 'dst', 'proto'] as const) : (['src', 'dst', 'proto', 'port'] as const)) {
    const x = rest[d]!;
    const y = b[d]!;
    if (x[0] < y[0]) out.push({ ...rest, [d]: [x[0], y[0] - 1] });
    if (x[1] > y[1]) out.push({ ...rest, [d]: [y[1] + 1, x[1]] });
    rest = { ...rest, [d]: [Math.max(x[0], y[0]), Math.min(x[1], y[1])] };
  }
  return out;
}

/** The reference: every new box cut against every piece kept so far, in the order they were kept. */
function quadratic(input: readonly Box[]): Box[] {
  const kept: Box[] = [];
  for (const box of input) {
    let pieces = [box];
    for (const e of kept) pieces = pieces.flatMap((p) => (boxMeets(p, e) ? subtract(p, e) : [p]));
    kept.push(...pieces);
  }
  return kept;
}

const key = (b: Box): string => JSON.stringify([b.src, b.dst, b.proto, b.port ?? null]);

/**
 * Addresses over the whole 32-bit space, drawn so that ranges cross block boundaries of every
 * size: single addresses, aligned blocks (/0 to /32), blocks shifted by one, and any range.
 */
const addr = fc.oneof(
  fc.integer({ min: 0, max: ADDR_MAX }).map((a): Iv => [a, a]),
  fc.tuple(fc.integer({ min: 0, max: 32 }), fc.integer({ min: 0, max: ADDR_MAX })).map(([len, a]): Iv => {
    const size = 2 ** (32 - len);
    const lo = Math.floor(a / size) * size;
    return [lo, lo + size - 1];
  }),
  fc.tuple(fc.integer({ min: 1, max: 31 }), fc.integer({ min: 0, max: ADDR_MAX - 1 })).map(([len, a]): Iv => {
    const size = 2 ** (32 - len);
    const lo = Math.min(Math.floor(a / size) * size + 1, ADDR_MAX - size + 1);
    return [lo, lo + size - 1];
  }),
  fc.tuple(fc.integer({ min: 0, max: ADDR_MAX }), fc.integer({ min: 0, max: ADDR_MAX })).map(([a, b]): Iv => (a <= b ? [a, b] : [b, a])),
  fc.constant<Iv>([0, ADDR_MAX]),
);
/** Few source values, so boxes meet often: picked from a small pool per run. */
const boxesOf = (pool: readonly Iv[]): fc.Arbitrary<Box[]> =>
  fc.array(
    fc.record({
      src: fc.constantFrom(...pool),
      dst: fc.constantFrom(...pool),
      proto: fc.constantFrom<Iv>([6, 6], [17, 17], [1, 1], [0, 255], [2, 5]),
      port: fc.option(
        fc.tuple(fc.integer({ min: 0, max: 70 }), fc.integer({ min: 0, max: 70 })).map(([a, b]): Iv => (a <= b ? [a, b] : [b, a])),
        { nil: undefined },
      ),
    }),
    { minLength: 1, maxLength: 40 },
  );

describe('DisjointBoxes through its source index = the plain quadratic cutter', () => {
  it('gives the same pieces on random rule sets over the whole address space', () => {
    assertProperty(
      fc.property(
        fc.array(addr, { minLength: 1, maxLength: 8 }).chain((pool) => boxesOf(pool)),
        (input) => {
          const db = new DisjointBoxes();
          for (const b of input) db.add(b);
          const { ports, protos } = db.parts();
          const got = [...ports, ...protos].map(key).sort();
          const want = quadratic(input).map(key).sort();
          assert.deepEqual(got, want);
          assert.equal(db.size, want.length);
        },
      ),
      { numRuns: 400 },
      301,
    );
  });

  it('keeps the order of the boxes met: an earlier piece cuts first (the pieces differ otherwise)', () => {
    // Two earlier pieces filed on different levels (a /0 and a single address); cutting the new
    // box with the single address first would split it differently.
    const any: Iv = [0, ADDR_MAX];
    const input: Box[] = [
      { src: [10, 10], dst: [0, 100], proto: [6, 6], port: [0, 10] },
      { src: any, dst: [50, 60], proto: [6, 6], port: [5, 20] },
      { src: [5, 20], dst: [40, 70], proto: [6, 6], port: [0, 30] },
    ];
    const db = new DisjointBoxes();
    for (const b of input) db.add(b);
    const { ports } = db.parts();
    assert.deepEqual(ports.map(key).sort(), quadratic(input).map(key).sort());
    assert.equal(ports.length, quadratic(input).length);
  });
});

describe("DisjointBoxes.addDisjoint (a rule's own boxes at once) = adding them one by one", () => {
  /** A rule: normalised source, destination and port sets over a small pool, so rules meet often. */
  const ruleOf = (pool: readonly Iv[]) =>
    fc.record({
      src: fc.option(fc.array(fc.constantFrom(...pool), { minLength: 1, maxLength: 3 }), { nil: undefined }),
      dst: fc.option(fc.array(fc.constantFrom(...pool), { minLength: 1, maxLength: 3 }), { nil: undefined }),
      tcp: fc.array(fc.tuple(fc.integer({ min: 0, max: 70 }), fc.integer({ min: 0, max: 70 })), { maxLength: 3 }),
      udp: fc.array(fc.tuple(fc.integer({ min: 0, max: 70 }), fc.integer({ min: 0, max: 70 })), { maxLength: 2 }),
      icmp: fc.boolean(),
      other: fc.boolean(),
    });
  const ports = (ps: readonly [number, number][]) => normalize(ps.map(([a, b]): Iv => (a <= b ? [a, b] : [b, a])));

  it('gives the same pieces, rule after rule, on random normalised rules', () => {
    assertProperty(
      fc.property(
        fc.array(addr, { minLength: 1, maxLength: 6 }).chain((pool) => fc.array(ruleOf(pool), { minLength: 1, maxLength: 8 })),
        (rules) => {
          const byOne = new DisjointBoxes();
          const atOnce = new DisjointBoxes();
          const all: Box[] = [];
          for (const r of rules) {
            const src = r.src && normalize(r.src);
            const dst = r.dst && normalize(r.dst);
            const flows = { tcp: ports(r.tcp), udp: ports(r.udp), icmp: r.icmp, other: r.other };
            assert.equal(ruleBoxesDisjoint(src, dst, flows), true);
            const bs = ruleBoxes(src, dst, flows);
            all.push(...bs);
            for (const b of bs) byOne.add(b);
            atOnce.addDisjoint(bs);
          }
          const a = atOnce.parts();
          const b = byOne.parts();
          assert.deepEqual([...a.ports, ...a.protos].map(key), [...b.ports, ...b.protos].map(key));
          assert.deepEqual([...a.ports, ...a.protos].map(key).sort(), quadratic(all).map(key).sort());
        },
      ),
      { numRuns: 300 },
      302,
    );
  });

  it('is not claimed for sets that are not normalised (overlapping or unsorted ranges)', () => {
    const flows = { tcp: [[0, 10] as Iv], udp: [], icmp: false, other: false };
    assert.equal(
      ruleBoxesDisjoint(
        [
          [5, 9],
          [8, 20],
        ],
        undefined,
        flows,
      ),
      false,
    );
    assert.equal(
      ruleBoxesDisjoint(
        undefined,
        [
          [30, 40],
          [1, 2],
        ],
        flows,
      ),
      false,
    );
    assert.equal(
      ruleBoxesDisjoint(undefined, undefined, {
        ...flows,
        tcp: [
          [0, 10],
          [10, 12],
        ],
      }),
      false,
    );
    assert.equal(
      ruleBoxesDisjoint(
        [
          [1, 2],
          [4, 5],
        ],
        [[9, 9]],
        flows,
      ),
      true,
    );
  });
});
