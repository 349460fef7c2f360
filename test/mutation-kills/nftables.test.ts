/**
 * The nftables target's box algebra and names (src/render/nftables/boxes.ts, names.ts) without a
 * kernel. The round trip (test/roundtrip.test.ts) proves the rendered rule set means the spec, but
 * costs a namespace and seconds per run; these laws are checked on small boxes, point by point:
 * the disjoint decomposition covers exactly the union of what was added, and no two pieces
 * overlap (nft refuses overlapping intervals in one set).
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DisjointBoxes, OTHER_PROTOS, PROTO_ICMP, PROTO_TCP, PROTO_UDP, ruleBoxes, type Box, type Iv } from '../../src/render/nftables/boxes.js';
import { MARK_BASE, markOf, portsTableName, TABLE_PREFIX, tableName } from '../../src/model/names.js';
import { NO_FLOWS } from '../../src/util/flows.js';

const SEED = Number(process.env.CORDON_TEST_SEED ?? 19);
const N = 8; // every dimension runs over 0..N-1 in these tests

const iv = fc.tuple(fc.integer({ min: 0, max: N - 1 }), fc.integer({ min: 0, max: N - 1 })).map(([a, b]): Iv => (a <= b ? [a, b] : [b, a]));
const box = fc.record({ src: iv, dst: iv, proto: iv, port: fc.option(iv, { nil: undefined }) });

const inIv = (x: number, [lo, hi]: Iv): boolean => lo <= x && x <= hi;
/** A point is (src, dst, proto, port | -1 for the port-less space). */
function covers(b: Box, s: number, d: number, p: number, port: number): boolean {
  if ((port === -1) !== (b.port === undefined)) return false;
  return inIv(s, b.src) && inIv(d, b.dst) && inIv(p, b.proto) && (b.port === undefined || inIv(port, b.port));
}

function eachPoint(f: (s: number, d: number, p: number, port: number) => void): void {
  for (let s = 0; s < N; s++) for (let d = 0; d < N; d++) for (let p = 0; p < N; p++) for (let port = -1; port < N; port++) f(s, d, p, port);
}

function collect(boxes: readonly Box[]): DisjointBoxes {
  const db = new DisjointBoxes();
  for (const b of boxes) db.add(b);
  return db;
}

describe('DisjointBoxes: a disjoint cover of exactly the union', () => {
  it('every point of the union is in exactly one piece, and no other point is in any', () => {
    fc.assert(
      fc.property(fc.array(box, { minLength: 1, maxLength: 6 }), (input) => {
        const { ports, protos } = collect(input).parts();
        const pieces = [...ports, ...protos];
        eachPoint((s, d, p, port) => {
          const want = input.some((b) => covers(b, s, d, p, port));
          const n = pieces.filter((b) => covers(b, s, d, p, port)).length;
          assert.equal(n, want ? 1 : 0, `point ${s},${d},${p},${port}: ${n} pieces, in the union: ${want}`);
        });
        for (const b of ports) assert.notEqual(b.port, undefined);
        for (const b of protos) assert.equal(b.port, undefined);
      }),
      { numRuns: 150, seed: SEED },
    );
  });

  it('a box inside another adds nothing; a disjoint one is kept whole; size counts pieces', () => {
    const big: Box = { src: [0, 7], dst: [0, 7], proto: [6, 6], port: [0, 100] };
    const db = collect([big, { src: [2, 3], dst: [1, 1], proto: [6, 6], port: [5, 9] }]);
    assert.equal(db.size, 1);
    const far: Box = { src: [0, 7], dst: [0, 7], proto: [17, 17], port: [0, 100] };
    db.add(far);
    assert.equal(db.size, 2);
    assert.deepEqual(db.parts().ports, [big, far]);
    // Same addresses, one with ports and one without: different sets, never cut against each other.
    const db2 = collect([{ ...big, port: undefined }, big]);
    assert.equal(db2.size, 2);
  });

  it('cuts a corner overlap into the pieces outside the first box, sorted', () => {
    const a: Box = { src: [0, 3], dst: [0, 3], proto: [1, 1], port: undefined };
    const b: Box = { src: [2, 5], dst: [2, 5], proto: [1, 1], port: undefined };
    assert.deepEqual(collect([a, b]).parts().protos, [
      a,
      { src: [2, 3], dst: [4, 5], proto: [1, 1], port: undefined },
      { src: [4, 5], dst: [2, 5], proto: [1, 1], port: undefined },
    ]);
  });

  it('parts() orders by source, then destination, protocol and port', () => {
    const mk = (s: number, d: number, p: number, port: number): Box => ({ src: [s, s], dst: [d, d], proto: [p, p], port: [port, port] });
    const want = [mk(1, 1, 6, 1), mk(1, 1, 6, 2), mk(1, 1, 17, 0), mk(1, 2, 6, 0), mk(2, 0, 6, 0)];
    assert.deepEqual(collect([...want].reverse()).parts().ports, want);
    const wide = [
      { ...mk(1, 1, 6, 1), src: [1, 1] as Iv },
      { ...mk(1, 1, 6, 1), src: [1, 3] as Iv, dst: [5, 5] as Iv },
    ];
    assert.deepEqual(collect([...wide].reverse()).parts().ports, wide);
    // The source's start decides before its end does: [1,5] before [2,3].
    const starts = [
      { ...mk(0, 0, 6, 1), src: [1, 5] as Iv },
      { ...mk(0, 1, 6, 1), src: [2, 3] as Iv },
    ];
    assert.deepEqual(collect([...starts].reverse()).parts().ports, starts);
  });
});

