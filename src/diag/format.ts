/** Renders diagnostics for people: `FILE:LINE:COL: error CODE: message`, a code frame and a hint. */
import pc from 'picocolors';
import { visible } from '../spec/identifiers.js';
import type { Diagnostic } from './diagnostic.js';

export interface FormatOptions {
  /** Source text per file name, for code frames. */
  readonly sources?: ReadonlyMap<string, string>;
  readonly color?: boolean;
}

export function formatDiagnostic(d: Diagnostic, opts: FormatOptions = {}): string {
  const c = pc.createColors(opts.color ?? false);
  // Everything printed may come from the spec (names, values, the file name): no raw control or bidi character reaches the terminal.
  const loc = visible(d.line > 0 ? `${d.file}:${d.line}:${d.col}` : d.file);
  const sev = d.severity === 'error' ? c.red('error') : d.severity === 'warning' ? c.yellow('warning') : c.cyan('info');
  const lines = [`${c.bold(loc)}: ${sev} ${c.dim(d.code)}: ${visible(d.message)}`];
  if (d.path) lines.push(`  at ${visible(d.path)}`);
  const src = opts.sources?.get(d.file);
  if (src !== undefined && d.line > 0) lines.push(...codeFrame(src, d.line, d.col, c));
  if (d.hint) lines.push(`  ${c.cyan('hint')}: ${visible(d.hint)}`);
  return lines.join('\n');
}

function codeFrame(src: string, line: number, col: number, c: ReturnType<typeof pc.createColors>): string[] {
  const all = src.split(/\r?\n/);
  const text = all[line - 1];
  if (text === undefined) return [];
  const num = String(line);
  const gutter = ' '.repeat(num.length);
  const out: string[] = [];
  const prev = all[line - 2];
  if (prev !== undefined && prev.trim() !== '') out.push(c.dim(`  ${String(line - 1).padStart(num.length)} | `) + visible(prev));
  out.push(`${c.red('>')} ${num} | ${visible(text)}`);
  out.push(`  ${gutter} | ${' '.repeat(Math.max(0, col - 1))}${c.red('^')}`);
  return out;
}

export function formatDiagnostics(ds: readonly Diagnostic[], opts: FormatOptions = {}): string {
  return ds.map((d) => formatDiagnostic(d, opts)).join('\n\n');
}
