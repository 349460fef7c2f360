/**
 * Runs a lab plan (plan.ts) on this machine, in named stages, and takes a lab down again.
 *
 * Speed: namespaces and links are created by one `ip -batch` in the machine's namespace (veth
 * pairs are created directly inside their namespaces, so no interface ever appears outside one);
 * addresses and routes by one `ip -n NS -batch` per namespace, run in parallel; sysctls by the lab
 * agent, which writes /proc/sys inside each namespace without spawning anything; one `nft -f` per
 * enforcing namespace.
 *
 * Safety: only `ip netns add/del`, `ip link add … netns <lab namespace>` and `wg set <lab tunnel>`
 * run in the machine's own namespace; everything else runs inside the lab's namespaces. Teardown
 * signals only the PIDs the lab recorded (and only while /proc/PID/cmdline still shows them to be
 * the lab's), deletes only namespaces carrying the lab's prefix, and is safe to repeat.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { firstError, run, type ExecResult } from '../system/exec.js';
import { listNetns } from '../system/netns.js';
import { Agent, openLog } from './agent.js';
import { isLabNamespace, namespaceTag, prefixOfNamespace } from '../model/names.js';
import { STAGES, type LabPlan, type Stage, type Step, type WgPeer } from './plan.js';
import { labDir, listPrefixes, readState, removeLabDir, writeLabFile, writeState, type LabProcess, type LabState } from './state.js';

export interface Progress {
  readonly stage: Stage | 'teardown' | 'probe' | 'attack';
  /** `start` | `done` of a stage, or a free-form note inside one. */
  readonly event: 'start' | 'done' | 'note';
  readonly steps: number;
  readonly ms: number;
  readonly message: string | undefined;
}

export interface StageTiming {
  readonly stage: Stage;
  readonly steps: number;
  readonly ms: number;
}

export interface TunnelStatus {
  readonly tunnel: string;
  readonly host: string;
  readonly up: boolean;
  readonly expectUp: boolean;
}

export interface BuildReport {
  readonly prefix: string;
  readonly stages: readonly StageTiming[];
  readonly ms: number;
  readonly tunnels: readonly TunnelStatus[];
  readonly warnings: readonly string[];
}

export interface BuildOptions {
  readonly say: (p: Progress) => void;
  /** Parallel `ip -n … -batch` / `nft` runs. */
  readonly concurrency?: number;
  /** Build namespaces and links one command per step (the benchmark's baseline). */
  readonly unbatched?: boolean;
  /** Start responders and public services (default true). */
  readonly services?: boolean;
  /** Seconds to wait for WireGuard handshakes. */
  readonly handshakeSeconds?: number;
  readonly ephemeral?: boolean;
  /** Stop between stages (and while waiting for handshakes) once this fires; the caller tears down. */
  readonly signal?: AbortSignal;
}

export class LabError extends Error {
  constructor(
    message: string,
    readonly stage: Stage | 'teardown',
  ) {
    super(message);
  }
}

async function pool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let i = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(n, items.length)) }, async () => {
    while (i < items.length) {
      const item = items[i++]!;
      await fn(item);
    }
  });
  await Promise.all(workers);
}

function must(r: ExecResult, what: string, stage: Stage): void {
  if (r.code !== 0) throw new LabError(`${what}: ${firstError(r)}`, stage);
}

function groupByNs(steps: readonly Step[]): Map<string | undefined, string[]> {
  const out = new Map<string | undefined, string[]>();
  for (const s of steps) {
    if (s.kind !== 'ip') continue;
    const list = out.get(s.ns) ?? [];
    list.push(s.cmd);
    out.set(s.ns, list);
  }
  return out;
}

/** `ip [-n NS] -batch -` over some commands; with `unbatched`, one `ip` per command. */
async function ipBatch(ns: string | undefined, cmds: readonly string[], stage: Stage, unbatched: boolean): Promise<void> {
  if (cmds.length === 0) return;
  if (unbatched) {
    for (const c of cmds) {
      const argv = ['ip', ...(ns ? ['-n', ns] : []), ...c.split(' ')];
      must(await run(argv), `${argv.join(' ')}`, stage);
    }
    return;
  }
  const r = await run(['ip', ...(ns ? ['-n', ns] : []), '-batch', '-'], { input: `${cmds.join('\n')}\n` });
  if (r.code !== 0) {
    const m = /Command failed -:(\d+)/.exec(r.stderr);
    const line = m ? cmds[Number(m[1]) - 1] : undefined;
    throw new LabError(`ip${ns ? ` -n ${ns}` : ''}: ${line ? `'${line}': ` : ''}${firstError(r)}`, stage);
  }
}

