/**
 * Background jobs: long analyses (matrix, lint, test, render, diff of big spec versions) run in worker
 * threads while the request that asked answers `202` with the job's id at once; the client polls
 * `GET /api/jobs/ID` for progress and, when done, the result (the same JSON the synchronous call
 * answers for a small spec). At most `concurrency` jobs run at once, `maxQueued` more wait; past
 * that a new job is refused (429).
 *
 * With a `JobStore` (the server's database) jobs outlive the process: each is written when it is
 * queued and when it ends, its result as the JSON text the worker made, so a client polling a job
 * across a restart still gets it; a job that was queued or running when the server stopped is run
 * again when the next one starts, under the same id. A finished job is kept `keepMs` (10 min) for
 * its owner to fetch. Progress (step, stage) is not written: after a restart a resumed job starts
 * over from step 0. Without a store (the upload checks, which a request awaits) jobs live in memory.
 *
 * The same request again (same owner, kind, spec text and arguments) while its job is queued,
 * running or done and kept gets that job back instead of a new one: ten browser tabs asking for
 * one big matrix share one computation.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Worker } from 'node:worker_threads';
import type { Diagnostic } from '../diag/diagnostic.js';
import type { Assume } from '../model/types.js';
import { spawnWorker } from './worker-thread.js';

export type JobRequest = { readonly name: string; readonly file: string; readonly text: string } & (
  | { readonly kind: 'matrix'; readonly views: readonly Assume[] }
  | { readonly kind: 'lint' }
  | { readonly kind: 'render'; readonly target: string; readonly host: string | undefined; readonly params: readonly [string, string][] }
  | { readonly kind: 'test' }
  /** `text`/`file` are the new version; the old one comes along. */
  | { readonly kind: 'diff'; readonly oldText: string; readonly oldFile: string; readonly views: readonly Assume[] }
  /** `cordon check` of an upload: its diagnostics and host count (a large upload is loaded off the main thread). */
  | { readonly kind: 'check' }
);

/** What the worker tells the parent. The result travels as JSON text: stored and answered as it is, never re-serialized. */
export type JobMessage =
  | { readonly type: 'progress'; readonly step: number; readonly steps: number; readonly stage: string }
  | { readonly type: 'done'; readonly resultJson: string }
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
  /** When failed: why (a refusal's message, with its diagnostics). */
  readonly error?: string;
  readonly diagnostics?: readonly Diagnostic[];
}

/** A job as the store keeps it. */
export interface StoredJob {
  readonly id: string;
  readonly ownerId: number;
  readonly kind: JobRequest['kind'];
  readonly subject: string;
  /** What makes two requests the same job (jobKey). */
  readonly key: string;
  /** The request (with the spec's text), kept until the job ends so a restart can run it again; null once it ended. */
  readonly request: JobRequest | null;
  readonly state: JobState;
  readonly createdAt: string;
  readonly finishedAt: string | null;
  /** The job's steps when it ended (its progress then), null before. */
  readonly steps: number | null;
  readonly error: string | null;
  readonly diagnostics: readonly Diagnostic[] | null;
}

/** Where jobs are kept across restarts (the Store implements it). */
export interface JobStore {
  insertJob(job: StoredJob): void;
  /** The job ended: its state, when, and its result's JSON text or why it failed; its request is dropped. */
  finishJob(
    id: string,
    end: { state: 'done' | 'failed'; finishedAt: string; steps: number; resultJson?: string; error?: string; diagnostics?: readonly Diagnostic[] },
  ): void;
  /** Jobs that ended at or after `sinceIso` and jobs that have not ended, oldest first (results not included). */
  liveJobs(sinceIso: string): StoredJob[];
  jobResult(id: string): string | undefined;
  /** Forgets jobs that ended before `beforeIso`. */
  forgetJobs(beforeIso: string): void;
}

interface Job {
  view: JobView;
  readonly ownerId: number;
  /** Dropped when the job ends (the spec's text need not stay in memory). */
  req: JobRequest | undefined;
  readonly key: string;
  /** The result, for jobs without a store. */
  resultJson?: string;
}

/** What makes two requests the same job: owner, kind, the spec's text (by digest) and every argument. */
function jobKey(ownerId: number, req: JobRequest): string {
  // Every field by digest: the texts (a diff has two) are large, the key stays short.
  return `${ownerId}\0${createHash('sha256').update(JSON.stringify(req)).digest('hex')}`;
}

export interface JobsOptions {
  readonly store?: JobStore;
  readonly concurrency?: number;
  readonly maxQueued?: number;
  readonly keepMs?: number;
}

export class Jobs {
  private readonly jobs = new Map<string, Job>();
  private readonly queue: Job[] = [];
  private running = 0;
  private readonly workers = new Set<Worker>();
  private readonly waiters = new Map<string, ((v: JobView) => void)[]>();
  private closing = false;
  private readonly store: JobStore | undefined;
  private readonly concurrency: number;
  private readonly maxQueued: number;
  private readonly keepMs: number;

