/**
 * The watchdog of an `apply --confirm` run: a detached process that holds the promise "this rule
 * set is rolled back at the deadline unless confirmed", so the promise survives the death of the
 * applying process (kill -9, OOM, a closed terminal).
 *
 * Why a detached process and not a transient systemd timer (`systemd-run --on-active`): cordon
 * runs where systemd is not PID 1 (containers, CI runners, these lab machines), and a watchdog
 * that is one node process works on all of them; a second code path that only runs under systemd
 * would be the one nobody tests. The process is spawned in its own session (setsid), with stdin,
 * stdout and stderr closed, so neither a dying terminal (SIGHUP) nor a kill of apply's process
 * group reaches it. (It keeps apply's working directory: a bare `--import tsx` resolves from there.) Everything it needs is in the run directory:
 * the snapshot, the target (`watch.json`, with the namespace's inode), and the deadline, which it
 * re-reads on every wake.
 *
 * It ends (always): when the run is confirmed (token, `confirm` file, or the TTY), after it rolled
 * back, when another process rolled back, when the namespace is gone or replaced (it then touches
 * nothing), when its run directory is removed, and at the latest `HARD_STOP_MS` after the deadline.
 * SIGTERM or SIGINT before a decision means "decide now": it rolls back (unconfirmed stays
 * unconfirmed); whoever confirms or rolls back decides first and only then ends it, so the
 * signal finds the run decided and it just exits. Its own messages go to `watchdog.log`.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, fstatSync, openSync, readFileSync, realpathSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Target } from './target.js';
import { alive, awaitRollback, nsIdentity, nsPath, performRollback, runTarget, sameNamespace, sleep } from './rollback.js';
import type { RunDir, WatchInfo } from './state.js';

/** How long after its deadline a watchdog waits for a rollback somebody else decided before it gives up. */
export const HARD_STOP_MS = 120_000;

/** The watchdog's poll interval: how late a rollback or an exit after confirmation can be. */
const TICK_MS = 100;

/** Node options worth passing on (the tsx loader when running from source); never `--test` and the like. */
function loaderArgs(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i]!;
    if (/^--(import|loader|experimental-loader|require)=/.test(a)) out.push(a);
    else if (/^(--import|--loader|--experimental-loader|--require|-r)$/.test(a) && execArgv[i + 1] !== undefined) out.push(a, execArgv[++i]!);
  }
  return out;
}

function mainScript(): string {
  const self = fileURLToPath(import.meta.url);
  return fileURLToPath(new URL(`./watchdog-main${extname(self)}`, import.meta.url));
}

/**
 * Starts the watchdog of a run and waits until it reports itself (`watchdog.pid`). The deadline
 * is written first, so the watchdog never runs without one. Fails (and nothing was loaded yet,
 * the caller starts it before loading) when the process does not come up within `readyMs`.
 */
export async function startWatchdog(
  runDir: RunDir,
  target: Target,
  deadline: number,
  readyMs = 20_000,
): Promise<{ ok: true; pid: number } | { ok: false; error: string }> {
  const nsId = nsIdentity(target);
  if (nsId === undefined) return { ok: false, error: `cannot identify ${target.label}` };
  const info: WatchInfo = { netns: target.netns ?? null, nsId };
  runDir.write('watch.json', `${JSON.stringify(info, null, 2)}\n`);
  runDir.setDeadline(deadline);
  const child = spawn(process.execPath, [...loaderArgs(process.execArgv), mainScript(), realpathSync(runDir.path)], { detached: true, stdio: 'ignore' });
  let exited: string | undefined;
  let spawnError: string | undefined;
  child.on('error', (e) => (spawnError = e.message));
  child.on('exit', (code, signal) => (exited = signal ?? `exit code ${code}`));
  child.unref();
  const until = Date.now() + readyMs;
  while (Date.now() < until) {
    if (child.pid !== undefined && runDir.watchdogPid() === child.pid) return { ok: true, pid: child.pid };
    if (spawnError !== undefined) return { ok: false, error: spawnError };
    if (exited !== undefined) return { ok: false, error: `it exited (${exited}) before it was ready; see ${runDir.file('watchdog.log')}` };
    await sleep(20);
  }
  if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  return { ok: false, error: `it did not report ready within ${readyMs / 1000}s` };
}

/** True when `pid` is this run's watchdog (its command line names the run directory), not a reused pid. */
function isWatchdogOf(pid: number, runDir: RunDir): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.includes(realpathSync(runDir.path)) && argv.some((a) => a.includes('watchdog-main'));
  } catch {
    return false;
  }
}

