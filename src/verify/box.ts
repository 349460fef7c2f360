/**
 * A rule's match space as a box: the product of one set per header dimension (source, destination,
 * protocol+port, input/output interface, bridge port, connection state). Lint asks questions about
 * unions of boxes ("does the union of these earlier rules cover this rule?"), answered here by
 * recursive box subtraction with cheap overlap tests first and a work limit.
 *
 * Every dimension is a set, not an interval, so `A \ B` splits into at most one piece per dimension,
 * and the pieces are disjoint.
 */
import type { IrMatch } from '../ir/types.js';
import { NO_FLOWS, PORT_MAX, type FlowSet } from '../util/flows.js';
import { ADDR_MAX, ANY_ADDRESS } from '../util/ip.js';
import * as R from '../util/rangeset.js';
import type { RangeSet } from '../util/rangeset.js';
export { IntervalIndex, type IntervalItem } from '../util/interval-index.js';

export { ADDR_MAX };
export const ALL_ADDRS: RangeSet = ANY_ADDRESS;

/** Protocol and port on one line: tcp ports, then udp ports, then icmp, then every other protocol. */
const UDP_BASE = PORT_MAX + 1;
const ICMP_CODE = 2 * (PORT_MAX + 1);
const OTHER_CODE = ICMP_CODE + 1;
export const FLOW_MAX = OTHER_CODE;
export const ALL_FLOW_LINE: RangeSet = [[0, FLOW_MAX]];

/** Connection states as bits; a rule without a state match has both. */
export const STATE_NEW = 1;
export const STATE_ESTABLISHED = 2;
export const STATE_ANY = STATE_NEW | STATE_ESTABLISHED;

/**
 * A set of interface names over an unbounded universe: `neg: false` is exactly `names`,
 * `neg: true` is every name except `names` (so "any interface" is `{ neg: true, names: [] }`).
 * `names` is sorted and free of duplicates.
 */
export interface NameSet {
  readonly neg: boolean;
  readonly names: readonly string[];
}

export const ANY_NAME: NameSet = { neg: true, names: [] };

export interface Box {
  readonly src: RangeSet;
  readonly dst: RangeSet;
  /** Flows encoded with `flowsToLine`. */
  readonly flow: RangeSet;
  readonly iif: NameSet;
  readonly oif: NameSet;
  readonly port: NameSet;
  /** Bit set of STATE_NEW / STATE_ESTABLISHED. */
  readonly state: number;
}

export function flowsToLine(f: FlowSet): RangeSet {
  const spans: [number, number][] = f.tcp.map(([lo, hi]) => [lo, hi]);
  for (const [lo, hi] of f.udp) spans.push([UDP_BASE + lo, UDP_BASE + hi]);
  if (f.icmp) spans.push([ICMP_CODE, ICMP_CODE]);
  if (f.other) spans.push([OTHER_CODE, OTHER_CODE]);
  return R.normalize(spans);
}

export function lineToFlows(line: RangeSet): FlowSet {
  return {
    ...NO_FLOWS,
    tcp: R.intersect(line, [[0, PORT_MAX]]),
    udp: R.intersect(line, [[UDP_BASE, UDP_BASE + PORT_MAX]]).map(([lo, hi]) => [lo - UDP_BASE, hi - UDP_BASE] as const),
    icmp: R.contains(line, ICMP_CODE),
    other: R.contains(line, OTHER_CODE),
  };
}

/**
 * Boxes' flow lines and name sets by the IR's objects: the compiler shares them between rules
 * (at 1k, 17k rules hold 950 flow sets and ~1,200 name lists), and building each rule's own was
 * a good part of lint's set-up. Both are immutable, so equal input gives one shared value.
 */
const lines = new WeakMap<FlowSet, RangeSet>();
const nameSets = new WeakMap<readonly string[], NameSet>();

function lineOf(f: FlowSet): RangeSet {
  let line = lines.get(f);
  if (line === undefined) lines.set(f, (line = flowsToLine(f)));
  return line;
}

