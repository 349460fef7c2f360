/** Renders diagnostics for people: `FILE:LINE:COL: error CODE: message`, a code frame and a hint. */
import pc from 'picocolors';
import { visible } from '../util/visible.js';
import type { Diagnostic } from './diagnostic.js';

export interface FormatOptions {
  /** Source text per file name, for code frames. */
  readonly sources?: ReadonlyMap<string, string>;
  readonly color?: boolean;
}

/** Longest source line shown whole in a code frame; a longer one is shown around the caret. */
const FRAME_WIDTH = 160;
/** Longest run of non-blank characters shown whole in a message or hint (user text quoted in it). */
const MAX_WORD = 200;

/**
 * Lines of one source, split on demand: a file with thousands of diagnostics must not be split
 * again for each of them (that made `lint` of a 10,000-rule spec spend most of its time here).
 */
class Lines {
  private starts: number[] | undefined;
  constructor(private readonly src: string) {}

  /** Line `n` (1-based) without its line break, or undefined past the end. */
  line(n: number): string | undefined {
    if (!this.starts) {
      this.starts = [0];
      for (let i = this.src.indexOf('\n'); i >= 0; i = this.src.indexOf('\n', i + 1)) this.starts.push(i + 1);
    }
    const start = this.starts[n - 1];
    if (start === undefined) return undefined;
    const next = this.starts[n];
    let end = next === undefined ? this.src.length : next - 1;
    if (end > start && this.src[end - 1] === '\r') end--;
    return this.src.slice(start, end);
  }
}

export function formatDiagnostic(d: Diagnostic, opts: FormatOptions = {}): string {
  return format(d, opts, new Map());
}

/** One palette per setting: createColors builds dozens of closures, and lint prints thousands of findings. */
const PALETTES = new Map<boolean, ReturnType<typeof pc.createColors>>();

function palette(color: boolean): ReturnType<typeof pc.createColors> {
  let c = PALETTES.get(color);
  if (!c) PALETTES.set(color, (c = pc.createColors(color)));
  return c;
}

function format(d: Diagnostic, opts: FormatOptions, cache: Map<string, Lines>): string {
  const c = palette(opts.color ?? false);
  // Everything printed may come from the spec (names, values, the file name): no raw control or bidi character reaches the terminal.
  const loc = visible(d.line > 0 ? `${d.file}:${d.line}:${d.col}` : d.file);
  const sev = d.severity === 'error' ? c.red('error') : d.severity === 'warning' ? c.yellow('warning') : c.cyan('info');
  const lines = [`${c.bold(loc)}: ${sev} ${c.dim(d.code)}: ${shortenWords(visible(d.message))}`];
  if (d.path) lines.push(`  at ${shortenWords(visible(d.path))}`);
  const src = opts.sources?.get(d.file);
  if (src !== undefined && d.line > 0) {
    let l = cache.get(d.file);
    if (!l) cache.set(d.file, (l = new Lines(src)));
    lines.push(...codeFrame(l, d.line, d.col, c));
  }
  if (d.hint) lines.push(`  ${c.cyan('hint')}: ${shortenWords(visible(d.hint))}`);
  return lines.join('\n');
}

/**
 * Cuts every run of non-blank characters longer than MAX_WORD: whatever user text a message
 * quotes (a 10 MB value, a path through 10,000 levels), what is printed stays short.
 */
function shortenWords(s: string): string {
  if (s.length <= MAX_WORD) return s;
  // A linear look for a long run first: most long messages (lint's) have none.
  let run = 0;
  let long = false;
  for (let i = 0; i < s.length && !long; i++) {
    const ch = s.charCodeAt(i);
    run = ch === 32 || ch === 10 || ch === 9 || ch === 13 ? 0 : run + 1;
    long = run > MAX_WORD;
  }
  if (!long) return s;
  return s.replace(/\S+/g, (w) => (w.length > MAX_WORD ? `${w.slice(0, 60)}… (${w.length.toLocaleString('en')} characters)` : w));
}

function codeFrame(all: Lines, line: number, col: number, c: ReturnType<typeof pc.createColors>): string[] {
  const text = all.line(line);
  if (text === undefined) return [];
  const num = String(line);
  const gutter = ' '.repeat(num.length);
  // A long line is shown from a little before the caret, cut with an ellipsis and its length.
  const from = text.length > FRAME_WIDTH ? Math.max(0, Math.min(col - 1 - FRAME_WIDTH / 2, text.length - FRAME_WIDTH)) : 0;
  const clip = (t: string): string => {
    if (t.length <= FRAME_WIDTH) return t;
    const start = Math.min(from, Math.max(0, t.length - FRAME_WIDTH));
    return `${start > 0 ? '…' : ''}${t.slice(start, start + FRAME_WIDTH)}${start + FRAME_WIDTH < t.length ? '…' : ''} (${t.length.toLocaleString('en')} characters)`;
  };
  const out: string[] = [];
  const prev = line > 1 ? all.line(line - 1) : undefined;
  if (prev !== undefined && prev.trim() !== '') out.push(c.dim(`  ${String(line - 1).padStart(num.length)} | `) + clip(visible(prev)));
  out.push(`${c.red('>')} ${num} | ${clip(visible(text))}`);
  const caret = text.length > FRAME_WIDTH ? col - 1 - from + (from > 0 ? 1 : 0) : col - 1;
  out.push(`  ${gutter} | ${' '.repeat(Math.max(0, caret))}${c.red('^')}`);
  return out;
}

export function formatDiagnostics(ds: readonly Diagnostic[], opts: FormatOptions = {}): string {
  const cache = new Map<string, Lines>();
  return ds.map((d) => format(d, opts, cache)).join('\n\n');
}
