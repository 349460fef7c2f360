/**
 * `cordon lab up FILE --guard --report-to URL`: the report flags of `cordon guard`, checked the same
 * way before anything is built (exit 2, the token in no message), and live: the lab's guard sends
 * the events of every enforcing namespace to a real cordon server on loopback — guard-started for
 * each host, a blocked attempt with its origin — with the token given as --token to `lab up`, yet
 * in neither the guard's command line, its log, nor anything `lab up` printed or the server logged.
 * The spec is a copy in a temporary directory, so a lab of the example someone else runs is not ours.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { GuardEvent } from '../src/guard/events.js';
import { teardownLab } from '../src/lab/exec.js';
import { labsOf } from '../src/lab/lab.js';
import { labDir } from '../src/lab/state.js';
import { initAdmin, startServer, type RunningServer } from '../src/server/index.js';
import { EventsResponse, TokenCreated } from '../src/server/schemas.js';
import { guardSkip, until } from './support/guard-bed.js';
import { probeLab } from './support/lab-env.js';
import { requireOrSkip } from './support/require-env.js';
import { Client, LogCapture } from './support/server.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CORDON = join(ROOT, 'bin', 'cordon');
const SECRET = 'cordon_aaaaaaaaaaaa_thisisnotarealsecretbutlooksliketheone';
const skip = guardSkip ?? requireOrSkip('lab --guard --report-to (live)', probeLab());

/** The CLI without blocking this process (the server under test answers from its event loop). */
function cordon(args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(CORDON, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGTERM'), 180_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

describe('cordon lab up --guard --report-to: flags', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-lab-report-flags-'));
  const spec = join(dir, 'vpn-only-vm.yaml');
  copyFileSync(join(ROOT, 'examples', 'vpn-only-vm.yaml'), spec);
  after(() => rmSync(dir, { recursive: true, force: true }));
  const cases: { args: string[]; env?: Record<string, string>; message: RegExp }[] = [
    { args: ['--report-to', 'http://127.0.0.1:1', '--token', SECRET], message: /--metrics, --events and the --report-to flags go with --guard/ },
    { args: ['--token-file', '/x'], message: /--metrics, --events and the --report-to flags go with --guard/ },
    { args: ['--guard', '--report-to', 'ftp://127.0.0.1/', '--token', SECRET], message: /--report-to: only http and https are supported, got 'ftp'/ },
    { args: ['--guard', '--report-to', `http://x:${SECRET}@127.0.0.1/`], message: /must not hold credentials/ },
    { args: ['--guard', '--report-to', 'http://127.0.0.1:1'], message: /--report-to needs a token with the events:write scope/ },
    { args: ['--guard', '--token', SECRET], message: /go with --report-to URL/ },
    { args: ['--guard', '--report-to', 'http://127.0.0.1:1', '--token', `${SECRET} x`], message: /--token: the token must be 8 to 1024 printable ASCII/ },
    {
      args: ['--guard', '--report-to', 'http://127.0.0.1:1', '--token-file', '/nonexistent/token'],
      message: /--token-file: cannot read '\/nonexistent\/token': ENOENT/,
    },
    { args: ['--guard', '--report-to', 'http://127.0.0.1:1', '--token', SECRET, '--token-file', '/x'], message: /give the token one way/ },
    {
      args: ['--guard', '--report-to', 'http://127.0.0.1:1', '--report-buffer', '12 parsecs'],
      env: { CORDON_REPORT_TOKEN: SECRET },
      message: /--report-buffer must be a size/,
    },
  ];
  for (const c of cases)
    it(`exits 2 before building anything: ${c.message.source.slice(0, 60)}`, async () => {
      const before = labsOf(spec).length;
      const r = await cordon(['lab', 'up', spec, ...c.args], c.env);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, c.message);
      assert.ok(!r.stderr.includes(SECRET) && !r.stdout.includes(SECRET), 'the token is never printed');
      assert.equal(labsOf(spec).length, before, 'no lab was built');
    });
  it('lists the report flags in its help, as cordon guard does', async () => {
    const r = await cordon(['lab', 'up', '--help']);
    for (const flag of ['--report-to <url>', '--token-file <file>', '--token <token>', '--report-spool <dir>', '--report-buffer <size>'])
      assert.ok(r.stdout.includes(flag), `${flag} in lab up --help`);
  });
});

