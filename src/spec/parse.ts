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
        if (!pair || !isScalar(pair.key)) return path;
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
    for (const e of errors) {
      const x = explainYamlError(e, text, lines);
      const p = lines.linePos(x.offset);
      const keys = [`raw:${e.pos[0]}`, `at:${p.line}:${p.col}`];
      if (keys.some((k) => seen.has(k))) continue;
      for (const k of keys) seen.add(k);
      diagnostics.push(diag('CORDON002', 'error', `YAML syntax error: ${x.message}`, { file, line: p.line, col: p.col, path: formatPath(source.pathAt(x.pathOffset ?? x.offset)) }, x.hint));
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

/**
 * Turns a parser error into words about the user's text: an unclosed bracket or quote is reported
 * where it opens (the parser only notices at the next key), an over-indented line where it is.
 */
function explainYamlError(e: YAMLError, text: string, lines: LineCounter): { offset: number; pathOffset?: number; message: string; hint: string | undefined } {
  const first = e.message.split('\n')[0] ?? e.message;
  const lineStart = (offset: number): number => text.lastIndexOf('\n', offset - 1) + 1;
  const firstNonBlank = (offset: number): number => {
    let i = lineStart(offset);
    while (text[i] === ' ' || text[i] === '\t') i++;
    return i;
  };
  switch (e.code) {
    case 'DUPLICATE_KEY':
      return { offset: e.pos[0], message: first, hint: 'each key may appear once in a mapping; merge the two entries or rename one' };
    case 'TAB_AS_INDENT':
      return { offset: e.pos[0], message: first, hint: 'replace tabs with spaces' };
    case 'BLOCK_AS_IMPLICIT_KEY':
    case 'MULTILINE_IMPLICIT_KEY': {
      const from = lines.linePos(e.pos[0]).line;
      const to = lines.linePos(e.pos[1]).line;
      if (to > from) {
        // `kind: vm` followed by a deeper `nics: …`: YAML reads the second line as more of the value `vm`.
        const at = firstNonBlank(e.pos[1]);
        const indent = firstNonBlank(e.pos[0]) - lineStart(e.pos[0]);
        const above = text.slice(firstNonBlank(e.pos[0]), text.indexOf('\n', e.pos[0]) < 0 ? undefined : text.indexOf('\n', e.pos[0])).split(':')[0];
        return {
          offset: at,
          // The path of the key whose value swallowed the line, not of the garbled key YAML made of it.
          pathOffset: firstNonBlank(e.pos[0]),
          message: `line ${to} is indented deeper than the key on line ${from}, so it reads as a continuation of that line's value`,
          hint: `keys of one mapping must start in the same column: indent it like '${above}:' (${indent} spaces), or nest it under a key that ends with ':'`,
        };
      }
      return { offset: e.pos[0], message: first, hint: "a plain value may not contain ': '; quote it, e.g. \"a: b\"" };
    }
    case 'MISSING_CHAR':
    case 'BAD_INDENT':
    case 'UNEXPECTED_TOKEN': {
      const open = unclosedAt(text, e.pos[0]);
      if (open && (/end with a [}\]]|[Mm]issing closing/.test(first) || e.code === 'MISSING_CHAR')) {
        const p = lines.linePos(open.offset);
        if (open.ch === '"' || open.ch === "'") {
          return { offset: open.offset, message: `the string opened with ${open.ch} on line ${p.line} is never closed`, hint: `add the closing ${open.ch}` };
        }
        const close = open.ch === '{' ? '}' : ']';
        return {
          offset: open.offset,
          message: `'${open.ch}' on line ${p.line} is never closed`,
          hint: `add the missing '${close}'; the ${open.ch === '{' ? 'mapping' : 'list'} must end before line ${lines.linePos(e.pos[0]).line}`,
        };
      }
      if (e.code === 'BAD_INDENT') {
        return { offset: firstNonBlank(e.pos[0]), message: first, hint: 'keys of one mapping must start in the same column, and keys nested under another key must be indented deeper than it' };
      }
      return { offset: e.pos[0], message: first, hint: undefined };
    }
    default:
      return { offset: e.pos[0], message: first, hint: undefined };
  }
}

/**
 * The innermost flow bracket or quote still open at `offset`, found by a small scan that knows
 * quotes and comments; undefined when everything before `offset` is balanced.
 */
export function unclosedAt(text: string, offset: number): { ch: string; offset: number } | undefined {
  const stack: { ch: string; offset: number }[] = [];
  let quote: { ch: string; offset: number } | undefined;
  let prev = '\n';
  for (let i = 0; i < offset && i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (quote.ch === '"' && ch === '\\') i++;
      else if (ch === quote.ch) {
        if (ch === "'" && text[i + 1] === "'") i++;
        else quote = undefined;
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
    if ((ch === '"' || ch === "'") && /[\s:[{,-]/.test(prev)) quote = { ch, offset: i };
    else if (ch === '{' || ch === '[') stack.push({ ch, offset: i });
    else if ((ch === '}' || ch === ']') && stack.length && stack[stack.length - 1]!.ch === (ch === '}' ? '{' : '[')) stack.pop();
    if (!/\s/.test(ch) || ch === '\n') prev = ch;
  }
  return quote ?? stack[stack.length - 1];
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
