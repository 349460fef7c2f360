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

export function ruleBoxes(src: RangeSet | undefined, dst: RangeSet | undefined, flows: FlowSet): Box[] {
  const out: Box[] = [];
  for (const s of src ?? ALL_ADDR) {
    for (const d of dst ?? ALL_ADDR) {
      for (const p of flows.tcp) out.push({ src: s, dst: d, proto: [PROTO_TCP, PROTO_TCP], port: p });
      for (const p of flows.udp) out.push({ src: s, dst: d, proto: [PROTO_UDP, PROTO_UDP], port: p });
      if (flows.icmp) out.push({ src: s, dst: d, proto: [PROTO_ICMP, PROTO_ICMP], port: undefined });
      if (flows.other) for (const o of OTHER_PROTOS) out.push({ src: s, dst: d, proto: o, port: undefined });
    }
  }
  return out;
}

function overlaps(a: Iv, b: Iv): boolean {
  return a[0] <= b[1] && b[0] <= a[1];
}

function boxOverlaps(a: Box, b: Box): boolean {
  if ((a.port === undefined) !== (b.port === undefined)) return false;
  return overlaps(a.src, b.src) && overlaps(a.dst, b.dst) && overlaps(a.proto, b.proto) && (a.port === undefined || overlaps(a.port, b.port!));
}

type Dim = 'src' | 'dst' | 'proto' | 'port';

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

/** Adds boxes to a disjoint collection, cutting away what is already covered. */
export class DisjointBoxes {
  private readonly boxes: Box[] = [];

  add(box: Box): void {
    let pieces: Box[] = [box];
    for (const e of this.boxes) {
      if (pieces.length === 0) return;
      const next: Box[] = [];
      for (const p of pieces) {
        if (boxOverlaps(p, e)) next.push(...subtract(p, e));
        else next.push(p);
      }
      pieces = next;
    }
    this.boxes.push(...pieces);
  }

  /** Port-bearing and port-less boxes, each sorted for deterministic output. */
  parts(): { ports: Box[]; protos: Box[] } {
    const cmp = (x: Box, y: Box): number =>
      x.src[0] - y.src[0] || x.src[1] - y.src[1] || x.dst[0] - y.dst[0] || x.dst[1] - y.dst[1] || x.proto[0] - y.proto[0] || (x.port?.[0] ?? 0) - (y.port?.[0] ?? 0);
    return {
      ports: this.boxes.filter((b) => b.port !== undefined).sort(cmp),
      protos: this.boxes.filter((b) => b.port === undefined).sort(cmp),
    };
  }

  get size(): number {
    return this.boxes.length;
  }
}
