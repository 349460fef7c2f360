/**
 * Reads a spec file: YAML with source positions, then the zod schema. Errors come back as
 * diagnostics located at FILE:LINE:COL with the JSON path of the offending value.
 */
import { readFileSync } from 'node:fs';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type YAMLError } from 'yaml';
import type { z } from 'zod';
import { diag, type Diagnostic } from '../diag/diagnostic.js';
import { closest } from '../util/suggest.js';
import { SpecSchema, type Spec } from './schema.js';

export type PathSeg = string | number;

/** Looks up source positions of values (and of keys) by their path in the document. */
export class SourceMap {
  constructor(
    readonly file: string,
    readonly text: string,
    private readonly doc: Document | undefined,
    private readonly lines: LineCounter,
  ) {}

  /** Position of the value at `path`, or of its nearest existing ancestor. `key` points at the key instead. */
  pos(path: readonly PathSeg[], key = false): { file: string; line: number; col: number; path: string } {
    const at = { file: this.file, path: formatPath(path) };
    if (!this.doc) return { ...at, line: 0, col: 0 };
    for (let n = path.length; n >= 0; n--) {
      const node = this.nodeAt(path.slice(0, n), key && n === path.length);
      const offset = node?.range?.[0];
      if (offset !== undefined) {
        const p = this.lines.linePos(offset);
        return { ...at, line: p.line, col: p.col };
      }
    }
    return { ...at, line: 1, col: 1 };
  }

  /**
   * The JSON path of the deepest value or key whose source range holds `offset`: where a YAML
   * syntax error sits, for documents that only partly parsed.
   */
  pathAt(offset: number): PathSeg[] {
    const path: PathSeg[] = [];
    let node: unknown = this.doc?.contents;
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

  private nodeAt(path: readonly PathSeg[], wantKey: boolean): Node | undefined {
    let node: unknown = this.doc?.contents;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i];
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) return undefined;
        node = wantKey && i === path.length - 1 ? pair.key : pair.value;
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
  for (const seg of path) {
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
    return { ok: false, diagnostics: [diag('CORDON001', 'error', `cannot read spec: ${why}`, { file })] };
  }
  return parseSpecText(text, file);
}

export function parseSpecText(text: string, file = '<input>'): ParseResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const source = new SourceMap(file, text, doc, lines);
  if (doc.errors.length > 0) {
    const diagnostics: Diagnostic[] = [];
    const seen = new Set<string>();
    // One mistake often trips several parser errors at the same place: report it once, in the
    // words of the error that explains it best (a multi-line key is an indentation mistake).
    const errors = [...doc.errors].sort((a, b) => a.pos[0] - b.pos[0] || Number(b.code === 'MULTILINE_IMPLICIT_KEY') - Number(a.code === 'MULTILINE_IMPLICIT_KEY'));
    // After the first error the parser is often lost and reports every later token as
    // unexpected: hundreds of lines that all follow from one mistake. Keep the first error and
    // later ones that are not such echoes, on lines of their own, and say how many were left out.
    let left = 0;
    for (const e of errors) {
      const x = explainYamlError(e, text, lines);
      const p = lines.linePos(x.offset);
      const keys = [`raw:${e.pos[0]}`, `at:${p.line}:${p.col}`];
      if (keys.some((k) => seen.has(k))) continue;
      for (const k of keys) seen.add(k);
      if (diagnostics.length > 0 && (e.code === 'UNEXPECTED_TOKEN' || seen.has(`line:${p.line}`) || diagnostics.length >= MAX_YAML_ERRORS)) {
        left++;
        continue;
      }
      seen.add(`line:${p.line}`);
      diagnostics.push(diag('CORDON002', 'error', `YAML syntax error: ${x.message}`, { file, line: p.line, col: p.col, path: formatPath(source.pathAt(x.pathOffset ?? x.offset)) }, x.hint));
    }
    if (left > 0) {
      diagnostics.push(diag('CORDON002', 'info', `${left} more YAML error${left === 1 ? '' : 's'} not shown: they most likely follow from the one${diagnostics.length > 1 ? 's' : ''} above; fix ${diagnostics.length > 1 ? 'those' : 'it'} and run again`, { file }));
    }
    return { ok: false, diagnostics, source };
  }
  const data: unknown = doc.toJS({ maxAliasCount: 100 });
  if (data === null || data === undefined) {
    return { ok: false, source, diagnostics: [diag('CORDON003', 'error', 'the spec is empty: expected a mapping with `version: 1`', { file, line: 1, col: 1 })] };
  }
  const parsed = SpecSchema.safeParse(data);
  if (!parsed.success) {
    return { ok: false, source, diagnostics: parsed.error.issues.map((i) => issueToDiagnostic(i, source, data)) };
  }
  return { ok: true, value: { spec: parsed.data, source }, diagnostics: [] };
}

/** YAML errors shown per file; the rest are counted (see parseSpecText). */
const MAX_YAML_ERRORS = 5;

/**
 * Turns a parser error into words about the user's text: an unclosed bracket or quote is reported
 * where it opens (the parser only notices at the next key), an over-indented line where it is.
 */
