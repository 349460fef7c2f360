/**
 * Reads a spec file: YAML with source positions, then the zod schema. Errors come back as
 * diagnostics located at FILE:LINE:COL with the JSON path of the offending value.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Document, LineCounter, Node, Pair, YAMLError, YAMLMap } from 'yaml';
import type { z } from 'zod';
import { diag, type DiagCode, type Diagnostic } from '../diag/diagnostic.js';
import { Code } from '../diag/codes.js';
import { closest } from '../util/suggest.js';
import type { Spec } from './schema.js';
import type * as Schema from './schema.js';
import { fastOffsetAt, readFastYaml, type FastYaml } from './fast-yaml.js';
import { tableParser } from './fast-schema.js';
import { SPEC_TABLE } from './schema-table.js';
import { checkDocument, cstDepth, MAX_DEPTH, type PathSeg } from './yaml-guard.js';
import { LineTable, yamlLib } from './yaml-lib.js';

export type { PathSeg };

/**
 * Where values and keys are in the text, by JSON path: from the YAML library's document, or from
 * the fast reader's positions (src/spec/fast-yaml.ts). Both give the same offsets.
 */
interface Locator {
  /** Offset of the value at `path[0, n)` (of its key with `wantKey`), or undefined when there is none. */
  offsetAt(path: readonly PathSeg[], n: number, wantKey: boolean): number | undefined;
  /** The JSON path of the deepest value or key whose source range holds `offset`. */
  pathAt(offset: number): PathSeg[];
}

/** Looks up source positions of values (and of keys) by their path in the document. */
export class SourceMap {
  private readonly locator: Locator | undefined;

  constructor(
    readonly file: string,
    readonly text: string,
    doc: Document | FastYaml | undefined,
    private readonly lines: Pick<LineCounter, 'linePos'>,
  ) {
    // The fast reader's positions without its data: the source map lives as long as the model,
    // and the plain data (a 1k-host spec: ~32,000 objects) is needed only until it is resolved.
    this.locator = doc === undefined ? undefined : 'root' in doc ? new FastLocator({ ...doc, data: undefined }, text) : new DocLocator(doc);
  }

  /** Position of the value at `path`, or of its nearest existing ancestor. `key` points at the key instead. */
  pos(path: readonly PathSeg[], key = false): { file: string; line: number; col: number; path: string } {
    // Built as one literal (not spread from a partial one): origins and diagnostics are made per
    // host and per rule, and a spread per call was a visible share of resolving a big spec.
    const file = this.file;
    const at = formatPath(path);
    if (!this.locator) return { file, path: at, line: 0, col: 0 };
    const offset = this.offsetOf(path, key);
    if (offset === undefined) return { file, path: at, line: 1, col: 1 };
    const p = this.lines.linePos(offset);
    return { file, path: at, line: p.line, col: p.col };
  }

  /**
   * What the model keeps of where something is (an Origin: `pos` with its fields in this order,
   * and `text`), made directly: one per host and per rule, so no `pos` object in between.
   */
  origin(path: readonly PathSeg[], text: string): { file: string; line: number; col: number; path: string; text: string } {
    const file = this.file;
    const at = formatPath(path);
    if (!this.locator) return { file, line: 0, col: 0, path: at, text };
    const offset = this.offsetOf(path, false);
    if (offset === undefined) return { file, line: 1, col: 1, path: at, text };
    const p = this.lines.linePos(offset);
    return { file, line: p.line, col: p.col, path: at, text };
  }

  /** The offset of the value at `path` (its key with `key`), or of its nearest existing ancestor. */
  private offsetOf(path: readonly PathSeg[], key: boolean): number | undefined {
    for (let n = path.length; n >= 0; n--) {
      const offset = this.locator!.offsetAt(path, n, key && n === path.length);
      if (offset !== undefined) return offset;
    }
    return undefined;
  }

  /**
   * The JSON path of the deepest value or key whose source range holds `offset`: where a YAML
   * syntax error sits, for documents that only partly parsed.
   */
  pathAt(offset: number): PathSeg[] {
    return this.locator?.pathAt(offset) ?? [];
  }
}

/** Positions from the fast reader; `pathAt` (for errors, which that reader never has) from the library. */
class FastLocator implements Locator {
  private doc: DocLocator | undefined;

  constructor(
    private readonly yaml: FastYaml,
    private readonly text: string,
  ) {}

  offsetAt(path: readonly PathSeg[], n: number, wantKey: boolean): number | undefined {
    return fastOffsetAt(this.yaml, path, n, wantKey);
  }

  pathAt(offset: number): PathSeg[] {
    this.doc ??= new DocLocator(yamlLib().parseDocument(this.text, { uniqueKeys: false }));
    return this.doc.pathAt(offset);
  }
}

