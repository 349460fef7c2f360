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
import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
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
import { DENIED_TIMEOUT_S, SECCOMP_FD, formatBytes, INLINE_SETUP_FAILED, needsResolvConf, needsResolver, nsName, pickSubnet, publishArgv, planSandbox, resolvConfText, SBX_TABLE, type NetRule, type SandboxMode, type SandboxOptions, type SandboxPlan } from './plan.js';
import { wgSetconf, type WgClient } from './wireguard.js';
import { sandboxEnv, type EnvPass } from './env.js';
import { HOME_SECRETS, RUN_STATE, homeOf, outermost, secretCandidates, stateCandidates, within, type HiddenContext } from './hidden.js';
import { refuseBind } from './paths.js';
import { seccompArch } from './seccomp/bpf.js';

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
  /**
   * Secrets hidden from the command. Default: secretCandidates (hidden.ts) — /etc/shadow, host keys,
   * control sockets, and per home shell histories and the credential stores of common tools. Replacing
   * the list does not uncover cordon's own state, which is always hidden.
   */
  readonly hide?: readonly string[];
  /** Paths of the secret list passed in after all (`--show`); cordon's own state cannot be. */
  readonly show?: readonly string[];
  /** Variables passed beyond the allowlist (env.ts ENV_ALLOW): the caller's value, or the one given. */
  readonly env?: readonly EnvPass[];
  /** Pass the caller's whole environment (a warning says so). Default false. */
  readonly envAll?: boolean;
  /** Let the command make user namespaces (the seccomp filter refuses them by default). */
  readonly allowUserns?: boolean;
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
  /** How many environment variables the command got, and how many of the caller's it did not. */
  readonly env: { readonly passed: number; readonly withheld: number };
  /** How many paths were hidden (cordon's state and secrets that exist on this machine). */
  readonly hidden: number;
}

export class SandboxError extends Error {}

