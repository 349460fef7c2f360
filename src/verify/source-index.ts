/**
 * Rules with source prefixes, indexed by source address: a segment tree over the elementary
 * intervals the prefixes cut the address space into. Each rule sits on O(log n) nodes per
 * prefix; a source address collects the rules on its leaf-to-root walk. Shared by the per-pair
 * engine (chain-eval) and the all-pairs engine (fast-matrix).
 */
import type { IrRule } from '../ir/types.js';
import { lowerBound, upperBound } from '../util/search.js';

export class SourceIndex {
  private readonly bounds: Float64Array;
  private readonly leaves: number;
  private readonly off: Int32Array;
  private readonly idx: Int32Array;

  /** `members`: indexes into `rules` of the rules to index; each must have `match.src`. */
  constructor(rules: readonly IrRule[], members: readonly number[]) {
    const cuts: number[] = [];
    for (const i of members) for (const [lo, hi] of rules[i]!.match.src!) cuts.push(lo, hi + 1);
    const b = Float64Array.from(new Set(cuts)).sort();
    this.bounds = b;
    // Leaf k is the interval [b[k], b[k+1]); the tree is the usual bottom-up array layout.
    const leaves = Math.max(1, b.length - 1);
    this.leaves = leaves;
    const nodes = (i: number, f: (node: number) => void): void => {
      for (const [lo, hi] of rules[i]!.match.src!) {
        let l = lowerBound(b, lo) + leaves;
        let r = lowerBound(b, hi + 1) + leaves;
        while (l < r) {
          if (l & 1) f(l++);
          if (r & 1) f(--r);
          l >>= 1;
          r >>= 1;
        }
      }
    };
    const counts = new Int32Array(2 * leaves + 1);
    for (const i of members) nodes(i, (n) => counts[n + 1]!++);
    for (let k = 1; k < counts.length; k++) counts[k]! += counts[k - 1]!;
    this.off = counts;
    const fill = counts.slice();
    this.idx = new Int32Array(counts[counts.length - 1]!);
    for (const i of members) nodes(i, (n) => (this.idx[fill[n]!++] = i));
  }

  /** Calls `f` with every indexed rule whose source prefixes contain `src` (unordered; a rule with several prefixes may come more than once). */
  forEach(src: number, f: (rule: number) => void): void {
    const k = upperBound(this.bounds, src) - 1;
    if (k < 0 || k >= this.bounds.length - 1) return;
    for (let node = k + this.leaves; node >= 1; node >>= 1) for (let x = this.off[node]!; x < this.off[node + 1]!; x++) f(this.idx[x]!);
  }
}
