/** An index of intervals by overlap; shared by the compiler (rules by address) and lint (rules by range). */
import { lowerBound } from './search.js';

/** Sort keys pack start and position into one double (exact below 2^53): start < 2^32, position < 2^21. */
const POS_BITS = 2 ** 21;

/**
 * Finds intervals overlapping a query interval. Intervals are bucketed by the bit length of their
 * width; inside a bucket they are sorted by start, so an overlap must start within one bucket
 * width of the query and two binary searches per bucket bound the scan.
 */
export class IntervalIndex {
  /** Only the non-empty buckets, each with its width bound and parallel arrays sorted by start. */
  private readonly levels: { width: number; los: Float64Array; his: Float64Array; ids: Int32Array }[] = [];

  constructor(items: readonly { lo: number; hi: number; id: number }[]) {
    const byLevel: number[][] = [];
    for (let k = 0; k < items.length; k++) {
      const it = items[k]!;
      (byLevel[32 - Math.clz32(it.hi - it.lo)] ??= []).push(k);
    }
    const packed = items.length < POS_BITS && items.every((it) => it.lo >= 0 && it.lo <= 0xffffffff && Number.isInteger(it.lo));
    byLevel.forEach((list, l) => {
      if (!list || list.length === 0) return;
      let order: ArrayLike<number>;
      if (packed) {
        // A numeric typed-array sort instead of a comparator over objects (millions of them on big
        // specs). Start first, then position in `items`: the order a stable sort by start gives.
        const keys = new Float64Array(list.length);
        for (let k = 0; k < list.length; k++) keys[k] = items[list[k]!]!.lo * POS_BITS + list[k]!;
        keys.sort();
        order = Int32Array.from(keys, (key) => key % POS_BITS);
      } else {
        order = list.sort((a, b) => items[a]!.lo - items[b]!.lo);
      }
      const n = order.length;
      const los = new Float64Array(n);
      const his = new Float64Array(n);
      const ids = new Int32Array(n);
      for (let k = 0; k < n; k++) {
        const it = items[order[k]!]!;
        los[k] = it.lo;
        his[k] = it.hi;
        ids[k] = it.id;
      }
      this.levels.push({ width: 2 ** l - 1, los, his, ids });
    });
  }

  /** How many entries a query would scan (an upper bound on its answer); costs only binary searches. */
  estimate(lo: number, hi: number): number {
    let n = 0;
    for (const lv of this.levels) n += lowerBound(lv.los, hi + 1) - lowerBound(lv.los, lo - lv.width);
    return n;
  }

  /** Ids of intervals overlapping [lo, hi], unordered. */
  query(lo: number, hi: number, out: number[]): void {
    for (const lv of this.levels) {
      const end = lowerBound(lv.los, hi + 1);
      for (let i = lowerBound(lv.los, lo - lv.width); i < end; i++) if (lv.his[i]! >= lo) out.push(lv.ids[i]!);
    }
  }
}