/**
 * Ends a decided run's watchdog, by the pid it recorded, and waits until it is gone. The caller
 * has already decided the run, so the watchdog exits without acting. Returns what happened.
 */
export async function endWatchdog(runDir: RunDir, waitMs = 5_000): Promise<string> {
  const pid = runDir.watchdogPid();
  if (pid === undefined) return 'no watchdog recorded';
  if (!alive(pid) || !isWatchdogOf(pid, runDir)) return `watchdog ${pid} had already ended`;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return `watchdog ${pid} had already ended`;
  }
  const until = Date.now() + waitMs;
  while (Date.now() < until) {
    if (!alive(pid)) return `ended watchdog ${pid}`;
    await sleep(20);
  }
  return `watchdog ${pid} did not end within ${waitMs / 1000}s`;
}

/**
 * The watchdog's loop (run by watchdog-main.ts in its own process). `interrupted()` is true once
 * the process got SIGTERM or SIGINT. Returns the exit code.
 */
export async function watch(runDir: RunDir, interrupted: () => boolean): Promise<number> {
  const log = (line: string): void => {
    try {
      appendFileSync(runDir.file('watchdog.log'), `${new Date().toISOString()} ${line}\n`, { mode: 0o600 });
    } catch {
      // The run directory may be gone; the loop notices and ends.
    }
  };
  const target = runTarget(runDir);
  if (!target) {
    log(`no watch.json in ${runDir.path}; nothing to watch`);
    return 2;
  }
  // Hold the namespace open: it cannot be freed while we live, so its inode (the identity apply
  // recorded) cannot be handed to a new namespace of the same name. Never closed; exit closes it.
  let held: string | undefined;
  try {
    const st = fstatSync(openSync(nsPath(target), 'r'));
    held = `${st.dev}:${st.ino}`;
  } catch (e) {
    held = undefined;
    log(`cannot open ${nsPath(target)}: ${(e as Error).message}`);
  }
  if (held === undefined || held !== runDir.watchInfo()?.nsId) {
    log(`${target.label} is not the namespace apply recorded (${held ?? 'gone'} vs ${runDir.watchInfo()?.nsId}); not watching`);
    return 2;
  }
  runDir.writeAtomic('watchdog.pid', `${process.pid}\n`);
  log(`watching ${target.label} for ${runDir.path}, pid ${process.pid}`);
  for (;;) {
    if (!existsSync(runDir.path)) return 0;
    const deadline = runDir.deadline();
    if (deadline === undefined) {
      log('no deadline recorded; rolling back now');
    }
    const how = runDir.resolution();
    if (how === 'confirmed' || how === 'void') {
      log(`run decided: ${how}; exiting`);
      return 0;
    }
    if (how === 'rolled-back') {
      if (runDir.resolvedBy() === process.pid) return 0;
      // Somebody else rolls back; stay until they recorded it, take over if they die first.
      const rec = await awaitRollback(target, runDir, 'watchdog', Math.max(10_000, (deadline ?? Date.now()) + HARD_STOP_MS - Date.now()));
      log(`rollback by ${rec.by} (pid ${rec.pid}): ${rec.ok ? 'ok' : 'FAILED'}: ${rec.message}`);
      return rec.ok ? 0 : 1;
    }
    if (!sameNamespace(runDir, target)) {
      if (runDir.resolve('void')) {
        runDir.setStatus('failed');
        log(`${target.label} is gone or was replaced: nothing to roll back, nothing touched`);
        return 0;
      }
      continue;
    }
    if (runDir.has('confirm')) {
      if (runDir.resolve('confirmed')) {
        if (runDir.status() === 'pending-confirmation') runDir.setStatus('applied');
        log('confirmed by the confirm file; exiting');
        return 0;
      }
      continue;
    }
    const now = Date.now();
    if (deadline === undefined || now >= deadline || interrupted()) {
      if (runDir.resolve('rolled-back')) {
        log(interrupted() ? 'signalled before a decision: rolling back now' : 'deadline passed without confirmation: rolling back');
        const rec = await performRollback(target, runDir, 'watchdog');
        log(`${rec.ok ? 'rolled back' : 'ROLLBACK FAILED'}: ${rec.message}`);
        return rec.ok ? 0 : 1;
      }
      continue;
    }
    await sleep(Math.min(TICK_MS, Math.max(1, deadline - now)));
  }
}
