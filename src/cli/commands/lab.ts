/**
 * `cordon lab up|verify|attack|down|list|exec|shell`: the spec, built for real on this machine in
 * network namespaces, probed from inside, compared with the static verifier.
 */
import type { Command } from 'commander';
import pc from 'picocolors';
import { attackLab, attackToText } from '../../lab/attack.js';
import type { Progress } from '../../lab/exec.js';
import { downLabs, dryRunPlan, findLab, LabChoiceError, labExec, listLabs, runningLabOf, upLab, verifyLabFor, type DownTarget } from '../../lab/lab.js';
import { planToText } from '../../lab/plan.js';
import { verifyToText } from '../../lab/text.js';
import { verifyToJson } from '../../lab/verify.js';
import { Interrupted, INTERRUPTED_EXIT } from '../../system/interrupt.js';
import { EXIT, ExitError, printJson, useColor } from '../io.js';
import { loadIr } from '../load.js';
import { listStates } from '../../lab/state.js';
import { labGuardHosts, labGuardSummary, startLabGuard, type LabGuardStarted } from './lab-guard.js';
import { addReportOptions, anyReportFlag, reportSettings, type ReportFlags } from './report-flags.js';
import { LAB_PREFIX_RE } from '../../model/names.js';

interface LabUpFlags extends ReportFlags {
  dryRun?: boolean;
  again?: boolean;
  json?: boolean;
  guard?: boolean;
  metrics?: string;
  events?: string;
}

function requireRoot(): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new ExitError(EXIT.invalid, 'the lab creates network namespaces and needs root');
  }
}

/** Progress on stderr: one line per stage; redrawn in place on a terminal. */
function progress(json: boolean): (p: Progress) => void {
  const tty = process.stderr.isTTY === true && !json;
  const c = pc.createColors(useColor(process.stderr));
  return (p) => {
    if (json) {
      if (p.event !== 'note') process.stderr.write(`${JSON.stringify({ progress: p.stage, event: p.event, steps: p.steps, ms: Math.round(p.ms) })}\n`);
      return;
    }
    const label = p.stage === 'teardown' ? `teardown ${p.message ?? ''}` : `${p.stage} (${p.steps})`;
    if (p.event === 'start') {
      if (tty) process.stderr.write(`${c.dim('…')} ${label}`);
    } else if (p.event === 'done') {
      const line = `${c.green('✓')} ${label} ${c.dim(`${p.ms.toFixed(0)} ms`)}`;
      process.stderr.write(tty ? `\r\x1b[2K${line}\n` : `${line}\n`);
    } else if (p.message) {
      process.stderr.write(tty ? `\r\x1b[2K${c.dim(p.message)}` : `${p.message}\n`);
    }
  };
}

/** What the lab library does on a signal, said on stderr before it takes the lab down. */
function onSignal(sig: NodeJS.Signals): void {
  process.stderr.write(`\ncordon lab: ${sig}: taking the lab down…\n`);
}

/** The library's errors as exit codes: a signal is 130, a wrong lab or host is the user's input. */
function exitFor(e: unknown): unknown {
  if (e instanceof Interrupted) return new ExitError(INTERRUPTED_EXIT);
  if (e instanceof LabChoiceError) return new ExitError(EXIT.invalid, e.message);
  return e;
}

