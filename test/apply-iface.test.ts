/**
 * `cordon apply --target ifupdown|netplan` end to end, inside throw-away network namespaces that
 * play the host (never the machine's own), with the files written under a temporary --root:
 *  - the applied state is the state the spec describes (bridges with STP off and forward delay 0,
 *    their port, addresses, routes, up), read with ip -j independently of apply's own comparison,
 *    and an address and a route the file does not have are taken off the nics it manages;
 *  - every failure leaves the namespace exactly as it was (ip -j dumps of links, addresses and
 *    routes compared before/after) and the file as it was: a port that does not exist (nothing is
 *    changed), a batch that fails at its last line, a state changed between batch and read-back;
 *  - kill -9 half-way through the batch: the next run, or --rollback, restores; kill -9 while
 *    waiting for --confirm: the watchdog restores at the deadline;
 *  - a hostile interface name in the spec is refused at the boundary and nothing changes.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { alive } from '../src/apply/rollback.js';
import { RunDir } from '../src/apply/state.js';
import { compile } from '../src/ir/compile.js';
import { loadModel } from '../src/model/load.js';
import { ifupdownRenderer } from '../src/render/ifupdown/index.js';
import { netplanRenderer } from '../src/render/netplan/index.js';
import { NetnsPool, netnsSkipReason } from './support/netns-fixture.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CORDON = join(ROOT, 'bin', 'cordon');
const PVE = join(ROOT, 'examples', 'proxmox-dual-bridge.yaml');

/** A hypervisor whose network `lan` has a gateway no declared host holds: its bridge gets the uplink eth9 as port. */
const HV = `version: 1
networks:
  lan: { cidr: 10.20.0.0/24, gateway: 10.20.0.254, egress: routed }
  vmbr1: { cidr: 192.168.50.0/24, egress: none }
hosts:
  hv: { kind: hypervisor, uplink: eth9, nics: { lan: 10.20.0.2, vmbr1: 192.168.50.1 } }
  guest: { kind: vm, id: 101, nics: { vmbr1: { address: 192.168.50.10, ifname: ens18 } }, routes: [{ to: 10.99.0.0/16, via: 192.168.50.1 }] }
`;

function cordon(args: readonly string[], env: NodeJS.ProcessEnv = {}): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(CORDON, args, { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env }, input: '' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function eventually(check: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (check()) return true;
    if (Date.now() > until) return false;
    await sleep(100);
  }
}

/**
 * Fields of `ip -j` that change by themselves or that the kernel never takes back: bridge timers,
 * IPv6 duplicate-address detection in progress, and the default qdisc a link gets the first time
 * it goes up (it keeps it when it goes down again; no configuration names it).
 */
const VOLATILE = new Set(['qdisc', 'gc_timer', 'hello_timer', 'tcn_timer', 'topology_change_timer', 'tentative']);
function strip(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(strip);
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).flatMap(([k, x]) => (VOLATILE.has(k) ? [] : [[k, strip(x)]])));
  return v;
}

interface JLink {
  ifname: string;
  flags: string[];
  master?: string;
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> };
}

describe('cordon apply --help: the interface targets', () => {
  it('says what is activated and prints the exact commands that hand the file to netplan and ifupdown', () => {
    const r = cordon(['apply', '--help']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /--target <name> +what to apply: nftables, ifupdown, netplan/);
    assert.match(r.stdout, /^ {2}netplan try +\(netplan; then netplan apply\)$/m);
    assert.match(r.stdout, /^ {2}ifreload -a +\(ifupdown2, as on Proxmox\) {2}or {2}systemctl restart networking \(ifupdown\)$/m);
    assert.match(r.stdout, /cordon does not run netplan or ifup itself/);
  });
});

const skip = netnsSkipReason('interface apply tests');

