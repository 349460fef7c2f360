/**
 * `cordon guard --report-to URL`: every event also goes to a cordon server (`POST /api/events`,
 * a bearer token with `events:write`), for one view over many hosts. Events pass through a spool
 * on disk (src/guard/spool.ts), so a server that is down, slow or unreachable costs nothing but
 * disk: they are sent in order, in batches, once it answers again — also after the guard restarts.
 *
 * Never silent: a full spool drops and counts (`cordon_report_dropped_total{reason="full"}`, and a
 * `report` event with the count once there is room again); the server refusing an event as invalid
 * drops and counts it (`reason="refused"`). A refused token (401/403) is said once, clearly, and
 * sending pauses for `refusedRetryMs` instead of retrying in a loop; an unreachable server is
 * retried with a backoff. The token is only ever put in the Authorization header: every message
 * this module makes is also scrubbed of it.
 */
import { EVENT_SCHEMA_VERSION, type GuardEvent } from './events.js';
import type { GuardMetrics } from './metrics.js';
import { Spool } from './spool.js';

/** The spool's default bound: about 50,000 events of ~300 bytes. */
export const DEFAULT_SPOOL_BYTES = 16 * 1024 * 1024;
/** At most this many events per POST (the server takes up to 1,000). */
const BATCH_LINES = 500;
/** At most this many bytes per POST (the server's body limit is 1 MiB). */
const BATCH_BYTES = 900 * 1024;

/** A cordon server's URL as given (--report-to, and `cordon events --server`): http or https, a host, no credentials, no query or fragment; `endpoint` is its events API. */
export function parseReportUrl(text: string): { endpoint: string; origin: string } | { error: string } {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return { error: `not a URL: '${text.slice(0, 200)}' (expected http://HOST[:PORT] or https://…)` };
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return { error: `only http and https are supported, got '${u.protocol.replace(/:$/, '')}'` };
  if (u.username !== '' || u.password !== '')
    return { error: 'the URL must not hold credentials: give the token with --token-file or its environment variable' };
  if (u.search !== '' || u.hash !== '') return { error: 'the URL must not have a query or fragment: give the server’s base URL' };
  const base = u.pathname.replace(/\/+$/, '');
  return { endpoint: `${u.origin}${base}/api/events`, origin: u.origin };
}

/** A token as read from a flag, file or variable: one line of printable ASCII (it goes into a header). */
export function parseToken(text: string): string | { error: string } {
  const t = text.trim();
  if (t === '') return { error: 'the token is empty' };
  if (!/^[\x21-\x7e]{8,1024}$/.test(t))
    return { error: 'the token must be 8 to 1024 printable ASCII characters without spaces (a cordon API token: cordon_…)' };
  return t;
}

export type ReportState = 'ok' | 'unreachable' | 'refused';

export interface ReporterOptions {
  /** From parseReportUrl. */
  readonly endpoint: string;
  readonly origin: string;
  readonly token: string;
  /** The spool's directory (created 0700). */
  readonly spoolDir: string;
  readonly spoolBytes?: number;
  /** The host named in the reporter's own `report` events. */
  readonly host: string;
  readonly metrics: GuardMetrics;
  /** Told of the reporter's own `report` events (the guard writes them to its log, which brings them back here). */
  readonly onEvent: (e: GuardEvent) => void;
  readonly say?: (line: string) => void;
  /** Per request (default 10 s). */
  readonly timeoutMs?: number;
  /** Backoff while unreachable: from minRetryMs (1 s) doubling to maxRetryMs (30 s). */
  readonly minRetryMs?: number;
  readonly maxRetryMs?: number;
  /** After a refused token, wait this long before trying again (default 5 min). */
  readonly refusedRetryMs?: number;
  /** Wait this long after an event for more, to send them together (default 50 ms). */
  readonly lingerMs?: number;
}

