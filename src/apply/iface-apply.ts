/**
 * Applying the interface configuration of a rendered ifupdown or netplan file to a network
 * namespace, with the same promises as the nftables apply (apply.ts):
 *
 *   1. finish any earlier interface run in this target that was killed half-way (its status still
 *      `loading`, its process and watchdog gone): its snapshot is restored first;
 *   2. compute the `ip -batch` from the state now to the state the file describes (iface-state.ts,
 *      from the model); a nic or port that does not exist, or a name unsafe for ip, stops here
 *      and nothing is changed;
 *   3. snapshot the scope (links, IPv4 addresses, routes) and the files about to be written, 0600;
 *   4. with `confirmSeconds`, start the detached watchdog before anything changes;
 *   5. run the batch (one `ip -batch`; ip stops at the first failing line) — not atomic in the
 *      kernel, so any failure restores the snapshot, and the restore is read back;
 *   6. read the state back and compare it with the wanted state; any difference rolls back;
 *   7. write the rendered files to their place under `root` (temporary file + rename);
 *   8. wait for the confirmation, else roll back (interfaces and files).
 *
 * Why not `netplan apply` / `netplan try` or `ifup`/`ifreload` inside the namespace: netplan
 * hands the files to systemd-networkd or NetworkManager, daemons of the whole machine, not of a
 * namespace (and not running where systemd is not PID 1); Debian's ifup creates bridges only
 * through bridge-utils hook scripts and ifupdown2's ifreload reconciles the machine's
 * /etc/network/interfaces. Neither can be pointed at a test namespace safely, and neither rolls
 * back. So cordon activates the state itself and prints the command that hands the files to the
 * system's own manager on a real host (`activationCommand`).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { sleep, alive, awaitRollback, performRollback } from './rollback.js';
import { IFACE_SNAPSHOT, observe, runBatch, writeFileAtomic, type FileBefore, type IfaceSnapshot } from './iface-snapshot.js';
import { compareState, PlanError, planBatch, type IfaceState, type IfaceTarget } from './iface-state.js';
import { listRuns, newRun, type RunDir } from './state.js';
import type { Target } from './target.js';
import { endWatchdog, startWatchdog } from './watchdog.js';
import { awaitConfirmation, type ApplyOutcome } from './apply.js';
import { firstError } from '../system/exec.js';

/** As in apply.ts: the watchdog's first deadline leaves this much for the batch and the read-back. */
const LOAD_BUDGET_MS = 30_000;

/** Test-only failures (CORDON_APPLY_INJECT_FAULT with --target ifupdown|netplan). */
export const IFACE_FAULTS = ['iface-step', 'iface-tamper', 'iface-hang'] as const;
export type IfaceFault = (typeof IFACE_FAULTS)[number];

/** A line no namespace accepts: the batch stops there, after every real change was made. */
const FAILING_LINE = 'link set dev cordon-nosuch0 up';

/** Interface runs are kept apart from nftables runs of the same target (`+` is in no namespace name). */
export function ifaceStateKey(t: Target): string {
  return `${t.stateKey}+interfaces`;
}

export interface IfaceFile {
  /** Absolute destination. */
  readonly path: string;
  readonly content: string;
  readonly mode: number;
}

export interface IfaceApplyOptions {
  readonly target: Target;
  readonly host: string;
  readonly format: IfaceTarget;
  /** The state the rendered file describes (wantedState). */
  readonly want: IfaceState;
  /** The rendered files and where they go. */
  readonly files: readonly IfaceFile[];
  readonly stateRoot: string;
  readonly confirmSeconds?: number;
  readonly confirmHint?: (token: string, run: RunDir) => string;
  readonly interactive?: boolean;
  readonly fault?: IfaceFault;
  readonly say: (line: string) => void;
}

function keyed(t: Target): Target {
  return { ...t, stateKey: ifaceStateKey(t) };
}

