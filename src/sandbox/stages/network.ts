/**
 * Stage 1, network: the plan's namespaces, links, sysctls and nft rule sets, then the tunnel
 * (vpn-only), the resolver (filtered with names) and the published ports. Every process started
 * is recorded in the teardown state before anything waits on it.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ownScriptArgv } from '../reaper.js';
import { firstError, run } from '../../system/exec.js';
import { formatCidr } from '../../util/ip.js';
import { DIE_WITH_CORDON, publishArgv } from '../plan.js';
import { holderSocket, nsenterArgv } from '../rootless.js';
import type { ResolverConfig } from '../resolver-main.js';
import { SBX_TABLE } from '../ruleset.js';
import { writeTeardownState, type Teardown } from '../teardown.js';
import { SandboxError, type SandboxOptions, type SandboxPlan, type Step, type TunnelState } from '../types.js';
import { wgSetconf, type WgClient } from '../wireguard.js';

/** What a stage works with: the plan, the options, the teardown record it adds to, where it speaks. */
export interface StageContext {
  readonly plan: SandboxPlan;
  readonly opts: SandboxOptions;
  readonly td: Teardown;
  /** The run's temp dir (resolv.conf, the resolver's events), when it has one. */
  readonly tmp: string | undefined;
  readonly say: (line: string) => void;
  /** Aborted by an interrupt: a stage stops waiting and throws. */
  readonly signal: AbortSignal;
  /** What runs inside cordon's own process (rootless: the resolver), stopped before teardown. */
  readonly stops: (() => void)[];
}

/** Throws when the run was interrupted (the orchestrator turns that into SandboxInterrupted). */
export function stopIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new SandboxError('interrupted');
}

/**
 * A run of consecutive `ip` steps becomes one `ip [-n NS] -batch -` per namespace: the machine's
 * own namespace first (it makes the namespaces and the veth pair), then the others side by side
 * (nothing in one depends on another's). Consecutive nft loads (the host's NAT table, the
 * sandbox's egress table) also run side by side.
 */
async function links(ctx: StageContext): Promise<void> {
  const { plan, td } = ctx;
  let ipRun: Map<string | undefined, string[]> | undefined;
  let nftRun: Extract<Step, { kind: 'nft' }>[] = [];
  const ipBatch = async (ns: string | undefined, cmds: readonly string[]): Promise<void> => {
    const r = await run(['ip', ...(ns ? ['-n', ns] : []), '-batch', '-'], { input: `${cmds.join('\n')}\n` });
    if (r.code !== 0) {
      const m = /Command failed -:(\d+)/.exec(r.stderr);
      const line = m ? cmds[Number(m[1]) - 1] : undefined;
      throw new SandboxError(`ip${ns ? ` -n ${ns}` : ''}${line ? ` ${line}` : ''}: ${firstError(r)}`);
    }
  };
  const nftLoad = async (st: (typeof nftRun)[number]): Promise<void> => {
    const r = await run([...(st.ns ? ['ip', 'netns', 'exec', st.ns] : []), 'nft', '-f', '-'], { input: st.text });
    if (r.code !== 0) throw new SandboxError(`nft (${st.table}${st.ns ? ` in ${st.ns}` : ''}): ${firstError(r)}`);
  };
  const flush = async (): Promise<void> => {
    if (ipRun) {
      const groups = ipRun;
      ipRun = undefined;
      const root = groups.get(undefined);
      if (root) await ipBatch(undefined, root);
      await Promise.all([...groups].filter(([ns]) => ns !== undefined).map(([ns, cmds]) => ipBatch(ns, cmds)));
    }
    if (nftRun.length > 0) {
      const loads = nftRun;
      nftRun = [];
      await Promise.all(loads.map(nftLoad));
    }
  };
  for (const s of plan.steps) {
    if (s.kind === 'netns-add' || s.kind === 'ip') {
      if (nftRun.length > 0) await flush();
      const ns = s.kind === 'ip' ? s.ns : undefined;
      ipRun ??= new Map();
      ipRun.set(ns, [...(ipRun.get(ns) ?? []), s.kind === 'ip' ? s.cmd : `netns add ${s.ns}`]);
      continue;
    }
    if (s.kind === 'nft') {
      if (ipRun) await flush();
      nftRun.push(s);
      continue;
    }
    await flush();
    stopIfAborted(ctx.signal);
    if (s.kind === 'sysctl') {
      // One process: print the old value, then set the new one if it differs.
      const hn = s.ns ? ['ip', 'netns', 'exec', s.ns] : [];
      const r = await run([...hn, 'sh', '-c', 'was=$(sysctl -n "$1") || exit 1; echo "$was"; [ "$was" = "$2" ] || sysctl -qw "$1=$2"', 'sh', s.key, s.value]);
      if (r.code !== 0) throw new SandboxError(`sysctl ${s.key}: ${firstError(r)}`);
      const was = r.stdout.trim();
      td.forwardWas = was !== s.value ? was : undefined;
      writeTeardownState(td);
    } else if (s.kind === 'wireguard') {
      await startTunnel(tunnelPlace(s.ifname, { ns: s.ns }), s.ifname, s.client, td);
    }
  }
  await flush();
}