/** Builds the lab; on any failure the caller tears it down (the state is written first). */
export async function buildLab(plan: LabPlan, opts: BuildOptions): Promise<BuildReport> {
  if (plan.diagnostics.length > 0)
    throw new LabError(plan.diagnostics.map((d) => `${d.file}:${d.line}:${d.col}: ${d.code} ${d.message}`).join('\n'), 'namespaces');
  const t0 = performance.now();
  const unbatched = opts.unbatched ?? false;
  // The baseline runs strictly one command after the other.
  const conc = unbatched ? 1 : (opts.concurrency ?? 4);
  const warnings: string[] = [];
  const timings: StageTiming[] = [];
  const dir = labDir(plan.prefix);
  const hosts: Record<string, string> = {};
  for (const [h, ns] of plan.layout.hostNs) hosts[h] = ns;
  let state: LabState = {
    version: 1,
    prefix: plan.prefix,
    file: resolve(plan.file),
    hash: plan.hash,
    createdAt: new Date().toISOString(),
    ownerPid: process.pid,
    status: 'building',
    namespaces: plan.namespaces.map((n) => n.name),
    hosts,
    processes: [],
    wireguard: plan.steps.flatMap((s) => (s.kind === 'wireguard' ? [s.kernelName] : [])),
    ephemeral: opts.ephemeral ?? false,
  };
  writeState(state);
  const addProcess = (p: LabProcess): void => {
    state = { ...state, processes: [...state.processes, p] };
    writeState(state);
  };
  let agent: Agent | undefined;
  const tunnels: TunnelStatus[] = [];
  try {
    for (const stage of STAGES) {
      const steps = plan.steps.filter((s) => s.stage === stage);
      if (steps.length === 0) continue;
      if (stage === 'services' && opts.services === false) continue;
      opts.signal?.throwIfAborted();
      const ts = performance.now();
      opts.say({ stage, event: 'start', steps: steps.length, ms: 0, message: undefined });
      switch (stage) {
        case 'namespaces': {
          const cmds = steps.flatMap((s) => (s.kind === 'netns' ? [`netns add ${s.ns}`] : []));
          await ipBatch(undefined, cmds, stage, unbatched);
          break;
        }
        case 'sysctls': {
          agent = Agent.start(plan.prefix, { daemon: true });
          addProcess({ pid: agent.pid, name: 'agent', mark: join(dir, 'agent.pl') });
          const list = steps.flatMap((s) => (s.kind === 'sysctl' ? [s] : []));
          let errs: (string | undefined)[] = [];
          if (unbatched) {
            // The baseline: one `sysctl -w` per step, in sequence.
            for (const s of list) {
              const r = await run(['ip', 'netns', 'exec', s.ns, 'sysctl', '-q', '-w', `${s.key}=${s.value}`]);
              errs.push(r.code === 0 ? undefined : firstError(r));
            }
          } else errs = await agent.batch(list.map((s) => ['sysctl', s.ns, s.key, s.value]));
          errs.forEach((e, i) => {
            const s = list[i]!;
            if (e === undefined) return;
            if (s.optional) return;
            throw new LabError(`sysctl ${s.key}=${s.value} in ${s.ns}: ${e}`, stage);
          });
          break;
        }
        case 'links':
          await ipBatch(
            undefined,
            steps.flatMap((s) => (s.kind === 'ip' ? [s.cmd] : [])),
            stage,
            unbatched,
          );
          break;
        case 'addresses': {
          const groups = [...groupByNs(steps)];
          await pool(groups, conc, ([ns, cmds]) => ipBatch(ns, cmds, stage, unbatched));
          break;
        }
        case 'tunnel-routes': {
          // Servers first: a member's first handshake is sent the moment its interface comes up,
          // and a server whose interface is still down has no socket to receive it (wireguard-go
          // would retry only after 5 s).
          const servers = new Set(plan.layout.tunnels.filter((t) => t.server).map((t) => t.ns));
          const groups = [...groupByNs(steps)];
          await pool(
            groups.filter(([ns]) => ns !== undefined && servers.has(ns)),
            conc,
            ([ns, cmds]) => ipBatch(ns, cmds, stage, unbatched),
          );
          // wireguard-go opens its UDP socket a moment after the interface comes up; an
          // initiation that arrives before is lost and retried only after 5 s.
          const listening = plan.steps.flatMap((s) => (s.kind === 'wireguard' && s.listenPort !== undefined ? [s] : []));
          await Promise.all(
            listening.map(async (s) => {
              for (let i = 0; i < 200; i++) {
                const r = await run(['ip', 'netns', 'exec', s.ns, 'ss', '-Hlun', `sport = :${s.listenPort}`]);
                if (r.code === 0 && r.stdout.trim() !== '') return;
                await new Promise((res) => setTimeout(res, 10));
              }
              warnings.push(`wireguard-go of ${s.host} opened no socket on udp/${s.listenPort}`);
            }),
          );
          await pool(
            groups.filter(([ns]) => ns === undefined || !servers.has(ns)),
            conc,
            ([ns, cmds]) => ipBatch(ns, cmds, stage, unbatched),
          );
          break;
        }
        case 'firewalls': {
          const byNs = new Map<string, Step[]>();
          for (const s of steps) if (s.kind === 'nft') byNs.set(s.ns, [...(byNs.get(s.ns) ?? []), s]);
          await pool([...byNs], conc, async ([ns, list]) => {
            const text = list.map((s) => (s.kind === 'nft' ? s.ruleset : '')).join('\n');
            const r = await run(['ip', 'netns', 'exec', ns, 'nft', '-f', '-'], { input: text });
            must(r, `nft -f in ${ns} (${list.map((s) => (s.kind === 'nft' ? s.name : '')).join(', ')})`, stage);
          });
          break;
        }
        case 'shaping': {
          // In order within a namespace (the IFB device before the redirect to it); namespaces in parallel.
          const byNs = new Map<string, string[][]>();
          for (const s of steps) if (s.kind === 'shape') byNs.set(s.ns, [...(byNs.get(s.ns) ?? []), [s.argv[0]!, '-n', s.ns, ...s.argv.slice(1)]]);
          await pool([...byNs], conc, async ([, cmds]) => {
            for (const argv of cmds) must(await run(argv), argv.join(' '), stage);
          });
          break;
        }
        case 'tunnels': {
          await pool(steps, conc, async (s) => {
            if (s.kind !== 'wireguard') return;
            const log = openLog(join(dir, `${s.kernelName}.log`));
            const child = spawn('ip', ['netns', 'exec', s.ns, 'wireguard-go', '-f', s.kernelName], {
              detached: true,
              stdio: ['ignore', log.fd, log.fd],
              env: { ...process.env, WG_PROCESS_FOREGROUND: '1', LOG_LEVEL: 'error' },
            });
            log.close();
            child.unref();
            if (child.pid === undefined) throw new LabError(`wireguard-go for ${s.host} did not start`, stage);
            addProcess({ pid: child.pid, name: 'wireguard-go', mark: s.kernelName });
            const sock = `/var/run/wireguard/${s.kernelName}.sock`;
            for (let i = 0; i < 300 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 10));
            if (!existsSync(sock))
              throw new LabError(`wireguard-go for ${s.host} (${s.kernelName}) made no control socket: ${readLog(join(dir, `${s.kernelName}.log`))}`, stage);
            const keyFile = writeLabFile(plan.prefix, `${s.kernelName}.key`, `${s.privateKey}\n`);
            const argv = ['wg', 'set', s.kernelName, 'private-key', keyFile];
            if (s.listenPort !== undefined) argv.push('listen-port', String(s.listenPort));
            if (s.fwmark !== undefined) argv.push('fwmark', `0x${s.fwmark.toString(16)}`);
            for (const p of s.peers) argv.push(...wgPeerArgs(p));
            must(await run(argv), `wg set ${s.kernelName} (${s.host}'s end of ${s.tunnel})`, stage);
            must(await run(['ip', '-n', s.ns, 'link', 'set', s.kernelName, 'name', s.ifname]), `renaming ${s.kernelName} to ${s.ifname} in ${s.ns}`, stage);
          });
          break;
        }
        case 'services': {
          for (const s of steps) {
            if (s.kind !== 'dnsmasq') continue;
            const tag = namespaceTag(s.ns);
            const conf = writeLabFile(plan.prefix, `dnsmasq-${tag}.conf`, s.config);
            const logPath = join(dir, `dnsmasq-${tag}.log`);
            const log = openLog(logPath);
            const child = spawn(
              'ip',
              [
                'netns',
                'exec',
                s.ns,
                'dnsmasq',
                '--keep-in-foreground',
                `--conf-file=${conf}`,
                `--pid-file=${join(dir, `dnsmasq-${tag}.pid`)}`,
                '--user=root',
                '--group=root',
                `--log-facility=${logPath}`,
              ],
              {
                detached: true,
                stdio: ['ignore', log.fd, log.fd],
              },
            );
            log.close();
            child.unref();
            if (child.pid === undefined) throw new LabError(`dnsmasq in ${s.ns} did not start`, stage);
            addProcess({ pid: child.pid, name: 'dnsmasq', mark: conf });
          }
          const listens = steps.flatMap((s) => (s.kind === 'listen' ? [s] : []));
          if (agent) {
            const errs = await agent.batch(listens.map((s) => ['listen', s.ns, s.proto, s.port, s.label]));
            errs.forEach((e, i) => {
              if (e !== undefined) warnings.push(`responder ${listens[i]!.label} ${listens[i]!.proto}/${listens[i]!.port}: ${e}`);
            });
          }
          break;
        }
        case 'handshakes': {
          // A tunnel is up when both ends have completed a handshake (the server can send to a
          // member only then). Members that stay silent are nudged with a packet into the tunnel.
          const want = steps.flatMap((s) => (s.kind === 'handshake' ? [s] : []));
          const start = performance.now();
          const deadline = start + (opts.handshakeSeconds ?? 4) * 1000;
          let nudged = start;
          let up = new Set<string>();
          for (;;) {
            up = await handshakes(want);
            const missing = want.filter((w) => w.expectUp && !up.has(w.kernelName));
            if (missing.length === 0 || performance.now() > deadline) break;
            opts.signal?.throwIfAborted();
            if (performance.now() - nudged > 500) {
              // wireguard-go retries a lost initiation only after 5 s: re-adding the server as a
              // peer makes the member initiate again at once.
              nudged = performance.now();
              await Promise.all(
                missing.map(async (w) => {
                  const wgStep = plan.steps.find((x) => x.kind === 'wireguard' && x.kernelName === w.kernelName);
                  if (wgStep?.kind !== 'wireguard') return;
                  for (const p of wgStep.peers) {
                    await run(['wg', 'set', w.kernelName, 'peer', p.publicKey, 'remove']);
                    await run(['wg', 'set', w.kernelName, ...wgPeerArgs(p)]);
                  }
                }),
              );
            }
            await new Promise((r) => setTimeout(r, 30));
          }
          for (const w of want) {
            tunnels.push({ tunnel: w.tunnel, host: w.host, up: up.has(w.kernelName), expectUp: w.expectUp });
            if (up.has(w.kernelName) !== w.expectUp)
              warnings.push(
                `tunnel ${w.tunnel}: ${w.host} ${up.has(w.kernelName) ? 'completed a handshake' : 'made no handshake'}, but cordon's static check says its transport is ${w.expectUp ? 'allowed' : 'blocked'}`,
              );
          }
          break;
        }
      }
      const ms = performance.now() - ts;
      timings.push({ stage, steps: steps.length, ms });
      opts.say({ stage, event: 'done', steps: steps.length, ms, message: undefined });
    }
    // The agent stays behind as the lab's responder daemon.
    if (agent) {
      if (opts.services === false) {
        await agent.serve('/dev/null');
      } else await agent.serve(join(dir, 'agent.log'));
    }
    state = { ...state, status: 'up' };
    writeState(state);
  } catch (e) {
    agent?.release();
    state = { ...state, status: 'failed' };
    writeState(state);
    if (opts.signal?.aborted === true && e === opts.signal.reason) throw e;
    throw e instanceof LabError ? e : new LabError((e as Error).message, 'namespaces');
  }
  return { prefix: plan.prefix, stages: timings, ms: performance.now() - t0, tunnels, warnings };
}

