/**
 * The client side of the server's events API, for `cordon events --server` (the server side is
 * routes/ and events-stream.ts).
 * The events guards reported to a cordon server, read over its API with an `events:read` token:
 * `GET /api/events` (newest first, in pages of 1,000 followed by `next`) for what is stored, and
 * `GET /api/events/stream` (Server-Sent Events, resumed with `after=`) for --follow. The token goes
 * only into the Authorization header; every message made here is scrubbed of it.
 */
import { visible } from '../util/visible.js';

/** One stored event as the server lists it; `event` is checked against the guard's schema by the caller. */
export interface ServerEntry {
  readonly id: number;
  readonly event: unknown;
}

/** The server could not be read (unreachable, refused the token, answered an error); the message is safe to print. */
export class ServerReadError extends Error {}

const PAGE = 1000;
const TIMEOUT_MS = 30_000;
/** A dropped stream is opened again after this long (the server's own `retry:` hint). */
const RECONNECT_MS = 2000;
/**
 * A stream silent this long is taken for dead and opened again: the server writes a keep-alive
 * comment every 15 s (events-stream.ts), so three missed ones mean a connection that died without
 * closing (a NAT or proxy dropping it, a suspended laptop), which TCP alone may not notice for hours.
 */
export const SILENCE_MS = 45_000;

export interface ServerSource {
  /** From parseServerUrl: URL/api/events. */
  readonly endpoint: string;
  readonly origin: string;
  readonly token: string;
}

/** A message fit to print: without the token, and with what the server said shown, not obeyed (visible). */
function scrub(src: ServerSource, text: string): string {
  return visible(text.split(src.token).join('***'));
}

/** GETs `url`; the response when it is 2xx, else a ServerReadError saying why in the user's terms. */
async function get(src: ServerSource, url: string, signal?: AbortSignal): Promise<Response> {
  let r: Response;
  try {
    r = await fetch(url, {
      headers: { authorization: `Bearer ${src.token}`, accept: 'application/json, text/event-stream' },
      redirect: 'error',
      signal: signal ?? AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (e) {
    if (signal?.aborted) throw e;
    const err = e as Error & { cause?: { code?: string; message?: string } };
    const why = err.name === 'TimeoutError' ? 'no answer in time' : (err.cause?.code ?? err.cause?.message ?? err.message);
    throw new ServerReadError(scrub(src, `cannot reach ${src.origin}: ${why}`));
  }
  if (r.ok) return r;
  let detail = '';
  try {
    const err = ((await r.json()) as { error?: unknown }).error;
    if (typeof err === 'string') detail = `: ${err.slice(0, 200)}`;
  } catch {
    detail = '';
  }
  if (r.status === 401 || r.status === 403)
    throw new ServerReadError(scrub(src, `${src.origin} refused the token (${r.status}${detail}): it needs the events:read scope`));
  throw new ServerReadError(scrub(src, `${src.origin} answered ${r.status}${detail}`));
}

/** Every stored event matching the server-side filters, oldest first. */
export async function listServerEvents(src: ServerSource, filter: { type?: string; host?: string }): Promise<ServerEntry[]> {
  const out: ServerEntry[] = [];
  let before: number | undefined;
  for (;;) {
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (filter.type !== undefined) q.set('type', filter.type);
    if (filter.host !== undefined) q.set('host', filter.host);
    if (before !== undefined) q.set('before', String(before));
    const page = (await (await get(src, `${src.endpoint}?${q.toString()}`)).json()) as { events?: ServerEntry[]; next?: number };
    if (!Array.isArray(page.events)) throw new ServerReadError(`${src.origin} did not answer with events: is it a cordon server?`);
    out.push(...page.events);
    if (page.next === undefined || page.events.length === 0) break;
    before = page.next;
  }
  return out.reverse();
}

/** The id of the newest stored event, 0 when there is none. */
export async function newestServerEventId(src: ServerSource): Promise<number> {
  const page = (await (await get(src, `${src.endpoint}?limit=1`)).json()) as { events?: ServerEntry[] };
  return page.events?.[0]?.id ?? 0;
}

/** The `data:` of each complete message in `buffer`, and what is left of an incomplete one. */
export function sseMessages(buffer: string): { data: string[]; rest: string } {
  const blocks = buffer.replace(/\r\n?/g, '\n').split('\n\n');
  const rest = blocks.pop() ?? '';
  const data: string[] = [];
  for (const b of blocks) {
    const lines = b
      .split('\n')
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, ''));
    if (lines.length > 0) data.push(lines.join('\n'));
  }
  return { data, rest };
}

/**
 * Streams the events stored after `after` to `onEntry`, in order, until `signal` aborts. A dropped
 * connection is opened again from the last id seen (nothing missed, nothing twice), told once
 * through `say`; a refused token ends it with a ServerReadError.
 */
export async function followServerEvents(
  src: ServerSource,
  after: number,
  onEntry: (e: ServerEntry) => void,
  signal: AbortSignal,
  say: (line: string) => void,
  silenceMs = SILENCE_MS,
): Promise<void> {
  let last = after;
  let dropped = false;
  while (!signal.aborted) {
    // One controller per connection: the silence timer aborts this connection, not the follow.
    const conn = new AbortController();
    const stop = (): void => conn.abort();
    signal.addEventListener('abort', stop, { once: true });
    let silent: NodeJS.Timeout | undefined;
    const watch = (): void => {
      clearTimeout(silent);
      silent = setTimeout(() => conn.abort(new Error(`nothing for ${silenceMs / 1000} s`)), silenceMs);
    };
    try {
      watch();
      const r = await get(src, `${src.endpoint}/stream?after=${last}`, conn.signal);
      if (dropped) say(`${src.origin}: following again`);
      dropped = false;
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of r.body as AsyncIterable<Uint8Array>) {
        watch();
        const { data, rest } = sseMessages(buffer + decoder.decode(chunk, { stream: true }));
        buffer = rest;
        for (const d of data) {
          const entry = JSON.parse(d) as ServerEntry;
          if (typeof entry.id !== 'number' || entry.id <= last) continue;
          last = entry.id;
          onEntry(entry);
        }
      }
    } catch (e) {
      if (signal.aborted) return;
      if (e instanceof ServerReadError && /refused the token/.test(e.message)) throw e;
      // An abort by the silence timer surfaces as an AbortError; its reason says why.
      const why = conn.signal.aborted && conn.signal.reason instanceof Error ? conn.signal.reason.message : (e as Error).message;
      if (!dropped) say(scrub(src, `${src.origin}: the stream broke (${why}); reconnecting every ${RECONNECT_MS / 1000} s`));
      dropped = true;
    } finally {
      clearTimeout(silent);
      signal.removeEventListener('abort', stop);
    }
    if (signal.aborted) return;
    if (!dropped) {
      say(`${src.origin} ended the stream; reconnecting`);
      dropped = true;
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, RECONNECT_MS);
      signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });
  }
}
