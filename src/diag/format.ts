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
  // One string grown line by line, not an array joined: lint formats thousands of these.
  let out = `${c.bold(loc)}: ${sev} ${c.dim(d.code)}: ${shortenWords(visible(d.message))}`;
  if (d.path) out += `\n  at ${shortenWords(visible(d.path))}`;
  const src = opts.sources?.get(d.file);
  if (src !== undefined && d.line > 0) {
    let l = cache.get(d.file);
    if (!l) cache.set(d.file, (l = new Lines(src)));
    out += codeFrame(l, d.line, d.col, c);
  }
  if (d.hint) out += `\n  ${c.cyan('hint')}: ${shortenWords(visible(d.hint))}`;
  return out;
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

/** The code frame's lines, each after a line break: the line before (unless blank), the line, the caret. */
function codeFrame(all: Lines, line: number, col: number, c: ReturnType<typeof pc.createColors>): string {
  const text = all.line(line);
  if (text === undefined) return '';
  const num = String(line);
  // A long line is shown from a little before the caret, cut with an ellipsis and its length.
  const from = text.length > FRAME_WIDTH ? Math.max(0, Math.min(col - 1 - FRAME_WIDTH / 2, text.length - FRAME_WIDTH)) : 0;
  let out = '';
  const prev = line > 1 ? all.line(line - 1) : undefined;
  if (prev !== undefined && !isBlank(prev)) out += `\n${c.dim(`  ${String(line - 1).padStart(num.length)} | `)}${clip(visible(prev), from)}`;
  out += `\n${c.red('>')} ${num} | ${clip(visible(text), from)}`;
  const caret = text.length > FRAME_WIDTH ? col - 1 - from + (from > 0 ? 1 : 0) : col - 1;
  out += `\n  ${spaces(num.length)} | ${spaces(Math.max(0, caret))}${c.red('^')}`;
  return out;
}

/** A frame line cut to FRAME_WIDTH around `from`, with an ellipsis and its length. */
function clip(t: string, from: number): string {
  if (t.length <= FRAME_WIDTH) return t;
  const start = Math.min(from, Math.max(0, t.length - FRAME_WIDTH));
  return `${start > 0 ? '…' : ''}${t.slice(start, start + FRAME_WIDTH)}${start + FRAME_WIDTH < t.length ? '…' : ''} (${t.length.toLocaleString('en')} characters)`;
}

/** `s.trim() === ''`, without building the trimmed string for the usual line (indented text). */
function isBlank(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    if (ch === 32 || (ch >= 9 && ch <= 13)) continue;
    // Other white space (no-break, ideographic, …) is rare: trim knows the whole set.
    return ch < 128 ? false : s.trim() === '';
  }
  return true;
}

/** Runs of spaces by length, for gutters and carets: most are a few columns wide, and come again. */
const SPACES: string[] = [];

function spaces(n: number): string {
  if (n > 256) return ' '.repeat(n);
  return (SPACES[n] ??= ' '.repeat(n));
}

export function formatDiagnostics(ds: readonly Diagnostic[], opts: FormatOptions = {}): string {
  const cache = new Map<string, Lines>();
  return ds.map((d) => format(d, opts, cache)).join('\n\n');
}

/**
 * `formatDiagnostics(ds, opts)` and a line break, as UTF-8, encoded diagnostic by diagnostic: one
 * string of lint's thousands of findings (two-byte, as rule texts hold arrows) took longer to
 * join and to encode than to format.
 */
export function formatDiagnosticsBytes(ds: readonly Diagnostic[], opts: FormatOptions = {}): Buffer {
  const cache = new Map<string, Lines>();
  const parts: Buffer[] = [];
  for (let k = 0; k < ds.length; k++) parts.push(Buffer.from(format(ds[k]!, opts, cache) + (k + 1 < ds.length ? '\n\n' : '\n')));
  return Buffer.concat(parts);
}
