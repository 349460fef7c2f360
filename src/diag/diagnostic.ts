/**
 * Diagnostics are values: every problem cordon finds, in a spec, in the engine or in a check,
 * is one of these, collected and printed together. Codes are stable so tests and docs can cite them.
 */

import { localeOrder } from '../util/collate.js';
import { DIAG_CODES, type DiagCode, type Severity } from './codes.js';

export type { Severity };

export interface SourcePos {
  readonly file: string;
  /** 1-based; 0 when the position is unknown. */
  readonly line: number;
  /** 1-based; 0 when the position is unknown. */
  readonly col: number;
}

export interface Diagnostic {
  readonly code: DiagCode;
  readonly severity: Severity;
  readonly message: string;
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** JSON path into the document, e.g. `hosts.ollama.nics.vmbr1`. */
  readonly path: string;
  readonly hint?: string;
}

/** Every code's one-line title; the full entries (meaning, fix, example) are in codes.ts. */
export const CODES = Object.fromEntries(Object.entries(DIAG_CODES).map(([code, info]) => [code, info.title])) as Readonly<Record<DiagCode, string>>;

export type { DiagCode };

export function diag(
  code: DiagCode,
  severity: Severity,
  message: string,
  at: { file: string; line?: number; col?: number; path?: string },
  hint?: string,
): Diagnostic {
  const file = at.file;
  const line = at.line ?? 0;
  const col = at.col ?? 0;
  const path = at.path ?? '';
  // Two literals, not a spread of an optional part: lint makes thousands, and the keys' order
  // (what JSON prints) is the same either way.
  return hint !== undefined ? { code, severity, message, file, line, col, path, hint } : { code, severity, message, file, line, col, path };
}

export function hasErrors(ds: readonly Diagnostic[]): boolean {
  return ds.some((d) => d.severity === 'error');
}

/** Thrown only at the boundary between library and CLI, carrying collected diagnostics. */
export class DiagnosticError extends Error {
  constructor(readonly diagnostics: readonly Diagnostic[]) {
    super(diagnostics.map((d) => `${d.file}:${d.line}:${d.col}: ${d.message}`).join('\n'));
    this.name = 'DiagnosticError';
  }
}

export function sortDiagnostics(ds: readonly Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) => (a.file === b.file ? 0 : localeOrder(a.file, b.file)) || a.line - b.line || a.col - b.col || codeOrder(a.code, b.code));
}

const CODE = /^CORDON\d+$/;

/**
 * `a.localeCompare(b)` for codes without the collator (a lint of thousands of findings compared
 * thousands of codes): past their shared prefix two codes differ in digits only, which collate in
 * digit order, then by length (what localeOrder does).
 */
function codeOrder(a: string, b: string): number {
  if (a === b) return 0;
  return CODE.test(a) && CODE.test(b) ? localeOrder(a.slice(6), b.slice(6)) : a.localeCompare(b);
}
