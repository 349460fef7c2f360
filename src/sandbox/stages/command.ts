/**
 * Stage 3, the command: started under setpriv/bwrap (placed in the cgroups by a shell before it
 * execs), with the seccomp filter on its fd; waited for, killed on timeout or interrupt; its end
 * classified (exit, signal, timeout, memory, pids) and what the egress policy dropped read back.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDenied, readDenied } from '../denied.js';
import { procStart } from '../host.js';
import { INLINE_SETUP_FAILED, OWNER_ENV, SECCOMP_FD } from '../plan.js';
import { nsenterArgv, withHolder } from '../rootless.js';
import { writeTeardownState } from '../teardown.js';
import { SandboxError, type CgroupVersion, type Counters, type DeniedAttempt, type ExitReason } from '../types.js';
import { formatBytes } from '../values.js';
import { oomKilled, pidsHit } from './limits.js';
import { usernsDiagnosis } from './rootless.js';
import { fmtMs, stopIfAborted, type StageContext } from './network.js';

/** How the command ended, in the result's words. */
export interface CommandOutcome {
  readonly exitCode: number;
  readonly reason: ExitReason;
  readonly message: string;
  readonly denied: DeniedAttempt[];
  readonly counters: Counters;
}

/** The exit code, reason and message from how the process ended and what the cgroups say. */
export function classifyExit(
  end: { readonly code: number | null; readonly signal: NodeJS.Signals | null; readonly timedOut: boolean },
  limits: { readonly timeoutMs: number | undefined; readonly memoryBytes: number | undefined; readonly pids: number | undefined },
  cgroups: readonly string[],
  version: CgroupVersion,
): Pick<CommandOutcome, 'exitCode' | 'reason' | 'message'> {
  const { code, signal } = end;
  const raw = code ?? 128 + (signal === 'SIGKILL' ? 9 : signal === 'SIGTERM' ? 15 : 1);
  if (end.timedOut) return { exitCode: 124, reason: 'timeout', message: `killed: timeout after ${fmtMs(limits.timeoutMs!)}` };
  if (limits.memoryBytes !== undefined && (raw === 137 || signal === 'SIGKILL') && oomKilled(cgroups, version)) {
    return { exitCode: 137, reason: 'memory', message: `killed: memory limit ${formatBytes(limits.memoryBytes)}` };
  }
  const reason: ExitReason = signal ? 'signal' : 'exited';
  if (limits.pids !== undefined && pidsHit(cgroups)) {
    return { exitCode: raw, reason: raw !== 0 ? 'pids' : reason, message: `exit ${raw} (pids limit ${limits.pids} was reached: some forks failed)` };
  }
  return { exitCode: raw, reason, message: `exit ${raw}` };
}

/**
 * Stage 3: runs the command to its end. An interrupt (ctx.signal) kills its process group, as
 * the timeout does; the caller then tears down.
 */