/** Positions from the YAML library's document: each node's `range[0]`. */
class DocLocator implements Locator {
  constructor(private readonly doc: Document) {}

  offsetAt(path: readonly PathSeg[], n: number, wantKey: boolean): number | undefined {
    return this.nodeAt(path, n, wantKey)?.range?.[0];
  }

  pathAt(offset: number): PathSeg[] {
    const { isMap, isScalar, isSeq } = yamlLib();
    const path: PathSeg[] = [];
    let node: unknown = this.doc.contents;
    for (;;) {
      if (isMap(node)) {
        const pair = node.items.find((p) => {
          const start = (p.key as Node | null)?.range?.[0];
          const end = (p.value as Node | null)?.range?.[2] ?? (p.key as Node | null)?.range?.[2];
          return start !== undefined && end !== undefined && start <= offset && offset <= end;
        });
        // A key YAML glued together from several lines of a broken document is no name to show.
        if (!pair || !isScalar(pair.key) || /\s/.test(String(pair.key.value)) || String(pair.key.value).length > 60) return path;
        path.push(String(pair.key.value));
        node = pair.value;
      } else if (isSeq(node)) {
        const i = node.items.findIndex((it) => {
          const r = (it as Node | null)?.range;
          return r != null && r[0] <= offset && offset <= r[2];
        });
        if (i < 0) return path;
        path.push(i);
        node = node.items[i];
      } else {
        return path;
      }
    }
  }

  /** Per mapping, its pairs by key text (the first of equal ones), built on the first lookup. */
  private readonly keyIndex = new WeakMap<YAMLMap, Map<string, Pair>>();

  private pairOf(map: YAMLMap, seg: PathSeg): Pair | undefined {
    let index = this.keyIndex.get(map);
    if (!index) {
      const { isPair, isScalar } = yamlLib();
      // One pass per mapping, not one per lookup: diagnostics and positions are looked up per
      // host and per rule, and a linear search each time made big specs quadratic.
      index = new Map();
      for (const p of map.items) if (isPair(p) && isScalar(p.key) && !index.has(String(p.key.value))) index.set(String(p.key.value), p);
      this.keyIndex.set(map, index);
    }
    return index.get(String(seg));
  }

  private nodeAt(path: readonly PathSeg[], n: number, wantKey: boolean): Node | undefined {
    const { isMap, isSeq } = yamlLib();
    let node: unknown = this.doc.contents;
    for (let i = 0; i < n; i++) {
      const seg = path[i]!;
      if (isMap(node)) {
        const pair = this.pairOf(node, seg);
        if (!pair) return undefined;
        node = wantKey && i === n - 1 ? pair.key : pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        node = node.items[seg];
      } else {
        return undefined;
      }
    }
    return node as Node | undefined;
  }
}

export function formatPath(path: readonly PathSeg[]): string {
  let s = '';
  // An index loop: `for … of` allocates an iterator result per step until this is optimised.
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    if (typeof seg === 'number') s += `[${seg}]`;
    else s += s === '' ? seg : `.${seg}`;
  }
  return s;
}

export interface ParsedSpec {
  readonly spec: Spec;
  readonly source: SourceMap;
}

export type ParseResult =
  | { readonly ok: true; readonly value: ParsedSpec; readonly diagnostics: readonly Diagnostic[] }
  | { readonly ok: false; readonly diagnostics: readonly Diagnostic[]; readonly source?: SourceMap };

export function readSpecFile(file: string): ParseResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'it is a directory' : err.message;
    return { ok: false, diagnostics: [diag(Code.FILE_UNREADABLE, 'error', `cannot read spec: ${why}`, { file })] };
  }
  return parseSpecText(text, file);
}

/** SpecSchema's fast path for valid specs: the walk of its table (src/spec/fast-schema.ts), without zod. */
const fastSpec = tableParser(SPEC_TABLE) as (value: unknown) => Spec | undefined;

let schemaModule: typeof Schema | undefined;

/**
 * The zod schema, loaded on first use: only a spec the fast walk does not answer (an invalid one,
 * or one it is unsure of) needs zod, whose import and schema construction were ~0.13 s of every
 * command's start-up. `require` of our own ES module is synchronous (Node ≥ 20.19) and gives the
 * module `import` gives.
 */
function schema(): typeof Schema {
  schemaModule ??= createRequire(import.meta.url)('./schema.js') as typeof Schema;
  return schemaModule;
}

