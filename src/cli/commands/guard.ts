/**
 * `cordon guard FILE --host H (--netns NS | --i-mean-the-host) [--metrics ADDR] [--events FILE|-]
 * [--on-drift reapply|killswitch|alert] [--recheck SECONDS] [--vpn-down-after SECONDS] [--state-dir DIR]
 * [--report-to URL (--token-file FILE | $CORDON_REPORT_TOKEN | --token T) [--report-spool DIR] [--report-buffer SIZE]]`: a long-running watcher of a
 * host where `cordon apply` loaded the spec. It never opens anything: stopped or killed (even with
 * -9), the rules stay loaded and default-drop. SIGINT/SIGTERM stop it in order (exit 0).
 * Exit codes: 0 stopped by a signal · 1 it could not start watching · 2 invalid input · 3 internal error.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import { DEFAULT_STATE_ROOT } from '../../apply/state.js';
import { DEFAULT_RECHECK_MS, DRIFT_ACTIONS, startGuard, type DriftAction, type Guard } from '../../guard/guard.js';
import { DEFAULT_VPN_DOWN_AFTER_S } from '../../guard/vpn.js';
import { GuardMetrics, parseListen, serveMetrics, type MetricsServer } from '../../guard/metrics.js';
import { EventWriter } from '../../guard/writer.js';
import { Webhooks } from '../../guard/webhook.js';
import { EventReporter } from '../../guard/report.js';
import { addReportOptions, reportSettings, type ReportFlags } from './report-flags.js';
import { guarded } from '../../render/guard.js';
import { nftablesRenderer } from '../../render/nftables/index.js';
import { Interrupted, withTeardown } from '../../system/interrupt.js';
import { EXIT, ExitError } from '../io.js';
import { loadIr, printDiagnostics } from '../load.js';
import { chooseEnforcingHost, chooseTarget } from './apply.js';
import { netnsTarget, type Target } from '../../apply/target.js';
import { findLab } from '../../lab/lab.js';
import { labDir } from '../../lab/state.js';
import { labGuardHosts } from './lab-guard.js';

interface GuardFlags extends ReportFlags {
  host?: string;
  netns?: string;
  iMeanTheHost?: boolean;
  metrics?: string;
  events?: string;
  onDrift?: string;
  recheck?: string;
  stateDir?: string;
  vpnDownAfter?: string;
  lab?: string | boolean;
}

/** One host to watch: where, and what must stay loaded there. */
interface Watch {
  readonly host: string;
  readonly target: Target;
  readonly ruleset: string;
  readonly stateRoot: string;
  readonly wgNames?: ReadonlyMap<string, string>;
}

function say(line: string): void {
  try {
    process.stderr.write(`cordon guard: ${line}\n`);
  } catch {
    // The terminal may be gone; the guard goes on.
  }
}

function driftAction(v: string | undefined): DriftAction {
  if (v === undefined) return 'reapply';
  const a = DRIFT_ACTIONS.find((x) => x === v);
  if (a) return a;
  throw new ExitError(EXIT.invalid, `--on-drift must be one of ${DRIFT_ACTIONS.join(', ')}, got '${v}'`);
}

function recheckMs(v: string | undefined): number {
  if (v === undefined) return DEFAULT_RECHECK_MS;
  if (!/^\d+(\.\d+)?$/.test(v) || Number(v) < 0.1 || Number(v) > 86400)
    throw new ExitError(EXIT.invalid, `--recheck must be seconds from 0.1 to 86400, got '${v}'`);
  return Math.round(Number(v) * 1000);
}

/** undefined: the spec's guard.vpnDownAfter (itself DEFAULT_VPN_DOWN_AFTER_S unless set). */
function vpnDownAfter(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(v) || Number(v) < 1 || Number(v) > 86400)
    throw new ExitError(EXIT.invalid, `--vpn-down-after must be seconds from 1 to 86400, got '${v}'`);
  return Number(v);
}

