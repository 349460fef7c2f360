/**
 * The guard's fast path back to a rule set that `cordon apply` already loaded and checked: the same
 * rendered text, loaded again in one `nft -f` transaction, nothing else.
 *
 * A full apply spends almost all of its time on what a re-load does not need: the snapshot (the
 * rule set to go back to is the one being re-loaded), `nft -c` and the scratch namespace (the same
 * text passed both when it was applied), and the meaning check (the text has not changed, so its
 * meaning has not). What a re-load must keep is atomicity, and nft gives it: the transaction
 * deletes cordon's tables (also any cordon table the tamper added) and defines them again, and the
 * kernel commits all of it or none of it. So a failed re-load leaves the tables as they were — the
 * tampered ones, which the caller reports — and never a half-loaded rule set. Checking what the
 * kernel holds afterwards is the caller's job (the guard compares it by content, off the critical
 * path, and reports a difference as drift).
 */
import { firstError } from '../system/exec.js';
import { FAULT_TABLE } from './faults.js';
import { replacePreamble, type TableRef } from './snapshot.js';
import { listRuns, type RunDir } from './state.js';
import type { Target } from './target.js';

export interface ReloadOptions {
  readonly target: Target;
  /** The rendered rule set that apply loaded (`HOST/cordon.nft`; it replaces its own tables). */
  readonly ruleset: string;
  /** cordon tables loaded now that the rule set does not define (added by the tamper): removed in the same transaction. */
  readonly extra: readonly TableRef[];
  /** Test only: append a table the kernel refuses, so the whole transaction fails. */
  readonly fault?: boolean;
}

export interface ReloadOutcome {
  readonly ok: boolean;
  /** nft's error when the kernel refused the transaction (nothing changed). */
  readonly message: string;
  /** Wall-clock time of the `nft -f` alone, ms. */
  readonly ms: number;
}

/** The one transaction a re-load sends (pure): stray cordon tables out, the rule set's tables replaced. */
export function reloadTransaction(ruleset: string, extra: readonly TableRef[], fault = false): string {
  return `${replacePreamble(extra)}${ruleset}${fault ? FAULT_TABLE : ''}`;
}

/** Loads the rule set again in one atomic `nft -f -` transaction in the target. */
export async function reloadRuleset(o: ReloadOptions): Promise<ReloadOutcome> {
  const r = await o.target.exec(['nft', '-f', '-'], { input: reloadTransaction(o.ruleset, o.extra, o.fault) });
  if (r.code !== 0) return { ok: false, message: `nft -f refused the re-load (nothing changed, the tables stay as they were): ${firstError(r)}`, ms: r.ms };
  return { ok: true, message: `re-loaded in one transaction (${Math.round(r.ms)} ms)`, ms: r.ms };
}

/**
 * The newest run of `cordon apply` in this target that loaded exactly `ruleset` and ended applied
 * (its checks passed on this text), or undefined. Only such a text may take the fast path: it is
 * the one whose checks a re-load may skip.
 */
export function appliedRun(stateRoot: string, target: Target, ruleset: string): RunDir | undefined {
  return listRuns(stateRoot, target.stateKey).find((r) => r.status() === 'applied' && r.read('rendered.nft') === ruleset);
}
