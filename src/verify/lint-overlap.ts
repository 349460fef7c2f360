/**
 * One overlap lint may report: an earlier rule j of the other verdict takes part of a later rule
 * i's traffic. The part is what both match, less what rules before j already take; it is
 * computed on demand, because a big chain has millions of candidate pairs and a message shows
 * the parts of at most three per rule. For the rest lint needs only a yes or no (is some packet
 * of the part on a real bridge?), which a depth-first search answers at its first witness.
 *
 * The part is defined by the breadth-first cut lint has always made (kept in `parts`), limits
 * included: at most the first 64 neighbours cut, and a cut that would leave more than 256
 * pieces is not made (the part is reported coarser rather than not at all). `hasPart` gives
 * exactly `parts().some(keep)` for a `keep` that holds for every box containing a box it holds
 * for; where the limits could change its answer it computes `parts()`.
 */
import type { IrRule } from '../ir/types.js';
import { boxIntersect, boxIntersects, boxSubtract, type Box } from './box.js';
import { lowerBound } from '../util/search.js';

/** Neighbours before j that cut the part: the first ones only, whatever their number. */
const MAX_CUTTERS = 64;
/** Rules meeting j up to this many key its cuts by a bit each (a small integer). */
const MASK_BITS = 30;
/** A cut leaving more pieces than this is not made. */
const MAX_PIECES = 256;
/** Past this many boxes looked at without a witness, `hasPart` falls back to `parts`. */
const MAX_SEARCH = MAX_CUTTERS * MAX_PIECES;
/** Rules up to this index get their earlier-meeting list by a plain scan when lint has none. */
const SCAN_BELOW = 4096;

/**
 * Per rule j, the rules before it that share a packet with it, ascending; computed once per rule
 * and only when asked. A rule cuts an overlap's part only if it meets the earlier rule j, so when
 * j meets few rules before it (plumbing at the top of a chain meets almost nothing above it),
 * its cutters come from this short list instead of a test of each of the later rule's first 64
 * neighbours: on big chains every later rule meets the same hundreds of plumbing rules, and
 * those tests were most of lint's time.
 */
export class EarlierMeets {
  /** By rule index; null: long. */
  private readonly memo: (Int32Array | null | undefined)[] = [];
  /** Lists given out, by a hash of their rules: equal lists are one object (see CutMemo.cutOf). */
  private readonly lists = new Map<number, Int32Array[]>();

  constructor(
    private readonly boxes: readonly Box[],
    /** Neighbour lists lint already has (rules meeting rule i, ascending), by rule index. */
    private readonly near: ReadonlyMap<number, Neighbours>,
  ) {}

  /** Ascending rules k < j meeting rule j, or undefined when that list is long or unknown. */
  of(j: number): Int32Array | undefined {
    let m = this.memo[j];
    if (m === undefined) {
      m = this.compute(j);
      this.memo[j] = m === null ? null : this.interned(m);
    }
    return m ?? undefined;
  }

  private interned(list: Int32Array): Int32Array {
    let h = list.length;
    for (let t = 0; t < list.length; t++) h = Math.imul(h ^ list[t]!, 0x9e3779b1) ^ (h >>> 15);
    const bucket = this.lists.get(h);
    const same = bucket?.find((x) => x.length === list.length && x.every((k, t) => k === list[t]));
    if (same) return same;
    if (bucket) bucket.push(list);
    else this.lists.set(h, [list]);
    return list;
  }

  private compute(j: number): Int32Array | null {
    const nb = this.near.get(j);
    const out: number[] = [];
    if (nb) {
      // nb ascends: the rules before j are a prefix of it.
      const m = lowerBound(nb, j);
      return m > MAX_CUTTERS ? null : nb.slice(0, m);
    }
    if (j >= SCAN_BELOW) return null;
    const bj = this.boxes[j]!;
    for (let k = 0; k < j; k++) {
      if (!boxIntersects(this.boxes[k]!, bj)) continue;
      out.push(k);
      if (out.length > MAX_CUTTERS) return null;
    }
    return Int32Array.from(out);
  }
}

/**
 * Rules meeting one rule, ascending. A typed array: a big chain has millions of entries in its
 * lists, and as numbers in JS arrays the garbage collector traced them all at every major GC.
 */
export type Neighbours = Int32Array;