export function parseSpecText(text: string, file = '<input>'): ParseResult {
  const yaml = parseYamlText(text, file);
  if (!yaml.ok) return yaml;
  const { data, source } = yaml;
  if (data === null || data === undefined) {
    const hint = 'start the file with `version: 1`, then networks:, hosts: and policy:';
    return {
      ok: false,
      source,
      diagnostics: [diag(Code.SCHEMA, 'error', 'the spec is empty: expected a mapping with `version: 1`', { file, line: 1, col: 1 }, hint)],
    };
  }
  // A valid spec (the usual case) is parsed by the fast walk of the same schema; anything else,
  // and anything that walk is unsure of, by zod itself, whose issues become the diagnostics.
  const fast = fastSpec(data);
  if (fast !== undefined) return { ok: true, value: { spec: fast, source }, diagnostics: [] };
  const parsed = schema().SpecSchema.safeParse(data);
  if (!parsed.success) {
    return { ok: false, source, diagnostics: parsed.error.issues.flatMap((i) => issueToDiagnostics(i, source, data)) };
  }
  return { ok: true, value: { spec: parsed.data, source }, diagnostics: [] };
}

/**
 * The YAML step of reading any cordon YAML file (a spec, a sandbox config): the document as plain
 * data with a source map, or its syntax errors as CORDON002 diagnostics, explained and located.
 */
export function parseYamlText(
  text: string,
  file = '<input>',
):
  | { readonly ok: true; readonly data: unknown; readonly source: SourceMap }
  | { readonly ok: false; readonly diagnostics: readonly Diagnostic[]; readonly source: SourceMap } {
  // Most files are in the plain subset the fast reader knows; it declines on anything else, and
  // on anything the library would report, so the library reads those as before.
  const fast = readFastYaml(text);
  if (fast) {
    return { ok: true, data: fast.data, source: new SourceMap(file, text, fast, new LineTable(text)) };
  }
  const { Composer, LineCounter, Parser, YAMLParseError } = yamlLib();
  const lines = new LineCounter();
  // parseDocument's steps, with a look at the token tree in between: the composer recurses once
  // per level of nesting, so a file nested thousands deep must be refused before it gets there.
  const tokens = [...new Parser(lines.addNewLine).parse(text)];
  const deep = cstDepth(tokens);
  if (deep) {
    const p = lines.linePos(deep.offset);
    const hint = `cordon files nest a few levels deep; this one goes deeper than ${MAX_DEPTH} here (a missing closing bracket, or not a cordon file)`;
    return {
      ok: false,
      source: new SourceMap(file, text, undefined, lines),
      diagnostics: [diag(Code.YAML_SYNTAX, 'error', `nesting deeper than ${MAX_DEPTH} levels at ${file}:${p.line}`, { file, line: p.line, col: p.col }, hint)],
    };
  }
  // Duplicate keys are found by checkDocument, in one pass: the library's own check is quadratic.
  const composer = new Composer({ prettyErrors: false, uniqueKeys: false });
  let doc: Document | undefined;
  for (const d of composer.compose(tokens, true, text.length)) {
    if (!doc) doc = d;
    else {
      doc.errors.push(new YAMLParseError([d.range[0], d.range[1]], 'MULTIPLE_DOCS', 'Source contains multiple documents; please use YAML.parseAllDocuments()'));
      break;
    }
  }
  if (!doc) throw new Error('the YAML composer gave no document');
  const source = new SourceMap(file, text, doc, lines);
  const problems = checkDocument(doc);
  /** Where our own checks found a duplicate key: the path we know, and where the first one was. */
  const duplicates = new Map<YAMLError, { path: readonly PathSeg[]; firstLine: number }>();
  const guardErrors: YAMLError[] = [];
  const aliasDiagnostics: Diagnostic[] = [];
  for (const pr of problems) {
    if (pr.kind === 'duplicate-key') {
      const firstLine = lines.linePos(pr.firstOffset).line;
      const e = new YAMLParseError(
        [pr.offset, pr.offset + 1],
        'DUPLICATE_KEY',
        `Map keys must be unique: ${quote(pr.key)} is already defined on line ${firstLine}`,
      );
      duplicates.set(e, { path: pr.path, firstLine });
      guardErrors.push(e);
    } else {
      const p = lines.linePos(pr.offset);
      aliasDiagnostics.push(diag(Code.YAML_SYNTAX, 'error', `YAML: ${pr.message}`, { file, line: p.line, col: p.col, path: formatPath(pr.path) }, pr.hint));
    }
  }
  if (doc.errors.length > 0 || guardErrors.length > 0) {
    const diagnostics: Diagnostic[] = [];
    const seen = new Set<string>();
    // One mistake often trips several parser errors at the same place: report it once, in the
    // words of the error that explains it best (a multi-line key is an indentation mistake).
    const errors = [...doc.errors, ...guardErrors].sort(
      (a, b) => a.pos[0] - b.pos[0] || Number(b.code === 'MULTILINE_IMPLICIT_KEY') - Number(a.code === 'MULTILINE_IMPLICIT_KEY'),
    );
    // After the first error the parser is often lost and reports every later token as
    // unexpected: hundreds of lines that all follow from one mistake. Keep the first error and
    // later ones that are not such echoes, on lines of their own, and say how many were left out.
    let left = 0;
    const srcLines = text.split('\n');
    for (const e of errors) {
      const x = explainYamlError(e, text, lines, srcLines);
      const p = lines.linePos(x.offset);
      const keys = [`raw:${e.pos[0]}`, `at:${p.line}:${p.col}`];
      if (keys.some((k) => seen.has(k))) continue;
      for (const k of keys) seen.add(k);
      const dup = duplicates.get(e);
      // A duplicate key is a mistake of its own, never an echo of another: every one is shown.
      if (!dup && diagnostics.length > 0 && (e.code === 'UNEXPECTED_TOKEN' || seen.has(`line:${p.line}`) || diagnostics.length >= MAX_YAML_ERRORS)) {
        left++;
        continue;
      }
      seen.add(`line:${p.line}`);
      const path = dup ? dup.path : errorPath(source, text, lines, x.pathOffset ?? x.offset);
      diagnostics.push(diag(Code.YAML_SYNTAX, 'error', `YAML syntax error: ${x.message}`, { file, line: p.line, col: p.col, path: formatPath(path) }, x.hint));
    }
    if (left > 0) {
      diagnostics.push(
        diag(
          Code.YAML_SYNTAX,
          'info',
          `${left} more YAML error${left === 1 ? '' : 's'} not shown: they most likely follow from the one${diagnostics.length > 1 ? 's' : ''} above; fix ${diagnostics.length > 1 ? 'those' : 'it'} and run again`,
          { file },
        ),
      );
    }
    return { ok: false, diagnostics: [...diagnostics, ...aliasDiagnostics], source };
  }
  if (aliasDiagnostics.length > 0) return { ok: false, diagnostics: aliasDiagnostics, source };
  // checkDocument has bounded what aliases expand to, so the library's own count (which refuses
  // a scalar used more than 100 times) is off.
  try {
    return { ok: true, data: doc.toJS({ maxAliasCount: -1 }) as unknown, source };
  } catch (e) {
    return { ok: false, source, diagnostics: [diag(Code.YAML_SYNTAX, 'error', `YAML: ${quote((e as Error).message, 200)}`, { file, line: 1, col: 1 })] };
  }
}

