/**
 * The lab as a library: `upLab` plans and builds, `verifyLabFor` probes a running lab (or one it
 * builds for the purpose), `downLabs` removes, `listLabs` and `findLab` look them up, `labExec`
 * runs a command inside a host. The CLI (src/cli/commands/lab.ts), the tests and the benchmarks
 * call these; nothing here prints or exits the process: a signal during `upLab`/`verifyLabFor`
 * takes down what was built and rejects with `Interrupted` (src/system/interrupt.ts).
 */
import { randomInt } from 'node:crypto';
import { resolve } from 'node:path';
import type { Ir } from '../ir/types.js';
import { LAB_PREFIX_RE, internetNamespace, isLabNamespace, newLabPrefix, upstreamNamespace } from '../model/names.js';
import { runAttached } from '../system/exec.js';
import { withTeardown } from '../system/interrupt.js';
import { listNetns } from '../system/netns.js';
import { buildLab, labPrefixes, teardownLab, type BuildOptions, type BuildReport, type Progress, type TeardownReport } from './exec.js';
import { generatedKeys, placeholderKeys } from './keys.js';
import { planLab, type LabPlan } from './plan.js';
import { listStates, readState, type LabState } from './state.js';
import { verifyLab, type VerifyResult } from './verify.js';

/**
 * The lab a command names does not exist, is ambiguous or was built from another version of the
 * spec: the user's input is wrong, nothing on the machine failed.
 */
export class LabChoiceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LabChoiceError';
  }
}

/** Signal handling for the long-running calls: only a command line wants it (tests and servers do not). */
export interface SignalOptions {
  /** Take the lab down on SIGINT/SIGTERM/SIGHUP and reject with `Interrupted` (default false). */
  readonly handleSignals?: boolean;
  /** Told when such a signal arrives, before the teardown. */
  readonly onSignal?: (signal: NodeJS.Signals) => void;
}

/** A prefix no lab on this machine uses. */
export async function freshPrefix(): Promise<string> {
  const used = new Set(await labPrefixes());
  for (let i = 0; i < 1000; i++) {
    const p = newLabPrefix(() => randomInt(0, 0x10000) / 0x10000);
    if (!used.has(p)) return p;
  }
  throw new Error('no free lab prefix (too many labs on this machine?)');
}

/** The plan `lab up --dry-run` prints: the fixed prefix `cl0000` and placeholder keys, so it is deterministic. */
export function dryRunPlan(ir: Ir): LabPlan {
  return planLab(ir, { prefix: 'cl0000', keys: placeholderKeys() });
}

export interface UpResult {
  readonly plan: LabPlan;
  readonly report: BuildReport;
}

/**
 * Runs `work` on lab `prefix()`: the lab is taken down when `work` fails, on a signal (with
 * `handleSignals`; then the call rejects with `Interrupted`), and on success unless `keep()`.
 */
function guarded<T>(
  prefix: () => string | undefined,
  work: (signal: AbortSignal | undefined) => Promise<T>,
  opts: SignalOptions & { keep: () => boolean; say?: (p: Progress) => void },
): Promise<T> {
  const teardown = async (): Promise<void> => {
    const p = prefix();
    if (p !== undefined) await teardownLab(p, opts.say);
  };
  if (opts.handleSignals === true) return withTeardown(work, { teardown, keep: opts.keep, onSignal: opts.onSignal });
  return (async () => {
    let out: T;
    try {
      out = await work(undefined);
    } catch (e) {
      await teardown().catch(() => undefined);
      throw e;
    }
    if (!opts.keep()) await teardown().catch(() => undefined);
    return out;
  })();
}

/**
 * Plans and builds a lab for `ir` and leaves it running. On failure (and on a signal) everything
 * built so far is taken down before the error is rethrown.
 */
export async function upLab(ir: Ir, opts: BuildOptions & SignalOptions & { prefix?: string }): Promise<UpResult> {
  let prefix = opts.prefix;
  return guarded(
    () => prefix,
    async (signal) => {
      prefix ??= await freshPrefix();
      const plan = planLab(ir, { prefix, keys: generatedKeys() });
      return { plan, report: await buildLab(plan, { ...opts, signal: signal ?? opts.signal }) };
    },
    { ...opts, keep: () => true },
  );
}

export interface VerifyForOptions extends SignalOptions {
  /** The file the spec came from (to find a lab built from it). */
  readonly file: string;
  /** Use this running lab (its prefix) instead of looking one up. */
  readonly lab?: string;
  /** Leave a lab built for this verification running (default: remove it). */
  readonly keep?: boolean;
  /** How long a probe waits for its packet to arrive. */
  readonly timeoutMs: number;
  readonly say: (p: Progress) => void;
}

/**
 * Probes the lab of `file` live and compares it with the static matrix: the named lab, else the
 * running lab built from this version of the spec, else a new lab, removed afterwards unless `keep`.
 * Throws `LabChoiceError` when the named lab does not exist or was built from another version.
 */
