/**
 * The shape of a rule set, as far as `apply` checks it after loading: which tables, which chains
 * with which hook, priority and policy, how many rules each chain holds, and which elements each
 * set holds. It is read from two sides, the rendered text and `nft -j list ruleset`, and compared;
 * set elements are compared as parsed intervals, so nft's own spelling (prefixes for aligned
 * ranges, `ip` for protocol 0, wrapped elements with counters) does not count as a difference.
 */
import { parseRuleset, tableKey, type NftRuleset } from '../import/nft-json/ruleset.js';
import { concatParts, parseAddr, parseIfname, parseMark, parsePort, parseProto, PROTO_NUMBERS, type Iv, type Parsed } from '../import/nft-json/values.js';
import { TABLE_PREFIX } from '../model/names.js';
import { parseIPv4 } from '../util/ip.js';
import * as R from '../util/rangeset.js';

export interface ChainShape {
  readonly hook: string | undefined;
  readonly prio: number | undefined;
  readonly policy: string | undefined;
  readonly rules: number;
}

export interface SetShape {
  readonly type: readonly string[];
  readonly interval: boolean;
  /** Canonical element keys, sorted; one-field sets as merged intervals. */
  readonly elements: readonly string[];
}

export interface TableShape {
  readonly family: string;
  readonly name: string;
  readonly chains: ReadonlyMap<string, ChainShape>;
  readonly sets: ReadonlyMap<string, SetShape>;
}

/** Tables by `family name`. */
export type RulesetShape = ReadonlyMap<string, TableShape>;

export function isCordonTable(name: string): boolean {
  return name.startsWith(TABLE_PREFIX);
}

const PRIORITY_NAMES: Readonly<Record<string, number>> = { raw: -300, mangle: -150, dstnat: -100, filter: 0, security: 50, srcnat: 100 };
const BRIDGE_PRIORITY_NAMES: Readonly<Record<string, number>> = { dstnat: -300, filter: -200, out: 100, srcnat: 300 };

function priorityOf(text: string, family: string): number | undefined {
  const m = /^([a-z]+)?\s*([+-]\s*\d+)?$/.exec(text.trim());
  if (/^-?\d+$/.test(text.trim())) return Number(text.trim());
  if (!m || !m[1]) return undefined;
  const base = (family === 'bridge' ? BRIDGE_PRIORITY_NAMES : PRIORITY_NAMES)[m[1]];
  if (base === undefined) return undefined;
  return base + (m[2] ? Number(m[2].replace(/\s+/g, '')) : 0);
}

function ivKey([lo, hi]: Iv): string {
  return lo === hi ? String(lo) : `${lo}-${hi}`;
}

/** Parses one element component as nft JSON prints it, by its set type. */
function jsonComponent(type: string, v: unknown): Parsed<string> {
  switch (type) {
    case 'ipv4_addr': {
      const p = parseAddr(v);
      return p.ok ? { ok: true, value: ivKey(p.value) } : p;
    }
    case 'inet_proto': {
      const p = parseProto(v);
      return p.ok ? { ok: true, value: ivKey(p.value) } : p;
    }
    case 'inet_service': {
      const p = parsePort(v);
      return p.ok ? { ok: true, value: ivKey(p.value) } : p;
    }
    case 'mark': {
      const p = parseMark(v);
      return p.ok ? { ok: true, value: ivKey(p.value) } : p;
    }
    case 'ifname':
      return parseIfname(v);
    default:
      return { ok: true, value: JSON.stringify(v) };
  }
}

