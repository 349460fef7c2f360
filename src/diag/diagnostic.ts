/**
 * Diagnostics are values: every problem cordon finds, in a spec, in the engine or in a check,
 * is one of these, collected and printed together. Codes are stable so tests and docs can cite them.
 */

export type Severity = 'error' | 'warning' | 'info';

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

/**
 * Every code cordon emits, with a one-line meaning. Keep numbers stable: add, never renumber.
 */
export const CODES = {
  CORDON001: 'file cannot be read',
  CORDON002: 'YAML syntax error',
  CORDON003: 'value does not fit the schema',
  CORDON004: 'unknown name',
  CORDON005: 'address is not inside its network',
  CORDON006: 'duplicate address',
  CORDON007: 'overlapping networks',
  CORDON008: 'port out of range or malformed',
  CORDON009: 'cycle in groups',
  CORDON010: 'invalid address or CIDR',
  CORDON011: 'name clash',
  CORDON012: 'not modelled by the engine',
  CORDON013: 'unsupported version',
  CORDON014: 'inconsistent tunnel',
  CORDON015: 'invalid reference kind',
  CORDON016: 'routing problem',
  CORDON017: 'kernel name cannot be generated',
  CORDON018: 'unsafe identifier or text: characters a kernel or a rendered file cannot carry as they are',
  CORDON020: 'expectation failed',
  CORDON021: 'invariant violated',
  CORDON030: 'shadowed rule',
  CORDON031: 'redundant rule',
  CORDON032: 'allow/deny overlap',
  CORDON033: 'unused group',
  CORDON034: 'unused service',
  CORDON035: 'port allowed to any destination',
  CORDON036: 'tunnel cannot come up',
  CORDON037: 'rule can never apply on any path',
} as const;

export type DiagCode = keyof typeof CODES;

export function diag(
  code: DiagCode,
  severity: Severity,
  message: string,
  at: { file: string; line?: number; col?: number; path?: string },
  hint?: string,
): Diagnostic {
  return {
    code,
    severity,
    message,
    file: at.file,
    line: at.line ?? 0,
    col: at.col ?? 0,
    path: at.path ?? '',
    ...(hint !== undefined ? { hint } : {}),
  };
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
  return [...ds].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col || a.code.localeCompare(b.code));
}
