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

/**
 * Every user-facing failure of a command, as a value: the exit code, what went wrong (naming the
 * flag, file or name at fault) and, when there is one, how to fix it. Commands throw it; main.ts
 * alone prints it (see failure.ts). An empty message prints nothing (the command said it already).
 */
export class ExitError extends Error {
  constructor(
    readonly code: number,
    message = '',
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'ExitError';
  }
}

/** Why a file-system call failed, in words, for the errors a path the user gave can cause. */
const FS_REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'it is a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EEXIST: 'it already exists',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the name is too long',
};

/**
 * A file-system error on a path the user named (with `flag`, e.g. `--out`) as an exit-2 failure
 * that says which path and why; any other value is returned as it is, to fail as a bug.
 */
export function pathFailure(e: unknown, flag: string): unknown {
  const err = e as NodeJS.ErrnoException;
  const reason = e instanceof Error && typeof err.code === 'string' ? FS_REASONS[err.code] : undefined;
  if (reason === undefined) return e;
  const what = err.syscall === 'mkdir' ? 'create directory' : err.syscall === 'open' || err.syscall === undefined ? 'open' : err.syscall;
  return new ExitError(EXIT.invalid, `${flag}: cannot ${what} ${err.path ?? 'the path'}: ${reason}`);
}

export function useColor(stream: NodeJS.WriteStream = process.stdout): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true;
}

export function printJson(value: unknown): void {
  if (Array.isArray(value) && value.length > 0) process.stdout.write(jsonListBytes(value));
  else process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * `JSON.stringify(items, null, 2)` and a line break, as UTF-8, encoded item by item (each as the
 * one item of a list, which indents it as the whole list would): one string of lint's thousands
 * of findings took longer to build and encode than the items.
 */
export function jsonListBytes(items: readonly unknown[]): Buffer {
  const parts: Buffer[] = [Buffer.from('[\n')];
  for (let k = 0; k < items.length; k++) {
    const one = JSON.stringify([items[k]], null, 2);
    // `[\n` + the item + `\n]`.
    parts.push(Buffer.from(`${one.slice(2, -2)}${k + 1 < items.length ? ',\n' : '\n]\n'}`));
  }
  return Buffer.concat(parts);
}

export function parseAssume(v: string | undefined): 'configured' | 'compromised' {
  if (v === undefined || v === 'configured') return 'configured';
  if (v === 'compromised') return 'compromised';
  throw new ExitError(EXIT.invalid, `--assume must be 'configured' or 'compromised', got '${v}'`);
}