export class EventReporter {
  private readonly spool: Spool;
  private readonly say: (line: string) => void;
  private state: ReportState = 'ok';
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private retryMs: number;
  private stopped = false;
  /** Drops since the last `report` event about them. */
  private droppedRun = 0;
  /** Send one line at a time until this many lines were sent (after the server refused a batch). */
  private singles = 0;
  private sentCount = 0;
  private droppedCount = 0;

  constructor(private readonly o: ReporterOptions) {
    this.say = o.say ?? (() => undefined);
    this.spool = new Spool(o.spoolDir, o.spoolBytes ?? DEFAULT_SPOOL_BYTES);
    this.retryMs = o.minRetryMs ?? 1000;
    o.metrics.reportUp.set(1);
    o.metrics.reportPending.set(this.spool.pending);
    o.metrics.reportSent.inc(0);
    for (const reason of ['full', 'refused']) o.metrics.reportDropped.inc({ reason }, 0);
    if (this.spool.pending > 0) {
      this.say(`report: ${this.spool.pending} event(s) from an earlier run wait in ${o.spoolDir}: sending them first`);
      this.schedule(0);
    }
  }

  /** Events delivered, dropped (full spool or refused by the server), and waiting on disk. */
  get counts(): { sent: number; dropped: number; pending: number; state: ReportState } {
    return { sent: this.sentCount, dropped: this.droppedCount, pending: this.spool.pending, state: this.state };
  }

  /** Queues one event for the server; false when the spool is full (counted). */
  push(e: GuardEvent): boolean {
    if (this.stopped) return false;
    if (!this.spool.append(JSON.stringify(e))) {
      this.drop('full', 1);
      if (this.droppedRun === 1)
        this.say(`report: the spool ${this.o.spoolDir} is full (${this.spool.bytes} bytes): dropping events until the server takes some (counted)`);
      return false;
    }
    this.o.metrics.reportPending.set(this.spool.pending);
    if (this.state === 'ok') this.schedule(this.o.lingerMs ?? 50);
    return true;
  }