describe('ruleBoxes', () => {
  it('one box per (source range, destination range, protocol piece); any address when unset', () => {
    const flows = {
      tcp: [
        [22, 22],
        [80, 81],
      ] as Iv[],
      udp: [[53, 53]] as Iv[],
      icmp: true,
      other: true,
    };
    const boxes = ruleBoxes(
      [
        [1, 2],
        [5, 5],
      ],
      undefined,
      flows,
    );
    assert.equal(boxes.length, 2 * (2 + 1 + 1 + OTHER_PROTOS.length));
    assert.deepEqual(boxes[0], { src: [1, 2], dst: [0, 0xffffffff], proto: [PROTO_TCP, PROTO_TCP], port: [22, 22] });
    assert.deepEqual(boxes[2], { src: [1, 2], dst: [0, 0xffffffff], proto: [PROTO_UDP, PROTO_UDP], port: [53, 53] });
    assert.deepEqual(boxes[3], { src: [1, 2], dst: [0, 0xffffffff], proto: [PROTO_ICMP, PROTO_ICMP], port: undefined });
    assert.deepEqual(
      boxes.slice(4, 4 + OTHER_PROTOS.length).map((b) => b.proto),
      OTHER_PROTOS,
    );
    assert.deepEqual(ruleBoxes(undefined, [[7, 7]], NO_FLOWS), []);
    assert.deepEqual(ruleBoxes(undefined, [[7, 7]], { ...NO_FLOWS, icmp: true }), [{ src: [0, 0xffffffff], dst: [7, 7], proto: [1, 1], port: undefined }]);
  });

  it('the other protocols are every protocol number except tcp, udp and icmp, once', () => {
    const seen = new Set<number>();
    for (const [lo, hi] of OTHER_PROTOS) for (let p = lo; p <= hi; p++) seen.add(p);
    for (let p = 0; p <= 255; p++) assert.equal(seen.has(p), ![PROTO_TCP, PROTO_UDP, PROTO_ICMP].includes(p), `protocol ${p}`);
  });
});

describe('nftables names', () => {
  it('table names: the prefix, the point with : made _, and a hash only where cleaning could collide', () => {
    assert.equal(tableName('hv:forward'), `${TABLE_PREFIX}hv_forward`);
    assert.equal(portsTableName('hv'), `${TABLE_PREFIX}hv_ports`);
    const a = tableName('a-1:input');
    const b = tableName('a_1:input');
    assert.notEqual(a, b);
    assert.equal(b, 'cordon_a_1_input');
    assert.match(a, /^cordon_a_1_input_[0-9a-z]{4}$/);
    assert.match(tableName('a.b:input'), /^cordon_a_b_input_[0-9a-z]{4}$/);
  });

  it("marks: cordon's high half, index + 1 in the low half, 8 hex digits", () => {
    assert.equal(MARK_BASE, 0x0c0d0000);
    assert.equal(markOf(0), '0x0c0d0001');
    assert.equal(markOf(14), '0x0c0d000f');
  });
});
