/**
 * `cordon apply FILE --target ifupdown|netplan --host H (--netns NS --root DIR | --i-mean-the-host)`:
 * the interface half of apply (src/apply/iface-apply.ts), called by apply.ts. Renders the file,
 * computes the state it describes from the model, activates it in the target with rollback, writes
 * the file under DIR, and prints the command that hands the file to the system's own network
 * manager on a real host.
 */
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { applyInterfaces, IFACE_FAULTS, ifaceKeyedTarget, recoverAbandoned, type IfaceFault, type IfaceFile } from '../../apply/iface-apply.js';
import { activationCommand, PlanError, planBatch, wantedState, type IfaceTarget } from '../../apply/iface-state.js';
import { observe } from '../../apply/iface-snapshot.js';
import { confirmRun, rollbackLast } from '../../apply/apply.js';
import type { Target } from '../../apply/target.js';
import { guarded } from '../../render/guard.js';
import { ifupdownHosts, ifupdownRenderer } from '../../render/ifupdown/index.js';
import { netplanHosts, netplanRenderer } from '../../render/netplan/index.js';
import { unknownNameHint } from '../../util/suggest.js';
import { EXIT, ExitError } from '../io.js';
import { loadIr, printDiagnostics } from '../load.js';

/** Where each format's file goes under the root, and its mode: netplan refuses to trust a world-readable file, ifupdown's is 0644 as Debian ships it. */
const DESTINATION: Readonly<Record<IfaceTarget, { path: string; mode: number }>> = {
  ifupdown: { path: 'etc/network/interfaces', mode: 0o644 },
  netplan: { path: 'etc/netplan/00-cordon.yaml', mode: 0o600 },
};

export interface IfaceFlags {
  host?: string;
  root?: string;
  confirmSeconds?: number;
  dryRun?: boolean;
  stateDir?: string;
}

function faultFromEnv(): IfaceFault | undefined {
  const f = process.env.CORDON_APPLY_INJECT_FAULT;
  if (f === undefined || f === '') return undefined;
  const known = IFACE_FAULTS.find((x) => x === f);
  if (known) return known;
  throw new ExitError(EXIT.invalid, `CORDON_APPLY_INJECT_FAULT with an interface target must be one of ${IFACE_FAULTS.join(', ')}; got '${f}'`);
}

function chooseRoot(target: Target, root: string | undefined): string {
  if (root === undefined) {
    if (target.netns !== undefined)
      throw new ExitError(
        EXIT.invalid,
        "--root DIR is needed with --netns: the interfaces change inside the namespace, but the files would land in this machine's own /etc",
        'give --root DIR (the files go to DIR/etc/...), or --i-mean-the-host to write /etc on this machine',
      );
    return '/';
  }
  const abs = resolve(root);
  let isDir = false;
  try {
    isDir = statSync(abs).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) throw new ExitError(EXIT.invalid, `--root: ${abs} is not a directory`);
  return abs;
}

function say(line: string): void {
  try {
    process.stderr.write(`${line}\n`);
  } catch {
    // The terminal may be gone; apply goes on.
  }
}

/** `--confirm-token` and `--rollback` for interface runs. */
export async function ifaceConfirmOrRollback(target: Target, stateRoot: string, token: string | undefined): Promise<void> {
  const keyed = ifaceKeyedTarget(target);
  if (token !== undefined) {
    const r = await confirmRun(stateRoot, keyed.stateKey, token);
    process.stdout.write(`${r.message}\n`);
    process.exitCode = r.ok ? EXIT.ok : r.invalid ? EXIT.invalid : EXIT.failed;
    return;
  }
  const rec = await recoverAbandoned(target, stateRoot, say);
  if (rec.recovered > 0) {
    process.exitCode = rec.ok ? EXIT.ok : EXIT.failed;
    return;
  }
  const r = await rollbackLast(keyed, stateRoot);
  if (r.outcome === 'rolled-back') process.stdout.write(`${r.message}\n`);
  else say(`cordon apply --rollback: ${r.outcome === 'failed' ? 'rollback failed: ' : ''}${r.message}`);
  process.exitCode = r.outcome === 'rolled-back' ? EXIT.ok : r.outcome === 'failed' ? EXIT.failed : 4;
}