function names(list: readonly string[] | undefined): NameSet {
  if (list === undefined) return ANY_NAME;
  let set = nameSets.get(list);
  if (set === undefined) nameSets.set(list, (set = { neg: false, names: [...new Set(list)].sort() }));
  return set;
}

export function boxOf(m: IrMatch): Box {
  return {
    src: m.src ?? ALL_ADDRS,
    dst: m.dst ?? ALL_ADDRS,
    flow: lineOf(m.flows),
    iif: names(m.iif),
    oif: names(m.oif),
    port: names(m.inPort),
    state: m.state === 'new' ? STATE_NEW : m.state === 'established' ? STATE_ESTABLISHED : STATE_ANY,
  };
}

// ---- range sets, without allocating -------------------------------------------------------------

export function rsIntersects(a: RangeSet, b: RangeSet): boolean {
  if (a.length === 0 || b.length === 0) return false;
  if (a[0]![0] > b[b.length - 1]![1] || b[0]![0] > a[a.length - 1]![1]) return false;
  // A few ranges against many (a host against the internet's dozens, in millions of lint's pair
  // tests): a binary search per range, not a walk through the many.
  if (a.length <= 2 && b.length > 8) return fewMeet(a, b);
  if (b.length <= 2 && a.length > 8) return fewMeet(b, a);
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    if (x[1] < y[0]) i++;
    else if (y[1] < x[0]) j++;
    else return true;
  }
  return false;
}

function fewMeet(few: RangeSet, many: RangeSet): boolean {
  for (let k = 0; k < few.length; k++) if (meetsRange(many, few[k]![0], few[k]![1])) return true;
  return false;
}

/** Whether `rs` meets [lo, hi]: the first range ending at or after lo starts by hi. */
export function meetsRange(rs: RangeSet, lo: number, hi: number): boolean {
  let l = 0;
  let h = rs.length;
  while (l < h) {
    const m = (l + h) >>> 1;
    if (rs[m]![1] < lo) l = m + 1;
    else h = m;
  }
  return l < rs.length && rs[l]![0] <= hi;
}

/** True when b ⊆ a (both normalised, so each span of b must sit inside one span of a). */
export function rsCovers(a: RangeSet, b: RangeSet): boolean {
  // Index loops, here and in the name-set tests below: a for-of with destructuring, or a callback
  // to some/every, allocated on every call until V8 optimised the caller (a 1k lint: ~80 MB).
  let i = 0;
  for (let k = 0; k < b.length; k++) {
    const lo = b[k]![0];
    while (i < a.length && a[i]![1] < lo) i++;
    const s = a[i];
    if (!s || s[0] > lo || s[1] < b[k]![1]) return false;
  }
  return true;
}

/**
 * `R.intersect(a, b)`, as one of them when it is the answer: most overlaps of two rules are the
 * narrower rule's set in a dimension, and a new array each was most of what building parts made.
 */
function rsIntersect(a: RangeSet, b: RangeSet): RangeSet {
  if (a === b) return a;
  if (a.length !== 1 || b.length !== 1) return R.intersect(a, b);
  const alo = a[0]![0];
  const ahi = a[0]![1];
  const blo = b[0]![0];
  const bhi = b[0]![1];
  if (blo <= alo && ahi <= bhi) return a;
  if (alo <= blo && bhi <= ahi) return b;
  const lo = Math.max(alo, blo);
  const hi = Math.min(ahi, bhi);
  return lo <= hi ? [[lo, hi]] : [];
}

function rsInterSize(a: RangeSet, b: RangeSet): number {
  let n = 0;
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    const lo = Math.max(x[0], y[0]);
    const hi = Math.min(x[1], y[1]);
    if (lo <= hi) n += hi - lo + 1;
    if (x[1] < y[1]) i++;
    else j++;
  }
  return n;
}

// ---- name sets ----------------------------------------------------------------------------------