/** Stage 1: everything the command's network needs, ready before it starts. */
export async function networkStage(ctx: StageContext): Promise<void> {
  const { plan, opts, td } = ctx;
  stopIfAborted(ctx.signal);
  await links(ctx);
  for (const s of plan.steps) if (s.kind === 'wireguard') await awaitHandshake(ctx, s, tunnelPlace(s.ifname, { ns: s.ns }));
  for (const s of plan.steps) {
    if (s.kind !== 'resolver') continue;
    stopIfAborted(ctx.signal);
    td.resolverPid = await startResolverProcess(s.ns ? ['ip', 'netns', 'exec', s.ns] : [], s.listen, opts, ctx.tmp!, {
      nft: ['ip', 'netns', 'exec', plan.ns!, 'nft'],
      upstream: opts.dnsUpstream ?? '',
    });
    writeTeardownState(td);
  }
  for (const s of plan.steps) {
    if (s.kind !== 'publish') continue;
    stopIfAborted(ctx.signal);
    const argv = [...(s.ns ? ['ip', 'netns', 'exec', s.ns] : []), ...publishArgv(s.port, s.to)];
    const c = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
    if (c.pid === undefined) throw new SandboxError(`cannot start ${argv.join(' ')}`);
    td.publishPids.push(c.pid);
    writeTeardownState(td);
    c.unref();
    // Listening before the command starts.
    for (let i = 0; i < 100 && !ctx.signal.aborted; i++) {
      const r = await run([...(s.ns ? ['ip', 'netns', 'exec', s.ns] : []), 'ss', '-Hltn', `sport = :${s.port}`]);
      if (r.stdout.includes('127.0.0.1')) break;
      if (c.exitCode !== null) throw new SandboxError(`--publish ${s.port}: socat exited (${c.exitCode}); is the port in use in the host namespace?`);
      await new Promise((res) => setTimeout(res, 20));
    }
  }
  stopIfAborted(ctx.signal);
}

export function fmtMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * Where a tunnel's processes run and its control socket shows, the one difference between the
 * two paths. Root: wireguard-go in the sandbox's named namespace, `wg` and the socket in the
 * machine's shared /var/run/wireguard. Rootless: both inside the holder's user, network and mount
 * namespaces (its private /run, rootless.ts holderArgv), the socket seen through /proc; wireguard-go
 * dies with cordon (DIE_WITH_CORDON), as the holder and pasta do.
 */
export interface TunnelPlace {
  readonly wireguardGo: readonly string[];
  readonly wg: readonly string[];
  readonly socket: string;
}

export function tunnelPlace(ifname: string, at: { readonly ns: string } | { readonly holderPid: number }): TunnelPlace {
  if ('ns' in at) return { wireguardGo: ['ip', 'netns', 'exec', at.ns], wg: [], socket: `/var/run/wireguard/${ifname}.sock` };
  const inside = nsenterArgv(at.holderPid, true);
  return { wireguardGo: [...DIE_WITH_CORDON, ...inside], wg: inside, socket: holderSocket(at.holderPid, ifname) };
}

/** Where `wg` talks to the run's tunnel (for its state at exit): rootless, inside the holder. */
export function wgPrefix(td: Pick<Teardown, 'holderPid'>): string[] {
  return td.holderPid !== undefined ? nsenterArgv(td.holderPid, true) : [];
}

/**
 * With PersistentKeepalive, waits (up to --tunnel-wait) for the first handshake; without one, the
 * command starts anyway and says so — its traffic waits in the tunnel, nothing goes around it.
 */
export async function awaitHandshake(ctx: StageContext, s: Extract<Step, { kind: 'wireguard' }>, place: TunnelPlace): Promise<void> {
  if (!s.client.peers.some((p) => p.keepalive !== undefined)) return;
  const wait = ctx.opts.tunnelWaitMs;
  if (await handshakeWithin(place.wg, s.ifname, wait, ctx.signal)) return;
  stopIfAborted(ctx.signal);
  ctx.say(
    `tunnel to ${s.client.peers.map((p) => p.endpoint.text).join(', ')}: no handshake within ${fmtMs(wait)}; starting the command anyway — its traffic waits for the tunnel, nothing goes around it`,
  );
}

/**
 * vpn-only: wireguard-go makes the tunnel interface inside the sandbox's namespace (its TUN
 * device must live there); `wg setconf` gives it the keys on stdin, so no secret is ever written
 * to a file, a command line or a log.
 */
