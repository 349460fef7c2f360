/**
 * Binary search over one typed-array type each. util/search.ts serves plain and typed arrays
 * alike; its element loads see several array kinds and stay polymorphic in the hot loops of the
 * all-pairs engine, where these see exactly one.
 */

/** The first index in [lo, a.length) whose value is ≥ x (a.length when none is). */
export function lowerBoundI32(a: Int32Array, x: number, lo: number): number {
  let hi = a.length;
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (a[m]! < x) lo = m + 1;
    else hi = m;
  }
  return lo;
}

/** The first index in [0, a.length) whose value is > x (a.length when none is). */
export function upperBoundI32(a: Int32Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (a[m]! <= x) lo = m + 1;
    else hi = m;
  }
  return lo;
}

/** The first index in [lo, a.length) whose value is ≥ x (a.length when none is). */
export function lowerBoundF64(a: Float64Array, x: number, lo: number): number {
  let hi = a.length;
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (a[m]! < x) lo = m + 1;
    else hi = m;
  }
  return lo;
}

/** The first index in [0, a.length) whose value is > x (a.length when none is). */
export function upperBoundF64(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (a[m]! <= x) lo = m + 1;
    else hi = m;
  }
  return lo;
}