async function rollBack(o: IfaceApplyOptions, runDir: RunDir, why: string, differences: readonly string[] = []): Promise<ApplyOutcome> {
  const mine = runDir.resolve('rolled-back') || (runDir.resolution() === 'rolled-back' && runDir.resolvedBy() === process.pid);
  o.say(`${why}; ${mine ? 'rolling back' : `pid ${runDir.resolvedBy() ?? '?'} rolls back`}`);
  const rec = mine ? await performRollback(o.target, runDir, 'apply') : await awaitRollback(o.target, runDir, 'apply', 60_000);
  await endWatchdog(runDir);
  if (rec.ok) return { status: 'rolled-back', message: `${why}. Rolled back: ${rec.message}; the previous interface state is back.`, differences, run: runDir };
  return {
    status: 'rollback-failed',
    message: `${why}. ROLLBACK FAILED: ${rec.message}. Inspect with 'ip addr' and 'ip route' in ${o.target.label}; the snapshot is ${runDir.file(IFACE_SNAPSHOT)}.`,
    differences,
    run: runDir,
  };
}

async function unchanged(runDir: RunDir | undefined, message: string): Promise<ApplyOutcome> {
  if (runDir) {
    runDir.resolve('void');
    runDir.setStatus('failed');
    await endWatchdog(runDir);
  }
  return { status: 'unchanged', message, differences: [], run: runDir };
}

/** The pid a run directory was made by (its name ends in `-PID`). */
function runPid(runDir: RunDir): number | undefined {
  const m = /-(\d+)$/.exec(runDir.path);
  return m ? Number(m[1]) : undefined;
}

/**
 * Runs of this target killed while changing interfaces (status `started` with `loading`, no
 * decision, their process and watchdog gone): each is decided "rolled-back" and restored.
 */
export async function recoverAbandoned(target: Target, stateRoot: string, say: (line: string) => void): Promise<{ ok: boolean; recovered: number }> {
  let recovered = 0;
  let ok = true;
  for (const r of listRuns(stateRoot, ifaceStateKey(target))) {
    if (r.status() !== 'started' || !r.has('loading') || r.resolution() !== undefined) continue;
    const pid = runPid(r);
    const wd = r.watchdogPid();
    if ((pid !== undefined && alive(pid)) || (wd !== undefined && alive(wd))) continue;
    if (!r.resolve('rolled-back')) continue;
    const rec = await performRollback(target, r, 'apply');
    say(`recovered ${r.path}, abandoned by pid ${pid ?? '?'} while changing interfaces: ${rec.ok ? rec.message : `ROLLBACK FAILED: ${rec.message}`}`);
    recovered++;
    ok &&= rec.ok;
  }
  return { ok, recovered };
}

function fileBefore(f: IfaceFile): FileBefore {
  if (!existsSync(f.path)) return { path: f.path, previous: null, mode: f.mode };
  return { path: f.path, previous: readFileSync(f.path, 'utf8'), mode: statSync(f.path).mode & 0o777 };
}