function sortedHas(list: readonly string[], x: string): boolean {
  // Most lists are one interface: an equality test, without the ordering comparison after it.
  if (list.length === 1) return list[0] === x;
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = list[mid]!;
    if (v === x) return true;
    if (v < x) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

export function nameHas(s: NameSet, x: string): boolean {
  return s.neg !== sortedHas(s.names, x);
}

function nsIntersects(a: NameSet, b: NameSet): boolean {
  if (a.neg && b.neg) return true;
  // Rules share their name sets (boxOf): one list against itself is common.
  if (a === b) return a.names.length > 0;
  const listed = a.neg ? b.names : a.names;
  const other = a.neg ? a : b;
  for (let k = 0; k < listed.length; k++) if (nameHas(other, listed[k]!)) return true;
  return false;
}

/** Whether every name of `list` is in `sorted` (`want` true) or none is (`want` false). */
function allHave(list: readonly string[], sorted: readonly string[], want: boolean): boolean {
  for (let k = 0; k < list.length; k++) if (sortedHas(sorted, list[k]!) !== want) return false;
  return true;
}

function nsCovers(a: NameSet, b: NameSet): boolean {
  if (a.neg) return b.neg ? allHave(a.names, b.names, true) : allHave(b.names, a.names, false);
  return !b.neg && allHave(b.names, a.names, true);
}

function nsIntersect(a: NameSet, b: NameSet): NameSet {
  // Any name, or the same set, leaves the other as it is: no new set (parts and pieces are many).
  if (a === b || (b.neg && b.names.length === 0)) return a;
  if (a.neg && a.names.length === 0) return b;
  if (a.neg && b.neg) return { neg: true, names: mergeSorted(a.names, b.names) };
  const listed = a.neg ? b.names : a.names;
  const other = a.neg ? a : b;
  const names: string[] = [];
  for (let k = 0; k < listed.length; k++) if (nameHas(other, listed[k]!)) names.push(listed[k]!);
  return { neg: false, names };
}

/** The sorted union of two sorted, duplicate-free lists (what `[...new Set([...a, ...b])].sort()` gives). */
function mergeSorted(a: readonly string[], b: readonly string[]): readonly string[] {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    if (x === y) {
      out.push(x);
      i++;
      j++;
    } else if (x < y) {
      out.push(x);
      i++;
    } else {
      out.push(y);
      j++;
    }
  }
  while (i < a.length) out.push(a[i++]!);
  while (j < b.length) out.push(b[j++]!);
  return out;
}

function nsComplement(a: NameSet): NameSet {
  return { neg: !a.neg, names: a.names };
}

function nsIsEmpty(a: NameSet): boolean {
  return !a.neg && a.names.length === 0;
}

/** A name in the set, preferring a fresh one for co-finite sets (it then stands for "any other"). */
function nsSample(a: NameSet, last: boolean): string | undefined {
  if (a.neg) return '\u0000';
  return last ? a.names[a.names.length - 1] : a.names[0];
}

// ---- boxes --------------------------------------------------------------------------------------

export function boxIsEmpty(b: Box): boolean {
  return b.state === 0 || b.src.length === 0 || b.dst.length === 0 || b.flow.length === 0 || nsIsEmpty(b.iif) || nsIsEmpty(b.oif) || nsIsEmpty(b.port);
}

/** Whether a and b share a packet. Cheapest tests first. */
export function boxIntersects(a: Box, b: Box): boolean {
  return (
    (a.state & b.state) !== 0 &&
    rsIntersects(a.dst, b.dst) &&
    rsIntersects(a.src, b.src) &&
    rsIntersects(a.flow, b.flow) &&
    nsIntersects(a.port, b.port) &&
    nsIntersects(a.iif, b.iif) &&
    nsIntersects(a.oif, b.oif)
  );
}

/** Whether a and b share a packet, given that their addresses meet (the other dimensions of `boxIntersects`). */
export function boxMeetsBeyondAddresses(a: Box, b: Box): boolean {
  return (a.state & b.state) !== 0 && rsIntersects(a.flow, b.flow) && nsIntersects(a.port, b.port) && nsIntersects(a.iif, b.iif) && nsIntersects(a.oif, b.oif);
}