/** A box's interface and port names: all a part filter looks at. */
export type BoxNames = Pick<Box, 'iif' | 'oif' | 'port'>;

/** A cut kept by CutMemo, with what the part filter says of the cut alone (-1: not asked yet). */
interface Cut {
  readonly box: Box;
  alone: number;
}

/**
 * The cut of an earlier rule j's own box by the rules that may cut its overlaps, shared by every
 * later rule whose first neighbours are the same: on a big chain hundreds of plumbing drops
 * overlap each of tens of thousands of later rules, each pair cut by the same 64 rules. Kept
 * only when the cut never holds more than one piece (see `Overlap.hasPart`).
 */
export class CutMemo {
  /** Signatures by a hash of the cutters they stand for, each with those cutters. */
  private readonly sigs = new Map<number, { cutters: Int32Array; sig: number }[]>();
  private sigCount = 0;
  /** Per rule j, its cuts by prefix signature; 0: nothing is left of rule j. */
  private readonly bySig: (Map<number, Cut | null | 0> | undefined)[] = [];
  /** The neighbour list asked about last, and the signature of each of its prefixes (-1: not yet). */
  private lastNb: Neighbours | undefined;
  private readonly lastSigs = new Int32Array(MAX_CUTTERS + 1);

  /**
   * Cuts by which of the few rules meeting j (`meets`) the neighbour list holds, per j: a bit each,
   * so every later rule with those cutters shares one entry (keyed by the whole prefix, each later
   * rule's own mix of rules that never touch j made its own entry).
   */
  private readonly byMask: (Map<number, Cut | null | 0> | undefined)[] = [];
  /** mark[k] === stamp: k is among the first MAX_CUTTERS rules of the list marked last. */
  private mark: Int32Array | undefined;
  /** The list of rules meeting j asked about last, and its mask in the list marked last. */
  private lastFew: Int32Array | undefined;
  private lastMask = 0;
  private stamp = 0;
  private markedNb: Neighbours | undefined;

  constructor(
    private readonly rules: readonly IrRule[],
    private readonly boxes: readonly Box[],
    private readonly meets?: EarlierMeets,
  ) {}

  /** What is left of rule j after the first MAX_CUTTERS rules of `nb` before it; null when not one piece. */
  cut(nb: Neighbours, j: number): Box | null | undefined {
    const c = this.cutOf(nb, j);
    return c ? c.box : c;
  }

  /** `cut`, with the cut's shape. */
  cutOf(nb: Neighbours, j: number): Cut | null | undefined {
    // The cut is made by the rules of that prefix that meet j's box, in order (the others never
    // touch a piece of it): when j is met by few rules before it, those of them in the prefix
    // say everything about the cut.
    const few = this.meets?.of(j);
    if (few && few.length <= MASK_BITS) {
      // Rules of one kind (the guests' egress drops) are met by the same few rules before them,
      // one list object (EarlierMeets gives equal lists as one): their masks for one later rule
      // are one.
      let mask = this.lastMask;
      if (few !== this.lastFew || nb !== this.markedNb) {
        if (nb !== this.markedNb) this.markPrefix(nb);
        const mark = this.mark!;
        mask = 0;
        for (let t = 0; t < few.length; t++) if (mark[few[t]!] === this.stamp) mask |= 1 << t;
        this.lastFew = few;
        this.lastMask = mask;
      }
      const memo = (this.byMask[j] ??= new Map<number, Cut | null | 0>());
      let c = memo.get(mask);
      if (c === undefined) {
        c = this.kept(this.compute(nb, j));
        memo.set(mask, c);
      }
      return c === 0 ? undefined : c;
    }
    // The cut depends on the neighbours before j only (nb ascends): rules sharing those share it.
    // Keyed by the whole first MAX_CUTTERS, later rules that vary from one rule to the next made
    // nearly every pair of a big chain its own entry (millions of boxes kept).
    const lim = Math.min(nb.length, MAX_CUTTERS);
    // How many of the first neighbours come before j: all of them for most pairs of a big chain
    // (the earlier rule far down the list), found without a walk of 64 each.
    const m = lim === 0 || nb[lim - 1]! < j ? lim : lowerBound(nb, j, 0, lim);
    const sig = this.prefixSig(nb, m);
    // Per rule j, by signature: small integer keys (a key of both was a double, hashed slowly).
    const memo = (this.bySig[j] ??= new Map<number, Cut | null | 0>());
    let c = memo.get(sig);
    if (c === undefined) {
      c = this.kept(this.compute(nb, j));
      memo.set(sig, c);
    }
    return c === 0 ? undefined : c;
  }

