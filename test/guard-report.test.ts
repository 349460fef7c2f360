/**
 * `cordon guard --report-to`: the reporter against a real cordon server (Fastify, started as the
 * server tests start it, on a fixed loopback port so it can be stopped and started again). Events
 * reach `GET /api/events` in order; with the server stopped they wait in the spool on disk (0600)
 * and all arrive, in order and counted, once it is back; a full spool drops and counts (metric and
 * a `report` event); a bad token is one clear message and no retry storm; the token is in no log,
 * message or event. No namespaces needed.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EVENT_SCHEMA_VERSION, type GuardEvent } from '../src/guard/events.js';
import { GuardMetrics } from '../src/guard/metrics.js';
import { EventReporter, parseReportUrl, parseToken, type ReporterOptions } from '../src/guard/report.js';
import { initAdmin, startServer, type RunningServer } from '../src/server/index.js';
import { EventsResponse, TokenCreated } from '../src/server/schemas.js';
import { Client, LogCapture } from './support/server.js';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function until<T>(what: string, f: () => T | undefined | false, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const event = (n: number, host = 'pve'): GuardEvent => ({
  v: EVENT_SCHEMA_VERSION,
  time: new Date().toISOString(),
  type: 'guard-started',
  host,
  netns: null,
  message: `event ${n}`,
});

describe('guard reporting: URL and token at the boundary', () => {
  const bad: [string, RegExp][] = [
    ['ftp://server/', /only http and https/],
    ['file:///etc/passwd', /only http and https/],
    ['javascript:alert(1)', /only http and https/],
    ['http://user:pw@server/', /must not hold credentials/],
    ['http://server/?token=x', /query or fragment/],
    ['server:8080', /only http and https|not a URL/],
    ['not a url', /not a URL/],
  ];
  for (const [url, why] of bad)
    it(`refuses ${JSON.stringify(url)}`, () => {
      const r = parseReportUrl(url);
      assert.ok('error' in r, JSON.stringify(r));
      assert.match(r.error, why);
    });
  it('takes a base URL, with or without a path, and posts to its /api/events', () => {
    assert.deepEqual(parseReportUrl('http://127.0.0.1:8080'), { endpoint: 'http://127.0.0.1:8080/api/events', origin: 'http://127.0.0.1:8080' });
    assert.deepEqual(parseReportUrl('https://cordon.example/base/'), { endpoint: 'https://cordon.example/base/api/events', origin: 'https://cordon.example' });
  });
  it('takes a token of printable characters, trimmed; refuses one that could break the header', () => {
    assert.equal(parseToken(' cordon_abc_def \n'), 'cordon_abc_def');
    for (const t of ['', 'short', 'cordon_a b_c', 'cordon_x\r\nX-Evil: 1', 'cordon_é_ü_long']) assert.ok(typeof parseToken(t) === 'object', JSON.stringify(t));
  });
});

describe('guard reporting to a live cordon server', () => {
  let root: string;
  let dataDir: string;
  let port: number;
  let server: RunningServer | undefined;
  const logs = new LogCapture();
  let admin: Client;
  let token: string;
  let readOnly: string;
  const start = async (): Promise<void> => {
    server = await startServer({ dataDir, host: '127.0.0.1', port }, { log: logs });
  };
  const stop = async (): Promise<void> => {
    await server?.close();
    server = undefined;
  };

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'cordon-report-'));
    dataDir = join(root, 'data');
    const { name, password } = await initAdmin(dataDir);
    port = await freePort();
    await start();
    admin = new Client(`http://127.0.0.1:${port}`);
    assert.equal((await admin.login(name, password)).status, 200);
    token = (await admin.req('POST', '/api/tokens', { body: { name: 'guard', scopes: ['events:write'] } })).as(TokenCreated).token;
    readOnly = (await admin.req('POST', '/api/tokens', { body: { name: 'reader', scopes: ['events:read'] } })).as(TokenCreated).token;
  });
  after(async () => {
    await stop();
    rmSync(root, { recursive: true, force: true });
  });

  /** Every event stored, oldest first (paging through GET /api/events). */
  const stored = async (host: string): Promise<GuardEvent[]> => {
    const out: GuardEvent[] = [];
    let before: number | undefined;
    for (;;) {
      const page = (await admin.req('GET', `/api/events?host=${host}&limit=1000${before ? `&before=${before}` : ''}`)).as(EventsResponse);
      out.push(...page.events.map((e) => e.event as unknown as GuardEvent));
      if (page.next === undefined) break;
      before = page.next;
    }
    return out.reverse();
  };

  /** A reporter wired as the guard wires it: its own events go back through push (to the log and the server). */
  const reporter = (host: string, o: Partial<ReporterOptions> = {}) => {
    const said: string[] = [];
    const own: GuardEvent[] = [];
    const metrics = new GuardMetrics();
    const spoolDir = join(root, `spool-${host}`);
    const url = parseReportUrl(`http://127.0.0.1:${port}`);
    assert.ok(!('error' in url));
    const r: EventReporter = new EventReporter({
      ...url,
      token,
      spoolDir,
      host,
      metrics,
      say: (l) => said.push(l),
      onEvent: (e) => {
        own.push(e);
        r.push(e);
      },
      minRetryMs: 50,
      maxRetryMs: 200,
      ...o,
    });
    return { r, said, own, metrics, spoolDir };
  };

  it('delivers in order; with the server stopped events wait on disk (0600) and all arrive, in order, once it is back', async () => {
    const { r, said, own, metrics, spoolDir } = reporter('h-order');
    try {
      for (let i = 0; i < 20; i++) r.push(event(i, 'h-order'));
      await until('the first 20 delivered', () => r.counts.sent === 20 && r.counts.pending === 0);
      assert.equal((await stored('h-order')).length, 20);

      await stop();
      for (let i = 20; i < 50; i++) r.push(event(i, 'h-order'));
      await until('the reporter to notice', () => r.counts.state === 'unreachable');
      const file = join(spoolDir, 'spool.jsonl');
      assert.equal(statSync(file).mode & 0o777, 0o600, 'the spool is 0600');
      assert.equal(statSync(spoolDir).mode & 0o777, 0o700);
      const onDisk = readFileSync(file, 'utf8').trim().split('\n');
      assert.ok(onDisk.length >= 30, `${onDisk.length} lines on disk`);
      assert.match(
        onDisk.find((l) => l.includes('event 20'))!,
        /"host":"h-order"/,
      );
      assert.equal(own[0]?.type, 'report');
      assert.match(said.join('\n'), /cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED; events wait on disk/);
      assert.match(await metrics.text(), /^cordon_report_up 0$/m);
      // Still unreachable a few retries later: nothing lost meanwhile.
      await new Promise((res) => setTimeout(res, 400));
      assert.equal(r.counts.sent, 20);

      await start();
      await until('the backlog delivered', () => r.counts.pending === 0 && r.counts.state === 'ok', 15_000);
      const got = await stored('h-order');
      const numbered = got.filter((e) => e.type === 'guard-started').map((e) => (e as { message: string }).message);
      assert.deepEqual(
        numbered,
        Array.from({ length: 50 }, (_, i) => `event ${i}`),
        'every event, once, in order',
      );
      const states = got.filter((e) => e.type === 'report').map((e) => (e as { state: string }).state);
      assert.deepEqual(states, ['unreachable', 'resumed'], 'the outage itself reached the server');
      assert.equal(r.counts.sent, got.length, 'the count sent matches what the server stored');
      assert.equal(r.counts.dropped, 0);
      const text = await metrics.text();
      assert.match(text, new RegExp(`^cordon_report_sent_total ${got.length}$`, 'm'));
      assert.match(text, /^cordon_report_pending_events 0$/m);
      assert.match(text, /^cordon_report_up 1$/m);
    } finally {
      if (!server) await start();
      await r.stop();
    }
  });

  it('keeps what it could not send across a restart of the guard, and sends it first', async () => {
    await stop();
    const first = reporter('h-restart');
    for (let i = 0; i < 5; i++) first.r.push(event(i, 'h-restart'));
    await until('unreachable', () => first.r.counts.state === 'unreachable');
    await first.r.stop(100);
    assert.match(first.said.join('\n'), /not delivered stay in/);
    await start();
    const second = reporter('h-restart');
    try {
      second.r.push(event(5, 'h-restart'));
      await until('all delivered', () => second.r.counts.pending === 0 && second.r.counts.sent >= 7);
      const numbered = (await stored('h-restart')).filter((e) => e.type === 'guard-started').map((e) => (e as { message: string }).message);
      assert.deepEqual(numbered, ['event 0', 'event 1', 'event 2', 'event 3', 'event 4', 'event 5']);
    } finally {
      await second.r.stop();
    }
  });

  it('a second reporter on the same spool is refused (one guard per spool)', async () => {
    const one = reporter('h-lock');
    try {
      assert.throws(() => reporter('h-lock'), /in use by process \d+/);
    } finally {
      await one.r.stop();
    }
  });

  it('bounded: a full spool drops and counts, then says how many in a report event once there is room', async () => {
    await stop();
    const { r, metrics, spoolDir, said, own } = reporter('h-full', { spoolBytes: 4096 });
    try {
      for (let i = 0; i < 100; i++) r.push(event(i, 'h-full'));
      const { dropped, pending } = r.counts;
      assert.ok(dropped > 0 && pending > 0, JSON.stringify(r.counts));
      assert.ok(statSync(join(spoolDir, 'spool.jsonl')).size <= 4096, 'the file stays inside its bound');
      assert.match(await metrics.text(), new RegExp(`^cordon_report_dropped_total\\{reason="full"\\} ${dropped}$`, 'm'));
      assert.match(said.join('\n'), /is full \(\d+ bytes\): dropping events/);
      await start();
      await until('the backlog delivered', () => r.counts.pending === 0 && r.counts.state === 'ok', 15_000);
      const got = await stored('h-full');
      const report = got.find((e) => e.type === 'report' && e.state === 'dropped');
      assert.ok(report && report.type === 'report');
      assert.ok(report.dropped >= dropped, `${report.dropped} ≥ ${dropped}`);
      // The oldest were kept, the newest dropped: what arrived is 0..k-1, in order, and nothing went missing uncounted.
      const numbered = got.filter((e) => e.type === 'guard-started').map((e) => (e as { message: string }).message);
      const k = numbered.length;
      assert.deepEqual(
        numbered,
        Array.from({ length: k }, (_, i) => `event ${i}`),
      );
      const reports = own.length; // the reporter's own events, each either delivered or dropped too
      assert.ok(k + r.counts.dropped >= 100 && k + r.counts.dropped <= 100 + reports, `${k} delivered + ${r.counts.dropped} dropped`);
    } finally {
      await r.stop();
    }
  });

  for (const [name, bad, code] of [
    ['an unknown token', 'cordon_000000000000_notarealsecretatall', 401],
    ['a token without events:write', '', 403],
  ] as const)
    it(`${name}: one clear error, no retry storm, the token in no message`, async () => {
      const tok = bad === '' ? readOnly : bad;
      const before = logs.text.length;
      const { r, said, own } = reporter(`h-bad-${code}`, { token: tok });
      try {
        for (let i = 0; i < 5; i++) r.push(event(i, `h-bad-${code}`));
        await until('refused', () => r.counts.state === 'refused');
        for (let i = 5; i < 50; i++) r.push(event(i, `h-bad-${code}`));
        await new Promise((res) => setTimeout(res, 500));
        const posts = logs.text
          .slice(before)
          .split('\n')
          .filter((l) => l.includes('"url":"/api/events"') && l.includes('"method":"POST"'));
        assert.equal(posts.length, 1, `one request, not a storm:\n${posts.join('\n')}`);
        assert.equal(r.counts.sent, 0);
        assert.ok(r.counts.pending >= 50, 'the events wait on disk');
        const msg = said.join('\n');
        assert.match(msg, new RegExp(`refused the token \\(${code}.*events:write scope; not trying again for 300 s`));
        assert.ok(own.some((e) => e.type === 'report' && e.state === 'refused'));
        for (const text of [msg, JSON.stringify(own), logs.text]) assert.ok(!text.includes(tok), 'the token appears nowhere');
      } finally {
        await r.stop(100);
      }
    });
});
