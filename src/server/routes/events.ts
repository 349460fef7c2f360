/** Events from guards: `POST /api/events` (a token with `events:write`), queried with filters and paging. */
import type { Api } from '../http.js';
import { EventsAccepted, EventsBody, EventsQuery, EventsResponse } from '../schemas.js';
import type { Store } from '../store.js';

/** `2026-01-01T00:00:00Z` and `…00.000Z` are the same instant; stored and compared as the latter. */
function canonicalTime(iso: string): string {
  return new Date(iso).toISOString();
}

export function eventRoutes(api: Api, store: Store): void {
  api.route(
    {
      method: 'POST',
      url: '/api/events',
      summary: 'report guard events (one or a batch)',
      tag: 'events',
      auth: 'events:write',
      body: EventsBody,
      responses: { 201: { description: 'stored', schema: EventsAccepted } },
    },
    ({ body, auth, reply }) => {
      const list = Array.isArray(body) ? body : [body];
      const ids = store.addEvents(
        auth!.actor,
        // Times are stored in one canonical form so that filtering by time can compare text.
        list.map((e) => ({ time: canonicalTime(e.time), type: e.type, host: e.host, body: e })),
      );
      reply.code(201);
      return { accepted: ids.length, ids };
    },
  );

  api.route(
    {
      method: 'GET',
      url: '/api/events',
      summary: 'guard events, newest first, by type, host and time',
      tag: 'events',
      auth: 'events:read',
      query: EventsQuery,
      responses: { 200: { description: 'events', schema: EventsResponse } },
    },
    ({ query }) => {
      const events = store.events({
        type: query.type,
        host: query.host,
        since: query.since && canonicalTime(query.since),
        until: query.until && canonicalTime(query.until),
        beforeId: query.before,
        limit: query.limit,
      });
      return events.length === query.limit ? { events, next: events[events.length - 1]!.id } : { events };
    },
  );
}
