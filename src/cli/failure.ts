/**
 * The one place a failed command becomes its exit code and its message on stderr. Commands throw
 * ExitError (a typed failure: exit code, message, hint); a signal (Interrupted) that reaches this
 * far is mapped here too. Spec problems are diagnostics the command printed itself, followed by an
 * ExitError with their count. Anything else is a bug: exit 3, "internal error", and a stack trace
 * only with CORDON_DEBUG=1. Kept light (no spec parser, no diagnostics formatter): every command,
 * `cordon run` too, loads it.
 */
import { CommanderError } from 'commander';
import { Interrupted, INTERRUPTED_EXIT } from '../system/interrupt.js';
import { visible } from '../util/visible.js';
import { EXIT, ExitError } from './io.js';

export interface Failure {
  readonly exit: number;
  /** What to write to stderr: '' when nothing is left to say. */
  readonly text: string;
}

export function failureOf(e: unknown, opts: { debug?: boolean } = {}): Failure {
  if (e instanceof ExitError) {
    const lines = e.message ? [`cordon: ${e.message}`] : [];
    if (e.hint) lines.push(`  hint: ${e.hint}`);
    // Messages quote what the user or a server gave (paths, answers): line breaks the message
    // makes are kept, any other control character is shown as \u{…}, never sent to the terminal.
    return { exit: e.code, text: lines.map((l) => `${l.split('\n').map(visible).join('\n')}\n`).join('') };
  }
  if (e instanceof CommanderError) {
    // commander has printed the problem and the usage line already.
    const ok = e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help';
    return { exit: ok ? EXIT.ok : EXIT.invalid, text: '' };
  }
  if (e instanceof Interrupted) return { exit: INTERRUPTED_EXIT, text: '' };
  const message = e instanceof Error ? e.message : `a thrown ${typeof e}: ${String(e)}`;
  const stack = e instanceof Error && e.stack ? e.stack : '(no stack: not an Error)';
  return {
    exit: EXIT.internal,
    text: `cordon: internal error: ${message}\n${opts.debug ? `${stack}\n` : 'set CORDON_DEBUG=1 for a stack trace, and please report it\n'}`,
  };
}