/**
 * The path of a YAML error: of the node at the error, else of the last line with content above
 * it (a line the parser could not place, like one indented with a tab, belongs to that one).
 */
function errorPath(source: SourceMap, text: string, lines: LineCounter, offset: number): PathSeg[] {
  const here = source.pathAt(offset);
  if (here.length > 0) return here;
  const all = text.split('\n');
  for (let line = lines.linePos(offset).line - 1; line >= 1; line--) {
    const t = all[line - 1] ?? '';
    if (t.trim() === '' || t.trim().startsWith('#')) continue;
    return source.pathAt((lines.lineStarts[line - 1] ?? 0) + t.search(/\S/));
  }
  return [];
}

/** YAML errors shown per file; the rest are counted (see parseSpecText). */
const MAX_YAML_ERRORS = 5;

/**
 * Turns a parser error into words about the user's text: an unclosed bracket or quote is reported
 * where it opens (the parser only notices at the next key), an over-indented line where it is.
 */
function explainYamlError(
  e: YAMLError,
  text: string,
  lines: LineCounter,
  src: readonly string[],
): { offset: number; pathOffset?: number; message: string; hint: string | undefined } {
  const first = e.message.split('\n')[0] ?? e.message;
  const lineOf = (offset: number): number => lines.linePos(offset).line;
  const indentOf = (line: number): number => (src[line - 1] ?? '').search(/\S|$/);
  const firstNonBlank = (offset: number): number => {
    const line = lineOf(offset);
    return (lines.lineStarts[line - 1] ?? 0) + indentOf(line);
  };
  const generic = "check the indentation and the punctuation (':', '- ', brackets, quotes) on this line and the lines above";
  /** A bracket or quote opened before `upTo` and never closed: reported where it opens. */
  const unclosed = (upTo: number) => {
    const open = unclosedAt(text, upTo);
    if (!open) return undefined;
    const line = lineOf(open.offset);
    if (open.ch === '"' || open.ch === "'") {
      return { offset: open.offset, message: `the string opened with ${open.ch} on line ${line} is never closed`, hint: `add the closing ${open.ch}` };
    }
    const close = open.ch === '{' ? '}' : ']';
    const next = lineOf(e.pos[0]);
    return {
      offset: open.offset,
      message: `'${open.ch}' on line ${line} is never closed`,
      hint: `add the missing '${close}'${next > line ? `; the ${open.ch === '{' ? 'mapping' : 'list'} must end before line ${next}` : ''}`,
    };
  };
  switch (e.code) {
    case 'DUPLICATE_KEY':
      return { offset: e.pos[0], message: first, hint: 'each key may appear once in a mapping; merge the two entries or rename one' };
    case 'TAB_AS_INDENT':
      return { offset: e.pos[0], message: first, hint: 'replace tabs with spaces' };
    case 'BLOCK_AS_IMPLICIT_KEY':
    case 'MULTILINE_IMPLICIT_KEY':
    case 'BLOCK_IN_FLOW': {
      const open = unclosed(e.pos[1]);
      if (open) return open;
      if (e.code === 'BLOCK_IN_FLOW')
        return { offset: e.pos[0], message: first, hint: 'inside { } or [ ], write the entries on one line, separated by commas' };
      const from = lineOf(e.pos[0]);
      const to = lineOf(e.pos[1]);
      const here = src[from - 1] ?? '';
      if (!hasKeyColon(here) && !/^\s*-(\s|$)/.test(here) && here.trim() !== '') {
        // `egress isolated`: a mapping line without its colon.
        return {
          offset: firstNonBlank(e.pos[0]),
          message: `line ${from} has no ':' where a mapping expects \`key: value\``,
          hint: "add the ':' after the key (and a space after it)",
        };
      }
      const between = src.slice(from, to - 1).every((l) => l.trim() === '' || l.trim().startsWith('#'));
      if (to > from && between && indentOf(to) > indentOf(from)) {
        // `kind: vm` followed by a deeper `nics: …`: YAML reads the second line as more of the value `vm`.
        const key = (src[from - 1] ?? '').trim().split(':')[0] ?? '';
        return {
          offset: firstNonBlank(e.pos[1]),
          // The path of the key whose value swallowed the line, not of the garbled key YAML made of it.
          pathOffset: firstNonBlank(e.pos[0]),
          message: `line ${to} is indented deeper than the key on line ${from}, so it reads as a continuation of that line's value`,
          hint: `keys of one mapping must start in the same column: indent it like ${quote(`${key}:`)} (${indentOf(from)} spaces), or nest it under a key that ends with ':'`,
        };
      }
      if (to === from && /compact mappings/.test(first))
        return { offset: e.pos[0], message: first, hint: 'a plain value may not contain \': \'; quote it, e.g. "a: b"' };
      if (/block sequence may not be used as an implicit map key/.test(first)) {
        return {
          offset: firstNonBlank(e.pos[0]),
          message: first,
          hint: "a list item ('- …') stands where a key of the mapping above is expected; check its indentation",
        };
      }
      return {
        offset: e.pos[0],
        message: first,
        hint: 'check the indentation of this line against the lines above: keys of one mapping, and items of one list, start in the same column',
      };
    }
    case 'MISSING_CHAR':
    case 'BAD_INDENT':
    case 'UNEXPECTED_TOKEN': {
      if (/end with a [}\]]|[Mm]issing closing/.test(first) || e.code === 'MISSING_CHAR') {
        const open = unclosed(e.pos[0]);
        if (open) return open;
      }
      if (e.code === 'BAD_INDENT') {
        const hint = /sequence/.test(first)
          ? 'items of one list must start in the same column'
          : 'keys of one mapping must start in the same column, and keys nested under another key must be indented deeper than it';
        return { offset: firstNonBlank(e.pos[0]), message: first, hint };
      }
      return { offset: e.pos[0], message: first, hint: generic };
    }
    default:
      return { offset: e.pos[0], message: first, hint: generic };
  }
}

