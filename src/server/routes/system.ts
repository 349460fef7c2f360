/** The API's own description and a liveness check. */
import { z } from 'zod';
import type { Api } from '../http.js';
import type { Metrics } from '../metrics.js';
import { HealthResponse } from '../schemas.js';
import type { Store } from '../store.js';

export const API_VERSION = '0.1.0';

export function systemRoutes(api: Api, store: Store, metrics: Metrics): void {
  api.route(
    {
      method: 'GET',
      url: '/metrics',
      summary: "the server's own metrics (Prometheus text format); scrape with a token that has metrics:read",
      tag: 'system',
      auth: 'metrics:read',
      responses: { 200: { description: 'metrics', contentType: 'text/plain; version=0.0.4' } },
    },
    ({ reply }) => {
      reply.type('text/plain; version=0.0.4; charset=utf-8');
      return metrics.render(store.counts());
    },
  );

  api.route(
    {
      method: 'GET',
      url: '/api/health',
      summary: 'the server is up and its database open',
      tag: 'system',
      auth: 'public',
      responses: { 200: { description: 'ok', schema: HealthResponse } },
    },
    () => ({ ok: true, schemaVersion: store.schemaVersion() }),
  );
  // Built at request time, so the document describes every route registered, this one included.
  api.route(
    {
      method: 'GET',
      url: '/openapi.json',
      summary: 'this API, as OpenAPI 3.1, generated from the same zod schemas that validate requests',
      tag: 'system',
      auth: 'public',
      responses: { 200: { description: 'the OpenAPI document', schema: z.record(z.string(), z.unknown()) } },
    },
    () => api.openapi({ title: 'cordon', version: API_VERSION }),
  );
}
