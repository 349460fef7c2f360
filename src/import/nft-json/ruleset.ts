/**
 * The objects of an `nft -j list ruleset` document, indexed by table: tables, chains, sets and
 * rules, each kept as nft printed it. Anything else nft can list (maps, flowtables, named
 * counters, quotas, ct helpers…) is kept in `other` so callers can say they did not understand it.
 */
import { describeValue, type Parsed } from './values.js';

export interface NftTable {
  readonly family: string;
  readonly name: string;
  readonly handle: number | undefined;
}

export interface NftChain {
  readonly family: string;
  readonly table: string;
  readonly name: string;
  readonly handle: number | undefined;
  /** Base chains only: the hook, chain type, priority and policy. */
  readonly hook: string | undefined;
  readonly type: string | undefined;
  readonly prio: number | undefined;
  readonly policy: string | undefined;
}

export interface NftSet {
  readonly family: string;
  readonly table: string;
  readonly name: string;
  readonly handle: number | undefined;
  /** One type name, or the component types of a concatenation. */
  readonly type: readonly string[];
  readonly flags: readonly string[];
  /** Elements as printed (values, or `{elem: {val, counter}}` wrappers); empty = no elements. */
  readonly elem: readonly unknown[];
}

export interface NftRule {
  readonly family: string;
  readonly table: string;
  readonly chain: string;
  readonly handle: number | undefined;
  readonly comment: string | undefined;
  readonly expr: readonly unknown[];
}

export interface NftObject {
  readonly kind: string;
  readonly family: string | undefined;
  readonly table: string | undefined;
  readonly name: string | undefined;
}

export interface NftRuleset {
  readonly tables: readonly NftTable[];
  readonly chains: readonly NftChain[];
  readonly sets: readonly NftSet[];
  readonly rules: readonly NftRule[];
  /** Objects of kinds this module does not index (map, flowtable, counter, quota, ct helper…). */
  readonly other: readonly NftObject[];
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' ? v : undefined;
}

export function tableKey(family: string, name: string): string {
  return `${family} ${name}`;
}

/** Parses an `nft -j list ruleset` (or `list table`) document. */
export function parseRuleset(json: unknown): Parsed<NftRuleset> {
  if (typeof json !== 'object' || json === null || !Array.isArray((json as { nftables?: unknown }).nftables)) {
    return { ok: false, error: `not an nft JSON document: expected {"nftables": [...]}, got ${describeValue(json)}` };
  }
  const tables: NftTable[] = [];
  const chains: NftChain[] = [];
  const sets: NftSet[] = [];
  const rules: NftRule[] = [];
  const other: NftObject[] = [];
  for (const item of (json as { nftables: unknown[] }).nftables) {
    if (typeof item !== 'object' || item === null) return { ok: false, error: `not an nft object: ${describeValue(item)}` };
    const [kind, body] = Object.entries(item as Record<string, unknown>)[0] ?? ['', undefined];
    if (typeof body !== 'object' || body === null) {
      if (kind === 'metainfo') continue;
      return { ok: false, error: `nft object '${kind}' has no body` };
    }
    const b = body as Record<string, unknown>;
    const family = str(b.family);
    const table = str(b.table);
    const name = str(b.name);
    switch (kind) {
      case 'metainfo':
        break;
      case 'table':
        if (family === undefined || name === undefined) return { ok: false, error: `table without family or name: ${describeValue(body)}` };
        tables.push({ family, name, handle: num(b.handle) });
        break;
      case 'chain':
        if (family === undefined || table === undefined || name === undefined)
          return { ok: false, error: `chain without family, table or name: ${describeValue(body)}` };
        chains.push({ family, table, name, handle: num(b.handle), hook: str(b.hook), type: str(b.type), prio: num(b.prio), policy: str(b.policy) });
        break;
      case 'set': {
        if (family === undefined || table === undefined || name === undefined)
          return { ok: false, error: `set without family, table or name: ${describeValue(body)}` };
        const type = Array.isArray(b.type) ? b.type.map(String) : typeof b.type === 'string' ? [b.type] : [];
        const flags = Array.isArray(b.flags) ? b.flags.map(String) : typeof b.flags === 'string' ? [b.flags] : [];
        const elem = Array.isArray(b.elem) ? b.elem : b.elem === undefined ? [] : [b.elem];
        sets.push({ family, table, name, handle: num(b.handle), type, flags, elem });
        break;
      }
      case 'rule': {
        const chain = str(b.chain);
        if (family === undefined || table === undefined || chain === undefined || !Array.isArray(b.expr)) {
          return { ok: false, error: `rule without family, table, chain or expr: ${describeValue(body)}` };
        }
        rules.push({ family, table, chain, handle: num(b.handle), comment: str(b.comment), expr: b.expr });
        break;
      }
      default:
        other.push({ kind, family, table, name });
    }
  }
  return { ok: true, value: { tables, chains, sets, rules, other } };
}
