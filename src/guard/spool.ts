/**
 * A bounded queue of event lines on disk, for a guard that reports to a server it cannot always
 * reach: lines are appended to `spool.jsonl` (0600, in a 0700 directory) and taken from its head in
 * order; what was delivered is marked by a byte offset kept in `spool.offset`. A restarted guard
 * resends what is still there, in order. Delivery is at least once: a crash between a send and the
 * offset write sends a batch twice, never loses one.
 *
 * Bounded: an append that would make the file larger than `maxBytes` (after dropping the delivered
 * head) is refused, and the caller counts it. One process per spool: a lock file holds its pid.
 */
import { closeSync, existsSync, fstatSync, ftruncateSync, openSync, readFileSync, readSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { makeDirs } from '../util/mkdirs.js';

export interface SpoolBatch {
  /** Whole lines, oldest first, without their newlines. */
  readonly lines: readonly string[];
  /** The offset just past the last of them (commit it once they are delivered). */
  readonly end: number;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class Spool {
  private fd: number;
  private offset: number;
  private size: number;
  private count: number;
  private readonly file: string;
  private readonly offsetFile: string;
  private readonly lockFile: string;

  constructor(
    readonly dir: string,
    readonly maxBytes: number,
  ) {
    makeDirs(dir, 0o700);
    this.file = join(dir, 'spool.jsonl');
    this.offsetFile = join(dir, 'spool.offset');
    this.lockFile = join(dir, 'spool.lock');
    this.lock();
    this.fd = openSync(this.file, 'a+', 0o600);
    // A line cut short by a crash would merge with the next append: cut it off.
    const text = readFileSync(this.file);
    const lastNl = text.lastIndexOf(0x0a);
    this.size = lastNl + 1;
    if (this.size !== text.length) ftruncateSync(this.fd, this.size);
    const saved = existsSync(this.offsetFile) ? Number(readFileSync(this.offsetFile, 'utf8').trim()) : 0;
    // An offset beyond the file (it was truncated after the offset was written) starts over: resent, not lost.
    this.offset = Number.isInteger(saved) && saved >= 0 && saved <= this.size ? saved : 0;
    this.count = 0;
    for (let i = this.offset; i < this.size; i++) if (text[i] === 0x0a) this.count++;
  }

  private lock(): void {
    try {
      writeFileSync(this.lockFile, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(readFileSync(this.lockFile, 'utf8').trim());
      // Our own pid too: another reporter in this process (a lab guard watches several hosts in one).
      if (Number.isInteger(pid) && pid > 0 && alive(pid))
        throw new Error(
          `the report spool ${this.dir} is in use by process ${pid} (one guard per spool: give another --report-spool, or remove ${this.lockFile} if no guard runs)`,
        );
      writeFileSync(this.lockFile, `${process.pid}\n`, { mode: 0o600 });
    }
  }

  /** Lines waiting to be delivered. */
  get pending(): number {
    return this.count;
  }

  /** Bytes on disk (delivered head included until it is dropped). */
  get bytes(): number {
    return this.size;
  }

  /** Appends one line; false when it does not fit in `maxBytes` (the caller counts the drop). */
  append(line: string): boolean {
    const buf = Buffer.from(`${line.replace(/\n/g, ' ')}\n`, 'utf8');
    if (this.size + buf.length > this.maxBytes && this.offset > 0) this.compact();
    if (this.size + buf.length > this.maxBytes) return false;
    writeSync(this.fd, buf);
    this.size += buf.length;
    this.count++;
    return true;
  }

  /** The oldest undelivered lines: at most `maxLines`, at most `maxBytes` together (at least one line, however long). */
  peek(maxLines: number, maxBytes: number): SpoolBatch {
    const want = Math.min(this.size - this.offset, maxBytes);
    if (want <= 0) return { lines: [], end: this.offset };
    const read = (len: number): Buffer => {
      const buf = Buffer.alloc(len);
      return buf.subarray(0, readSync(this.fd, buf, 0, len, this.offset));
    };
    let text = read(want);
    // One line longer than maxBytes: read it whole (the file always ends with a newline), so the queue never sticks behind it.
    if (text.indexOf(0x0a) < 0) text = read(this.size - this.offset);
    const lines: string[] = [];
    let pos = 0;
    while (lines.length < maxLines) {
      const nl = text.indexOf(0x0a, pos);
      if (nl < 0) break;
      lines.push(text.subarray(pos, nl).toString('utf8'));
      pos = nl + 1;
    }
    return { lines, end: this.offset + pos };
  }

  /** Marks everything before `end` delivered. */
  commit(end: number, lines: number): void {
    this.offset = Math.min(end, this.size);
    this.count = Math.max(0, this.count - lines);
    if (this.offset === this.size) {
      // All delivered: start the file over (the offset first, so a crash in between resends rather than skips).
      this.saveOffset(0);
      ftruncateSync(this.fd, 0);
      this.offset = 0;
      this.size = 0;
      this.count = 0;
      return;
    }
    this.saveOffset(this.offset);
  }

  /** Drops the delivered head by rewriting the rest into a new file. */
  private compact(): void {
    const rest = Buffer.alloc(this.size - this.offset);
    readSync(this.fd, rest, 0, rest.length, this.offset);
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, rest, { mode: 0o600 });
    this.saveOffset(0);
    renameSync(tmp, this.file);
    closeSync(this.fd);
    this.fd = openSync(this.file, 'a+', 0o600);
    this.size = fstatSync(this.fd).size;
    this.offset = 0;
  }

  private saveOffset(n: number): void {
    writeFileSync(this.offsetFile, `${n}\n`, { mode: 0o600 });
  }

  close(): void {
    closeSync(this.fd);
    rmSync(this.lockFile, { force: true });
  }
}
