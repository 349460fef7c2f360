/**
 * Text assembled as UTF-8 bytes from pre-encoded parts, handed out in chunks of about a fixed
 * size. For outputs of millions of short pieces (the matrix list and JSON of a 1,000-host spec
 * are 3 and 24 MB): each distinct piece is encoded once, and no string per line or per chunk is
 * built, joined and encoded again on write.
 */

const encoder = new TextEncoder();

/** The UTF-8 bytes of `s`. */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

export class ByteSink {
  private buf: Uint8Array;
  private pos = 0;

  /** `chunkBytes`: how full a chunk gets before `ready` says to take it. */
  constructor(private readonly chunkBytes = 1 << 20) {
    this.buf = new Uint8Array(chunkBytes + 4096);
  }

  /** Bytes written since the last take(). */
  get length(): number {
    return this.pos;
  }

  /** Whether the chunk size is reached (take() it). */
  get ready(): boolean {
    return this.pos >= this.chunkBytes;
  }

  put(b: Uint8Array): void {
    if (this.pos + b.length > this.buf.length) this.grow(b.length);
    // set() even for parts of a few bytes: measured cheaper than a byte loop in code that runs
    // once per command, mostly before the optimiser has compiled it.
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** The bytes written since the last take(); the sink starts a new chunk. */
  take(): Uint8Array {
    const out = this.buf.subarray(0, this.pos);
    this.buf = new Uint8Array(this.chunkBytes + 4096);
    this.pos = 0;
    return out;
  }

  private grow(n: number): void {
    const grown = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    grown.set(this.buf.subarray(0, this.pos));
    this.buf = grown;
  }
}
