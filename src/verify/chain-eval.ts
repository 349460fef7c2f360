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
  for (const rule of chain.rules) {
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