/** The secrets of one home that exist (see hidden.ts for the full list, system files included). */
export function defaultHidden(home = homedir()): string[] {
  return HOME_SECRETS.map((s) => join(home, s)).filter((p) => existsSync(p));
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Homes to protect: $HOME, this user's passwd home, and SUDO_USER's (cordon run is started with sudo). */
function homes(): string[] {
  const passwd = readText('/etc/passwd');
  const uid = typeof process.getuid === 'function' ? String(process.getuid()) : undefined;
  const own = passwd.split('\n').find((l) => l.split(':')[2] === uid)?.split(':')[5];
  const sudo = process.env.SUDO_USER ? homeOf(passwd, process.env.SUDO_USER) : undefined;
  return [...new Set([homedir(), own, sudo].filter((h): h is string => h !== undefined && h !== '' && h !== '/'))];
}

/** `p` with symlinks resolved as far as it exists (a missing tail is kept as written). */
function real(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/** A path and, when it is a symlink, where it points: hiding one must hide the other. */
function withTarget(p: string): string[] {
  const r = real(p);
  return r === p ? [p] : [p, r];
}

function hideEntry(p: string): { path: string; dir: boolean } | undefined {
  try {
    return { path: p, dir: statSync(p).isDirectory() };
  } catch {
    return undefined;
  }
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

/**
 * Creates cordon's state directories that do not exist yet, so they are hidden from this sandbox
 * even if cordon first writes to them while it runs (only existing paths can be bound over):
 * /run/cordon*, the sandbox state dir, and the vault's parent in this user's own home.
 */
function makeStateDirs(): void {
  const dirs = [...RUN_STATE, stateDir()];
  const home = homedir();
  try {
    if (statSync(home).uid === process.getuid!()) dirs.push(join(home, '.local/share/cordon'));
  } catch {
    // no home: nothing to protect there
  }
  for (const d of dirs) {
    try {
      if (!existsSync(d)) mkdirSync(d, { recursive: true, mode: 0o700 });
    } catch {
      // read-only or missing parent: nothing can be written there either
    }
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
  const workdir = real(resolve(input.workdir ?? process.cwd()));
  const arch = seccompArch();
  if (arch === undefined) throw new SandboxError(`cordon run's seccomp filter has syscall tables for x86_64 and aarch64, not for this machine (${process.arch})`);
  const ctx: HiddenContext = {
    homes: homes(),
    env: process.env,
    dirs: [...new Set([process.cwd(), workdir])],
    etcSsh: listDir('/etc/ssh'),
    tmpEntries: [...new Set([tmpdir(), '/tmp', '/dev/shm'])].flatMap((d) => listDir(d).map((n) => join(d, n))),
    vaultPaths: [input.vault?.options?.root, input.vault?.options?.masterKeyFile].filter((p): p is string => p !== undefined).map((p) => resolve(p)),
  };
  // Only existing paths are resolved further: a failed realpath or stat throws, and a few hundred
  // throws would cost more than the rest of the start-up.
  const state = stateCandidates(ctx).flatMap((p) => (existsSync(p) ? withTarget(p) : [p]));
  const secrets = (input.hide ?? secretCandidates(ctx)).map((p) => resolve(p)).flatMap((p) => (existsSync(p) ? withTarget(p) : [p]));
  const show = (input.show ?? []).map((p) => resolve(p));
  for (const p of show) {
    if (state.some((d) => within(p, d))) throw new SandboxError(`--show ${p}: cordon's own state (vault, keys, snapshots, sandbox and lab state) is never visible in a sandbox; pass one vault session read-only with --vault SESSION`);
    if (!secrets.includes(p) && !secrets.includes(real(p))) throw new SandboxError(`--show ${p}: not one of the hidden paths; --show takes a path of the secret list exactly (see cordon run --help)`);
  }
  const shown = new Set(show.flatMap(withTarget));
  // Without --workdir the work dir is the current directory: say so, not a flag the user never gave.
  const wdFlag = input.workdir !== undefined ? '--workdir' : 'the work dir (the current directory; --workdir DIR chooses another):';
  const binds: [string, string][] = [[wdFlag, workdir], ...(input.ro ?? []).map((p): [string, string] => ['--ro', p]), ...(input.rw ?? []).map((p): [string, string] => ['--rw', p])];
  for (const [flag, p] of binds) {
    const abs = real(resolve(p));
    const why = refuseBind(flag, abs, p);
    if (why !== undefined) throw new SandboxError(why);
    const st = state.find((d) => within(abs, d));
    if (st !== undefined) throw new SandboxError(`${flag} ${p}: inside cordon's own state (${st}), which is never visible in a sandbox; pass one vault session read-only with --vault SESSION`);
    if (flag === wdFlag) continue;
    const sec = secrets.find((d) => within(abs, d) && !shown.has(d));
    if (sec !== undefined) throw new SandboxError(`${flag} ${p}: ${sec} is hidden as a secret; add --show ${sec} to pass it in`);
  }
  // The work dir is the user's explicit choice: a secret directory holding it is not hidden.
  const hidden = outermost([...state, ...secrets.filter((p) => !shown.has(p) && !within(workdir, p))].filter((p) => existsSync(p)))
    .map(hideEntry)
    .filter((h): h is { path: string; dir: boolean } => h !== undefined);
  const env = sandboxEnv(process.env, input.env ?? [], input.envAll === true);
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
    hide: hidden,
    arch,
    allowUserns: input.allowUserns === true,
    env: env.env,
    envCounts: { passed: env.passed, withheld: env.withheld },
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
  /**
   * What every vault mount of this run starts with (`<tmp>/cordon-vault-<id>-`), recorded before
   * mounting: a run killed between mounting and recording vaultDir is still cleaned up.
   */
  vaultPrefix?: string | undefined;
  /** The first process of the command line (setpriv … bwrap), leader of its own process group, and its start time. */
  commandPid?: number | undefined;
  commandStart?: string | undefined;
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
    // The command's first process (its own process group) if it somehow outlived its owner: killing
    // it takes bwrap and the command with it (--die-with-parent). Its start time guards against PID reuse.
    if (t.commandPid !== undefined && t.commandStart !== undefined && procStart(t.commandPid) === t.commandStart) {
      try {
        process.kill(-t.commandPid, 'SIGKILL');
      } catch {
        // gone
      }
    }
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

/** Mount points from /proc/mounts (octal escapes decoded). */
function mountPoints(): string[] {
  return readText('/proc/mounts')
    .split('\n')
    .map((l) => l.split(' ')[1])
    .filter((p): p is string => p !== undefined)
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
}

/**
 * Unmounts and removes a run's vault directories: `dir`, and everything whose path starts with
 * `prefix`. A directory is removed only once nothing is mounted on it (a read-only tmpfs that
 * cannot be unmounted is never emptied through the mount).
 */
async function removeVaultMounts(dir: string | undefined, prefix: string | undefined): Promise<void> {
  // The /dev/shm fallback (vault/mount.ts) uses the same name there.
  const name = prefix?.slice(prefix.lastIndexOf('/') + 1);
  const parents = [...new Set([...(prefix !== undefined ? [prefix.slice(0, prefix.lastIndexOf('/'))] : []), '/dev/shm'])];
  const mine = (p: string): boolean =>
    /\/cordon-vault-[^/]+$/.test(p) && (p === dir || (name !== undefined && parents.some((d) => p.startsWith(`${d}/${name}`))));
  for (const m of mountPoints().filter(mine).reverse()) {
    const r = await run(['umount', m]);
    // Busy (a process still has it open): detach it now; the kernel frees it with the last user.
    if (r.code !== 0) await run(['umount', '-l', m]);
  }
  const dirs = [...(dir !== undefined ? [dir] : []), ...parents.flatMap((d) => listDir(d).map((n) => join(d, n)))].filter(mine);
  const still = new Set(mountPoints());
  for (const d of new Set(dirs)) if (!still.has(d)) rmSync(d, { recursive: true, force: true });
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
  if (t.vaultDir !== undefined || t.vaultPrefix !== undefined) {
    await removeVaultMounts(t.vaultDir, t.vaultPrefix);
    t.vaultDir = undefined;
    t.vaultPrefix = undefined;
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
  const need: [string, string][] = [['bwrap', 'bubblewrap'], ['nft', 'nftables'], ['ip', 'iproute2'], ['unshare', 'util-linux'], ['setpriv', 'util-linux']];
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

const VAULT_PLACEHOLDER = '/tmp/cordon-vault-XXXX';

/** Plans without touching anything (for `--dry-run`): id and subnet are placeholders. */
export function dryRunPlan(input: SandboxInput): SandboxPlan {
  const opts = resolveOptions(input);
  const o = input.vault ? { ...opts, vaultDir: VAULT_PLACEHOLDER } : opts;
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
  if (typeof process.getuid === 'function' && process.getuid() === 0) makeStateDirs();
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
  // Planned once without the vault to know the names (namespace, cgroups) the state file records
  // before anything that could be left behind (the vault mount) exists.
  const draft = planSandbox(input.vault ? { ...opts, vaultDir: VAULT_PLACEHOLDER } : opts, id, subnet, version, resolvConf);
  const cgroups = cgroupDirs(draft, version);
  const vaultPrefix = input.vault ? join(tmpdir(), `cordon-vault-${id}-`) : undefined;
  const td: Teardown = {
    id,
    ownerPid: process.pid,
    ownerStart: procStart(process.pid) ?? '',
    ns: draft.ns,
    hostNetns: draft.hostNetns,
    hostTable: draft.hostTable,
    cgroups,
    forwardWas: undefined,
    resolverPid: undefined,
    publishPids: [],
    wgPid: undefined,
    wgIf: undefined,
    vaultDir: undefined,
    vaultPrefix,
    tmp,
  };
  writeTeardownState(td);
  let vm: VaultMount | undefined;
  if (input.vault) {
    try {
      // Loaded only for --vault: the crypto and retrieval code is a third of the run path's start-up.
      const { vaultMount } = await import('../vault/mount.js');
      vm = await vaultMount(input.vault.session, { ...(input.vault.options ?? {}), dirPrefix: `${id}-` });
    } catch (e) {
      await teardown(td);
      throw new SandboxError(`vault session '${input.vault.session}': ${(e as Error).message}`);
    }
    td.vaultDir = vm.dir;
    writeTeardownState(td);
    for (const w of vm.warnings) say(`vault: ${w}`);
  }
  const plan = vm ? planSandbox({ ...opts, vaultDir: vm.dir }, id, subnet, version, resolvConf) : draft;
  if (input.envAll === true) say(`--env-all: all ${opts.envCounts.passed} environment variables pass into the sandbox, tokens and keys in them included`);
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
      // fds 3 and 4: the inline script's; fd 5 (SECCOMP_FD): the filter, which bwrap reads to EOF.
      child = spawn(argv[0]!, argv.slice(1), {
        stdio: [io, io, io, plan.inline ? 'pipe' : 'ignore', plan.inline ? 'pipe' : 'ignore', 'pipe'],
        detached: true,
        env: procs.length > 0 ? { ...opts.env, CORDON_CGROUP_PROCS: procs.join(' ') } : { ...opts.env },
      });
      (child.stdio as unknown as NodeJS.WritableStream[])[SECCOMP_FD]!.on('error', () => undefined).end(plan.seccomp);
      if (child.pid !== undefined) {
        // For the one case --pdeathsig cannot cover: cordon dying before setpriv has set it.
        td.commandPid = child.pid;
        td.commandStart = procStart(child.pid);
        writeTeardownState(td);
      }
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
    return { exitCode, reason, message, denied, counters, ...(tunnel ? { tunnel } : {}), id, ms: performance.now() - t0, env: opts.envCounts, hidden: opts.hide.length };
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