function wgPeerArgs(p: WgPeer): string[] {
  const argv = ['peer', p.publicKey, 'allowed-ips', p.allowedIps.join(',')];
  if (p.endpoint) argv.push('endpoint', p.endpoint);
  if (p.keepalive) argv.push('persistent-keepalive', String(p.keepalive));
  return argv;
}

function readLog(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').slice(-3).join(' | ') || 'empty log';
  } catch {
    return 'no log';
  }
}

/** Members whose handshake both they and their server have completed. */
async function handshakes(want: readonly { kernelName: string; publicKey: string; serverKernelName: string }[]): Promise<Set<string>> {
  const shown = new Map<string, Map<string, number>>();
  await Promise.all(
    [...new Set(want.flatMap((w) => [w.kernelName, w.serverKernelName]))].map(async (n) => {
      const r = await run(['wg', 'show', n, 'latest-handshakes']);
      const peers = new Map<string, number>();
      if (r.code === 0) for (const l of r.stdout.split('\n')) peers.set(l.split('\t')[0] ?? '', Number(l.split('\t')[1] ?? 0));
      shown.set(n, peers);
    }),
  );
  const up = new Set<string>();
  for (const w of want) {
    const member = [...(shown.get(w.kernelName)?.values() ?? [])].some((t) => t > 0);
    const server = (shown.get(w.serverKernelName)?.get(w.publicKey) ?? 0) > 0;
    if (member && server) up.add(w.kernelName);
  }
  return up;
}

