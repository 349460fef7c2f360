/**
 * Specs and their analysis. Each upload is a new version; every analysis names a version (or
 * `latest`) and answers with the same JSON as the matching `cordon … --json` command.
 */
import type { z } from 'zod';
import type { Assume } from '../../model/types.js';
import { checkSpec, diffJson, lintJson, matrixJson, queryJson, Refusal, renderFiles, testJson } from '../analysis.js';
import type { CompileCache } from '../compile-cache.js';
import { HttpError } from '../errors.js';
import type { Api } from '../http.js';
import type { JobRequest, Jobs } from '../jobs.js';
import type { QueryThread } from '../query-thread.js';
import {
  DiffQuery,
  DiffResponse,
  JobAccepted,
  ExplanationSchema,
  LintResponse,
  MatrixQuery,
  MatrixResponse,
  QueryBody,
  RenderedJson,
  RenderParams,
  RenderQuery,
  SpecDetail,
  SpecIdParams,
  SpecSummarySchema,
  SpecUploadBody,
  SpecUploaded,
  SpecVersionDetail,
  SpecVersionMeta,
  TestResponse,
  VersionParams,
} from '../schemas.js';
import { sha256 } from '../secrets.js';
import type { SpecVersion, Store } from '../store.js';

function views(a: 'configured' | 'compromised' | 'both'): Assume[] {
  return a === 'both' ? ['configured', 'compromised'] : [a];
}

/** Turns a library refusal into a 400 carrying its diagnostics. */
function refused<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof Refusal) throw new HttpError(400, e.message, e.diagnostics.length ? { diagnostics: e.diagnostics } : {});
    throw e;
  }
}

/** A version without its text (the upload's answer), field by field as `SpecVersionMeta` documents it. */
function versionMeta(v: SpecVersion): z.output<typeof SpecVersionMeta> {
  return { specId: v.specId, version: v.version, sha256: v.sha256, createdBy: v.createdBy, createdAt: v.createdAt };
}

/** Uploads larger than this are checked in a worker thread: loading a 1,000-host spec (240 KB) takes most of a second. */
export const WORKER_CHECK_BYTES = 32 * 1024;

/**
 * `cordon check` of an upload: a small one here, a large one in a worker thread (awaited, so the
 * request still answers with the result, while the event loop keeps serving everyone else).
 */
async function checkUpload(checks: Jobs, ownerId: number, name: string, text: string): Promise<ReturnType<typeof checkSpec>> {
  if (Buffer.byteLength(text) <= WORKER_CHECK_BYTES) return checkSpec(text, name);
  const job = checks.submit(ownerId, { kind: 'check', name, file: name, text }, name);
  if (job === 'full') throw new HttpError(429, 'too many large uploads are being checked; try again shortly', {}, { 'retry-after': '5' });
  const end = await checks.settled(job.id);
  const json = checks.resultJson(job.id);
  if (end.state !== 'done' || json === undefined) throw new Error(`checking the upload failed: ${end.error ?? 'no result'}`);
  return JSON.parse(json) as ReturnType<typeof checkSpec>;
}

