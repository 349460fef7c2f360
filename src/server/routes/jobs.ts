/** `GET /api/jobs/:id`: a background job's state, progress and, once done, its result (../jobs.ts). */
import { HttpError } from '../errors.js';
import type { Api } from '../http.js';
import type { Jobs } from '../jobs.js';
import { JobParams, JobSchema } from '../schemas.js';

export function jobRoutes(api: Api, jobs: Jobs): void {
  api.route(
    {
      method: 'GET',
      url: '/api/jobs/:id',
      summary:
        'a background job: queued, running (with progress), done (with the result) or failed (with why); kept 10 minutes after it ends, across server restarts',
      tag: 'jobs',
      auth: 'jobs:read',
      params: JobParams,
      responses: { 200: { description: 'the job', schema: JobSchema } },
    },
    ({ params, auth, reply }) => {
      // Someone else's job is unknown, not forbidden; administrators see every job.
      const job = jobs.get(params.id, auth!.user.tier === 'admin' ? undefined : auth!.user.id);
      if (!job) throw new HttpError(404, `no job '${params.id}' (finished jobs are kept 10 minutes)`);
      const result = jobs.resultJson(job.id);
      if (result === undefined) return job;
      // The result is the worker's JSON text, stored as it is: spliced in, not parsed and re-serialized (a 1,000-host matrix is megabytes).
      reply.type('application/json; charset=utf-8');
      return `${JSON.stringify(job).slice(0, -1)},"result":${result}}`;
    },
  );
}
