/**
 * What every command shares: loading a spec with its diagnostics printed once, exit codes,
 * colour only on a TTY, JSON printing.
 */
import { compile } from '../ir/compile.js';
import type { Ir } from '../ir/types.js';
import { loadModel } from '../model/load.js';
import type { Diagnostic } from '../diag/diagnostic.js';
import { formatDiagnostics } from '../diag/format.js';
import type { SourceMap } from '../spec/parse.js';

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
  constructor(readonly code: number, message = '') {
    super(message);
  }
}

export function useColor(stream: NodeJS.WriteStream = process.stdout): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true;
}

export function printDiagnostics(ds: readonly Diagnostic[], source: SourceMap | undefined): void {
  if (ds.length === 0) return;
  const sources = new Map<string, string>();
  if (source) sources.set(source.file, source.text);
  process.stderr.write(`${formatDiagnostics(ds, { sources, color: useColor(process.stderr) })}\n`);
}

/** Loads and compiles a spec; on errors prints them and exits 2. Warnings are printed and go on. */
export function loadIr(file: string, opts: { quietWarnings?: boolean } = {}): Ir {
  const r = loadModel(file);
  const shown = opts.quietWarnings ? r.diagnostics.filter((d) => d.severity === 'error') : r.diagnostics;
  printDiagnostics(shown, r.source);
  if (!r.model) {
    const n = r.diagnostics.filter((d) => d.severity === 'error').length;
    throw new ExitError(EXIT.invalid, `${file}: ${n} error${n === 1 ? '' : 's'}`);
  }
  const ir = compile(r.model);
  if (!opts.quietWarnings) printDiagnostics(ir.diagnostics, r.source);
  return ir;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function parseAssume(v: string | undefined): 'configured' | 'compromised' {
  if (v === undefined || v === 'configured') return 'configured';
  if (v === 'compromised') return 'compromised';
  throw new ExitError(EXIT.invalid, `--assume must be 'configured' or 'compromised', got '${v}'`);
}
