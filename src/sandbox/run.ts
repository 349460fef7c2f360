/**
 * `cordon run`, the side-effecting half: executes a plan (plan.ts) in stages — network, limits,
 * command — reads what the sandbox's egress policy dropped, and takes everything down again.
 *
 * Safety: the only things done in the machine's own namespace are `ip netns add/del cs<id>`,
 * `ip link add cs<id>s netns cs<id> … peer … netns HOST` (the pair is born inside namespaces) and
 * cgroup directories named `cordon-<id>`. The veth's host end, forwarding and NAT live in the
 * namespace given as the host (`hostNetns`); the machine's own namespace is used for that only
 * when the caller says so in so many words (`iMeanTheHost`). Processes are ended by the PIDs
 * this run started (the command's process group, the cgroup's members) — never by name.
 * Teardown is safe to repeat and also runs on SIGINT/SIGTERM/SIGHUP.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { firstError, run } from '../apply/exec.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { formatCidr, formatIPv4, parseCidr, type Cidr } from '../util/ip.js';
import type { DomainRule } from './dns.js';
import type { ResolverConfig } from './resolver-main.js';
import type { VaultMount, VaultOptions } from '../vault/index.js';
import { DENIED_TIMEOUT_S, formatBytes, INLINE_SETUP_FAILED, needsResolvConf, needsResolver, nsName, pickSubnet, publishArgv, planSandbox, resolvConfText, SBX_TABLE, type NetRule, type SandboxMode, type SandboxOptions, type SandboxPlan } from './plan.js';
import { wgSetconf, type WgClient } from './wireguard.js';

/** What the library caller passes; everything optional has a documented default. */
export interface SandboxInput {
  /** The command and its arguments. */
  readonly command: readonly string[];
  /** Default `isolated` (loopback only). */
  readonly mode?: SandboxMode;
  readonly allow?: readonly NetRule[];
  /** vpn-only mode: the tunnel, from a wg-quick client config (parseWgQuick). */
  readonly wireguard?: WgClient;
  /**
   * vpn-only mode with PersistentKeepalive (the tunnel then greets the server as it comes up):
   * wait up to this long for the first handshake before starting the command, so its first
   * connection does not stall. Default 5000. Not up by then: the command starts anyway and its
   * traffic waits for the tunnel (fail-closed).
   */
  readonly tunnelWaitMs?: number;
  /** Names the sandbox's resolver answers (filtered mode); see dns.ts. */
  readonly allowDomains?: readonly DomainRule[];
  /** Filtered mode: TCP ports of the sandbox published on the host namespace's 127.0.0.1 (socat). */
  readonly publish?: readonly number[];
  /** A vault session decrypted into a RAM-only mount (vault.vaultMount) and bound read-only at /tmp/vault ($CORDON_VAULT). */
  readonly vault?: { readonly session: string; readonly options?: VaultOptions };
  readonly deny?: readonly NetRule[];
  /** Upstream DNS `IP[:PORT]` for allowed names; default: the first nameserver of /etc/resolv.conf. */
  readonly dnsUpstream?: string;
  readonly memoryBytes?: number;
  readonly cpus?: number;
  readonly pids?: number;
  readonly timeoutMs?: number;
  readonly ro?: readonly string[];
  readonly rw?: readonly string[];
  /** Default: the current directory. */
  readonly workdir?: string;
  /** Default: ~/.ssh, ~/.aws, ~/.gnupg, ~/.kube, ~/.docker, ~/.config/gcloud, ~/.azure, ~/.netrc … */
  readonly hide?: readonly string[];
  /** Namespace that plays the host (veth + NAT). Required for filtered mode unless iMeanTheHost. */
  readonly hostNetns?: string;
  /** Put the veth's host end and NAT in the machine's own network namespace. */
  readonly iMeanTheHost?: boolean;
  /** Default `inherit`: the command talks to this process's terminal. */
  readonly stdio?: 'inherit' | 'ignore';
  /**
   * Default true: on SIGINT/SIGTERM/SIGHUP, kill the command, remove everything and exit 130.
   * With false the caller handles signals; a sandbox left by a dead owner is removed by the next
   * sandbox() or by cleanupStale().
   */
  readonly handleSignals?: boolean;
  /** Called with one line per stage (stderr in the CLI). */
  readonly say?: (line: string) => void;
}

export interface DeniedAttempt {
  readonly time: string;
  readonly destination: string;
  readonly proto: string;
  readonly port: number | undefined;
  readonly packets: number;
  readonly bytes: number;
  readonly rule: string;
}

export interface Counters {
  readonly packetsOut: number;
  readonly bytesOut: number;
  readonly packetsIn: number;
  readonly bytesIn: number;
  readonly deniedPackets: number;
  readonly deniedBytes: number;
}

export interface TunnelState {
  readonly interface: string;
  readonly peers: readonly {
    readonly publicKey: string;
    readonly endpoint: string;
    /** ISO time of the last handshake; undefined = the tunnel never came up (nothing went through it). */
    readonly latestHandshake: string | undefined;
    readonly rxBytes: number;
    readonly txBytes: number;
  }[];
}

