/**
 * Everything a sandbox creates is recorded before it exists (a state file per run under
 * stateDir()) and removed by teardown(), which is safe to repeat; a later cordon removes what a
 * run whose owner died left behind (cleanupStale). Processes are ended by the PIDs this run
 * started (the command's process group, the cgroup's members) — never by name.
 */
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../system/exec.js';
import { RUN_STATE } from './hidden.js';
import { listDir, procRunning, procStart, readText } from './host.js';
import { listNetns } from '../system/netns.js';
import { sandboxIdOfNetns } from '../model/names.js';
import { makeDirs } from '../util/mkdirs.js';

/**
 * Creates cordon's state directories that do not exist yet, so they are hidden from this sandbox
 * even if cordon first writes to them while it runs (only existing paths can be bound over):
 * /run/cordon*, the sandbox state dir, and the vault's parent in this user's own home.
 */
export function makeStateDirs(): void {
  const dirs = [...RUN_STATE, stateDir()];
  const home = homedir();
  try {
    if (statSync(home).uid === process.getuid!()) dirs.push(join(home, '.local/share/cordon'));
  } catch {
    // no home: nothing to protect there
  }
  for (const d of dirs) {
    try {
      if (!existsSync(d)) makeDirs(d, 0o700);
    } catch {
      // read-only or missing parent: nothing can be written there either
    }
  }
}

/** What teardown needs, also written to the state file so a later run can finish a dead one's. */
export interface Teardown {
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
  /** Rootless: the holder of the user + network namespace (ours) and its start time, and pasta's PID (ours). */
  holderPid?: number | undefined;
  holderStart?: string | undefined;
  pastaPid?: number | undefined;
  /** The reaper (reaper.ts), which finishes this teardown if cordon dies; killed by the run once it tore down itself. */
  reaperPid?: number | undefined;
  /**
   * No state file: nothing of this run can outlive it (rootless isolated mode without a temp dir or
   * a vault: the namespaces vanish with the command, which dies with cordon), so a kill -9 leaves
   * no file either.
   */
  noStateFile?: boolean;
}

/**
 * Where running sandboxes record what they created: `$CORDON_SANDBOX_STATE_DIR`, else
 * /run/cordon/sandbox for root and, for an ordinary user (the rootless path),
 * `$XDG_RUNTIME_DIR/cordon/sandbox` or `<tmp>/cordon-<uid>/sandbox`.
 */
export function stateDir(): string {
  const env = process.env.CORDON_SANDBOX_STATE_DIR;
  if (env !== undefined && env !== '') return env;
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  if (uid === 0) return '/run/cordon/sandbox';
  const xdg = process.env.XDG_RUNTIME_DIR;
  return xdg !== undefined && xdg !== '' ? join(xdg, 'cordon', 'sandbox') : join(tmpdir(), `cordon-${uid}`, 'sandbox');
}

export function writeTeardownState(t: Teardown): void {
  if (t.noStateFile === true) return;
  const dir = stateDir();
  if (!existsSync(dir)) {
    makeDirs(dir, 0o700);
    // In a shared /tmp, a directory someone else made first would let them edit what teardown removes.
    if (statSync(dir).uid !== (process.getuid?.() ?? 0)) throw new Error(`${dir} belongs to another user: set CORDON_SANDBOX_STATE_DIR`);
  }
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
    if (procRunning(t.ownerPid, t.ownerStart)) continue;
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
    if (t.holderPid !== undefined && procStart(t.holderPid) !== t.holderStart) t.holderPid = undefined;
    if (t.pastaPid !== undefined) {
      try {
        if (!readFileSync(`/proc/${t.pastaPid}/cmdline`, 'utf8').startsWith('pasta')) t.pastaPid = undefined;
      } catch {
        t.pastaPid = undefined;
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

export async function teardown(t: Teardown): Promise<void> {
  removeCgroups(t.cgroups);
  for (const p of t.publishPids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone
    }
  }
  t.publishPids = [];
  // Rootless: pasta holds a handle on the namespace, the holder is its first process; with both
  // gone (and the command, already ended), the kernel removes the namespaces.
  for (const p of [t.pastaPid, t.holderPid]) {
    if (p === undefined) continue;
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone
    }
  }
  t.pastaPid = undefined;
  t.holderPid = undefined;
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
    if (t.ns && listNetns().includes(t.ns)) await run(['ip', 'netns', 'del', t.ns]);
  };
  await Promise.all([host(), own()]);
  rmSync(join(stateDir(), `${t.id}.json`), { force: true });
}

/** Leftovers of sandboxes whose owner died: namespaces `cs<6 hex>` and cgroups `cordon-<6 hex>`. */
export async function leftovers(): Promise<string[]> {
  const out = listNetns().filter((n) => sandboxIdOfNetns(n) !== undefined);
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