export async function commandStage(
  ctx: StageContext,
  cgroups: readonly string[],
  version: CgroupVersion,
  stdio: 'inherit' | 'ignore',
  startedAt: number,
): Promise<CommandOutcome> {
  const { plan, opts, td } = ctx;
  stopIfAborted(ctx.signal);
  const procs = cgroups.map((d) => join(d, 'cgroup.procs'));
  // Rootless: the command line enters the holder's namespaces, known by PID only now.
  const line = plan.rootless && td.holderPid !== undefined ? withHolder(plan.argv, td.holderPid) : plan.argv;
  const argv =
    procs.length > 0
      ? ['sh', '-c', 'for f in $CORDON_CGROUP_PROCS; do echo $$ > "$f" || exit 125; done; unset CORDON_CGROUP_PROCS; exec "$@"', 'sh', ...line]
      : [...line];
  let timedOut = false;
  // Inline (isolated) mode: fd 3 brings the egress table's JSON after the command, fd 4 setup errors.
  let table = '';
  let setupErr = '';
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res, rej) => {
    // fds 3 and 4: the inline script's; fd 5 (SECCOMP_FD): the filter, which bwrap reads to EOF.
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: [stdio, stdio, stdio, plan.inline ? 'pipe' : 'ignore', plan.inline ? 'pipe' : 'ignore', 'pipe'],
      detached: true,
      env: {
        ...opts.env,
        ...(procs.length > 0 ? { CORDON_CGROUP_PROCS: procs.join(' ') } : {}),
        ...(plan.inline ? { [OWNER_ENV]: String(process.pid) } : {}),
      },
    });
    (child.stdio as unknown as NodeJS.WritableStream[])[SECCOMP_FD]!.on('error', () => undefined).end(plan.seccomp);
    if (child.pid !== undefined) {
      // For the one case --pdeathsig cannot cover: cordon dying before setpriv has set it.
      td.commandPid = child.pid;
      td.commandStart = procStart(child.pid);
      writeTeardownState(td);
    }
    let pending = plan.inline ? 3 : 1;
    let result: { code: number | null; signal: NodeJS.Signals | null } = { code: null, signal: null };
    const done = (): void => {
      if (--pending === 0) res(result);
    };
    if (plan.inline) {
      const fd3 = child.stdio[3] as NodeJS.ReadableStream;
      const fd4 = child.stdio[4] as NodeJS.ReadableStream;
      fd3.on('data', (d: Buffer) => (table += d.toString()));
      fd4.on('data', (d: Buffer) => (setupErr += d.toString()));
      fd3.on('end', done);
      fd4.on('end', done);
    }
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        timedOut = true;
        if (child.pid) killCommand(child.pid, plan.inline);
      }, opts.timeoutMs);
    }
    // An interrupt: the whole process group, the inline script included.
    const onAbort = (): void => {
      if (child.pid) killCommand(child.pid, false);
    };
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      ctx.signal.removeEventListener('abort', onAbort);
      rej(new SandboxError(`cannot start ${argv[0]}: ${e.message}`));
    });
    child.on('exit', (c, s) => {
      if (timer) clearTimeout(timer);
      ctx.signal.removeEventListener('abort', onAbort);
      result = { code: c, signal: s };
      done();
    });
  });
  stopIfAborted(ctx.signal);
  if (plan.inline) await inlineFailure({ code, timedOut, table, setupErr, rootless: opts.rootless });
  const end = classifyExit({ code, signal, timedOut }, opts, cgroups, version);
  const inside = plan.ns ? ['ip', 'netns', 'exec', plan.ns] : plan.rootless && td.holderPid !== undefined ? nsenterArgv(td.holderPid) : undefined;
  const { denied, counters } = inside ? await readDenied(inside, startedAt) : parseDenied(table, startedAt);
  if (ctx.tmp !== undefined && existsSync(join(ctx.tmp, 'dns-events'))) {
    for (const l of readFileSync(join(ctx.tmp, 'dns-events'), 'utf8').split('\n')) if (l !== '') denied.push(JSON.parse(l) as DeniedAttempt);
  }
  return { ...end, denied, counters };
}

/**
 * Isolated (inline) mode: throws when the command line's own network set-up failed — its reason
 * on fd 4 and exit INLINE_SETUP_FAILED, or (rootless) no table at all because unshare could not
 * make the user namespace, with the setting in the way. Also the fast launcher's report
 * (src/cli/fast-report.ts), which gets the same two outputs from the same command line.
 */
export async function inlineFailure(end: {
  readonly code: number | null;
  readonly timedOut: boolean;
  readonly table: string;
  readonly setupErr: string;
  readonly rootless: boolean;
}): Promise<void> {
  const { code, table, setupErr } = end;
  if (code === INLINE_SETUP_FAILED && table === '' && setupErr !== '') {
    throw new SandboxError(`setting up the sandbox's network: ${setupErr.trim().split('\n').slice(0, 6).join('\n')}`);
  }
  if (end.rootless && code !== 0 && !end.timedOut && table === '' && setupErr === '') {
    const why = await usernsDiagnosis();
    if (why !== undefined) throw new SandboxError(why);
  }
}

/**
 * Ends the command on timeout. Inline mode kills only the children of the setup script (bwrap and
 * what it runs) so the script lives on to report the counters; otherwise the whole process group.
 */
function killCommand(pid: number, inline: boolean): void {
  let targets = [-pid];
  if (inline) {
    try {
      const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      if (kids.length > 0) targets = kids;
    } catch {
      // gone, or no /proc: the group
    }
  }
  for (const t of targets) {
    try {
      process.kill(t, 'SIGKILL');
    } catch {
      // gone
    }
  }
}