export type ExitReason = 'exited' | 'signal' | 'timeout' | 'memory' | 'pids';

export interface SandboxResult {
  readonly exitCode: number;
  readonly reason: ExitReason;
  /** Human-readable: `killed: memory limit 512m`, `timeout after 30s`, `exit 0`. */
  readonly message: string;
  readonly denied: readonly DeniedAttempt[];
  readonly counters: Counters;
  /** vpn-only: the tunnel as wg saw it at exit. */
  readonly tunnel?: TunnelState;
  readonly id: string;
  readonly ms: number;
}

export class SandboxError extends Error {}

const SECRETS = ['.ssh', '.aws', '.gnupg', '.kube', '.docker', '.azure', '.config/gcloud', '.config/gh', '.netrc', '.npmrc', '.pypirc', '.git-credentials', '.vault-token'];

export function defaultHidden(home = homedir()): string[] {
  return SECRETS.map((s) => join(home, s)).filter((p) => existsSync(p));
}

export type CgroupVersion = 'v1' | 'v2' | 'none';

export function detectCgroup(): CgroupVersion {
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) return 'v2';
  if (existsSync('/sys/fs/cgroup/memory/memory.limit_in_bytes') || existsSync('/sys/fs/cgroup/pids/pids.max') || existsSync('/sys/fs/cgroup/pids/cgroup.procs')) return 'v1';
  return 'none';
}

