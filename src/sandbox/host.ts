/**
 * What `cordon run` reads from this machine: homes, cgroup version, nameserver, named namespaces,
 * tools on $PATH, addresses in use. Reads only; nothing here changes the system.
 */
import { accessSync, constants, existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { run } from '../system/exec.js';
import { parseCidr, type Cidr } from '../util/ip.js';
import { homeOf } from './hidden.js';
import { sandboxNames } from '../model/names.js';
import { listNetns } from '../system/netns.js';
import { SandboxError, type CgroupVersion, type SandboxMode } from './types.js';

export function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

export function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Homes to protect: $HOME, this user's passwd home, and SUDO_USER's (cordon run is started with sudo). */
export function homes(): string[] {
  const passwd = readText('/etc/passwd');
  const uid = typeof process.getuid === 'function' ? String(process.getuid()) : undefined;
  const own = passwd
    .split('\n')
    .find((l) => l.split(':')[2] === uid)
    ?.split(':')[5];
  const sudo = process.env.SUDO_USER ? homeOf(passwd, process.env.SUDO_USER) : undefined;
  return [...new Set([homedir(), own, sudo].filter((h): h is string => h !== undefined && h !== '' && h !== '/'))];
}

/** `p` with symlinks resolved as far as it exists (a missing tail is kept as written). */
export function real(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/** A path and, when it is a symlink, where it points: hiding one must hide the other. */
export function withTarget(p: string): string[] {
  const r = real(p);
  return r === p ? [p] : [p, r];
}

export function hideEntry(p: string): { path: string; dir: boolean } | undefined {
  try {
    return { path: p, dir: statSync(p).isDirectory() };
  } catch {
    return undefined;
  }
}

export function detectCgroup(): CgroupVersion {
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) return 'v2';
  if (existsSync('/sys/fs/cgroup/memory/memory.limit_in_bytes') || existsSync('/sys/fs/cgroup/pids/pids.max') || existsSync('/sys/fs/cgroup/pids/cgroup.procs'))
    return 'v1';
  return 'none';
}

export function systemNameserver(): string | undefined {
  try {
    return /^nameserver\s+(\d+\.\d+\.\d+\.\d+)/m.exec(readFileSync('/etc/resolv.conf', 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

export async function usedSubnets(hostNetns: string | undefined): Promise<Cidr[]> {
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

/**
 * A run id no named namespace or cgroup of another run uses. Rootless runs make neither (their
 * namespaces have no name, cgroups are root's), so any id does: no /run/netns listing, no lookups.
 */
export function freshId(rootless = false): string {
  if (rootless) return randomBytes(3).toString('hex');
  const taken = new Set(listNetns());
  for (;;) {
    const id = randomBytes(3).toString('hex');
    const names = sandboxNames(id);
    if (!taken.has(names.netns) && !existsSync(`/sys/fs/cgroup/pids/${names.cgroup}`) && !existsSync(`/sys/fs/cgroup/${names.cgroup}`)) return id;
  }
}

export function procStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * Whether the process `pid` that started at `start` (procStart) still runs: not a zombie. A
 * cordon killed with -9 stays a zombie until its parent reaps it, and its reaper (reaper.ts)
 * must not take it for alive meanwhile.
 */
export function procRunning(pid: number, start: string | undefined): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return f[19] === start && f[0] !== 'Z' && f[0] !== 'X';
  } catch {
    return false;
  }
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

/**
 * The tools a run needs on $PATH. `rootless` (an ordinary user): pasta and nsenter instead of
 * root, and /dev/net/tun readable and writable (pasta's tap device) for every mode but isolated.
 */
export function checkTools(mode: SandboxMode, rootless = false): void {
  const root = typeof process.getuid !== 'function' || process.getuid() === 0;
  if (!root && !rootless)
    throw new SandboxError('cordon run with --host-netns or --i-mean-the-host creates a veth pair and NAT and needs root (without them it runs rootless)');
  const need: [string, string][] = [
    ['bwrap', 'bubblewrap'],
    ['nft', 'nftables'],
    ['ip', 'iproute2'],
    ['unshare', 'util-linux'],
    ['setpriv', 'util-linux'],
  ];
  if (mode === 'vpn-only') need.push(['wireguard-go', 'wireguard-go'], ['wg', 'wireguard-tools']);
  if (rootless && mode !== 'isolated') need.push(['pasta', 'passt'], ['nsenter', 'util-linux']);
  for (const [bin, pkg] of need) if (!onPath(bin)) throw new SandboxError(`'${bin}' is not installed: ${pkg} (make setup installs it)`);
  if (rootless && mode !== 'isolated') {
    try {
      accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
    } catch {
      throw new SandboxError(
        `${mode} mode as an ordinary user connects the sandbox through pasta, which needs /dev/net/tun readable and writable by you; it is not (${tunMode()}). Debian's default is 0666: as root, chmod 0666 /dev/net/tun (and a udev rule KERNEL=="tun", MODE="0666" to keep it), or run as root with --host-netns NS`,
      );
    }
  }
}

function tunMode(): string {
  try {
    return `mode ${(statSync('/dev/net/tun').mode & 0o777).toString(8).padStart(4, '0')}`;
  } catch {
    return 'missing';
  }
}