export async function applyInterfacesCommand(file: string, format: IfaceTarget, target: Target, stateRoot: string, flags: IfaceFlags): Promise<void> {
  const fault = faultFromEnv();
  const ir = loadIr(file);
  const hosts = (format === 'netplan' ? netplanHosts : ifupdownHosts)(ir.model).map((h) => h.name);
  let host = flags.host;
  if (host === undefined) {
    if (hosts.length !== 1)
      throw new ExitError(EXIT.invalid, `--host is needed: the ${format} target writes files for ${hosts.length === 0 ? 'no host' : hosts.join(', ')}`);
    host = hosts[0]!;
  }
  if (!hosts.includes(host)) throw new ExitError(EXIT.invalid, `--host: the ${format} target writes no file for '${host}' (${unknownNameHint(host, hosts)})`);
  const renderer = format === 'netplan' ? netplanRenderer : ifupdownRenderer;
  const rendered = guarded(renderer).render(ir, { host, params: new Map() });
  printDiagnostics(rendered.diagnostics, undefined);
  if (rendered.diagnostics.some((d) => d.severity === 'error'))
    throw new ExitError(EXIT.invalid, `the ${format} target cannot express this spec for ${host}; nothing was changed`);
  const content = rendered.files[0]?.content;
  if (content === undefined) throw new ExitError(EXIT.internal, `the ${format} target produced no file for ${host}`);
  let want;
  try {
    want = wantedState(ir.model, ir.model.hosts.get(host)!, format);
  } catch (e) {
    if (e instanceof PlanError) throw new ExitError(EXIT.invalid, `${e.message}; nothing was changed`);
    throw e;
  }
  const root = flags.dryRun ? undefined : chooseRoot(target, flags.root);
  const dest = DESTINATION[format];
  if (flags.dryRun) {
    // What apply would run, from the state now; a missing nic or port is said the same way.
    try {
      const lines = planBatch(await observe(target, want.scope), want);
      process.stdout.write(lines.length ? `${lines.join('\n')}\n` : `no changes: ${target.label} already has the ${format} interface state of ${host}\n`);
    } catch (e) {
      if (!(e instanceof PlanError)) throw e;
      say(`cordon apply --dry-run: ${e.message}`);
      process.exitCode = EXIT.failed;
    }
    return;
  }
  const files: IfaceFile[] = [{ path: join(root!, dest.path), content, mode: dest.mode }];
  try {
    statSync(join(root!, dest.path, '..'));
  } catch {
    throw new ExitError(EXIT.invalid, `--root: ${join(root!, dest.path, '..')} does not exist; nothing was changed`);
  }
  const out = await applyInterfaces({
    target,
    host,
    format,
    want,
    files,
    stateRoot,
    confirmSeconds: flags.confirmSeconds,
    confirmHint: (token) =>
      `cordon apply --target ${format} --confirm-token ${token} ${target.netns !== undefined ? `--netns ${target.netns}` : '--i-mean-the-host'}${flags.stateDir !== undefined ? ` --state-dir ${stateRoot}` : ''}`,
    interactive: process.stdin.isTTY === true,
    fault,
    say,
  });
  for (const d of out.differences) say(`  ${d}`);
  if (out.status === 'applied') {
    process.stdout.write(`${out.message}\n`);
    process.stdout.write(`To hand ${files[0]!.path} to this system's own network manager (and keep it across reboots), run: ${activationCommand(format)}\n`);
    process.exitCode = EXIT.ok;
  } else {
    say(
      `cordon apply: ${out.status === 'unchanged' ? 'not applied' : out.status === 'rolled-back' ? 'apply failed and was rolled back' : 'apply failed and the rollback failed too'}: ${out.message}`,
    );
    process.exitCode = EXIT.failed;
  }
}