interface ScanState {
  stack: { ch: string; offset: number }[];
  quote: { ch: string; offset: number } | undefined;
}

/** Scans `text[from, to)` for flow brackets and quotes, skipping comments and quoted text. */
function scanFlow(text: string, from: number, to: number): ScanState {
  const st: ScanState = { stack: [], quote: undefined };
  let prev = '\n';
  for (let i = from; i < to && i < text.length; i++) {
    const ch = text[i]!;
    if (st.quote) {
      if (st.quote.ch === '"' && ch === '\\') i++;
      else if (ch === st.quote.ch) {
        if (ch === "'" && text[i + 1] === "'") i++;
        else st.quote = undefined;
      }
      prev = ch;
      continue;
    }
    if (ch === '#' && /\s/.test(prev)) {
      const nl = text.indexOf('\n', i);
      if (nl < 0) break;
      i = nl;
      prev = '\n';
      continue;
    }
    if ((ch === '"' || ch === "'") && (i === from || /[\s:[{,-]/.test(prev))) st.quote = { ch, offset: i };
    else if (ch === '{' || ch === '[') st.stack.push({ ch, offset: i });
    else if ((ch === '}' || ch === ']') && st.stack.length && st.stack[st.stack.length - 1]!.ch === (ch === '}' ? '{' : '[')) st.stack.pop();
    if (!/\s/.test(ch) || ch === '\n') prev = ch;
  }
  return st;
}

/**
 * The innermost flow bracket or quote open at `offset` that is never closed anywhere after it;
 * undefined when there is none. One that closes later is not what broke the document.
 */
export function unclosedAt(text: string, offset: number): { ch: string; offset: number } | undefined {
  const before = scanFlow(text, 0, offset);
  const open = before.quote ?? before.stack[before.stack.length - 1];
  if (!open) return undefined;
  const after = scanFlow(text, open.offset, text.length);
  const stillOpen = open.ch === '"' || open.ch === "'" ? after.quote?.offset === open.offset : after.stack.some((x) => x.offset === open.offset);
  return stillOpen ? open : undefined;
}

/** Whether a line has a `key:` colon outside brackets and quotes. */
function hasKeyColon(line: string): boolean {
  const st = { depth: 0, quote: '' };
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (st.quote) {
      if (ch === st.quote) st.quote = '';
      continue;
    }
    if (ch === '#' && (i === 0 || /\s/.test(line[i - 1]!))) return false;
    if (ch === '"' || ch === "'") st.quote = ch;
    else if (ch === '{' || ch === '[') st.depth++;
    else if (ch === '}' || ch === ']') st.depth--;
    else if (ch === ':' && st.depth === 0 && (i + 1 === line.length || /\s/.test(line[i + 1]!))) return true;
  }
  return false;
}

/** What a zod schema node looks like from outside: enough to walk the spec schema by path. */
interface SchemaNode {
  readonly _zod: { readonly def: { readonly type: string; readonly [k: string]: unknown } };
  readonly description?: string;
}

/** The schema node for the value at `path`, with the first `.describe()` text met on the way down its wrappers. */
function schemaAt(path: readonly PathSeg[]): { node: SchemaNode; description: string | undefined } | undefined {
  let node: SchemaNode | undefined = schema().SpecSchema as unknown as SchemaNode;
  for (const seg of path) {
    node = node ? childSchema(node, seg) : undefined;
    if (!node) return undefined;
  }
  return node ? { node, description: describedIn(node) } : undefined;
}

function inner(node: SchemaNode): SchemaNode | undefined {
  const def = node._zod.def;
  if (def.type === 'optional' || def.type === 'default' || def.type === 'nullable' || def.type === 'readonly') return def.innerType as SchemaNode;
  return undefined;
}

function describedIn(node: SchemaNode): string | undefined {
  for (let n: SchemaNode | undefined = node; n; n = inner(n)) if (n.description) return n.description;
  return undefined;
}

function childSchema(node: SchemaNode, seg: PathSeg): SchemaNode | undefined {
  const n = inner(node);
  if (n) return childSchema(n, seg);
  const def = node._zod.def;
  switch (def.type) {
    case 'object':
      return (def.shape as Record<string, SchemaNode>)[String(seg)];
    case 'record':
      return def.valueType as SchemaNode;
    case 'array':
      return def.element as SchemaNode;
    case 'union':
      for (const o of def.options as SchemaNode[]) {
        const c = childSchema(o, seg);
        if (c) return c;
      }
      return undefined;
    default:
      return undefined;
  }
}

/** The field names a mapping at `path` may have (the union of them for a union of mappings). */
function fieldsAt(path: readonly PathSeg[]): string[] | undefined {
  const at = schemaAt(path);
  if (!at) return undefined;
  const keys = (node: SchemaNode): string[] => {
    const n = inner(node);
    if (n) return keys(n);
    const def = node._zod.def;
    if (def.type === 'object') return Object.keys(def.shape as Record<string, unknown>);
    if (def.type === 'union') return (def.options as SchemaNode[]).flatMap(keys);
    return [];
  };
  const out = [...new Set(keys(at.node))];
  return out.length ? out : undefined;
}

type Issue = z.core.$ZodIssue;

/** Hints for required fields whose schema description does not say what to write. */
const FIELD_HINTS: Record<string, string> = {
  from: 'from: names where traffic comes from: a host, host.service, network, group, CIDR, internet, lan or any (or a list of them)',
  to: 'to: names where traffic goes: a host, host.service, network, group, CIDR, internet, lan or any (or a list of them)',
};

function issuePath(issue: Issue, prefix: readonly PathSeg[]): PathSeg[] {
  return [...prefix, ...issue.path.filter((p): p is string | number => typeof p !== 'symbol')];
}

/**
 * A union branch that cannot be what the user meant: the value has the wrong type for it, or
 * lacks one of its required keys (`permit:` is neither `{allow}` nor `{deny}`). The issues of the
 * one plausible branch say what is really wrong; zod's own union error only says "Invalid input".
 */
function wrongBranch(branch: readonly Issue[], at: readonly PathSeg[], data: unknown): boolean {
  return branch.some((i) => {
    const p = issuePath(i, at);
    if (p.length === at.length)
      return i.code === 'invalid_type' || i.code === 'invalid_value' || (i.code === 'invalid_union' && i.errors.every((b) => wrongBranch(b, p, data)));
    return p.length === at.length + 1 && i.code === 'invalid_type' && getAt(data, p) === undefined;
  });
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
};

function issueToDiagnostics(issue: Issue, source: SourceMap, data: unknown, prefix: readonly PathSeg[] = []): Diagnostic[] {
  const path = issuePath(issue, prefix);
  const value = getAt(data, path);
  const got = describeValue(value);
  const refField = path[0] === 'policy' || path[0] === 'expect' || path[0] === 'firewalls';
  const described = (refField ? FIELD_HINTS[String(path[path.length - 1])] : undefined) ?? schemaAt(path)?.description;
  const one = (message: string, hint: string | undefined = described, code: DiagCode = Code.SCHEMA, at = source.pos(path)): Diagnostic[] => [
    diag(code, 'error', message, at, hint),
  ];

  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const allowed = fieldsAt(path) ?? [];
      const near = closest(key, allowed);
      let hint = near ? `did you mean '${near}'?` : allowed.length ? `expected one of: ${allowed.join(', ')}` : undefined;
      if (path[0] === 'policy' && path.length === 2 && schema().RuleBody.shape[key as keyof typeof Schema.RuleBody.shape] !== undefined) {
        hint = `'${key}' belongs inside the rule: - allow: { from: …, to: …, ${key}: … }`; // a known field name: short
      }
      const where = path.length ? ` in ${formatPath(path)}` : ' at the top level';
      return diag(Code.SCHEMA, 'error', `unknown field ${quote(key)}${where}`, source.pos([...path, key], true), hint);
    });
  }
  if (path.length === 1 && path[0] === 'version') {
    if (value === undefined)
      return one("missing required field 'version'", 'start the file with `version: 1`', Code.SCHEMA, { ...source.pos(path), line: 1, col: 1 });
    const hint = value === '1' ? 'write `version: 1` without quotes: the version is a number' : 'set `version: 1`; it is the only spec format so far';
    // A mapping or a list is described ("a mapping"), not stringified ("[object Object]").
    const shownValue =
      typeof value === 'string'
        ? quoteJson(value)
        : value === null || typeof value === 'number' || typeof value === 'boolean'
          ? String(value)
          : describeValue(value);
    return one(`unsupported spec version ${shownValue}: this cordon reads version 1`, hint, Code.UNSUPPORTED_VERSION);
  }
  if (value === undefined && path.length > 0 && (issue.code === 'invalid_type' || issue.code === 'invalid_value' || issue.code === 'invalid_union')) {
    const field = String(path[path.length - 1]);
    const what =
      issue.code === 'invalid_value'
        ? `: expected ${valuesText(issue.values)}`
        : issue.code === 'invalid_type'
          ? `: expected ${TYPE_NAMES[issue.expected] ?? issue.expected}`
          : '';
    // Point at the key of the mapping that lacks the field; the path names the field itself.
    const at = { ...source.pos(path.slice(0, -1), true), path: formatPath(path) };
    return one(`missing required field '${field}'${what}`, described, Code.SCHEMA, at);
  }
  switch (issue.code) {
    case 'invalid_type':
      if (path.length === 0)
        return one(`a spec is a mapping with \`version: 1\` at the top, got ${got}`, 'start the file with `version: 1`, then networks:, hosts: and policy:');
      return one(`expected ${TYPE_NAMES[issue.expected] ?? issue.expected}, got ${got}`);
    case 'invalid_value': {
      const near = typeof value === 'string' ? closest(value, issue.values.map(String)) : undefined;
      let hint = near ? `did you mean '${near}'?` : described;
      if (path[0] === 'hosts' && path[2] === 'egress' && path.length === 3 && ['nat', 'none', 'routed'].includes(String(value))) {
        hint = `'${String(value)}' is an egress kind of a network (networks.<name>.egress); a host's egress mode says what it may reach: isolated, filtered (the policy decides), vpn-only or open`;
      }
      return one(`expected ${valuesText(issue.values)}, got ${got}`, hint);
    }
    case 'invalid_union': {
      const plausible = issue.errors.filter((b) => !wrongBranch(b, path, data));
      if (plausible.length === 1) return plausible[0]!.flatMap((i) => issueToDiagnostics(i, source, data, path));
      return unionDiagnostic(path, value, got, described, source);
    }
    case 'invalid_key': {
      const key = String(path[path.length - 1] ?? '');
      const why = issue.issues[0]?.message;
      return [diag(Code.SCHEMA, 'error', `${quote(key)} is not a valid name${why ? `: expected ${why}` : ''}`, source.pos(path, true))];
    }
    case 'too_big':
    case 'too_small': {
      const big = issue.code === 'too_big';
      const limit = Number(big ? (issue as { maximum: number | bigint }).maximum : (issue as { minimum: number | bigint }).minimum);
      const inclusive = issue.inclusive !== false;
      if (issue.origin === 'array')
        return one(
          `expected ${big ? 'at most' : 'at least'} ${limit} item${limit === 1 ? '' : 's'}, got ${Array.isArray(value) && value.length === 0 ? 'an empty list' : `${Array.isArray(value) ? value.length : 0} items`}`,
        );
      if (issue.origin === 'string')
        return one(`expected ${big ? `at most ${limit} characters` : limit === 1 ? 'a non-empty string' : `at least ${limit} characters`}, got ${got}`);
      return one(`expected a number ${big ? (inclusive ? 'at most' : 'below') : inclusive ? 'at least' : 'above'} ${limit}, got ${got}`);
    }
    case 'invalid_format':
      return one(`expected ${issue.message}, got ${got}`);
    default:
      return one(`${issue.message}${got !== 'nothing' ? ` (got ${got})` : ''}`);
  }
}