describe('cordon lab up --guard --report-to a live server', { skip }, () => {
  let dir: string;
  let spec: string;
  let server: RunningServer;
  const logs = new LogCapture();
  let admin: Client;
  let token: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cordon-lab-report-'));
    spec = join(dir, 'vpn-only-vm.yaml');
    copyFileSync(join(ROOT, 'examples', 'vpn-only-vm.yaml'), spec);
    const dataDir = join(dir, 'data');
    const { name, password } = await initAdmin(dataDir);
    server = await startServer({ dataDir, host: '127.0.0.1', port: 0 }, { log: logs });
    admin = new Client(server.url);
    assert.equal((await admin.login(name, password)).status, 200);
    token = (await admin.req('POST', '/api/tokens', { body: { name: 'lab-guard', scopes: ['events:write'] } })).as(TokenCreated).token;
  });
  after(async () => {
    for (const s of labsOf(spec)) await teardownLab(s.prefix);
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const stored = async (): Promise<GuardEvent[]> =>
    (await admin.req('GET', '/api/events?limit=1000')).as(EventsResponse).events.map((e) => e.event as unknown as GuardEvent);

  it("sends every enforcing host's events to the server, with the token on no command line and in no output", async () => {
    const up = await cordon(['lab', 'up', spec, '--guard', '--json', '--report-to', server.url, '--token', token]);
    assert.equal(up.status, 0, up.stderr);
    const out = JSON.parse(up.stdout) as { prefix: string; guard: { pid: number; report: { to: string; spool: string } } };
    assert.equal(out.guard.report.to, server.url.replace(/\/$/, ''));
    assert.equal(out.guard.report.spool, join(labDir(out.prefix), 'report'), "the spool is the lab's, removed with it");

    let got: GuardEvent[] = [];
    const poll = <T>(find: (g: GuardEvent[]) => T | undefined) => {
      void stored().then((g) => (got = g));
      return find(got);
    };
    const started = await until(
      'guard-started of every enforcing host on the server',
      () =>
        poll((g) => {
          const hosts = g.filter((e) => e.type === 'guard-started').map((e) => e.host);
          return ['mac-host', 'vpn-server', 'workload-vm'].every((h) => hosts.includes(h)) ? hosts : undefined;
        }),
      30_000,
    );
    assert.ok(started.length >= 3);

    // A forbidden attempt: the workload to the Mac's own address.
    await cordon(['lab', 'exec', '--lab', out.prefix, 'workload-vm', '--', 'timeout', '1', 'bash', '-c', 'exec 3<>/dev/tcp/192.168.64.1/22']);
    const blocked = await until(
      'the blocked attempt on the server',
      () => poll((g) => g.find((e) => e.type === 'blocked' && e.dst === '192.168.64.1' && e.port === 22)),
      20_000,
    );
    assert.equal(blocked.host, 'workload-vm');
    assert.equal(blocked.type === 'blocked' && blocked.origin.point, 'workload-vm:output');

    // The guard got the token, and from nowhere but its environment.
    const cmdline = readFileSync(`/proc/${out.guard.pid}/cmdline`, 'utf8');
    assert.match(cmdline, /--report-to\0http:\/\/127\.0\.0\.1:\d+/);
    assert.ok(!cmdline.includes(token), `the token is not on the guard's command line: ${cmdline.replace(/\0/g, ' ')}`);
    const guardLog = readFileSync(join(labDir(out.prefix), 'guard.log'), 'utf8');
    assert.match(guardLog, /reporting events to http:\/\/127\.0\.0\.1:\d+/);
    for (const [what, text] of [
      ['the guard log', guardLog],
      ['lab up stdout', up.stdout],
      ['lab up stderr', up.stderr],
      ['the server log', logs.text],
    ] as const)
      assert.ok(!text.includes(token), `the token is not in ${what}`);
    assert.match(up.stderr, /warning: --token is visible to other users/);

    const down = await cordon(['lab', 'down', '--lab', out.prefix]);
    assert.equal(down.status, 0, down.stderr);
    assert.ok(!existsSync(out.guard.report.spool), 'the spool went with the lab');
  });
});