describe('cordon apply --target ifupdown|netplan in a network namespace', { skip }, () => {
  const pool = new NetnsPool();
  const started: number[] = [];
  const children: ChildProcess[] = [];
  let dir = '';
  let hv = '';
  let state = '';
  let root = '';
  let ns = '';
  const ipj = (args: string[]): unknown => {
    const r = pool.exec(ns, ['ip', '-j', ...args]);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  /** Everything of the namespace an apply could touch: links (with details), addresses, routes of every table, IPv4 and IPv6. */
  const dump = (): string =>
    JSON.stringify(
      strip({
        links: ipj(['-d', 'link', 'show']),
        addrs: ipj(['addr', 'show']),
        routes: ipj(['route', 'show', 'table', 'all']),
        routes6: ipj(['-6', 'route', 'show', 'table', 'all']),
      }),
      null,
      1,
    );
  const link = (name: string): JLink | undefined => (ipj(['-d', 'link', 'show']) as JLink[]).find((l) => l.ifname === name);
  const addrs = (name: string): string[] =>
    (ipj(['-4', 'addr', 'show', 'dev', name]) as { addr_info: { local: string; prefixlen: number }[] }[]).flatMap((a) =>
      a.addr_info.map((i) => `${i.local}/${i.prefixlen}`),
    );
  const routes = (): string[] =>
    (ipj(['-4', 'route', 'show', 'table', 'main']) as { dst: string; gateway?: string; dev: string; protocol?: string }[])
      .filter((r) => r.protocol !== 'kernel')
      .map((r) => `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.dev}`)
      .sort();
  const apply = (args: readonly string[], env: NodeJS.ProcessEnv = {}): { status: number; stdout: string; stderr: string } =>
    cordon(['apply', ...args, '--netns', ns, '--state-dir', state, '--root', root], env);
  const interfaces = (): string => join(root, 'etc', 'network', 'interfaces');
  const rendered = (spec: string, host: string, target: 'ifupdown' | 'netplan'): string => {
    const m = loadModel(spec).model!;
    return (target === 'ifupdown' ? ifupdownRenderer : netplanRenderer).render(compile(m), { host, params: new Map() }).files[0]!.content;
  };
  const veth = (name: string): void => {
    const r = pool.exec(ns, ['ip', 'link', 'add', 'name', name, 'type', 'veth', 'peer', 'name', `${name}p`]);
    assert.equal(r.status, 0, r.stderr);
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'cordon-apply-iface-'));
    hv = join(dir, 'hv.yaml');
    writeFileSync(hv, HV);
    state = join(dir, 'state');
  });
  beforeEach(() => {
    // Each test: a fresh namespace playing the host, a fresh root with an old interfaces file in place.
    ns = pool.create('iface');
    root = mkdtempSync(join(dir, 'root-'));
    mkdirSync(join(root, 'etc', 'network'), { recursive: true });
    mkdirSync(join(root, 'etc', 'netplan'), { recursive: true });
    writeFileSync(interfaces(), '# the old file\nauto lo\niface lo inet loopback\n', { mode: 0o644 });
  });
  after(() => {
    for (const c of children) if (c.exitCode === null && c.pid !== undefined && alive(c.pid)) c.kill('SIGKILL');
    for (const pid of started) if (alive(pid)) process.kill(pid, 'SIGKILL');
    pool.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ifupdown on a hypervisor: bridges with STP off and forward delay 0, the uplink as port, addresses, up; the file under --root', () => {
    veth('eth9');
    const untouched = dump();
    const dry = apply([hv, '--target', 'ifupdown', '--host', 'hv', '--dry-run']);
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stdout, /^link add name lan type bridge stp_state 0 forward_delay 0$/m);
    assert.match(dry.stdout, /^link set dev eth9 master lan$/m);
    assert.equal(dump(), untouched, '--dry-run changes nothing');
    const r = apply([hv, '--target', 'ifupdown', '--host', 'hv']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /read back: matches the file/);
    assert.match(r.stdout, /run: ifreload -a/);
    for (const br of ['lan', 'vmbr1']) {
      const l = link(br)!;
      assert.equal(l.linkinfo?.info_kind, 'bridge', br);
      assert.equal(l.linkinfo?.info_data?.stp_state, 0);
      assert.equal(l.linkinfo?.info_data?.forward_delay, 0);
      assert.ok(l.flags.includes('UP'), `${br} up`);
    }
    assert.equal(link('eth9')!.master, 'lan');
    assert.ok(link('eth9')!.flags.includes('UP'));
    assert.ok(link('lo')!.flags.includes('UP'));
    assert.deepEqual(addrs('lan'), ['10.20.0.2/24']);
    assert.deepEqual(addrs('vmbr1'), ['192.168.50.1/24']);
    assert.deepEqual(routes(), [], 'the uplink default route is not in this file');
    assert.equal(readFileSync(interfaces(), 'utf8'), rendered(hv, 'hv', 'ifupdown'));
    assert.equal(statSync(interfaces()).mode & 0o777, 0o644);
    // Applying again changes nothing.
    const again = apply([hv, '--target', 'ifupdown', '--host', 'hv']);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /already had this interface state/);
  });

  it('netplan in a guest: addresses, default route and no others on the nics it manages; the file 0600', () => {
    veth('ens18');
    veth('ens19');
    // What the file does not say goes: an extra address and an extra static route on a managed nic.
    for (const cmd of [
      ['ip', 'addr', 'add', '10.0.0.99/24', 'dev', 'ens18'],
      ['ip', 'link', 'set', 'ens18', 'up'],
      ['ip', 'route', 'add', '10.77.0.0/16', 'via', '10.0.0.5', 'dev', 'ens18'],
    ])
      assert.equal(pool.exec(ns, cmd).status, 0);
    const r = apply([PVE, '--target', 'netplan', '--host', 'agentfarm']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /run: netplan try/);
    assert.deepEqual(addrs('ens18'), ['10.0.0.10/24']);
    assert.deepEqual(addrs('ens19'), ['192.168.100.10/24']);
    assert.deepEqual(routes(), ['default via 10.0.0.1 dev ens18']);
    const file = join(root, 'etc', 'netplan', '00-cordon.yaml');
    assert.equal(readFileSync(file, 'utf8'), rendered(PVE, 'agentfarm', 'netplan'));
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  it('a port that does not exist: refused before any change, namespace and file as they were', () => {
    const before = dump();
    const r = apply([hv, '--target', 'ifupdown', '--host', 'hv']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /not applied: interface eth9 does not exist; cordon creates only bridges\. Nothing was changed\./);
    assert.equal(dump(), before);
    assert.equal(readFileSync(interfaces(), 'utf8'), '# the old file\nauto lo\niface lo inet loopback\n');
  });

  /** A namespace with state of its own on the nics the hv file manages: what every failure must leave. */
  const prior = (): void => {
    veth('eth9');
    for (const cmd of [
      ['ip', 'link', 'add', 'name', 'vmbr1', 'type', 'bridge', 'stp_state', '1'],
      ['ip', 'addr', 'add', '192.168.50.77/24', 'dev', 'vmbr1'],
      ['ip', 'link', 'set', 'vmbr1', 'up'],
      ['ip', 'route', 'add', '10.66.0.0/16', 'via', '192.168.50.9', 'dev', 'vmbr1'],
    ])
      assert.equal(pool.exec(ns, cmd).status, 0, cmd.join(' '));
  };

  it('a batch that fails at its last line (injected): everything it did is rolled back, namespace and file as they were', () => {
    prior();
    const before = dump();
    const r = apply([hv, '--target', 'ifupdown', '--host', 'hv'], { CORDON_APPLY_INJECT_FAULT: 'iface-step' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /ip -batch failed: Cannot find device "cordon-nosuch0"/);
    assert.match(r.stderr, /apply failed and was rolled back/);
    assert.equal(dump(), before);
    assert.equal(link('vmbr1')!.linkinfo?.info_data?.stp_state, 1);
    assert.equal(link('lan'), undefined);
    assert.equal(readFileSync(interfaces(), 'utf8'), '# the old file\nauto lo\niface lo inet loopback\n');
  });

  it('a state changed between the batch and the read-back (injected): caught, named, rolled back', () => {
    prior();
    const before = dump();
    const r = apply([hv, '--target', 'ifupdown', '--host', 'hv'], { CORDON_APPLY_INJECT_FAULT: 'iface-tamper' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /read back differs from the file \(1 difference\)/);
    assert.match(r.stderr, /address lan 10\.20\.0\.2\/24: missing/);
    assert.equal(dump(), before);
  });

  /** Starts an apply that stops half-way through its batch, and kills it with SIGKILL there. */
  async function killHalfway(extra: readonly string[] = []): Promise<void> {
    const child = spawn(CORDON, ['apply', hv, '--target', 'ifupdown', '--host', 'hv', '--netns', ns, '--state-dir', state, '--root', root, ...extra], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', CORDON_APPLY_INJECT_FAULT: 'iface-hang' },
    });
    children.push(child);
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    assert.ok(await eventually(() => /now waiting to be killed/.test(err), 60_000), `apply did not reach the middle of its batch:\n${err}`);
    const wd = /watchdog: pid (\d+)/.exec(err);
    if (wd) started.push(Number(wd[1]));
    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  it('kill -9 half-way through the batch: --rollback restores the namespace (the file was not written yet)', async () => {
    prior();
    const before = dump();
    await killHalfway();
    assert.notEqual(dump(), before, 'the first half of the batch changed the namespace');
    const r = cordon(['apply', '--target', 'ifupdown', '--rollback', '--netns', ns, '--state-dir', state]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /recovered .*abandoned by pid \d+ while changing interfaces: restored the interface snapshot/);
    assert.equal(dump(), before);
    assert.equal(readFileSync(interfaces(), 'utf8'), '# the old file\nauto lo\niface lo inet loopback\n');
  });

  it('kill -9 half-way through the batch: the next apply restores first, then applies', async () => {
    prior();
    await killHalfway();
    const r = apply([hv, '--target', 'ifupdown', '--host', 'hv']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /recovered .*abandoned by pid \d+/);
    // The recovery restored the snapshot, which was then the starting point of this run's own snapshot.
    const snap = JSON.parse(readFileSync(join(/^state: (.+)$/m.exec(r.stderr)![1]!, 'iface-snapshot.json'), 'utf8')) as {
      state: { links: { name: string; exists: boolean; stp?: number }[]; routes: { dst: string }[] };
    };
    assert.equal(snap.state.links.find((l) => l.name === 'lan')?.exists, false);
    assert.equal(snap.state.links.find((l) => l.name === 'vmbr1')?.stp, 1);
    assert.deepEqual(
      snap.state.routes.map((x) => x.dst),
      ['10.66.0.0/16'],
    );
    assert.equal(link('eth9')!.master, 'lan');
    assert.deepEqual(routes(), [], 'the route the file does not have went');
  });

  it('--confirm, then kill -9 while waiting: the watchdog restores the namespace and the file at the deadline', async () => {
    prior();
    const before = dump();
    const child = spawn(CORDON, ['apply', hv, '--target', 'ifupdown', '--host', 'hv', '--netns', ns, '--state-dir', state, '--root', root, '--confirm', '3'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    children.push(child);
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    assert.ok(await eventually(() => /--confirm-token [0-9a-f]+ --netns/.test(err), 60_000), err);
    assert.match(err, /cordon apply --target ifupdown --confirm-token/);
    const run = new RunDir(/^state: (.+)$/m.exec(err)![1]!);
    const wd = run.watchdogPid()!;
    started.push(wd);
    assert.equal(link('eth9')?.master, 'lan', 'applied while waiting');
    assert.notEqual(readFileSync(interfaces(), 'utf8'), '# the old file\nauto lo\niface lo inet loopback\n');
    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGKILL');
    await exited;
    assert.ok(await eventually(() => run.status() === 'rolled-back', run.deadline()! - Date.now() + 15_000), `not rolled back: ${run.status()}`);
    assert.equal(run.rollbackRecord()?.by, 'watchdog');
    assert.equal(dump(), before);
    assert.equal(readFileSync(interfaces(), 'utf8'), '# the old file\nauto lo\niface lo inet loopback\n');
    assert.ok(await eventually(() => !alive(wd), 5_000), `watchdog ${wd} still runs`);
  });

  it('--confirm and --confirm-token from another process: the state and the file stay, the watchdog is gone', async () => {
    veth('eth9');
    const child = spawn(CORDON, ['apply', hv, '--target', 'ifupdown', '--host', 'hv', '--netns', ns, '--state-dir', state, '--root', root, '--confirm', '60'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    children.push(child);
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    assert.ok(await eventually(() => /--confirm-token [0-9a-f]+ --netns/.test(err), 60_000), err);
    const run = new RunDir(/^state: (.+)$/m.exec(err)![1]!);
    const wd = run.watchdogPid()!;
    started.push(wd);
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    const c = cordon(['apply', '--target', 'ifupdown', '--confirm-token', run.token()!, '--netns', ns, '--state-dir', state]);
    assert.equal(c.status, 0, c.stderr);
    assert.equal(await exited, 0, err);
    assert.ok(!alive(wd), `watchdog ${wd} still runs`);
    assert.equal(run.status(), 'applied');
    assert.equal(link('eth9')?.master, 'lan');
    assert.equal(readFileSync(interfaces(), 'utf8'), rendered(hv, 'hv', 'ifupdown'));
  });

  it('a hostile interface name in the spec is refused at the boundary (exit 2) and nothing changes', () => {
    const before = dump();
    for (const bad of ['x dev lo', 'a#b', 'a"b']) {
      const f = join(dir, 'hostile.yaml');
      writeFileSync(f, HV.replace('ifname: ens18', `ifname: ${JSON.stringify(bad)}`));
      const r = apply([f, '--target', 'netplan', '--host', 'guest']);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /interface name/);
    }
    assert.equal(dump(), before);
  });

  it('usage errors exit 2: --netns without --root, an unknown target, a host the target writes nothing for', () => {
    const noRoot = cordon(['apply', hv, '--target', 'ifupdown', '--host', 'hv', '--netns', ns, '--state-dir', state]);
    assert.equal(noRoot.status, 2, noRoot.stderr);
    assert.match(noRoot.stderr, /--root DIR is needed with --netns/);
    const bad = apply([hv, '--target', 'systemd-networkd']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--target must be one of nftables, ifupdown, netplan/);
    const host = apply([hv, '--target', 'netplan', '--host', 'hv']);
    assert.equal(host.status, 2);
    assert.match(host.stderr, /the netplan target writes no file for 'hv'/);
    assert.ok(!existsSync(join(root, 'etc', 'netplan', '00-cordon.yaml')));
  });
});