function valuesText(values: readonly unknown[]): string {
  const shown = values.map((v) => JSON.stringify(v));
  return shown.length === 1 ? shown[0]! : `one of ${shown.join(', ')}`;
}

function unionDiagnostic(path: readonly PathSeg[], value: unknown, got: string, described: string | undefined, source: SourceMap): Diagnostic[] {
  const at = source.pos(path);
  const last = path[path.length - 1];
  if (path[0] === 'policy' && path.length === 2) {
    const keys = value !== null && typeof value === 'object' && !Array.isArray(value) ? Object.keys(value) : [];
    const example = 'write `- allow: { from: …, to: … }` or `- deny: { from: …, to: … }`';
    if (keys.includes('allow') && keys.includes('deny'))
      return [
        diag(Code.SCHEMA, 'error', 'a policy rule has one action, allow or deny, not both', at, 'split it into two rules; the first one that matches wins'),
      ];
    const action = keys.find((k) => k !== 'allow' && k !== 'deny');
    if (action !== undefined) {
      const near = closest(action, ['allow', 'deny']);
      return [
        diag(
          Code.SCHEMA,
          'error',
          `unknown rule action ${quote(action)}: expected allow or deny`,
          source.pos([...path, action], true),
          near ? `did you mean '${near}'?` : example,
        ),
      ];
    }
    return [diag(Code.SCHEMA, 'error', `a policy rule is a mapping with allow: or deny:, got ${got}`, at, example)];
  }
  if (path[0] === 'hosts' && path[2] === 'nics' && path.length === 4) {
    return [diag(Code.SCHEMA, 'error', `a nic is an address string or { address, ifname?, port? }, got ${got}`, at, `e.g. ${String(last)}: 192.168.100.20`)];
  }
  if (last === 'ports' || path[2] === 'services' || path[path.length - 2] === 'ports') {
    return [diag(Code.SCHEMA, 'error', `expected a port item (tcp/80, udp/5000-5010, tcp, udp, icmp, any) or a list of them, got ${got}`, at, described)];
  }
  if (last === 'from' || last === 'to' || path[path.length - 2] === 'from' || path[path.length - 2] === 'to') {
    return [diag(Code.SCHEMA, 'error', `expected a name or a list of names (host, host.service, network, group, CIDR, internet, lan or any), got ${got}`, at)];
  }
  return [diag(Code.SCHEMA, 'error', `the value has none of the allowed forms, got ${got}`, at, described)];
}

