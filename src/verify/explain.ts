/**
 * Typed explanations: for one flow, which path it takes and, hop by hop, which rule (or which
 * chain default) decided, with the origin in the user's own file. Text rendering is separate.
 */
import { flowLimits } from '../model/bandwidth.js';
import type { Ir } from '../ir/types.js';
import type { Assume, Origin } from '../model/types.js';
import { flowContains, formatFlow, type Flow } from '../util/flows.js';
import { formatIPv4 } from '../util/ip.js';
import type { HopTrace, PathVerdict, Reach } from './engine.js';
import { destName, sourceName } from './endpoints.js';

export type Decision =
  | { readonly kind: 'rule'; readonly ruleId: string; readonly action: 'accept' | 'drop' | 'reject'; readonly role: string; readonly origin: Origin }
  | { readonly kind: 'default'; readonly policy: 'accept' | 'drop'; readonly origin: Origin }
  | { readonly kind: 'no-firewall' }
  | { readonly kind: 'ignored-in-guest' };

export interface HopExplanation {
  readonly point: string;
  readonly enforcedOn: string | undefined;
  readonly iif: string | undefined;
  readonly oif: string | undefined;
  readonly inPort: string | undefined;
  readonly src: string;
  readonly verdict: 'accept' | 'drop';
  readonly decision: Decision;
}

export interface PathExplanation {
  readonly nodes: readonly string[];
  readonly chain: string;
  readonly choice: string | undefined;
  readonly end: string;
  readonly verdict: 'allow' | 'deny';
  readonly hops: readonly HopExplanation[];
  readonly tunnels: readonly { tunnel: string; peer: string; up: boolean; explanation: PathExplanation | undefined }[];
  readonly notes: readonly string[];
}

export interface Explanation {
  readonly verdict: 'allow' | 'deny';
  readonly from: string;
  readonly to: string;
  readonly flow: string;
  readonly assume: Assume;
  /** The path that decided: the first allowing one, else the most relevant denying one. */
  readonly path: PathExplanation | undefined;
  /** Every path considered, when more than one. */
  readonly alternatives: readonly PathExplanation[];
  readonly summary: string;
  /** Bandwidth limits on an allowed flow: the source's outbound, the destination's inbound (spec `bandwidth:`); empty = none. */
  readonly limits: readonly string[];
}

function hopDecision(h: HopTrace, flow: Flow): { verdict: 'accept' | 'drop'; decision: Decision } {
  switch (h.status) {
    case 'no-firewall':
      return { verdict: 'accept', decision: { kind: 'no-firewall' } };
    case 'ignored-in-guest':
      return { verdict: 'accept', decision: { kind: 'ignored-in-guest' } };
    case 'filtered': {
      const piece = h.pieces.find((p) => flowContains(p.flows, flow));
      if (!piece) return { verdict: 'drop', decision: { kind: 'default', policy: h.chain!.policy, origin: h.chain!.policyOrigin } };
      if (!piece.rule) return { verdict: piece.verdict, decision: { kind: 'default', policy: h.chain!.policy, origin: h.chain!.policyOrigin } };
      return {
        verdict: piece.verdict,
        decision: { kind: 'rule', ruleId: piece.rule.id, action: piece.rule.action, role: piece.rule.role, origin: piece.rule.origin },
      };
    }
  }
}

