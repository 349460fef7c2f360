/**
 * Short typed arrays cut from larger zero-filled chunks. The fast matrix makes thousands of
 * arrays of a few hundred bytes (a sweep's boundaries and verdicts, a row), lint hundreds of
 * thousands of neighbour lists: each one its own typed array meant its own backing store (an
 * allocation outside the heap, accounted to the garbage collector); a view into a shared chunk is
 * one object on the heap. Memory is never handed out twice, so a view starts zero-filled; a chunk
 * lives as long as any view into it.
 */
class Chunks<A extends Int32Array | Uint32Array> {
  private chunk: A;
  private used = 0;

  /** `words`: a chunk's size (a longer array gets a chunk of its own length). */
  constructor(
    private readonly make: (n: number) => A,
    private readonly words: number,
  ) {
    this.chunk = make(0);
  }

  /** A zero-filled array of n words. */
  take(n: number): A {
    if (this.used + n > this.chunk.length) {
      this.chunk = this.make(Math.max(this.words, n));
      this.used = 0;
    }
    const v = this.chunk.subarray(this.used, this.used + n) as A;
    this.used += n;
    return v;
  }
}

export class I32Chunks extends Chunks<Int32Array> {
  constructor(words = 1 << 14) {
    super((n) => new Int32Array(n), words);
  }

  /** A copy of a[0 .. n). */
  copy(a: Int32Array, n: number): Int32Array {
    const v = this.take(n);
    for (let x = 0; x < n; x++) v[x] = a[x]!;
    return v;
  }
}

export class U32Chunks extends Chunks<Uint32Array> {
  constructor(words = 1 << 14) {
    super((n) => new Uint32Array(n), words);
  }
}