/** True when b ⊆ a. */
export function boxContains(a: Box, b: Box): boolean {
  return (
    (b.state & ~a.state) === 0 &&
    rsCovers(a.dst, b.dst) &&
    rsCovers(a.src, b.src) &&
    rsCovers(a.flow, b.flow) &&
    nsCovers(a.port, b.port) &&
    nsCovers(a.iif, b.iif) &&
    nsCovers(a.oif, b.oif)
  );
}

export function boxIntersect(a: Box, b: Box): Box {
  return mkBox(
    rsIntersect(a.src, b.src),
    rsIntersect(a.dst, b.dst),
    rsIntersect(a.flow, b.flow),
    nsIntersect(a.iif, b.iif),
    nsIntersect(a.oif, b.oif),
    nsIntersect(a.port, b.port),
    a.state & b.state,
  );
}

/**
 * A box built with its fields always in one order: boxes made by spreading with a computed key
 * (`{ ...cur, [k]: x }`) get a hidden class per key and were most of lint's time on big chains.
 */
function mkBox(src: RangeSet, dst: RangeSet, flow: RangeSet, iif: NameSet, oif: NameSet, port: NameSet, state: number): Box {
  return { src, dst, flow, iif, oif, port, state };
}

/**
 * a minus b as disjoint boxes: peel off, one dimension at a time, the part of `a` outside `b` in
 * that dimension, and narrow the rest to `b` there. At most seven pieces; none when b ⊇ a.
 */
export function boxSubtract(a: Box, b: Box): Box[] {
  if (!boxIntersects(a, b)) return [a];
  const out: Box[] = [];
  // The dimensions in a fixed order (state, port, iif, oif, flow, dst, src), each peeled in turn.
  const src = a.src;
  let { dst, flow, iif, oif, port } = a;
  const stateOut = a.state & ~b.state;
  const state = a.state & b.state;
  if (stateOut !== 0) out.push(mkBox(src, dst, flow, iif, oif, port, stateOut));
  if (!nsCovers(b.port, port)) {
    const outside = nsIntersect(port, nsComplement(b.port));
    if (!nsIsEmpty(outside)) out.push(mkBox(src, dst, flow, iif, oif, outside, state));
    port = nsIntersect(port, b.port);
  }
  if (!nsCovers(b.iif, iif)) {
    const outside = nsIntersect(iif, nsComplement(b.iif));
    if (!nsIsEmpty(outside)) out.push(mkBox(src, dst, flow, outside, oif, port, state));
    iif = nsIntersect(iif, b.iif);
  }
  if (!nsCovers(b.oif, oif)) {
    const outside = nsIntersect(oif, nsComplement(b.oif));
    if (!nsIsEmpty(outside)) out.push(mkBox(src, dst, flow, iif, outside, port, state));
    oif = nsIntersect(oif, b.oif);
  }
  if (!rsCovers(b.flow, flow)) {
    const outside = R.subtract(flow, b.flow);
    if (outside.length > 0) out.push(mkBox(src, dst, outside, iif, oif, port, state));
    flow = rsIntersect(flow, b.flow);
  }
  if (!rsCovers(b.dst, dst)) {
    const outside = R.subtract(dst, b.dst);
    if (outside.length > 0) out.push(mkBox(src, outside, flow, iif, oif, port, state));
    dst = rsIntersect(dst, b.dst);
  }
  if (!rsCovers(b.src, src)) {
    const outside = R.subtract(src, b.src);
    if (outside.length > 0) out.push(mkBox(outside, dst, flow, iif, oif, port, state));
  }
  return out;
}

const DIMS = ['state', 'port', 'iif', 'oif', 'flow', 'dst', 'src'] as const;
type Dim = (typeof DIMS)[number];
const CONTAINS = -1;
const SEVERAL = -2;

