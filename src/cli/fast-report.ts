/**
 * The fast launcher's report (src/sandbox/launcher.ts), run only when the shell cannot print the
 * summary itself: something was counted or denied, or the network set-up failed. Gets what the
 * Node path's command stage gets from the same command line — the exit code, and fds 3 and 4 (the
 * egress table after the command, or the set-up error) on stdin — and prints what `cordon run`
 * would have, through the same functions; exits with the command's code (2 for a set-up error).
 *
 *   node dist/cli/fast-report.js RC ID PASSED WITHHELD HIDDEN < TABLE-OR-ERROR
 */
import { readFileSync } from 'node:fs';
import { parseDenied } from '../sandbox/denied.js';
import { classifyExit, inlineFailure } from '../sandbox/stages/command.js';
import { SandboxError, type SandboxResult } from '../sandbox/types.js';
import { summary } from './commands/run.js';
import { failureOf } from './failure.js';
import { EXIT, ExitError } from './io.js';

/** The report's text and exit code for what the launcher passed. */
export async function fastReport(args: readonly string[], captured: string): Promise<{ text: string; exit: number }> {
  const [rc, id, passed, withheld, hidden] = args;
  const code = Number(rc);
  // The launcher's here-document adds one newline; fd 3 carries JSON, fd 4 anything else.
  const out = captured.replace(/\n$/, '');
  const table = out.startsWith('{') ? out : '';
  const setupErr = table === '' ? out : '';
  try {
    await inlineFailure({ code, timedOut: false, table, setupErr, rootless: true });
  } catch (e) {
    if (e instanceof SandboxError) return { text: failureOf(new ExitError(EXIT.invalid, e.message)).text, exit: EXIT.invalid };
    throw e;
  }
  const end = classifyExit({ code, signal: null, timedOut: false }, { timeoutMs: undefined, memoryBytes: undefined, pids: undefined }, [], 'none');
  const { denied, counters } = parseDenied(table, Date.now());
  const r: SandboxResult = {
    ...end,
    denied,
    counters,
    id: id ?? '',
    ms: 0,
    env: { passed: Number(passed), withheld: Number(withheld) },
    hidden: Number(hidden),
  };
  return { text: summary(r, undefined), exit: r.exitCode };
}

if (process.argv[1] !== undefined && /fast-report\.[jt]s$/.test(process.argv[1])) {
  fastReport(process.argv.slice(2), readFileSync(0, 'utf8')).then(
    ({ text, exit }) => {
      process.stderr.write(text);
      process.exitCode = exit;
    },
    (e: unknown) => {
      const f = failureOf(e, { debug: Boolean(process.env.CORDON_DEBUG) });
      process.stderr.write(f.text);
      process.exitCode = f.exit;
    },
  );
}
