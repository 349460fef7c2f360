/**
 * Reading an event log the guard wrote: whole lines only (a line still being written waits for its
 * newline), lines that are not events of the schema reported by number rather than skipped silently,
 * and following the file as it grows (`--follow`), also across truncation.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { parseEventLine, type GuardEvent } from './events.js';

export interface LogChunk {
  readonly events: readonly GuardEvent[];
  /** 1-based line numbers that are not events of this schema. */
  readonly bad: readonly number[];
}

/** Reads an event log from a byte offset, a line number and a leftover partial line onwards. */
export class EventLogReader {
  private offset = 0;
  private lineNo = 0;
  private partial = '';

  constructor(private readonly path: string) {}

  /** Everything new since the last call. */
  read(): LogChunk {
    const size = statSync(this.path).size;
    if (size < this.offset) {
      // Truncated (rotated in place): start over.
      this.offset = 0;
      this.partial = '';
    }
    if (size === this.offset) return { events: [], bad: [] };
    const fd = openSync(this.path, 'r');
    let text: string;
    try {
      const buf = Buffer.alloc(size - this.offset);
      const n = readSync(fd, buf, 0, buf.length, this.offset);
      this.offset += n;
      text = this.partial + buf.subarray(0, n).toString('utf8');
    } finally {
      closeSync(fd);
    }
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    const events: GuardEvent[] = [];
    const bad: number[] = [];
    for (const l of lines) {
      this.lineNo++;
      if (l.trim() === '') continue;
      const e = parseEventLine(l);
      if (e) events.push(e);
      else bad.push(this.lineNo);
    }
    return { events, bad };
  }
}