/** CONTAINS when c ⊇ p; else the index in DIMS of the one dimension where it does not; else SEVERAL. */
function soleGap(c: Box, p: Box): number {
  let gap = CONTAINS;
  for (let d = 0; d < DIMS.length; d++) {
    if (dimCovers(c, p, d)) continue;
    if (gap !== CONTAINS) return SEVERAL;
    gap = d;
  }
  return gap;
}

function dimCovers(c: Box, p: Box, d: number): boolean {
  switch (d) {
    case 0:
      return (p.state & ~c.state) === 0;
    case 1:
      return nsCovers(c.port, p.port);
    case 2:
      return nsCovers(c.iif, p.iif);
    case 3:
      return nsCovers(c.oif, p.oif);
    case 4:
      return rsCovers(c.flow, p.flow);
    case 5:
      return rsCovers(c.dst, p.dst);
    default:
      return rsCovers(c.src, p.src);
  }
}

/**
 * The union of many name sets at once (what folding them pairwise gives: the same sorted,
 * duplicate-free names). Folding re-sorted the growing union for every member: a group of
 * hundreds of rules differing only in their input interface cost a sort per member.
 */
function nsUnionAll(sets: readonly NameSet[]): NameSet {
  let neg: Set<string> | undefined;
  let negFirst: readonly string[] | undefined;
  const pos = new Set<string>();
  for (const s of sets) {
    if (!s.neg) {
      for (const x of s.names) pos.add(x);
      continue;
    }
    if (negFirst === undefined) {
      negFirst = s.names;
      neg = new Set(s.names);
      continue;
    }
    const keep = new Set<string>();
    for (const x of s.names) if (neg!.has(x)) keep.add(x);
    neg = keep;
  }
  if (negFirst === undefined) return { neg: false, names: [...pos].sort() };
  return { neg: true, names: negFirst.filter((x) => neg!.has(x) && !pos.has(x)) };
}

/** The union of boxes that each contain p except along `d`, restricted to p: p with d widened to their union. */
function mergeAlong(p: Box, group: readonly Box[], d: Dim): Box {
  const { src, dst, flow, iif, oif, port, state } = p;
  switch (d) {
    case 'state': {
      let acc = 0;
      for (const c of group) acc |= c.state;
      return mkBox(src, dst, flow, iif, oif, port, state & acc);
    }
    case 'port':
      return mkBox(src, dst, flow, iif, oif, nsIntersect(port, nsUnionAll(group.map((c) => c.port))), state);
    case 'iif':
      return mkBox(src, dst, flow, nsIntersect(iif, nsUnionAll(group.map((c) => c.iif))), oif, port, state);
    case 'oif':
      return mkBox(src, dst, flow, iif, nsIntersect(oif, nsUnionAll(group.map((c) => c.oif))), port, state);
    case 'flow':
      return mkBox(src, dst, R.intersect(flow, R.normalize(group.flatMap((c) => c.flow))), iif, oif, port, state);
    case 'dst':
      return mkBox(src, R.intersect(dst, R.normalize(group.flatMap((c) => c.dst))), flow, iif, oif, port, state);
    case 'src':
      return mkBox(R.intersect(src, R.normalize(group.flatMap((c) => c.src))), dst, flow, iif, oif, port, state);
  }
}

/** A rough size, only for choosing between candidates: co-finite name sets count as large. */
export function boxVolume(b: Box): number {
  return R.size(b.src) * R.size(b.dst) * R.size(b.flow) * nsSize(b.iif) * nsSize(b.oif) * nsSize(b.port) * popcount(b.state);
}

/**
 * `boxVolume(boxIntersect(a, b))` without building the box: the same factors in the same order
 * (range sizes are whole numbers, so summing them per span gives the same value).
 */
function interVolume(a: Box, b: Box): number {
  return (
    rsInterSize(a.src, b.src) *
    rsInterSize(a.dst, b.dst) *
    rsInterSize(a.flow, b.flow) *
    nsInterSize(a.iif, b.iif) *
    nsInterSize(a.oif, b.oif) *
    nsInterSize(a.port, b.port) *
    popcount(a.state & b.state)
  );
}

