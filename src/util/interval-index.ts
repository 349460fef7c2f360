/** An index of intervals by overlap; shared by the compiler (rules by address) and lint (rules by range). */
import { lowerBound } from './search.js';

/** Sort keys pack start and position into one double (exact below 2^53): start < 2^32, position < 2^21. */
const POS_BITS = 2 ** 21;

/**
 * One indexed interval [lo, hi] with its id. `lo2`/`hi2`, when given, are a second interval the
 * item also spans (another dimension: a rule's destination range beside its source range), which
 * `queryWithin` can filter on without a lookup per candidate.
 */
export interface IntervalItem {
  readonly lo: number;
  readonly hi: number;
  readonly id: number;
  readonly lo2?: number;
  readonly hi2?: number;
}

/**
 * Finds intervals overlapping a query interval. Intervals are bucketed by the bit length of their
 * width; inside a bucket they are sorted by start, so an overlap must start within one bucket
 * width of the query and two binary searches per bucket bound the scan.
 */
export class IntervalIndex {
  /** Only the non-empty buckets, each with its width bound and parallel arrays sorted by start. */
  private readonly levels: {
    width: number;
    los: Float64Array;
    his: Float64Array;
    ids: Int32Array;
    /** Per entry, the end of the run of entries with its start (ends descend within a run). */
    runEnd: Int32Array;
    los2: Float64Array | undefined;
    his2: Float64Array | undefined;
  }[] = [];

  /** `items`, or the same intervals as columns (in the same order: the index is the same). */
  constructor(items: readonly IntervalItem[] | IntervalColumns) {
    if (items instanceof IntervalColumns) {
      this.build(items);
      return;
    }
    const cols = new IntervalColumns(
      items.length,
      items.some((it) => it.lo2 !== undefined || it.hi2 !== undefined),
    );
    for (const it of items) cols.push(it.lo, it.hi, it.id, it.lo2 ?? -Infinity, it.hi2 ?? Infinity);
    this.build(cols);
  }

  private build(cols: IntervalColumns): void {
    const n = cols.length;
    const { lo, hi } = cols;
    const byLevel: number[][] = [];
    let packed = n < POS_BITS;
    for (let k = 0; k < n; k++) {
      (byLevel[32 - Math.clz32(hi[k]! - lo[k]!)] ??= []).push(k);
      if (!(lo[k]! >= 0 && lo[k]! <= 0xffffffff && Number.isInteger(lo[k]!))) packed = false;
    }
    // Second intervals cost two arrays per bucket: only when some item has one.
    const two = cols.two;
    byLevel.forEach((list, l) => {
      if (!list || list.length === 0) return;
      let order: ArrayLike<number>;
      if (packed) {
        // A numeric typed-array sort instead of a comparator over objects (millions of them on big
        // specs). Start first, then position in `items`: the order a stable sort by start gives.
        const keys = new Float64Array(list.length);
        for (let k = 0; k < list.length; k++) keys[k] = lo[list[k]!]! * POS_BITS + list[k]!;
        keys.sort();
        // A loop, not Int32Array.from with a mapper (a call per key), nor % (a float modulo).
        const pos = new Int32Array(list.length);
        for (let k = 0; k < list.length; k++) pos[k] = keys[k]! - Math.floor(keys[k]! / POS_BITS) * POS_BITS;
        order = pos;
      } else {
        order = list.sort((a, b) => lo[a]! - lo[b]!);
      }
      const sorted = byEndInRuns(lo, hi, order);
      const m = sorted.length;
      const runEnd = new Int32Array(m);
      for (let k = m - 1; k >= 0; k--) runEnd[k] = k + 1 < m && lo[sorted[k + 1]!] === lo[sorted[k]!] ? runEnd[k + 1]! : k + 1;
      const los = new Float64Array(m);
      const his = new Float64Array(m);
      const ids = new Int32Array(m);
      const los2 = two ? new Float64Array(m) : undefined;
      const his2 = two ? new Float64Array(m) : undefined;
      for (let k = 0; k < m; k++) {
        const x = sorted[k]!;
        los[k] = lo[x]!;
        his[k] = hi[x]!;
        ids[k] = cols.id[x]!;
        if (los2 && his2) {
          los2[k] = cols.lo2[x]!;
          his2[k] = cols.hi2[x]!;
        }
      }
      this.levels.push({ width: 2 ** l - 1, los, his, ids, runEnd, los2, his2 });
    });
  }

