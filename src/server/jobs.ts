/**
 * Background jobs: long analyses (matrix, lint, render of a big spec version) run in worker
 * threads while the request that asked answers `202` with the job's id at once; the client polls
 * `GET /api/jobs/ID` for progress and, when done, the result (the same JSON the synchronous call
 * answers for a small spec). At most `concurrency` jobs run at once, `maxQueued` more wait; past
 * that a new job is refused (429). Jobs live in memory: a finished one is kept `keepMs` (10 min)
 * for its owner to fetch, and a restart forgets them (the client submits again).
 *
 * The same request again (same owner, kind, spec text and arguments) while its job is queued,
 * running or done and kept gets that job back instead of a new one: ten browser tabs asking for
 * one big matrix share one computation.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { Diagnostic } from '../diag/diagnostic.js';
import type { Assume } from '../model/types.js';

export type JobRequest = { readonly name: string; readonly file: string; readonly text: string } & (
  | { readonly kind: 'matrix'; readonly views: readonly Assume[] }
  | { readonly kind: 'lint' }
  | { readonly kind: 'render'; readonly target: string; readonly host: string | undefined; readonly params: readonly [string, string][] }
);

/** What the worker tells the parent. */
export type JobMessage =
  | { readonly type: 'progress'; readonly step: number; readonly steps: number; readonly stage: string }
  | { readonly type: 'done'; readonly result: unknown }
  | { readonly type: 'refused'; readonly message: string; readonly diagnostics: Diagnostic[] }
  | { readonly type: 'failed'; readonly message: string };

export type JobState = 'queued' | 'running' | 'done' | 'failed';

export interface JobView {
  readonly id: string;
  readonly kind: JobRequest['kind'];
  /** What it works on: `spec@vN`. */
  readonly subject: string;
  readonly state: JobState;
  readonly progress: { readonly step: number; readonly steps: number; readonly stage: string };
  /** Jobs ahead of it while queued. */
  readonly queuePosition?: number;
  readonly createdAt: string;
  readonly finishedAt?: string;
  /** When done: the answer the synchronous route gives for small specs. */
  readonly result?: unknown;
  /** When failed: why (a refusal's message, with its diagnostics). */
  readonly error?: string;
  readonly diagnostics?: readonly Diagnostic[];
}

interface Job {
  view: JobView;
  readonly ownerId: number;
  readonly req: JobRequest;
  readonly key: string;
}

/** What makes two requests the same job: owner, kind, the spec's text (by digest) and every argument. */
function jobKey(ownerId: number, req: JobRequest): string {
  const { text, ...rest } = req;
  return `${ownerId}\0${createHash('sha256').update(text).digest('hex')}\0${JSON.stringify(rest)}`;
}

/**
 * The worker: the compiled job-worker.js; or, running from source under tsx (tests, `bin/cordon`
 * in a checkout), a two-line bootstrap that registers tsx's loader in the worker and then imports
 * job-worker.ts (Node 20 does not apply a parent's `--import tsx` to a worker's entry module).
 */
function spawnWorker(workerData: JobRequest): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./job-worker.js', import.meta.url), { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./job-worker.ts', import.meta.url).href;
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData, execArgv: [] });
}

export class Jobs {
  private readonly jobs = new Map<string, Job>();
  private readonly queue: Job[] = [];
  private running = 0;
  private readonly workers = new Set<Worker>();

  constructor(
    private readonly concurrency = 1,
    private readonly maxQueued = 16,
    private readonly keepMs = 10 * 60_000,
  ) {}

  /** Queues a job for `ownerId`; 'full' when the queue is. */
  submit(ownerId: number, req: JobRequest, subject: string): JobView | 'full' {
    this.prune();
    const key = jobKey(ownerId, req);
    for (const j of this.jobs.values()) if (j.key === key && j.view.state !== 'failed') return this.view(j);
    if (this.queue.length >= this.maxQueued) return 'full';
    const id = randomBytes(8).toString('hex');
    const job: Job = {
      ownerId,
      req,
      key,
      view: { id, kind: req.kind, subject, state: 'queued', progress: { step: 0, steps: 1, stage: 'queued' }, createdAt: new Date().toISOString() },
    };
    this.jobs.set(id, job);
    this.queue.push(job);
    this.pump();
    return this.view(job);
  }

  /** The job, if it exists and `ownerId` owns it (admins pass undefined: any job). */
  get(id: string, ownerId: number | undefined): JobView | undefined {
    const job = this.jobs.get(id);
    if (!job || (ownerId !== undefined && job.ownerId !== ownerId)) return undefined;
    return this.view(job);
  }

  /** Stops every worker (the server is closing). */
  async close(): Promise<void> {
    this.queue.length = 0;
    await Promise.all([...this.workers].map((w) => w.terminate()));
  }

  private view(job: Job): JobView {
    const pos = this.queue.indexOf(job);
    return pos >= 0 ? { ...job.view, queuePosition: pos } : job.view;
  }

  private pump(): void {
    while (this.running < this.concurrency && this.queue.length > 0) {
      const job = this.queue.shift()!;
      this.running++;
      this.start(job);
    }
  }

  private start(job: Job): void {
    job.view = { ...job.view, state: 'running', progress: { step: 0, steps: 1, stage: 'starting' } };
    const w = spawnWorker(job.req);
    this.workers.add(w);
    let settled = false;
    const finish = (patch: Partial<JobView>): void => {
      if (settled) return;
      settled = true;
      job.view = { ...job.view, ...patch, finishedAt: new Date().toISOString() };
      this.workers.delete(w);
      this.running--;
      this.pump();
    };
    w.on('message', (m: JobMessage) => {
      if (m.type === 'progress') job.view = { ...job.view, progress: { step: m.step, steps: m.steps, stage: m.stage } };
      else if (m.type === 'done')
        finish({ state: 'done', result: m.result, progress: { step: job.view.progress.steps, steps: job.view.progress.steps, stage: 'done' } });
      else finish({ state: 'failed', error: m.message, ...(m.type === 'refused' && m.diagnostics.length ? { diagnostics: m.diagnostics } : {}) });
    });
    w.on('error', (e) => finish({ state: 'failed', error: `the job's worker failed: ${e.message}` }));
    w.on('exit', (code) => finish({ state: 'failed', error: `the job's worker stopped (exit ${code}) before it finished` }));
  }

  /** Forgets finished jobs older than keepMs. */
  private prune(): void {
    const cutoff = Date.now() - this.keepMs;
    for (const [id, j] of this.jobs) if (j.view.finishedAt !== undefined && Date.parse(j.view.finishedAt) < cutoff) this.jobs.delete(id);
  }
}
