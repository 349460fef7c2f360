/**
 * What every command shares: exit codes, colour only on a TTY, JSON printing. Kept free of the
 * spec parser, compiler and diagnostics formatter so that `cordon run` loads none of them; loading
 * a spec (and printing its diagnostics) is in load.ts.
 */

/** Exit codes: stable, documented in the README. */
export const EXIT = {
  ok: 0,
  /** A check failed: an expectation, an invariant, a lint error, a denied query. */
  failed: 1,
  /** The input is wrong: bad YAML, schema or names, bad flags. */
  invalid: 2,
  /** cordon itself failed: a bug. */
  internal: 3,
} as const;

export class ExitError extends Error {
  constructor(
    readonly code: number,
    message = '',
  ) {
    super(message);
  }
}

export function useColor(stream: NodeJS.WriteStream = process.stdout): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function parseAssume(v: string | undefined): 'configured' | 'compromised' {
  if (v === undefined || v === 'configured') return 'configured';
  if (v === 'compromised') return 'compromised';
  throw new ExitError(EXIT.invalid, `--assume must be 'configured' or 'compromised', got '${v}'`);
}
