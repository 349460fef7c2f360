/**
 * `cordon apply FILE --host H --netns NS [--confirm S] [--dry-run]`, `--rollback`, `--confirm-token T`.
 *
 * Acts inside a named network namespace; acting on the machine's own namespace needs the explicit
 * `--i-mean-the-host`, so nobody replaces a host's firewall by forgetting a flag.
 * Exit codes: 0 applied · 1 apply failed (rolled back, or nothing changed: the message says
 * which) · 2 invalid input · 3 internal error. `--rollback`: 0 rolled back · 1 the rollback failed
 * · 4 nothing to roll back (nothing was changed).
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { applyRuleset, confirmRun, dryRun, rollbackLast, type Fault } from '../../apply/apply.js';
import { FAULTS } from '../../apply/faults.js';
import { hostTarget, netnsTarget, type Target } from '../../apply/target.js';
import { listNetns } from '../../system/netns.js';
import { DEFAULT_STATE_ROOT } from '../../apply/state.js';
import { enforcingHosts, nftablesRenderer } from '../../render/nftables/index.js';
import { guarded } from '../../render/guard.js';
import { unknownNameHint } from '../../util/suggest.js';
import { EXIT, ExitError } from '../io.js';
import { loadIr, printDiagnostics } from '../load.js';
import type { Ir } from '../../ir/types.js';
import { IFACE_TARGETS, type IfaceTarget } from '../../apply/iface-state.js';
import { applyInterfacesCommand, ifaceConfirmOrRollback } from './apply-interfaces.js';

const APPLY_TARGETS = ['nftables', ...IFACE_TARGETS] as const;

interface ApplyFlags {
  host?: string;
  netns?: string;
  iMeanTheHost?: boolean;
  confirm?: string;
  confirmToken?: string;
  dryRun?: boolean;
  rollback?: boolean;
  stateDir?: string;
  target?: string;
  root?: string;
}

export async function chooseTarget(opts: Pick<ApplyFlags, 'netns' | 'iMeanTheHost'>): Promise<Target> {
  if (opts.netns !== undefined && opts.iMeanTheHost) throw new ExitError(EXIT.invalid, 'give either --netns NAME or --i-mean-the-host, not both');
  if (opts.iMeanTheHost) return hostTarget();
  if (opts.netns === undefined) {
    throw new ExitError(
      EXIT.invalid,
      "refusing to act on the machine's own network namespace: say where with --netns NAME, or pass --i-mean-the-host if replacing this machine's cordon tables is really what you want",
    );
  }
  let t: Target;
  try {
    t = netnsTarget(opts.netns);
  } catch (e) {
    throw new ExitError(EXIT.invalid, `--netns: ${(e as Error).message}`);
  }
  const known = listNetns();
  if (!known.includes(opts.netns)) throw new ExitError(EXIT.invalid, `--netns: no network namespace '${opts.netns}' (${unknownNameHint(opts.netns, known)})`);
  return t;
}

/** `--rollback` found no pending or applied run: distinct from a failed rollback, so scripts can tell. */
const NOTHING_TO_ROLL_BACK = 4;

function faultFromEnv(): Fault | undefined {
  const f = process.env.CORDON_APPLY_INJECT_FAULT;
  if (f === undefined || f === '') return undefined;
  const known = FAULTS.find((x) => x === f);
  if (known) return known;
  throw new ExitError(EXIT.invalid, `CORDON_APPLY_INJECT_FAULT must be one of ${FAULTS.join(', ')}; got '${f}'`);
}

function say(line: string): void {
  try {
    process.stderr.write(`${line}\n`);
  } catch {
    // The terminal may be gone (a dropped SSH session); apply must go on regardless.
  }
}

/**
 * The host whose rule set apply (and guard) load: the one given with --host, which must enforce a
 * cordon chain, or the spec's only enforcing host.
 */
