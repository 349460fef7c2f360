/**
 * What one imported match selects, as a conjunction of dimensions cordon's hand-written rules can
 * say (src/spec/schema.ts FirewallRuleSpec): source and destination addresses, protocols with
 * destination ports, input and output interface, the bridge port a packet entered through, and
 * connection state. Importers intersect boxes while they flatten jumps, and write each box as one
 * rule. A box is never negated: first-match order does the excluding (see iptables/flatten.ts).
 */
import { diag, type Diagnostic } from '../../diag/diagnostic.js';
import { Code } from '../../diag/codes.js';
import type { RuleMatch } from '../../model/types.js';
import type { FirewallRuleSpecT } from '../../spec/schema.js';
import { ALL_FLOWS, flowEqual, flowIntersect, flowIsEmpty, PORT_MAX, type FlowSet } from '../../util/flows.js';
import { formatCidr, isAnyAddress, rangeToCidrs } from '../../util/ip.js';
import * as R from '../../util/rangeset.js';
import type { RangeSet } from '../../util/rangeset.js';

/** The same dimensions a hand-written rule of the model selects (iptables `-m physdev
 * --physdev-in` is the bridge port a packet entered through). */
export type Box = RuleMatch;

export const ANY_BOX: Box = { src: undefined, dst: undefined, flows: ALL_FLOWS, iif: undefined, oif: undefined, inPort: undefined, state: undefined };

function meetSet(a: RangeSet | undefined, b: RangeSet | undefined): RangeSet | undefined | null {
  if (a === undefined) return b;
  if (b === undefined) return a;
  const r = R.intersect(a, b);
  return R.isEmpty(r) ? null : r;
}

function meetName<T extends string>(a: T | undefined, b: T | undefined): T | undefined | null {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a === b ? a : null;
}

/** The packets both boxes select; undefined when there are none. */
export function intersectBox(a: Box, b: Box): Box | undefined {
  const src = meetSet(a.src, b.src);
  const dst = meetSet(a.dst, b.dst);
  const flows = flowIntersect(a.flows, b.flows);
  const iif = meetName(a.iif, b.iif);
  const oif = meetName(a.oif, b.oif);
  const inPort = meetName(a.inPort, b.inPort);
  const state = meetName(a.state, b.state);
  if (src === null || dst === null || iif === null || oif === null || inPort === null || state === null || flowIsEmpty(flows)) return undefined;
  return { src, dst, flows, iif, oif, inPort, state };
}

export function cidrTexts(set: RangeSet): string[] {
  return set.flatMap(([lo, hi]) => rangeToCidrs({ lo, hi }).map((c) => (c.len === 32 ? formatCidr(c).replace(/\/32$/, '') : formatCidr(c))));
}

function portsText(proto: 'tcp' | 'udp', set: RangeSet): string | undefined {
  if (R.isEmpty(set)) return undefined;
  // Port 0 is no port a connection uses; the spec's port items start at 1.
  if (R.covers(set, [[1, PORT_MAX]])) return proto;
  const spans = R.intersect(set, [[1, PORT_MAX]]);
  if (R.isEmpty(spans)) return undefined;
  return `${proto}/${spans.map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`)).join(',')}`;
}

/** Port items for a flow set; undefined = any flow. */
export function portItems(f: FlowSet): string[] | undefined {
  if (flowEqual(f, ALL_FLOWS) || (R.covers(f.tcp, [[1, PORT_MAX]]) && R.covers(f.udp, [[1, PORT_MAX]]) && f.icmp && f.other)) return undefined;
  const items: string[] = [];
  const tcp = portsText('tcp', f.tcp);
  const udp = portsText('udp', f.udp);
  if (tcp) items.push(tcp);
  if (udp) items.push(udp);
  if (f.icmp) items.push('icmp');
  if (f.other) items.push('other');
  return items;
}

/** One box as a hand-written rule of a `firewalls:` chain; undefined when it selects only port 0 (no port item says that). */
export function boxToRule(b: Box, action: 'accept' | 'drop' | 'reject', comment: string): FirewallRuleSpecT | undefined {
  const rule: FirewallRuleSpecT = { action };
  const one = (xs: string[]): string | string[] => (xs.length === 1 ? xs[0]! : xs);
  if (b.src !== undefined && !isAnyAddress(b.src)) rule.from = one(cidrTexts(b.src));
  if (b.dst !== undefined && !isAnyAddress(b.dst)) rule.to = one(cidrTexts(b.dst));
  const ports = portItems(b.flows);
  if (ports !== undefined && ports.length === 0) return undefined;
  if (ports !== undefined) rule.ports = one(ports);
  if (b.iif !== undefined) rule.iif = b.iif;
  if (b.oif !== undefined) rule.oif = b.oif;
  if (b.inPort !== undefined) rule.port = b.inPort;
  if (b.state !== undefined) rule.state = b.state;
  rule.comment = comment;
  return rule;
}

/**
 * The one policy for a match cordon cannot express, shared by every importer: an ACCEPT (or a
 * jump) is widened to match without it, a DROP or REJECT is left out, so the imported rules
 * allow at least what the original does and "what may this allow?" stays honest. `taken` names
 * what was widened (`ACCEPT`, `the jump`) or left out (`DROP`).
 */
export function unexpressible(unknown: readonly string[], widen: boolean, taken: string, at: { file: string; line: number; col: number }): Diagnostic {
  return diag(
    Code.IMPORT_UNSUPPORTED,
    'warning',
    `${unknown.join(', ')}: not expressible in cordon; ${widen ? `the rule is taken as matching without it (${taken} widened)` : `the ${taken} rule is left out`}`,
    at,
    'the matrix may show more allowed than the firewall allows',
  );
}
