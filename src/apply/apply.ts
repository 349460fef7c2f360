/**
 * Loading a rendered nftables rule set into a kernel, safely.
 *
 *   1. snapshot cordon's tables (`nft -j list tables`, then `nft list table …` for each cordon_*),
 *      into a 0600 run directory, so there is always something to go back to;
 *   2. `nft -c -f` the transaction (checked by nft and the kernel, nothing changes);
 *   3. `nft -f` it: one atomic transaction that deletes cordon's old tables (also ones the new
 *      rule set no longer has) and defines the new ones; foreign tables are not touched;
 *   4. read back `nft -j list ruleset` and compare it three ways: its shape with the rendered text
 *      (tables, chains, hooks, priorities, policies, rule counts, set elements as intervals); rule
 *      by rule with what the kernel makes of the rendered text in a scratch namespace (content.ts:
 *      every match, statement and verdict in order, chain declarations, set elements); and, given
 *      the IR, its meaning with the spec's (meaning.ts: imported back, the same matrix);
 *   5. set net.bridge.bridge-nf-call-iptables=1 in the target when guest ports are marked;
 *   6. with `confirmSeconds`, wait for a confirmation, else roll back; the rollback is promised by a
 *      detached watchdog started before the load (watchdog.ts), so it happens even if this
 *      process is killed.
 * Any failure after 3 restores the snapshot in one transaction and checks that it took.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareContent, contentView, type ContentView } from './content.js';
import { firstError, run } from '../system/exec.js';
import type { Target } from './target.js';
import { FAULT_TABLE, tamper, type Fault } from './faults.js';
import { compareMeaning } from './meaning.js';
import { awaitRollback, performRollback } from './rollback.js';
import { compareShapes, shapeFromJson, shapeFromText, type RulesetShape } from './shape.js';
import { BRIDGE_SYSCTL, cordonTables, key, listTable, matchesSnapshot, replacePreamble, takeSnapshot, type TableRef } from './snapshot.js';
import type { Ir } from '../ir/types.js';
import { listRuns, newRun, newToken, RunDir, type RollbackRecord } from './state.js';
import { endWatchdog, startWatchdog } from './watchdog.js';
import { IFACE_SNAPSHOT } from './iface-snapshot.js';

export { BRIDGE_SYSCTL, replacePreamble, restoreSnapshot } from './snapshot.js';

/**
 * With --confirm, the watchdog starts before the load with a deadline this much later than the
 * confirmation window, so an apply killed while loading or reading back is still rolled back;
 * once the read-back matched, the deadline is set to the window proper.
 */
const LOAD_BUDGET_MS = 30_000;

export type { Fault } from './faults.js';

export interface ApplyOptions {
  readonly target: Target;
  /** The host the rule set was rendered for (recorded in the snapshot). */
  readonly host: string;
  /** The rendered rule set (`HOST/cordon.nft`). */
  readonly ruleset: string;
  /** Root of the state directories (`.cordon/apply`). */
  readonly stateRoot: string;
  /** Roll back unless confirmed within this many seconds; undefined = no confirmation. */
  readonly confirmSeconds?: number;
  /** The command a user runs to confirm, given the token (printed while waiting). */
  readonly confirmHint?: (token: string, run: RunDir) => string;
  /** Also accept a keypress on this TTY as confirmation. */
  readonly interactive?: boolean;
  /**
   * The spec's IR the rule set was rendered from: enables the meaning check (the loaded rule set,
   * imported back, must give the spec's reachability matrix). Without it only the rule-by-rule
   * check against the rendered text runs.
   */
  readonly ir?: Ir;
  /** Test-only failure to inject (CORDON_APPLY_INJECT_FAULT). */
  readonly fault?: Fault;
  /** Progress lines (stderr in the CLI). */
  readonly say: (line: string) => void;
}

export type ApplyStatus =
  /** The new rule set is loaded, matches what was rendered, and (if asked) was confirmed. */
  | 'applied'
  /** Nothing was changed: the check or the kernel refused, and the old rule set is still loaded. */
  | 'unchanged'
  /** The new rule set was loaded and taken out again: the snapshot is loaded. */
  | 'rolled-back'
  /** The rollback itself failed: the kernel's state is not known to be either. */
  | 'rollback-failed';

