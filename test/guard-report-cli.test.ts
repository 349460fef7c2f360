/**
 * `cordon guard --report-to` as a process: bad report flags exit 2 with a message that never holds
 * the token; live, a guard watching a throw-away namespace pushes its events to a real cordon
 * server on loopback — guard-started, a blocked attempt with its origin, guard-stopped on SIGTERM —
 * and the token is in neither its process title (/proc/PID/cmdline) nor anything it printed.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { applyRuleset } from '../src/apply/apply.js';
import { netnsTarget } from '../src/apply/target.js';
import type { GuardEvent } from '../src/guard/events.js';
import { initAdmin, startServer, type RunningServer } from '../src/server/index.js';
import { EventsResponse, TokenCreated } from '../src/server/schemas.js';
import { GW, guardSkip as skip, HOST, PORT, renderedFor, Testbed, until, VPN, vpnIr } from './support/guard-bed.js';
import { Client, LogCapture } from './support/server.js';

const CORDON = join(fileURLToPath(new URL('..', import.meta.url)), 'bin', 'cordon');
const SECRET = 'cordon_aaaaaaaaaaaa_thisisnotarealsecretbutlooksliketheone';

describe('cordon guard --report-to: flags', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-report-flags-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const run = (args: string[], env: Record<string, string> = {}) =>
    spawnSync(CORDON, ['guard', VPN, '--host', HOST, '--netns', 'cordon-t-none', ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  const cases: { args: string[]; env?: Record<string, string>; message: RegExp }[] = [
    { args: ['--report-to', 'ftp://127.0.0.1/', '--token', SECRET], message: /--report-to: only http and https are supported, got 'ftp'/ },
    { args: ['--report-to', `http://x:${SECRET}@127.0.0.1/`, '--token', SECRET], message: /must not hold credentials/ },
    { args: ['--report-to', 'http://127.0.0.1:1'], message: /--report-to needs a token with the events:write scope/ },
    { args: ['--token', SECRET], message: /go with --report-to URL/ },
    { args: ['--report-to', 'http://127.0.0.1:1', '--token', `${SECRET} x`], message: /--token: the token must be 8 to 1024 printable ASCII/ },
    { args: ['--report-to', 'http://127.0.0.1:1', '--token-file', '/nonexistent/token'], message: /--token-file: cannot read '\/nonexistent\/token': ENOENT/ },
    { args: ['--report-to', 'http://127.0.0.1:1', '--token', SECRET, '--token-file', '/x'], message: /give the token one way/ },
    {
      args: ['--report-to', 'http://127.0.0.1:1', '--report-buffer', '12 parsecs'],
      env: { CORDON_REPORT_TOKEN: SECRET },
      message: /--report-buffer must be a size/,
    },
  ];
  for (const c of cases)
    it(`exits 2: ${c.message.source.slice(0, 60)}`, () => {
      const r = run(c.args, c.env);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, c.message);
      assert.ok(!r.stderr.includes(SECRET) && !r.stdout.includes(SECRET), 'the token is never printed');
    });
  it('warns about a token file others can read', () => {
    const f = join(dir, 'token');
    writeFileSync(f, `${SECRET}\n`);
    chmodSync(f, 0o644);
    // The namespace is missing, so it stops after reading the flags.
    const r = run(['--report-to', 'http://127.0.0.1:1', '--token-file', f]);
    assert.match(r.stderr, /is readable by other users; chmod 600 it/);
    assert.ok(!r.stderr.includes(SECRET));
  });
});

describe('cordon guard --report-to a live server (in namespaces)', { skip }, () => {
  let bed: Testbed;
  let dir: string;
  let server: RunningServer;
  const logs = new LogCapture();
  let admin: Client;
  let token: string;
  const procs: ChildProcess[] = [];
  const ir = vpnIr();
  const ruleset = renderedFor(ir, HOST);

  before(async () => {
    bed = new Testbed();
    dir = mkdtempSync(join(tmpdir(), 'cordon-report-cli-'));
    const dataDir = join(dir, 'data');
    const { name, password } = await initAdmin(dataDir);
    server = await startServer({ dataDir, host: '127.0.0.1', port: 0 }, { log: logs });
    admin = new Client(server.url);
    assert.equal((await admin.login(name, password)).status, 200);
    token = (await admin.req('POST', '/api/tokens', { body: { name: 'guard', scopes: ['events:write'] } })).as(TokenCreated).token;
    const out = await applyRuleset({ target: netnsTarget(bed.ws), host: HOST, ruleset, stateRoot: join(dir, 'state'), ir, say: () => undefined });
    assert.equal(out.status, 'applied', out.message);
  });
  after(async () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await server?.close();
    bed?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const stored = async (): Promise<GuardEvent[]> =>
    (await admin.req('GET', `/api/events?host=${HOST}&limit=1000`))
      .as(EventsResponse)
      .events.map((e) => e.event as unknown as GuardEvent)
      .reverse();

  for (const via of ['token-file', 'token'] as const)
    it(`pushes its events to the server (token by --${via}), and the token is in no process title or output`, async () => {
      const since = (await stored()).length;
      const tokenFile = join(dir, `token-${via}`);
      writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
      const child = spawn(
        CORDON,
        [
          'guard',
          VPN,
          '--host',
          HOST,
          '--netns',
          bed.ws,
          '--events',
          join(dir, `events-${via}.jsonl`),
          '--state-dir',
          join(dir, 'state'),
          '--report-to',
          server.url,
          '--report-spool',
          join(dir, `spool-${via}`),
          ...(via === 'token' ? ['--token', token] : ['--token-file', tokenFile]),
        ],
        { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: dir } },
      );
      procs.push(child);
      let printed = '';
      child.stdout.on('data', (b: Buffer) => (printed += b.toString('utf8')));
      child.stderr.on('data', (b: Buffer) => (printed += b.toString('utf8')));
      const fresh = async () => (await stored()).slice(since);
      let got: GuardEvent[] = [];
      await until(
        'guard-started on the server',
        () => {
          void fresh().then((g) => (got = g));
          return got.find((e) => e.type === 'guard-started');
        },
        20_000,
      );
      const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8');
      assert.ok(!cmdline.includes(token), `the token is not in the process title: ${cmdline.replace(/\0/g, ' ')}`);
      if (via === 'token') assert.match(cmdline, /--token \*\*\*/);
      bed.attempt('tcp', GW, PORT);
      const blocked = await until('a blocked event on the server', () => {
        void fresh().then((g) => (got = g));
        return got.find((e) => e.type === 'blocked' && e.dst === GW && e.port === PORT);
      });
      assert.equal(blocked.type === 'blocked' && blocked.origin.point, `${HOST}:output`);
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      assert.ok(
        (await fresh()).some((e) => e.type === 'guard-stopped'),
        'guard-stopped was delivered before it exited',
      );
      assert.match(printed, /reporting events to http:\/\/127\.0\.0\.1:\d+/);
      for (const text of [printed, logs.text]) assert.ok(!text.includes(token), 'the token is in nothing printed or logged');
    });
});