  constructor(opts: JobsOptions = {}) {
    this.store = opts.store;
    this.concurrency = opts.concurrency ?? 1;
    this.maxQueued = opts.maxQueued ?? 16;
    this.keepMs = opts.keepMs ?? 10 * 60_000;
    if (!this.store) return;
    // What the last server left: finished jobs still kept, and the ones it did not finish, queued again in order.
    this.store.forgetJobs(new Date(Date.now() - this.keepMs).toISOString());
    for (const j of this.store.liveJobs(new Date(Date.now() - this.keepMs).toISOString())) {
      const ended = j.state === 'done' || j.state === 'failed';
      const job: Job = {
        ownerId: j.ownerId,
        key: j.key,
        req: ended ? undefined : (j.request ?? undefined),
        view: {
          id: j.id,
          kind: j.kind,
          subject: j.subject,
          state: ended ? j.state : 'queued',
          progress: ended
            ? { step: j.state === 'done' ? (j.steps ?? 1) : 0, steps: j.steps ?? 1, stage: j.state }
            : { step: 0, steps: 1, stage: 'queued (again, after a restart)' },
          createdAt: j.createdAt,
          ...(j.finishedAt ? { finishedAt: j.finishedAt } : {}),
          ...(j.error !== null ? { error: j.error } : {}),
          ...(j.diagnostics?.length ? { diagnostics: j.diagnostics } : {}),
        },
      };
      this.jobs.set(j.id, job);
      if (!ended) {
        if (job.req) this.queue.push(job);
        else this.end(job, { state: 'failed', error: 'the request of this job was not kept; ask again' });
      }
    }
    this.pump();
  }

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
    this.store?.insertJob({
      id,
      ownerId,
      kind: req.kind,
      subject,
      key,
      request: req,
      state: 'queued',
      createdAt: job.view.createdAt,
      finishedAt: null,
      steps: null,
      error: null,
      diagnostics: null,
    });
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

  /** A done job's result, as the JSON text the worker made. */
  resultJson(id: string): string | undefined {
    const job = this.jobs.get(id);
    if (!job || job.view.state !== 'done') return undefined;
    return job.resultJson ?? this.store?.jobResult(id);
  }

  /** Resolves when the job has ended (done or failed). */
  async settled(id: string): Promise<JobView> {
    const job = this.jobs.get(id);
    if (!job) throw new Error(`no job ${id}`);
    if (job.view.state === 'done' || job.view.state === 'failed') return job.view;
    return new Promise((resolve) => this.waiters.set(id, [...(this.waiters.get(id) ?? []), resolve]));
  }

  /**
   * Stops every worker (the server is closing). Nothing is recorded as failed: in the store the
   * unfinished jobs stay queued or running, and the next server runs them again.
   */
  async close(): Promise<void> {
    this.closing = true;
    this.queue.length = 0;
    await Promise.all([...this.workers].map((w) => w.terminate()));
  }

  private view(job: Job): JobView {
    const pos = this.queue.indexOf(job);
    return pos >= 0 ? { ...job.view, queuePosition: pos } : job.view;
  }

  private pump(): void {
    while (!this.closing && this.running < this.concurrency && this.queue.length > 0) {
      const job = this.queue.shift()!;
      this.running++;
      this.start(job);
    }
  }

  /** Records the end of a job (in the store too) and wakes whoever awaits it. */
  private end(job: Job, patch: { state: 'done' | 'failed'; resultJson?: string; error?: string; diagnostics?: readonly Diagnostic[] }): void {
    const finishedAt = new Date().toISOString();
    const { resultJson, ...rest } = patch;
    const steps = job.view.progress.steps;
    job.view = {
      ...job.view,
      ...rest,
      // As a restarted server reads it back from the store (only the step count is kept there).
      progress: patch.state === 'done' ? { step: steps, steps, stage: 'done' } : { step: 0, steps, stage: 'failed' },
      finishedAt,
    };
    job.req = undefined;
    if (this.store) this.store.finishJob(job.view.id, { ...patch, finishedAt, steps });
    else if (resultJson !== undefined) job.resultJson = resultJson;
    for (const w of this.waiters.get(job.view.id) ?? []) w(job.view);
    this.waiters.delete(job.view.id);
  }

  private start(job: Job): void {
    job.view = { ...job.view, state: 'running', progress: { step: 0, steps: 1, stage: 'starting' } };
    const w = spawnWorker('job-worker', job.req!);
    this.workers.add(w);
    let settled = false;
    const finish = (patch: Parameters<Jobs['end']>[1]): void => {
      if (settled || this.closing) return;
      settled = true;
      this.end(job, patch);
      this.workers.delete(w);
      this.running--;
      this.pump();
    };
    w.on('message', (m: JobMessage) => {
      if (m.type === 'progress') job.view = { ...job.view, progress: { step: m.step, steps: m.steps, stage: m.stage } };
      else if (m.type === 'done') finish({ state: 'done', resultJson: m.resultJson });
      else finish({ state: 'failed', error: m.message, ...(m.type === 'refused' && m.diagnostics.length ? { diagnostics: m.diagnostics } : {}) });
    });
    w.on('error', (e) => finish({ state: 'failed', error: `the job's worker failed: ${e.message}` }));
    w.on('exit', (code) => finish({ state: 'failed', error: `the job's worker stopped (exit ${code}) before it finished` }));
  }

  /** Forgets finished jobs older than keepMs. */
  private prune(): void {
    const cutoff = Date.now() - this.keepMs;
    for (const [id, j] of this.jobs) if (j.view.finishedAt !== undefined && Date.parse(j.view.finishedAt) < cutoff) this.jobs.delete(id);
    this.store?.forgetJobs(new Date(cutoff).toISOString());
  }
}
