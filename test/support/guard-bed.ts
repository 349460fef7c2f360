/**
 * A two-namespace test bed for the guard: the vpn-only example's workload (192.168.64.2, namespace
 * `ws`) and the Mac's side of its NAT network (192.168.64.1, namespace `gw`) with a tcp listener the
 * workload's rules must keep it from; names carry the pool's run-unique prefix, removed in cleanup.
 */
import { strict as assert } from 'node:assert';
import { PassThrough } from 'node:stream';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyRuleset } from '../../src/apply/apply.js';
import { netnsTarget } from '../../src/apply/target.js';
import type { GuardEvent } from '../../src/guard/events.js';
import { startGuard, type Guard, type GuardOptions } from '../../src/guard/guard.js';
import type { GuardMetrics } from '../../src/guard/metrics.js';
import { EventWriter } from '../../src/guard/writer.js';
import { compile } from '../../src/ir/compile.js';
import type { Ir } from '../../src/ir/types.js';
import { loadModel } from '../../src/model/load.js';
import { nftablesRenderer } from '../../src/render/nftables/index.js';
import { NetnsPool, netnsSkipReason } from './netns-fixture.js';
import { requireOrSkip } from './require-env.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const VPN = join(ROOT, 'examples', 'vpn-only-vm.yaml');
export const HOST = 'workload-vm';
export const GW = '192.168.64.1';
export const PORT = 8080;

export const guardSkip =
  netnsSkipReason('guard live tests') ??
  requireOrSkip(
    'guard live tests',
    spawnSync('ulogd', ['--version']).error ? 'needs ulogd (apt-get install ulogd2 ulogd2-json; make setup does)' : undefined,
  ) ??
  requireOrSkip('guard live tests', spawnSync('socat', ['-V']).error ? 'needs socat' : undefined);

export function vpnIr(): Ir {
  const r = loadModel(VPN);
  assert.ok(r.model);
  return compile(r.model);
}

export function renderedFor(ir: Ir, host: string): string {
  return nftablesRenderer.render(ir, { host, params: new Map() }).files[0]!.content;
}

export async function until<T>(what: string, get: () => T | undefined, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Two namespaces: the workload (192.168.64.2) and the Mac's side (192.168.64.1) with a tcp listener. */
export class Testbed {
  readonly pool = new NetnsPool();
  readonly ws: string;
  readonly gw: string;
  private listener: ChildProcess | undefined;

  constructor() {
    this.ws = this.pool.create('ws');
    this.gw = this.pool.create('gw');
    const sh = (ns: string, cmd: string): void => {
      const r = this.pool.exec(ns, ['sh', '-ec', cmd]);
      assert.equal(r.status, 0, `${cmd}: ${r.stderr}`);
    };
    const tag = this.ws.slice(-6).replace(/[^a-z0-9]/g, '');
    const a = `gv${tag}a`.slice(0, 15);
    const b = `gv${tag}b`.slice(0, 15);
    // eth0: the workload's interface on the vz-nat network, named as the spec's model (and the lab) names it.
    sh(this.ws, `ip link set lo up; ip link add ${a} type veth peer name ${b}; ip link set ${b} netns ${this.gw}; ip link set ${a} name eth0`);
    sh(this.ws, `ip addr add 192.168.64.2/24 dev eth0; ip link set eth0 up; ip route add default via ${GW}`);
    sh(this.gw, `ip link set lo up; ip addr add ${GW}/24 dev ${b}; ip link set ${b} up`);
  }

  startListener(): void {
    this.listener = spawn('ip', ['netns', 'exec', this.gw, 'socat', '-u', `TCP-LISTEN:${PORT},bind=${GW},fork,reuseaddr`, 'OPEN:/dev/null'], {
      stdio: 'ignore',
    });
  }

  /** Whether the workload can open a tcp connection to the Mac's listener (2 s to try). */
  probe(): boolean {
    return this.pool.exec(this.ws, ['timeout', '2', 'bash', '-c', `exec 3<>/dev/tcp/${GW}/${PORT}`]).status === 0;
  }

  /** One forbidden attempt, not waited for: tcp, udp or icmp from the workload. */
  attempt(proto: 'tcp' | 'udp' | 'icmp', dst: string, port?: number): void {
    const cmd =
      proto === 'tcp'
        ? ['timeout', '1', 'bash', '-c', `exec 3<>/dev/tcp/${dst}/${port}`]
        : proto === 'udp'
          ? ['timeout', '1', 'bash', '-c', `echo x > /dev/udp/${dst}/${port}`]
          : ['ping', '-c', '1', '-W', '1', dst];
    this.pool.exec(this.ws, cmd);
  }

  nft(...args: string[]): void {
    const r = this.pool.exec(this.ws, ['nft', ...args]);
    assert.equal(r.status, 0, r.stderr);
  }

  cleanup(): void {
    if (this.listener?.pid !== undefined) this.listener.kill('SIGKILL');
    this.pool.cleanup();
  }
}

export type EventOf<T extends GuardEvent['type']> = GuardEvent & { type: T };

/** A type guard for one event type, for `events.filter(isType('drift'))`. */
export function isType<T extends GuardEvent['type']>(type: T): (e: GuardEvent) => e is EventOf<T> {
  return (e): e is EventOf<T> => e.type === type;
}

/**
 * Loads `ruleset` into the bed's workload namespace with cordon's own apply (asserting it was
 * applied) and starts a guard on it that collects its events into `events`: the set-up the live
 * guard tests share. `rest` sets what a test varies (drift policy, intervals).
 */
export async function applyAndGuard(
  bed: Testbed,
  o: { ir: Ir; ruleset: string; state: string; events: GuardEvent[]; metrics: GuardMetrics },
  rest: Pick<GuardOptions, 'onDrift'> & Partial<GuardOptions>,
): Promise<Guard> {
  const target = netnsTarget(bed.ws);
  const out = await applyRuleset({ target, host: HOST, ruleset: o.ruleset, stateRoot: o.state, ir: o.ir, say: () => undefined });
  assert.equal(out.status, 'applied', out.message);
  const sink = new PassThrough();
  sink.resume();
  const writer = new EventWriter(sink, { onEvent: (e) => o.events.push(e), onDrop: (n) => o.metrics.eventsDropped.inc(n) });
  return startGuard({ ir: o.ir, host: HOST, ruleset: o.ruleset, target, events: writer, metrics: o.metrics, stateRoot: o.state, ...rest });
}
