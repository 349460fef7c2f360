/**
 * `cordon lab up FILE --guard`: one guard process for the whole lab (`cordon guard FILE --lab
 * PREFIX`), detached, recorded in the lab's registry like its other processes, so `cordon lab down`
 * ends it by its PID (SIGTERM, then SIGKILL; its ulogd, nft monitor and conntrack die with it).
 * Events go to FILE (default: guard.jsonl in the lab's directory, read by `lab attack`), and with
 * --report-to also to a cordon server: the token goes to the guard in its environment, never in
 * its argv (readable by every user in /proc), its spool into the lab's directory.
 * What the guard watches in a lab is worked out here, in the shell: the guard library stays
 * independent of the lab (test/guard-units.test.ts checks its imports).
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseEventLine, type GuardEvent } from '../../guard/events.js';
import { summarizeEvents } from '../../guard/summary.js';
import type { Ir } from '../../ir/types.js';
import { generatedKeys } from '../../lab/keys.js';
import { planLab } from '../../lab/plan.js';
import { labDir, readState, writeState, type LabState } from '../../lab/state.js';
import { guarded } from '../../render/guard.js';
import { EXIT, ExitError } from '../io.js';
import { REPORT_TOKEN_ENV, type ReportSettings } from './report-flags.js';
import { enforcingHosts, nftablesRenderer } from '../../render/nftables/index.js';

/** One host a lab's guard watches: the rule set the lab loaded in its namespace, its wireguard-go names. */
export interface LabGuardHost {
  readonly host: string;
  readonly netns: string;
  readonly ruleset: string;
  /** Tunnel → the lab's wireguard-go name (its control socket), for `wg show`. */
  readonly wgNames: ReadonlyMap<string, string>;
}

/** Every enforcing host of the spec that the lab built, sorted; a host nftables cannot render for is left out (the lab refuses those). */
export function labGuardHosts(ir: Ir, lab: LabState): LabGuardHost[] {
  // The same plan as the lab's (kernel names depend only on the prefix and the spec; the keys are not used).
  const plan = planLab(ir, { prefix: lab.prefix, keys: generatedKeys() });
  const out: LabGuardHost[] = [];
  for (const host of enforcingHosts(ir)) {
    const netns = lab.hosts[host];
    if (netns === undefined) continue;
    const ruleset = guarded(nftablesRenderer).render(ir, { host, params: new Map() }).files[0]?.content;
    if (ruleset === undefined) continue;
    const wgNames = new Map(plan.layout.tunnels.filter((t) => t.host === host).map((t) => [t.tunnel, t.kernelName]));
    out.push({ host, netns, ruleset, wgNames });
  }
  return out.sort((a, b) => a.host.localeCompare(b.host));
}

export interface LabGuardStarted {
  readonly pid: number;
  readonly events: string;
  readonly log: string;
  /** The metrics URL as bound (the port the kernel chose for :0). */
  readonly metrics: string | undefined;
  /** With --report-to: the server's origin and the spool's directory (never the token). */
  readonly report?: { readonly to: string; readonly spool: string };
}

/** The events file of a lab's guard when none was given. */
export function labGuardEvents(prefix: string): string {
  return join(labDir(prefix), 'guard.jsonl');
}

/** Node's loader flags of this process (tsx when run from source), for a child running the same CLI. */
function loaderArgs(): string[] {
  const out: string[] = [];
  const a = process.execArgv;
  for (let i = 0; i < a.length; i++) {
    if (/^--(import|loader|experimental-loader|require)=/.test(a[i]!)) out.push(a[i]!);
    else if (/^(--import|--loader|--experimental-loader|--require|-r)$/.test(a[i]!) && a[i + 1] !== undefined) out.push(a[i]!, a[++i]!);
  }
  return out;
}

/**
 * Starts the lab's guard and waits until it watches every enforcing host (a `guard-started` event
 * for each in `hosts`), or fails with its last words. Registers it in the lab's state first thing.
 */
