/**
 * Which rules' address sets meet a query set: the compiler asks it once per chain with the host's
 * own addresses, over every policy rule's sources or destinations.
 *
 * Spans are bucketed by the bit length of their width; inside a bucket they are sorted by start,
 * so a span meeting [lo, hi] starts within one bucket width before lo, and two binary searches
 * per bucket bound the scan. Built from typed arrays only (no object per span): a big spec has
 * hundreds of thousands of spans, and the compiler's cost is mostly allocation.
 */
import type { RangeSet } from '../util/rangeset.js';

/** Start and position in a bucket packed in one double (exact below 2^53): start < 2^32, position < 2^21. */
const POS = 2 ** 21;

interface Bucket {
  readonly width: number;
  readonly los: Float64Array;
  readonly his: Float64Array;
  readonly ids: Int32Array;
}

export class SpanIndex {
  private readonly buckets: Bucket[] = [];

  /** `sets[k]`: the set of item k (undefined or empty: none). */
  constructor(sets: readonly (RangeSet | undefined)[]) {
    const n = sets.length;
    const count = new Int32Array(33);
    let total = 0;
    for (let k = 0; k < n; k++) {
      const s = sets[k];
      if (!s) continue;
      for (let i = 0; i < s.length; i++) count[32 - Math.clz32(s[i]![1] - s[i]![0])]!++;
      total += s.length;
    }
    if (total === 0) return;
    const los: Float64Array[] = [];
    const his: Float64Array[] = [];
    const ids: Int32Array[] = [];
    const fill = new Int32Array(33);
    for (let l = 0; l < 33; l++) {
      los.push(new Float64Array(count[l]!));
      his.push(new Float64Array(count[l]!));
      ids.push(new Int32Array(count[l]!));
    }
    for (let k = 0; k < n; k++) {
      const s = sets[k];
      if (!s) continue;
      for (let i = 0; i < s.length; i++) {
        const lo = s[i]![0];
        const hi = s[i]![1];
        const l = 32 - Math.clz32(hi - lo);
        const j = fill[l]!++;
        los[l]![j] = lo;
        his[l]![j] = hi;
        ids[l]![j] = k;
      }
    }
    for (let l = 0; l < 33; l++) {
      const m = count[l]!;
      if (m === 0) continue;
      const width = 2 ** l - 1;
      this.buckets.push(m < POS ? sortPacked(width, los[l]!, his[l]!, ids[l]!) : sortSlow(width, los[l]!, his[l]!, ids[l]!));
    }
  }

  /** Ids of the items meeting `set`, ascending, each once. */
  meeting(set: RangeSet): Int32Array {
    const found: number[] = [];
    for (let q = 0; q < set.length; q++) {
      const lo = set[q]![0];
      const hi = set[q]![1];
      for (let b = 0; b < this.buckets.length; b++) {
        const { width, los, his, ids } = this.buckets[b]!;
        const end = firstAtLeast(los, hi + 1);
        for (let i = firstAtLeast(los, lo - width); i < end; i++) if (his[i]! >= lo) found.push(ids[i]!);
      }
    }
    // An item with several spans is found once per span that meets: once is enough.
    const sorted = Int32Array.from(found).sort();
    let m = 0;
    for (let k = 0; k < sorted.length; k++) if (k === 0 || sorted[k] !== sorted[k - 1]) sorted[m++] = sorted[k]!;
    return sorted.subarray(0, m);
  }
}

/** The first position in ascending `a` whose value is ≥ x. */
function firstAtLeast(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Sorted by start through a numeric sort of packed keys (no comparator, no object per span). */
function sortPacked(width: number, los: Float64Array, his: Float64Array, ids: Int32Array): Bucket {
  const m = los.length;
  const keys = new Float64Array(m);
  for (let j = 0; j < m; j++) keys[j] = los[j]! * POS + j;
  keys.sort();
  const l2 = new Float64Array(m);
  const h2 = new Float64Array(m);
  const i2 = new Int32Array(m);
  for (let j = 0; j < m; j++) {
    // The position is the key's low part: exact (POS is a power of two), without a float modulo.
    const k = keys[j]!;
    const p = k - Math.floor(k / POS) * POS;
    l2[j] = los[p]!;
    h2[j] = his[p]!;
    i2[j] = ids[p]!;
  }
  return { width, los: l2, his: h2, ids: i2 };
}

/** The same order for a bucket too big to pack (2^21 spans or more). */
function sortSlow(width: number, los: Float64Array, his: Float64Array, ids: Int32Array): Bucket {
  const order = Array.from({ length: los.length }, (_, j) => j).sort((a, b) => los[a]! - los[b]!);
  return {
    width,
    los: Float64Array.from(order, (p) => los[p]!),
    his: Float64Array.from(order, (p) => his[p]!),
    ids: Int32Array.from(order, (p) => ids[p]!),
  };
}