  /**
   * How many entries a query would scan at most (an upper bound on its answer); costs only binary
   * searches. Runs of one start that end before the query are skipped whole, which this ignores.
   */
  estimate(lo: number, hi: number): number {
    let n = 0;
    for (const lv of this.levels) n += lowerBound(lv.los, hi + 1) - lowerBound(lv.los, lo - lv.width);
    return n;
  }

  /** Ids of intervals overlapping [lo, hi], unordered. */
  query(lo: number, hi: number, out: number[]): void {
    for (const lv of this.levels) {
      const end = lowerBound(lv.los, hi + 1);
      const { his, ids, runEnd } = lv;
      for (let i = lowerBound(lv.los, lo - lv.width); i < end;) {
        // Ends descend within a run of one start: the first that ends too early ends the run.
        if (his[i]! < lo) i = runEnd[i]!;
        else out.push(ids[i++]!);
      }
    }
  }

  /**
   * Ids of items overlapping [lo, hi] whose second interval (unbounded when the item has none)
   * overlaps [lo2, hi2], unordered; an id may appear more than once.
   */
  queryWithin(lo: number, hi: number, lo2: number, hi2: number, out: number[]): void {
    for (const lv of this.levels) {
      const end = lowerBound(lv.los, hi + 1);
      const { his, los2, his2, ids, runEnd } = lv;
      if (!los2 || !his2) {
        for (let i = lowerBound(lv.los, lo - lv.width); i < end;) {
          if (his[i]! < lo) i = runEnd[i]!;
          else out.push(ids[i++]!);
        }
        continue;
      }
      let last = -1;
      for (let i = lowerBound(lv.los, lo - lv.width); i < end;) {
        // Ends descend within a run of one start: the first that ends too early ends the run
        // (many rules share the internet's ranges, and most queries end before them).
        if (his[i]! < lo) {
          i = runEnd[i]!;
          continue;
        }
        // Items of one id with the same interval sit side by side (same start and end, same
        // bucket, in the order given): report the id once per run.
        if (los2[i]! <= hi2 && his2[i]! >= lo2 && ids[i] !== last) out.push((last = ids[i]!));
        i++;
      }
    }
  }
}

/**
 * `order` (sorted by start, ties in given order) with each run of one start sorted by end,
 * longest first, ties still in given order: a scan can then leave a run at its first entry that
 * ends before the query.
 */
function byEndInRuns(lo: Float64Array, hi: Float64Array, order: ArrayLike<number>): Int32Array {
  const out = Int32Array.from(order);
  const n = out.length;
  for (let a = 0; a < n;) {
    const start = lo[out[a]!]!;
    let b = a + 1;
    let sorted = true;
    while (b < n && lo[out[b]!] === start) {
      if (hi[out[b]!]! > hi[out[b - 1]!]!) sorted = false;
      b++;
    }
    if (!sorted) {
      const run = Array.from(out.subarray(a, b));
      // Array.prototype.sort is stable: equal ends keep their given order.
      run.sort((x, y) => hi[y]! - hi[x]!);
      out.set(run, a);
    }
    a = b;
  }
  return out;
}

/**
 * Intervals to index, column by column (no object per interval: big chains index hundreds of
 * thousands). Grows as it is filled; `lo2`/`hi2` are kept only when `two`.
 */
export class IntervalColumns {
  lo: Float64Array;
  hi: Float64Array;
  id: Int32Array;
  lo2: Float64Array;
  hi2: Float64Array;
  length = 0;

  constructor(
    capacity: number,
    /** Whether the items have second intervals (`queryWithin` filters on them). */
    readonly two: boolean,
  ) {
    const c = Math.max(capacity, 16);
    this.lo = new Float64Array(c);
    this.hi = new Float64Array(c);
    this.id = new Int32Array(c);
    this.lo2 = new Float64Array(two ? c : 0);
    this.hi2 = new Float64Array(two ? c : 0);
  }

  push(lo: number, hi: number, id: number, lo2 = -Infinity, hi2 = Infinity): void {
    if (this.length === this.lo.length) this.grow();
    const k = this.length++;
    this.lo[k] = lo;
    this.hi[k] = hi;
    this.id[k] = id;
    if (this.two) {
      this.lo2[k] = lo2;
      this.hi2[k] = hi2;
    }
  }

  private grow(): void {
    const c = this.lo.length * 2;
    const more = <T extends Float64Array | Int32Array>(a: T, size: number): T => {
      const b = new (a.constructor as new (n: number) => T)(size);
      b.set(a);
      return b;
    };
    this.lo = more(this.lo, c);
    this.hi = more(this.hi, c);
    this.id = more(this.id, c);
    if (this.two) {
      this.lo2 = more(this.lo2, c);
      this.hi2 = more(this.hi2, c);
    }
  }
}
