/** Integer range sets (src/util/rangeset.ts): normalisation and set algebra, table-driven. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import * as R from '../src/util/rangeset.js';
import type { RangeSet, Span } from '../src/util/rangeset.js';

const U32: Span = [0, 0xffffffff];
const PORTS: Span = [0, 65535];

describe('normalize', () => {
  const table: [string, Span[], RangeSet][] = [
    ['empty', [], []],
    ['one span', [[1, 5]], [[1, 5]]],
    [
      'sorts',
      [
        [10, 12],
        [1, 3],
      ],
      [
        [1, 3],
        [10, 12],
      ],
    ],
    [
      'merges overlapping',
      [
        [1, 5],
        [3, 8],
      ],
      [[1, 8]],
    ],
    [
      'merges adjacent',
      [
        [1, 5],
        [6, 8],
      ],
      [[1, 8]],
    ],
    [
      'keeps a gap of one',
      [
        [1, 5],
        [7, 8],
      ],
      [
        [1, 5],
        [7, 8],
      ],
    ],
    [
      'merges contained',
      [
        [1, 10],
        [3, 4],
      ],
      [[1, 10]],
    ],
    [
      'drops inverted spans',
      [
        [5, 1],
        [7, 7],
      ],
      [[7, 7]],
    ],
    [
      'duplicates',
      [
        [2, 2],
        [2, 2],
      ],
      [[2, 2]],
    ],
    [
      'full 32-bit span',
      [
        [0, 0xffffffff],
        [5, 6],
      ],
      [[0, 0xffffffff]],
    ],
  ];
  for (const [name, input, want] of table) it(name, () => assert.deepEqual(R.normalize(input), want));
});

describe('set algebra', () => {
  const a: RangeSet = [
    [1, 5],
    [10, 20],
    [30, 30],
  ];
  const b: RangeSet = [
    [4, 12],
    [30, 40],
  ];

  const table: [string, () => RangeSet, RangeSet][] = [
    [
      'union',
      () => R.union(a, b),
      [
        [1, 20],
        [30, 40],
      ],
    ],
    ['union with empty', () => R.union(a, R.EMPTY), a],
    ['union adjacent', () => R.union([[1, 2]], [[3, 4]]), [[1, 4]]],
    [
      'intersect',
      () => R.intersect(a, b),
      [
        [4, 5],
        [10, 12],
        [30, 30],
      ],
    ],
    ['intersect disjoint', () => R.intersect([[1, 2]], [[3, 4]]), []],
    ['intersect with empty', () => R.intersect(a, R.EMPTY), []],
    [
      'subtract',
      () => R.subtract(a, b),
      [
        [1, 3],
        [13, 20],
      ],
    ],
    [
      'subtract the other way',
      () => R.subtract(b, a),
      [
        [6, 9],
        [31, 40],
      ],
    ],
    [
      'subtract a hole',
      () => R.subtract([[0, 10]], [[3, 4]]),
      [
        [0, 2],
        [5, 10],
      ],
    ],
    [
      'subtract the ends',
      () =>
        R.subtract(
          [[0, 10]],
          [
            [0, 0],
            [10, 10],
          ],
        ),
      [[1, 9]],
    ],
    ['subtract everything', () => R.subtract(a, [[0, 100]]), []],
    ['subtract nothing', () => R.subtract(a, R.EMPTY), a],
    ['subtract from empty', () => R.subtract(R.EMPTY, a), []],
    [
      'subtract many holes from one span',
      () =>
        R.subtract(
          [[0, 20]],
          [
            [2, 3],
            [5, 5],
            [19, 25],
          ],
        ),
      [
        [0, 1],
        [4, 4],
        [6, 18],
      ],
    ],
    ['complement of empty is the universe', () => R.complement(R.EMPTY, PORTS), [[0, 65535]]],
    ['complement of the universe is empty', () => R.complement([[0, 65535]], PORTS), []],
    [
      'complement of one port',
      () => R.complement([[22, 22]], PORTS),
      [
        [0, 21],
        [23, 65535],
      ],
    ],
    ['complement keeps 65535', () => R.complement([[0, 65534]], PORTS), [[65535, 65535]]],
    [
      'complement of an address',
      () => R.complement([[0x0a000001, 0x0a000001]], U32),
      [
        [0, 0x0a000000],
        [0x0a000002, 0xffffffff],
      ],
    ],
    ['complement of 0.0.0.0/0 is empty', () => R.complement([U32], U32), []],
    ['span', () => R.span(3, 7), [[3, 7]]],
    ['inverted span is empty', () => R.span(7, 3), []],
  ];
  for (const [name, f, want] of table) it(name, () => assert.deepEqual(f(), want));

  it('complement twice is the identity', () => {
    for (const s of [a, b, R.EMPTY, [[0, 0]] as RangeSet, [[65535, 65535]] as RangeSet, [[0, 65535]] as RangeSet]) {
      assert.deepEqual(R.complement(R.complement(s, PORTS), PORTS), s);
    }
  });

  it('a = (a ∩ b) ∪ (a − b), and the two parts are disjoint', () => {
    assert.deepEqual(R.union(R.intersect(a, b), R.subtract(a, b)), a);
    assert.deepEqual(R.intersect(R.intersect(a, b), R.subtract(a, b)), []);
  });
});

describe('queries', () => {
  const s: RangeSet = [
    [1, 5],
    [10, 20],
    [0xfffffffe, 0xffffffff],
  ];

  const contains: [number, boolean][] = [
    [0, false],
    [1, true],
    [5, true],
    [6, false],
    [9, false],
    [10, true],
    [15, true],
    [20, true],
    [21, false],
    [0xffffffff, true],
  ];
  for (const [x, want] of contains) it(`contains ${x}: ${want}`, () => assert.equal(R.contains(s, x), want));

  it('contains on the empty set', () => assert.equal(R.contains(R.EMPTY, 0), false));

  it('covers', () => {
    assert.ok(
      R.covers(s, [
        [2, 4],
        [12, 12],
      ]),
    );
    assert.ok(R.covers(s, R.EMPTY));
    assert.ok(!R.covers(s, [[4, 6]]));
    assert.ok(!R.covers(R.EMPTY, [[1, 1]]));
  });

  it('equal is structural', () => {
    assert.ok(
      R.equal(
        R.normalize([
          [1, 3],
          [4, 5],
        ]),
        [[1, 5]],
      ),
    );
    assert.ok(!R.equal([[1, 5]], [[1, 4]]));
    assert.ok(
      !R.equal(
        [[1, 5]],
        [
          [1, 5],
          [7, 7],
        ],
      ),
    );
    assert.ok(R.equal(R.EMPTY, []));
  });

  it('size counts members, up to the whole 32-bit space', () => {
    assert.equal(R.size(R.EMPTY), 0);
    assert.equal(
      R.size([
        [1, 5],
        [10, 20],
      ]),
      16,
    );
    assert.equal(R.size([U32]), 2 ** 32);
    assert.equal(R.size([PORTS]), 65536);
  });

  it('isEmpty', () => {
    assert.ok(R.isEmpty(R.EMPTY));
    assert.ok(!R.isEmpty([[0, 0]]));
  });
});