  /** A computed cut as kept: 0 for nothing left. */
  private kept(got: Box | null | undefined): Cut | null | 0 {
    if (got === undefined) return 0;
    if (got === null) return null;
    return { box: got, alone: -1 };
  }

  /** Drops what was kept: a cut asked for later is computed again (the same one). */
  forget(): void {
    this.sigs.clear();
    this.bySig.length = 0;
    this.lastNb = undefined;
    this.byMask.length = 0;
    this.markedNb = undefined;
    this.lastFew = undefined;
  }

  private markPrefix(nb: Neighbours): void {
    let size = this.boxes.length;
    for (let t = 0; t < nb.length && t < MAX_CUTTERS; t++) if (nb[t]! >= size) size = nb[t]! + 1;
    if (!this.mark || this.mark.length < size) this.mark = new Int32Array(Math.max(size, this.mark ? this.mark.length * 2 : 0));
    // Stamps, not clearing: a fresh stamp per list leaves the old marks meaning nothing.
    this.stamp++;
    for (let t = 0; t < nb.length && t < MAX_CUTTERS; t++) this.mark[nb[t]!] = this.stamp;
    this.markedNb = nb;
  }

  /** A number per distinct list nb[0..m). Lint asks about one neighbour list many times in a row. */
  private prefixSig(nb: Neighbours, m: number): number {
    if (nb !== this.lastNb) {
      this.lastNb = nb;
      this.lastSigs.fill(-1);
    }
    const known = this.lastSigs[m]!;
    if (known >= 0) return known;
    let h = m;
    for (let t = 0; t < m; t++) h = Math.imul(h ^ nb[t]!, 0x9e3779b1) ^ (h >>> 15);
    const bucket = this.sigs.get(h);
    let sig = bucket?.find((x) => samePrefix(x.cutters, nb, m))?.sig;
    if (sig === undefined) {
      sig = this.sigCount++;
      const entry = { cutters: nb.slice(0, m), sig };
      if (bucket) bucket.push(entry);
      else this.sigs.set(h, [entry]);
    }
    this.lastSigs[m] = sig;
    return sig;
  }

  /** undefined: nothing left; null: the cut held more than one piece at some step. */
  private compute(nb: Neighbours, j: number): Box | null | undefined {
    let piece: Box = this.boxes[j]!;
    for (let t = 0; t < nb.length && t < MAX_CUTTERS; t++) {
      const k = nb[t]!;
      if (k >= j) break;
      if (this.rules[k]!.rate !== undefined || !boxIntersects(piece, this.boxes[k]!)) continue;
      const ys = boxSubtract(piece, this.boxes[k]!);
      if (ys.length > 1) return null;
      const next = ys[0];
      if (next === undefined) return undefined;
      piece = next;
    }
    return piece;
  }
}

/** Whether a box matches every input interface, output interface and bridge port. */
function anyNames(b: BoxNames): boolean {
  return b.iif.neg && b.iif.names.length === 0 && b.oif.neg && b.oif.names.length === 0 && b.port.neg && b.port.names.length === 0;
}

/** Whether `cutters` is exactly b[0..m). */
function samePrefix(cutters: Int32Array, b: Neighbours, m: number): boolean {
  if (cutters.length !== m) return false;
  for (let t = 0; t < m; t++) if (cutters[t] !== b[t]) return false;
  return true;
}

/**
 * `new Overlap(rules, boxes, j, i, nb, meets, memo).hasPart(keep, keepMeet)`, building the
 * Overlap only when the shared cut of rule j does not answer (lint asks this of millions of pairs).
 * `nb`: the rules meeting rule i, ascending; j is one of them.
 */
