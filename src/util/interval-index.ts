/** An index of intervals by overlap; shared by the compiler (rules by address) and lint (rules by range). */
import type { IntBuffer } from './int-buffer.js';
import { lowerBound } from './search.js';

/** Sort keys pack start and position into one double (exact below 2^53): start < 2^32, position < 2^21. */
const POS_BITS = 2 ** 21;
/** Buckets by the bit length of a width: 0 (a single point) to 32. */
const LEVELS = 33;

/** Each item's bucket in `level`, the bucket sizes in `count`; whether every start packs into a sort key. */
function bucket(lo: Float64Array, hi: Float64Array, n: number, level: Uint8Array, count: Int32Array): boolean {
  let packed = true;
  for (let k = 0; k < n; k++) {
    const l = 32 - Math.clz32(hi[k]! - lo[k]!);
    level[k] = l;
    count[l]!++;
    if (!(lo[k]! >= 0 && lo[k]! <= 0xffffffff && Number.isInteger(lo[k]!))) packed = false;
  }
  return packed;
}

/** Positions bucket by bucket (from `from`), each bucket by start, ties by position: one numeric sort per bucket. */
function packedOrder(lo: Float64Array, level: Uint8Array, from: Int32Array, count: Int32Array): Int32Array {
  const n = level.length;
  const at = from.slice();
  const keys = new Float64Array(n);
  for (let k = 0; k < n; k++) keys[at[level[k]!]!++] = lo[k]! * POS_BITS + k;
  for (let l = 0; l < LEVELS; l++) if (count[l]! > 1) keys.subarray(from[l], from[l]! + count[l]!).sort();
  // A loop, not Int32Array.from with a mapper (a call per key), nor % (a float modulo).
  const order = new Int32Array(n);
  for (let k = 0; k < n; k++) order[k] = keys[k]! - Math.floor(keys[k]! / POS_BITS) * POS_BITS;
  return order;
}

/** `packedOrder` for starts that do not pack (negative, fractional or past 32 bits): a stable comparator sort. */
function comparedOrder(lo: Float64Array, level: Uint8Array, from: Int32Array, count: Int32Array): Int32Array {
  const n = level.length;
  const at = from.slice();
  const order = new Int32Array(n);
  for (let k = 0; k < n; k++) order[at[level[k]!]!++] = k;
  for (let l = 0; l < LEVELS; l++) {
    if (count[l]! < 2) continue;
    const run = Array.from(order.subarray(from[l], from[l]! + count[l]!));
    // Array.prototype.sort is stable: equal starts keep their given order.
    run.sort((a, b) => lo[a]! - lo[b]!);
    order.set(run, from[l]);
  }
  return order;
}

function gather(column: Float64Array, sorted: Int32Array): Float64Array {
  const out = new Float64Array(sorted.length);
  for (let k = 0; k < sorted.length; k++) out[k] = column[sorted[k]!]!;
  return out;
}

function gatherIds(column: Int32Array, sorted: Int32Array): Int32Array {
  const out = new Int32Array(sorted.length);
  for (let k = 0; k < sorted.length; k++) out[k] = column[sorted[k]!]!;
  return out;
}

/** Per entry, the end of the run of entries with its start. */
function runEnds(lo: Float64Array, sorted: Int32Array): Int32Array {
  const m = sorted.length;
  const runEnd = new Int32Array(m);
  for (let k = m - 1; k >= 0; k--) runEnd[k] = k + 1 < m && lo[sorted[k + 1]!] === lo[sorted[k]!] ? runEnd[k + 1]! : k + 1;
  return runEnd;
}

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
    // Items by bucket with a counting sort, in their given order within one: no array per bucket
    // grown item by item. Each loop is a small function of its own, called for every index: V8
    // optimises those whole after a few calls, where a long loop in one big function had it
    // compile that whole function on the stack (a 1k lint builds 27 indexes of ~100k items).
    const level = new Uint8Array(n);
    const count = new Int32Array(LEVELS);
    const packed = bucket(lo, hi, n, level, count) && n < POS_BITS;
    const from = new Int32Array(LEVELS);
    for (let l = 1; l < LEVELS; l++) from[l] = from[l - 1]! + count[l - 1]!;
    // Each bucket sorted by start, ties in given order. Packed: a numeric typed-array sort of start
    // and position in one double, instead of a comparator (millions of items on big specs).
    const order = packed ? packedOrder(lo, level, from, count) : comparedOrder(lo, level, from, count);
    // Second intervals cost two arrays per bucket: only when some item has one.
    const two = cols.two;
    for (let l = 0; l < LEVELS; l++) {
      const m = count[l]!;
      if (m === 0) continue;
      const sorted = order.subarray(from[l], from[l]! + m);
      byEndInRuns(lo, hi, sorted);
      this.levels.push({
        width: 2 ** l - 1,
        los: gather(lo, sorted),
        his: gather(hi, sorted),
        ids: gatherIds(cols.id, sorted),
        runEnd: runEnds(lo, sorted),
        los2: two ? gather(cols.lo2, sorted) : undefined,
        his2: two ? gather(cols.hi2, sorted) : undefined,
      });
    }
  }

  /**
   * How many entries a query would scan at most (an upper bound on its answer); costs only binary
   * searches. Runs of one start that end before the query are skipped whole, which this ignores.
   */
  estimate(lo: number, hi: number): number {
    let n = 0;
    // Index loops over the buckets: a for-of allocated an iterator per call until optimised.
    for (let v = 0; v < this.levels.length; v++) {
      const lv = this.levels[v]!;
      n += lowerBound(lv.los, hi + 1) - lowerBound(lv.los, lo - lv.width);
    }
    return n;
  }

  /** Ids of intervals overlapping [lo, hi], unordered. */
  query(lo: number, hi: number, out: number[]): void {
    for (let v = 0; v < this.levels.length; v++) {
      const lv = this.levels[v]!;
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
  queryWithin(lo: number, hi: number, lo2: number, hi2: number, out: IntBuffer): void {
    for (let v = 0; v < this.levels.length; v++) {
      const lv = this.levels[v]!;
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
 * Sorts `order` (sorted by start, ties in given order) in place so that each run of one start is
 * sorted by end, longest first, ties still in given order: a scan can then leave a run at its
 * first entry that ends before the query.
 */
function byEndInRuns(lo: Float64Array, hi: Float64Array, order: Int32Array): void {
  const n = order.length;
  for (let a = 0; a < n;) {
    const start = lo[order[a]!]!;
    let b = a + 1;
    let sorted = true;
    while (b < n && lo[order[b]!] === start) {
      if (hi[order[b]!]! > hi[order[b - 1]!]!) sorted = false;
      b++;
    }
    if (!sorted) {
      const run = Array.from(order.subarray(a, b));
      // Array.prototype.sort is stable: equal ends keep their given order.
      run.sort((x, y) => hi[y]! - hi[x]!);
      order.set(run, a);
    }
    a = b;
  }
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