export function registerLab(program: Command): void {
  const lab = program
    .command('lab')
    .description('build the spec on this machine (network namespaces, bridges, veth, nftables, WireGuard), probe it live and compare with the static matrix')
    .addHelpText(
      'after',
      `
Every name carries a run-unique prefix (cl + 4 hex digits); nothing is routed through the machine's
own namespace and no packet leaves the machine. Needs root, iproute2, nftables, perl; tunnels need
wireguard-go and wireguard-tools, DNS needs dnsmasq.

Examples:
  cordon lab up examples/proxmox-dual-bridge.yaml
  cordon lab exec agentfarm -- ping -c1 8.8.8.8
  cordon lab verify examples/proxmox-dual-bridge.yaml
  cordon lab attack agentfarm
  cordon lab down examples/proxmox-dual-bridge.yaml     # or: cordon lab down --lab PREFIX · --all`,
    );

  const up = lab
    .command('up')
    .description('build the lab and leave it running (until cordon lab down)')
    .argument('<file>', 'spec file')
    .option('--dry-run', 'print the plan (every command, stage by stage) and change nothing')
    .option('--again', 'build another lab even when one of FILE is already up')
    .option('--json', 'machine-readable result on stdout')
    .option('--guard', 'also start one guard for the whole lab (blocked attempts, drift, VPN health); lab down stops it')
    .option('--metrics <addr>', "with --guard: serve the guard's metrics at http://ADDR/metrics (127.0.0.1:PORT)")
    .option('--events <file>', "with --guard: the guard's events as JSON lines (default: guard.jsonl in the lab's directory)");
  addReportOptions(up, 'with --guard: ')
    .addHelpText(
      'after',
      `
With --report-to, the token (from --token-file, $CORDON_REPORT_TOKEN or --token) reaches the lab's guard
in its environment, never on its command line; its spool defaults to report/ in the lab's directory.`,
    )
    .action(async (file: string, opts: LabUpFlags) => {
      if (!opts.guard && (opts.metrics !== undefined || opts.events !== undefined || anyReportFlag(opts)))
        throw new ExitError(EXIT.invalid, '--metrics, --events and the --report-to flags go with --guard');
      // Checked before anything is built: a lab is not built for a guard that cannot report.
      const reportTo = opts.guard ? reportSettings(opts, (l) => process.stderr.write(`cordon lab up: ${l}\n`)) : undefined;
      const ir = loadIr(file, { quietWarnings: opts.json });
      if (opts.dryRun) {
        process.stdout.write(planToText(dryRunPlan(ir)));
        return;
      }
      requireRoot();
      // One lab per spec unless asked: a second `lab up` would otherwise double every namespace and
      // make `lab exec`/`attack` ambiguous.
      const running = opts.again ? undefined : runningLabOf(file);
      if (running && running.hash !== ir.model.hash)
        throw new ExitError(
          EXIT.invalid,
          `lab ${running.prefix} of ${file} is up but was built from another version of it: cordon lab down --lab ${running.prefix} first, or lab up --again for a second lab`,
        );
      if (running) {
        if (opts.json) return printJson({ prefix: running.prefix, file, alreadyUp: true, namespaces: running.namespaces });
        process.stdout.write(
          `lab ${running.prefix} of ${file} is already up (since ${running.createdAt}); nothing built (--again builds a second one)\n` +
            `\nNext: cordon lab exec HOST -- CMD · cordon lab verify ${file} · cordon lab down --lab ${running.prefix}\n`,
        );
        return;
      }
      const say = progress(opts.json === true);
      const report = await upLab(ir, { say, handleSignals: true, onSignal }).catch((e: Error) => {
        if (e instanceof Interrupted) throw exitFor(e);
        throw new ExitError(EXIT.failed, `lab up failed: ${e.message} (everything built was removed)`);
      });
      const { plan, report: r } = report;
      let guard: LabGuardStarted | undefined;
      if (opts.guard) {
        const st = findLab(plan.prefix);
        const hosts = 'error' in st ? 0 : labGuardHosts(ir, st).length;
        try {
          if (hosts === 0) throw new ExitError(EXIT.failed, 'no host of the lab enforces rules');
          guard = await startLabGuard(file, plan.prefix, hosts, { metrics: opts.metrics, events: opts.events, report: reportTo });
        } catch (e) {
          // A lab asked for with a guard is not left up without one.
          await downLabs({ lab: plan.prefix }).catch(() => undefined);
          throw new ExitError(EXIT.failed, `lab up --guard: ${(e as Error).message} (the lab was taken down)`);
        }
      }
      if (opts.json) {
        printJson({
          prefix: plan.prefix,
          file,
          ms: Math.round(r.ms),
          stages: r.stages.map((s) => ({ ...s, ms: Math.round(s.ms) })),
          namespaces: plan.namespaces,
          tunnels: r.tunnels,
          warnings: r.warnings,
          notes: plan.notes,
          ...(guard
            ? { guard: { pid: guard.pid, events: guard.events, metrics: guard.metrics ?? null, ...(guard.report ? { report: guard.report } : {}) } }
            : {}),
        });
        return;
      }
      const c = pc.createColors(useColor());
      process.stdout.write(
        `${c.bold(`lab ${plan.prefix}`)} up in ${r.ms.toFixed(0)} ms: ${plan.layout.hostNs.size} hosts, ${plan.namespaces.length} namespaces\n`,
      );
      for (const t of r.tunnels)
        process.stdout.write(
          `  tunnel ${t.tunnel}: ${t.host} ${t.up ? c.green('handshake done') : t.expectUp ? c.red('no handshake') : c.yellow('no handshake (transport blocked, as cordon predicts)')}\n`,
        );
      for (const w of r.warnings) process.stdout.write(`  ${c.yellow('warning')} ${w}\n`);
      for (const n of plan.notes) process.stdout.write(`  ${c.dim(`note: ${n}`)}\n`);
      if (guard)
        process.stdout.write(
          `  guard: pid ${guard.pid}, events in ${guard.events}${guard.metrics ? `, metrics at ${guard.metrics}` : ''}${guard.report ? `, reporting to ${guard.report.to} (spool ${guard.report.spool})` : ''}\n`,
        );
      process.stdout.write(`\nNext: cordon lab exec HOST -- CMD · cordon lab shell HOST · cordon lab verify ${file} · cordon lab down --lab ${plan.prefix}\n`);
    });

  lab
    .command('verify')
    .description(
      'probe every pair live (tcp, udp, icmp) and compare with the static matrix; any difference is an error. Uses the running lab of FILE, else builds one and removes it afterwards',
    )
    .argument('<file>', 'spec file')
    .option('--keep', 'leave a lab it built running')
    .option('--lab <prefix>', 'use this running lab')
    .option('--timeout <ms>', 'how long a probe waits for its packet to arrive', '500')
    .option('--json', 'machine-readable result on stdout')
    .option('-v, --verbose', 'list every probe, not only differences')
    .action(async (file: string, opts: { keep?: boolean; lab?: string; timeout: string; json?: boolean; verbose?: boolean }) => {
      requireRoot();
      const ir = loadIr(file, { quietWarnings: true });
      const say = progress(opts.json === true);
      const result = await verifyLabFor(ir, {
        file,
        lab: opts.lab,
        keep: opts.keep === true,
        timeoutMs: Number(opts.timeout),
        say,
        handleSignals: true,
        onSignal,
      }).catch((e: unknown) => {
        throw exitFor(e);
      });
      if (opts.json) printJson(verifyToJson(result));
      else process.stdout.write(verifyToText(result, { color: useColor(), verbose: opts.verbose === true }));
      process.exitCode = result.differences.length > 0 || result.steps.some((s) => !s.ok) ? EXIT.failed : EXIT.ok;
    });

  lab
    .command('attack')
    .description(
      'from inside a guest, try what a compromised workload would (default route, new address, flushed firewall, forged source, udp/icmp/dns out) and compare with --assume compromised',
    )
    .argument('<host>', 'the guest to attack from')
    .option('--lab <prefix>', 'the lab (default: the only one up)')
    .option('--json', 'machine-readable result on stdout')
    .action(async (host: string, opts: { lab?: string; json?: boolean }) => {
      requireRoot();
      const st = findLab(opts.lab);
      if ('error' in st) throw new ExitError(EXIT.invalid, st.error);
      const ir = loadIr(st.file, { quietWarnings: true });
      if (ir.model.hash !== st.hash) throw new ExitError(EXIT.invalid, `${st.file} changed since lab ${st.prefix} was built`);
      const since = Date.now();
      const r = await attackLab(ir, st.prefix, host, { say: progress(opts.json === true) });
      const seen = await labGuardSummary(st.prefix, since);
      if (opts.json) printJson(seen ? { ...r, guard: seen } : r);
      else process.stdout.write(`${attackToText(r, useColor())}${seen ? `\n${seen.join('\n')}\n` : ''}`);
      process.exitCode = r.differences.length > 0 ? EXIT.failed : EXIT.ok;
    });

  lab
    .command('down')
    .description('remove a lab: its processes, namespaces and files (safe to repeat); name it by spec file or --lab PREFIX, or --all')
    .argument('[target]', 'spec file (its labs) or lab prefix')
    .option('--lab <prefix>', 'the lab with this prefix (see cordon lab list)')
    .option('--all', "every lab on this machine, also other users' and orphaned ones")
    .option('--json', 'machine-readable result on stdout')
    .action(async (target: string | undefined, opts: { lab?: string; all?: boolean; json?: boolean }) => {
      const given = [target, opts.lab, opts.all ? '--all' : undefined].filter((x) => x !== undefined);
      if (given.length !== 1) {
        const up = listStates().map((s) => s.prefix);
        throw new ExitError(
          EXIT.invalid,
          `${given.length === 0 ? 'which lab?' : 'name one lab:'} cordon lab down FILE, --lab PREFIX or --all (on a shared machine, --all removes other people's labs too)` +
            (up.length > 0 ? `; labs here: ${up.join(', ')}` : '; no lab is registered here'),
        );
      }
      requireRoot();
      const what: DownTarget = opts.all
        ? { all: true }
        : opts.lab !== undefined
          ? { lab: opts.lab }
          : LAB_PREFIX_RE.test(target!)
            ? { lab: target! }
            : { file: target! };
      const out = await downLabs(what, progress(opts.json === true)).catch((e: unknown) => {
        throw exitFor(e);
      });
      if (opts.json) printJson({ removed: out.map((r) => ({ ...r, ms: Math.round(r.ms) })) });
      else
        process.stdout.write(
          out.length === 0
            ? 'no lab to remove\n'
            : out.map((r) => `lab ${r.prefix} removed: ${r.namespaces} namespaces, ${r.processes} processes (${r.ms.toFixed(0)} ms)\n`).join(''),
        );
    });

  lab
    .command('list')
    .description('labs on this machine')
    .option('--json', 'machine-readable result on stdout')
    .action(async (opts: { json?: boolean }) => {
      const { labs: states, orphans } = await listLabs();
      if (opts.json) return printJson({ labs: states, orphans });
      if (states.length === 0 && orphans.length === 0) return void process.stdout.write('no lab is up\n');
      for (const s of states)
        process.stdout.write(`${s.prefix}  ${s.status.padEnd(8)} ${s.file}  ${Object.keys(s.hosts).length} hosts  since ${s.createdAt}\n`);
      for (const p of orphans) process.stdout.write(`${p}  orphaned namespaces without a registry entry (cordon lab down ${p})\n`);
    });

  lab
    .command('exec')
    .description("run one command inside a host's namespace; its exit code is passed through")
    .argument('<host>', 'host name')
    .argument('<command...>', 'the command (after --)')
    .option('--lab <prefix>', 'the lab (default: the only one up)')
    .action(async (host: string, command: string[], opts: { lab?: string }) => {
      requireRoot();
      process.exitCode = await labExec(host, command, { lab: opts.lab }).catch((e: unknown) => {
        throw exitFor(e);
      });
    });

  lab
    .command('shell')
    .description("an interactive shell inside a host's namespace")
    .argument('<host>', 'host name')
    .option('--lab <prefix>', 'the lab (default: the only one up)')
    .action(async (host: string, opts: { lab?: string }) => {
      requireRoot();
      const sh = process.env.SHELL && process.env.SHELL !== '' ? process.env.SHELL : '/bin/bash';
      process.exitCode = await labExec(host, [sh, ...(sh.endsWith('bash') ? ['--norc', '-i'] : ['-i'])], {
        lab: opts.lab,
        env: { PS1: `[lab ${host}] \\w# ` },
      }).catch((e: unknown) => {
        throw exitFor(e);
      });
    });
}
