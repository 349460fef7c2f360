/**
 * `cordon lab up FILE --guard`: one guard process for the whole lab (`cordon guard FILE --lab
 * PREFIX`), detached, recorded in the lab's registry like its other processes, so `cordon lab down`
 * ends it by its PID (SIGTERM, then SIGKILL; its ulogd, nft monitor and conntrack die with it).
 * Events go to FILE (default: guard.jsonl in the lab's directory, read by `lab attack`).
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseEventLine } from '../../guard/events.js';
import { labDir, readState, writeState } from '../../lab/state.js';

export interface LabGuardStarted {
  readonly pid: number;
  readonly events: string;
  readonly log: string;
  /** The metrics URL as bound (the port the kernel chose for :0). */
  readonly metrics: string | undefined;
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
  opts: { metrics?: string; events?: string; timeoutMs?: number },
): Promise<LabGuardStarted> {
  const events = resolve(opts.events ?? labGuardEvents(prefix));
  const log = join(labDir(prefix), 'guard.log');
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
  ];
  const child = spawn(process.execPath, argv, { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error(`the guard did not start (see ${log})`);
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
      return { pid, events, log, metrics };
    }
    const tail = (): string => {
      try {
        return readFileSync(log, 'utf8').trim().split('\n').slice(-3).join(' | ');
      } catch {
        return '';
      }
    };
    if (exited !== undefined) throw new Error(`the guard exited (${exited}): ${tail()}`);
    if (Date.now() > deadline) throw new Error(`the guard did not start watching within ${Math.round((opts.timeoutMs ?? 60_000) / 1000)} s: ${tail()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