export function chooseEnforcingHost(ir: Ir, requested: string | undefined): string {
  const hosts = enforcingHosts(ir);
  if (requested === undefined) {
    if (hosts.length !== 1)
      throw new ExitError(
        EXIT.invalid,
        `--host is needed: this spec has ${hosts.length === 0 ? 'no host that enforces rules' : `several enforcing hosts (${hosts.join(', ')})`}`,
      );
    return hosts[0]!;
  }
  if (!hosts.includes(requested)) throw new ExitError(EXIT.invalid, `--host: '${requested}' enforces no cordon chain (${unknownNameHint(requested, hosts)})`);
  return requested;
}
function confirmSecondsOf(confirm: string, dryRun: boolean | undefined): number {
  if (!/^\d+$/.test(confirm) || Number(confirm) < 1 || Number(confirm) > 86400)
    throw new ExitError(EXIT.invalid, `--confirm must be a whole number of seconds from 1 to 86400, got '${confirm}'`);
  if (dryRun) throw new ExitError(EXIT.invalid, '--confirm and --dry-run do not go together');
  return Number(confirm);
}

export function registerApply(program: Command): void {
  program
    .command('apply')
    .description('load the rendered nftables rule set atomically, check it by reading it back, roll back on failure or without confirmation')
    .argument('[file]', 'spec file')
    .option('--host <name>', 'the host whose rule set to load (default: the only enforcing host)')
    .option('--netns <name>', 'act inside this network namespace (required unless --i-mean-the-host)')
    .option('--i-mean-the-host', "act on this machine's own network namespace")
    .option('--confirm <seconds>', 'roll back unless confirmed within SECONDS')
    .option('--confirm-token <token>', 'confirm a pending apply (printed by apply --confirm)')
    .option('--dry-run', 'print the diff against the loaded cordon tables; change nothing')
    .option('--rollback', 'roll back the apply waiting for confirmation now, else restore the snapshot taken before the last applied run')
    .option('--target <name>', `what to apply: ${APPLY_TARGETS.join(', ')} (default nftables)`)
    .option(
      '--root <dir>',
      'interface targets: write the rendered file under DIR (DIR/etc/network/interfaces, DIR/etc/netplan/00-cordon.yaml); needed with --netns',
    )
    .option('--state-dir <dir>', `where snapshots are kept (default ${DEFAULT_STATE_ROOT}, or $CORDON_STATE_DIR)`)
    .addHelpText(
      'after',
      `
Exit codes: 0 applied · 1 apply failed (rolled back, or nothing changed) · 2 invalid input · 3 internal error
  --rollback: 0 rolled back · 1 the rollback failed · 4 nothing to roll back (nothing changed)

With --confirm, a detached watchdog process holds the rollback: it rolls back at the deadline
even if this command is killed (kill -9) or its terminal closes. --rollback rolls a pending
apply back at once and ends its watchdog.

--target ifupdown|netplan applies a host's interface file instead of its rule set: the bridges
(created, STP off, forward delay 0), their ports, addresses, up/down and routes that the file
describes are set with one 'ip -batch' in the target after a snapshot (ip -j) of the same links,
addresses and routes; it is read back and compared, and any failure (a missing nic or port stops
it before any change) restores the snapshot. --confirm, the watchdog, --confirm-token and
--rollback work as for nftables (add --target). A run killed half-way is restored by the next
run or by --rollback. The file is then written under --root (DIR/etc/network/interfaces 0644,
DIR/etc/netplan/00-cordon.yaml 0600, through a temporary file and a rename).
cordon does not run netplan or ifup itself: they act on the whole machine through its network
daemons and cannot roll back. On a real host, hand the written file to them with
  netplan try            (netplan; then netplan apply)
  ifreload -a            (ifupdown2, as on Proxmox)  or  systemctl restart networking (ifupdown)

Examples:
  cordon apply examples/proxmox-dual-bridge.yaml --host pve --netns lab-pve --dry-run
  cordon apply examples/proxmox-dual-bridge.yaml --host pve --netns lab-pve --confirm 60
  cordon apply --confirm-token 3f2a… --netns lab-pve
  cordon apply --rollback --netns lab-pve
  cordon apply examples/proxmox-dual-bridge.yaml --target ifupdown --host pve --netns lab-pve --root /tmp/pve-root --confirm 60`,
    )
    .action(async (file: string | undefined, opts: ApplyFlags) => {
      const stateRoot = resolve(opts.stateDir ?? process.env.CORDON_STATE_DIR ?? DEFAULT_STATE_ROOT);
      const modes = [
        opts.rollback ? '--rollback' : undefined,
        opts.confirmToken !== undefined ? '--confirm-token' : undefined,
        file !== undefined ? 'FILE' : undefined,
      ].filter((x) => x !== undefined);
      if (modes.length !== 1)
        throw new ExitError(
          EXIT.invalid,
          modes.length === 0 ? 'apply needs a spec file (or --rollback, or --confirm-token TOKEN)' : `give only one of ${modes.join(', ')}`,
        );
      const target = await chooseTarget(opts);
      const kind = opts.target ?? 'nftables';
      if (!APPLY_TARGETS.includes(kind as (typeof APPLY_TARGETS)[number]))
        throw new ExitError(EXIT.invalid, `--target must be one of ${APPLY_TARGETS.join(', ')}; got '${kind}'`);
      if (opts.root !== undefined && kind === 'nftables') throw new ExitError(EXIT.invalid, '--root goes with --target ifupdown or netplan');
      if (kind !== 'nftables') {
        if (opts.confirmToken !== undefined || opts.rollback) return ifaceConfirmOrRollback(target, stateRoot, opts.confirmToken);
        let confirmSeconds: number | undefined;
        if (opts.confirm !== undefined) confirmSeconds = confirmSecondsOf(opts.confirm, opts.dryRun);
        return applyInterfacesCommand(file!, kind as IfaceTarget, target, stateRoot, { ...opts, confirmSeconds });
      }

      if (opts.confirmToken !== undefined) {
        const r = await confirmRun(stateRoot, target.stateKey, opts.confirmToken);
        process.stdout.write(`${r.message}\n`);
        process.exitCode = r.ok ? EXIT.ok : r.invalid ? EXIT.invalid : EXIT.failed;
        return;
      }
      if (opts.rollback) {
        const r = await rollbackLast(target, stateRoot);
        if (r.outcome === 'rolled-back') process.stdout.write(`${r.message}\n`);
        else say(`cordon apply --rollback: ${r.outcome === 'failed' ? 'rollback failed: ' : ''}${r.message}`);
        process.exitCode = r.outcome === 'rolled-back' ? EXIT.ok : r.outcome === 'failed' ? EXIT.failed : NOTHING_TO_ROLL_BACK;
        return;
      }

      const confirmSeconds = opts.confirm !== undefined ? confirmSecondsOf(opts.confirm, opts.dryRun) : undefined;
      const fault = faultFromEnv();
      const ir = loadIr(file!);
      const host = chooseEnforcingHost(ir, opts.host);
      // Guarded: a value the emitter refuses becomes a diagnostic here, not an internal error.
      const rendered = guarded(nftablesRenderer).render(ir, { host, params: new Map() });
      printDiagnostics(rendered.diagnostics, undefined);
      if (rendered.diagnostics.some((d) => d.severity === 'error'))
        throw new ExitError(EXIT.invalid, `the nftables target cannot express this spec for ${host}; nothing was changed`);
      const ruleset = rendered.files[0]?.content;
      if (ruleset === undefined) throw new ExitError(EXIT.internal, `the nftables target produced no file for ${host}`);

      if (opts.dryRun) {
        const d = await dryRun(target, ruleset, host);
        if (d.note) say(`note: ${d.note}`);
        process.stdout.write(d.changed ? d.diff : `no changes: cordon's tables in ${target.label} already match the rule set for ${host}\n`);
        return;
      }

      const out = await applyRuleset({
        target,
        host,
        ruleset,
        ir,
        stateRoot,
        confirmSeconds,
        confirmHint: (token) =>
          `cordon apply --confirm-token ${token} ${target.netns !== undefined ? `--netns ${target.netns}` : '--i-mean-the-host'}${opts.stateDir !== undefined ? ` --state-dir ${stateRoot}` : ''}`,
        interactive: process.stdin.isTTY === true,
        fault,
        say,
      });
      for (const d of out.differences) say(`  ${d}`);
      if (out.status === 'applied') {
        process.stdout.write(`${out.message}\n`);
        process.exitCode = EXIT.ok;
      } else {
        say(
          `cordon apply: ${out.status === 'unchanged' ? 'not applied' : out.status === 'rolled-back' ? 'apply failed and was rolled back' : 'apply failed and the rollback failed too'}: ${out.message}`,
        );
        process.exitCode = EXIT.failed;
      }
    });
}