export async function startLabGuard(
  file: string,
  prefix: string,
  hosts: number,
  opts: { metrics?: string; events?: string; report?: ReportSettings; timeoutMs?: number },
): Promise<LabGuardStarted> {
  const events = resolve(opts.events ?? labGuardEvents(prefix));
  const log = join(labDir(prefix), 'guard.log');
  const r = opts.report;
  // In the lab's directory, so lab down removes it; a spool per lab, as one guard holds a spool.
  const spool = r && resolve(r.spoolDir ?? join(labDir(prefix), 'report'));
  const fd = openSync(log, 'a', 0o600);
  const argv = [
    ...loaderArgs(),
    process.argv[1]!,
    'guard',
    resolve(file),
    '--lab',
    prefix,
    '--events',
    events,
    ...(opts.metrics ? ['--metrics', opts.metrics] : []),
    ...(r && spool ? ['--report-to', r.url, '--report-spool', spool, '--report-buffer', String(r.spoolBytes)] : []),
  ];
  // The token only ever in the environment (readable by root and the user alone), whichever way it was given.
  const env = { ...process.env };
  delete env[REPORT_TOKEN_ENV];
  if (r) env[REPORT_TOKEN_ENV] = r.token;
  const child = spawn(process.execPath, argv, { detached: true, stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new ExitError(EXIT.failed, `the guard did not start (see ${log})`);
  // Where its events go, for \`lab attack\` (the registry records processes, not their files).
  writeFileSync(join(labDir(prefix), 'guard.events-path'), `${events}\n`, { mode: 0o600 });
  const st = readState(prefix);
  if (st) writeState({ ...st, processes: [...st.processes, { pid, name: 'guard', mark: `guard ${resolve(file)} --lab ${prefix}` }] });
  let exited: string | undefined;
  child.on('exit', (code, sig) => (exited = sig ?? `code ${code}`));
  const since = Date.now();
  const deadline = since + (opts.timeoutMs ?? 60_000);
  for (;;) {
    let started = 0;
    try {
      for (const line of readFileSync(events, 'utf8').split('\n')) {
        const e = parseEventLine(line);
        if (e?.type === 'guard-started' && Date.parse(e.time) >= since - 1000) started++;
      }
    } catch {
      // not written yet
    }
    if (started >= hosts) {
      let metrics: string | undefined;
      try {
        metrics = /metrics at (http:\/\/\S+)/.exec(readFileSync(log, 'utf8'))?.[1];
      } catch {
        // no log: no address to show
      }
      return { pid, events, log, metrics, ...(r && spool ? { report: { to: r.origin, spool } } : {}) };
    }
    const tail = (): string => {
      try {
        return readFileSync(log, 'utf8').trim().split('\n').slice(-3).join(' | ');
      } catch {
        return '';
      }
    };
    if (exited !== undefined) throw new ExitError(EXIT.failed, `the guard exited (${exited}): ${tail()}`);
    if (Date.now() > deadline)
      throw new ExitError(EXIT.failed, `the guard did not start watching within ${Math.round((opts.timeoutMs ?? 60_000) / 1000)} s: ${tail()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** What the lab's guard (if it has one) saw between `from` and now: lines for people, undefined without a guard. */
export async function labGuardSummary(prefix: string, from: number): Promise<string[] | undefined> {
  let path: string;
  try {
    path = readFileSync(join(labDir(prefix), 'guard.events-path'), 'utf8').trim();
  } catch {
    return undefined;
  }
  // The last drops of the attack are still on their way through ulogd.
  await new Promise((r) => setTimeout(r, 500));
  let events: GuardEvent[];
  try {
    events = readFileSync(path, 'utf8')
      .split('\n')
      .flatMap((l) => parseEventLine(l) ?? []);
  } catch (e) {
    return [`guard: cannot read its events (${(e as Error).message})`];
  }
  const lines = summarizeEvents(events, from, Date.now());
  return lines.length > 0 ? lines : ['guard: saw no blocked attempt during the attack'];
}