/** Parses one element component as cordon writes it in nft text. */
function textComponent(type: string, text: string): Parsed<string> {
  const t = text.trim();
  const range = (lo: number | undefined, hi: number | undefined): Parsed<string> =>
    lo === undefined || hi === undefined || lo > hi ? { ok: false, error: `'${t}' is not a ${type} value` } : { ok: true, value: ivKey([lo, hi]) };
  const num = (s: string, names?: ReadonlyMap<string, number>): number | undefined =>
    /^\d+$/.test(s) ? Number(s) : /^0x[0-9a-f]+$/i.test(s) ? parseInt(s, 16) : names?.get(s);
  switch (type) {
    case 'ipv4_addr': {
      const slash = /^([\d.]+)\/(\d+)$/.exec(t);
      if (slash) {
        const p = parseAddr({ prefix: { addr: slash[1], len: Number(slash[2]) } });
        return p.ok ? { ok: true, value: ivKey(p.value) } : p;
      }
      const dash = /^([\d.]+)-([\d.]+)$/.exec(t);
      if (dash) return range(parseIPv4(dash[1]!), parseIPv4(dash[2]!));
      const a = parseIPv4(t);
      return range(a, a);
    }
    case 'inet_proto':
    case 'inet_service':
    case 'mark': {
      const names = type === 'inet_proto' ? PROTO_NUMBERS : undefined;
      const dash = /^([\w.]+)-([\w.]+)$/.exec(t);
      if (dash && num(dash[1]!, names) !== undefined) return range(num(dash[1]!, names), num(dash[2]!, names));
      const n = num(t, names);
      return range(n, n);
    }
    case 'ifname':
      return { ok: true, value: t.replace(/^"(.*)"$/, '$1') };
    default:
      return { ok: true, value: t };
  }
}

/** One-field interval sets are compared as the union of their intervals (nft may merge or split). */
function canonicalElements(type: readonly string[], interval: boolean, keys: string[]): string[] {
  if (type.length === 1 && interval && ['ipv4_addr', 'inet_proto', 'inet_service', 'mark'].includes(type[0]!)) {
    const spans = keys.map((k) => {
      const [a, b] = k.split('-');
      return [Number(a), Number(b ?? a)] as const;
    });
    return R.normalize(spans).map(ivKey);
  }
  return [...new Set(keys)].sort();
}

/** The shape of cordon's tables in an `nft -j list ruleset` document. */
export function shapeFromJson(json: unknown, onlyCordon = true): Parsed<RulesetShape> {
  const p = parseRuleset(json);
  if (!p.ok) return p;
  return shapeFromRuleset(p.value, onlyCordon);
}

