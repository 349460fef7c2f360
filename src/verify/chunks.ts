/**
 * Short typed arrays cut from larger zero-filled chunks. The fast matrix makes thousands of
 * arrays of a few hundred bytes (a sweep's boundaries and verdicts, a row): each one its own
 * typed array meant its own backing store (an allocation outside the heap, accounted to the
 * garbage collector); a view into a shared chunk is one object on the heap. Memory is never
 * handed out twice, so a view starts zero-filled; a chunk lives as long as any view into it.
 */
export class I32Chunks {
  private chunk: Int32Array;
  private used = 0;

  /** `words`: a chunk's size (a longer array gets a chunk of its own length). */
  constructor(private readonly words = 1 << 14) {
    this.chunk = new Int32Array(0);
  }

  /** A zero-filled array of n ints. */
  take(n: number): Int32Array {
    if (this.used + n > this.chunk.length) {
      this.chunk = new Int32Array(Math.max(this.words, n));
      this.used = 0;
    }
    const v = this.chunk.subarray(this.used, this.used + n);
    this.used += n;
    return v;
  }

  /** A copy of a[0 .. n). */
  copy(a: Int32Array, n: number): Int32Array {
    const v = this.take(n);
    for (let x = 0; x < n; x++) v[x] = a[x]!;
    return v;
  }
}

export class U32Chunks {
  private chunk: Uint32Array;
  private used = 0;

  /** `words`: a chunk's size (a longer array gets a chunk of its own length). */
  constructor(private readonly words = 1 << 14) {
    this.chunk = new Uint32Array(0);
  }

  /** A zero-filled array of n words. */
  take(n: number): Uint32Array {
    if (this.used + n > this.chunk.length) {
      this.chunk = new Uint32Array(Math.max(this.words, n));
      this.used = 0;
    }
    const v = this.chunk.subarray(this.used, this.used + n);
    this.used += n;
    return v;
  }
}
