/**
 * The server against real HTTP on 127.0.0.1 and a real SQLite file: auth (401/403/CSRF/429),
 * specs and analysis answering exactly what the CLI's --json prints, the audit log, the Stripe
 * webhook, no secret in any later answer or log line, and a restart that keeps everything.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Store } from '../src/server/store.js';
import { hashPassword } from '../src/server/secrets.js';
import { parseWgQuick } from '../src/sandbox/wireguard.js';
import { generateWgKeyPair, publicKeyOf } from '../src/util/wgkey.js';
import { z } from 'zod';
import {
  AuditEntrySchema,
  EventsAccepted,
  EventsResponse,
  ErrorSchema,
  PeerCreated,
  PeerSchema,
  RenderedJson,
  SessionResponse,
  SpecDetail,
  SpecSummarySchema,
  SpecUploaded,
  SpecVersionDetail,
  TokenCreated,
  SpecVersionMeta,
  TokenSchema,
  UserSchema,
  WebhookResponse,
} from '../src/server/schemas.js';
import { testServer, type Client, type Reply, type TestServer } from './support/server.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLES = join(ROOT, 'examples');
const EXAMPLE = 'proxmox-dual-bridge.yaml';
const EXAMPLE_TEXT = readFileSync(join(EXAMPLES, EXAMPLE), 'utf8');
const BILLING_SECRET = 'whsec_test_0123456789abcdef';

/** `cordon ARGS` run in `cwd`, its stdout parsed as JSON: what the API must answer. */
function cli(cwd: string, ...args: string[]): unknown {
  const r = spawnSync(join(ROOT, 'bin/cordon'), args, { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  assert.ok(r.status !== null && r.status <= 2, r.stderr);
  return JSON.parse(r.stdout);
}

function cliText(cwd: string, ...args: string[]): string {
  const r = spawnSync(join(ROOT, 'bin/cordon'), args, { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

function sign(payload: string, t: number, secret = BILLING_SECRET): string {
  return createHmac('sha256', secret).update(`${t}.${payload}`).digest('hex');
}

/** The secret part of an API token `cordon_<12 hex>_<secret>` (the secret itself may contain '_'). */
function tokenSecret(token: string): string {
  return token.slice('cordon_'.length + 13);
}

/** The first schema problem a 400 answer lists (its JSON path and what was expected). */
const issue = (r: Reply) => r.as(ErrorSchema).issues?.[0];

/** The parts of /openapi.json these tests read; the rest of each object is kept as it is. */
const JsonSchemaObject = z.looseObject({
  required: z.array(z.string()).optional(),
  properties: z.record(z.string(), z.looseObject({ pattern: z.string().optional() })).optional(),
});
const Operation = z.looseObject({
  'x-cordon-scope': z.string().optional(),
  parameters: z.array(z.looseObject({ name: z.string(), in: z.string() })).optional(),
  requestBody: z.looseObject({ content: z.record(z.string(), z.looseObject({ schema: JsonSchemaObject })) }).optional(),
  responses: z.record(z.string(), z.unknown()),
});
const OpenApiDoc = z.looseObject({ openapi: z.string(), paths: z.record(z.string(), z.record(z.string(), Operation)) });

/** GET /api/audit with each entry's before/after read as the changed fields (null: nothing before a creation). */
const Fields = z.record(z.string(), z.unknown()).nullable();
const Audit = z.object({ entries: z.array(AuditEntrySchema.extend({ before: Fields, after: Fields })), next: z.number().int().optional() });

/** Every secret handed out during the run, checked against later answers and the log at the end. */
const secrets: string[] = [];
let metricsToken = '';

describe('cordon server', () => {
  let t: TestServer;
  let admin: Client;
  let specId: number;

  before(async () => {
    t = await testServer({ billingSecret: BILLING_SECRET, loginLimit: { max: 5, windowMs: 60_000 } });
    secrets.push(t.adminPassword, BILLING_SECRET, readFileSync(join(t.dataDir, 'cookie.secret'), 'utf8').trim());
    admin = t.client();
    const r = await admin.login('admin', t.adminPassword);
    assert.equal(r.status, 200, r.text);
    secrets.push(admin.cookie!.split('=')[1]!);
  });
  after(async () => t?.close());

  describe('serving', () => {
    it('binds 127.0.0.1 only, keeps its state 0600 in a 0700 directory, and runs the migrations', async () => {
      assert.match(t.server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(statSync(t.dataDir).mode & 0o777, 0o700);
      for (const f of ['cordon.db', 'cookie.secret']) assert.equal(statSync(join(t.dataDir, f)).mode & 0o777, 0o600, f);
      const r = await t.client().req('GET', '/api/health');
      assert.deepEqual(r.json, { ok: true, schemaVersion: 5 });
      assert.equal((await t.client().req('GET', '/api/nope')).status, 404);
    });

    it('/openapi.json describes every route, with request schemas generated from the zod schemas', async () => {
      const doc = (await t.client().req('GET', '/openapi.json')).as(OpenApiDoc);
      assert.equal(doc.openapi, '3.1.0');
      const ops = Object.entries(doc.paths).flatMap(([p, m]) => Object.keys(m).map((k) => `${k.toUpperCase()} ${p}`));
      for (const op of [
        'POST /api/auth/login',
        'POST /api/auth/logout',
        'GET /api/auth/session',
        'POST /api/tokens',
        'GET /api/tokens',
        'DELETE /api/tokens/{id}',
        'POST /api/specs',
        'GET /api/specs',
        'GET /api/specs/{id}',
        'GET /api/specs/{id}/versions/{version}',
        'GET /api/specs/{id}/versions/{version}/matrix',
        'POST /api/specs/{id}/versions/{version}/query',
        'POST /api/specs/{id}/versions/{version}/explain',
        'GET /api/specs/{id}/versions/{version}/lint',
        'GET /api/specs/{id}/versions/{version}/test',
        'GET /api/specs/{id}/versions/{version}/render/{target}',
        'GET /api/specs/{id}/diff',
        'POST /api/specs/{id}/tunnels/{tunnel}/peers',
        'GET /api/specs/{id}/tunnels/{tunnel}/peers',
        'DELETE /api/specs/{id}/tunnels/{tunnel}/peers/{peer}',
        'POST /api/wireguard/new-peer',
        'POST /api/events',
        'GET /api/events',
        'GET /api/audit',
        'POST /api/webhooks/billing',
        'GET /api/health',
        'GET /metrics',
        'GET /openapi.json',
      ])
        assert.ok(ops.includes(op), `${op} missing from /openapi.json`);
      const upload = doc.paths['/api/specs']?.post;
      assert.ok(upload, 'POST /api/specs described');
      const schema = upload.requestBody?.content['application/json']?.schema;
      assert.deepEqual(schema?.required, ['name', 'text']);
      assert.equal(schema?.properties?.name?.pattern, '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$');
      assert.equal(upload['x-cordon-scope'], 'specs:write');
      assert.ok(upload.responses['401'] && upload.responses['403'], 'auth errors documented');
      const matrix = doc.paths['/api/specs/{id}/versions/{version}/matrix']?.get;
      assert.deepEqual(
        matrix?.parameters?.map((p) => `${p.in}:${p.name}`),
        ['path:id', 'path:version', 'query:assume'],
      );
    });

    it('answers unknown routes, malformed JSON, wrong media types and oversized bodies with 4xx and a reason', async () => {
      let r = await admin.req('GET', '/api/nothing');
      assert.equal(r.status, 404);
      assert.match(r.as(ErrorSchema).error, /no route GET \/api\/nothing/);
      r = await admin.req('POST', '/api/specs', { raw: '{"name": "x", ' });
      assert.equal(r.status, 400);
      assert.match(r.as(ErrorSchema).error, /malformed JSON/);
      r = await admin.req('POST', '/api/specs', { raw: 'name: x', headers: { 'content-type': 'application/x-yaml' } });
      assert.equal(r.status, 415, r.text);
      assert.ok(r.as(ErrorSchema).error);
      r = await admin.req('POST', '/api/specs', { body: { name: 'big', text: 'x'.repeat(1024 * 1024 + 10) } });
      assert.equal(r.status, 413);
      assert.ok(r.as(ErrorSchema).error);
      r = await admin.req('POST', '/api/specs', { body: { name: '../etc', text: 'version: 1' } });
      assert.equal(r.status, 400);
      assert.equal(issue(r)?.path, 'body.name');
    });
    it('bad request bodies, table-driven: each answer names the JSON path and what was expected', async () => {
      const cases: [string, string, unknown, string, RegExp][] = [
        ['POST', '/api/specs', { name: 'x' }, 'body.text', /expected string/],
        ['POST', '/api/specs', { name: 'x', text: 42 }, 'body.text', /expected string/],
        ['POST', '/api/specs', { name: '', text: 'version: 1' }, 'body.name', /letters, digits/],
        ['POST', '/api/specs', [], 'body', /expected object/],
        ['POST', '/api/tokens', { name: 'x', scopes: ['root'] }, 'body.scopes.0', /specs:read/],
        ['POST', '/api/tokens', { name: 'x', scopes: [] }, 'body.scopes', /too small|>=1/i],
        ['POST', '/api/auth/login', { username: 'admin' }, 'body.password', /expected string/],
        ['GET', '/api/audit?limit=0', undefined, 'query.limit', />=1|too small/i],
        ['GET', '/api/specs/0', undefined, 'params.id', />0|too small/i],
      ];
      for (const [method, path, body, where, why] of cases) {
        const r = await admin.req(method, path, body === undefined ? {} : { body });
        assert.equal(r.status, 400, `${method} ${path} ${JSON.stringify(body)}: ${r.text}`);
        assert.equal(issue(r)?.path, where, r.text);
        assert.match(issue(r)?.message ?? '', why, r.text);
        assert.ok(r.as(ErrorSchema).error.includes(where), 'the summary names the path too');
      }
    });
  });

  describe('auth', () => {
    let reader: string;

    it('no credentials → 401 with WWW-Authenticate; a forged token or cookie counts as none', async () => {
      const anon = t.client();
      let r = await anon.req('GET', '/api/specs');
      assert.equal(r.status, 401);
      assert.equal(r.headers.get('www-authenticate'), 'Bearer');
      r = await anon.req('GET', '/api/specs', { token: `cordon_000000000000_${'A'.repeat(43)}` });
      assert.equal(r.status, 401);
      const forged = t.client();
      forged.cookie = `${admin.cookie!.slice(0, -3)}abc`;
      r = await forged.req('GET', '/api/specs');
      assert.equal(r.status, 401);
    });

    it('the session cookie is signed, HttpOnly and SameSite=Strict; wrong passwords get 401', async () => {
      const c = t.client();
      const bad = await c.login('admin', 'wrong');
      assert.equal(bad.status, 401);
      const nobody = await c.login('nobody', 'wrong');
      assert.equal(nobody.status, 401);
      assert.equal(nobody.as(ErrorSchema).error, bad.as(ErrorSchema).error, 'unknown user and wrong password look the same');
      const r = await c.login('admin', t.adminPassword);
      const set = r.headers.getSetCookie().find((x) => x.startsWith('cordon_session='))!;
      assert.match(set, /^cordon_session=[^;]+\.[^;]+;/, 'signed value');
      assert.match(set, /HttpOnly/);
      assert.match(set, /SameSite=Strict/);
      assert.match(set, /Path=\//);
      secrets.push(c.cookie!.split('=')[1]!);
      const me = (await c.req('GET', '/api/auth/session')).as(SessionResponse);
      assert.equal(me.user.name, 'admin');
      assert.equal(me.csrfToken, c.csrf);
      const out = await c.req('POST', '/api/auth/logout');
      assert.equal(out.status, 200);
      assert.equal((await c.req('GET', '/api/specs')).status, 401, 'the session is gone after logout');
    });

    it('cookie-authenticated writes need the CSRF token: missing or wrong → 403, nothing stored', async () => {
      let r = await admin.req('POST', '/api/specs', { body: { name: 'csrf', text: EXAMPLE_TEXT }, csrf: false });
      assert.equal(r.status, 403);
      assert.match(r.as(ErrorSchema).error, /CSRF/);
      r = await admin.req('POST', '/api/specs', { body: { name: 'csrf', text: EXAMPLE_TEXT }, csrf: false, headers: { 'x-csrf-token': 'nope' } });
      assert.equal(r.status, 403);
      r = await admin.req('GET', '/api/specs');
      assert.ok(!r.as(SpecSummarySchema.array()).some((s) => s.name === 'csrf'));
    });

    it('API tokens: shown once, stored as a digest, limited to their scopes (403), no CSRF needed, revocable', async () => {
      const r = await admin.req('POST', '/api/tokens', { body: { name: 'ci reader', scopes: ['specs:read'] } });
      assert.equal(r.status, 201, r.text);
      const created = r.as(TokenCreated);
      reader = created.token;
      assert.match(reader, /^cordon_[0-9a-f]{12}_/);
      secrets.push(reader);
      const list = await admin.req('GET', '/api/tokens');
      assert.ok(!list.text.includes(tokenSecret(reader)), 'the list never shows the secret');
      assert.deepEqual(list.as(TokenSchema.array()).find((x) => x.id === created.id)?.scopes, ['specs:read']);
      const db = readFileSync(join(t.dataDir, 'cordon.db')).toString('latin1') + readFileSync(join(t.dataDir, 'cordon.db-wal')).toString('latin1');
      assert.ok(!db.includes(tokenSecret(reader)), 'the database holds no token secret');
      assert.ok(!db.includes(t.adminPassword), 'nor the password');

      const anon = t.client();
      assert.equal((await anon.req('GET', '/api/specs', { token: reader })).status, 200);
      const w = await anon.req('POST', '/api/specs', { token: reader, body: { name: 'x', text: EXAMPLE_TEXT } });
      assert.equal(w.status, 403);
      assert.match(w.as(ErrorSchema).error, /lacks the scope 'specs:write'/);
      const writer = (await admin.req('POST', '/api/tokens', { body: { name: 'writer', scopes: ['specs:write', 'specs:read'] } })).as(TokenCreated);
      secrets.push(writer.token);
      const ok = await anon.req('POST', '/api/specs', { token: writer.token, body: { name: 'by-token', text: EXAMPLE_TEXT } });
      assert.equal(ok.status, 201, ok.text);
      assert.equal(ok.as(SpecUploaded).version.createdBy, `token:${writer.id} (user:admin)`);
      assert.equal((await admin.req('DELETE', `/api/tokens/${writer.id}`)).status, 200);
      assert.equal((await anon.req('GET', '/api/specs', { token: writer.token })).status, 401, 'revoked');
      assert.equal((await admin.req('DELETE', '/api/tokens/ffffffffffff')).status, 404);
    });

    it("a free account's sessions and tokens cannot read the audit log (403)", async () => {
      const store = new Store(join(t.dataDir, 'cordon.db'));
      store.createUser('test', 'alice', await hashPassword('alice-password-1'), 'free');
      store.close();
      const alice = t.client();
      assert.equal((await alice.login('alice', 'alice-password-1')).status, 200);
      const r = await alice.req('GET', '/api/audit');
      assert.equal(r.status, 403);
      assert.match(r.as(ErrorSchema).error, /tier free/);
      const tok = await alice.req('POST', '/api/tokens', { body: { name: 'grab', scopes: ['audit:read', 'specs:read'] } });
      const aliceToken = tok.as(TokenCreated).token;
      secrets.push(aliceToken);
      assert.equal((await t.client().req('GET', '/api/audit', { token: aliceToken })).status, 403, 'a token never exceeds its owner’s tier');
    });

    it('login attempts past the limit → 429 with Retry-After', async () => {
      // The limit is 5 per minute per address; earlier tests used some of them, so try up to 6 times.
      let r = await t.client().login('admin', 'wrong-again');
      for (let i = 0; i < 5 && r.status === 401; i++) r = await t.client().login('admin', 'wrong-again');
      assert.equal(r.status, 429, r.text);
      const after = Number(r.headers.get('retry-after'));
      assert.ok(after >= 1 && after <= 60, `Retry-After ${after}`);
      const good = await t.client().login('admin', t.adminPassword);
      assert.equal(good.status, 429, 'the right password does not bypass the limit');
    });
  });

  describe('specs and analysis (the same JSON as the CLI)', () => {
    it('an invalid spec → 400 with the diagnostics of `cordon check --json`, nothing stored', async () => {
      const bad = '12-unknown-host-in-policy.yaml';
      const r = await admin.req('POST', '/api/specs', { body: { name: bad, text: readFileSync(join(ROOT, 'test/bad', bad), 'utf8') } });
      assert.equal(r.status, 400);
      const expected = (cli(join(ROOT, 'test/bad'), 'check', '--json', bad) as { diagnostics: unknown[] }[])[0]!.diagnostics;
      assert.ok(expected.length > 0);
      assert.deepEqual(r.as(z.object({ diagnostics: z.array(z.unknown()) })).diagnostics, expected, 'as sent, no key dropped');
      assert.ok((r.as(ErrorSchema).diagnostics?.[0]?.line ?? 0) > 0, 'located');
      assert.ok(!(await admin.req('GET', '/api/specs')).as(SpecSummarySchema.array()).some((s) => s.name === bad));
      const yaml = await admin.req('POST', '/api/specs', { body: { name: 'broken', text: 'hosts: [' } });
      assert.equal(yaml.status, 400);
      assert.ok((yaml.as(ErrorSchema).diagnostics ?? []).length > 0);
    });

    it('each upload is a version; list, get and read back', async () => {
      const r1 = await admin.req('POST', '/api/specs', { body: { name: EXAMPLE, text: EXAMPLE_TEXT } });
      assert.equal(r1.status, 201, r1.text);
      const v1 = r1.as(SpecUploaded);
      specId = v1.spec.id;
      assert.equal(v1.version.version, 1);
      const v2text = EXAMPLE_TEXT.replace('policy:\n', 'policy:\n  - allow: { from: wg-client, to: ollama.api, comment: added in v2 }\n');
      assert.notEqual(v2text, EXAMPLE_TEXT);
      const r2 = await admin.req('POST', '/api/specs', { body: { name: EXAMPLE, text: v2text } });
      const v2 = r2.as(SpecUploaded);
      assert.equal(v2.version.version, 2);
      assert.equal(v2.spec.id, specId);
      const list = await admin.req('GET', '/api/specs');
      assert.equal(list.as(SpecSummarySchema.array()).find((s) => s.name === EXAMPLE)?.latestVersion, 2);
      const detail = await admin.req('GET', `/api/specs/${specId}`);
      assert.deepEqual(
        detail.as(SpecDetail).versions.map((v) => v.version),
        [1, 2],
      );
      assert.equal((await admin.req('GET', `/api/specs/${specId}/versions/1`)).as(SpecVersionDetail).text, EXAMPLE_TEXT);
      assert.equal((await admin.req('GET', `/api/specs/${specId}/versions/latest`)).as(SpecVersionDetail).text, v2text);
    });

    it('unknown ids and versions → 404 with the reason; malformed ids → 400 naming the parameter', async () => {
      let r = await admin.req('GET', '/api/specs/9999');
      assert.equal(r.status, 404);
      assert.match(r.as(ErrorSchema).error, /no spec with id 9999/);
      r = await admin.req('GET', `/api/specs/${specId}/versions/7/matrix`);
      assert.equal(r.status, 404);
      assert.match(r.as(ErrorSchema).error, /no version 7; its versions are 1–2/);
      r = await admin.req('GET', '/api/specs/abc');
      assert.equal(r.status, 400);
      assert.equal(issue(r)?.path, 'params.id');
    });

    it('matrix: both views, each equal to `cordon matrix --json`', async () => {
      const r = await admin.req('GET', `/api/specs/${specId}/versions/1/matrix?assume=both`);
      assert.equal(r.status, 200, r.text);
      // Each view as sent (no schema drops a key), to compare with the CLI's JSON whole.
      const views = r.as(z.object({ views: z.array(z.unknown()) })).views;
      assert.deepEqual(
        views.map((v) => z.looseObject({ assume: z.string() }).parse(v).assume),
        ['configured', 'compromised'],
      );
      assert.deepEqual(views[0], cli(EXAMPLES, 'matrix', EXAMPLE, '--json'));
      assert.deepEqual(views[1], cli(EXAMPLES, 'matrix', EXAMPLE, '--json', '--assume', 'compromised'));
      assert.equal((await admin.req('GET', `/api/specs/${specId}/versions/1/matrix?assume=sideways`)).status, 400);
    });

    it('query and explain: equal to `cordon query --json`; bad names get the hint, bad ports the JSON path', async () => {
      for (const [route, body, args] of [
        ['query', { from: 'agentfarm', to: 'ollama.api' }, ['query', EXAMPLE, '--from', 'agentfarm', '--to', 'ollama.api', '--json']],
        [
          'explain',
          { from: 'wg-client', to: 'ollama', proto: 'tcp', port: 11434 },
          ['explain', EXAMPLE, '--from', 'wg-client', '--to', 'ollama', '--proto', 'tcp', '--port', '11434', '--json'],
        ],
      ] as const) {
        const r = await admin.req('POST', `/api/specs/${specId}/versions/1/${route}`, { body });
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.json, cli(EXAMPLES, ...args));
      }
      let r = await admin.req('POST', `/api/specs/${specId}/versions/1/query`, { body: { from: 'agentfrm', to: 'ollama.api' } });
      assert.equal(r.status, 400);
      assert.match(r.as(ErrorSchema).error, /unknown host 'agentfrm'.*agentfarm/);
      r = await admin.req('POST', `/api/specs/${specId}/versions/1/query`, { body: { from: 'agentfarm', to: 'ollama', proto: 'tcp', port: 70000 } });
      assert.equal(r.status, 400);
      assert.equal(issue(r)?.path, 'body.port');
    });

    it('lint and test: equal to `cordon lint --json` and `cordon test --json`', async () => {
      const lint = await admin.req('GET', `/api/specs/${specId}/versions/1/lint`);
      assert.deepEqual(lint.json, cli(EXAMPLES, 'lint', EXAMPLE, '--json'));
      const test = await admin.req('GET', `/api/specs/${specId}/versions/1/test`);
      const expected = cli(EXAMPLES, 'test', EXAMPLE, '--json') as { passed: number };
      assert.ok(expected.passed > 0);
      assert.deepEqual(test.json, expected);
    });

    it('render: a download equal to `cordon render`; one file raw; unknown and keyed targets refused', async () => {
      const r = await admin.req('GET', `/api/specs/${specId}/versions/1/render/nftables`);
      assert.equal(r.status, 200, r.text);
      assert.match(r.headers.get('content-disposition')!, /^attachment; filename="proxmox-dual-bridge\.yaml-v1-nftables\.txt"$/);
      assert.equal(r.text, cliText(EXAMPLES, 'render', EXAMPLE, '--target', 'nftables'));
      const files = (await admin.req('GET', `/api/specs/${specId}/versions/1/render/nftables?format=json`)).as(RenderedJson);
      assert.ok(files.length > 0);
      const one = await admin.req('GET', `/api/specs/${specId}/versions/1/render/nftables?file=${encodeURIComponent(files[0]!.path)}`);
      assert.equal(one.text, files[0]!.content);
      let bad = await admin.req('GET', `/api/specs/${specId}/versions/1/render/nftabels`);
      assert.equal(bad.status, 400);
      assert.match(bad.as(ErrorSchema).error, /unknown target 'nftabels'.*nftables/);
      bad = await admin.req('GET', `/api/specs/${specId}/versions/1/render/wireguard`);
      assert.equal(bad.status, 400);
      assert.match(bad.as(ErrorSchema).error, /needs WireGuard keys/);
    });

    /** `cordon diff --json` as far as this test reads it: the changed pairs of each view. */
    const DiffChanges = z.object({
      changed: z.boolean(),
      views: z.array(z.looseObject({ changes: z.array(z.looseObject({ from: z.string(), to: z.string(), addedText: z.string() })) })),
    });

    it('diff of two versions: the flow v2 added, as `cordon diff --json` reports it', async () => {
      const r = await admin.req('GET', `/api/specs/${specId}/diff?from=1&to=2`);
      assert.equal(r.status, 200, r.text);
      const diff = r.as(DiffChanges);
      assert.equal(diff.changed, true);
      assert.ok(
        diff.views[0]?.changes.some((c) => c.from === 'wg-client' && c.to === 'ollama' && c.addedText.includes('11434')),
        r.text,
      );
      const same = await admin.req('GET', `/api/specs/${specId}/diff?from=1&to=1`);
      assert.equal(same.as(DiffChanges).changed, false);
      assert.equal(issue(await admin.req('GET', `/api/specs/${specId}/diff?from=1`))?.path, 'query.to');
    });
  });

  describe('WireGuard peers', () => {
    const peers = () => `/api/specs/${specId}/tunnels/wg0/peers`;

    it('creates a peer with a server-made key pair at the next free address; the private key is in that answer only', async () => {
      const r = await admin.req('POST', peers(), { body: { name: 'laptop' } });
      assert.equal(r.status, 201, r.text);
      const peer = r.as(PeerCreated);
      // 10.8.0.1 is pve and 10.8.0.2 the spec's own wg-client: the first free one is .3.
      assert.equal(peer.address, '10.8.0.3');
      const client = parseWgQuick(peer.clientConfig, 'laptop.conf');
      assert.equal(publicKeyOf(client.privateKey), peer.publicKey);
      assert.equal(client.addressTexts[0], '10.8.0.3/24');
      secrets.push(client.privateKey);
      assert.match(peer.qrSvg, /^<svg/);
      assert.equal(Buffer.from(peer.qrPng, 'base64').subarray(1, 4).toString(), 'PNG');

      const conf = join(t.dataDir, 'wireguard', `${specId}-wg0.conf`);
      assert.equal(statSync(conf).mode & 0o777, 0o600);
      assert.equal(statSync(join(t.dataDir, 'wireguard', `${specId}-wg0.key`)).mode & 0o777, 0o600);
      const hub = readFileSync(conf, 'utf8');
      assert.match(hub, new RegExp(`PublicKey = ${peer.publicKey.replace(/[+/]/g, '\\$&')}\nAllowedIPs = 10\\.8\\.0\\.3/32`));
      assert.ok(!hub.includes(client.privateKey));
      secrets.push(/PrivateKey = (\S+)/.exec(hub)![1]!);

      const list = await admin.req('GET', peers());
      assert.deepEqual(
        list.as(PeerSchema.array()).map((p) => [p.name, p.address]),
        [['laptop', '10.8.0.3']],
      );
      assert.ok(!list.text.includes(client.privateKey));
    });

    it('takes the caller’s public key (no private key anywhere), the alias route, and reuses a revoked peer’s address', async () => {
      const own = generateWgKeyPair();
      const byo = await admin.req('POST', '/api/wireguard/new-peer', { body: { specId, tunnel: 'wg0', name: 'phone', publicKey: own.publicKey } });
      assert.equal(byo.status, 201, byo.text);
      const phone = byo.as(PeerCreated);
      assert.equal(phone.address, '10.8.0.4');
      assert.equal(phone.publicKey, own.publicKey);
      assert.doesNotMatch(phone.clientConfig, /^PrivateKey/m);
      const laptop = (await admin.req('GET', peers())).as(PeerSchema.array()).find((p) => p.name === 'laptop');
      assert.ok(laptop, 'the laptop peer is listed');
      assert.equal((await admin.req('DELETE', `${peers()}/${laptop.id}`)).status, 200);
      const hub = readFileSync(join(t.dataDir, 'wireguard', `${specId}-wg0.conf`), 'utf8');
      assert.ok(!hub.includes(laptop.publicKey), 'revoked peers leave the hub config');
      const next = await admin.req('POST', peers(), { body: { name: 'laptop' } });
      const again = next.as(PeerCreated);
      assert.equal(again.address, '10.8.0.3', 'the name and the address are free again');
      secrets.push(parseWgQuick(again.clientConfig, 'x').privateKey);
    });

    it('refuses a taken name (409), an unknown tunnel (404 with a hint) and a malformed key (400)', async () => {
      assert.equal((await admin.req('POST', peers(), { body: { name: 'phone' } })).status, 409);
      const r = await admin.req('POST', `/api/specs/${specId}/tunnels/wg1/peers`, { body: { name: 'x' } });
      assert.equal(r.status, 404);
      assert.match(r.as(ErrorSchema).error, /no tunnel 'wg1'.*wg0/);
      const bad = await admin.req('POST', peers(), { body: { name: 'x', publicKey: 'not-a-key' } });
      assert.equal(bad.status, 400);
      assert.equal(issue(bad)?.path, 'body.publicKey');
    });
  });

  describe('guard events', () => {
    const ev = (type: string, host: string, time: string, extra: Record<string, unknown> = {}) => ({ v: 1, time, type, host, ...extra });
    let guard: string;

    it('POST /api/events takes one event or a batch from a token with events:write; other scopes → 403', async () => {
      const tok = await admin.req('POST', '/api/tokens', { body: { name: 'guard on pve', scopes: ['events:write'] } });
      guard = tok.as(TokenCreated).token;
      secrets.push(guard);
      const anon = t.client();
      let r = await anon.req('POST', '/api/events', { token: guard, body: ev('blocked', 'pve', '2026-12-01T10:00:00Z', { dst: '192.0.2.1', port: 443 }) });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.as(EventsAccepted).accepted, 1);
      r = await anon.req('POST', '/api/events', {
        token: guard,
        body: [ev('drift', 'pve', '2026-12-01T11:00:00.000Z'), ev('blocked', 'node2', '2026-12-01T12:00:00Z'), ev('blocked', 'pve', '2026-12-01T13:00:00Z')],
      });
      assert.equal(r.as(EventsAccepted).accepted, 3);
      assert.equal((await anon.req('GET', '/api/events', { token: guard })).status, 403, 'writing is not reading');
      const reader = secrets.find((s) => s.startsWith('cordon_'))!;
      assert.equal((await anon.req('POST', '/api/events', { token: reader, body: ev('blocked', 'pve', '2026-12-01T10:00:00Z') })).status, 403);
      r = await anon.req('POST', '/api/events', { token: guard, body: { v: 1, type: 'blocked', time: 'yesterday' } });
      assert.equal(r.status, 400);
      assert.equal((await anon.req('POST', '/api/events', { token: guard, body: [] })).status, 400);
    });

    it('GET /api/events filters by type, host and time, newest first, with paging; the event comes back as sent', async () => {
      const q = async (qs: string) => (await admin.req('GET', `/api/events?${qs}`)).as(EventsResponse);
      const blocked = await q('type=blocked');
      assert.deepEqual(
        blocked.events.map((e) => e.event.time),
        ['2026-12-01T13:00:00Z', '2026-12-01T12:00:00Z', '2026-12-01T10:00:00Z'],
      );
      assert.equal(blocked.events[2]?.event.dst, '192.0.2.1');
      assert.match(blocked.events[0]?.reporter ?? '', /^token:[0-9a-f]{12} \(user:admin\)$/);
      assert.equal((await q('type=blocked&host=pve')).events.length, 2);
      assert.deepEqual(
        (await q('since=2026-12-01T11:00:00Z&until=2026-12-01T13:00:00Z')).events.map((e) => e.event.type),
        ['blocked', 'drift'],
      );
      const p1 = await q('limit=3');
      assert.ok(p1.next !== undefined, 'a full page says where the next one starts');
      const p2 = await q(`limit=3&before=${p1.next}`);
      assert.equal(p1.events.length + p2.events.length, 4);
      assert.equal(p2.next, undefined);
    });
  });

  describe('billing webhook (Stripe-Signature)', () => {
    const event = (id: string, tier = 'early-access') =>
      JSON.stringify({
        id,
        type: 'customer.subscription.updated',
        data: { object: { status: 'active', metadata: { cordon_user: 'alice', cordon_tier: tier } } },
      });
    const post = (payload: string, header: string | undefined) =>
      t.client().req('POST', '/api/webhooks/billing', { raw: payload, headers: header === undefined ? {} : { 'stripe-signature': header } });
    const now = () => Math.floor(Date.now() / 1000);
    const tierOf = async (name: string) => {
      const store = new Store(join(t.dataDir, 'cordon.db'));
      try {
        return store.userByName(name)!.tier;
      } finally {
        store.close();
      }
    };

    it('a forged, missing or stale signature → 400 and no change', async () => {
      const payload = event('evt_forged');
      let r = await post(payload, `t=${now()},v1=${sign(payload, now(), 'whsec_wrong')}`);
      assert.equal(r.status, 400);
      assert.match(r.as(ErrorSchema).error, /no v1 signature matches/);
      r = await post(payload, undefined);
      assert.equal(r.status, 400);
      const old = now() - 301;
      r = await post(payload, `t=${old},v1=${sign(payload, old)}`);
      assert.equal(r.status, 400);
      assert.match(r.as(ErrorSchema).error, /tolerance/);
      r = await post(payload.replace('early-access', 'admin'), `t=${now()},v1=${sign(payload, now())}`);
      assert.equal(r.status, 400, 'the signature covers the body');
      assert.equal(await tierOf('alice'), 'free');
    });

    it('a valid event (one of several v1 matching) changes the tier once; its replay → 200, no second effect', async () => {
      const payload = event('evt_1');
      const ts = now();
      const header = `t=${ts},v1=${'0'.repeat(64)},v1=${sign(payload, ts)},v0=ignored`;
      const r = await post(payload, header);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { received: true, duplicate: false, applied: 'user alice: tier early-access' });
      assert.equal(await tierOf('alice'), 'early-access');
      const auditBefore = (await admin.req('GET', '/api/audit?limit=500')).as(Audit).entries.length;
      // Someone downgrades alice by hand in between; the replay must not upgrade her again.
      const store = new Store(join(t.dataDir, 'cordon.db'));
      store.setTier('test', store.userByName('alice')!.id, 'free');
      store.close();
      const replay = await post(payload, header);
      assert.equal(replay.status, 200);
      assert.equal(replay.as(WebhookResponse).duplicate, true);
      assert.equal(await tierOf('alice'), 'free');
      assert.equal((await admin.req('GET', '/api/audit?limit=500')).as(Audit).entries.length, auditBefore + 1, 'only the manual change was audited');
    });

    it('never grants the admin tier', async () => {
      const payload = event('evt_admin', 'admin');
      const ts = now();
      const r = await post(payload, `t=${ts},v1=${sign(payload, ts)}`);
      assert.equal(r.status, 200);
      assert.notEqual(await tierOf('alice'), 'admin');
    });
  });

  describe('audit log', () => {
    it('records who changed what, when, before and after; pages backwards', async () => {
      const r = await admin.req('GET', '/api/audit?limit=500');
      assert.equal(r.status, 200);
      const entries = r.as(Audit).entries;
      const uploads = entries.filter((e) => e.action === 'spec.upload' && e.target === `spec:${EXAMPLE}`);
      assert.equal(uploads.length, 2);
      const [v2, v1] = uploads;
      assert.equal(v1!.actor, 'user:admin');
      assert.equal(v1!.before, null);
      assert.equal(v1!.after?.version, 1);
      assert.equal(v2!.before?.version, 1);
      assert.equal(v2!.after?.version, 2);
      assert.ok(!Number.isNaN(Date.parse(v1!.at)));
      const tier = entries.find((e) => e.action === 'user.tier' && e.actor === 'billing:evt_1')!;
      assert.deepEqual([tier.before, tier.after], [{ tier: 'free' }, { tier: 'early-access' }]);
      assert.ok(entries.some((e) => e.action === 'token.revoke'));
      assert.ok(entries.some((e) => e.action === 'peer.create' && e.after?.name === 'phone'));
      assert.ok(entries.some((e) => e.action === 'peer.revoke'));
      assert.ok(entries.some((e) => e.action === 'user.create' && e.actor === 'cli:init-admin'));
      const page1 = await admin.req('GET', '/api/audit?limit=2');
      const [p1, p2] = [page1.as(Audit), (await admin.req('GET', `/api/audit?limit=2&before=${page1.as(Audit).next}`)).as(Audit)];
      assert.deepEqual(
        [...p1.entries, ...p2.entries].map((e) => e.id),
        entries.slice(0, 4).map((e) => e.id),
      );
    });
  });

  describe('metrics', () => {
    it('/metrics needs metrics:read and counts requests by route pattern (no ids in labels)', async () => {
      const anon = t.client();
      assert.equal((await anon.req('GET', '/metrics')).status, 401);
      const reader = secrets.find((x) => x.startsWith('cordon_'))!;
      assert.equal((await anon.req('GET', '/metrics', { token: reader })).status, 403);
      const tok = (await admin.req('POST', '/api/tokens', { body: { name: 'prometheus', scopes: ['metrics:read'] } })).as(TokenCreated).token;
      secrets.push(tok);
      metricsToken = tok;
      const r = await anon.req('GET', '/metrics', { token: tok });
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
      assert.match(r.text, /^cordon_server_http_requests_total\{method="GET",route="\/api\/specs\/:id",status="200"\} \d+$/m);
      assert.match(r.text, /^cordon_server_http_requests_total\{method="GET",route="unmatched",status="404"\} [1-9]\d*$/m);
      assert.doesNotMatch(r.text, /route="\/api\/specs\/\d/, 'no ids in labels');
      assert.match(r.text, /^cordon_server_specs [1-9]\d*$/m);
      assert.match(r.text, /^cordon_server_wireguard_peers 2$/m);
    });
  });

  describe('restart and secrets', () => {
    it('a restart on the same data directory keeps specs, versions, sessions, tokens, peers, events, webhook ids and the audit log', async () => {
      // The entries as sent (no schema drops a key): after the restart they must be the same, whole.
      const Entries = z.object({ entries: z.array(z.unknown()) });
      const before = (await admin.req('GET', '/api/audit?limit=500')).as(Entries).entries;
      const eventsBefore = (await admin.req('GET', '/api/events?limit=500')).json;
      assert.ok(JSON.stringify(eventsBefore).includes('"host"'), 'there are events to keep');
      const reader = secrets.find((s) => s.startsWith('cordon_'))!;
      // A webhook event handled before the restart is still a replay after it.
      const payload = JSON.stringify({ id: 'evt_restart', type: 'customer.subscription.deleted', data: { object: { metadata: { cordon_user: 'alice' } } } });
      const hook = async () => {
        const ts = Math.floor(Date.now() / 1000);
        const r = await t.client().req('POST', '/api/webhooks/billing', { raw: payload, headers: { 'stripe-signature': `t=${ts},v1=${sign(payload, ts)}` } });
        return r.as(WebhookResponse).duplicate;
      };
      assert.equal(await hook(), false);
      const auditAfterHook = (await admin.req('GET', '/api/audit?limit=500')).as(Entries).entries;
      await t.restart();
      admin = Object.assign(t.client(), { cookie: admin.cookie, csrf: admin.csrf });
      assert.equal((await admin.req('GET', `/api/specs/${specId}`)).as(SpecDetail).versions.length, 2);
      assert.equal((await admin.req('GET', `/api/specs/${specId}/tunnels/wg0/peers`)).as(PeerSchema.array()).length, 2, 'peers kept');
      assert.equal((await t.client().req('GET', '/api/specs', { token: reader })).status, 200, 'the token still works');
      assert.deepEqual((await admin.req('GET', '/api/events?limit=500')).json, eventsBefore, 'events kept');
      assert.equal(await hook(), true, 'the webhook id is remembered: a replay after the restart changes nothing');
      assert.deepEqual((await admin.req('GET', '/api/audit?limit=500')).as(Entries).entries, auditAfterHook);
      assert.deepEqual(auditAfterHook.slice(auditAfterHook.length - before.length), before, 'the audit only grew');
      const w = await admin.req('POST', '/api/specs', { body: { name: EXAMPLE, text: EXAMPLE_TEXT } });
      assert.equal(w.as(SpecUploaded).version.version, 3, 'versions continue');
    });

    it('answers carry the documented fields only: no password hash on a login, no owner id on a token, no text on an upload', async () => {
      // The raw answer's keys against the schema's: zod parsing would drop an extra key, not report it.
      const keys = (v: unknown) => Object.keys(z.record(z.string(), z.unknown()).parse(v)).sort();
      const documented = (schema: z.ZodObject) => Object.keys(schema.shape).sort();
      const c = t.client(); // the restart above emptied the login limiter
      const login = await c.login('admin', t.adminPassword);
      assert.equal(login.status, 200, login.text);
      secrets.push(c.cookie!.split('=')[1]!);
      assert.deepEqual(keys(login.as(z.object({ user: z.unknown() })).user), documented(UserSchema));
      const made = await admin.req('POST', '/api/tokens', { body: { name: 'short-lived', scopes: ['specs:read'] } });
      assert.deepEqual(keys(made.json), documented(TokenCreated));
      const { id, token } = made.as(TokenCreated);
      secrets.push(token);
      const listed = (await admin.req('GET', '/api/tokens')).as(z.array(z.unknown()));
      assert.ok(listed.length >= 2);
      for (const one of listed) assert.deepEqual(keys(one), documented(TokenSchema));
      assert.deepEqual(keys((await admin.req('DELETE', `/api/tokens/${id}`)).json), documented(TokenSchema));
      const up = await admin.req('POST', '/api/specs', { body: { name: 'fields', text: EXAMPLE_TEXT } });
      assert.equal(up.status, 201, up.text);
      assert.deepEqual(keys(up.as(z.object({ version: z.unknown() })).version), documented(SpecVersionMeta));
    });

    it('no secret appears in a later answer or in any log line', async () => {
      assert.ok(secrets.length >= 7, `${secrets.length} secrets`);
      const later = [
        await admin.req('GET', '/api/tokens'),
        await admin.req('GET', '/api/audit?limit=500'),
        await admin.req('GET', '/api/specs'),
        await admin.req('GET', '/api/auth/session'),
        await admin.req('GET', '/openapi.json'),
        await t.client().req('GET', '/metrics', { token: metricsToken }),
      ].map((r) => r.text);
      assert.ok(t.logs.text.includes('"url":"/api/auth/login"'), 'the log was captured');
      for (const s of secrets) {
        const core = s.startsWith('cordon_') ? tokenSecret(s) : s.split('.')[0]!;
        assert.ok(core.length >= 16, `short secret ${core.length}`);
        assert.ok(!t.logs.text.includes(core), `a secret in the log: ${t.logs.text.split('\n').find((l) => l.includes(core))}`);
        for (const body of later) assert.ok(!body.includes(core), `a secret in an answer: ${body.slice(0, 200)}`);
      }
    });
  });
});

describe('cordon server: API calls per minute by tier', () => {
  let t: TestServer;
  before(async () => {
    t = await testServer({ apiCallsPerMinute: { free: 3, 'early-access': 600, admin: 6000 } });
  });
  after(async () => t?.close());

  it('a free account past its quota → 429 with Retry-After; other accounts are not affected', async () => {
    const store = new Store(join(t.dataDir, 'cordon.db'));
    store.createUser('test', 'bob', await hashPassword('bob-password-1'), 'free');
    store.close();
    const bob = t.client();
    assert.equal((await bob.login('bob', 'bob-password-1')).status, 200);
    for (let i = 0; i < 3; i++) assert.equal((await bob.req('GET', '/api/specs')).status, 200, `call ${i + 1}`);
    const r = await bob.req('GET', '/api/specs');
    assert.equal(r.status, 429, r.text);
    assert.match(r.as(ErrorSchema).error, /tier free.*more than 3 API calls/);
    const wait = Number(r.headers.get('retry-after'));
    assert.ok(wait >= 1 && wait <= 60, `Retry-After ${wait}`);
    const admin = t.client();
    await admin.login('admin', t.adminPassword);
    for (let i = 0; i < 5; i++) assert.equal((await admin.req('GET', '/api/specs')).status, 200);
  });
});
