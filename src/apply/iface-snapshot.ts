/**
 * Snapshots of the interface state an interface apply touches, and restoring them: what every
 * rollback of such a run (by the applying process, its watchdog, `--rollback`, or the next run
 * finding an abandoned one) goes back to. The snapshot (`iface-snapshot.json`, 0600) holds the
 * observed state of the run's scope (links, IPv4 addresses, routes; iface-state.ts) and the
 * previous content of every file the run writes. Restoring computes the `ip -batch` from the
 * state now to the snapshot, runs it, reads back and compares; then puts the files back.
 */
import { chmodSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { firstError } from '../system/exec.js';
import { compareState, observedState, planBatch, type IfaceState, type Scope } from './iface-state.js';
import type { RunDir } from './state.js';
import type { Target } from './target.js';

export const IFACE_SNAPSHOT = 'iface-snapshot.json';

export interface FileBefore {
  /** Absolute path of a file the run writes. */
  readonly path: string;
  /** Its content before the run; null = it did not exist. */
  readonly previous: string | null;
  readonly mode: number;
}

export interface IfaceSnapshot {
  readonly host: string;
  readonly target: string;
  readonly format: string;
  readonly time: string;
  readonly state: IfaceState;
  readonly files: readonly FileBefore[];
}

function parse(r: { code: number; stdout: string }, what: string): unknown {
  if (r.code !== 0) throw new Error(`${what} failed`);
  try {
    return JSON.parse(r.stdout || '[]');
  } catch (e) {
    throw new Error(`${what} printed invalid JSON: ${(e as Error).message}`);
  }
}

/** The state of `scope` in the target now (three `ip -j` reads). */
export async function observe(target: Target, scope: Scope): Promise<IfaceState> {
  const l = await target.exec(['ip', '-j', '-d', 'link', 'show']);
  if (l.code !== 0) throw new Error(`ip -j link show in ${target.label} failed: ${firstError(l)}`);
  const a = await target.exec(['ip', '-j', '-4', 'addr', 'show']);
  if (a.code !== 0) throw new Error(`ip -j addr show in ${target.label} failed: ${firstError(a)}`);
  const r = await target.exec(['ip', '-j', '-4', 'route', 'show', 'table', 'main']);
  if (r.code !== 0) throw new Error(`ip -j route show in ${target.label} failed: ${firstError(r)}`);
  return observedState(scope, parse(l, 'ip -j link show'), parse(a, 'ip -j addr show'), parse(r, 'ip -j route show'));
}

/** Runs batch lines in the target in one `ip -batch` (it stops at the first failing line). */
export async function runBatch(target: Target, runDir: RunDir, name: string, lines: readonly string[]): Promise<{ ok: true } | { ok: false; error: string }> {
  if (lines.length === 0) return { ok: true };
  const file = runDir.write(name, `${lines.join('\n')}\n`);
  const r = await target.exec(['ip', '-batch', file]);
  return r.code === 0 ? { ok: true } : { ok: false, error: firstError(r) };
}

/** Writes a file through a temporary file and a rename: a reader sees the old file or the new one, never half. */
export function writeFileAtomic(path: string, content: string, mode: number): void {
  const tmp = `${path}.cordon-${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

function restoreFiles(files: readonly FileBefore[]): string[] {
  const problems: string[] = [];
  for (const f of files) {
    try {
      if (f.previous === null) rmSync(f.path, { force: true });
      else writeFileAtomic(f.path, f.previous, f.mode);
    } catch (e) {
      problems.push(`${f.path}: ${(e as Error).message}`);
    }
  }
  return problems;
}

/**
 * Restores a run's interface snapshot in its target: the batch from now to the snapshot (tried a
 * second time from a fresh reading if the first stops half-way), the read-back, the files.
 */
export async function restoreIfaceSnapshot(target: Target, runDir: RunDir): Promise<{ ok: boolean; message: string }> {
  const text = runDir.read(IFACE_SNAPSHOT);
  if (text === undefined) return { ok: false, message: `no interface snapshot in ${runDir.path}` };
  const snap = JSON.parse(text) as IfaceSnapshot;
  let last = '';
  for (let attempt = 1; attempt <= 2; attempt++) {
    let now: IfaceState;
    try {
      now = await observe(target, snap.state.scope);
    } catch (e) {
      return { ok: false, message: (e as Error).message };
    }
    let lines: string[];
    try {
      lines = planBatch(now, snap.state);
    } catch (e) {
      return { ok: false, message: `cannot go back to the snapshot: ${(e as Error).message}` };
    }
    const r = await runBatch(target, runDir, `restore-${attempt}.batch`, lines);
    if (!r.ok) {
      last = `ip -batch ${runDir.file(`restore-${attempt}.batch`)} failed: ${r.error}`;
      continue;
    }
    const back = compareState(snap.state, await observe(target, snap.state.scope));
    if (back.length) {
      last = `after restoring, ${target.label} still differs from the snapshot: ${back.join('; ')}`;
      continue;
    }
    const fileProblems = restoreFiles(snap.files);
    if (fileProblems.length) return { ok: false, message: `interfaces restored, but files could not be put back: ${fileProblems.join('; ')}` };
    const files = snap.files.length ? ` and ${snap.files.map((f) => f.path).join(', ')}` : '';
    return { ok: true, message: `restored the interface snapshot (${snap.state.scope.links.join(', ')})${files} from ${runDir.path}` };
  }
  return { ok: false, message: last };
}