export function registerGuard(program: Command): void {
  const cmd = program
    .command('guard')
    .description("watch a host's loaded rule set: blocked attempts as events and metrics, drift and tamper detected and re-applied")
    .argument('<file>', 'spec file')
    .option('--host <name>', 'the enforcing host to watch (default: the only enforcing host)')
    .option('--netns <name>', 'watch inside this network namespace (required unless --i-mean-the-host)')
    .option('--i-mean-the-host', "watch this machine's own network namespace")
    .option('--lab [prefix]', 'watch every enforcing host of a running lab (default: the only lab up), in one process; --on-drift defaults to alert there')
    .option('--metrics <addr>', 'serve Prometheus metrics at http://ADDR/metrics (127.0.0.1:PORT; a bare port means 127.0.0.1; port 0 picks a free one)')
    .option('--events <file>', "append events as JSON lines to FILE, or '-' for stdout (default: stdout)")
    .option('--on-drift <action>', `when cordon's tables change: ${DRIFT_ACTIONS.join(' | ')} (default reapply)`)
    .option('--recheck <seconds>', `re-read the tables this often besides nft monitor (default ${DEFAULT_RECHECK_MS / 1000})`)
    .option(
      '--vpn-down-after <seconds>',
      `a WireGuard peer with no handshake for longer is reported down (default: the spec's guard.vpnDownAfter, else ${DEFAULT_VPN_DOWN_AFTER_S}, WireGuard's reject-after time)`,
    )
    .option('--state-dir <dir>', `apply's state for re-loads (default ${DEFAULT_STATE_ROOT}, or $CORDON_STATE_DIR)`);
  addReportOptions(cmd)
    .addHelpText(
      'after',
      `
Exit codes: 0 stopped by SIGINT/SIGTERM · 1 could not start watching · 2 invalid input · 3 internal error

The guard opens nothing: killed in any way, it leaves the rules loaded (default drop); the ulogd and
nft monitor processes it starts die with it.

Examples:
  cordon guard examples/vpn-only-vm.yaml --host workload-vm --netns lab-wl --metrics 127.0.0.1:9464 --events /var/log/cordon/events.jsonl
  cordon guard examples/proxmox-dual-bridge.yaml --host pve --netns lab-pve --on-drift alert
  CORDON_REPORT_TOKEN=$(cat /etc/cordon/guard.token) cordon guard examples/proxmox-dual-bridge.yaml --host pve --netns lab-pve --report-to https://cordon.example`,
    )
    .action(async (file: string, opts: GuardFlags) => {
      // In a lab, the guard reports and does not fight: \`lab attack\` plays a guest that flushes its own rules.
      const onDrift = driftAction(opts.onDrift ?? (opts.lab !== undefined ? 'alert' : undefined));
      const interval = recheckMs(opts.recheck);
      const downAfter = vpnDownAfter(opts.vpnDownAfter);
      const listen = opts.metrics === undefined ? undefined : parseListen(opts.metrics);
      if (opts.metrics !== undefined && listen === undefined)
        throw new ExitError(EXIT.invalid, `--metrics must be HOST:PORT or PORT (e.g. 127.0.0.1:9464), got '${opts.metrics}'`);
      const stateRoot = resolve(opts.stateDir ?? process.env.CORDON_STATE_DIR ?? DEFAULT_STATE_ROOT);
      const report = reportSettings(opts, say);
      const ir = loadIr(file);
      let watches: Watch[];
      if (opts.lab !== undefined) {
        // Every enforcing namespace of a running lab, in one process.
        if (opts.netns !== undefined || opts.iMeanTheHost || opts.host !== undefined)
          throw new ExitError(EXIT.invalid, '--lab watches every enforcing host of the lab: give it without --host, --netns or --i-mean-the-host');
        const lab = findLab(typeof opts.lab === 'string' ? opts.lab : undefined);
        if ('error' in lab) throw new ExitError(EXIT.invalid, `--lab: ${lab.error}`);
        watches = labGuardHosts(ir, lab).map((w) => ({
          host: w.host,
          target: netnsTarget(w.netns),
          ruleset: w.ruleset,
          stateRoot: opts.stateDir === undefined ? join(labDir(lab.prefix), 'apply') : stateRoot,
          wgNames: w.wgNames,
        }));
        if (watches.length === 0) throw new ExitError(EXIT.invalid, `--lab: lab ${lab.prefix} runs no host of this spec that enforces rules`);
      } else {
        const target = await chooseTarget(opts);
        const host = chooseEnforcingHost(ir, opts.host);
        const rendered = guarded(nftablesRenderer).render(ir, { host, params: new Map() });
        printDiagnostics(rendered.diagnostics, undefined);
        const ruleset = rendered.files[0]?.content;
        if (rendered.diagnostics.some((d) => d.severity === 'error') || ruleset === undefined)
          throw new ExitError(EXIT.invalid, `the nftables target cannot express this spec for ${host}: nothing to guard`);
        watches = [{ host, target, ruleset, stateRoot }];
      }

      const out: Writable =
        opts.events === undefined || opts.events === '-' ? process.stdout : createWriteStream(resolve(opts.events), { flags: 'a', mode: 0o600 });
      const metrics = new GuardMetrics();
      let reporter: EventReporter | undefined;
      let webhooks: Webhooks;
      try {
        webhooks = new Webhooks(ir.model.guard.webhooks, { metrics, say });
      } catch (e) {
        throw new ExitError(EXIT.invalid, `${file}: guard.webhooks: ${(e as Error).message}`);
      }
      const events = new EventWriter(out, {
        onDrop: (n) => metrics.eventsDropped.inc(n),
        onEvent: (e) => {
          reporter?.push(e);
          webhooks.dispatch(e);
        },
      });
      if (report) {
        const hosts = watches.map((w) => w.host).join(',');
        const spoolDir = resolve(
          report.spoolDir ?? join(dirname(stateRoot), 'report', createHash('sha256').update(`${report.endpoint}\n${hosts}`).digest('hex').slice(0, 12)),
        );
        try {
          reporter = new EventReporter({
            endpoint: report.endpoint,
            origin: report.origin,
            token: report.token,
            spoolDir,
            spoolBytes: report.spoolBytes,
            host: watches[0]!.host,
            metrics,
            onEvent: (e) => void events.write(e),
            say,
          });
        } catch (e) {
          throw new ExitError(EXIT.invalid, `--report-spool: ${(e as Error).message}`);
        }
        say(`reporting events to ${report.origin} (spool ${spoolDir})`);
      }
      const guards: Guard[] = [];
      let server: MetricsServer | undefined;
      const teardown = async (): Promise<void> => {
        for (const g of guards) await g.stop();
        await reporter?.stop();
        await webhooks.stop();
        await server?.close();
        await events.drained();
        if (out !== process.stdout) await new Promise<void>((r) => out.end(() => r()));
      };
      try {
        await withTeardown(
          async (signal) => {
            if (listen) {
              server = await serveMetrics(metrics, listen.host, listen.port).catch((e: Error) => {
                throw new ExitError(EXIT.invalid, `--metrics: cannot listen on ${opts.metrics}: ${e.message}`);
              });
              say(`metrics at http://${server.address}/metrics`);
            }
            for (const w of watches) {
              const { host, target, ruleset } = w;
              try {
                guards.push(
                  await startGuard({
                    ir,
                    host,
                    ruleset,
                    target,
                    events,
                    metrics,
                    onDrift,
                    stateRoot: w.stateRoot,
                    recheckMs: interval,
                    vpnDownAfterS: downAfter,
                    ...(w.wgNames ? { wgNames: w.wgNames } : {}),
                    say: watches.length > 1 ? (l) => say(`${host}: ${l}`) : say,
                  }),
                );
              } catch (e) {
                if (e instanceof ExitError) throw e;
                throw new ExitError(EXIT.failed, `cannot watch ${target.label}: ${(e as Error).message}`);
              }
              say(`watching ${host} in ${target.label} (on drift: ${onDrift}); stop with Ctrl-C or SIGTERM, the rules stay`);
            }
            await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
          },
          { teardown, onSignal: (s) => say(`${s}: stopping; the rules stay loaded`) },
        );
      } catch (e) {
        if (e instanceof Interrupted) {
          process.exitCode = EXIT.ok;
          return;
        }
        throw e;
      }
    });
}