export function overlapHasPart(
  rules: readonly IrRule[],
  boxes: readonly Box[],
  j: number,
  i: number,
  nb: Neighbours,
  meets: EarlierMeets,
  memo: CutMemo,
  keep: (b: Box) => boolean,
  keepMeet: (a: BoxNames, b: BoxNames) => boolean,
): boolean {
  const one = memo.cutOf(nb, j);
  if (one === undefined) return false;
  if (one) {
    const bi = boxes[i]!;
    // j is one of i's neighbours: a cut that took nothing from j's box meets i's too.
    if (one.box !== boxes[j] && !boxIntersects(one.box, bi)) return false;
    if (!anyNames(bi)) return keepMeet(one.box, bi);
    // Rule i leaves the names free, so the meet has the cut's own: what the filter says of the
    // cut alone, asked once per cut. Hundreds of guests' egress drops, each bound to its own
    // bridge port, meet every rule from a whole prefix to the internet, most of which name no
    // interface.
    if (one.alone < 0) one.alone = keepMeet(one.box, one.box) ? 1 : 0;
    return one.alone === 1;
  }
  return new Overlap(rules, boxes, j, i, nb, meets, memo).hasPart(keep, keepMeet);
}

export class Overlap {
  constructor(
    private readonly rules: readonly IrRule[],
    private readonly boxes: readonly Box[],
    /** Index of the earlier rule in the chain. */
    readonly j: number,
    /** Index of the later rule in the chain. */
    readonly i: number,
    /** The rules meeting rule i, in chain order. */
    private readonly nb: Neighbours,
    /** Where to find the few rules before j meeting it, when lint has them. */
    private readonly meets?: EarlierMeets,
    /** Cuts of rule j shared between later rules. */
    private readonly memo?: CutMemo,
  ) {}

  get earlier(): IrRule {
    return this.rules[this.j]!;
  }

  get later(): IrRule {
    return this.rules[this.i]!;
  }

  /** The rules before j that cut the part (rate-limited ones let packets through: they take nothing). */
  private cutters(whole: Box): Box[] {
    const out: Box[] = [];
    const few = this.meets?.of(this.j);
    if (few) {
      // The same rules as the scan below: a rule not meeting j misses the part. Those among the
      // first MAX_CUTTERS neighbours of i, in the same (ascending) order.
      const nb = this.nb;
      const last = nb.length > MAX_CUTTERS ? nb[MAX_CUTTERS - 1]! : Infinity;
      let at = 0;
      for (let t = 0; t < few.length; t++) {
        const k = few[t]!;
        if (k > last) break;
        at = lowerBound(nb, k, at);
        if (at >= nb.length) break;
        if (nb[at] !== k) continue;
        const bk = this.boxes[k]!;
        if (this.rules[k]!.rate !== undefined || !boxIntersects(whole, bk)) continue;
        out.push(bk);
      }
      return out;
    }
    for (let t = 0; t < this.nb.length && t < MAX_CUTTERS; t++) {
      const k = this.nb[t]!;
      if (k >= this.j) break;
      const bk = this.boxes[k]!;
      // Every piece lies inside `whole`: a rule missing it misses them all.
      if (this.rules[k]!.rate !== undefined || !boxIntersects(whole, bk)) continue;
      out.push(bk);
    }
    return out;
  }

  /** Disjoint boxes whose union is the part; empty when rules before j take all of it. */
  parts(): Box[] {
    const whole = boxIntersect(this.boxes[this.j]!, this.boxes[this.i]!);
    let part: Box[] = [whole];
    for (const bk of this.cutters(whole)) {
      let next: Box[] | undefined;
      for (let p = 0; p < part.length; p++) {
        const x = part[p]!;
        if (!boxIntersects(x, bk)) {
          next?.push(x);
          continue;
        }
        // The first piece bk cuts: the ones before it stay as they are.
        next ??= part.slice(0, p);
        for (const y of boxSubtract(x, bk)) next.push(y);
      }
      if (next === undefined) continue;
      if (next.length > MAX_PIECES) break;
      part = next;
      if (part.length === 0) return part;
    }
    return part;
  }

