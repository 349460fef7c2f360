/** The audit log: every change, newest first, paged by id. */
import type { Api } from '../http.js';
import { AuditQuery, AuditResponse } from '../schemas.js';
import type { Store } from '../store.js';

export function auditRoutes(api: Api, store: Store): void {
  api.route(
    {
      method: 'GET',
      url: '/api/audit',
      summary: 'who changed what, when, with the fields before and after',
      tag: 'audit',
      auth: 'audit:read',
      query: AuditQuery,
      responses: { 200: { description: 'entries, newest first', schema: AuditResponse } },
    },
    ({ query }) => {
      const entries = store.audit({ limit: query.limit, beforeId: query.before });
      return entries.length === query.limit ? { entries, next: entries[entries.length - 1]!.id } : { entries };
    },
  );
}
