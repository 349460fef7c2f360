/**
 * Rule-by-rule content of cordon's tables, for apply's read-back check.
 *
 * Both sides are the kernel's own `nft -j list ruleset`: the rendered text loaded into a scratch
 * network namespace, and the target after the load. So every spelling choice of nft (prefixes
 * for ranges, protocol names, merged intervals) is the same on both sides, and what remains to
 * compare is meaning: every chain's declaration (type, hook, priority, policy, device), every
 * rule's full expression list in order (matches, statements, verdict, comment), every set's and
 * map's declaration and elements, and any other object in a cordon table (named counters,
 * quotas, limits, flowtables…). Only what cannot matter is dropped: handles, counter values
 * and a named counter's or quota's running numbers.
 *
 * `nft -s -a list ruleset` text, when given, is used to quote rules the way an admin reads them.
 */
import { isCordonTable } from './shape.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface RuleView {
  /** Canonical JSON of the rule's expressions and comment: equal keys, equal rules. */
  readonly key: string;
  /** The rule as nft prints it (or its JSON when no listing was given). */
  readonly text: string;
}

export interface ChainView {
  /** Canonical JSON of the declaration (type, hook, prio, policy, dev); `{}` for a regular chain. */
  readonly decl: string;
  readonly rules: readonly RuleView[];
}

export interface SetView {
  /** Canonical JSON of everything but the elements. */
  readonly decl: string;
  /** Elements, canonical and sorted, with a readable form. */
  readonly elements: ReadonlyMap<string, string>;
}

export interface TableView {
  readonly decl: string;
  readonly chains: ReadonlyMap<string, ChainView>;
  /** Sets and maps by `set NAME` / `map NAME`. */
  readonly sets: ReadonlyMap<string, SetView>;
  /** Any other object by `KIND NAME`, as canonical JSON. */
  readonly objects: ReadonlyMap<string, string>;
}

/** cordon's tables by `family name`. */
export type ContentView = ReadonlyMap<string, TableView>;

const DROPPED = new Set(['handle', 'family', 'table', 'name', 'chain', 'index']);

/** JSON with sorted keys, no handles, and every counter's numbers gone (`nft -s` prints null). */
function canonical(v: unknown): string {
  return JSON.stringify(normalise(v));
}

function normalise(v: unknown): Json {
  if (Array.isArray(v)) return v.map(normalise);
  if (v === null || typeof v !== 'object') return v as Json;
  const o = v as Record<string, unknown>;
  const out: { [k: string]: Json } = {};
  for (const k of Object.keys(o).sort()) {
    if (k === 'counter' && (o[k] === null || (typeof o[k] === 'object' && o[k] !== null && 'packets' in o[k]))) {
      out[k] = null;
      continue;
    }
    out[k] = normalise(o[k]);
  }
  return out;
}

function declOf(o: Record<string, unknown>, drop: readonly string[] = []): string {
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (!DROPPED.has(k) && !drop.includes(k)) rest[k] = v;
  return canonical(rest);
}

/** A set element as nft writes it in text: `a . b-c . tcp . 80`. */
export function elementText(v: unknown): string {
  if (v === null || typeof v !== 'object') return String(v);
  const o = v as Record<string, unknown>;
  if ('elem' in o) return elementText((o.elem as Record<string, unknown>).val ?? o.elem);
  if (Array.isArray(o.concat)) return o.concat.map(elementText).join(' . ');
  if (Array.isArray(o.range)) return `${elementText(o.range[0])}-${elementText(o.range[1])}`;
  if (o.prefix && typeof o.prefix === 'object') {
    const p = o.prefix as { addr: unknown; len: unknown };
    return `${elementText(p.addr)}/${String(p.len)}`;
  }
  return JSON.stringify(v);
}

