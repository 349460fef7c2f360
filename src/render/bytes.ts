/**
 * Output as bytes in a fixed buffer, passed on chunk by chunk: for renderers whose files are tens
 * of megabytes (nftables at 10,000 hosts: 250 MB of set elements). Text made byte by byte here is
 * never a JavaScript string, so there is nothing to join, copy or collect, and a file written
 * through it is never held whole.
 *
 * A region written between `beginChecked` and `endChecked` is refused unless it holds only
 * printable ASCII, tab and newline: the generated blocks of the Emitter (numbers, addresses,
 * keywords; no text from the spec). It is checked before any of it leaves through `flush`, so an
 * unchecked byte never reaches a file.
 */
import { UnsafeOutput } from './escape.js';

/** Where full chunks go: `chunk[0, length)` is valid only during the call (the buffer is reused). */
export type ChunkSink = (chunk: Uint8Array, length: number) => void;

const DEFAULT_CHUNK = 1 << 16;

/** The decimal digits of 0–65535 (octets, ports, protocols, prefix lengths), as bytes, each made when first asked for. */
const DIGITS: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(65536);

export class ByteOut {
  private buf: Buffer;
  private pos = 0;
  /** Bytes already passed to the sink. */
  private flushed = 0;
  /** Start of the checked region in the current buffer, or -1 outside one. */
  private checkFrom = -1;

  constructor(
    private readonly sink: ChunkSink,
    chunk = DEFAULT_CHUNK,
  ) {
    this.buf = Buffer.allocUnsafe(chunk);
  }

  /** Every byte written so far, flushed or not. */
  get total(): number {
    return this.flushed + this.pos;
  }

  /** Room for `n` more bytes, flushing what is there first when needed. */
  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.flush();
    if (n > this.buf.length) this.buf = Buffer.allocUnsafe(n);
  }

  /** Passes on what is buffered (checking the open checked region first) and starts over. */
  flush(): void {
    if (this.checkFrom >= 0) {
      checkGenerated(this.buf, this.checkFrom, this.pos);
      this.checkFrom = 0;
    }
    if (this.pos > 0) this.sink(this.buf, this.pos);
    this.flushed += this.pos;
    this.pos = 0;
  }

  beginChecked(): void {
    this.checkFrom = this.pos;
  }

  endChecked(): void {
    checkGenerated(this.buf, this.checkFrom, this.pos);
    this.checkFrom = -1;
  }

  /** A string as UTF-8. */
  text(s: string): void {
    this.room(s.length * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** A string of ASCII (keywords, names made of letters and digits), one byte per character; anything else is refused. */
  ascii(s: string): void {
    this.room(s.length);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) throw new UnsafeOutput(`${JSON.stringify(s.slice(0, 60))} is not ASCII`);
      b[p++] = c;
    }
    this.pos = p;
  }

  byte(c: number): void {
    if (this.pos === this.buf.length) this.flush();
    this.buf[this.pos++] = c;
  }

  /** A non-negative integer in decimal. */
  num(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a non-negative integer: ${n}`);
    if (n < 65536) {
      this.bytes((DIGITS[n] ??= Buffer.from(String(n), 'latin1')));
      return;
    }
    let digits = 1;
    for (let t = n; t >= 10; t = Math.floor(t / 10)) digits++;
    this.room(digits);
    const b = this.buf;
    for (let p = this.pos + digits - 1, t = n; p >= this.pos; p--, t = Math.floor(t / 10)) b[p] = 48 + (t % 10);
    this.pos += digits;
  }

  /** An IPv4 address (unsigned 32-bit number) in dotted quad. */
  ipv4(n: number): void {
    this.room(15);
    const b = this.buf;
    let p = this.pos;
    for (let shift = 24; shift >= 0; shift -= 8) {
      const o = (n >>> shift) & 255;
      if (o >= 100) {
        b[p++] = 48 + ((o / 100) | 0);
        b[p++] = 48 + (((o / 10) | 0) % 10);
      } else if (o >= 10) b[p++] = 48 + ((o / 10) | 0);
      b[p++] = 48 + (o % 10);
      if (shift > 0) b[p++] = 46;
    }
    this.pos = p;
  }

  /** Bytes as they are. */
  bytes(src: Uint8Array): void {
    this.room(src.length);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < src.length; i++) b[p++] = src[i]!;
    this.pos = p;
  }
}

/** Refuses a generated region that holds anything but printable ASCII, tab and newline (emit.ts `generated`). */
function checkGenerated(b: Uint8Array, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    const c = b[i]!;
    if (c > 0x7e || (c < 0x20 && c !== 0x09 && c !== 0x0a)) {
      const at = Math.max(from, i - 30);
      const around = Buffer.from(b.subarray(at, Math.min(to, i + 30))).toString('latin1');
      throw new UnsafeOutput(`a generated block would carry a character outside printable ASCII: ${JSON.stringify(around)}`);
    }
  }
}

/** A sink that keeps copies of every chunk, and what they add up to as one buffer. */
export function collectChunks(): { sink: ChunkSink; bytes: () => Buffer } {
  const parts: Buffer[] = [];
  return {
    sink: (chunk, length) => parts.push(Buffer.from(chunk.subarray(0, length))),
    bytes: () => (parts.length === 1 ? parts[0]! : Buffer.concat(parts)),
  };
}