export interface ApplyOutcome {
  readonly status: ApplyStatus;
  readonly message: string;
  /** What the read-back found different from the rendered rule set. */
  readonly differences: readonly string[];
  readonly run: RunDir | undefined;
}

/** Thrown for cordon's own bugs (the rendered text does not parse, …): exit code 3. */
export class ApplyInternalError extends Error {}

const SPLIT = '@@cordon-apply-listing@@';

/** The rendered rule set as the kernel holds it, loaded into a throw-away network namespace. */
async function scratchContent(ruleset: string, runDir: RunDir): Promise<{ ok: true; value: ContentView } | { ok: false; error: string }> {
  const file = runDir.write('rendered.nft', ruleset);
  const r = await run(['unshare', '--net', 'sh', '-c', 'nft -f "$1" && nft -j list ruleset && echo "$2" && nft -s -a list ruleset', 'sh', file, SPLIT]);
  if (r.code !== 0) return { ok: false, error: firstError(r) };
  const at = r.stdout.indexOf(`\n${SPLIT}\n`);
  if (at < 0) return { ok: false, error: 'unexpected output from nft in the scratch namespace' };
  try {
    return { ok: true, value: contentView(JSON.parse(r.stdout.slice(0, at)), r.stdout.slice(at + SPLIT.length + 2)) };
  } catch (e) {
    return { ok: false, error: `nft -j printed invalid JSON: ${(e as Error).message}` };
  }
}

function usesBridgeMarks(shape: RulesetShape): boolean {
  return [...shape.values()].some((t) => t.family === 'bridge');
}

function actorName(rec: RollbackRecord): string {
  return rec.by === 'apply' ? 'this apply' : rec.by === 'watchdog' ? `the watchdog (pid ${rec.pid})` : `cordon apply --rollback (pid ${rec.pid})`;
}

/**
 * Rolls the run back: by this process when it decides the run (or already did), else it waits for
 * whoever decided first (taking over if they die). Then ends the run's watchdog, if it has one.
 */
async function rollBackAfter(o: ApplyOptions, runDir: RunDir, why: string, differences: readonly string[] = []): Promise<ApplyOutcome> {
  const mine = runDir.resolve('rolled-back') || (runDir.resolution() === 'rolled-back' && runDir.resolvedBy() === process.pid);
  o.say(`${why}; ${mine || runDir.resolution() !== 'rolled-back' ? 'rolling back' : `pid ${runDir.resolvedBy() ?? '?'} rolls back`}`);
  const rec =
    mine || runDir.resolution() !== 'rolled-back' ? await performRollback(o.target, runDir, 'apply') : await awaitRollback(o.target, runDir, 'apply', 60_000);
  await endWatchdog(runDir);
  const by = rec.by === 'apply' ? '' : ` by ${actorName(rec)}`;
  if (rec.ok)
    return { status: 'rolled-back', message: `${why}. Rolled back${by}: ${rec.message}; the previous rule set is loaded again.`, differences, run: runDir };
  return {
    status: 'rollback-failed',
    message: `${why}. ROLLBACK${by.toUpperCase()} FAILED: ${rec.message}. Inspect with 'nft list ruleset' in ${o.target.label}; the snapshot is ${runDir.file('snapshot.nft')}.`,
    differences,
    run: runDir,
  };
}

/** A run that changed nothing: its watchdog (if any) is told so and ended. */
async function unchanged(runDir: RunDir, message: string): Promise<ApplyOutcome> {
  runDir.resolve('void');
  runDir.setStatus('failed');
  await endWatchdog(runDir);
  return { status: 'unchanged', message, differences: [], run: runDir };
}