export async function startTunnel(place: TunnelPlace, ifname: string, client: WgClient, td: Teardown): Promise<void> {
  const argv = [...place.wireguardGo, 'wireguard-go', '-f', ifname];
  const child = spawn(argv[0]!, argv.slice(1), {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, WG_PROCESS_FOREGROUND: '1', LOG_LEVEL: 'error' },
  });
  if (child.pid === undefined) throw new SandboxError('cannot start wireguard-go (make setup installs it)');
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  child.unref();
  td.wgPid = child.pid;
  td.wgIf = ifname;
  writeTeardownState(td);
  const sock = place.socket;
  for (let i = 0; i < 500 && !existsSync(sock) && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 5));
  if (!existsSync(sock)) throw new SandboxError(`wireguard-go made no tunnel interface ${ifname}: ${stderr.trim() || `exit ${child.exitCode ?? '?'}`}`);
  (child.stderr as NodeJS.ReadableStream & { unref?: () => void }).unref?.();
  // Node's child stdin is a socket, which wg cannot fopen(); `cat |` turns it into a pipe.
  const r = await run([...place.wg, 'sh', '-c', 'cat | wg setconf "$1" /dev/stdin', 'sh', ifname], { input: wgSetconf(client) });
  if (r.code !== 0) throw new SandboxError(`wg setconf ${ifname} (from ${client.file}): ${firstError(r)}`);
}

/** Polls `wg show IF latest-handshakes` until every peer has one, or `ms` pass (or an interrupt). */
async function handshakeWithin(prefix: readonly string[], ifname: string, ms: number, signal: AbortSignal): Promise<boolean> {
  const until = performance.now() + ms;
  for (;;) {
    const r = await run([...prefix, 'wg', 'show', ifname, 'latest-handshakes']);
    const times = r.stdout
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => Number(l.split('\t')[1] ?? 0));
    if (r.code === 0 && times.length > 0 && times.every((t) => t > 0)) return true;
    if (performance.now() > until || signal.aborted) return false;
    await new Promise((res) => setTimeout(res, 20));
  }
}

/** `wg show IF dump` at exit: per peer, the last handshake and the bytes through the tunnel. */
export async function tunnelState(ifname: string, prefix: readonly string[] = []): Promise<TunnelState> {
  const r = await run([...prefix, 'wg', 'show', ifname, 'dump']);
  const peers = r.stdout
    .split('\n')
    .slice(1)
    .filter((l) => l.trim() !== '')
    .map((l) => {
      // public-key preshared-key endpoint allowed-ips latest-handshake rx tx keepalive
      const f = l.split('\t');
      const hs = Number(f[4] ?? 0);
      return {
        publicKey: f[0] ?? '',
        endpoint: f[2] ?? '',
        latestHandshake: hs > 0 ? new Date(hs * 1000).toISOString() : undefined,
        rxBytes: Number(f[5] ?? 0),
        txBytes: Number(f[6] ?? 0),
      };
    });
  return { interface: ifname, peers };
}

/**
 * Starts the resolver (resolver-main) with `prefix` in front (root: `ip netns exec HOST`, on the
 * veth's host end; rootless: nothing, it runs in the user's own namespace); resolves with its PID
 * once it listens. `how.nft` runs nft in the sandbox's namespace as seen from there; `how.upstream`
 * is IP[:PORT]; `how.port` where it listens (default 53).
 */
export async function startResolverProcess(
  prefix: readonly string[],
  listen: string,
  opts: SandboxOptions,
  tmp: string,
  how: { readonly nft: readonly string[]; readonly upstream: string; readonly port?: number },
): Promise<number> {
  const cfg = resolverConfig(listen, opts, tmp, how);
  const argv = [...ownScriptArgv('resolver-main'), JSON.stringify(cfg)];
  const full = [...prefix, ...argv];
  const child = spawn(full[0]!, full.slice(1), {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new SandboxError('cannot start the resolver');
  await new Promise<void>((res, rej) => {
    const t = setTimeout(() => rej(new SandboxError('the resolver did not start within 10 s')), 10_000);
    child.stdout.once('data', () => {
      clearTimeout(t);
      res();
    });
    child.on('exit', (c) => {
      clearTimeout(t);
      rej(new SandboxError(`the resolver exited (${c})`));
    });
  });
  child.stdout.resume();
  child.unref();
  return pid;
}

/**
 * The resolver's configuration (resolver-main.ts): listening on `listen`:`how.port` (default 53);
 * `how.nft` runs nft in the sandbox's namespace as seen from where the resolver runs;
 * `how.upstream` is IP[:PORT].
 */
export function resolverConfig(
  listen: string,
  opts: SandboxOptions,
  tmp: string,
  how: { readonly nft: readonly string[]; readonly upstream: string; readonly port?: number },
): ResolverConfig {
  const up = how.upstream;
  const m = /^(\d+\.\d+\.\d+\.\d+)(?::(\d+))?$/.exec(up);
  if (!m) throw new SandboxError(`--dns-upstream: '${up}' is not IP[:PORT]`);
  return {
    listen,
    port: how.port ?? 53,
    upstream: m[1]!,
    upstreamPort: m[2] === undefined ? 53 : Number(m[2]),
    rules: opts.allowDomains,
    explicit: opts.allow.map((a) => formatCidr(a.cidr)),
    nft: how.nft,
    table: SBX_TABLE,
    eventsFile: join(tmp, 'dns-events'),
  };
}