function explainYamlError(e: YAMLError, text: string, lines: LineCounter): { offset: number; pathOffset?: number; message: string; hint: string | undefined } {
  const first = e.message.split('\n')[0] ?? e.message;
  const src = text.split('\n');
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
      if (e.code === 'BLOCK_IN_FLOW') return { offset: e.pos[0], message: first, hint: 'inside { } or [ ], write the entries on one line, separated by commas' };
      const from = lineOf(e.pos[0]);
      const to = lineOf(e.pos[1]);
      const here = src[from - 1] ?? '';
      if (!hasKeyColon(here) && !/^\s*-(\s|$)/.test(here) && here.trim() !== '') {
        // `egress isolated`: a mapping line without its colon.
        return { offset: firstNonBlank(e.pos[0]), message: `line ${from} has no ':' where a mapping expects \`key: value\``, hint: "add the ':' after the key (and a space after it)" };
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
          hint: `keys of one mapping must start in the same column: indent it like '${key}:' (${indentOf(from)} spaces), or nest it under a key that ends with ':'`,
        };
      }
      if (to === from && /compact mappings/.test(first)) return { offset: e.pos[0], message: first, hint: "a plain value may not contain ': '; quote it, e.g. \"a: b\"" };
      if (/block sequence may not be used as an implicit map key/.test(first)) {
        return { offset: firstNonBlank(e.pos[0]), message: first, hint: "a list item ('- …') stands where a key of the mapping above is expected; check its indentation" };
      }
      return { offset: e.pos[0], message: first, hint: 'check the indentation of this line against the lines above: keys of one mapping, and items of one list, start in the same column' };
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

function issueToDiagnostic(issue: z.core.$ZodIssue, source: SourceMap, data: unknown): Diagnostic {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    const allowed = allowedKeysAt(path);
    const near = allowed ? closest(key, allowed) : undefined;
    return diag(
      'CORDON003',
      'error',
      `unknown field '${key}'${path.length ? ` in ${formatPath(path)}` : ''}`,
      source.pos([...path, key], true),
      near ? `did you mean '${near}'?` : allowed ? `expected one of: ${allowed.join(', ')}` : undefined,
    );
  }
  const where = source.pos(path, issue.code === 'invalid_key');
  const got = describeValue(getAt(data, path));
  let message: string;
  switch (issue.code) {
    case 'invalid_type':
      message = got === 'nothing' ? `missing required field '${path[path.length - 1] ?? ''}' (${issue.expected})` : `expected ${issue.expected}, got ${got}`;
      break;
    case 'invalid_value':
      message = `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${got}`;
      break;
    case 'invalid_union':
      message = unionMessage(path, got);
      break;
    default:
      message = `${issue.message}${got !== 'nothing' ? ` (got ${got})` : ''}`;
  }
  return diag('CORDON003', 'error', message, where);
}

function unionMessage(path: readonly PathSeg[], got: string): string {
  const top = path[0];
  if (top === 'policy') return `a policy rule must be { allow: {from, to, …} } or { deny: {from, to, …} }, got ${got}`;
  if (path.includes('nics')) return `a nic is an address string or { address, ifname?, port? }, got ${got}`;
  if (path[path.length - 1] === 'ports' || path.includes('services')) return `expected a port item (tcp/80, udp/53, icmp, any) or a list of them, got ${got}`;
  return `value fits none of the allowed forms, got ${got}`;
}

function getAt(data: unknown, path: readonly PathSeg[]): unknown {
  let cur = data;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg as string];
  }
  return cur;
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `"${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`;
  return `${typeof v} ${String(v)}`;
}

const SECTION_KEYS: Record<string, string[]> = {
  '': ['version', 'description', 'networks', 'hosts', 'tunnels', 'groups', 'policy', 'expect', 'invariants', 'firewalls', 'dns'],
  networks: ['cidr', 'gateway', 'egress', 'bridge', 'description'],
  hosts: ['kind', 'id', 'nics', 'services', 'egress', 'gateway', 'routes', 'uplink', 'forward', 'managed', 'via', 'address', 'tunnel', 'control', 'firewall', 'description'],
  tunnels: ['server', 'listen', 'cidr', 'endpoint', 'ifname', 'description'],
  rule: ['from', 'to', 'ports', 'log', 'rate', 'comment'],
  expect: ['from', 'to', 'ports', 'verdict', 'assume', 'comment'],
  invariants: ['no-internet', 'vpn-only', 'no-vm-to-vm', 'no-vm-to-host'],
  firewall: ['guest', 'local', 'antiSpoof'],
  firewalls: ['policy', 'rules', 'comment'],
  fwrule: ['action', 'from', 'to', 'ports', 'iif', 'oif', 'state', 'log', 'comment'],
  dns: ['domain', 'server', 'upstream', 'records', 'ttl', 'description'],
};

function allowedKeysAt(path: readonly PathSeg[]): string[] | undefined {
  if (path.length === 0) return SECTION_KEYS[''];
  const [top] = path;
  if (top === 'networks' && path.length === 2) return SECTION_KEYS.networks;
  if (top === 'hosts' && path.length === 2) return SECTION_KEYS.hosts;
  if (top === 'hosts' && path[2] === 'firewall') return SECTION_KEYS.firewall;
  if (top === 'tunnels' && path.length === 2) return SECTION_KEYS.tunnels;
  if (top === 'policy' && path.length === 3) return SECTION_KEYS.rule;
  if (top === 'policy' && path.length === 2) return ['allow', 'deny'];
  if (top === 'expect') return SECTION_KEYS.expect;
  if (top === 'invariants') return SECTION_KEYS.invariants;
  if (top === 'firewalls' && path.length === 2) return SECTION_KEYS.firewalls;
  if (top === 'firewalls' && path.length === 4) return SECTION_KEYS.fwrule;
  if (top === 'dns' && path.length === 1) return SECTION_KEYS.dns;
  return undefined;
}
