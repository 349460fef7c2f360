/**
 * VPN health, live: the vpn-only workload (namespace `ws`) with a real WireGuard tunnel
 * (wireguard-go) to the VPN server, played by the Mac-side namespace (`gw`, which also holds
 * 203.0.113.1, the server's endpoint, and 198.51.100.7, an internet address with a listener). The
 * guard reports the tunnel down while the server is not there (never a handshake), up once it
 * is, and down again after it is gone longer than the (lowered) threshold; while down, a probe to
 * the internet gets nothing through, neither by the tunnel's route nor by a route the guest adds
 * around it; while up the same probe passes (so its failing proves something).
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { applyRuleset } from '../src/apply/apply.js';
import { netnsTarget } from '../src/apply/target.js';
import type { GuardEvent } from '../src/guard/events.js';
import { startGuard, type Guard } from '../src/guard/guard.js';
import { GuardMetrics } from '../src/guard/metrics.js';
import { EventWriter } from '../src/guard/writer.js';
import { GW, guardSkip, HOST, isType, renderedFor, Testbed, until, vpnIr } from './support/guard-bed.js';
import { requireOrSkip } from './support/require-env.js';
import { startWireguardGo } from './support/wireguard-go.js';

const skip =
  guardSkip ??
  requireOrSkip('guard VPN live tests', spawnSync('wireguard-go', ['--version']).error ? 'needs wireguard-go (make setup installs it)' : undefined) ??
  requireOrSkip('guard VPN live tests', spawnSync('wg', ['--version']).error ? 'needs wg (wireguard-tools)' : undefined);

const INET = '198.51.100.7';
const DOWN_AFTER_S = 4;

describe('guard: VPN health (live, wireguard-go in namespaces)', { skip }, () => {
  let bed: Testbed;
  let state: string;
  let guard: Guard | undefined;
  let server: ChildProcess | undefined;
  const procs: ChildProcess[] = [];
  const events: GuardEvent[] = [];
  const metrics = new GuardMetrics();
  const ir = vpnIr();
  const ruleset = renderedFor(ir, HOST);
  const tag = `${process.pid % 100000}`;
  // wireguard-go's control sockets are machine-wide: names unique to this run.
  const clientName = `gvc${tag}`;
  const serverName = `gvs${tag}`;
  const keys = { client: '', clientPub: '', server: '', serverPub: '' };

  const sh = (ns: string, cmd: string): void => {
    const r = bed.pool.exec(ns, ['sh', '-ec', cmd]);
    assert.equal(r.status, 0, `${cmd}: ${r.stderr}`);
  };
  const genkey = (): [string, string] => {
    const priv = spawnSync('wg', ['genkey'], { encoding: 'utf8' }).stdout.trim();
    return [priv, spawnSync('wg', ['pubkey'], { input: priv, encoding: 'utf8' }).stdout.trim()];
  };
  const wireguard = async (ns: string, name: string): Promise<ChildProcess> => {
    const p = await startWireguardGo(ns, name, 15_000);
    procs.push(p);
    return p;
  };
  const keyFile = (k: string): string => {
    const f = join(state, `k${Math.random().toString(36).slice(2)}`);
    writeFileSync(f, `${k}\n`, { mode: 0o600 });
    return f;
  };
  /** Whether the workload reaches the internet listener (2 s to try). */
  const probe = (): boolean => bed.pool.exec(bed.ws, ['timeout', '2', 'bash', '-c', `exec 3<>/dev/tcp/${INET}/443`]).status === 0;
  const age = async (): Promise<string | undefined> =>
    /^cordon_vpn_handshake_age_seconds\{host="workload-vm",peer="vpn-server"\} (\S+)$/m.exec(await metrics.text())?.[1];

  before(async () => {
    bed = new Testbed();
    state = mkdtempSync(join(tmpdir(), 'cordon-guard-vpn-'));
    [keys.client, keys.clientPub] = genkey();
    [keys.server, keys.serverPub] = genkey();
    // The internet address and the server's endpoint live on the Mac side; a listener on the internet address.
    sh(bed.gw, `ip addr add 203.0.113.1/32 dev lo; ip addr add ${INET}/32 dev lo`);
    procs.push(spawn('ip', ['netns', 'exec', bed.gw, 'socat', '-u', `TCP-LISTEN:443,bind=${INET},fork,reuseaddr`, 'OPEN:/dev/null'], { stdio: 'ignore' }));
    // The workload's end: wg0 (renamed from its machine-unique name, as the lab does), the internet routed into it.
    await wireguard(bed.ws, clientName);
    sh(
      bed.ws,
      `wg set ${clientName} private-key ${keyFile(keys.client)} peer ${keys.serverPub} endpoint 203.0.113.1:51820 allowed-ips 0.0.0.0/0 persistent-keepalive 1`,
    );
    sh(bed.ws, `ip link set ${clientName} name wg0; ip addr add 10.99.0.2/24 dev wg0; ip link set wg0 up; ip route add ${INET}/32 dev wg0`);
    const out = await applyRuleset({ target: netnsTarget(bed.ws), host: HOST, ruleset, stateRoot: state, ir, say: () => undefined });
    assert.equal(out.status, 'applied', out.message);
    const sink = new PassThrough();
    sink.resume();
    guard = await startGuard({
      ir,
      host: HOST,
      ruleset,
      target: netnsTarget(bed.ws),
      events: new EventWriter(sink, { onEvent: (e) => events.push(e) }),
      metrics,
      onDrift: 'alert',
      stateRoot: state,
      recheckMs: 60_000,
      vpnDownAfterS: DOWN_AFTER_S,
      vpnPollMs: 200,
      wgNames: new Map([['wg0', clientName]]),
    });
  });

  after(async () => {
    await guard?.stop();
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    bed?.cleanup();
    // wireguard-go killed with -9 leaves its control sockets behind.
    for (const n of [clientName, serverName]) rmSync(`/var/run/wireguard/${n}.sock`, { force: true });
    if (state) rmSync(state, { recursive: true, force: true });
  });

  it('reports the tunnel down while the server never answered, and nothing gets out (tunnel route or around it)', async () => {
    const down = await until('a vpn-down event', () => events.find(isType('vpn-down')));
    assert.deepEqual({ tunnel: down.tunnel, peer: down.peer, age: down.ageSeconds }, { tunnel: 'wg0', peer: 'vpn-server', age: null });
    assert.equal(await age(), '+Inf', 'never: an infinite age');
    assert.doesNotMatch(JSON.stringify(events), new RegExp(keys.serverPub.replace(/[+/=]/g, '.'), 'u'), 'no key in any event');
    assert.equal(probe(), false, 'through the tunnel: nothing');
    // A compromised guest routes around the tunnel: its own rules still drop anything not in wg0.
    sh(bed.ws, `ip route replace ${INET}/32 via ${GW} dev eth0`);
    try {
      assert.equal(probe(), false, 'around the tunnel: nothing');
    } finally {
      sh(bed.ws, `ip route replace ${INET}/32 dev wg0`);
    }
  });

  it('reports it up once the server answers a handshake, and the same probe passes', async () => {
    server = await wireguard(bed.gw, serverName);
    sh(bed.gw, `wg set ${serverName} private-key ${keyFile(keys.server)} listen-port 51820 peer ${keys.clientPub} allowed-ips 10.99.0.2/32`);
    sh(bed.gw, `ip addr add 10.99.0.1/24 dev ${serverName}; ip link set ${serverName} up`);
    const up = await until('a vpn-up event', () => events.find(isType('vpn-up')), 15_000);
    assert.equal(up.peer, 'vpn-server');
    assert.ok(up.ageSeconds !== null && up.ageSeconds <= DOWN_AFTER_S);
    assert.equal(probe(), true, 'the tunnel carries the probe: its failing above was the tunnel being down');
    assert.match((await age()) ?? '', /^\d+(\.\d+)?(e[-+]\d+)?$/, 'a finite age');
  });

  it(`reports it down again ${DOWN_AFTER_S} s after the server is gone, and the probe gets nothing through`, async () => {
    server!.kill('SIGKILL');
    const n = events.findIndex(isType('vpn-up'));
    const down = await until('a second vpn-down event', () => events.slice(n).find(isType('vpn-down')), 20_000);
    assert.ok(down.ageSeconds !== null && down.ageSeconds >= DOWN_AFTER_S, `age ${down.ageSeconds}`);
    assert.match(down.message, /the rules keep workload-vm closed/);
    assert.equal(probe(), false);
  });
});
