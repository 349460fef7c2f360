/**
 * Writes events as JSON lines to a stream without ever letting a slow consumer (a full pipe, a
 * slow disk) grow the guard's memory: events wait in a bounded queue while the stream is busy,
 * and what does not fit is dropped and counted (`cordon_events_dropped_total`), never silently.
 */
import type { Writable } from 'node:stream';
import { eventLine, type GuardEvent } from './events.js';

/** How many events may wait for a busy stream by default; at ~300 bytes each about 3 MB. */
export const DEFAULT_QUEUE_LIMIT = 10_000;

export interface EventWriterOptions {
  /** Events waiting beyond this are dropped and counted (default DEFAULT_QUEUE_LIMIT). */
  readonly limit?: number;
  /** Told of every dropped event (the metrics registry counts them). */
  readonly onDrop?: (count: number) => void;
  /** Told of every event written (listeners: tests, the metrics). */
  readonly onEvent?: (e: GuardEvent) => void;
}

export class EventWriter {
  private readonly queue: string[] = [];
  private waiting = false;
  private closed = false;
  private droppedCount = 0;
  private writtenCount = 0;
  private readonly limit: number;

  constructor(
    private readonly out: Writable,
    private readonly opts: EventWriterOptions = {},
  ) {
    this.limit = opts.limit ?? DEFAULT_QUEUE_LIMIT;
    if (this.limit < 1) throw new Error('event queue limit must be at least 1');
    out.on('drain', () => {
      this.waiting = false;
      this.flush();
    });
    // A consumer that went away (closed pipe) turns every later event into a counted drop.
    out.on('error', () => {
      this.closed = true;
      this.drop(this.queue.length);
      this.queue.length = 0;
    });
  }

  /** Queues an event; false when it was dropped (queue full or stream gone). */
  write(e: GuardEvent): boolean {
    const line = eventLine(e);
    this.opts.onEvent?.(e);
    if (this.closed || this.queue.length >= this.limit) {
      this.drop(1);
      return false;
    }
    this.queue.push(line);
    this.flush();
    return true;
  }

  /** Events dropped so far. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Events handed to the stream so far. */
  get written(): number {
    return this.writtenCount;
  }

  /** Events waiting for the stream. */
  get pending(): number {
    return this.queue.length;
  }

  /** Resolves once the queue is empty (or the stream is gone), for an orderly stop. */
  async drained(timeoutMs = 2000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.queue.length > 0 && !this.closed && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  }

  private drop(n: number): void {
    if (n <= 0) return;
    this.droppedCount += n;
    this.opts.onDrop?.(n);
  }

  private flush(): void {
    while (!this.waiting && !this.closed && this.queue.length > 0) {
      const line = this.queue.shift()!;
      this.writtenCount++;
      // write() returning false means the stream's own buffer is full: wait for 'drain'.
      if (!this.out.write(`${line}\n`)) this.waiting = true;
    }
  }
}