  /** Sends what is waiting (up to `timeoutMs`); resolves when the spool is empty, the server fails, or time is up. */
  async flush(timeoutMs = 2000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.spool.pending > 0 && this.state === 'ok' && Date.now() < until) {
      clearTimeout(this.timer);
      this.timer = undefined;
      await this.sendNow();
    }
  }

  /** Stops sending (after a last flush); what was not delivered stays on disk for the next run. */
  async stop(flushMs = 2000): Promise<void> {
    if (this.stopped) return;
    await this.sending;
    if (this.state === 'ok') await this.flush(flushMs);
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.spool.pending > 0) this.say(`report: ${this.spool.pending} event(s) not delivered stay in ${this.o.spoolDir} for the next run`);
    this.spool.close();
  }

  private drop(reason: 'full' | 'refused', n: number): void {
    this.droppedRun += n;
    this.droppedCount += n;
    this.o.metrics.reportDropped.inc({ reason }, n);
  }

  private schedule(ms: number): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.sendNow();
    }, ms);
  }

  private scrub(text: string): string {
    return text.split(this.o.token).join('***');
  }

  private event(state: 'unreachable' | 'refused' | 'resumed' | 'dropped', message: string, dropped = 0): void {
    this.o.onEvent({
      v: EVENT_SCHEMA_VERSION,
      time: new Date().toISOString(),
      type: 'report',
      host: this.o.host,
      netns: null,
      state,
      server: this.o.origin,
      pending: this.spool.pending,
      dropped,
      message: this.scrub(message),
    });
  }

  private setState(next: ReportState, why: string): void {
    if (next === this.state) return;
    this.state = next;
    this.o.metrics.reportUp.set(next === 'ok' ? 1 : 0);
    const msg = this.scrub(why);
    this.say(`report: ${msg}`);
    this.event(next === 'ok' ? 'resumed' : next, msg);
  }

  private sendNow(): Promise<void> {
    if (this.sending) return this.sending;
    this.sending = this.sendBatch().finally(() => {
      this.sending = undefined;
      // More waiting (a long backlog, or events pushed meanwhile): the next batch at once.
      if (this.state === 'ok' && this.spool.pending > 0) this.schedule(0);
    });
    return this.sending;
  }

  private async sendBatch(): Promise<void> {
    const batch = this.spool.peek(this.singles > 0 ? 1 : BATCH_LINES, BATCH_BYTES);
    if (batch.lines.length === 0) return;
    let status: number;
    let detail = '';
    let retryAfterS: number | undefined;
    try {
      const r = await fetch(this.o.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.o.token}` },
        body: `[${batch.lines.join(',')}]`,
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 10_000),
        redirect: 'error',
      });
      status = r.status;
      const body = await r.text().catch(() => '');
      if (status >= 400) {
        try {
          const err = (JSON.parse(body) as { error?: unknown }).error;
          if (typeof err === 'string') detail = err.slice(0, 200);
        } catch {
          detail = '';
        }
      }
      const ra = Number(r.headers.get('retry-after'));
      if (Number.isFinite(ra) && ra > 0) retryAfterS = ra;
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      const why = err.name === 'TimeoutError' ? 'no answer in time' : (err.cause?.code ?? err.cause?.message ?? err.message);
      this.retry(`cannot reach ${this.o.origin}: ${why}; events wait on disk (${this.spool.pending}) and are resent in order`);
      return;
    }
    if (status >= 200 && status < 300) {
      this.spool.commit(batch.end, batch.lines.length);
      this.singles = Math.max(0, this.singles - batch.lines.length);
      this.sentCount += batch.lines.length;
      this.o.metrics.reportSent.inc(batch.lines.length);
      this.o.metrics.reportPending.set(this.spool.pending);
      this.retryMs = this.o.minRetryMs ?? 1000;
      this.setState('ok', `${this.o.origin} takes events again; sending the ${this.spool.pending + batch.lines.length} that waited, in order`);
      if (this.droppedRun > 0) {
        const n = this.droppedRun;
        this.droppedRun = 0;
        this.event('dropped', `${n} event(s) were dropped while the spool was full or the server refused them`, n);
      }
      return;
    }
    if (status === 401 || status === 403) {
      this.setState(
        'refused',
        `${this.o.origin} refused the token (${status}${detail ? `: ${detail}` : ''}): it needs the events:write scope; not trying again for ${Math.round((this.o.refusedRetryMs ?? 300_000) / 1000)} s, events wait on disk`,
      );
      this.later(this.o.refusedRetryMs ?? 300_000);
      return;
    }
    if (status === 400 || status === 413 || status === 422) {
      if (batch.lines.length > 1) {
        // One bad event spoils the batch: send them one by one to find it.
        this.singles = batch.lines.length;
        return;
      }
      this.spool.commit(batch.end, 1);
      this.singles = Math.max(0, this.singles - 1);
      this.drop('refused', 1);
      this.o.metrics.reportPending.set(this.spool.pending);
      this.say(this.scrub(`report: ${this.o.origin} refused an event (${status}${detail ? `: ${detail}` : ''}): dropped (counted)`));
      return;
    }
    this.retry(
      `${this.o.origin} answered ${status}${detail ? ` (${detail})` : ''}; events wait on disk (${this.spool.pending}) and are resent in order`,
      retryAfterS,
    );
  }

  private retry(why: string, retryAfterS?: number): void {
    this.setState('unreachable', why);
    const wait = retryAfterS !== undefined ? Math.min(retryAfterS * 1000, this.o.maxRetryMs ?? 30_000) : this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, this.o.maxRetryMs ?? 30_000);
    this.later(wait);
  }

  private later(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.sendNow();
    }, ms);
    // A pause must not keep a stopping guard alive.
    this.timer.unref();
  }
}