export function specRoutes(
  api: Api,
  store: Store,
  cache: CompileCache,
  { jobs, checks, queries }: { jobs: Jobs; checks: Jobs; queries: QueryThread },
  jobHostThreshold: number,
): void {
  /**
   * For a version with more hosts than the threshold: queue the work as a job and answer 202 with
   * it; undefined for a small version (the route answers at once). The host count is the one
   * measured at upload, so deciding costs no compile.
   */
  const asJob = (
    params: { id: number; version: number | 'latest' },
    ownerId: number,
    reply: { code: (n: number) => unknown },
    make: (base: { name: string; file: string; text: string }) => JobRequest,
  ) => {
    const { spec, version: v } = versionOr404(params.id, params.version);
    const hosts = store.specVersionHosts(spec.id, v.version);
    if (hosts === null || hosts <= jobHostThreshold) return undefined;
    const job = jobs.submit(ownerId, make({ name: spec.name, file: spec.name, text: v.text }), `${spec.name}@v${v.version}`);
    if (job === 'full') throw new HttpError(429, 'the job queue is full; try again shortly', {}, { 'retry-after': '5' });
    reply.code(202);
    return { job, href: `/api/jobs/${job.id}` };
  };
  const jobResponse = {
    202: {
      description: `a big version (more hosts than the server's job threshold, 200 by default): queued as a job; poll GET /api/jobs/{id}`,
      schema: JobAccepted,
    },
  };

  const specOr404 = (id: number) => {
    const s = store.spec(id);
    if (!s) throw new HttpError(404, `no spec with id ${id}`);
    return s;
  };
  const versionOr404 = (id: number, version: number | 'latest') => {
    const s = specOr404(id);
    const n = version === 'latest' ? s.latestVersion : version;
    const v = store.specVersion(id, n);
    if (!v) throw new HttpError(404, `spec '${s.name}' (id ${id}) has no version ${n}; its versions are 1–${s.latestVersion}`);
    return { spec: s, version: v };
  };
  /** Without reading the version's text when it is compiled already (versions never change). */
  const compiled = (id: number, version: number | 'latest') => {
    const s = specOr404(id);
    const n = version === 'latest' ? s.latestVersion : version;
    if (n > s.latestVersion) throw new HttpError(404, `spec '${s.name}' (id ${id}) has no version ${n}; its versions are 1–${s.latestVersion}`);
    return refused(() => cache.get(id, s.name, n));
  };

  api.route(
    {
      method: 'POST',
      url: '/api/specs',
      summary: 'upload a spec (a new version when the name exists); an invalid spec is refused with the diagnostics of `cordon check`',
      tag: 'specs',
      auth: 'specs:write',
      body: SpecUploadBody,
      responses: { 201: { description: 'stored as a new version', schema: SpecUploaded } },
    },
    async ({ body, auth, reply }) => {
      const { json: check, hosts } = await checkUpload(checks, auth!.user.id, body.name, body.text);
      const errors = check.diagnostics.filter((d) => d.severity === 'error');
      if (!check.ok || errors.length > 0)
        throw new HttpError(400, `${body.name}: ${errors.length} error${errors.length === 1 ? '' : 's'}; nothing stored`, { diagnostics: check.diagnostics });
      const stored = store.addSpecVersion(auth!.actor, body.name, body.text, sha256(body.text), hosts);
      reply.code(201);
      return { spec: stored.spec, version: versionMeta(stored.version), warnings: check.diagnostics };
    },
  );

  api.route(
    {
      method: 'GET',
      url: '/api/specs',
      summary: 'every spec with its latest version',
      tag: 'specs',
      auth: 'specs:read',
      responses: { 200: { description: 'specs', schema: SpecSummarySchema.array() } },
    },
    () => store.listSpecs(),
  );

  api.route(
    {
      method: 'GET',
      url: '/api/specs/:id',
      summary: 'a spec and its versions',
      tag: 'specs',
      auth: 'specs:read',
      params: SpecIdParams,
      responses: { 200: { description: 'the spec', schema: SpecDetail } },
    },
    ({ params }) => ({ spec: specOr404(params.id), versions: store.specVersions(params.id) }),
  );

  api.route(
    {
      method: 'GET',
      url: '/api/specs/:id/versions/:version',
      summary: "one version's text",
      tag: 'specs',
      auth: 'specs:read',
      params: VersionParams,
      responses: { 200: { description: 'the version', schema: SpecVersionDetail } },
    },
    ({ params }) => versionOr404(params.id, params.version).version,
  );

  api.route(
    {
      method: 'GET',
      url: '/api/specs/:id/versions/:version/matrix',
      summary: 'all-pairs reachability (configured, compromised or both views)',
      tag: 'analysis',
      auth: 'specs:read',
      params: VersionParams,
      query: MatrixQuery,
      responses: { 200: { description: 'the matrix', schema: MatrixResponse }, ...jobResponse },
    },
    ({ params, query, auth, reply }) => {
      const job = asJob(params, auth!.user.id, reply, (b) => ({ ...b, kind: 'matrix', views: views(query.assume) }));
      if (job) return job;
      const c = compiled(params.id, params.version);
      return { views: views(query.assume).map((a) => matrixJson(c, a)) };
    },
  );

  for (const name of ['query', 'explain'] as const)
    api.route(
      {
        method: 'POST',
        url: `/api/specs/:id/versions/:version/${name}`,
        summary:
          name === 'query'
            ? 'is one flow allowed? verdict, path and deciding rule'
            : 'the same as query: every path considered, each deciding rule with its origin',
        tag: 'analysis',
        auth: 'specs:read',
        params: VersionParams,
        body: QueryBody,
        responses: { 200: { description: 'the explanation', schema: ExplanationSchema } },
      },
      async ({ params, body, reply }) => {
        // A big version is compiled and asked in the query thread (the first question waits for the compile; others go on meanwhile).
        // Without reading the version's text unless the query thread needs it.
        const spec = specOr404(params.id);
        const n = params.version === 'latest' ? spec.latestVersion : params.version;
        if (n <= spec.latestVersion && (store.specVersionHosts(spec.id, n) ?? 0) > jobHostThreshold) {
          let json: string;
          try {
            json = await queries.ask(`${spec.id}@${n}`, spec.name, () => store.specVersion(spec.id, n)!.text, body);
          } catch (e) {
            if (e instanceof Refusal) throw new HttpError(400, e.message, e.diagnostics.length ? { diagnostics: e.diagnostics } : {});
            throw e;
          }
          reply.type('application/json; charset=utf-8');
          return json;
        }
        const c = compiled(params.id, params.version);
        return refused(() => queryJson(c, body));
      },
    );

  api.route(
    {
      method: 'GET',
      url: '/api/specs/:id/versions/:version/lint',
      summary: 'shadowed, redundant and overlapping rules, unused names, ports opened to any',
      tag: 'analysis',
      auth: 'specs:read',
      params: VersionParams,
      responses: { 200: { description: 'findings', schema: LintResponse }, ...jobResponse },
    },
    ({ params, auth, reply }) => asJob(params, auth!.user.id, reply, (b) => ({ ...b, kind: 'lint' })) ?? lintJson(compiled(params.id, params.version)),
  );

  api.route(
    {
      method: 'GET',
      url: '/api/specs/:id/versions/:version/test',
      summary: 'every expectation and invariant',
      tag: 'analysis',
      auth: 'specs:read',
      params: VersionParams,
      responses: { 200: { description: 'results', schema: TestResponse }, ...jobResponse },
    },
    ({ params, auth, reply }) => asJob(params, auth!.user.id, reply, (b) => ({ ...b, kind: 'test' })) ?? testJson(compiled(params.id, params.version)),
  );

  api.route(
    {
      method: 'GET',
      url: '/api/specs/:id/versions/:version/render/:target',
      summary: 'render the configs for a target, as a download',
      tag: 'analysis',
      auth: 'specs:read',
      params: RenderParams,
      query: RenderQuery,
      responses: {
        200: {
          description: 'the files: text/plain (a `# ==> path` line before each, or one file raw with file=), or JSON with format=json',
          contentType: 'text/plain',
          schema: RenderedJson,
        },
        ...jobResponse,
      },
    },
    ({ params, query, reply, auth }) => {
      const { spec, version } = versionOr404(params.id, params.version);
      const kv = query.param === undefined ? [] : Array.isArray(query.param) ? query.param : [query.param];
      const pairs = new Map<string, string>();
      for (const p of kv) {
        const eq = p.indexOf('=');
        if (eq <= 0) throw new HttpError(400, `query.param '${p}': expected KEY=VALUE`);
        pairs.set(p.slice(0, eq), p.slice(eq + 1));
      }
      const job = asJob(params, auth!.user.id, reply, (b) => ({ ...b, kind: 'render', target: params.target, host: query.host, params: [...pairs] }));
      if (job) return job;
      const c = compiled(params.id, params.version);
      // Keyed (secret-bearing) targets are refused in renderFiles, so nothing rendered here is secret.
      const files = refused(() => renderFiles(c, params.target, query.host, pairs));
      const base = `${spec.name}-v${version.version}-${params.target}`;
      if (query.file !== undefined) {
        const f = files.find((x) => x.path === query.file);
        if (!f) throw new HttpError(404, `target ${params.target} renders no file '${query.file}'; it renders: ${files.map((x) => x.path).join(', ')}`);
        reply.header('content-disposition', `attachment; filename="${f.path.replace(/[^A-Za-z0-9._-]/g, '_')}"`);
        reply.type('text/plain; charset=utf-8');
        return f.content;
      }
      if (query.format === 'json') return files.map((f) => ({ path: f.path, content: f.content }));
      reply.header('content-disposition', `attachment; filename="${base}.txt"`);
      reply.type('text/plain; charset=utf-8');
      return files.map((f) => `# ==> ${f.path}\n${f.content}`).join('');
    },
  );

  api.route(
    {
      method: 'GET',
      url: '/api/specs/:id/diff',
      summary: 'flows added and removed between two versions',
      tag: 'analysis',
      auth: 'specs:read',
      params: SpecIdParams,
      query: DiffQuery,
      responses: { 200: { description: 'the diff', schema: DiffResponse }, ...jobResponse },
    },
    ({ params, query, auth, reply }) => {
      // Two compiles and two matrices per view: a job when either version is big.
      const from = versionOr404(params.id, query.from);
      const to = versionOr404(params.id, query.to);
      const big = [from, to].some((x) => (store.specVersionHosts(x.spec.id, x.version.version) ?? 0) > jobHostThreshold);
      if (big) {
        const name = from.spec.name;
        const job = jobs.submit(
          auth!.user.id,
          {
            kind: 'diff',
            name,
            file: `${name}@v${query.to}`,
            text: to.version.text,
            oldFile: `${name}@v${query.from}`,
            oldText: from.version.text,
            views: views(query.assume),
          },
          `${name}@v${query.from}..v${query.to}`,
        );
        if (job === 'full') throw new HttpError(429, 'the job queue is full; try again shortly', {}, { 'retry-after': '5' });
        reply.code(202);
        return { job, href: `/api/jobs/${job.id}` };
      }
      const a = compiled(params.id, query.from);
      const b = compiled(params.id, query.to);
      return diffJson({ ...a, file: `${a.file}@v${query.from}` }, { ...b, file: `${b.file}@v${query.to}` }, views(query.assume));
    },
  );
}