/** `nsSize(nsIntersect(a, b))`. */
function nsInterSize(a: NameSet, b: NameSet): number {
  if (a.neg && b.neg) return 1000;
  const pos = a.neg ? b : a;
  const other = a.neg ? a : b;
  let n = 0;
  for (let k = 0; k < pos.names.length; k++) if (nameHas(other, pos.names[k]!)) n++;
  return n;
}

function nsSize(s: NameSet): number {
  return s.neg ? 1000 : s.names.length;
}

function popcount(x: number): number {
  return (x & 1) + ((x >> 1) & 1);
}

/** The fraction of q that c covers, dimension by dimension (a heuristic, 0..1). */
function frac(a: RangeSet, b: RangeSet): number {
  return rsInterSize(a, b) / R.size(a);
}

function nfrac(a: NameSet, b: NameSet): number {
  return nsCovers(b, a) ? 1 : 0.5;
}

function coverScore(q: Box, c: Box): number {
  return (
    frac(q.dst, c.dst) *
    frac(q.src, c.src) *
    frac(q.flow, c.flow) *
    nfrac(q.port, c.port) *
    nfrac(q.iif, c.iif) *
    nfrac(q.oif, c.oif) *
    (popcount(q.state & c.state) / popcount(q.state))
  );
}

function edge(r: RangeSet, last: boolean): number {
  return last ? r[r.length - 1]![1] : r[0]![0];
}

/** Whether x is in rs: one range (most sets) by its ends, without the search. */
function rsHas(rs: RangeSet, x: number): boolean {
  return rs.length === 1 ? rs[0]![0] <= x && x <= rs[0]![1] : R.contains(rs, x);
}

/**
 * Whether a corner of q (either of the two `covered` tests first) lies in none of the boxes
 * `boxes[k]` for k in `among`: then q is not covered, and `covered` says so at its first step.
 */
export function cornerOutside(q: Box, boxes: readonly Box[], among: ArrayLike<number>): boolean {
  return cornerMissed(q, boxes, among, false) || cornerMissed(q, boxes, among, true);
}

/** Whether the corner `last` of q exists and lies in none of `boxes[k]` for k in `among` (all of `boxes` without it). */
function cornerMissed(q: Box, boxes: readonly Box[], among: ArrayLike<number> | undefined, last: boolean): boolean {
  // The corner's coordinates as locals, not a point object: this runs for every rule of a chain.
  const iif = nsSample(q.iif, last);
  const oif = nsSample(q.oif, last);
  const port = nsSample(q.port, last);
  if (iif === undefined || oif === undefined || port === undefined || boxIsEmpty(q)) return false;
  const state = last ? (q.state & STATE_ESTABLISHED ? STATE_ESTABLISHED : STATE_NEW) : q.state & STATE_NEW ? STATE_NEW : STATE_ESTABLISHED;
  const src = edge(q.src, last);
  const dst = edge(q.dst, last);
  const flow = edge(q.flow, last);
  const n = among ? among.length : boxes.length;
  for (let t = 0; t < n; t++) {
    const b = boxes[among ? among[t]! : t]!;
    if (
      (b.state & state) !== 0 &&
      rsHas(b.dst, dst) &&
      rsHas(b.src, src) &&
      rsHas(b.flow, flow) &&
      nameHas(b.port, port) &&
      nameHas(b.iif, iif) &&
      nameHas(b.oif, oif)
    )
      return false;
  }
  return true;
}

export type CoverResult = 'covered' | 'uncovered' | 'unknown';

/** A work limit shared by one question; `left` counts down. */
export interface Budget {
  left: number;
}

/**
 * Whether the union of `cands` covers q. Depth-first over pieces of q: drop the candidates that
 * miss a piece, settle it at once when one contains it or when a corner of it lies in none of
 * them, else subtract the candidate that covers most of it and go on with the pieces left.
 * 'unknown' when the budget runs out (each step costs 1, plus 1 per 32 candidates it tests).
 */