function systemNameserver(): string | undefined {
  try {
    return /^nameserver\s+(\d+\.\d+\.\d+\.\d+)/m.exec(readFileSync('/etc/resolv.conf', 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

/** Resolves defaults (one place) and checks what is refused for safety. */
export function resolveOptions(input: SandboxInput): SandboxOptions {
  if (input.command.length === 0) throw new SandboxError('no command given (cordon run [options] -- CMD ARGS…)');
  const mode = input.mode ?? 'isolated';
  const egress = mode === 'filtered' || mode === 'vpn-only';
  if (mode === 'vpn-only' && input.wireguard === undefined) throw new SandboxError('vpn-only mode needs the tunnel: --wireguard FILE (a wg-quick client config: [Interface] PrivateKey, Address; [Peer] PublicKey, Endpoint, AllowedIPs)');
  if (egress && input.hostNetns === undefined && input.iMeanTheHost !== true) {
    throw new SandboxError(
      `${mode} mode connects the sandbox to a host namespace with a veth pair and NAT; name one with --host-netns NS, or pass --i-mean-the-host to put the veth's host end and a masquerade table (ip cordon_<id>) in this machine's own network namespace`,
    );
  }
  if (mode !== 'vpn-only' && input.wireguard !== undefined) throw new SandboxError(`--wireguard is for --mode vpn-only (mode '${mode}' has no tunnel)`);
  if (mode === 'vpn-only' && (input.allowDomains ?? []).length > 0) throw new SandboxError('vpn-only mode takes addresses in --allow (they limit what goes through the tunnel), not names: names are resolved by the DNS servers of the tunnel config');
  if (mode !== 'filtered' && mode !== 'vpn-only' && ((input.allow ?? []).length > 0 || (input.allowDomains ?? []).length > 0)) {
    throw new SandboxError(`an allowlist needs --mode filtered or vpn-only (mode '${mode}' ignores it)`);
  }
  if (mode === 'filtered' && (input.allowDomains ?? []).length > 0 && input.dnsUpstream === undefined && systemNameserver() === undefined) {
    throw new SandboxError('allowed names need an upstream DNS server: none in /etc/resolv.conf; give one with --dns-upstream IP[:PORT]');
  }
  if ((input.publish ?? []).length > 0 && mode !== 'filtered') throw new SandboxError(`--publish needs a veth to the host namespace: use --mode filtered (mode '${mode}' has none)`);
  const workdir = resolve(input.workdir ?? process.cwd());
  const hide = (input.hide ?? defaultHidden())
    .map((p) => resolve(p))
    .filter((p) => existsSync(p) && !workdir.startsWith(`${p}/`) && workdir !== p)
    .map((p) => ({ path: p, dir: statSync(p).isDirectory() }));
  return {
    mode,
    allow: input.allow ?? [],
    allowDomains: input.allowDomains ?? [],
    deny: input.deny ?? [],
    dnsUpstream: input.dnsUpstream ?? (mode === 'filtered' && (input.allowDomains ?? []).length > 0 ? systemNameserver() : undefined),
    memoryBytes: input.memoryBytes,
    cpus: input.cpus,
    pids: input.pids,
    timeoutMs: input.timeoutMs,
    ro: (input.ro ?? []).map((p) => resolve(p)),
    rw: (input.rw ?? []).map((p) => resolve(p)),
    workdir,
    hide,
    hostNetns: egress ? input.hostNetns : undefined,
    publish: input.publish ?? [],
    wireguard: input.wireguard,
    vaultDir: undefined,
    command: input.command,
  };
}

async function usedSubnets(hostNetns: string | undefined): Promise<Cidr[]> {
  const out: Cidr[] = [];
  const n = hostNetns ? ['-n', hostNetns] : [];
  const [a, r] = await Promise.all([run(['ip', ...n, '-j', '-4', 'addr']), run(['ip', ...n, '-j', '-4', 'route'])]);
  try {
    for (const l of JSON.parse(a.stdout || '[]') as { addr_info?: { local?: string; prefixlen?: number }[] }[]) {
      for (const i of l.addr_info ?? []) {
        const c = parseCidr(`${i.local}/${i.prefixlen}`, false);
        if (c) out.push(c);
      }
    }
  } catch {
    // no JSON: nothing known to be in use
  }
  try {
    for (const l of JSON.parse(r.stdout || '[]') as { dst?: string }[]) {
      if (!l.dst || l.dst === 'default') continue;
      const c = parseCidr(l.dst.includes('/') ? l.dst : `${l.dst}/32`, false);
      if (c) out.push(c);
    }
  } catch {
    // as above
  }
  return out;
}

function freshId(): string {
  const taken = new Set(netnsNames());
  for (;;) {
    const id = randomBytes(3).toString('hex');
    if (!taken.has(nsName(id)) && !existsSync(`/sys/fs/cgroup/pids/cordon-${id}`) && !existsSync(`/sys/fs/cgroup/cordon-${id}`)) return id;
  }
}

function cgroupDirs(plan: SandboxPlan, version: CgroupVersion): string[] {
  const dirs = new Set<string>();
  for (const s of plan.steps) if (s.kind === 'cgroup') dirs.add(join('/sys/fs/cgroup', s.path));
  if (version === 'v1' && dirs.size === 0) return [];
  return [...dirs];
}

/** Ends the members of our own cgroups (PIDs read from cgroup.procs), then removes them. */
function removeCgroups(dirs: readonly string[]): void {
  const pause = (ms: number): void => {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  };
  for (const d of dirs) {
    // Kill whatever is inside, then remove; again while a member is still exiting or a late one
    // (a command placed just now) has arrived.
    // A v1 memory cgroup can stay busy for seconds while a killed member is still exiting.
    for (let i = 0; i < 500 && existsSync(d); i++) {
      let pids: number[] = [];
      try {
        pids = readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
      } catch {
        // gone meanwhile
      }
      for (const p of pids) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      try {
        rmdirSync(d);
        break;
      } catch {
        pause(20);
      }
    }
  }
}

/** What teardown needs, also written to the state file so a later run can finish a dead one's. */
interface Teardown {
  readonly id: string;
  readonly ownerPid: number;
  /** /proc/PID/stat start time of the owner (guards against PID reuse). */
  readonly ownerStart: string;
  readonly ns: string | undefined;
  readonly hostNetns: string | undefined;
  readonly hostTable: string | undefined;
  readonly cgroups: readonly string[];
  forwardWas: string | undefined;
  /** The resolver's PID (ours), and the temp dir with resolv.conf and its events. */
  resolverPid: number | undefined;
  /** socat forwarders of published ports (ours). */
  publishPids: number[];
  /** vpn-only: wireguard-go (ours) and its interface, whose control socket is removed too. */
  wgPid: number | undefined;
  wgIf: string | undefined;
  /** The vault mount's directory (unmounted and removed at teardown). */
  vaultDir: string | undefined;
  tmp: string | undefined;
}

/** Where running sandboxes record what they created: `$CORDON_SANDBOX_STATE_DIR` or /run/cordon/sandbox. */
export function stateDir(): string {
  return process.env.CORDON_SANDBOX_STATE_DIR ?? '/run/cordon/sandbox';
}

function procStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function writeTeardownState(t: Teardown): void {
  mkdirSync(stateDir(), { recursive: true });
  writeFileSync(join(stateDir(), `${t.id}.json`), `${JSON.stringify(t)}\n`);
}

/**
 * Removes what sandboxes whose owner died (kill -9, a crash) left behind: their namespaces, host
 * NAT tables, cgroups, resolvers and temp dirs, as recorded in their state files. Sandboxes whose
 * owner still runs are left alone. Returns the ids removed. Runs at the start of every sandbox().
 */
export async function cleanupStale(): Promise<string[]> {
  const removed: string[] = [];
  let files: string[] = [];
  try {
    files = readdirSync(stateDir()).filter((f) => /^[0-9a-f]{6}\.json$/.test(f));
  } catch {
    return removed;
  }
  for (const f of files) {
    let t: Teardown;
    try {
      t = JSON.parse(readFileSync(join(stateDir(), f), 'utf8')) as Teardown;
    } catch {
      continue;
    }
    if (procStart(t.ownerPid) === t.ownerStart) continue;
    // The resolver's PID is ours only while its command line still says so.
    if (t.resolverPid !== undefined) {
      try {
        if (!readFileSync(`/proc/${t.resolverPid}/cmdline`, 'utf8').includes('resolver-main')) t.resolverPid = undefined;
      } catch {
        t.resolverPid = undefined;
      }
    }
    if (t.wgPid !== undefined) {
      try {
        if (!readFileSync(`/proc/${t.wgPid}/cmdline`, 'utf8').includes('wireguard-go')) t.wgPid = undefined;
      } catch {
        t.wgPid = undefined;
      }
    }
    t.publishPids = (t.publishPids ?? []).filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('socat');
      } catch {
        return false;
      }
    });
    await teardown(t);
    removed.push(t.id);
  }
  return removed;
}

async function teardown(t: Teardown): Promise<void> {
  removeCgroups(t.cgroups);
  for (const p of t.publishPids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone
    }
  }
  t.publishPids = [];
  if (t.wgPid !== undefined) {
    try {
      process.kill(t.wgPid, 'SIGKILL');
    } catch {
      // gone
    }
    t.wgPid = undefined;
  }
  if (t.wgIf !== undefined) {
    rmSync(`/var/run/wireguard/${t.wgIf}.sock`, { force: true });
    t.wgIf = undefined;
  }
  if (t.vaultDir !== undefined) {
    const dir = t.vaultDir;
    if (readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === dir)) await run(['umount', dir]);
    if (/\/cordon-vault-[^/]+$/.test(dir)) rmSync(dir, { recursive: true, force: true });
    t.vaultDir = undefined;
  }
  if (t.resolverPid !== undefined) {
    try {
      process.kill(t.resolverPid, 'SIGKILL');
    } catch {
      // gone
    }
    t.resolverPid = undefined;
  }
  if (t.tmp !== undefined) {
    rmSync(t.tmp, { recursive: true, force: true });
    t.tmp = undefined;
  }
  const host = async (): Promise<void> => {
    if (!t.hostTable) return;
    const hn = t.hostNetns ? ['ip', 'netns', 'exec', t.hostNetns] : [];
    // One process: drop our NAT table (harmless when already gone: teardown is safe to repeat),
    // then put forwarding back if we turned it on, unless another sandbox still relies on it.
    const restore = t.forwardWas === '0' ? 'nft list tables | grep -Eq "table ip cordon_[0-9a-f]{6}$" || sysctl -qw net.ipv4.ip_forward=0' : 'true';
    await run([...hn, 'sh', '-c', `nft delete table ip "$1" 2>/dev/null; ${restore}`, 'sh', t.hostTable]);
    t.forwardWas = undefined;
  };
  const own = async (): Promise<void> => {
    if (t.ns && netnsNames().includes(t.ns)) await run(['ip', 'netns', 'del', t.ns]);
  };
  await Promise.all([host(), own()]);
  rmSync(join(stateDir(), `${t.id}.json`), { force: true });
}

