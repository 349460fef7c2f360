/**
 * `cordon run` as a library call: resolve the options (options.ts), plan (plan.ts), record what
 * will be created (teardown.ts), then the named stages — network, limits, command
 * (stages/) — and teardown, also on failure and on interrupt. Orchestration only.
 *
 * Rootless (an ordinary user, no --host-netns): nothing is done in the machine's own namespace at
 * all — a holder process makes a user + network namespace of the run's own and pasta connects it
 * (rootless.ts, stages/rootless.ts); the same plan, policy and command stage otherwise.
 *
 * Safety (root): the only things done in the machine's own namespace are `ip netns add/del cs<id>`,
 * `ip link add cs<id>s netns cs<id> … peer … netns HOST` (the pair is born inside namespaces) and
 * cgroup directories named `cordon-<id>`. The veth's host end, forwarding and NAT live in the
 * namespace given as the host (`hostNetns`); the machine's own namespace is used for that only
 * when the caller says so in so many words (`iMeanTheHost`). Processes are ended by the PIDs
 * this run started (the command's process group, the cgroup's members) — never by name.
 * Teardown is safe to repeat and also runs on SIGINT/SIGTERM/SIGHUP, after which sandbox()
 * rejects with SandboxInterrupted: the library never exits the process.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VaultMount } from '../vault/index.js';
import { formatIPv4 } from '../util/ip.js';
import { checkTools, detectCgroup, freshId, procStart, usedSubnets } from './host.js';
import { listNetns } from '../system/netns.js';
import { resolveOptions, rootlessIcmpNote } from './options.js';
import { needsResolvConf, needsResolver, pickSubnet, planSandbox, resolvConfText, type SandboxPlan } from './plan.js';
import { commandStage } from './stages/command.js';
import { cgroupDirs, limitsStage } from './stages/limits.js';
import { networkStage, tunnelState, wgPrefix, type StageContext } from './stages/network.js';
import { rootlessNetworkStage } from './stages/rootless.js';
import { ROOTLESS_RESOLVER } from './rootless.js';
import { cleanupStale, makeStateDirs, stateDir, teardown, writeTeardownState, type Teardown } from './teardown.js';
import { startReaper, stopReaper } from './reaper.js';
import { SandboxError, SandboxInterrupted, type SandboxInput, type SandboxMode, type SandboxResult } from './types.js';

// The library's sandbox surface, where callers have always found it.
export {
  SandboxError,
  SandboxInterrupted,
  type CgroupVersion,
  type Counters,
  type DeniedAttempt,
  type ExitReason,
  type SandboxInput,
  type SandboxResult,
  type TunnelState,
} from './types.js';
export { defaultHidden, defaultMode, resolveOptions, TUNNEL_WAIT_MS } from './options.js';
export { detectCgroup } from './host.js';
export { cleanupStale, leftovers, stateDir } from './teardown.js';

const VAULT_PLACEHOLDER = '/tmp/cordon-vault-XXXX';

/** Plans without touching anything (for `--dry-run`): id and subnet are placeholders. */
export function dryRunPlan(input: SandboxInput): SandboxPlan {
  const opts = resolveOptions(input);
  const o = input.vault ? { ...opts, vaultDir: VAULT_PLACEHOLDER } : opts;
  return planSandbox(
    o,
    '000000',
    (opts.mode === 'filtered' || opts.mode === 'vpn-only') && !opts.rootless ? pickSubnet([]) : undefined,
    opts.rootless ? 'none' : detectCgroup(),
    '/tmp/cordon-000000-XXXX/resolv.conf',
  );
}

/**
 * Runs a command in a sandbox and resolves with its exit code (124 on timeout, 137 when killed
 * for memory), the reason, the denied attempts and the traffic counters. Everything created is
 * removed before it resolves, also when it throws; an interrupt (handleSignals, default on) kills
 * the command, removes everything and rejects with SandboxInterrupted.
 */
