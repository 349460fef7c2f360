/**
 * Set elements as boxes over (source, destination, l4 protocol, port) and their disjoint
 * decomposition. nft refuses overlapping intervals in one concatenated set, and a run of rules
 * with one verdict is a union, so overlaps are cut away before the elements are written.
 */
import type { FlowSet } from '../../util/flows.js';
import type { RangeSet } from '../../util/rangeset.js';

export type Iv = readonly [number, number];

export interface Box {
  readonly src: Iv;
  readonly dst: Iv;
  readonly proto: Iv;
  /** undefined: the element belongs to the port-less set (icmp and other protocols). */
  readonly port: Iv | undefined;
}

export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_ICMP = 1;
/** Every IP protocol except tcp, udp and icmp, as l4proto ranges. */
export const OTHER_PROTOS: readonly Iv[] = [
  [0, 0],
  [2, 5],
  [7, 16],
  [18, 255],
];

const ALL_ADDR: RangeSet = [[0, 0xffffffff]];
/** Shared (boxes are never changed in place: `subtract` makes new ones), not a pair per box. */
const TCP_IV: Iv = [PROTO_TCP, PROTO_TCP];
const UDP_IV: Iv = [PROTO_UDP, PROTO_UDP];
const ICMP_IV: Iv = [PROTO_ICMP, PROTO_ICMP];

export function ruleBoxes(src: RangeSet | undefined, dst: RangeSet | undefined, flows: FlowSet): Box[] {
  // Index loops: `for … of` makes an iterator result per step until the code is optimised, and a
  // cold render runs this once per rule.
  const out: Box[] = [];
  const ss = src ?? ALL_ADDR;
  const ds = dst ?? ALL_ADDR;
  const tcp = flows.tcp;
  const udp = flows.udp;
  for (let i = 0; i < ss.length; i++) {
    const s = ss[i]!;
    for (let j = 0; j < ds.length; j++) {
      const d = ds[j]!;
      for (let k = 0; k < tcp.length; k++) out.push({ src: s, dst: d, proto: TCP_IV, port: tcp[k]! });
      for (let k = 0; k < udp.length; k++) out.push({ src: s, dst: d, proto: UDP_IV, port: udp[k]! });
      if (flows.icmp) out.push({ src: s, dst: d, proto: ICMP_IV, port: undefined });
      if (flows.other) for (let k = 0; k < OTHER_PROTOS.length; k++) out.push({ src: s, dst: d, proto: OTHER_PROTOS[k]!, port: undefined });
    }
  }
  return out;
}

/** Whether a range set's ranges are sorted and apart, as normalised sets are (then the boxes of one rule never meet). */
function apart(set: readonly Iv[]): boolean {
  for (let i = 0; i < set.length; i++) if (set[i]![0] > set[i]![1] || (i > 0 && set[i]![0] <= set[i - 1]![1])) return false;
  return true;
}

/**
 * Whether `ruleBoxes(src, dst, flows)` are pairwise disjoint: each box is one source range, one
 * destination range and one protocol (or port) range of the rule, and the protocols of the
 * port-less boxes (icmp and OTHER_PROTOS) are apart from each other and from tcp and udp; so two
 * boxes of a rule differ in a dimension where their ranges are apart whenever its sets are.
 */
export function ruleBoxesDisjoint(src: RangeSet | undefined, dst: RangeSet | undefined, flows: FlowSet): boolean {
  return (src === undefined || apart(src)) && (dst === undefined || apart(dst)) && apart(flows.tcp) && apart(flows.udp);
}

function overlaps(a: Iv, b: Iv): boolean {
  return a[0] <= b[1] && b[0] <= a[1];
}

function boxOverlaps(a: Box, b: Box): boolean {
  if ((a.port === undefined) !== (b.port === undefined)) return false;
  return overlaps(a.src, b.src) && overlaps(a.dst, b.dst) && overlaps(a.proto, b.proto) && (a.port === undefined || overlaps(a.port, b.port!));
}

type Dim = 'src' | 'dst' | 'proto' | 'port';

/**
 * Whether `boxes` are already in boxOrder (the boxes of one rule with normalised sets are): then
 * sorting is skipped, since `sort` copies its array even when nothing moves, once per set.
 */
function sorted(boxes: readonly Box[]): boolean {
  for (let i = 1; i < boxes.length; i++) if (boxOrder(boxes[i - 1]!, boxes[i]!) > 0) return false;
  return true;
}

/** The order of a set's elements in the output. */
function boxOrder(x: Box, y: Box): number {
  return (
    x.src[0] - y.src[0] ||
    x.src[1] - y.src[1] ||
    x.dst[0] - y.dst[0] ||
    x.dst[1] - y.dst[1] ||
    x.proto[0] - y.proto[0] ||
    (x.port?.[0] ?? 0) - (y.port?.[0] ?? 0)
  );
}

/** a minus b, as at most 8 disjoint boxes. Assumes they overlap. */
function subtract(a: Box, b: Box): Box[] {
  const out: Box[] = [];
  let rest: Box = a;
  const dims: Dim[] = a.port === undefined ? ['src', 'dst', 'proto'] : ['src', 'dst', 'proto', 'port'];
  for (const d of dims) {
    const ai = rest[d]!;
    const bi = b[d]!;
    if (ai[0] < bi[0]) out.push({ ...rest, [d]: [ai[0], bi[0] - 1] });
    if (ai[1] > bi[1]) out.push({ ...rest, [d]: [bi[1] + 1, ai[1]] });
    rest = { ...rest, [d]: [Math.max(ai[0], bi[0]), Math.min(ai[1], bi[1])] };
  }
  return out;
}