/**
 * Reads the sandbox's egress table once: the denied destinations with their first-attempt time
 * (from the set's timeout: `expires` counts down from DENIED_TIMEOUT_S since the first packet;
 * nft reports whole seconds, so a time is at most a second early — never before `since`) and the
 * named counters.
 */
async function readDenied(ns: string, since: number): Promise<{ denied: DeniedAttempt[]; counters: Counters }> {
  // One read of the whole table: the set of denied attempts and the named counters.
  const s = await run(['ip', 'netns', 'exec', ns, 'nft', '-j', 'list', 'table', 'inet', SBX_TABLE]);
  return parseDenied(s.stdout, since);
}

/** `nft -j list table inet cordon_sbx` → denied attempts and counters (nothing on bad or empty JSON). */
function parseDenied(json: string, since: number): { denied: DeniedAttempt[]; counters: Counters } {
  const now = Date.now();
  const denied: DeniedAttempt[] = [];
  type Elem = { elem?: { val?: { concat?: unknown[] }; expires?: number; counter?: { packets: number; bytes: number } } };
  type Obj = { set?: { name: string; elem?: Elem[] }; counter?: { name: string; packets: number; bytes: number } };
  const counts: Record<string, { packets: number; bytes: number }> = {};
  try {
    const j = JSON.parse(json) as { nftables: Obj[] };
    for (const o of j.nftables) {
      if (o.counter) counts[o.counter.name] = o.counter;
      if (o.set?.name !== 'denied') continue;
      for (const e of o.set.elem ?? []) {
        const v = e.elem?.val?.concat ?? [];
        const proto = String(v[1] ?? '?');
        const port = typeof v[2] === 'number' && v[2] !== 0 ? v[2] : undefined;
        const age = e.elem?.expires !== undefined ? (DENIED_TIMEOUT_S - e.elem.expires) * 1000 : now - since;
        denied.push({
          time: new Date(Math.max(since, now - age)).toISOString(),
          destination: String(v[0] ?? '?'),
          proto: proto === '1' ? 'icmp' : proto === '6' ? 'tcp' : proto === '17' ? 'udp' : proto,
          port,
          packets: e.elem?.counter?.packets ?? 0,
          bytes: e.elem?.counter?.bytes ?? 0,
          rule: 'egress-policy',
        });
      }
    }
  } catch {
    // no table: nothing recorded
  }
  denied.sort((a, b) => a.time.localeCompare(b.time) || a.destination.localeCompare(b.destination) || a.proto.localeCompare(b.proto) || (a.port ?? 0) - (b.port ?? 0));
  return {
    denied,
    counters: {
      packetsOut: counts.tx?.packets ?? 0,
      bytesOut: counts.tx?.bytes ?? 0,
      packetsIn: counts.rx?.packets ?? 0,
      bytesIn: counts.rx?.bytes ?? 0,
      deniedPackets: counts.denied?.packets ?? 0,
      deniedBytes: counts.denied?.bytes ?? 0,
    },
  };
}