/** The value at a JSON path of parsed YAML (undefined when the path leaves the data). */
export function getAt(data: unknown, path: readonly PathSeg[]): unknown {
  let cur = data;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg as string];
  }
  return cur;
}

/**
 * User text as a diagnostic quotes it: in single quotes, cut to `max` characters with an
 * ellipsis and the full length, so a 10 MB value makes a short message.
 */
export function quote(s: string, max = 60): string {
  return s.length > max ? `'${s.slice(0, max)}…' (${s.length.toLocaleString('en')} characters)` : `'${s}'`;
}

/** Like quote, in double quotes with JSON escapes (for values whose type matters, like "1"). */
function quoteJson(s: string, max = 60): string {
  return s.length > max ? `${JSON.stringify(s.slice(0, max)).slice(0, -1)}…" (${s.length.toLocaleString('en')} characters)` : JSON.stringify(s);
}

/** A value in words, for "expected …, got …" messages. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'an empty value';
  if (Array.isArray(v)) return v.length === 0 ? 'an empty list' : 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string')
    return v === '' ? 'an empty string' : v.length > 40 ? `"${v.slice(0, 40)}…" (${v.length.toLocaleString('en')} characters)` : `"${v}"`;
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- objects returned above: v is a number, boolean, bigint, symbol or function
  return `${typeof v} ${String(v)}`;
}
