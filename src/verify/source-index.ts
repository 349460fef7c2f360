/**
 * Rules with source prefixes, indexed by source address: a segment tree over the elementary
 * intervals the prefixes cut the address space into. Each rule sits on O(log n) nodes per
 * prefix; a source address collects the rules on its leaf-to-root walk. Shared by the per-pair
 * engine (chain-eval) and the all-pairs engine (fast-matrix).
 *
 * Built from typed arrays only (a 100k-rule chain has some 200k prefixes): the cuts sorted as a
 * Float64Array, each prefix's leaf span found once and kept for the second (filling) pass.
 */
import type { IrRule } from '../ir/types.js';
import { lowerBoundF64, upperBoundF64 } from './typed-search.js';

export class SourceIndex {
  private readonly bounds: Float64Array;
  private readonly leaves: number;
  private readonly off: Int32Array;
  private readonly idx: Int32Array;

  /** `members`: indexes into `rules` of the rules to index; each must have `match.src`. */
  constructor(rules: readonly IrRule[], members: readonly number[]) {
    // Indexed loops: built once per chain in code not yet optimised, where for-of over arrays
    // and destructuring allocate per step.
    let nr = 0;
    for (let m = 0; m < members.length; m++) nr += rules[members[m]!]!.match.src!.length;
    const cuts = new Float64Array(2 * nr);
    let k = 0;
    for (let m = 0; m < members.length; m++) {
      const src = rules[members[m]!]!.match.src!;
      for (let e = 0; e < src.length; e++) {
        cuts[k++] = src[e]![0];
        cuts[k++] = src[e]![1] + 1;
      }
    }
    cuts.sort();
    let nb = 0;
    for (let x = 0; x < cuts.length; x++) if (nb === 0 || cuts[x] !== cuts[nb - 1]) cuts[nb++] = cuts[x]!;
    const b = cuts.slice(0, nb);
    this.bounds = b;
    // Leaf k is the interval [b[k], b[k+1]); the tree is the usual bottom-up array layout.
    const leaves = Math.max(1, b.length - 1);
    this.leaves = leaves;
    // Each prefix's leaf span [l, r) (tree positions), found once for both passes.
    const spanL = new Int32Array(nr);
    const spanR = new Int32Array(nr);
    const counts = new Int32Array(2 * leaves + 1);
    k = 0;
    for (let m = 0; m < members.length; m++) {
      const src = rules[members[m]!]!.match.src!;
      for (let e = 0; e < src.length; e++) {
        let l = lowerBoundF64(b, src[e]![0], 0) + leaves;
        let r = lowerBoundF64(b, src[e]![1] + 1, l - leaves) + leaves;
        spanL[k] = l;
        spanR[k++] = r;
        while (l < r) {
          if (l & 1) counts[l++ + 1]!++;
          if (r & 1) counts[--r + 1]!++;
          l >>= 1;
          r >>= 1;
        }
      }
    }
    for (let x = 1; x < counts.length; x++) counts[x]! += counts[x - 1]!;
    this.off = counts;
    const fill = counts.slice();
    const idx = new Int32Array(counts[counts.length - 1]!);
    k = 0;
    for (let m = 0; m < members.length; m++) {
      const i = members[m]!;
      const n = rules[i]!.match.src!.length;
      for (let e = 0; e < n; e++, k++) {
        let l = spanL[k]!;
        let r = spanR[k]!;
        while (l < r) {
          if (l & 1) idx[fill[l++]!++] = i;
          if (r & 1) idx[fill[--r]!++] = i;
          l >>= 1;
          r >>= 1;
        }
      }
    }
    this.idx = idx;
  }

  /** Calls `f` with every indexed rule whose source prefixes contain `src` (unordered; a rule with several prefixes may come more than once). */
  forEach(src: number, f: (rule: number) => void): void {
    const k = upperBoundF64(this.bounds, src) - 1;
    if (k < 0 || k >= this.bounds.length - 1) return;
    for (let node = k + this.leaves; node >= 1; node >>= 1) for (let x = this.off[node]!; x < this.off[node + 1]!; x++) f(this.idx[x]!);
  }

  /** The leaf (elementary interval) holding `src`, or -1: sources on one leaf get the same rules. */
  leafOf(src: number): number {
    const k = upperBoundF64(this.bounds, src) - 1;
    return k < 0 || k >= this.bounds.length - 1 ? -1 : k;
  }

  /** Appends to `out` the rules forEach(src) would give, for the leaf leafOf(src) returned (≥ 0). */
  collectLeaf(leaf: number, out: number[]): void {
    const off = this.off;
    const idx = this.idx;
    for (let node = leaf + this.leaves; node >= 1; node >>= 1) for (let x = off[node]!, end = off[node + 1]!; x < end; x++) out.push(idx[x]!);
  }
}
