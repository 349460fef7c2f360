/**
 * The spec's `guard.webhooks` (seed 001: "Alerted: unusual traffic"): each event of a type a
 * webhook listed is POSTed to it as JSON (the event's own line), one request at a time per webhook,
 * each with a timeout, from a bounded queue. Nothing here can slow the guard: a queue that is full
 * drops the event and counts it, and a receiver that fails or does not answer in time is counted
 * and retried twice before the event is given up (counted too). Signed the Standard Webhooks way
 * when the webhook names a secret variable: `webhook-id`, `webhook-timestamp` and `webhook-signature`
 * (`v1,` + base64 HMAC-SHA256 of `id.timestamp.body` under the secret's bytes).
 *
 * The URL was checked by the spec's schema (http or https, no credentials); it is checked again
 * here, as a library caller may bypass the schema.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { Webhook } from '../model/types.js';
import { webhookUrlProblem } from '../spec/schema.js';
import type { GuardEvent } from './events.js';
import type { GuardMetrics } from './metrics.js';

/** Events that may wait per webhook; past it they are dropped and counted. */
export const DEFAULT_WEBHOOK_QUEUE = 1000;
/** Per request. */
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 5000;
/** Tries per event (the first and two retries, 0.5 s then 1 s apart). */
const TRIES = 3;

export interface WebhookOptions {
  readonly metrics: GuardMetrics;
  readonly say?: (line: string) => void;
  /** Where the signing secrets are read from (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  readonly queueLimit?: number;
  readonly timeoutMs?: number;
  /** Base of the retry backoff, ms (default 500). */
  readonly retryMs?: number;
}

/** A `whsec_…` secret as bytes; throws naming the variable (never its value). */
function secretBytes(name: string, env: NodeJS.ProcessEnv): Buffer {
  const v = env[name];
  if (v === undefined || v === '') throw new Error(`the webhook secret variable ${name} is not set`);
  const b64 = v.startsWith('whsec_') ? v.slice(6) : v;
  if (!/^[A-Za-z0-9+/]{16,}={0,2}$/.test(b64)) throw new Error(`${name} must hold whsec_ followed by base64 (at least 12 bytes)`);
  return Buffer.from(b64, 'base64');
}

/** The Standard Webhooks headers for one body. */
export function signature(secret: Buffer, id: string, timestampS: number, body: string): string {
  return `v1,${createHmac('sha256', secret).update(`${id}.${timestampS}.${body}`).digest('base64')}`;
}

class Sender {
  private readonly queue: { id: string; body: string }[] = [];
  private busy = false;
  private stopped = false;
  private failing = false;
  private readonly types: ReadonlySet<string>;

  constructor(
    readonly hook: Webhook,
    private readonly secret: Buffer | undefined,
    private readonly o: WebhookOptions,
  ) {
    this.types = new Set(hook.events);
    for (const outcome of ['sent', 'failed']) o.metrics.webhookDeliveries.inc({ webhook: hook.name, outcome }, 0);
    o.metrics.webhookDropped.inc({ webhook: hook.name }, 0);
  }

  wants(e: GuardEvent): boolean {
    return this.types.has(e.type);
  }

  push(body: string): void {
    if (this.stopped || this.queue.length >= (this.o.queueLimit ?? DEFAULT_WEBHOOK_QUEUE)) {
      this.o.metrics.webhookDropped.inc({ webhook: this.hook.name });
      return;
    }
    this.queue.push({ id: `msg_${randomUUID()}`, body });
    if (!this.busy) void this.run();
  }

  get idle(): boolean {
    return !this.busy && this.queue.length === 0;
  }

  stop(): void {
    this.stopped = true;
    const left = this.queue.length;
    this.queue.length = 0;
    if (left > 0) this.o.metrics.webhookDropped.inc({ webhook: this.hook.name }, left);
  }

  private async run(): Promise<void> {
    this.busy = true;
    try {
      while (this.queue.length > 0) {
        const m = this.queue.shift()!;
        let ok = false;
        let why = '';
        for (let t = 0; t < TRIES && !ok; t++) {
          if (t > 0) {
            if (this.stopped) break;
            await new Promise((r) => setTimeout(r, (this.o.retryMs ?? 500) * 2 ** (t - 1)));
          }
          const r = await this.post(m.id, m.body);
          ok = r.ok;
          why = r.why;
          if (!ok) this.o.metrics.webhookFailures.inc({ webhook: this.hook.name });
        }
        this.o.metrics.webhookDeliveries.inc({ webhook: this.hook.name, outcome: ok ? 'sent' : 'failed' });
        // Said on a change only: a receiver that is down is one line, not one per event.
        if (ok === !this.failing) continue;
        this.failing = !ok;
        this.o.say?.(
          ok ? `webhook ${this.hook.name}: delivering again` : `webhook ${this.hook.name}: an event was not delivered after ${TRIES} tries (${why}); counted`,
        );
      }
    } finally {
      this.busy = false;
    }
  }

  private async post(id: string, body: string): Promise<{ ok: boolean; why: string }> {
    const ts = Math.floor(Date.now() / 1000);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'cordon-guard',
      'webhook-id': id,
      'webhook-timestamp': String(ts),
    };
    if (this.secret) headers['webhook-signature'] = signature(this.secret, id, ts, body);
    try {
      const r = await fetch(this.hook.url, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(this.o.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS),
        redirect: 'error',
      });
      await r.body?.cancel().catch(() => undefined);
      return r.ok ? { ok: true, why: '' } : { ok: false, why: `answered ${r.status}` };
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      return { ok: false, why: err.name === 'TimeoutError' ? 'no answer in time' : (err.cause?.code ?? err.message) };
    }
  }
}

/** Every webhook of the spec; `dispatch` hands each event to those that listed its type. */
export class Webhooks {
  private readonly senders: Sender[];

  /** Throws (naming the webhook) for a bad URL or a missing or malformed secret variable: checked before the guard starts. */
  constructor(hooks: readonly Webhook[], o: WebhookOptions) {
    this.senders = hooks.map((h) => {
      const problem = webhookUrlProblem(h.url);
      if (problem) throw new Error(`webhook ${h.name}: ${problem}`);
      let secret: Buffer | undefined;
      try {
        secret = h.secretEnv === null ? undefined : secretBytes(h.secretEnv, o.env ?? process.env);
      } catch (e) {
        throw new Error(`webhook ${h.name}: ${(e as Error).message}`);
      }
      return new Sender(h, secret, o);
    });
  }

  get size(): number {
    return this.senders.length;
  }

  dispatch(e: GuardEvent): void {
    let body: string | undefined;
    for (const s of this.senders) {
      if (!s.wants(e)) continue;
      body ??= JSON.stringify(e);
      s.push(body);
    }
  }

  /** Waits up to `ms` for the queues to empty, then drops (and counts) what is left. */
  async stop(ms = 2000): Promise<void> {
    const until = Date.now() + ms;
    while (this.senders.some((s) => !s.idle) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    for (const s of this.senders) s.stop();
  }
}
