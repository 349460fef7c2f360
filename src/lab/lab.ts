/**
 * The lab as a library: `upLab` plans and builds, `downLab` removes, `findLab` looks one up.
 * The CLI (src/cli/commands/lab.ts) and the tests call these; nothing here prints.
 */
import { createPublicKey, generateKeyPairSync, randomInt } from 'node:crypto';
import { resolve } from 'node:path';
import { listNetns } from '../apply/exec.js';
import type { Ir } from '../ir/types.js';
import { buildLab, labPrefixes, teardownLab, type BuildOptions, type BuildReport, type Progress } from './exec.js';
import { newPrefix, isLabNamespace } from './names.js';
import { planLab, type KeyPair, type LabPlan } from './plan.js';
import { listStates, readState, type LabState } from './state.js';

/** A fresh X25519 key pair in WireGuard's base64 form. */
export function wgKeyPair(): KeyPair {
  const { privateKey } = generateKeyPairSync('x25519');
  const jwk = privateKey.export({ format: 'jwk' });
  const pub = createPublicKey(privateKey).export({ format: 'jwk' });
  const b64 = (u: string | undefined): string => Buffer.from(u ?? '', 'base64url').toString('base64');
  return { privateKey: b64(jwk.d), publicKey: b64(pub.x) };
}

/** Key source for a plan: one generated pair per (host, tunnel), stable within the plan. */
export function generatedKeys(): (host: string, tunnel: string) => KeyPair {
  const cache = new Map<string, KeyPair>();
  return (host, tunnel) => {
    const k = `${host}\0${tunnel}`;
    let kp = cache.get(k);
    if (!kp) {
      kp = wgKeyPair();
      cache.set(k, kp);
    }
    return kp;
  };
}

/** Placeholder keys for plans that are only printed or used for their layout. */
export function placeholderKeys(): (host: string, tunnel: string) => KeyPair {
  return () => ({ privateKey: '<generated>', publicKey: '<generated>' });
}

/** A prefix no lab on this machine uses. */
export async function freshPrefix(): Promise<string> {
  const used = new Set(await labPrefixes());
  for (let i = 0; i < 1000; i++) {
    const p = newPrefix(() => randomInt(0, 0x10000) / 0x10000);
    if (!used.has(p)) return p;
  }
  throw new Error('no free lab prefix (too many labs on this machine?)');
}

export interface UpResult {
  readonly plan: LabPlan;
  readonly report: BuildReport;
}

/**
 * Plans and builds a lab for `ir`. On failure (and on the abort signal) everything built so far
 * is taken down before the error is rethrown.
 */
export async function upLab(ir: Ir, opts: BuildOptions & { prefix?: string; signal?: AbortSignal }): Promise<UpResult> {
  const prefix = opts.prefix ?? (await freshPrefix());
  const plan = planLab(ir, { prefix, keys: generatedKeys() });
  try {
    const report = await buildLab(plan, opts);
    return { plan, report };
  } catch (e) {
    await teardownLab(prefix, opts.say).catch(() => undefined);
    throw e;
  }
}

export async function downLab(prefix: string, say?: (p: Progress) => void): Promise<void> {
  await teardownLab(prefix, say);
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

/** Namespaces of labs left on the machine (for tests: none may remain). */
export async function leftoverNamespaces(prefix?: string): Promise<string[]> {
  return (await listNetns()).filter((n) => isLabNamespace(n, prefix));
}

/**
 * Runs `fn` with the lab `prefix` taken down when it throws, or when SIGINT/SIGTERM/SIGHUP arrive
 * (then the process exits 130). Handlers are removed afterwards.
 */
export async function withCleanup<T>(prefix: () => string | undefined, fn: () => Promise<T>, opts: { keep: () => boolean; say?: (p: Progress) => void }): Promise<T> {
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    const p = prefix();
    process.stderr.write(`\ncordon lab: ${sig}: taking the lab down…\n`);
    const done = (): void => process.exit(130);
    if (p) teardownLab(p, opts.say).then(done, done);
    else done();
  };
  const sigs: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of sigs) process.on(s, onSignal);
  try {
    const out = await fn();
    return out;
  } catch (e) {
    const p = prefix();
    if (p && !stopping) await teardownLab(p, opts.say).catch(() => undefined);
    throw e;
  } finally {
    if (!stopping) {
      const p = prefix();
      if (p && !opts.keep()) await teardownLab(p, opts.say).catch(() => undefined);
    }
    for (const s of sigs) process.off(s, onSignal);
  }
}
