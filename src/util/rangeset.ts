/**
 * Sets of integers held as sorted, disjoint, non-adjacent inclusive ranges.
 * Used for address sets (0..2^32-1) and port sets (0..65535); every operation returns a
 * normalised set so equality is structural.
 */

export type Span = readonly [number, number];
export type RangeSet = readonly Span[];

export const EMPTY: RangeSet = [];

export function span(lo: number, hi: number): RangeSet {
  return lo <= hi ? [[lo, hi]] : EMPTY;
}

/** Sorts and merges overlapping or adjacent spans. */
export function normalize(spans: Iterable<Span>): RangeSet {
  const given: readonly Span[] = Array.isArray(spans) ? spans : [...spans];
  // Most inputs are normal already (one address, a host's few sorted addresses): a check and a
  // copy instead of a filter, a sort and a merge. Big specs normalise millions of these.
  let normal = true;
  for (let i = 0; i < given.length; i++) {
    const s = given[i]!;
    if (s[0] > s[1] || (i > 0 && s[0] <= given[i - 1]![1] + 1)) {
      normal = false;
      break;
    }
  }
  if (normal) return given.slice();
  const arr = given.filter((s) => s[0] <= s[1]).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  const out: [number, number][] = [];
  // Indexed reads, not `for (const [lo, hi] of …)`: destructuring runs the iterator protocol,
  // which allocates in code not yet optimised (most of a CLI run).
  for (let i = 0; i < arr.length; i++) {
    const lo = arr[i]![0];
    const hi = arr[i]![1];
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) {
      if (hi > last[1]) last[1] = hi;
    } else {
      out.push([lo, hi]);
    }
  }
  return out;
}

export function union(a: RangeSet, b: RangeSet): RangeSet {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  return normalize([...a, ...b]);
}

export function intersect(a: RangeSet, b: RangeSet): RangeSet {
  // One side much shorter (one address against the internet's dozens of ranges): find where each
  // of its spans lands by binary search instead of walking the long side.
  if (a.length * 8 < b.length) return intersectShort(a, b);
  if (b.length * 8 < a.length) return intersectShort(b, a);
  const out: [number, number][] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const alo = a[i]![0];
    const ahi = a[i]![1];
    const blo = b[j]![0];
    const bhi = b[j]![1];
    const lo = Math.max(alo, blo);
    const hi = Math.min(ahi, bhi);
    if (lo <= hi) out.push([lo, hi]);
    if (ahi < bhi) i++;
    else j++;
  }
  return out;
}

/** The intersection of a short set with a long one (the same set `intersect` gives). */
function intersectShort(short: RangeSet, long: RangeSet): RangeSet {
  const out: [number, number][] = [];
  let from = 0;
  for (let i = 0; i < short.length; i++) {
    const slo = short[i]![0];
    const shi = short[i]![1];
    // The first span of `long` ending at or after slo.
    let lo = from;
    let hi = long.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (long[mid]![1] < slo) lo = mid + 1;
      else hi = mid;
    }
    let j = lo;
    for (; j < long.length; j++) {
      const llo = long[j]![0];
      const lhi = long[j]![1];
      if (llo > shi) break;
      out.push([Math.max(slo, llo), Math.min(shi, lhi)]);
    }
    // The last span touched may reach into the next short span too.
    from = j > lo ? j - 1 : lo;
  }
  return out;
}

/** a minus b. */
export function subtract(a: RangeSet, b: RangeSet): RangeSet {
  if (b.length === 0 || a.length === 0) return a;
  const out: [number, number][] = [];
  let j = 0;
  for (let i = 0; i < a.length; i++) {
    const alo = a[i]![0];
    const ahi = a[i]![1];
    let lo = alo;
    while (j < b.length && b[j]![1] < lo) j++;
    let k = j;
    while (k < b.length && b[k]![0] <= ahi) {
      const blo = b[k]![0];
      const bhi = b[k]![1];
      if (blo > lo) out.push([lo, Math.min(ahi, blo - 1)]);
      lo = Math.max(lo, bhi + 1);
      if (lo > ahi) break;
      k++;
    }
    if (lo <= ahi) out.push([lo, ahi]);
  }
  return out;
}

export function complement(a: RangeSet, universe: Span): RangeSet {
  return subtract([universe], a);
}

export function isEmpty(a: RangeSet): boolean {
  return a.length === 0;
}

export function contains(a: RangeSet, x: number): boolean {
  let lo = 0;
  let hi = a.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (x < a[mid]![0]) hi = mid - 1;
    else if (x > a[mid]![1]) lo = mid + 1;
    else return true;
  }
  return false;
}

/** True when every element of b is in a. */
export function covers(a: RangeSet, b: RangeSet): boolean {
  return subtract(b, a).length === 0;
}

export function equal(a: RangeSet, b: RangeSet): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i]![0] !== b[i]![0] || a[i]![1] !== b[i]![1]) return false;
  }
  return true;
}

export function size(a: RangeSet): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) n += a[i]![1] - a[i]![0] + 1;
  return n;
}
