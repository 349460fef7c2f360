/**
 * lint's view of the chain results by spec rule: one spec rule compiles into rules of several
 * chains, and a finding about it needs what lintChain said of each. Columns and flat arrays, not
 * an object per compiled rule: at 1k that was 17,000 objects, nearly all of rules with no finding.
 */
import type { IrRule } from '../ir/types.js';
import { type ChainLint, isSubject } from './lint-chain.js';

/** Bits of a rule's status column: what lintChain found of it in its chain. */
export const EMPTY = 1;
export const SHADOWED = 2;
export const REDUNDANT = 4;

/** Per rule of a chain, EMPTY, SHADOWED and REDUNDANT as lintChain found them. */
export function statusColumn(res: ChainLint): Uint8Array {
  const st = new Uint8Array(res.chain.rules.length);
  for (const i of res.empty) st[i]! |= EMPTY;
  for (const i of res.shadowed.keys()) st[i]! |= SHADOWED;
  for (const i of res.redundant.keys()) st[i]! |= REDUNDANT;
  return st;
}

/** 1 for the rules lint reports on (isSubject), 0 for cordon's plumbing. */
export function subjectColumn(rules: readonly IrRule[]): Uint8Array {
  const out = new Uint8Array(rules.length);
  for (let x = 0; x < rules.length; x++) out[x] = isSubject(rules[x]!) ? 1 : 0;
  return out;
}

/**
 * The subject rules of every chain grouped by spec rule id, without an object per rule: the
 * occurrences of id k are (chain[t], rule[t]) for t in [start[k], start[k + 1]), in chain order
 * then rule order; `order` holds the ids that have any, in the order first met. Most spec rules
 * are neither shadowed nor redundant, and their occurrences need no more than a status read.
 */
export interface Occurrences {
  readonly order: readonly number[];
  readonly start: Int32Array;
  readonly chain: Int32Array;
  readonly rule: Int32Array;
}

export function occurrences(keyIds: readonly Int32Array[], subjects: readonly Uint8Array[], idCount: number): Occurrences {
  const start = new Int32Array(idCount + 1);
  const order: number[] = [];
  let total = 0;
  for (let c = 0; c < keyIds.length; c++) {
    const kid = keyIds[c]!;
    const subject = subjects[c]!;
    for (let x = 0; x < kid.length; x++) {
      if (subject[x] !== 1) continue;
      const k = kid[x]!;
      if (start[k + 1] === 0) order.push(k);
      start[k + 1]!++;
      total++;
    }
  }
  for (let k = 0; k < idCount; k++) start[k + 1]! += start[k]!;
  const chain = new Int32Array(total);
  const rule = new Int32Array(total);
  const next = start.slice(0, idCount);
  for (let c = 0; c < keyIds.length; c++) {
    const kid = keyIds[c]!;
    const subject = subjects[c]!;
    for (let x = 0; x < kid.length; x++) {
      if (subject[x] !== 1) continue;
      const t = next[kid[x]!]!++;
      chain[t] = c;
      rule[t] = x;
    }
  }
  return { order, start, chain, rule };
}