export async function sandbox(input: SandboxInput): Promise<SandboxResult> {
  const t0 = performance.now();
  const startedAt = Date.now();
  if (typeof process.getuid === 'function' && process.getuid() === 0) makeStateDirs();
  const opts = resolveOptions(input);
  checkTools(opts.mode, opts.rootless);
  if (opts.hostNetns !== undefined && !listNetns().includes(opts.hostNetns)) {
    throw new SandboxError(`host namespace '${opts.hostNetns}' does not exist (ip netns list)`);
  }
  const say = input.say ?? (() => undefined);
  const icmpNote = rootlessIcmpNote(opts);
  if (icmpNote !== undefined) say(icmpNote);
  await cleanupStale();
  // Rootless: cgroups are root's (--memory and --pids go through prlimit; --cpus is refused).
  const version = opts.rootless ? 'none' : detectCgroup();
  const id = freshId(opts.rootless);
  const egress = (opts.mode === 'filtered' || opts.mode === 'vpn-only') && !opts.rootless;
  const holder = opts.rootless && opts.mode !== 'isolated';
  const subnet = egress ? pickSubnet(await usedSubnets(opts.hostNetns), parseInt(id, 16) % 16384) : undefined;
  if (egress && !subnet) throw new SandboxError('no free /30 left in 10.213.0.0/16 in the host namespace');
  const tmp = needsResolvConf(opts) ? mkdtempSync(join(tmpdir(), `cordon-${id}-`)) : undefined;
  const resolvConf = tmp ? join(tmp, 'resolv.conf') : undefined;
  const resolverAddr = !needsResolver(opts) ? undefined : holder ? ROOTLESS_RESOLVER : subnet ? formatIPv4(subnet.addr + 1) : undefined;
  if (resolvConf !== undefined) writeFileSync(resolvConf, resolvConfText(opts, resolverAddr));
  // Planned once without the vault to know the names (namespace, cgroups) the state file records
  // before anything that could be left behind (the vault mount) exists.
  const draft = planSandbox(input.vault ? { ...opts, vaultDir: VAULT_PLACEHOLDER } : opts, id, subnet, version, resolvConf);
  const cgroups = cgroupDirs(draft, version);
  const td: Teardown = {
    id,
    ownerPid: process.pid,
    ownerStart: procStart(process.pid) ?? '',
    ns: draft.ns,
    hostNetns: draft.hostNetns,
    hostTable: draft.hostTable,
    cgroups,
    forwardWas: undefined,
    resolverPid: undefined,
    publishPids: [],
    wgPid: undefined,
    wgIf: undefined,
    vaultDir: undefined,
    vaultPrefix: input.vault ? join(tmpdir(), `cordon-vault-${id}-`) : undefined,
    tmp,
    // Rootless isolated with nothing on disk: the namespaces vanish with the command, which dies
    // with cordon (and never starts once cordon is gone: OWNER_ENV), so no file records anything.
    noStateFile: opts.rootless && !holder && tmp === undefined && input.vault === undefined,
  };
  writeTeardownState(td);
  // Whatever the state file records (root: the named namespaces, the host's NAT table, cgroups,
  // the resolver and forwarders; rootless: the temp dir), the reaper removes at once if cordon
  // dies (kill -9 included), not the next run.
  const reaper = td.noStateFile !== true ? startReaper(stateDir()) : undefined;
  td.reaperPid = reaper?.pid;
  const stops: (() => void)[] = [];
  const abort = new AbortController();
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted !== undefined) return;
    interrupted = sig;
    abort.abort();
  };
  const sigs: NodeJS.Signals[] = input.handleSignals === false ? [] : ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of sigs) process.on(s, onSignal);
  try {
    const vm = input.vault ? await mountVault(input.vault, td, say) : undefined;
    const plan = vm ? planSandbox({ ...opts, vaultDir: vm.dir }, id, subnet, version, resolvConf) : draft;
    if (input.envAll === true) say(`--env-all: all ${opts.envCounts.passed} environment variables pass into the sandbox, tokens and keys in them included`);
    const ctx: StageContext = { plan, opts, td, tmp, say, signal: abort.signal, stops };
    await (plan.rootless ? rootlessNetworkStage(ctx) : networkStage(ctx));
    say(startLine(id, opts.mode, plan.ns, opts.rootless));
    limitsStage(plan, version);
    const end = await commandStage(ctx, cgroups, version, input.stdio ?? 'inherit', startedAt);
    const tunnel = td.wgIf !== undefined ? await tunnelState(td.wgIf, wgPrefix(td)) : undefined;
    return { ...end, ...(tunnel ? { tunnel } : {}), id, ms: performance.now() - t0, env: opts.envCounts, hidden: opts.hide.length };
  } catch (e) {
    // Whatever a stage threw while stopping for an interrupt, the interrupt is the reason.
    if (interrupted !== undefined) throw new SandboxInterrupted(interrupted, id);
    throw e;
  } finally {
    for (const stop of stops) stop();
    await teardown(td);
    stopReaper(reaper);
    for (const s of sigs) process.off(s, onSignal);
    // A signal that came after the command ended but before teardown finished: still an interrupt.
    // eslint-disable-next-line no-unsafe-finally -- on purpose: the interrupt replaces the result or error above
    if (interrupted !== undefined) throw new SandboxInterrupted(interrupted, id);
  }
}

/** What a run says once its network is up, before the command starts (also the fast launcher's, src/sandbox/launcher.ts). */
export function startLine(id: string, mode: SandboxMode, ns: string | undefined, rootless: boolean): string {
  return `sandbox ${id}: ${mode}${ns ? ` in netns ${ns}` : ''}${rootless ? ' (rootless)' : ''}`;
}

/** Decrypts the vault session into a RAM-only mount, recorded for teardown. */
async function mountVault(v: NonNullable<SandboxInput['vault']>, td: Teardown, say: (line: string) => void): Promise<VaultMount> {
  let vm: VaultMount;
  try {
    // Loaded only for --vault: the crypto and retrieval code is a third of the run path's start-up.
    const { vaultMount } = await import('../vault/mount.js');
    vm = await vaultMount(v.session, { ...(v.options ?? {}), dirPrefix: `${td.id}-` });
  } catch (e) {
    throw new SandboxError(`vault session '${v.session}': ${(e as Error).message}`);
  }
  td.vaultDir = vm.dir;
  writeTeardownState(td);
  for (const w of vm.warnings) say(`vault: ${w}`);
  return vm;
}
