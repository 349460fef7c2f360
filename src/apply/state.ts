/**
 * apply's state on disk: one directory per apply run, `<root>/<netns>/<timestamp>/`, mode 0700,
 * files 0600. It holds the snapshot of cordon's tables taken before the run (what a rollback
 * restores), the transaction that was loaded, the confirmation token, and the run's status.
 *
 * A pending `--confirm` run is decided exactly once: whoever creates `resolved` first (the
 * confirming command, the waiting apply or its watchdog when time runs out, `--rollback`) wins,
 * by exclusive create, and records its pid there. Whoever decided "rolled-back" performs the
 * rollback and writes `rollback.json`; if it dies first, another party takes over (`takeover`,
 * also an exclusive create). `deadline` (epoch ms) and `watchdog.pid` belong to the watchdog
 * (see watchdog.ts).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeDirs } from '../util/mkdirs.js';

/** Default state root, relative to the working directory; `--state-dir` or CORDON_STATE_DIR override it. */
export const DEFAULT_STATE_ROOT = '.cordon/apply';

export type RunStatus = 'started' | 'pending-confirmation' | 'applied' | 'failed' | 'rolled-back';

export interface SnapshotInfo {
  /** cordon's tables that were loaded before the run, as `family name`. */
  readonly tables: readonly { readonly family: string; readonly name: string }[];
  /** net.bridge.bridge-nf-call-iptables before the run; undefined = not read (or unavailable). */
  readonly bridgeNfCallIptables: string | undefined;
  readonly host: string;
  readonly target: string;
  readonly time: string;
}

/**
 * How a run was decided: `confirmed` keeps the new rule set, `rolled-back` restores the snapshot,
 * `void` means nothing needs doing (the load never changed anything, or the namespace is gone).
 */
export type Resolution = 'confirmed' | 'rolled-back' | 'void';

/** Who restored a snapshot. */
export type Actor = 'apply' | 'watchdog' | 'rollback';

/** What a rollback did, written once by whoever performed it (`rollback.json`). */
export interface RollbackRecord {
  readonly by: Actor;
  readonly pid: number;
  readonly ok: boolean;
  readonly message: string;
  readonly time: string;
}

/** What the watchdog needs to find its target again (`watch.json`), written before it starts. */
export interface WatchInfo {
  /** The namespace name; null = the machine's own namespace. */
  readonly netns: string | null;
  /** `dev:inode` of that namespace when the run started: a namespace of the same name made later is not the target. */
  readonly nsId: string;
}

export class RunDir {
  constructor(readonly path: string) {}

  file(name: string): string {
    return join(this.path, name);
  }

  write(name: string, content: string): string {
    const p = this.file(name);
    writeFileSync(p, content, { mode: 0o600 });
    chmodSync(p, 0o600);
    return p;
  }

  read(name: string): string | undefined {
    try {
      return readFileSync(this.file(name), 'utf8');
    } catch {
      return undefined;
    }
  }

  /** Writes through a temporary file and a rename, so a reader polling the file never sees half of it. */
  writeAtomic(name: string, content: string): void {
    const tmp = this.file(`.${name}.${process.pid}.tmp`);
    writeFileSync(tmp, content, { mode: 0o600 });
    renameSync(tmp, this.file(name));
  }

  has(name: string): boolean {
    return existsSync(this.file(name));
  }

  status(): RunStatus | undefined {
    return this.read('status')?.trim() as RunStatus | undefined;
  }

  setStatus(s: RunStatus): void {
    this.write('status', `${s}\n`);
  }

  snapshot(): SnapshotInfo | undefined {
    const text = this.read('snapshot.json');
    return text === undefined ? undefined : (JSON.parse(text) as SnapshotInfo);
  }

  token(): string | undefined {
    return this.read('token')?.trim();
  }

  /** Decides a pending run once: true if this call decided it, false if it was already decided. */
  resolve(how: Resolution): boolean {
    return this.createOnce('resolved', `${how} ${process.pid}\n`);
  }

  resolution(): Resolution | undefined {
    const r = this.read('resolved')?.trim().split(/\s+/)[0];
    return r === 'confirmed' || r === 'rolled-back' || r === 'void' ? r : undefined;
  }

  /** The pid of the process that decided the run (undefined for runs decided before pids were recorded). */
  resolvedBy(): number | undefined {
    const p = Number(this.read('resolved')?.trim().split(/\s+/)[1]);
    return Number.isInteger(p) && p > 0 ? p : undefined;
  }

  /** Claims an abandoned rollback (its decider died before finishing): true for exactly one caller. */
  takeOver(): boolean {
    return this.createOnce('takeover', `${process.pid}\n`);
  }

  rollbackRecord(): RollbackRecord | undefined {
    const t = this.read('rollback.json');
    return t === undefined ? undefined : (JSON.parse(t) as RollbackRecord);
  }

  watchInfo(): WatchInfo | undefined {
    const t = this.read('watch.json');
    return t === undefined ? undefined : (JSON.parse(t) as WatchInfo);
  }

  /** When the watchdog rolls back unless the run is decided before (epoch ms); re-read on every wake. */
  deadline(): number | undefined {
    const n = Number(this.read('deadline')?.trim());
    return Number.isFinite(n) && n > 0 ? n : undefined;
  }

  setDeadline(epochMs: number): void {
    this.writeAtomic('deadline', `${Math.round(epochMs)}\n`);
  }

  watchdogPid(): number | undefined {
    const p = Number(this.read('watchdog.pid')?.trim());
    return Number.isInteger(p) && p > 0 ? p : undefined;
  }

  private createOnce(name: string, content: string): boolean {
    try {
      writeFileSync(this.file(name), content, { mode: 0o600, flag: 'wx' });
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
  }
}

function mkdirPrivate(path: string): void {
  makeDirs(path, 0o700);
}

/** Directory of one target's runs. */
export function targetDir(root: string, stateKey: string): string {
  return join(root, stateKey);
}

/** A new run directory, named by the time (sortable) and the process id (unique). */
export function newRun(root: string, stateKey: string, now: Date = new Date()): RunDir {
  const dir = targetDir(root, stateKey);
  mkdirPrivate(root);
  mkdirPrivate(dir);
  const stamp = now.toISOString().replace(/[-:]/g, '');
  const path = join(dir, `${stamp}-${process.pid}`);
  mkdirSync(path, { mode: 0o700 });
  chmodSync(path, 0o700);
  return new RunDir(path);
}

/** Runs of one target, newest first. */
export function listRuns(root: string, stateKey: string): RunDir[] {
  const dir = targetDir(root, stateKey);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^\d{8}T\d{6}\.\d+Z-\d+$/.test(n))
    .sort()
    .reverse()
    .map((n) => new RunDir(join(dir, n)));
}

export function newToken(): string {
  return randomBytes(12).toString('hex');
}