export async function applyInterfaces(o: IfaceApplyOptions): Promise<ApplyOutcome> {
  const t = o.target;
  const v = await t.exec(['ip', '-V']);
  if (v.code !== 0) return unchanged(undefined, `ip cannot run in ${t.label}: ${firstError(v)}. Nothing was changed.`);
  const rec = await recoverAbandoned(t, o.stateRoot, o.say);
  if (!rec.ok)
    return unchanged(
      undefined,
      `an earlier interface apply in ${t.label} was killed half-way and could not be rolled back; nothing was changed. See the messages above.`,
    );

  let before: IfaceState;
  let lines: string[];
  try {
    before = await observe(t, o.want.scope);
    lines = planBatch(before, o.want);
  } catch (e) {
    if (e instanceof PlanError) return unchanged(undefined, `${e.message}. Nothing was changed.`);
    return unchanged(undefined, `could not read the interface state of ${t.label}: ${(e as Error).message}. Nothing was changed.`);
  }

  const runDir = newRun(o.stateRoot, ifaceStateKey(t));
  runDir.setStatus('started');
  o.say(`state: ${runDir.path}`);
  const snap: IfaceSnapshot = {
    host: o.host,
    target: t.label,
    format: o.format,
    time: new Date().toISOString(),
    state: before,
    files: o.files.map(fileBefore),
  };
  runDir.write(IFACE_SNAPSHOT, `${JSON.stringify(snap, null, 1)}\n`);
  o.say(`snapshot: ${before.scope.links.join(', ')} (${before.addresses.length} address(es), ${before.routes.length} route(s))`);

  if (o.confirmSeconds !== undefined) {
    const w = await startWatchdog(runDir, t, Date.now() + o.confirmSeconds * 1000 + LOAD_BUDGET_MS);
    if (!w.ok) return unchanged(runDir, `could not start the watchdog that rolls back without confirmation (${w.error}). Nothing was changed.`);
    o.say(`watchdog: pid ${w.pid} rolls back unless confirmed, also if this process dies`);
  }

  // From here on the target may change: a run killed with `loading` and no decision is recovered by the next one.
  runDir.write('loading', `${process.pid}\n`);
  if (o.fault === 'iface-hang') {
    const half = Math.ceil(lines.length / 2);
    const first = await runBatch(t, runDir, 'apply-1.batch', lines.slice(0, half));
    if (!first.ok) return rollBack(o, runDir, `ip -batch failed: ${first.error}`);
    o.say(`injected failure (CORDON_APPLY_INJECT_FAULT=iface-hang): ran ${half} of ${lines.length} line(s), now waiting to be killed`);
    await sleep(600_000);
  }
  const batch = o.fault === 'iface-step' ? [...lines, FAILING_LINE] : lines;
  const r = await runBatch(t, runDir, 'apply.batch', batch);
  if (!r.ok) return rollBack(o, runDir, `ip -batch failed: ${r.error}`);
  o.say(lines.length ? `changed ${t.label} with ${lines.length} ip command(s) in one batch` : `${t.label} already had this interface state`);

  if (o.fault === 'iface-tamper') {
    const a = o.want.addresses[0];
    if (a) {
      const x = await t.exec(['ip', 'address', 'del', `${a.local}/${a.prefixlen}`, 'dev', a.dev]);
      o.say(
        `injected failure (CORDON_APPLY_INJECT_FAULT=iface-tamper): deleted ${a.local}/${a.prefixlen} from ${a.dev} behind apply's back${x.code === 0 ? '' : ` — FAILED: ${firstError(x)}`}`,
      );
    }
  }

  let differences: string[];
  try {
    differences = compareState(o.want, await observe(t, o.want.scope));
  } catch (e) {
    return rollBack(o, runDir, `could not read the interfaces back: ${(e as Error).message}`);
  }
  if (differences.length)
    return rollBack(
      o,
      runDir,
      `the interface state read back differs from the file (${differences.length} difference${differences.length === 1 ? '' : 's'})`,
      differences,
    );
  o.say('read back: matches the file');

  try {
    for (const f of o.files) {
      writeFileAtomic(f.path, f.content, f.mode);
      o.say(`wrote ${f.path} (${f.mode.toString(8).padStart(4, '0')})`);
    }
  } catch (e) {
    return rollBack(o, runDir, `could not write the files: ${(e as Error).message}`);
  }

  const refused = await awaitConfirmation(o, runDir, (why) => rollBack(o, runDir, why));
  if (refused) return refused;
  runDir.setStatus('applied');
  return {
    status: 'applied',
    message: `applied the ${o.format} interfaces of ${o.host} to ${t.label}: ${o.want.scope.links.join(', ')}`,
    differences: [],
    run: runDir,
  };
}

/** The target as interface runs are filed under (for confirmRun and rollbackLast). */
export { keyed as ifaceKeyedTarget };
