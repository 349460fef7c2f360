/**
 * The main thread's side of query-worker.ts: one long-lived worker, asked one question at a time
 * in order (as the main thread would answer them, but without stopping the event loop). Started on
 * the first question; a worker that dies fails the questions it had and is started afresh on the
 * next one.
 */
import type { Worker } from 'node:worker_threads';
import type { Diagnostic } from '../diag/diagnostic.js';
import { Refusal, type QueryArgs } from './analysis.js';
import { spawnWorker } from './worker-thread.js';

export interface QueryRequest {
  readonly id: number;
  /** `specId@version`: what the worker's cache keeps the compiled version under. */
  readonly key: string;
  readonly name: string;
  /** Sent only when the worker may not have the version compiled; without it, a worker that lacks it answers 'missing'. */
  readonly text?: string;
  readonly args: QueryArgs;
}

export type QueryReply =
  | { readonly id: number; readonly type: 'done'; readonly json: string }
  | { readonly id: number; readonly type: 'missing' }
  | { readonly id: number; readonly type: 'refused'; readonly message: string; readonly diagnostics: Diagnostic[] }
  | { readonly id: number; readonly type: 'failed'; readonly message: string };

export class QueryThread {
  private worker: Worker | undefined;
  private next = 1;
  private readonly pending = new Map<number, { w: Worker; resolve: (json: string | undefined) => void; reject: (e: Error) => void }>();
  /** Versions this worker was sent: later questions about them go without the text (hundreds of KB per question otherwise). */
  private sent = new Set<string>();

  /**
   * The explanation's JSON text (what `cordon query --json` prints); rejects with the library's
   * Refusal for bad arguments. `text` is read only when the worker needs the version.
   */
  async ask(key: string, name: string, text: () => string, args: QueryArgs): Promise<string> {
    if (!this.worker) this.start(); // before reading `sent`: a new worker starts with none
    if (this.sent.has(key)) {
      const r = await this.post({ key, name, args });
      if (r !== undefined) return r;
    }
    this.sent.add(key);
    return (await this.post({ key, name, text: text(), args }))!;
  }

  /** undefined: the worker no longer has the version (it keeps a few); ask again with the text. */
  private post(q: Omit<QueryRequest, 'id'>): Promise<string | undefined> {
    const w = this.worker ?? this.start();
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { w, resolve, reject });
      w.postMessage({ id, ...q } satisfies QueryRequest);
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }

  private start(): Worker {
    const w = spawnWorker('query-worker');
    this.worker = w;
    this.sent = new Set();
    w.on('message', (m: QueryReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.type === 'done') p.resolve(m.json);
      else if (m.type === 'missing') p.resolve(undefined);
      else if (m.type === 'refused') p.reject(new Refusal(m.message, m.diagnostics));
      else p.reject(new Error(`query failed: ${m.message}`));
    });
    const fail = (why: string) => {
      if (this.worker === w) this.worker = undefined;
      for (const [id, p] of this.pending)
        if (p.w === w) {
          this.pending.delete(id);
          p.reject(new Error(why));
        }
    };
    w.on('error', (e) => fail(`the query thread failed: ${e.message}`));
    w.on('exit', (code) => fail(`the query thread stopped (exit ${code})`));
    return w;
  }
}
