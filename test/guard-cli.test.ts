/**
 * `cordon guard` as a process, live in throw-away namespaces: it writes events to a file and serves
 * metrics on a free loopback port; killed with -9 it leaves every rule in place (the rule set
 * still equals what was loaded and the probe is still blocked) and takes its ulogd and nft monitor
 * with it; SIGTERM stops it in order (exit 0, a guard-stopped event). Bad flags exit 2 with a message.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { applyRuleset } from '../src/apply/apply.js';
import { netnsTarget } from '../src/apply/target.js';
import { compareTables, expectedTables, loadedTables } from '../src/guard/drift.js';
import { parseEventLine, type GuardEvent } from '../src/guard/events.js';
import { GW, guardSkip as skip, HOST, PORT, renderedFor, Testbed, until, VPN, vpnIr } from './support/guard-bed.js';

const CORDON = join(fileURLToPath(new URL('..', import.meta.url)), 'bin', 'cordon');

function readEvents(file: string): GuardEvent[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const e = parseEventLine(l);
      assert.ok(e, `every line is an event of the schema: ${l}`);
      return e;
    });
}

/** Every process whose parent is `pid`, read from /proc. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const ppid = /^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${d}/status`, 'utf8'))?.[1];
      if (Number(ppid) === pid) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const aliveProc = (pid: number): boolean => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));

describe('cordon guard: flags', () => {
  it('exits 2 naming the problem for a bad --on-drift, --metrics or a missing namespace', () => {
    const run = (args: string[]): { status: number | null; stderr: string } => spawnSync(CORDON, ['guard', VPN, '--host', HOST, ...args], { encoding: 'utf8' });
    let r = run(['--netns', 'cordon-t-none', '--on-drift', 'panic']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--on-drift must be one of reapply, killswitch, alert, got 'panic'/);
    r = run(['--netns', 'cordon-t-none', '--metrics', 'nowhere:port']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--metrics must be HOST:PORT or PORT/);
    for (const bad of ['0', '-5', 'soon', '1e9']) {
      r = run(['--netns', 'cordon-t-none', '--vpn-down-after', bad]);
      assert.equal(r.status, 2, bad);
      assert.match(r.stderr, new RegExp(`--vpn-down-after must be seconds from 1 to 86400, got '${bad}'`));
    }
    r = run([]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /refusing to act on the machine's own network namespace/);
    r = run(['--netns', 'cordon-t-no-such-namespace']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /no network namespace 'cordon-t-no-such-namespace'/);
  });
});

describe('cordon guard as a process (live, in namespaces)', { skip }, () => {
  let bed: Testbed;
  let dir: string;
  const procs: ChildProcess[] = [];
  const ir = vpnIr();
  const ruleset = renderedFor(ir, HOST);

  function startCli(events: string): { child: ChildProcess; metrics: Promise<string> } {
    const child = spawn(
      CORDON,
      ['guard', VPN, '--host', HOST, '--netns', bed.ws, '--metrics', '127.0.0.1:0', '--events', events, '--state-dir', join(dir, 'state')],
      // ulogd's config and socket go under the test's own directory, removed even after kill -9.
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TMPDIR: dir } },
    );
    procs.push(child);
    let err = '';
    const metrics = new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (b: Buffer) => {
        err += b.toString('utf8');
        const m = /metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(err);
        if (m) resolve(m[1]!);
      });
      child.on('exit', (code) => reject(new Error(`guard exited (${code}) before serving metrics: ${err}`)));
    });
    metrics.catch(() => undefined);
    return { child, metrics };
  }

  before(async () => {
    bed = new Testbed();
    dir = mkdtempSync(join(tmpdir(), 'cordon-guard-cli-'));
    bed.startListener();
    await until('the listener to answer', () => (bed.probe() ? true : undefined));
    const out = await applyRuleset({ target: netnsTarget(bed.ws), host: HOST, ruleset, stateRoot: join(dir, 'state'), ir, say: () => undefined });
    assert.equal(out.status, 'applied', out.message);
  });

  after(() => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    bed?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes blocked events to its file and counts them on its metrics endpoint', async () => {
    const file = join(dir, 'events-1.jsonl');
    const { child, metrics } = startCli(file);
    const url = await metrics;
    await until('guard-started', () => readEvents(file).find((e) => e.type === 'guard-started'), 15_000);
    bed.attempt('tcp', GW, PORT);
    const ev = await until('a blocked event in the file', () => readEvents(file).find((e) => e.type === 'blocked' && e.dst === GW && e.port === PORT));
    assert.equal(ev.type === 'blocked' && ev.origin.point, `${HOST}:output`);
    const text = await (await fetch(url)).text();
    assert.match(text, /agent_network_blocked_connections_total\{host="workload-vm",proto="tcp",class="host"\} [1-9]/);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0, 'SIGTERM is an orderly stop');
    assert.ok(
      readEvents(file).some((e) => e.type === 'guard-stopped'),
      'a guard-stopped event',
    );
  });

  it('killed with -9, leaves every rule in place and takes ulogd and nft monitor with it', async () => {
    const file = join(dir, 'events-2.jsonl');
    const { child } = startCli(file);
    await until('guard-started', () => readEvents(file).find((e) => e.type === 'guard-started'), 15_000);
    const kids = childrenOf(child.pid!);
    assert.ok(kids.length >= 2, `ulogd and nft monitor run as the guard's children (found ${kids.length})`);
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGKILL');
    await exited;
    await until("the guard's children to die with it", () => (kids.every((k) => !aliveProc(k)) ? true : undefined));
    assert.deepEqual(
      compareTables(await expectedTables(ruleset), await loadedTables(netnsTarget(bed.ws))).differences,
      [],
      'the rule set is still loaded as it was',
    );
    assert.equal(bed.probe(), false, 'the workload is still blocked from the Mac');
  });
});
