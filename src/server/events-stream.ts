/**
 * `GET /api/events/stream`: guard events as they arrive, as Server-Sent Events (the dashboard's
 * Live view). Each message is `id: <event id>` + `event: guard` + `data: <the same JSON as one entry
 * of GET /api/events>`; a reconnecting EventSource sends Last-Event-ID and gets what it missed.
 *
 * The store is polled (every `pollMs`) for ids above the last one sent, so events stored by any
 * route, or by another process on the same database, are streamed alike. Open streams are ended
 * when the server closes, so `close()` never waits on a browser tab.
 */
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Api } from './http.js';
import type { Store } from './store.js';

export const EventStreamQuery = z.object({
  after: z.coerce.number().int().min(0).optional().describe('send only events with a larger id (default: only events stored from now on)'),
});

/** At most this many events per poll: a burst larger than that is sent over the next polls, never dropped. */
const BATCH = 500;
const HEARTBEAT_MS = 15_000;

export function eventStreamRoutes(api: Api, store: Store, pollMs = 250): void {
  const open = new Set<ServerResponse>();
  api.app.addHook('preClose', async () => {
    for (const res of open) res.end();
    open.clear();
  });

  /** The newest id stored, 0 when there is none. */
  const newestId = () => store.events({ limit: 1 })[0]?.id ?? 0;

  /** Events with id > after, oldest first, at most BATCH. */
  const eventsAfter = (after: number) => {
    const out: ReturnType<Store['events']> = [];
    let before: number | undefined;
    // Newest-first pages until we reach `after`; in practice one small page per poll.
    for (;;) {
      const page = store.events({ limit: BATCH, beforeId: before });
      const fresh = page.filter((e) => e.id > after);
      out.push(...fresh);
      if (fresh.length < page.length || page.length < BATCH) break;
      before = page[page.length - 1]!.id;
    }
    return out.reverse().slice(0, BATCH);
  };

  api.route(
    {
      method: 'GET',
      url: '/api/events/stream',
      summary: 'guard events as they arrive (text/event-stream); Last-Event-ID or after= resumes',
      tag: 'events',
      auth: 'events:read',
      query: EventStreamQuery,
      responses: { 200: { description: 'a stream of `guard` events, one GET /api/events entry each', contentType: 'text/event-stream' } },
    },
    ({ query, req, reply }) => {
      const lastHeader = req.headers['last-event-id'];
      const resumed = typeof lastHeader === 'string' && /^\d{1,15}$/.test(lastHeader) ? Number(lastHeader) : undefined;
      let last = resumed ?? query.after ?? newestId();
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        'x-content-type-options': 'nosniff',
        connection: 'keep-alive',
      });
      // Tells EventSource to retry after 2 s if the connection drops; a comment opens the stream at once.
      res.write('retry: 2000\n: stream open\n\n');
      open.add(res);
      let sinceBeat = 0;
      const timer = setInterval(() => {
        try {
          for (const e of eventsAfter(last)) {
            res.write(`id: ${e.id}\nevent: guard\ndata: ${JSON.stringify(e)}\n\n`);
            last = e.id;
          }
          sinceBeat += pollMs;
          if (sinceBeat >= HEARTBEAT_MS) {
            sinceBeat = 0;
            res.write(': keep-alive\n\n');
          }
        } catch (err) {
          req.log.error({ err }, 'event stream');
          stop();
          res.end();
        }
      }, pollMs);
      const stop = () => {
        clearInterval(timer);
        open.delete(res);
      };
      res.on('close', stop);
    },
  );
}