function cmdline(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return undefined;
  }
}

function isOurs(p: LabProcess): boolean {
  const c = cmdline(p.pid);
  return c !== undefined && c.includes(p.mark);
}

export interface TeardownReport {
  readonly prefix: string;
  readonly namespaces: number;
  readonly processes: number;
  readonly ms: number;
}

/**
 * Takes a lab down: its recorded processes (by PID, only while they are still the lab's), every
 * namespace carrying its prefix, stale wireguard-go sockets, its registry directory. Safe to
 * repeat, and safe on a half-built lab.
 */
export async function teardownLab(prefix: string, say?: (p: Progress) => void): Promise<TeardownReport> {
  const t0 = performance.now();
  const state = readState(prefix);
  say?.({ stage: 'teardown', event: 'start', steps: 0, ms: 0, message: prefix });
  let killed = 0;
  const procs = (state?.processes ?? []).filter(isOurs);
  for (const p of procs) {
    try {
      process.kill(p.pid, 'SIGTERM');
      killed++;
    } catch {
      /* already gone */
    }
  }
  for (let i = 0; i < 100 && procs.some(isOurs); i++) await new Promise((r) => setTimeout(r, 10));
  for (const p of procs) {
    if (!isOurs(p)) continue;
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (let i = 0; i < 100 && procs.some(isOurs); i++) await new Promise((r) => setTimeout(r, 10));
  const existing = new Set(listNetns());
  const names = [...new Set([...(state?.namespaces ?? []), ...[...existing].filter((n) => isLabNamespace(n, prefix))])].filter(
    (n) => existing.has(n) && isLabNamespace(n, prefix),
  );
  if (names.length) {
    const r = await run(['ip', '-force', '-batch', '-'], { input: `${names.map((n) => `netns del ${n}`).join('\n')}\n` });
    if (r.code !== 0) {
      const left = listNetns().filter((n) => isLabNamespace(n, prefix));
      if (left.length) throw new LabError(`could not delete ${left.join(', ')}: ${firstError(r)}`, 'teardown');
    }
  }
  for (const k of state?.wireguard ?? []) {
    const sock = `/var/run/wireguard/${k}.sock`;
    if (k.startsWith(prefix) && existsSync(sock)) rmSync(sock, { force: true });
  }
  removeLabDir(prefix);
  const ms = performance.now() - t0;
  say?.({ stage: 'teardown', event: 'done', steps: names.length, ms, message: prefix });
  return { prefix, namespaces: names.length, processes: killed, ms };
}

/** Prefixes of every lab on this machine: registered ones and namespaces left without a registry. */
export async function labPrefixes(): Promise<string[]> {
  const fromNs = listNetns().flatMap((n) => {
    const p = prefixOfNamespace(n);
    return p === undefined ? [] : [p];
  });
  return [...new Set([...listPrefixes(), ...fromNs])].sort();
}
