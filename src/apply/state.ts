/**
 * apply's state on disk: one directory per apply run, `<root>/<netns>/<timestamp>/`, mode 0700,
 * files 0600. It holds the snapshot of cordon's tables taken before the run (what a rollback
 * restores), the transaction that was loaded, the confirmation token, and the run's status.
 *
 * A pending `--confirm` run is decided exactly once: whoever creates `resolved` first (the
 * confirming command, or the waiting apply when time runs out) wins, by exclusive create.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

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
  resolve(how: 'confirmed' | 'rolled-back'): boolean {
    try {
      writeFileSync(this.file('resolved'), `${how}\n`, { mode: 0o600, flag: 'wx' });
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
  }

  resolution(): 'confirmed' | 'rolled-back' | undefined {
    const r = this.read('resolved')?.trim();
    return r === 'confirmed' || r === 'rolled-back' ? r : undefined;
  }
}

function mkdirPrivate(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
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