function oomKilled(dirs: readonly string[], version: CgroupVersion): boolean {
  for (const d of dirs) {
    try {
      if (version === 'v2' && existsSync(join(d, 'memory.events'))) {
        const m = /^oom_kill (\d+)/m.exec(readFileSync(join(d, 'memory.events'), 'utf8'));
        if (m && Number(m[1]) > 0) return true;
      }
      if (version === 'v1' && existsSync(join(d, 'memory.oom_control'))) {
        const m = /^oom_kill (\d+)/m.exec(readFileSync(join(d, 'memory.oom_control'), 'utf8'));
        if (m && Number(m[1]) > 0) return true;
        if (!m && Number(readFileSync(join(d, 'memory.failcnt'), 'utf8')) > 0) return true;
      }
    } catch {
      // cgroup gone: unknown
    }
  }
  return false;
}

function pidsHit(dirs: readonly string[]): boolean {
  for (const d of dirs) {
    try {
      if (existsSync(join(d, 'pids.events'))) {
        const m = /^max (\d+)/m.exec(readFileSync(join(d, 'pids.events'), 'utf8'));
        if (m && Number(m[1]) > 0) return true;
      }
    } catch {
      // as above
    }
  }
  return false;
}

/** Whether an executable of that name is on $PATH (looked up in the file system: no process started). */
function onPath(bin: string): boolean {
  return (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').some((d) => {
    try {
      accessSync(join(d || '.', bin), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function check(mode: SandboxMode): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new SandboxError('cordon run creates a network namespace and needs root');
  const need: [string, string][] = [['bwrap', 'bubblewrap'], ['nft', 'nftables'], ['ip', 'iproute2'], ['unshare', 'util-linux']];
  if (mode === 'vpn-only') need.push(['wireguard-go', 'wireguard-go'], ['wg', 'wireguard-tools']);
  for (const [bin, pkg] of need) if (!onPath(bin)) throw new SandboxError(`'${bin}' is not installed: ${pkg} (make setup installs it)`);
}

/** Named network namespaces (what `ip netns list` reads), without starting a process. */
function netnsNames(): string[] {
  try {
    return readdirSync('/run/netns');
  } catch {
    return [];
  }
}

function fmtMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * vpn-only: wireguard-go makes the tunnel interface inside the sandbox's namespace (its TUN
 * device must live there); `wg setconf` gives it the keys on stdin, so no secret is ever written
 * to a file, a command line or a log.
 */
async function startTunnel(ns: string, ifname: string, client: WgClient, td: Teardown): Promise<void> {
  const child = spawn('ip', ['netns', 'exec', ns, 'wireguard-go', '-f', ifname], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, WG_PROCESS_FOREGROUND: '1', LOG_LEVEL: 'error' },
  });
  if (child.pid === undefined) throw new SandboxError('cannot start wireguard-go (make setup installs it)');
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  child.unref();
  td.wgPid = child.pid;
  td.wgIf = ifname;
  writeTeardownState(td);
  const sock = `/var/run/wireguard/${ifname}.sock`;
  for (let i = 0; i < 500 && !existsSync(sock) && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 5));
  if (!existsSync(sock)) throw new SandboxError(`wireguard-go made no tunnel interface ${ifname}: ${stderr.trim() || `exit ${child.exitCode ?? '?'}`}`);
  (child.stderr as NodeJS.ReadableStream & { unref?: () => void }).unref?.();
  // Node's child stdin is a socket, which wg cannot fopen(); `cat |` turns it into a pipe.
  const r = await run(['sh', '-c', 'cat | wg setconf "$1" /dev/stdin', 'sh', ifname], { input: wgSetconf(client) });
  if (r.code !== 0) throw new SandboxError(`wg setconf ${ifname} (from ${client.file}): ${firstError(r)}`);
}

/** Polls `wg show IF latest-handshakes` until every peer has one, or `ms` pass. */
async function handshakeWithin(ifname: string, ms: number): Promise<boolean> {
  const until = performance.now() + ms;
  for (;;) {
    const r = await run(['wg', 'show', ifname, 'latest-handshakes']);
    const times = r.stdout.split('\n').filter((l) => l.trim() !== '').map((l) => Number(l.split('\t')[1] ?? 0));
    if (r.code === 0 && times.length > 0 && times.every((t) => t > 0)) return true;
    if (performance.now() > until) return false;
    await new Promise((res) => setTimeout(res, 20));
  }
}