  /**
   * `parts().some(keep)`, for a `keep` that holds for every box containing a box it holds for.
   * `keepMeet(a, b)`, when given, is `keep(boxIntersect(a, b))` for boxes that meet, without
   * building that box: most pairs of a big chain are answered by it alone.
   *
   * The breadth-first cut is a tree: a piece at step s becomes itself or its pieces after cutter
   * s. A leaf `keep` holds for lies inside a piece of the part however coarse the limits leave
   * it, so the first such leaf answers yes. Without one the answer is no, unless some step had
   * more than MAX_PIECES pieces (the cut stopped there, leaving coarser pieces): then, and when
   * the search grows past its bound, the part is computed.
   */
  hasPart(keep: (b: Box) => boolean, keepMeet?: (a: BoxNames, b: BoxNames) => boolean): boolean {
    // When the same cutters leave one piece P of rule j's box at every step, they leave at most
    // one of the overlap (a piece of the overlap lies in a piece of j's box, and meets a cutter
    // only where that piece does: its pieces are that piece's, narrowed), and so never reach
    // the piece limit: the part is P ∩ box i, exactly (sets have one representation).
    const one = this.memo?.cut(this.nb, this.j);
    if (one === undefined && this.memo) return false;
    if (one) {
      const bi = this.boxes[this.i]!;
      if (!boxIntersects(one, bi)) return false;
      return keepMeet ? keepMeet(one, bi) : keep(boxIntersect(one, bi));
    }
    const whole = boxIntersect(this.boxes[this.j]!, this.boxes[this.i]!);
    const cut = this.cutters(whole);
    const m = cut.length;
    // Pieces alive at each step, as differences: a piece alive from step a to step b adds one to
    // every step in [a, b).
    const alive = new Int32Array(m + 2);
    const stack: Box[] = [whole];
    const from: number[] = [0];
    let seen = 0;
    while (stack.length > 0) {
      const x = stack.pop()!;
      let s = from.pop()!;
      if (++seen > MAX_SEARCH) return this.parts().some(keep);
      const born = s;
      while (s < m && !boxIntersects(x, cut[s]!)) s++;
      alive[born]!++;
      if (s === m) {
        // A leaf: nothing before j takes it.
        if (keep(x)) return true;
        alive[m + 1]!--;
        continue;
      }
      // Alive through step s, replaced by its pieces from step s + 1.
      alive[s + 1]!--;
      const ys = boxSubtract(x, cut[s]!);
      for (let q = ys.length - 1; q >= 0; q--) {
        stack.push(ys[q]!);
        from.push(s + 1);
      }
    }
    let count = 0;
    for (let s = 0; s <= m; s++) {
      count += alive[s]!;
      if (count > MAX_PIECES) return this.parts().some(keep);
    }
    return false;
  }
}

/**
 * One chain's overlap pairs in typed arrays, the Overlap of a pair built when asked: a big chain
 * keeps millions of pairs with a real part (rules from whole prefixes meet every bridge's drop),
 * and an object each, with the later rule's whole neighbour list, ran out of heap.
 */
export class OverlapList {
  private earlier = new Int32Array(1024);
  private later = new Int32Array(1024);
  length = 0;
  /** Per later rule, its first MAX_CUTTERS neighbours: all its overlaps' parts depend on. */
  private readonly heads = new Map<number, Neighbours>();
  private lastLater = -1;

  constructor(
    private readonly rules: readonly IrRule[],
    private readonly boxes: readonly Box[],
    private readonly meets?: EarlierMeets,
    private readonly memo?: CutMemo,
  ) {}

  /** Adds the pair (j, i); `nb`: the rules meeting i, ascending. */
  push(j: number, i: number, nb: Neighbours): void {
    if (this.length === this.earlier.length) {
      const a = new Int32Array(this.length * 2);
      a.set(this.earlier);
      this.earlier = a;
      const b = new Int32Array(this.length * 2);
      b.set(this.later);
      this.later = b;
    }
    this.earlier[this.length] = j;
    this.later[this.length++] = i;
    // Pairs come by later rule: one lookup per rule, not per pair.
    if (i === this.lastLater) return;
    this.lastLater = i;
    // A copy even when short: lint's lists are views into shared chunks, which a kept view
    // would keep whole.
    if (!this.heads.has(i)) this.heads.set(i, nb.slice(0, MAX_CUTTERS));
  }

  /** The earlier rule of pair k. */
  j(k: number): number {
    return this.earlier[k]!;
  }

  /** The later rule of pair k. */
  i(k: number): number {
    return this.later[k]!;
  }

  at(k: number): Overlap {
    const i = this.later[k]!;
    return new Overlap(this.rules, this.boxes, this.earlier[k]!, i, this.heads.get(i)!, this.meets, this.memo);
  }

  toArray(): Overlap[] {
    const out: Overlap[] = [];
    for (let k = 0; k < this.length; k++) out.push(this.at(k));
    return out;
  }
}