export function explainPath(ir: Ir, v: PathVerdict, flow: Flow): PathExplanation {
  const hops: HopExplanation[] = [];
  let verdict: 'allow' | 'deny' = v.path.end.kind === 'dropped' ? 'deny' : 'allow';
  for (const h of v.hops) {
    const d = hopDecision(h, flow);
    hops.push({
      point: h.hop.point,
      enforcedOn: h.chain?.enforcedOn,
      iif: h.hop.iif,
      oif: h.hop.oif,
      inPort: h.hop.inPort,
      src: formatIPv4(h.hop.natSrc !== undefined && h.hop.natSrc !== 0 ? h.hop.natSrc : v.src),
      verdict: d.verdict,
      decision: d.decision,
    });
    if (d.verdict === 'drop') {
      verdict = 'deny';
      break;
    }
  }
  const tunnels = v.transports.map((t) => {
    const tv =
      t.reach?.verdicts.find((x) => flowContains(x.allowed, { proto: 'udp', port: ir.model.tunnels.get(t.transport.tunnel)!.listen })) ?? t.reach?.verdicts[0];
    return {
      tunnel: t.transport.tunnel,
      peer: t.transport.peer,
      up: t.ok,
      explanation: tv && !t.ok ? explainPath(ir, tv, { proto: 'udp', port: ir.model.tunnels.get(t.transport.tunnel)!.listen }) : undefined,
    };
  });
  if (tunnels.some((t) => !t.up)) verdict = 'deny';
  let end =
    v.path.end.kind === 'dropped'
      ? `dropped: ${v.path.end.reason}`
      : v.path.end.kind === 'host'
        ? `routed to ${v.path.end.host}`
        : `routed to the ${v.path.end.zone}`;
  if (v.sourceBlocked) {
    const b = v.sourceBlocked;
    verdict = 'deny';
    end = `dropped: ${b.tunnel} takes from ${b.peer} only sources in its allowed IPs (${b.allowed.map(([lo, hi]) => (lo === hi ? formatIPv4(lo) : `${formatIPv4(lo)}-${formatIPv4(hi)}`)).join(', ')}), not ${formatIPv4(b.natSrc ?? v.src)}`;
  }
  return { nodes: v.path.nodes, chain: v.path.nodes.join(' → '), choice: v.path.choice, end, verdict, hops, tunnels, notes: v.path.notes };
}

export function explain(ir: Ir, reach: Reach, flow: Flow): Explanation {
  // A forgeable source is evaluated once per address class; show each route once, preferring
  // the class that lets the flow through (that is the one a user must see).
  const byRoute = new Map<string, PathExplanation>();
  for (const v of reach.verdicts) {
    const p = explainPath(ir, v, flow);
    const key = `${p.chain}|${p.choice ?? ''}`;
    const prev = byRoute.get(key);
    if (!prev || (prev.verdict === 'deny' && p.verdict === 'allow')) byRoute.set(key, p);
  }
  const paths = [...byRoute.values()];
  const allowing = paths.findIndex((p) => p.verdict === 'allow');
  const verdict = allowing >= 0 ? 'allow' : 'deny';
  // Prefer the configured route (no "choice") when nothing allows, and the furthest-reaching path.
  const chosen =
    allowing >= 0
      ? paths[allowing]
      : [...paths].sort((a, b) => Number(a.choice !== undefined) - Number(b.choice !== undefined) || b.hops.length - a.hops.length)[0];
  const from = sourceName(reach.from);
  const to = destName(ir.model, reach.to);
  return {
    verdict,
    from,
    to,
    flow: formatFlow(flow),
    assume: reach.assume,
    path: chosen,
    alternatives: paths.length > 1 ? paths : [],
    summary: summarize(verdict, from, to, flow, chosen),
    limits: verdict === 'allow' ? flowLimits(ir.model, from, to.split('.')[0]!) : [],
  };
}

function summarize(verdict: 'allow' | 'deny', from: string, to: string, flow: Flow, p: PathExplanation | undefined): string {
  const head = `${from} → ${to} ${formatFlow(flow)}: ${verdict.toUpperCase()}`;
  if (!p) return `${head} (no path: ${from} has no route to ${to})`;
  const down = p.tunnels.find((t) => !t.up);
  if (down) return `${head}: tunnel ${down.tunnel} cannot come up (its UDP transport from ${down.peer} is blocked)`;
  const last = p.hops[p.hops.length - 1];
  if (verdict === 'deny' && last && last.verdict === 'drop') return `${head}, decided at ${last.point} by ${describeDecision(last.decision)}`;
  if (verdict === 'deny') return `${head}: ${p.end}`;
  const deciding =
    [...p.hops].reverse().find((h) => h.decision.kind === 'rule' && (h.decision as { role: string }).role !== 'stateful') ??
    [...p.hops].reverse().find((h) => h.decision.kind === 'default');
  return deciding
    ? `${head} via ${p.chain}, allowed at ${deciding.point} by ${describeDecision(deciding.decision)}`
    : `${head} via ${p.chain}: no firewall on the way`;
}

export function describeDecision(d: Decision): string {
  switch (d.kind) {
    case 'rule':
      return `"${d.origin.text}" (${d.origin.file}:${d.origin.line})`;
    case 'default':
      return `the chain default ${d.policy.toUpperCase()}: no rule matched — ${d.origin.text} (${d.origin.file}:${d.origin.line})`;
    case 'no-firewall':
      return 'no firewall at this point';
    case 'ignored-in-guest':
      return 'an in-guest firewall, which a compromised guest can remove';
  }
}