export async function applyRuleset(o: ApplyOptions): Promise<ApplyOutcome> {
  const expected = shapeFromText(o.ruleset);
  if (!expected.ok) throw new ApplyInternalError(`the rendered rule set does not parse as cordon's nftables output: ${expected.error}`);
  const t = o.target;
  const v = await t.exec(['nft', '--version']);
  if (v.code !== 0)
    return { status: 'unchanged', message: `nft cannot run in ${t.label}: ${firstError(v)}. Nothing was changed.`, differences: [], run: undefined };

  let bridge: string | undefined;
  const needsBridge = usesBridgeMarks(expected.value);
  if (needsBridge) {
    const s = await t.exec(['sysctl', '-n', BRIDGE_SYSCTL]);
    if (s.code !== 0) {
      return {
        status: 'unchanged',
        message: `br_netfilter is not available in ${t.label} (${BRIDGE_SYSCTL} cannot be read: ${firstError(s)}). Without it bridged guest traffic never reaches the inet forward hook, so the per-guest rules would not be enforced. Load it (modprobe br_netfilter) and apply again. Nothing was changed.`,
        differences: [],
        run: undefined,
      };
    }
    bridge = s.stdout.trim();
  }

  const runDir = newRun(o.stateRoot, t.stateKey);
  runDir.setStatus('started');
  o.say(`state: ${runDir.path}`);
  let before: TableRef[];
  try {
    before = await takeSnapshot(t, runDir, o.host, bridge);
  } catch (e) {
    runDir.setStatus('failed');
    return { status: 'unchanged', message: `could not snapshot cordon's tables: ${(e as Error).message}. Nothing was changed.`, differences: [], run: runDir };
  }
  o.say(`snapshot: ${before.length ? before.map(key).join(', ') : 'no cordon tables loaded'}`);

  const stale = before.filter((b) => !expected.value.has(key(b)));
  if (stale.length) o.say(`removing cordon tables the new rule set no longer has: ${stale.map(key).join(', ')}`);
  const tx = `${replacePreamble(stale)}${o.ruleset}`;
  const txFile = runDir.write('apply.nft', tx);

  const check = await t.exec(['nft', '-c', '-f', txFile]);
  if (check.code !== 0) {
    runDir.setStatus('failed');
    return {
      status: 'unchanged',
      message: `nft -c rejected the rule set: ${firstError(check)}\nNothing was changed: the previous rule set stays.`,
      differences: [],
      run: runDir,
    };
  }

  // What the kernel makes of the rendered text, from a scratch namespace: the rule-by-rule reference.
  const reference = await scratchContent(o.ruleset, runDir);
  if (!reference.ok) {
    runDir.setStatus('failed');
    return {
      status: 'unchanged',
      message: `cannot load the rendered rule set into a scratch network namespace, so the read-back could not be checked rule by rule: ${reference.error}\nNothing was changed.`,
      differences: [],
      run: runDir,
    };
  }

  if (o.confirmSeconds !== undefined) {
    // The promise of a rollback is made before anything changes, by a process that outlives this one.
    const w = await startWatchdog(runDir, t, Date.now() + o.confirmSeconds * 1000 + LOAD_BUDGET_MS);
    if (!w.ok) return unchanged(runDir, `could not start the watchdog that rolls back without confirmation (${w.error}). Nothing was changed.`);
    o.say(`watchdog: pid ${w.pid} rolls back unless confirmed, also if this process dies`);
  }

  const loadFile = o.fault === 'load' ? runDir.write('apply-with-fault.nft', `${tx}${FAULT_TABLE}`) : txFile;
  const load = await t.exec(['nft', '-f', loadFile]);
  if (load.code !== 0) {
    if (await matchesSnapshot(t, runDir).catch(() => false)) {
      return unchanged(
        runDir,
        `nft -f failed: ${firstError(load)}\nThe kernel refused the whole transaction: the previous rule set is still loaded (checked against the snapshot).`,
      );
    }
    return rollBackAfter(o, runDir, `nft -f failed (${firstError(load)}) and cordon's tables changed anyway`);
  }
  o.say(`loaded ${[...expected.value.keys()].join(', ')} in one transaction`);

  if (o.fault !== undefined && o.fault !== 'load') o.say(await tamper(t, o.fault));

  const rb = await t.exec(['nft', '-j', 'list', 'ruleset']);
  if (rb.code !== 0) return rollBackAfter(o, runDir, `could not read the rule set back: ${firstError(rb)}`);
  const listing = await t.exec(['nft', '-s', '-a', 'list', 'ruleset']);
  let json: unknown;
  try {
    json = JSON.parse(rb.stdout);
  } catch (e) {
    return rollBackAfter(o, runDir, `nft -j list ruleset printed invalid JSON: ${(e as Error).message}`);
  }
  const loaded = shapeFromJson(json);
  if (!loaded.ok) return rollBackAfter(o, runDir, `could not understand the rule set read back: ${loaded.error}`);
  runDir.write('readback.json', rb.stdout);
  // Three walls: the shape against the rendered text, every rule against what the kernel made of
  // the rendered text, and the meaning (the matrix) against the spec itself.
  let differences: string[];
  try {
    differences = [
      ...compareShapes(expected.value, loaded.value),
      ...compareContent(reference.value, contentView(json, listing.code === 0 ? listing.stdout : undefined)),
      ...(o.ir ? compareMeaning(o.ir, o.host, json) : []),
    ];
  } catch (e) {
    return rollBackAfter(o, runDir, `could not compare the rule set read back with what was rendered: ${(e as Error).message}`);
  }
  if (differences.length)
    return rollBackAfter(
      o,
      runDir,
      `the rule set read back differs from what was rendered (${differences.length} difference${differences.length === 1 ? '' : 's'})`,
      differences,
    );
  o.say('read back: matches what was rendered');

  if (needsBridge && bridge !== '1') {
    const s = await t.exec(['sysctl', '-q', '-w', `${BRIDGE_SYSCTL}=1`]);
    if (s.code !== 0) return rollBackAfter(o, runDir, `could not set ${BRIDGE_SYSCTL}=1: ${firstError(s)}`);
    runDir.write('sysctl-changed', `${BRIDGE_SYSCTL} ${bridge} -> 1\n`);
    o.say(`set ${BRIDGE_SYSCTL}=1 (was ${bridge})`);
  }

  const refused = await awaitConfirmation(o, runDir, (why) => rollBackAfter(o, runDir, why));
  if (refused) return refused;
  runDir.setStatus('applied');
  return { status: 'applied', message: `applied to ${t.label}: ${[...expected.value.keys()].join(', ')}`, differences: [], run: runDir };
}