export function covered(q: Box, cands: readonly Box[], budget: Budget): CoverResult {
  if (boxIsEmpty(q)) return 'covered';
  // Pieces of one parent share its candidate list, so memory grows with depth, not with pieces.
  const stack: { q: Box; cs: readonly Box[] }[] = [{ q, cs: cands }];
  for (let top = stack.pop(); top; top = stack.pop()) {
    budget.left -= 1 + top.cs.length / 32;
    if (budget.left < 0) return 'unknown';
    const piece = top.q;
    const live: Box[] = [];
    let inside = false;
    // Candidates that contain the piece in every dimension but one are merged along that one:
    // rules that differ only in port, or only in address, then cost one box, not one each.
    const along: Box[][] = [];
    const cs = top.cs;
    for (let k = 0; k < cs.length; k++) {
      const c = cs[k]!;
      if (!boxIntersects(c, piece)) continue;
      const g = soleGap(c, piece);
      if (g === CONTAINS) {
        inside = true;
        break;
      }
      if (g === SEVERAL) live.push(c);
      else (along[g] ??= []).push(c);
    }
    if (inside) continue;
    for (let d = 0; d < along.length && !inside; d++) {
      const group = along[d];
      if (!group) continue;
      if (group.length === 1) {
        live.push(group[0]!);
        continue;
      }
      const merged = mergeAlong(piece, group, DIMS[d]!);
      if (boxContains(merged, piece)) inside = true;
      else live.push(merged);
    }
    if (inside) continue;
    if (live.length === 0) return 'uncovered';
    if (cornerMissed(piece, live, undefined, false) || cornerMissed(piece, live, undefined, true)) return 'uncovered';
    let best = 0;
    let bestScore = -1;
    for (let i = 0; i < live.length; i++) {
      const s = coverScore(piece, live[i]!);
      if (s > bestScore) {
        bestScore = s;
        best = i;
      }
    }
    const c = live[best]!;
    const rest: Box[] = [];
    for (let i = 0; i < live.length; i++) if (i !== best) rest.push(live[i]!);
    const pieces = boxSubtract(piece, c);
    for (let k = pieces.length - 1; k >= 0; k--) stack.push({ q: pieces[k]!, cs: rest });
  }
  return 'covered';
}

/**
 * A small subset of `cands` whose union covers q, as indices into `cands` in ascending order;
 * undefined when they do not cover it or the budget runs out. Greedy (the candidate covering most
 * of what is left, ties to those marked in `prefer`, then to the earlier one), then pruned until no member can be
 * dropped, so the answer is irredundant even when greedy picked a big rule that later ones made moot.
 */
export function smallCover(q: Box, cands: readonly Box[], budget: Budget, prefer: readonly boolean[] = []): number[] | undefined {
  let rem: Box[] = [q];
  const chosen: number[] = [];
  const taken = new Uint8Array(cands.length);
  while (rem.length > 0) {
    budget.left -= 1 + (cands.length * rem.length) / 16;
    if (budget.left < 0 || rem.length > 4096) return undefined;
    let best = -1;
    let bestVol = 0;
    let bestPref = false;
    for (let i = 0; i < cands.length; i++) {
      if (taken[i] === 1) continue;
      const c = cands[i]!;
      let vol = 0;
      for (let k = 0; k < rem.length; k++) if (boxIntersects(rem[k]!, c)) vol += interVolume(rem[k]!, c);
      if (vol === 0) continue;
      const pref = prefer[i] ?? true;
      if (vol > bestVol || (vol === bestVol && pref && !bestPref)) {
        best = i;
        bestVol = vol;
        bestPref = pref;
      }
    }
    if (best < 0) return undefined;
    const c = cands[best]!;
    chosen.push(best);
    taken[best] = 1;
    const next: Box[] = [];
    for (let k = 0; k < rem.length; k++) {
      const pieces = boxSubtract(rem[k]!, c);
      for (let t = 0; t < pieces.length; t++) next.push(pieces[t]!);
    }
    rem = next;
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
  return chosen.sort((a, b) => a - b);
}