/** `wg show IF dump` at exit: per peer, the last handshake and the bytes through the tunnel. */
async function tunnelState(ifname: string): Promise<TunnelState> {
  const r = await run(['wg', 'show', ifname, 'dump']);
  const peers = r.stdout
    .split('\n')
    .slice(1)
    .filter((l) => l.trim() !== '')
    .map((l) => {
      // public-key preshared-key endpoint allowed-ips latest-handshake rx tx keepalive
      const f = l.split('\t');
      const hs = Number(f[4] ?? 0);
      return { publicKey: f[0] ?? '', endpoint: f[2] ?? '', latestHandshake: hs > 0 ? new Date(hs * 1000).toISOString() : undefined, rxBytes: Number(f[5] ?? 0), txBytes: Number(f[6] ?? 0) };
    });
  return { interface: ifname, peers };
}

/**
 * Ends the command on timeout. Inline mode kills only the children of the setup script (bwrap and
 * what it runs) so the script lives on to report the counters; otherwise the whole process group.
 */
function killCommand(pid: number, inline: boolean): void {
  let targets = [-pid];
  if (inline) {
    try {
      const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      if (kids.length > 0) targets = kids;
    } catch {
      // gone, or no /proc: the group
    }
  }
  for (const t of targets) {
    try {
      process.kill(t, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** Starts the resolver (resolver-main) in the host namespace on the veth's host end; resolves with its PID once it listens. */
async function startResolverProcess(hostNs: string | undefined, listen: string, opts: SandboxOptions, plan: SandboxPlan, tmp: string): Promise<number> {
  const up = opts.dnsUpstream ?? '';
  const m = /^(\d+\.\d+\.\d+\.\d+)(?::(\d+))?$/.exec(up);
  if (!m) throw new SandboxError(`--dns-upstream: '${up}' is not IP[:PORT]`);
  const cfg: ResolverConfig = {
    listen,
    port: 53,
    upstream: m[1]!,
    upstreamPort: m[2] === undefined ? 53 : Number(m[2]),
    rules: opts.allowDomains,
    explicit: opts.allow.map((a) => formatCidr(a.cidr)),
    ns: plan.ns!,
    table: SBX_TABLE,
    eventsFile: join(tmp, 'dns-events'),
  };
  const ts = import.meta.url.endsWith('.ts');
  const main = fileURLToPath(new URL(`./resolver-main.${ts ? 'ts' : 'js'}`, import.meta.url));
  const loader = ts ? ['--import', new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href] : [];
  const argv = [process.execPath, ...loader, main, JSON.stringify(cfg)];
  const full = hostNs ? ['ip', 'netns', 'exec', hostNs, ...argv] : argv;
  const child = spawn(full[0]!, full.slice(1), {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new SandboxError('cannot start the resolver');
  await new Promise<void>((res, rej) => {
    const t = setTimeout(() => rej(new SandboxError('the resolver did not start within 10 s')), 10_000);
    child.stdout!.once('data', () => {
      clearTimeout(t);
      res();
    });
    child.on('exit', (c) => {
      clearTimeout(t);
      rej(new SandboxError(`the resolver exited (${c})`));
    });
  });
  child.stdout!.resume();
  child.unref();
  return pid;
}

/** Plans without touching anything (for `--dry-run`): id and subnet are placeholders. */
export function dryRunPlan(input: SandboxInput): SandboxPlan {
  const opts = resolveOptions(input);
  const o = input.vault ? { ...opts, vaultDir: '/tmp/cordon-vault-XXXX' } : opts;
  return planSandbox(o, '000000', opts.mode === 'filtered' || opts.mode === 'vpn-only' ? pickSubnet([]) : undefined, detectCgroup(), '/tmp/cordon-000000-XXXX/resolv.conf');
}

/**
 * Runs a command in a sandbox and resolves with its exit code (124 on timeout, 137 when killed
 * for memory), the reason, the denied attempts and the traffic counters. Everything created is
 * removed before it resolves, also when it throws.
 */
export async function sandbox(input: SandboxInput): Promise<SandboxResult> {
  const t0 = performance.now();
  const startedAt = Date.now();
  const opts = resolveOptions(input);
  check(opts.mode);
  if (opts.hostNetns !== undefined && !netnsNames().includes(opts.hostNetns)) {
    throw new SandboxError(`host namespace '${opts.hostNetns}' does not exist (ip netns list)`);
  }
  const say = input.say ?? (() => undefined);
  await cleanupStale();
  const version = detectCgroup();
  const id = freshId();
  const egress = opts.mode === 'filtered' || opts.mode === 'vpn-only';
  const subnet = egress ? pickSubnet(await usedSubnets(opts.hostNetns), parseInt(id, 16) % 16384) : undefined;
  if (egress && !subnet) throw new SandboxError('no free /30 left in 10.213.0.0/16 in the host namespace');
  const tmp = needsResolvConf(opts) ? mkdtempSync(join(tmpdir(), `cordon-${id}-`)) : undefined;
  const resolvConf = tmp ? join(tmp, 'resolv.conf') : undefined;
  if (resolvConf !== undefined) writeFileSync(resolvConf, resolvConfText(opts, needsResolver(opts) && subnet ? formatIPv4(subnet.addr + 1) : undefined));
  let vm: VaultMount | undefined;
  if (input.vault) {
    try {
      // Loaded only for --vault: the crypto and retrieval code is a third of the run path's start-up.
      const { vaultMount } = await import('../vault/mount.js');
      vm = await vaultMount(input.vault.session, input.vault.options ?? {});
    } catch (e) {
      if (tmp) rmSync(tmp, { recursive: true, force: true });
      throw new SandboxError(`vault session '${input.vault.session}': ${(e as Error).message}`);
    }
    for (const w of vm.warnings) say(`vault: ${w}`);
  }
  const plan = planSandbox(vm ? { ...opts, vaultDir: vm.dir } : opts, id, subnet, version, resolvConf);
  const cgroups = cgroupDirs(plan, version);
  const td: Teardown = {
    id,
    ownerPid: process.pid,
    ownerStart: procStart(process.pid) ?? '',
    ns: plan.ns,
    hostNetns: plan.hostNetns,
    hostTable: plan.hostTable,
    cgroups,
    forwardWas: undefined,
    resolverPid: undefined,
    publishPids: [],
    wgPid: undefined,
    wgIf: undefined,
    vaultDir: vm?.dir,
    tmp,
  };
  writeTeardownState(td);
  let child: ReturnType<typeof spawn> | undefined;
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    if (child?.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    process.stderr.write(`\ncordon run: ${sig}: removing sandbox ${id}…\n`);
    const done = (): void => process.exit(130);
    teardown(td).then(done, done);
  };
  const sigs: NodeJS.Signals[] = input.handleSignals === false ? [] : ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of sigs) process.on(s, onSignal);
  try {
    // Stage 1: network.
    // A run of consecutive `ip` steps becomes one `ip [-n NS] -batch -` per namespace: the
    // machine's own namespace first (it makes the namespaces and the veth pair), then the others
    // side by side (nothing in one depends on another's). Consecutive nft loads (the host's NAT
    // table, the sandbox's egress table) also run side by side.
    let ipRun: Map<string | undefined, string[]> | undefined;
    let nftRun: Extract<(typeof plan.steps)[number], { kind: 'nft' }>[] = [];
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
      if (s.kind === 'sysctl') {
        // One process: print the old value, then set the new one if it differs.
        const hn = s.ns ? ['ip', 'netns', 'exec', s.ns] : [];
        const r = await run([...hn, 'sh', '-c', 'was=$(sysctl -n "$1") || exit 1; echo "$was"; [ "$was" = "$2" ] || sysctl -qw "$1=$2"', 'sh', s.key, s.value]);
        if (r.code !== 0) throw new SandboxError(`sysctl ${s.key}: ${firstError(r)}`);
        const was = r.stdout.trim();
        td.forwardWas = was !== s.value ? was : undefined;
        writeTeardownState(td);
      } else if (s.kind === 'wireguard') {
        await startTunnel(s.ns, s.ifname, s.client, td);
      }
    }
    await flush();
    for (const s of plan.steps) {
      if (s.kind !== 'wireguard' || !s.client.peers.some((p) => p.keepalive !== undefined)) continue;
      const wait = input.tunnelWaitMs ?? 5000;
      if (!(await handshakeWithin(s.ifname, wait))) say(`tunnel to ${s.client.peers.map((p) => p.endpoint.text).join(', ')}: no handshake within ${fmtMs(wait)}; starting the command anyway — its traffic waits for the tunnel, nothing goes around it`);
    }
    for (const s of plan.steps) {
      if (s.kind !== 'resolver') continue;
      td.resolverPid = await startResolverProcess(s.ns, s.listen, opts, plan, tmp!);
      writeTeardownState(td);
    }
    for (const s of plan.steps) {
      if (s.kind !== 'publish') continue;
      const argv = [...(s.ns ? ['ip', 'netns', 'exec', s.ns] : []), ...publishArgv(s.port, s.to)];
      const c = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
      if (c.pid === undefined) throw new SandboxError(`cannot start ${argv.join(' ')}`);
      td.publishPids.push(c.pid);
      writeTeardownState(td);
      c.unref();
      // Listening before the command starts.
      for (let i = 0; i < 100; i++) {
        const r = await run([...(s.ns ? ['ip', 'netns', 'exec', s.ns] : []), 'ss', '-Hltn', `sport = :${s.port}`]);
        if (r.stdout.includes('127.0.0.1')) break;
        if (c.exitCode !== null) throw new SandboxError(`--publish ${s.port}: socat exited (${c.exitCode}); is the port in use in the host namespace?`);
        await new Promise((res) => setTimeout(res, 20));
      }
    }
    say(`sandbox ${id}: ${opts.mode}${plan.ns ? ` in netns ${plan.ns}` : ''}`);
    // Stage 2: limits.
    for (const s of plan.steps) {
      if (s.kind !== 'cgroup') continue;
      const dir = join('/sys/fs/cgroup', s.path);
      mkdirSync(dir, { recursive: true });
      if (version === 'v2' && s.file === 'memory.swap.max' && !existsSync(join(dir, s.file))) continue;
      writeFileSync(join(dir, s.file), s.value);
    }
    // Stage 3: the command, placed in the cgroups by a shell before it execs.
    const procs = cgroups.map((d) => join(d, 'cgroup.procs'));
    const argv = procs.length > 0 ? ['sh', '-c', 'for f in $CORDON_CGROUP_PROCS; do echo $$ > "$f" || exit 125; done; unset CORDON_CGROUP_PROCS; exec "$@"', 'sh', ...plan.argv] : [...plan.argv];
    let timedOut = false;
    // Inline (isolated) mode: fd 3 brings the egress table's JSON after the command, fd 4 setup errors.
    let table = '';
    let setupErr = '';
    const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res, rej) => {
      const io = input.stdio ?? 'inherit';
      child = spawn(argv[0]!, argv.slice(1), {
        stdio: plan.inline ? [io, io, io, 'pipe', 'pipe'] : io,
        detached: true,
        env: { ...process.env, CORDON_CGROUP_PROCS: procs.join(' ') },
      });
      let pending = plan.inline ? 3 : 1;
      let result: { code: number | null; signal: NodeJS.Signals | null } = { code: null, signal: null };
      const done = (): void => {
        if (--pending === 0) res(result);
      };
      if (plan.inline) {
        const fd3 = child.stdio[3] as NodeJS.ReadableStream;
        const fd4 = child.stdio[4] as NodeJS.ReadableStream;
        fd3.on('data', (d: Buffer) => (table += d.toString()));
        fd4.on('data', (d: Buffer) => (setupErr += d.toString()));
        fd3.on('end', done);
        fd4.on('end', done);
      }
      let timer: NodeJS.Timeout | undefined;
      if (opts.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          timedOut = true;
          if (child?.pid) killCommand(child.pid, plan.inline);
        }, opts.timeoutMs);
      }
      child.on('error', (e) => {
        if (timer) clearTimeout(timer);
        rej(new SandboxError(`cannot start ${argv[0]}: ${e.message}`));
      });
      child.on('exit', (c, s) => {
        if (timer) clearTimeout(timer);
        result = { code: c, signal: s };
        done();
      });
    });
    if (plan.inline && code === INLINE_SETUP_FAILED && table === '' && setupErr !== '') {
      throw new SandboxError(`setting up the sandbox's network: ${setupErr.trim().split('\n').slice(0, 6).join('\n')}`);
    }
    const raw = code ?? 128 + (signal === 'SIGKILL' ? 9 : signal === 'SIGTERM' ? 15 : 1);
    let exitCode = raw;
    let reason: ExitReason = signal ? 'signal' : 'exited';
    let message = `exit ${raw}`;
    if (timedOut) {
      exitCode = 124;
      reason = 'timeout';
      message = `killed: timeout after ${fmtMs(opts.timeoutMs!)}`;
    } else if (opts.memoryBytes !== undefined && (raw === 137 || signal === 'SIGKILL') && oomKilled(cgroups, version)) {
      exitCode = 137;
      reason = 'memory';
      message = `killed: memory limit ${formatBytes(opts.memoryBytes)}`;
    } else if (opts.pids !== undefined && pidsHit(cgroups)) {
      message = `exit ${raw} (pids limit ${opts.pids} was reached: some forks failed)`;
      if (raw !== 0) reason = 'pids';
    }
    const { denied, counters } = plan.ns ? await readDenied(plan.ns, startedAt) : parseDenied(table, startedAt);
    const tunnel = td.wgIf !== undefined ? await tunnelState(td.wgIf) : undefined;
    if (tmp !== undefined && existsSync(join(tmp, 'dns-events'))) {
      for (const l of readFileSync(join(tmp, 'dns-events'), 'utf8').split('\n')) if (l !== '') denied.push(JSON.parse(l) as DeniedAttempt);
    }
    return { exitCode, reason, message, denied, counters, ...(tunnel ? { tunnel } : {}), id, ms: performance.now() - t0 };
  } finally {
    if (!stopping) {
      await teardown(td);
      for (const s of sigs) process.off(s, onSignal);
    }
  }
}

/** Leftovers of sandboxes whose owner died: namespaces `cs<6 hex>` and cgroups `cordon-<6 hex>`. */
export async function leftovers(): Promise<string[]> {
  const out = netnsNames().filter((n) => /^cs[0-9a-f]{6}$/.test(n));
  for (const base of ['/sys/fs/cgroup', '/sys/fs/cgroup/memory', '/sys/fs/cgroup/pids', '/sys/fs/cgroup/cpu']) {
    try {
      if (!statSync(base).isDirectory()) continue;
      for (const d of readdirSync(base)) if (/^cordon-[0-9a-f]{6}$/.test(d)) out.push(join(base, d));
    } catch {
      // not there
    }
  }
  return out;
}
