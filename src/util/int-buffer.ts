/**
 * A growable run of 32-bit integers, reused: lint collects each rule's neighbours in one and
 * keeps a sorted typed copy. Typed, because a big chain's lists hold millions of entries, which
 * in JS arrays the collector traced at every major GC, and because a typed array sorts natively
 * (no comparator called per step).
 */
export class IntBuffer {
  private data: Int32Array;
  length = 0;

  constructor(capacity = 64) {
    this.data = new Int32Array(Math.max(1, capacity));
  }

  push(x: number): void {
    if (this.length === this.data.length) {
      const grown = new Int32Array(this.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = x;
  }

  clear(): void {
    this.length = 0;
  }

  /** The values, in a view valid until the next push or clear. */
  view(): Int32Array {
    return this.data.subarray(0, this.length);
  }

  /** The values, ascending, in a new array. */
  sorted(): Int32Array {
    return this.data.slice(0, this.length).sort();
  }
}
