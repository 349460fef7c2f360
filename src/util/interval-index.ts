/** An index of intervals by overlap; shared by the compiler (rules by address) and lint (rules by range). */
import { lowerBound } from './search.js';

/**
 * Finds intervals overlapping a query interval. Intervals are bucketed by the bit length of their
 * width; inside a bucket they are sorted by start, so an overlap must start within one bucket
 * width of the query and two binary searches per bucket bound the scan.
 */
export class IntervalIndex {
  /** Only the non-empty buckets, each with its width bound and parallel arrays sorted by start. */
  private readonly levels: { width: number; los: Float64Array; his: Float64Array; ids: Int32Array }[] = [];

  constructor(items: readonly { lo: number; hi: number; id: number }[]) {
    const byLevel: { lo: number; hi: number; id: number }[][] = [];
    for (const it of items) {
      const level = 32 - Math.clz32(it.hi - it.lo);
      (byLevel[level] ??= []).push(it);
    }
    byLevel.forEach((list, l) => {
      if (!list || list.length === 0) return;
      list.sort((a, b) => a.lo - b.lo);
      this.levels.push({
        width: 2 ** l - 1,
        los: Float64Array.from(list, (x) => x.lo),
        his: Float64Array.from(list, (x) => x.hi),
        ids: Int32Array.from(list, (x) => x.id),
      });
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