/** Rule text by `family table chain handle`, from `nft -s -a list ruleset`. */
export function ruleTexts(listing: string): Map<string, string> {
  const out = new Map<string, string>();
  let table = '';
  let chain = '';
  for (const raw of listing.split('\n')) {
    const line = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^table (\w+) (\S+) \{/.exec(line))) table = `${m[1]} ${m[2]}`;
    else if ((m = /^chain (\S+) \{/.exec(line))) chain = m[1]!;
    else if ((m = /^(.*?)\s*# handle (\d+)$/.exec(line)) && chain !== '') out.set(`${table} ${chain} ${m[2]}`, m[1]!);
    else if (line === '}' && chain !== '') chain = '';
  }
  return out;
}

/** The content of cordon's tables in an `nft -j list ruleset` document. */
export function contentView(json: unknown, listing?: string): ContentView {
  const items = ((json as { nftables?: unknown[] } | null)?.nftables ?? []) as Record<string, Record<string, unknown>>[];
  const texts = listing === undefined ? new Map<string, string>() : ruleTexts(listing);
  const tables = new Map<
    string,
    { decl: string; chains: Map<string, { decl: string; rules: RuleView[] }>; sets: Map<string, SetView>; objects: Map<string, string> }
  >();
  const tableOf = (o: Record<string, unknown>): ReturnType<typeof tables.get> => tables.get(`${String(o.family)} ${String(o.table)}`);
  for (const item of items) {
    const t = item.table;
    if (t && typeof t.name === 'string' && isCordonTable(t.name))
      tables.set(`${String(t.family)} ${t.name}`, { decl: declOf(t), chains: new Map(), sets: new Map(), objects: new Map() });
  }
  for (const item of items) {
    for (const [kind, o] of Object.entries(item)) {
      if (kind === 'table' || kind === 'metainfo' || o === null || typeof o !== 'object') continue;
      const t = tableOf(o);
      if (!t) continue;
      if (kind === 'chain') t.chains.set(String(o.name), { decl: declOf(o), rules: t.chains.get(String(o.name))?.rules ?? [] });
      else if (kind === 'rule') {
        const name = String(o.chain);
        const c = t.chains.get(name) ?? { decl: '(not listed)', rules: [] };
        t.chains.set(name, c);
        const key = canonical({ expr: o.expr ?? [], comment: o.comment ?? null });
        const text = texts.get(`${String(o.family)} ${String(o.table)} ${name} ${String(o.handle)}`) ?? JSON.stringify(o.expr);
        c.rules.push({ key, text });
      } else if (kind === 'set' || kind === 'map') {
        const elements = new Map<string, string>();
        for (const e of (o.elem as unknown[] | undefined) ?? []) elements.set(canonical(e), elementText(e));
        t.sets.set(`${kind} ${String(o.name)}`, { decl: declOf(o, ['elem']), elements: new Map([...elements].sort(([a], [b]) => a.localeCompare(b))) });
      } else {
        // eslint-disable-next-line @typescript-eslint/no-base-to-string -- nft's JSON names an object with a string
        t.objects.set(`${kind} ${String(o.name ?? '')}`, declOf(o, ['packets', 'bytes', 'used']));
      }
    }
  }
  return tables;
}

function quote(rules: readonly RuleView[], from: number, to: number): string {
  const shown = rules.slice(from, Math.min(to, from + 3)).map((r) => `'${r.text}'`);
  return `${shown.join(', ')}${to - from > 3 ? `, … (${to - from} in all)` : ''}`;
}

/** Differences between two chains' rule lists, by the first and last rule where they part. */
function compareRules(where: string, want: readonly RuleView[], have: readonly RuleView[]): string[] {
  let head = 0;
  while (head < want.length && head < have.length && want[head]!.key === have[head]!.key) head++;
  if (head === want.length && head === have.length) return [];
  let tail = 0;
  while (tail < want.length - head && tail < have.length - head && want[want.length - 1 - tail]!.key === have[have.length - 1 - tail]!.key) tail++;
  const w = want.slice(head, want.length - tail);
  const h = have.slice(head, have.length - tail);
  const wKeys = new Set(w.map((r) => r.key));
  const hKeys = new Set(h.map((r) => r.key));
  const extra = h.filter((r) => !wKeys.has(r.key));
  const missing = w.filter((r) => !hKeys.has(r.key));
  const out: string[] = [];
  if (extra.length) out.push(`${where}: ${extra.length} rule(s) loaded that were not rendered, from rule ${head + 1}: ${quote(extra, 0, extra.length)}`);
  if (missing.length) out.push(`${where}: ${missing.length} rendered rule(s) not loaded, from rule ${head + 1}: ${quote(missing, 0, missing.length)}`);
  if (!out.length)
    out.push(`${where}: the same rules in another order from rule ${head + 1} (loaded ${quote(h, 0, h.length)}; rendered ${quote(w, 0, w.length)})`);
  return out;
}

function listSome(xs: readonly string[]): string {
  return `${xs.slice(0, 3).join(', ')}${xs.length > 3 ? `, … (${xs.length} in all)` : ''}`;
}

/** Differences between what was rendered and what the kernel holds, one line each; empty = same. */
export function compareContent(rendered: ContentView, loaded: ContentView): string[] {
  const out: string[] = [];
  for (const [k, t] of rendered) {
    const l = loaded.get(k);
    if (!l) {
      out.push(`table ${k} is missing`);
      continue;
    }
    if (t.decl !== l.decl) out.push(`table ${k}: declared ${l.decl}, rendered ${t.decl}`);
    for (const [name, c] of t.chains) {
      const lc = l.chains.get(name);
      if (!lc) {
        out.push(`table ${k}: chain ${name} is missing`);
        continue;
      }
      if (c.decl !== lc.decl) out.push(`table ${k} chain ${name}: declared ${lc.decl}, rendered ${c.decl}`);
      out.push(...compareRules(`table ${k} chain ${name}`, c.rules, lc.rules));
    }
    for (const name of l.chains.keys()) if (!t.chains.has(name)) out.push(`table ${k}: unexpected chain ${name} (${l.chains.get(name)!.rules.length} rule(s))`);
    for (const [name, s] of t.sets) {
      const ls = l.sets.get(name);
      if (!ls) {
        out.push(`table ${k}: ${name} is missing`);
        continue;
      }
      if (s.decl !== ls.decl) out.push(`table ${k} ${name}: declared ${ls.decl}, rendered ${s.decl}`);
      const extra = [...ls.elements].filter(([e]) => !s.elements.has(e)).map(([, text]) => text);
      const missing = [...s.elements].filter(([e]) => !ls.elements.has(e)).map(([, text]) => text);
      if (extra.length) out.push(`table ${k} ${name}: ${extra.length} element(s) loaded that were not rendered: ${listSome(extra)}`);
      if (missing.length) out.push(`table ${k} ${name}: ${missing.length} rendered element(s) not loaded: ${listSome(missing)}`);
    }
    for (const name of l.sets.keys()) if (!t.sets.has(name)) out.push(`table ${k}: unexpected ${name}`);
    for (const [name, o] of t.objects) {
      const lo = l.objects.get(name);
      if (lo === undefined) out.push(`table ${k}: ${name} is missing`);
      else if (lo !== o) out.push(`table ${k} ${name}: loaded ${lo}, rendered ${o}`);
    }
    for (const name of l.objects.keys()) if (!t.objects.has(name)) out.push(`table ${k}: unexpected ${name}`);
  }
  for (const k of loaded.keys()) if (!rendered.has(k)) out.push(`unexpected table ${k}`);
  return out;
}
