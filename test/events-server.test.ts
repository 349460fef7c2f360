/**
 * `cordon events --server URL`, as a process against a real cordon server on loopback: the events
 * guards reported, oldest first, formatted as for a file (or as JSON lines with --json), filtered
 * by type (one or several) and host, across more than one page; --follow prints what is stored
 * afterwards and stops on SIGTERM with exit 0; an event the CLI's schema does not know is named
 * and skipped. Bad flags exit 2, a refused token exits 1, and the token is never printed.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { followServerEvents, sseMessages, type ServerEntry } from '../src/server/events-client.js';
import { EVENT_SCHEMA_VERSION, type GuardEvent } from '../src/guard/events.js';
import { formatEvent } from '../src/guard/format.js';
import { initAdmin, startServer, type RunningServer } from '../src/server/index.js';
import { EventsAccepted, TokenCreated } from '../src/server/schemas.js';
import { until } from './support/guard-bed.js';
import { Client, LogCapture } from './support/server.js';

const CORDON = join(fileURLToPath(new URL('..', import.meta.url)), 'bin', 'cordon');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI without blocking this process (the server under test answers from its event loop). */
function cordon(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    // Only the token a case gives: not one from the environment the tests run in.
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'CORDON_TOKEN'));
    const child = spawn(CORDON, args, { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const r: Run = { status: null, stdout: '', stderr: '' };
    child.stdout.on('data', (b: Buffer) => (r.stdout += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (r.stderr += b.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      r.status = status;
      resolve(r);
    });
  });
}

const T0 = Date.parse('2026-12-04T10:00:00.000Z');
const at = (i: number): string => new Date(T0 + i * 1000).toISOString();

function started(host: string, i: number): GuardEvent {
  return { v: EVENT_SCHEMA_VERSION, time: at(i), type: 'guard-started', host, netns: `ns-${host}`, message: `watching ${host}` };
}
function drift(host: string, i: number): GuardEvent {
  return { v: EVENT_SCHEMA_VERSION, time: at(i), type: 'drift', host, netns: null, tables: ['inet cordon'], differences: [`- rule ${i}`], action: 'alert' };
}
function vpn(type: 'vpn-down' | 'vpn-up', host: string, i: number): GuardEvent {
  return { v: EVENT_SCHEMA_VERSION, time: at(i), type, host, netns: null, tunnel: 'wg0', peer: 'hub', ageSeconds: type === 'vpn-up' ? 3 : null, message: type };
}

