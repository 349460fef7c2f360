/**
 * Which rules' address sets meet a query set: the compiler asks it once per chain with the host's
 * own addresses, over every policy rule's sources or destinations.
 *
 * Spans are bucketed by the bit length of their width; inside a bucket they are sorted by start,
 * so a span meeting [lo, hi] starts within one bucket width before lo, and two binary searches
 * per bucket bound the scan. Built from typed arrays only (no object per span): a big spec has
 * hundreds of thousands of spans, and the compiler's cost is mostly allocation. The buckets are
 * ranges of three arrays shared by all of them (not three arrays each, twice).
 */
import type { RangeSet } from '../util/rangeset.js';

/** Start and position in a bucket packed in one double (exact below 2^53): start < 2^32, position < 2^21. */
const POS = 2 ** 21;

interface Bucket {
  readonly width: number;
  /** Its spans are at [start, end) of the index's arrays. */
  readonly start: number;
  readonly end: number;
}

export class SpanIndex {
  private readonly buckets: Bucket[] = [];
  /** Starts, ends and item ids of every span, bucket after bucket, each bucket by start. */
  private readonly los: Uint32Array;
  private readonly his: Uint32Array;
  private readonly ids: Int32Array;
  /** How many items there are (ids run below it). */
  private readonly n: number;

  /**
   * `sets[k]`: the set of item k (undefined or empty: none). `packBelow`: buckets of fewer spans
   * are sorted through packed keys (at most POS; tests lower it to reach the other way).
   */
  constructor(sets: readonly (RangeSet | undefined)[], packBelow = POS) {
    const n = sets.length;
    this.n = n;
    const count = new Int32Array(33);
    let total = 0;
    for (let k = 0; k < n; k++) {
      const s = sets[k];
      if (!s) continue;
      for (let i = 0; i < s.length; i++) count[32 - Math.clz32(s[i]![1] - s[i]![0])]!++;
      total += s.length;
    }
    // Where each bucket starts in the shared arrays.
    const at = new Int32Array(34);
    for (let l = 0; l < 33; l++) at[l + 1] = at[l]! + count[l]!;
    // Spans in bucket order, unsorted inside a bucket: the key packs the start with the position
    // in the bucket, so sorting a bucket's keys sorts its spans without a comparator. A bucket
    // too big to pack keeps bare starts.
    const keys = new Float64Array(total);
    const his = new Uint32Array(total);
    const ids = new Int32Array(total);
    const fill = at.slice(0, 33);
    for (let k = 0; k < n; k++) {
      const s = sets[k];
      if (!s) continue;
      for (let i = 0; i < s.length; i++) {
        const lo = s[i]![0];
        const hi = s[i]![1];
        const l = 32 - Math.clz32(hi - lo);
        const j = fill[l]!++;
        keys[j] = count[l]! < packBelow ? lo * POS + (j - at[l]!) : lo;
        his[j] = hi;
        ids[j] = k;
      }
    }
    this.los = new Uint32Array(total);
    this.his = new Uint32Array(total);
    this.ids = new Int32Array(total);
    for (let l = 0; l < 33; l++) {
      const start = at[l]!;
      const end = at[l + 1]!;
      if (start === end) continue;
      if (end - start < packBelow) this.placePacked(start, end, keys, his, ids);
      else this.placeSlow(start, end, keys, his, ids);
      this.buckets.push({ width: 2 ** l - 1, start, end });
    }
  }

  /** Sorts bucket [start, end) by its packed keys and writes its spans in that order. */
  private placePacked(start: number, end: number, keys: Float64Array, his: Uint32Array, ids: Int32Array): void {
    const sorted = keys.subarray(start, end).sort();
    for (let j = start; j < end; j++) {
      // The start is the key's high part, the position its low part: exact (POS is a power of two).
      const k = sorted[j - start]!;
      const lo = Math.floor(k / POS);
      const p = start + (k - lo * POS);
      this.los[j] = lo;
      this.his[j] = his[p]!;
      this.ids[j] = ids[p]!;
    }
  }

  /** The same order for a bucket too big to pack (its keys are bare starts): positions sorted by start. */
  private placeSlow(start: number, end: number, keys: Float64Array, his: Uint32Array, ids: Int32Array): void {
    const order = Array.from({ length: end - start }, (_, j) => start + j).sort((a, b) => keys[a]! - keys[b]!);
    for (let j = start; j < end; j++) {
      const p = order[j - start]!;
      this.los[j] = keys[p]!;
      this.his[j] = his[p]!;
      this.ids[j] = ids[p]!;
    }
  }

  /** Per item, 1 while a query has found it (cleared before the query returns). */
  private hit: Uint8Array | undefined;

  /** Ids of the items meeting `set`, ascending, each once. */
  meeting(set: RangeSet): Int32Array {
    // An item with several spans may be found once per span: marked, so it is listed once. The
    // marks are kept for the next query and only the found ones cleared (a big spec asks once per
    // chain, over 100,000 items).
    const hit = (this.hit ??= new Uint8Array(this.n));
    const found: number[] = [];
    const { los, his, ids } = this;
    for (let q = 0; q < set.length; q++) {
      const lo = set[q]![0];
      const hi = set[q]![1];
      for (let b = 0; b < this.buckets.length; b++) {
        const { width, start, end } = this.buckets[b]!;
        const last = firstAtLeast(los, start, end, hi + 1);
        for (let i = firstAtLeast(los, start, last, lo - width); i < last; i++) {
          if (his[i]! >= lo && hit[ids[i]!] === 0) {
            hit[ids[i]!] = 1;
            found.push(ids[i]!);
          }
        }
      }
    }
    const out = Int32Array.from(found).sort();
    for (let m = 0; m < out.length; m++) hit[out[m]!] = 0;
    return out;
  }
}

/** The first position in [from, to) of ascending `a` whose value is ≥ x (`to` when none is). */
function firstAtLeast(a: Uint32Array, from: number, to: number, x: number): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
