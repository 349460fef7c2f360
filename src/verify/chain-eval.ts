/**
 * Evaluates one chain for a packet whose addresses and interfaces are fixed and whose protocol
 * and port are free: the answer partitions all flows into pieces, each decided by one rule or by
 * the chain's default. The pieces come from the port ranges the rules actually name, so the cost
 * is in the number of rules, never in the number of ports.
 */
import type { Chain, IrRule } from '../ir/types.js';
import type { Hop } from '../ir/paths.js';
import { ALL_FLOWS, flowIntersect, flowIsEmpty, flowSubtract, flowUnion, NO_FLOWS, type FlowSet } from '../util/flows.js';
import * as R from '../util/rangeset.js';

export interface Piece {
  readonly flows: FlowSet;
  /** undefined: no rule matched, the chain default decided. */
  readonly rule: IrRule | undefined;
  readonly verdict: 'accept' | 'drop';
}

/** Whether a rule's non-flow fields match this hop for a new connection from src to dst. */
export function ruleMatchesHop(rule: IrRule, hop: Hop, src: number, dst: number): boolean {
  const m = rule.match;
  if (m.state === 'established') return false;
  if (m.iif && (hop.iif === undefined || !m.iif.includes(hop.iif))) return false;
  if (m.oif && (hop.oif === undefined || !m.oif.includes(hop.oif))) return false;
  if (m.inPort && (hop.inPort === undefined || !m.inPort.includes(hop.inPort))) return false;
  if (m.src && !R.contains(m.src, src)) return false;
  if (m.dst && !R.contains(m.dst, dst)) return false;
  return true;
}

/** Same as ruleMatchesHop but ignoring the source address (for finding source classes). */
export function ruleMatchesHopAnySrc(rule: IrRule, hop: Hop, dst: number): boolean {
  const m = rule.match;
  if (m.state === 'established') return false;
  if (m.iif && (hop.iif === undefined || !m.iif.includes(hop.iif))) return false;
  if (m.oif && (hop.oif === undefined || !m.oif.includes(hop.oif))) return false;
  if (m.inPort && (hop.inPort === undefined || !m.inPort.includes(hop.inPort))) return false;
  if (m.dst && !R.contains(m.dst, dst)) return false;
  return true;
}

export function evalChain(chain: Chain, hop: Hop, src: number, dst: number): Piece[] {
  const pieces: Piece[] = [];
  let remaining: FlowSet = ALL_FLOWS;
  const rules = chain.rules.length >= INDEX_FROM ? indexOf(chain).candidates(hop.inPort, src).map((i) => chain.rules[i]!) : chain.rules;
  for (const rule of rules) {
    if (!ruleMatchesHop(rule, hop, src, dst)) continue;
    const m = flowIntersect(remaining, rule.match.flows);
    if (flowIsEmpty(m)) continue;
    pieces.push({ flows: m, rule, verdict: rule.action === 'accept' ? 'accept' : 'drop' });
    remaining = flowSubtract(remaining, m);
    if (flowIsEmpty(remaining)) break;
  }
  if (!flowIsEmpty(remaining)) pieces.push({ flows: remaining, rule: undefined, verdict: chain.policy });
  return pieces;
}

export function acceptedFlows(pieces: readonly Piece[]): FlowSet {
  let acc: FlowSet = NO_FLOWS;
  for (const p of pieces) if (p.verdict === 'accept') acc = flowUnion(acc, p.flows);
  return acc;
}

/**
 * Chains with many rules get an index, built once per chain: rules bound to a bridge port listed
 * under that port, the others by source address (a segment tree over the intervals their source
 * prefixes cut the address space into). The candidates for a hop and source are every rule
 * that could match them, in chain order, so evalChain's result is the same as scanning them all.
 */
const INDEX_FROM = 256;

class RuleIndex {
  private readonly byPort = new Map<string, number[]>();
  private readonly anySrc: number[] = [];
  private readonly bounds: Float64Array;
  private readonly leaves: number;
  private readonly off: Int32Array;
  private readonly idx: Int32Array;

  constructor(rules: readonly IrRule[]) {
    const withSrc: number[] = [];
    const cuts: number[] = [];
    rules.forEach((r, i) => {
      const m = r.match;
      if (m.inPort) {
        for (const p of m.inPort) {
          const l = this.byPort.get(p);
          if (l) l.push(i);
          else this.byPort.set(p, [i]);
        }
      } else if (!m.src) this.anySrc.push(i);
      else {
        withSrc.push(i);
        for (const [lo, hi] of m.src) cuts.push(lo, hi + 1);
      }
    });
    const b = Float64Array.from(new Set(cuts)).sort();
    this.bounds = b;
    const leaves = Math.max(1, b.length - 1);
    this.leaves = leaves;
    const nodes = (i: number, f: (node: number) => void): void => {
      for (const [lo, hi] of rules[i]!.match.src!) {
        let l = lowerBound(b, lo) + leaves;
        let r = lowerBound(b, hi + 1) + leaves;
        while (l < r) {
          if (l & 1) f(l++);
          if (r & 1) f(--r);
          l >>= 1;
          r >>= 1;
        }
      }
    };
    const counts = new Int32Array(2 * leaves + 1);
    for (const i of withSrc) nodes(i, (n) => counts[n + 1]!++);
    for (let k = 1; k < counts.length; k++) counts[k]! += counts[k - 1]!;
    this.off = counts;
    const fill = counts.slice();
    this.idx = new Int32Array(counts[counts.length - 1]!);
    for (const i of withSrc) nodes(i, (n) => (this.idx[fill[n]!++] = i));
  }

  /** Indexes of the rules that could match a hop on bridge port `inPort` from `src`, ascending. */
  candidates(inPort: string | undefined, src: number): number[] {
    const out: number[] = [...this.anySrc];
    if (inPort !== undefined) for (const i of this.byPort.get(inPort) ?? []) out.push(i);
    const k = upperBound(this.bounds, src) - 1;
    if (k >= 0 && k < this.bounds.length - 1) {
      for (let node = k + this.leaves; node >= 1; node >>= 1) for (let x = this.off[node]!; x < this.off[node + 1]!; x++) out.push(this.idx[x]!);
    }
    out.sort((a, b) => a - b);
    let n = 0;
    for (let x = 0; x < out.length; x++) if (x === 0 || out[x] !== out[x - 1]) out[n++] = out[x]!;
    out.length = n;
    return out;
  }
}

const indexes = new WeakMap<Chain, RuleIndex>();

function indexOf(chain: Chain): RuleIndex {
  let x = indexes.get(chain);
  if (!x) indexes.set(chain, (x = new RuleIndex(chain.rules)));
  return x;
}

function lowerBound(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (a[m]! < x) lo = m + 1;
    else hi = m;
  }
  return lo;
}

function upperBound(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (a[m]! <= x) lo = m + 1;
    else hi = m;
  }
  return lo;
}