/** What a run asks of confirming: `--confirm SECONDS`, the hint it prints, a keypress on the TTY. */
export interface ConfirmOptions {
  readonly confirmSeconds?: number;
  readonly confirmHint?: (token: string, run: RunDir) => string;
  readonly interactive?: boolean;
  readonly say: (line: string) => void;
}

/**
 * With `--confirm`: files a token and deadline for the watchdog, prints how to confirm and waits.
 * Returns `rollBack`'s outcome when the run was not confirmed (expired, refused, rolled back
 * elsewhere), undefined when it was (the watchdog ended) or no confirmation was asked for.
 * Shared by the nftables and the interface apply, so both roll back on the same decisions.
 */
export async function awaitConfirmation<R>(o: ConfirmOptions, runDir: RunDir, rollBack: (why: string) => Promise<R>): Promise<R | undefined> {
  if (o.confirmSeconds === undefined) return undefined;
  const token = newToken();
  runDir.write('token', `${token}\n`);
  runDir.setStatus('pending-confirmation');
  const deadline = Date.now() + o.confirmSeconds * 1000;
  runDir.setDeadline(deadline);
  o.say(
    `applied; rolling back in ${o.confirmSeconds}s unless confirmed. To confirm, run:\n  ${o.confirmHint ? o.confirmHint(token, runDir) : `touch ${runDir.file('confirm')}`}\n  (or: touch ${runDir.file('confirm')}${o.interactive ? ', or press y here' : ''})`,
  );
  const decision = await waitForConfirmation(runDir, deadline, o.interactive === true);
  if (decision !== 'confirmed') {
    const expired = decision === 'expired' || (decision === 'elsewhere' && Date.now() >= deadline);
    const why = expired
      ? `not confirmed within ${o.confirmSeconds}s`
      : decision === 'refused'
        ? 'confirmation refused or interrupted'
        : 'rolled back by another process before confirmation';
    return rollBack(why);
  }
  runDir.setStatus('applied');
  o.say(`confirmed; ${await endWatchdog(runDir)}`);
  return undefined;
}

