/**
 * The dashboard's server side without a browser: the live event stream (SSE) delivers events as
 * they are stored, resumes after Last-Event-ID or after=, and needs events:read; the topology
 * route answers what the library computes and refuses unknown ids; the bundle's assets are looked
 * up by exact name only.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { compileText } from '../src/server/analysis.js';
import { loadAssets } from '../src/server/static.js';
import { topologyJson, TopologyResponse } from '../src/server/topology.js';
import { EventsAccepted, SpecUploaded, TokenCreated } from '../src/server/schemas.js';
import { ROOT } from './support/dashboard.js';
import { testServer, type Client, type TestServer } from './support/server.js';

const EXAMPLE = 'proxmox-dual-bridge.yaml';
const TEXT = readFileSync(join(ROOT, 'examples', EXAMPLE), 'utf8');

/** Reads SSE messages from a streaming response until `want` of them arrived (or the stream ends). */
async function readEvents(res: Response, want: number): Promise<{ id: number; data: { id: number; event: { rule?: string } } }[]> {
  const out: { id: number; data: { id: number; event: { rule?: string } } }[] = [];
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = '';
  while (out.length < want) {
    const chunk = (await reader.read()) as { value?: Uint8Array; done: boolean };
    if (chunk.done) break;
    buf += dec.decode(chunk.value, { stream: true });
    let end;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const fields = new Map(block.split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()] as const));
      if (fields.get('event') === 'guard') out.push({ id: Number(fields.get('id')), data: JSON.parse(fields.get('data')!) as (typeof out)[number]['data'] });
    }
  }
  await reader.cancel();
  return out;
}

describe('dashboard server routes', () => {
  let t: TestServer;
  let admin: Client;
  let token = '';

  before(async () => {
    t = await testServer();
    admin = t.client();
    assert.equal((await admin.login('admin', t.adminPassword)).status, 200);
    token = (await admin.req('POST', '/api/tokens', { body: { name: 'guard', scopes: ['events:write'] } })).as(TokenCreated).token;
  });
  after(async () => t?.close());

  const post = async (rule: string) =>
    (await admin.req('POST', '/api/events', { token, cookie: false, body: { v: 1, time: '2026-01-01T00:00:00Z', type: 'blocked', host: 'h', rule } })).as(
      EventsAccepted,
    ).ids[0]!;

  const stream = (query = '', headers: Record<string, string> = {}) =>
    fetch(`${t.server.url}/api/events/stream${query}`, { headers: { cookie: admin.cookie!, ...headers } });

  it('streams events stored after it opened, in order, each with its id', async () => {
    const before = await post('old');
    const res = await stream();
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const got = readEvents(res, 2);
    const a = await post('first');
    const b = await post('second');
    const events = await got;
    assert.deepEqual(
      events.map((e) => [e.id, e.data.id, e.data.event.rule]),
      [
        [a, a, 'first'],
        [b, b, 'second'],
      ],
    );
    assert.ok(!events.some((e) => e.id === before), 'an event from before the stream opened is not replayed');
  });

  it('resumes after Last-Event-ID (what EventSource sends on reconnect) and after=', async () => {
    const a = await post('r1');
    const b = await post('r2');
    const c = await post('r3');
    const viaHeader = await readEvents(await stream('', { 'last-event-id': String(a) }), 2);
    assert.deepEqual(
      viaHeader.map((e) => e.id),
      [b, c],
    );
    const viaQuery = await readEvents(await stream(`?after=${b}`), 1);
    assert.deepEqual(
      viaQuery.map((e) => e.id),
      [c],
    );
  });

  it('needs credentials with events:read; a bad after= is a 400 naming it', async () => {
    assert.equal((await fetch(`${t.server.url}/api/events/stream`)).status, 401);
    const r = await admin.req('GET', '/api/events/stream?after=-1');
    assert.equal(r.status, 400);
    assert.match(r.text, /query\.after/);
    const guardOnly = await fetch(`${t.server.url}/api/events/stream`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(guardOnly.status, 403, 'an events:write token cannot read the stream');
  });

  it('topology: what the library computes for the version, 404 for unknown specs and versions', async () => {
    const up = await admin.req('POST', '/api/specs', { body: { name: EXAMPLE, text: TEXT } });
    const id = up.as(SpecUploaded).spec.id;
    const r = await admin.req('GET', `/api/specs/${id}/versions/latest/topology`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.as(TopologyResponse), topologyJson(EXAMPLE, compileText(TEXT, EXAMPLE).ir));
    assert.equal((await admin.req('GET', `/api/specs/${id}/versions/9/topology`)).status, 404);
    assert.equal((await admin.req('GET', `/api/specs/999/versions/1/topology`)).status, 404);
    const doc = (await admin.req('GET', '/openapi.json')).json as { paths: Record<string, unknown> };
    for (const p of ['/api/specs/{id}/versions/{version}/topology', '/api/events/stream']) assert.ok(p in doc.paths, `${p} in /openapi.json`);
  });
});

describe('dashboard assets', () => {
  it('serves only the bundle’s own kinds of files, by exact name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cordon-web-'));
    try {
      mkdirSync(join(dir, 'sub'));
      for (const f of ['index.html', 'app.js', 'app.css', 'app.js.map', 'app.js.LEGAL.txt', 'sub/x.js']) writeFileSync(join(dir, f), f);
      const assets = loadAssets(dir);
      assert.deepEqual([...assets.keys()].sort(), ['app.css', 'app.js', 'index.html']);
      assert.equal(assets.get('app.js')!.type, 'text/javascript; charset=utf-8');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
