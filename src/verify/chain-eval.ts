/**
 * Evaluates one chain for a packet whose addresses and interfaces are fixed and whose protocol
 * and port are free: the answer partitions all flows into pieces, each decided by one rule or by
 * the chain's default. The pieces come from the port ranges the rules actually name, so the cost
 * is in the number of rules, never in the number of ports.
 */
import { SourceIndex } from './source-index.js';
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
  const rules =
    chain.rules.length >= INDEX_FROM
      ? indexOf(chain)
          .candidates(hop.inPort, src)
          .map((i) => chain.rules[i]!)
      : chain.rules;
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
  private readonly bySrc: SourceIndex;

  constructor(rules: readonly IrRule[]) {
    const withSrc: number[] = [];
    rules.forEach((r, i) => {
      const m = r.match;
      if (m.inPort) {
        for (const p of m.inPort) {
          const l = this.byPort.get(p);
          if (l) l.push(i);
          else this.byPort.set(p, [i]);
        }
      } else if (!m.src) this.anySrc.push(i);
      else withSrc.push(i);
    });
    this.bySrc = new SourceIndex(rules, withSrc);
  }

  /** Indexes of the rules that could match a hop on bridge port `inPort` from `src`, ascending. */
  candidates(inPort: string | undefined, src: number): number[] {
    const out: number[] = [...this.anySrc];
    if (inPort !== undefined) for (const i of this.byPort.get(inPort) ?? []) out.push(i);
    this.bySrc.forEach(src, (i) => out.push(i));
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