/**
 * Adds boxes to a disjoint collection, cutting away what is already covered.
 *
 * Only boxes that meet the new one can cut it, and cutting with them in the order they were
 * added gives the same pieces as trying every box in that order. They are found through an index
 * on the source interval: each box is filed under the smallest aligned power-of-two block that
 * holds its source range (its common address prefix), so a query looks at the blocks its own
 * range meets on each of the 33 levels instead of at every box (quadratic over 10,000 rules).
 */
export class DisjointBoxes {
  private readonly boxes: Box[] = [];
  /**
   * Per level (the block size is 2^level), block number → indexes of the boxes filed there. Made
   * at the first query, holding the boxes added so far, and kept up to date from then on: most
   * runs of a big chain are one rule, whose collection is never queried.
   */
  private levels: Map<number, Map<number, number[]>> | undefined;

  add(box: Box): void {
    this.cut(box, this.boxes.length);
  }

  /**
   * Adds the boxes of one rule, which must be pairwise disjoint (`ruleBoxesDisjoint`): the same
   * pieces as adding them one by one, since a box of the rule cannot cut another box of it (nor
   * its pieces), so each is cut only by what was there before the rule; into an empty collection
   * they go as they are.
   */
  addDisjoint(boxes: readonly Box[]): void {
    const before = this.boxes.length;
    if (before === 0) for (let i = 0; i < boxes.length; i++) this.file(boxes[i]!);
    else for (let i = 0; i < boxes.length; i++) this.cut(boxes[i]!, before);
  }

  /** Files what is left of `box` after cutting away the boxes among the first `limit` that meet it. */
  private cut(box: Box, limit: number): void {
    let pieces: Box[] = [box];
    const meets = this.meeting(box, limit);
    for (let m = 0; m < meets.length; m++) {
      const e = this.boxes[meets[m]!]!;
      const next: Box[] = [];
      for (let i = 0; i < pieces.length; i++) {
        const p = pieces[i]!;
        if (boxOverlaps(p, e)) next.push(...subtract(p, e));
        else next.push(p);
      }
      pieces = next;
      if (pieces.length === 0) return;
    }
    for (let i = 0; i < pieces.length; i++) this.file(pieces[i]!);
  }

  private file(b: Box): void {
    const k = this.boxes.length;
    this.boxes.push(b);
    if (this.levels) this.index(this.levels, b, k);
  }

  /** Files box `k` under its block. */
  private index(levels: Map<number, Map<number, number[]>>, b: Box, k: number): void {
    // The smallest level where both ends fall in one block: the bits above the highest bit in
    // which they differ.
    const level = 32 - Math.clz32(b.src[0] ^ b.src[1]);
    let blocks = levels.get(level);
    if (!blocks) levels.set(level, (blocks = new Map<number, number[]>()));
    const id = Math.floor(b.src[0] / 2 ** level);
    const list = blocks.get(id);
    if (list) list.push(k);
    else blocks.set(id, [k]);
  }

  /** Indexes of the boxes among the first `limit` that overlap `q`, in the order they were added. */
  private meeting(q: Box, limit: number): number[] {
    const out: number[] = [];
    if (limit === 0) return out;
    let levels = this.levels;
    if (!levels) {
      this.levels = levels = new Map<number, Map<number, number[]>>();
      for (let k = 0; k < this.boxes.length; k++) this.index(levels, this.boxes[k]!, k);
    }
    const take = (list: readonly number[]): void => {
      // Lists hold indexes in increasing order: the rest are past the limit.
      for (let i = 0; i < list.length; i++) {
        const k = list[i]!;
        if (k >= limit) break;
        if (boxOverlaps(q, this.boxes[k]!)) out.push(k);
      }
    };
    levels.forEach((blocks, level) => {
      const a = Math.floor(q.src[0] / 2 ** level);
      const b = Math.floor(q.src[1] / 2 ** level);
      if (b - a + 1 <= blocks.size) {
        for (let id = a; id <= b; id++) {
          const list = blocks.get(id);
          if (list) take(list);
        }
      } else {
        blocks.forEach((list, id) => {
          if (id >= a && id <= b) take(list);
        });
      }
    });
    return out.sort((x, y) => x - y);
  }

  /** Port-bearing and port-less boxes, each sorted for deterministic output. */
  parts(): { ports: Box[]; protos: Box[] } {
    return splitBoxes(this.boxes);
  }

  get size(): number {
    return this.boxes.length;
  }
}

/**
 * Port-bearing and port-less boxes of disjoint `boxes`, each sorted for deterministic output: the
 * parts of a DisjointBoxes holding them (what one rule with disjoint boxes, added alone, leaves).
 */
export function splitBoxes(boxes: readonly Box[]): { ports: Box[]; protos: Box[] } {
  // One pass; most sets are one rule's boxes, already in order (see `sorted`).
  const ports: Box[] = [];
  const protos: Box[] = [];
  for (let i = 0; i < boxes.length; i++) {
    const b = boxes[i]!;
    if (b.port === undefined) protos.push(b);
    else ports.push(b);
  }
  if (!sorted(ports)) ports.sort(boxOrder);
  if (!sorted(protos)) protos.sort(boxOrder);
  return { ports, protos };
}