describe('cordon events --server (a server on loopback)', () => {
  let dir: string;
  let server: RunningServer;
  const logs = new LogCapture();
  let admin: Client;
  let writer: string;
  let reader: string;
  let tokenFile: string;
  /** Every event stored, in the order posted. */
  const posted: GuardEvent[] = [];

  const post = async (events: GuardEvent[] | Record<string, unknown>[]): Promise<void> => {
    const r = await admin.req('POST', '/api/events', { body: events, token: writer, cookie: false });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.as(EventsAccepted).accepted, events.length);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cordon-events-server-'));
    const dataDir = join(dir, 'data');
    const { name, password } = await initAdmin(dataDir);
    server = await startServer({ dataDir, host: '127.0.0.1', port: 0 }, { log: logs });
    admin = new Client(server.url);
    assert.equal((await admin.login(name, password)).status, 200);
    const token = async (scopes: string[]) =>
      (await admin.req('POST', '/api/tokens', { body: { name: scopes.join(' ').replace(':', '-'), scopes } })).as(TokenCreated).token;
    writer = await token(['events:write']);
    reader = await token(['events:read']);
    tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${reader}\n`, { mode: 0o600 });
    // More than one page (the CLI asks for 1,000 at a time): 1,000 drifts of pve, then a few of each kind.
    const many = Array.from({ length: 1000 }, (_, i) => drift('pve', i));
    await post(many);
    posted.push(...many);
    const few = [started('pve', 1000), started('agent-1', 1001), vpn('vpn-down', 'agent-1', 1002), drift('agent-1', 1003)];
    await post(few);
    posted.push(...few);
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const lines = (r: Run): string[] => r.stdout.split('\n').filter((l) => l !== '');

  it('prints every stored event oldest first, as for a file, over more than one page', async () => {
    const r = await cordon(['events', '--server', server.url, '--token-file', tokenFile]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(lines(r), posted.map(formatEvent));
  });

  it('--json prints the events as a guard writes them (token from $CORDON_TOKEN)', async () => {
    const r = await cordon(['events', '--server', server.url, '--json', '--host', 'agent-1'], { CORDON_TOKEN: reader });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(
      lines(r).map((l) => JSON.parse(l) as unknown),
      posted.filter((e) => e.host === 'agent-1'),
    );
  });

  it('filters by one type, several types and host, as for a file', async () => {
    const one = await cordon(['events', '--server', server.url, '--token-file', tokenFile, '--type', 'guard-started']);
    assert.deepEqual(lines(one), posted.filter((e) => e.type === 'guard-started').map(formatEvent));
    const several = await cordon(['events', '--server', server.url, '--token-file', tokenFile, '--type', 'vpn-down,guard-started', '--host', 'agent-1']);
    assert.deepEqual(lines(several), posted.filter((e) => e.host === 'agent-1' && (e.type === 'vpn-down' || e.type === 'guard-started')).map(formatEvent));
    assert.equal(lines(several).length, 2);
  });

  it('--follow prints what the server stores afterwards, skips what it cannot read, and stops on SIGTERM', async () => {
    const child = spawn(CORDON, ['events', '--server', server.url, '--follow', '--type', 'guard-stopped,vpn-up', '--host', 'edge'], {
      env: { ...process.env, CORDON_TOKEN: reader },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (err += b.toString('utf8')));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const stopped: GuardEvent = { v: EVENT_SCHEMA_VERSION, time: at(2000), type: 'guard-stopped', host: 'edge', netns: null, message: 'stopped' };
      // Posted until one shows up: the CLI may still be listing when the first is stored (each is printed once either way).
      let sent = 0;
      await until(
        'the followed event',
        () => {
          if (sent < 20) void post([{ ...stopped, time: at(2000 + sent++) }]);
          return out.includes('edge guard-stopped') ? true : undefined;
        },
        20_000,
      );
      const unknown = { v: EVENT_SCHEMA_VERSION, time: at(3000), type: 'from-the-future', host: 'edge' };
      const up = vpn('vpn-up', 'edge', 3001);
      await post([unknown, drift('edge', 3002), up]);
      await until('the event after the one it skipped', () => (out.includes(formatEvent(up)) ? true : undefined), 20_000);
      assert.match(err, /event \d+: not an event of this schema \(skipped\)/);
      assert.ok(!out.includes('drift'), 'the filter holds for followed events');
      const printed = out.split('\n').filter((l) => l.includes('guard-stopped'));
      assert.equal(new Set(printed).size, printed.length, 'no event twice');
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, err);
  });

  it('exits 2 on bad flags and 1 on a refused token, never printing the token', async () => {
    // A port nothing listens on: one the kernel just gave out and took back.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const cases: { args: string[]; env?: Record<string, string>; status: number; message: RegExp }[] = [
      { args: ['events'], status: 2, message: /give an event log FILE or --server URL/ },
      { args: ['events', join(dir, 'x.jsonl'), '--server', server.url], status: 2, message: /give an event log FILE or --server URL/ },
      { args: ['events', join(dir, 'x.jsonl'), '--token', reader], status: 2, message: /--token and --token-file go with --server URL/ },
      { args: ['events', '--server', 'ftp://127.0.0.1/', '--token', reader], status: 2, message: /--server: only http and https/ },
      { args: ['events', '--server', server.url], status: 2, message: /--server needs a token with the events:read scope/ },
      { args: ['events', '--server', server.url, '--token-file', tokenFile, '--type', 'nope'], status: 2, message: /--type: unknown event type 'nope'/ },
      { args: ['events', '--server', server.url, '--token', writer], status: 1, message: /refused the token \(403.*\): it needs the events:read scope/ },
      {
        args: ['events', '--server', server.url],
        env: { CORDON_TOKEN: 'cordon_000000000000_notatokenthisserverknows' },
        status: 1,
        message: /refused the token \(401/,
      },
      {
        args: ['events', '--server', `http://127.0.0.1:${port}`, '--token', reader],
        status: 1,
        message: /cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/,
      },
    ];
    for (const c of cases) {
      const r = await cordon(c.args, c.env);
      assert.equal(r.status, c.status, `${c.args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, c.message);
      for (const t of [reader, writer]) assert.ok(!r.stderr.includes(t) && !r.stdout.includes(t), 'the token is never printed');
    }
    assert.ok(!logs.text.includes(reader), 'nor logged by the server');
  });
});

describe('events --server: Server-Sent Events parsing', () => {
  it('takes complete messages only, joins multi-line data, ignores comments and ids', () => {
    const r = sseMessages('retry: 2000\n: stream open\n\nid: 1\nevent: guard\ndata: {"id":1}\n\nid: 2\r\ndata: a\r\ndata: b\r\n\r\nid: 3\ndata: {"id"');
    assert.deepEqual(r.data, ['{"id":1}', 'a\nb']);
    assert.equal(r.rest, 'id: 3\ndata: {"id"');
  });
});

describe('events --server --follow: a stream that goes silent without closing', () => {
  it('is opened again after the silence, from the last event seen', async () => {
    // A cordon server cannot be made to stall, so a loopback HTTP server plays one whose
    // connection died without a FIN: it sends one event, then nothing, and never closes.
    const asked: string[] = [];
    const open: ServerResponse[] = [];
    const http = createHttpServer((req, res) => {
      asked.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const id = asked.length;
      res.write(`id: ${id}\ndata: ${JSON.stringify({ id, event: { n: id } })}\n\n`);
      open.push(res);
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const port = (http.address() as AddressInfo).port;
    const src = { endpoint: `http://127.0.0.1:${port}/api/events`, origin: `http://127.0.0.1:${port}`, token: 'cordon_secret_token' };
    const got: ServerEntry[] = [];
    const said: string[] = [];
    const stop = new AbortController();
    const following = followServerEvents(
      src,
      0,
      (e) => got.push(e),
      stop.signal,
      (l) => said.push(l),
      300,
    );
    try {
      await until('two events, the second after a reconnect', () => (got.length >= 2 ? true : undefined), 10_000);
      assert.deepEqual(
        got.map((e) => e.id),
        [1, 2],
      );
      assert.equal(asked[0], '/api/events/stream?after=0');
      assert.equal(asked[1], '/api/events/stream?after=1', 'resumed after the last id seen');
      assert.match(said[0]!, /the stream broke \(nothing for 0\.3 s\); reconnecting/);
      assert.ok(!said.join('\n').includes(src.token));
    } finally {
      stop.abort();
      await following;
      for (const r of open) r.destroy();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });
});