export function shapeFromRuleset(rs: NftRuleset, onlyCordon = true): Parsed<RulesetShape> {
  const tables = new Map<string, { family: string; name: string; chains: Map<string, ChainShape>; sets: Map<string, SetShape> }>();
  for (const t of rs.tables) {
    if (onlyCordon && !isCordonTable(t.name)) continue;
    tables.set(tableKey(t.family, t.name), { family: t.family, name: t.name, chains: new Map(), sets: new Map() });
  }
  const counts = new Map<string, number>();
  for (const r of rs.rules) {
    const k = `${tableKey(r.family, r.table)} ${r.chain}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  for (const c of rs.chains) {
    const t = tables.get(tableKey(c.family, c.table));
    if (!t) continue;
    t.chains.set(c.name, {
      hook: c.hook,
      prio: c.prio,
      policy: c.hook ? (c.policy ?? 'accept') : undefined,
      rules: counts.get(`${tableKey(c.family, c.table)} ${c.name}`) ?? 0,
    });
  }
  for (const s of rs.sets) {
    const t = tables.get(tableKey(s.family, s.table));
    if (!t) continue;
    const keys: string[] = [];
    for (const e of s.elem) {
      const parts = concatParts(e);
      if (parts.length !== s.type.length)
        return { ok: false, error: `set ${s.name} in ${s.family} ${s.table}: element with ${parts.length} parts in a set of ${s.type.length}` };
      const comps: string[] = [];
      for (let i = 0; i < parts.length; i++) {
        const c = jsonComponent(s.type[i]!, parts[i]);
        if (!c.ok) return { ok: false, error: `set ${s.name} in ${s.family} ${s.table}: ${c.error}` };
        comps.push(c.value);
      }
      keys.push(comps.join(' . '));
    }
    const interval = s.flags.includes('interval');
    t.sets.set(s.name, { type: s.type, interval, elements: canonicalElements(s.type, interval, keys) });
  }
  return { ok: true, value: tables };
}

/**
 * The shape of the tables defined in nft text as cordon's nftables target writes it: one
 * statement per line, blocks opened at the end of a line and closed by a line `}`, comments on
 * their own lines. `table X {}` and `delete table X` lines (the atomic-replace preamble) define
 * nothing and are skipped.
 */
export function shapeFromText(text: string): Parsed<RulesetShape> {
  const tables = new Map<string, { family: string; name: string; chains: Map<string, ChainShape>; sets: Map<string, SetShape> }>();
  type Frame =
    | { kind: 'table'; family: string; name: string }
    | { kind: 'chain'; name: string; hook: string | undefined; prio: number | undefined; policy: string | undefined; rules: number }
    | { kind: 'set'; name: string; type: string[]; interval: boolean; elements: string[]; inElements: boolean };
  const stack: Frame[] = [];
  const lines = text.split('\n');
  const fail = (i: number, why: string): Parsed<RulesetShape> => ({ ok: false, error: `line ${i + 1}: ${why}: ${lines[i]?.trim() ?? ''}` });
  const table = (): { family: string; name: string; chains: Map<string, ChainShape>; sets: Map<string, SetShape> } | undefined => {
    const t = stack.find((f) => f.kind === 'table') as { family: string; name: string } | undefined;
    return t ? tables.get(tableKey(t.family, t.name)) : undefined;
  };
  const addElements = (set: { type: string[]; elements: string[] }, items: string, i: number): string | undefined => {
    for (const raw of items.split(',')) {
      const item = raw.trim();
      if (item === '') continue;
      const parts = item.split(' . ');
      if (parts.length !== set.type.length) return `element '${item}' has ${parts.length} parts, the set type ${set.type.length}`;
      const comps: string[] = [];
      for (let k = 0; k < parts.length; k++) {
        const c = textComponent(set.type[k]!, parts[k]!);
        if (!c.ok) return c.error;
        comps.push(c.value);
      }
      set.elements.push(comps.join(' . '));
    }
    void i;
    return undefined;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const top = stack[stack.length - 1];
    if (top?.kind === 'set' && top.inElements) {
      const close = line.endsWith('}');
      const err = addElements(top, close ? line.slice(0, -1) : line, i);
      if (err) return fail(i, err);
      if (close) top.inElements = false;
      continue;
    }
    if (line === '}') {
      const f = stack.pop();
      if (!f) return fail(i, 'unbalanced }');
      const t = table();
      if (f.kind === 'chain' && t) t.chains.set(f.name, { hook: f.hook, prio: f.prio, policy: f.policy, rules: f.rules });
      if (f.kind === 'set' && t) t.sets.set(f.name, { type: f.type, interval: f.interval, elements: canonicalElements(f.type, f.interval, f.elements) });
      continue;
    }
    let m: RegExpExecArray | null;
    if (stack.length === 0) {
      if ((m = /^table\s+(\w+)\s+(\S+)\s*\{\s*\}$/.exec(line)) || (m = /^delete\s+table\s+(\w+)\s+(\S+)$/.exec(line))) continue;
      if ((m = /^table\s+(\w+)\s+(\S+)\s*\{$/.exec(line))) {
        stack.push({ kind: 'table', family: m[1]!, name: m[2]! });
        tables.set(tableKey(m[1]!, m[2]!), { family: m[1]!, name: m[2]!, chains: new Map(), sets: new Map() });
        continue;
      }
      return fail(i, 'expected a table');
    }
    if (top?.kind === 'table') {
      if ((m = /^chain\s+(\S+)\s*\{$/.exec(line))) {
        stack.push({ kind: 'chain', name: m[1]!, hook: undefined, prio: undefined, policy: undefined, rules: 0 });
        continue;
      }
      if ((m = /^set\s+(\S+)\s*\{$/.exec(line))) {
        stack.push({ kind: 'set', name: m[1]!, type: [], interval: false, elements: [], inElements: false });
        continue;
      }
      return fail(i, 'expected a chain or a set');
    }
    if (top?.kind === 'chain') {
      if ((m = /^type\s+\w+\s+hook\s+(\w+)\s+priority\s+([^;]+);\s*(?:policy\s+(\w+)\s*;)?$/.exec(line))) {
        top.hook = m[1];
        const fam = (stack[0] as { family: string }).family;
        top.prio = priorityOf(m[2]!, fam);
        top.policy = m[3] ?? 'accept';
        continue;
      }
      top.rules++;
      continue;
    }
    if (top?.kind === 'set') {
      if ((m = /^type\s+(.+)$/.exec(line))) {
        top.type = m[1]!.split(' . ').map((s) => s.trim());
        continue;
      }
      if ((m = /^flags\s+(.+)$/.exec(line))) {
        top.interval = m[1]!
          .split(',')
          .map((s) => s.trim())
          .includes('interval');
        continue;
      }
      if ((m = /^elements\s*=\s*\{(.*)$/.exec(line))) {
        const rest = m[1]!;
        const close = rest.trimEnd().endsWith('}');
        const err = addElements(top, close ? rest.trimEnd().slice(0, -1) : rest, i);
        if (err) return fail(i, err);
        top.inElements = !close;
        continue;
      }
      if (/^(counter|auto-merge|comment\s.*|size\s+\d+|policy\s+\w+)$/.test(line)) continue;
      return fail(i, 'unexpected line in a set');
    }
    return fail(i, 'unexpected line');
  }
  if (stack.length) return { ok: false, error: `unclosed block at the end (${stack.map((f) => f.kind).join(' > ')})` };
  return { ok: true, value: tables };
}

/** Differences between what was rendered and what the kernel holds, one line each; empty = same. */
export function compareShapes(expected: RulesetShape, loaded: RulesetShape): string[] {
  const out: string[] = [];
  for (const [k, t] of expected) {
    const l = loaded.get(k);
    if (!l) {
      out.push(`table ${k} is missing`);
      continue;
    }
    for (const [name, c] of t.chains) {
      const lc = l.chains.get(name);
      if (!lc) {
        out.push(`table ${k}: chain ${name} is missing`);
        continue;
      }
      if (c.hook !== lc.hook) out.push(`table ${k} chain ${name}: hook ${lc.hook ?? 'none'}, rendered ${c.hook ?? 'none'}`);
      if (c.hook && c.prio !== lc.prio) out.push(`table ${k} chain ${name}: priority ${lc.prio}, rendered ${c.prio}`);
      if (c.policy !== lc.policy) out.push(`table ${k} chain ${name}: policy ${lc.policy ?? 'none'}, rendered ${c.policy ?? 'none'}`);
      if (c.rules !== lc.rules) out.push(`table ${k} chain ${name}: ${lc.rules} rule(s) loaded, ${c.rules} rendered`);
    }
    for (const name of l.chains.keys()) if (!t.chains.has(name)) out.push(`table ${k}: unexpected chain ${name}`);
    for (const [name, s] of t.sets) {
      const ls = l.sets.get(name);
      if (!ls) {
        out.push(`table ${k}: set ${name} is missing`);
        continue;
      }
      if (s.type.join(' . ') !== ls.type.join(' . ')) out.push(`table ${k} set ${name}: type ${ls.type.join(' . ')}, rendered ${s.type.join(' . ')}`);
      const want = new Set(s.elements);
      const have = new Set(ls.elements);
      const missing = s.elements.filter((e) => !have.has(e));
      const extra = ls.elements.filter((e) => !want.has(e));
      if (missing.length || extra.length) {
        out.push(
          `table ${k} set ${name}: ${missing.length} element(s) missing${missing.length ? ` (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''})` : ''}, ${extra.length} unexpected${extra.length ? ` (${extra.slice(0, 3).join(', ')}${extra.length > 3 ? ', …' : ''})` : ''}`,
        );
      }
    }
    for (const name of l.sets.keys()) if (!t.sets.has(name)) out.push(`table ${k}: unexpected set ${name}`);
  }
  for (const k of loaded.keys()) if (!expected.has(k)) out.push(`unexpected table ${k}`);
  return out;
}
