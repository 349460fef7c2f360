/**
 * Performing the rollback of a decided run, by whichever process decided it, and waiting for
 * somebody else's rollback. Three processes may hold a run's promise at once (the applying
 * process, its watchdog, a `cordon apply --rollback`); the exclusive `resolved` file picks the one
 * that acts, and a rollback whose actor died half-way is taken over, once, by a survivor.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { hostTarget, netnsTarget, type Target } from './target.js';
import { restoreSnapshot } from './snapshot.js';
import { IFACE_SNAPSHOT, restoreIfaceSnapshot } from './iface-snapshot.js';
import type { Actor, RollbackRecord, RunDir } from './state.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** True while `pid` runs; a zombie (exited, not yet reaped) counts as gone. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // /proc/PID/stat: "pid (comm) S …"; comm may hold spaces or parentheses, so split at the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** The file naming the target's network namespace. */
export function nsPath(target: Target): string {
  return target.netns !== undefined ? `/run/netns/${target.netns}` : '/proc/self/ns/net';
}

/**
 * `dev:inode` of the target's network namespace, undefined when it is gone. Two namespaces alive
 * at the same time never share it; but the kernel reuses the inode of a freed namespace at once,
 * so the watchdog holds the namespace open for its whole life (see `watch`): while it lives, a
 * namespace deleted and made again under the same name cannot take the recorded identity.
 */
export function nsIdentity(target: Target): string | undefined {
  const path = nsPath(target);
  try {
    const s = statSync(path);
    return `${s.dev}:${s.ino}`;
  } catch {
    return undefined;
  }
}

/** The target a run was applied to, as recorded for its watchdog; undefined for runs without one. */
export function runTarget(runDir: RunDir): Target | undefined {
  const w = runDir.watchInfo();
  if (!w) return undefined;
  return w.netns === null ? hostTarget() : netnsTarget(w.netns);
}

/** True when the target is still the very namespace the run was applied to. */
export function sameNamespace(runDir: RunDir, target: Target): boolean {
  const w = runDir.watchInfo();
  return w === undefined || nsIdentity(target) === w.nsId;
}

/**
 * Restores the run's snapshot and records the outcome (status, `rollback.json`). Only the process
 * that decided the run "rolled-back" (or took that over) calls this. A namespace that is gone or
 * was replaced is not touched: there is nothing of this run left in it to undo.
 */
export async function performRollback(target: Target, runDir: RunDir, by: Actor): Promise<RollbackRecord> {
  let ok: boolean;
  let message: string;
  if (!sameNamespace(runDir, target)) {
    ok = false;
    message = `${target.label} is gone or is no longer the namespace this run changed; nothing was touched`;
  } else {
    // An interface apply's run keeps its own kind of snapshot; everything else about the run is the same.
    ({ ok, message } = runDir.has(IFACE_SNAPSHOT) ? await restoreIfaceSnapshot(target, runDir) : await restoreSnapshot(target, runDir));
  }
  const rec: RollbackRecord = { by, pid: process.pid, ok, message, time: new Date().toISOString() };
  runDir.setStatus(ok ? 'rolled-back' : 'failed');
  if (existsSync(runDir.path)) runDir.writeAtomic('rollback.json', `${JSON.stringify(rec, null, 2)}\n`);
  return rec;
}

/**
 * Waits for the rollback another process decided; if that process dies before recording an
 * outcome, takes it over (once, among all waiters). Gives up after `limitMs`.
 */
export async function awaitRollback(target: Target, runDir: RunDir, by: Actor, limitMs: number): Promise<RollbackRecord> {
  const until = Date.now() + limitMs;
  for (;;) {
    const rec = runDir.rollbackRecord();
    if (rec) return rec;
    const pid = runDir.resolvedBy();
    if ((pid === undefined || !alive(pid)) && runDir.takeOver()) return runDir.rollbackRecord() ?? performRollback(target, runDir, by);
    if (Date.now() > until) {
      return {
        by,
        pid: process.pid,
        ok: false,
        message: `pid ${pid ?? '?'} decided to roll back ${runDir.path} but recorded no outcome within ${Math.round(limitMs / 1000)}s`,
        time: new Date().toISOString(),
      };
    }
    await sleep(100);
  }
}
