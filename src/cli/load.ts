/**
 * Loading a spec with its diagnostics printed once. Separate from io.ts because it pulls in the
 * spec parser (yaml, zod), the model and the compiler, which commands such as `cordon run` only
 * need for an optional flag.
 */
import { compile } from '../ir/compile.js';
import type { Ir } from '../ir/types.js';
import { readFileSync } from 'node:fs';
import { loadModel, loadModelFromText, type LoadResult } from '../model/load.js';
import type { Diagnostic } from '../diag/diagnostic.js';
import { formatDiagnosticsBytes } from '../diag/format.js';
import type { SourceMap } from '../spec/parse.js';
import { EXIT, ExitError, useColor } from './io.js';

export function printDiagnostics(ds: readonly Diagnostic[], source: SourceMap | undefined): void {
  if (ds.length === 0) return;
  const sources = new Map<string, string>();
  if (source) sources.set(source.file, source.text);
  process.stderr.write(formatDiagnosticsBytes(ds, { sources, color: useColor(process.stderr) }));
}

/** Where a spec comes from when the file is `-`; diagnostics name it so. */
export const STDIN_NAME = '<stdin>';

/** Reads and resolves a spec file; `-` is standard input (`cat spec.yaml | cordon check -`). */
export function loadSpec(file: string): LoadResult {
  return file === '-' ? loadModelFromText(readFileSync(0, 'utf8'), STDIN_NAME) : loadModel(file);
}

/** Loads and compiles a spec; on errors prints them and exits 2. Warnings are printed and go on. */
export function loadIr(file: string, opts: { quietWarnings?: boolean } = {}): Ir {
  const r = loadSpec(file);
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