export async function verifyLabFor(ir: Ir, opts: VerifyForOptions): Promise<VerifyResult> {
  let prefix: string | undefined;
  let built = false;
  return guarded(
    () => (built ? prefix : undefined),
    async (signal) => {
      const running =
        opts.lab !== undefined
          ? readState(opts.lab)
          : labsOf(opts.file)
              .filter((s) => s.status === 'up' && s.hash === ir.model.hash)
              .pop();
      if (opts.lab !== undefined && !running) throw new LabChoiceError(`no lab '${opts.lab}'`);
      if (running && running.hash !== ir.model.hash)
        throw new LabChoiceError(`lab ${running.prefix} was built from another version of ${opts.file}: cordon lab down ${running.prefix}, then up again`);
      prefix = running?.prefix ?? (await freshPrefix());
      if (!running) {
        built = true;
        await buildLab(planLab(ir, { prefix, keys: generatedKeys() }), { say: opts.say, ephemeral: opts.keep !== true, signal });
      }
      return verifyLab(ir, prefix, { timeoutMs: opts.timeoutMs, say: opts.say });
    },
    { ...opts, keep: () => opts.keep === true },
  );
}

export async function downLab(prefix: string, say?: (p: Progress) => void): Promise<TeardownReport> {
  return teardownLab(prefix, say);
}

/** Which labs `downLabs` removes: one prefix, the labs built from a spec file, or every lab on the machine. */
export type DownTarget = { readonly lab: string } | { readonly file: string } | { readonly all: true };

/**
 * Removes the labs `target` names: a prefix, the labs built from a spec file, or (`{ all: true }`,
 * asked for explicitly because other people's labs on a shared machine go too) every lab here,
 * registered or orphaned. Safe to repeat. Throws `LabChoiceError` for a prefix that is not one.
 */
export async function downLabs(target: DownTarget, say?: (p: Progress) => void): Promise<TeardownReport[]> {
  let prefixes: string[];
  if ('all' in target) prefixes = await labPrefixes();
  else if ('lab' in target) {
    if (!LAB_PREFIX_RE.test(target.lab)) throw new LabChoiceError(`'${target.lab}' is not a lab prefix (cl + 4 hex digits; see cordon lab list)`);
    prefixes = [target.lab];
  } else prefixes = labsOf(target.file).map((s) => s.prefix);
  const out: TeardownReport[] = [];
  for (const p of prefixes) out.push(await teardownLab(p, say));
  return out;
}

/** The newest lab built from `file` that is up, if any: `lab up` reuses it instead of building a second one. */
export function runningLabOf(file: string): LabState | undefined {
  return labsOf(file)
    .filter((s) => s.status === 'up' && !s.ephemeral)
    .pop();
}

/** Labs on this machine: registered ones, and prefixes of namespaces left without a registry entry. */
export async function listLabs(): Promise<{ labs: LabState[]; orphans: string[] }> {
  const labs = listStates();
  const orphans = (await labPrefixes()).filter((p) => !labs.some((s) => s.prefix === p));
  return { labs, orphans };
}

/** Labs of a spec file (by absolute path), newest last. */
export function labsOf(file: string): LabState[] {
  const abs = resolve(file);
  return listStates().filter((s) => s.file === abs || s.file === file);
}

/** The lab a command means: an explicit prefix, else the only lab running. */
export function findLab(prefix: string | undefined): LabState | { error: string } {
  if (prefix !== undefined) {
    const s = readState(prefix);
    return s ?? { error: `no lab '${prefix}' (see cordon lab list)` };
  }
  const all = listStates().filter((s) => s.status === 'up');
  if (all.length === 1) return all[0]!;
  if (all.length === 0) return { error: 'no lab is up (cordon lab up FILE)' };
  return { error: `${all.length} labs are up (${all.map((s) => s.prefix).join(', ')}): choose one with --lab PREFIX` };
}

/** The namespace of `host` in a lab (the spec's hosts, plus `internet` and `upstream`). */
export function hostNamespaceIn(st: LabState, host: string): string | undefined {
  if (st.hosts[host] !== undefined) return st.hosts[host];
  if (host === 'internet') return internetNamespace(st.prefix);
  if (host === 'upstream') return upstreamNamespace(st.prefix);
  return undefined;
}

/**
 * Runs `command` inside `host`'s namespace of lab `lab` (default: the only one up) on the caller's
 * terminal, with CORDON_LAB and CORDON_LAB_HOST set; resolves with its exit code. Throws
 * `LabChoiceError` when there is no such lab or host, or no command.
 */
export async function labExec(host: string, command: readonly string[], opts: { lab?: string; env?: Record<string, string> } = {}): Promise<number> {
  const st = findLab(opts.lab);
  if ('error' in st) throw new LabChoiceError(st.error);
  const ns = hostNamespaceIn(st, host);
  if (!ns) throw new LabChoiceError(`lab ${st.prefix} has no host '${host}' (hosts: ${Object.keys(st.hosts).join(', ')}, internet, upstream)`);
  if (command.length === 0) throw new LabChoiceError('no command given (cordon lab exec HOST -- CMD …)');
  return runAttached(['ip', 'netns', 'exec', ns, ...command], { env: { ...process.env, ...(opts.env ?? {}), CORDON_LAB: st.prefix, CORDON_LAB_HOST: host } });
}

/** Namespaces of labs left on the machine (for tests: none may remain). */
export async function leftoverNamespaces(prefix?: string): Promise<string[]> {
  return listNetns().filter((n) => isLabNamespace(n, prefix));
}
