/**
 * The lab registry: one directory per running lab under /run/cordon-lab/<prefix>/ (tmpfs, gone
 * after a reboot like the namespaces themselves), holding `state.json` and the lab's private
 * files (generated WireGuard keys 0600, dnsmasq configs, logs, the agent script). `lab down`,
 * `lab exec` and `lab verify` in another process find a lab here.
 *
 * The state is written before anything is created and updated as processes start, so a lab that
 * crashed half-way can still be taken down completely.
 */
import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LAB_PREFIX_RE as PREFIX_RE } from '../model/names.js';
import { makeDirs } from '../util/mkdirs.js';

export const LAB_ROOT = '/run/cordon-lab';

export interface LabProcess {
  readonly pid: number;
  /** What it is: `wireguard-go`, `dnsmasq`, `agent`. */
  readonly name: string;
  /** A string its /proc/PID/cmdline must contain, so a recycled PID is never signalled. */
  readonly mark: string;
}

export interface LabState {
  readonly version: 1;
  readonly prefix: string;
  /** Absolute path of the spec. */
  readonly file: string;
  readonly hash: string;
  readonly createdAt: string;
  /** The process that built it. */
  readonly ownerPid: number;
  readonly status: 'building' | 'up' | 'failed';
  /** Every namespace the lab creates (written before any is created). */
  readonly namespaces: readonly string[];
  /** host → namespace. */
  readonly hosts: Readonly<Record<string, string>>;
  readonly processes: readonly LabProcess[];
  /** wireguard-go kernel names (their sockets live in /var/run/wireguard). */
  readonly wireguard: readonly string[];
  /** Removed with the lab when it goes down (`lab verify` without `--keep` builds such a lab). */
  readonly ephemeral: boolean;
}

export function labDir(prefix: string, root = LAB_ROOT): string {
  if (!PREFIX_RE.test(prefix)) throw new Error(`'${prefix}' is not a lab prefix (cl + 4 hex digits)`);
  return join(root, prefix);
}

export function writeState(state: LabState, root = LAB_ROOT): void {
  const dir = labDir(state.prefix, root);
  makeDirs(dir, 0o700);
  const tmp = join(dir, `.state.${process.pid}.json`);
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, join(dir, 'state.json'));
}

export function readState(prefix: string, root = LAB_ROOT): LabState | undefined {
  try {
    const s = JSON.parse(readFileSync(join(labDir(prefix, root), 'state.json'), 'utf8')) as LabState;
    return s.version === 1 && s.prefix === prefix ? s : undefined;
  } catch {
    return undefined;
  }
}

/** Every lab with a registry entry, oldest first. */
export function listStates(root = LAB_ROOT): LabState[] {
  let names: string[] = [];
  try {
    names = readdirSync(root).filter((n) => PREFIX_RE.test(n));
  } catch {
    return [];
  }
  return names
    .map((n) => readState(n, root))
    .filter((s): s is LabState => s !== undefined)
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

/** Prefixes with a directory, whether or not its state is readable. */
export function listPrefixes(root = LAB_ROOT): string[] {
  try {
    return readdirSync(root)
      .filter((n) => PREFIX_RE.test(n))
      .sort();
  } catch {
    return [];
  }
}

export function removeLabDir(prefix: string, root = LAB_ROOT): void {
  rmSync(labDir(prefix, root), { recursive: true, force: true });
}

/** A private file of the lab (0600). */
export function writeLabFile(prefix: string, name: string, content: string, root = LAB_ROOT): string {
  const dir = labDir(prefix, root);
  makeDirs(dir, 0o700);
  const path = join(dir, name);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}
