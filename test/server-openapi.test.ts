/**
 * `/openapi.json` describes every endpoint: the routes Fastify actually registered (however they
 * were added: through Api.route, Api.raw or Fastify directly) are listed as the app is built, and
 * each must be in the document, with its path parameters, a request body schema when it takes
 * one, a schema for each success answer and the error answers of its authentication. The other
 * way round too: the document names no route the server does not have. Real HTTP on 127.0.0.1.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { buildApp } from '../src/server/app.js';
import { resolveSettings } from '../src/server/config.js';
import { Store } from '../src/server/store.js';

const Schema = z.record(z.string(), z.unknown());
const Content = z.record(z.string(), z.object({ schema: Schema }));
const Operation = z.looseObject({
  summary: z.string().min(1),
  tags: z.array(z.string()).min(1),
  security: z.array(z.unknown()),
  'x-cordon-scope': z.string().optional(),
  parameters: z.array(z.looseObject({ name: z.string(), in: z.enum(['path', 'query']), required: z.boolean(), schema: Schema })).optional(),
  requestBody: z.looseObject({ required: z.literal(true), content: Content }).optional(),
  responses: z.record(z.string().regex(/^[1-5]\d\d$/), z.looseObject({ description: z.string().min(1), content: Content.optional() })),
});
const Doc = z.looseObject({ openapi: z.literal('3.1.0'), paths: z.record(z.string(), z.record(z.string(), Operation)) });

/** POST routes that take no body, each one reviewed: a new one fails the test until it is added here or given a body schema. */
const BODYLESS_WRITES = new Set(['POST /api/auth/logout']);

describe('/openapi.json describes every endpoint', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-openapi-'));
  const registered: { method: string; url: string }[] = [];
  let store: Store;
  let app: FastifyInstance;
  let doc: z.output<typeof Doc>;

  before(async () => {
    store = new Store(join(dir, 'cordon.db'));
    const quiet = new Writable({ write: (_c, _e, done) => done() });
    app = await buildApp({
      store,
      settings: resolveSettings({ dataDir: dir, port: 0 }, {}),
      cookieSecret: 'x'.repeat(32),
      log: quiet,
      onRoute: (r) => {
        for (const method of typeof r.method === 'string' ? [r.method] : r.method) registered.push({ method, url: r.url });
      },
    });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const r = await fetch(`${url}/openapi.json`);
    assert.equal(r.status, 200);
    doc = Doc.parse(await r.json());
  });
  after(async () => {
    await app?.close();
    store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const openapiPath = (url: string) => url.replace(/:([A-Za-z_]+)/g, '{$1}');
  const routes = () => registered.filter((r) => r.method !== 'HEAD');

  it('lists every registered route (HEAD is Fastify’s automatic twin of a GET), and nothing else', () => {
    assert.ok(routes().length >= 40, `only ${routes().length} routes seen: the onRoute hook missed some`);
    for (const h of registered.filter((r) => r.method === 'HEAD'))
      assert.ok(
        routes().some((r) => r.method === 'GET' && r.url === h.url),
        `HEAD ${h.url} without its GET`,
      );
    const have = new Set(routes().map((r) => `${r.method} ${openapiPath(r.url)}`));
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    const missing = [...have].filter((x) => !documented.includes(x));
    assert.deepEqual(missing, [], 'registered but not in /openapi.json');
    assert.deepEqual(
      documented.filter((x) => !have.has(x)),
      [],
      'in /openapi.json but not served',
    );
    // The dashboard's own files are endpoints too (a route added with app.get would be missing above).
    for (const x of ['GET /', 'GET /assets/{file}', 'GET /api/events/stream', 'GET /api/specs/{id}/versions/{version}/topology']) assert.ok(have.has(x), x);
  });

  it('each operation has its path parameters, its request body schema, a schema for each success answer, and its auth errors', () => {
    for (const r of routes()) {
      const name = `${r.method} ${r.url}`;
      const op = doc.paths[openapiPath(r.url)]![r.method.toLowerCase()]!;
      const pathParams = [...r.url.matchAll(/:([A-Za-z_]+)/g)].map((m) => m[1]);
      assert.deepEqual(
        (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name),
        pathParams,
        `${name}: path parameters`,
      );
      for (const p of op.parameters ?? []) assert.ok(Object.keys(p.schema).length > 0, `${name}: parameter ${p.name} has a schema`);
      if (r.method === 'POST' || r.method === 'PUT' || r.method === 'PATCH') {
        if (BODYLESS_WRITES.has(name)) assert.equal(op.requestBody, undefined, `${name} is listed as taking no body`);
        else {
          const body = op.requestBody?.content['application/json']?.schema;
          assert.ok(
            body && (body.type === 'object' || Array.isArray(body.anyOf)),
            `${name}: a JSON request body schema (got ${JSON.stringify(op.requestBody)})`,
          );
        }
      } else assert.equal(op.requestBody, undefined, `${name}: no body on ${r.method}`);
      const ok = Object.entries(op.responses).filter(([s]) => s.startsWith('2'));
      assert.ok(ok.length > 0, `${name}: a success answer`);
      for (const [status, resp] of ok) {
        const content = Object.entries(resp.content ?? {});
        assert.ok(content.length > 0, `${name} ${status}: its content described`);
        for (const [type, c] of content) assert.ok(Object.keys(c.schema).length > 0, `${name} ${status} ${type}: a schema`);
      }
      if (op['x-cordon-scope'] !== undefined) {
        assert.deepEqual(op.security, [{ session: [] }, { token: [] }], `${name}: credentials`);
        for (const s of ['401', '403']) assert.ok(op.responses[s]?.content?.['application/json'], `${name}: ${s} documented with the error schema`);
      } else assert.deepEqual(op.security, [], `${name}: public`);
    }
    for (const w of BODYLESS_WRITES)
      assert.ok(
        routes().some((r) => `${r.method} ${r.url}` === w),
        `${w} (listed as bodyless) exists`,
      );
  });
});
