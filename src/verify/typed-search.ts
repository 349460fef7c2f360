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

/**
 * Sorts a[0 .. n) ascending in place. TypedArray.prototype.sort needs a view (subarray) of the
 * range, a new object per call, and leaves the optimised code for a builtin: the engine sorts
 * thousands of short lists (sweep boundaries, rows, candidate rules), mostly a few dozen long.
 */
export function sortI32(a: Int32Array, n: number): void {
  quickSort(a, 0, n - 1);
}

function quickSort(a: Int32Array, lo: number, hi: number): void {
  while (hi - lo > 24) {
    // Median of three as the pivot; recurse into the smaller side, loop on the larger.
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < a[lo]!) swap(a, mid, lo);
    if (a[hi]! < a[lo]!) swap(a, hi, lo);
    if (a[hi]! < a[mid]!) swap(a, hi, mid);
    const pivot = a[mid]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        swap(a, i, j);
        i++;
        j--;
      }
    }
    if (j - lo < hi - i) {
      quickSort(a, lo, j);
      lo = i;
    } else {
      quickSort(a, i, hi);
      hi = j;
    }
  }
  for (let i = lo + 1; i <= hi; i++) {
    const x = a[i]!;
    let j = i - 1;
    while (j >= lo && a[j]! > x) {
      a[j + 1] = a[j]!;
      j--;
    }
    a[j + 1] = x;
  }
}

function swap(a: Int32Array, i: number, j: number): void {
  const t = a[i]!;
  a[i] = a[j]!;
  a[j] = t;
}