/** Signals that mean "no" while waiting for a confirmation (SIGHUP: the admin's session died). */
const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Waits until the run is decided: confirmed (a `confirm` file in the run directory, `cordon apply
 * --confirm-token`, or `y` on the TTY), refused (signals — the SSH session dying: SIGHUP — and
 * `n`/Ctrl-C, so an admin who locked themselves out still gets rolled back), expired at
 * `deadline` (epoch ms), or rolled back by another process (the watchdog, `--rollback`):
 * `elsewhere`. 'expired' and 'refused' mean this process decided "rolled-back" and rolls back.
 */
export function waitForConfirmation(runDir: RunDir, deadline: number, interactive: boolean): Promise<'confirmed' | 'expired' | 'refused' | 'elsewhere'> {
  return new Promise((resolve) => {
    const stdin = process.stdin;
    let rawWas = false;
    let timer: NodeJS.Timeout | undefined;
    const cleanup = (): void => {
      if (timer) clearInterval(timer);
      for (const s of SIGNALS) process.removeListener(s, onSignal);
      if (interactive && stdin.isTTY) {
        stdin.removeListener('data', onKey);
        stdin.setRawMode(rawWas);
        stdin.pause();
      }
    };
    /** Decides once (exclusive create), then reports what was decided, whoever decided it. */
    const decide = (want: 'confirmed' | 'rolled-back', reason: 'confirmed' | 'expired' | 'refused'): void => {
      const mine = runDir.resolve(want);
      cleanup();
      const how = runDir.resolution();
      resolve(how === 'confirmed' ? 'confirmed' : mine ? reason : 'elsewhere');
    };
    const onSignal = (): void => decide('rolled-back', 'refused');
    const onKey = (b: Buffer): void => {
      const k = b.toString();
      if (k === 'y' || k === 'Y') decide('confirmed', 'confirmed');
      else if (k === 'n' || k === 'N' || k === '\u0003') decide('rolled-back', 'refused');
    };
    for (const s of SIGNALS) process.on(s, onSignal);
    if (interactive && stdin.isTTY) {
      rawWas = stdin.isRaw;
      stdin.setRawMode(true);
      stdin.resume();
      stdin.on('data', onKey);
    }
    timer = setInterval(() => {
      const r = runDir.resolution();
      if (r !== undefined) {
        cleanup();
        resolve(r === 'confirmed' ? 'confirmed' : 'elsewhere');
      } else if (runDir.has('confirm')) decide('confirmed', 'confirmed');
      else if (Date.now() >= deadline) decide('rolled-back', 'expired');
    }, 100);
  });
}

/** `cordon apply --confirm-token T`: confirms the pending run holding that token and ends its watchdog. */
export async function confirmRun(stateRoot: string, stateKey: string, token: string): Promise<{ ok: boolean; invalid: boolean; message: string }> {
  const runDir = listRuns(stateRoot, stateKey).find((r) => r.token() === token);
  if (!runDir) return { ok: false, invalid: true, message: `no apply run with token ${token} in ${stateRoot}/${stateKey}` };
  if (runDir.resolve('confirmed')) {
    if (runDir.status() === 'pending-confirmation') runDir.setStatus('applied');
    return { ok: true, invalid: false, message: `confirmed ${runDir.path}; ${await endWatchdog(runDir)}` };
  }
  const how = runDir.resolution();
  if (how === 'confirmed') return { ok: true, invalid: false, message: `${runDir.path} was already confirmed` };
  return { ok: false, invalid: false, message: `too late: ${runDir.path} was already rolled back` };
}

export interface RollbackResult {
  /** `rolled-back`: the snapshot is loaded again; `failed`: the rollback failed; `nothing`: there was nothing to roll back. */
  readonly outcome: 'rolled-back' | 'failed' | 'nothing';
  readonly message: string;
}

/** The time of an interface run's snapshot (iface-snapshot.ts), for messages. */
function snapshotTime(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const t = (JSON.parse(text) as { time?: unknown }).time;
  return typeof t === 'string' ? t : undefined;
}

function rollbackResult(target: Target, runDir: RunDir, rec: RollbackRecord, what: string): RollbackResult {
  const time = runDir.snapshot()?.time ?? snapshotTime(runDir.read(IFACE_SNAPSHOT)) ?? '?';
  if (!rec.ok) return { outcome: 'failed', message: `could not roll back ${target.label} to the snapshot of ${time} (${what}): ${rec.message}` };
  return { outcome: 'rolled-back', message: `rolled back ${target.label} to the snapshot of ${time} (${what}): ${rec.message}` };
}

/**
 * `cordon apply --rollback`. A run waiting for confirmation is decided "rolled-back" here and now:
 * this process restores its snapshot and ends its watchdog (whether or not the applying process
 * still lives). Otherwise the newest applied run's snapshot is restored (each call steps one run
 * further back). With neither, nothing is touched and the outcome is `nothing`.
 */
export async function rollbackLast(target: Target, stateRoot: string): Promise<RollbackResult> {
  const runs = listRuns(stateRoot, target.stateKey);
  for (const r of runs.filter((x) => x.status() === 'pending-confirmation')) {
    const how = r.resolution();
    if (how === undefined && r.resolve('rolled-back')) {
      const rec = await performRollback(target, r, 'rollback');
      const ended = await endWatchdog(r);
      return rollbackResult(target, r, rec, `the apply ${r.path} was waiting for confirmation; ${ended}`);
    }
    if (r.resolution() === 'rolled-back') {
      // Decided by somebody who has not finished (or died): finish it with them, or instead of them.
      const rec = await awaitRollback(target, r, 'rollback', 30_000);
      const ended = await endWatchdog(r);
      return rollbackResult(target, r, rec, `the apply ${r.path} was already being rolled back by pid ${r.resolvedBy() ?? '?'}; ${ended}`);
    }
  }
  const last = runs.find((r) => r.status() === 'applied');
  if (!last)
    return {
      outcome: 'nothing',
      message: `nothing to roll back in ${target.label}: no apply is waiting for confirmation and no applied run is left in ${stateRoot}/${target.stateKey}; nothing was changed`,
    };
  const rec = await performRollback(target, last, 'rollback');
  return rollbackResult(target, last, rec, `undoing the apply ${last.path}`);
}

/** Splits `nft list ruleset` text into its tables, by `family name`. */
export function splitTables(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let cur: { k: string; lines: string[] } | undefined;
  for (const line of text.split('\n')) {
    const m = /^table (\w+) (\S+) \{$/.exec(line);
    if (m) cur = { k: `${m[1]} ${m[2]}`, lines: [line] };
    else if (cur) {
      cur.lines.push(line);
      if (line === '}') {
        out.set(cur.k, `${cur.lines.join('\n')}\n`);
        cur = undefined;
      }
    }
  }
  return out;
}

/**
 * `--dry-run`: the unified diff between cordon's tables loaded in the target and the new ones.
 * Both sides are nft's own listing (`nft -s list`, without counters); the new side comes from
 * loading the rule set into a throw-away network namespace (`unshare -n`), so nothing changes.
 */
export async function dryRun(target: Target, ruleset: string, host: string): Promise<{ diff: string; changed: boolean; note: string | undefined }> {
  const current = await cordonTables(target);
  const before: string[] = [];
  for (const t of current) before.push(await listTable(target, t, true));
  const dir = mkdtempSync(join(tmpdir(), 'cordon-dry-run-'));
  try {
    const file = join(dir, 'new.nft');
    writeFileSync(file, ruleset, { mode: 0o600 });
    let after: string;
    let note: string | undefined;
    const s = await run(['unshare', '--net', 'sh', '-c', 'nft -f "$1" && nft -s list ruleset', 'sh', file]);
    if (s.code === 0) {
      const tables = splitTables(s.stdout);
      after = [...tables.keys()]
        .sort()
        .map((k) => tables.get(k)!)
        .join('');
    } else {
      note = `could not list the new rule set through a scratch namespace (${firstError(s)}); showing the rendered text`;
      after = ruleset;
    }
    const a = join(dir, 'loaded.nft');
    const b = join(dir, 'rendered.nft');
    writeFileSync(a, before.join(''));
    writeFileSync(b, after);
    const d = await run(['diff', '-u', '--label', `loaded in ${target.label}`, '--label', `rendered for ${host}`, a, b]);
    if (d.code > 1) throw new Error(`diff failed: ${firstError(d)}`);
    return { diff: d.stdout, changed: d.code === 1, note };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
