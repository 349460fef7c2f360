/**
 * The forward chain's part of a port forward (model `forwards`): a new connection that comes in by
 * the world's interfaces toward a forwarded guest passes only on the forwarded ports. The DNAT
 * itself is rendered in the host's NAT table (src/render/nat.ts); this rule is what makes "the
 * internet reaches the service and nothing else" hold in the filter too, also for a packet that
 * arrives already addressed to the guest's private address (a LAN router with a route to it).
 * Runs before the policy, so no broader allow in the policy can open more of the guest's tcp, udp
 * and icmp to the world; other IP protocols stay the policy's (an allow with no ports lets them in,
 * in the verifier as in the kernel, for a packet routed to the guest's own address).
 */
import type { Host, Model, Origin } from '../model/types.js';
import { ALL_FLOWS, flowSubtract, flowUnion, NO_FLOWS, type FlowSet } from '../util/flows.js';
import { formatIPv4 } from '../util/ip.js';
import type { IrRule } from './types.js';

/** An IR rule before it gets its id and index (compile.ts numbers them). */
export type ForwardDraft = Omit<IrRule, 'id' | 'index'>;

/** Drop rules for `h`'s forward chain, one per forwarded guest address, in address order. */
export function forwardDrafts(model: Model, h: Host): ForwardDraft[] {
  const mine = model.forwards.filter((f) => f.via === h.name);
  const byAddr = new Map<number, { flows: FlowSet; entry: Set<string>; origin: Origin; names: string[] }>();
  for (const f of mine) {
    const cur = byAddr.get(f.address);
    if (cur) {
      cur.flows = flowUnion(cur.flows, f.flows);
      for (const e of f.entry) cur.entry.add(e);
      cur.names.push(`${f.host}.${f.service}`);
    } else byAddr.set(f.address, { flows: flowUnion(NO_FLOWS, f.flows), entry: new Set(f.entry), origin: f.origin, names: [`${f.host}.${f.service}`] });
  }
  const out: ForwardDraft[] = [];
  for (const [addr, x] of [...byAddr.entries()].sort((a, b) => a[0] - b[0])) {
    const rest = flowSubtract(ALL_FLOWS, x.flows);
    const rule = (flows: FlowSet): ForwardDraft => ({
      match: { src: undefined, dst: [[addr, addr] as const], flows, iif: [...x.entry].sort(), oif: undefined, inPort: undefined, state: 'new' },
      action: 'drop',
      log: true,
      rate: undefined,
      role: 'egress',
      origin: { ...x.origin, text: `forwards to ${formatIPv4(addr)}: from the world only ${x.names.join(', ')}` },
      policyIndex: undefined,
    });
    // Other IP protocols (GRE, raw IP…) are not DNATed and stay the policy's: nftables renders
    // "every protocol but tcp, udp and icmp" beside ports as set elements that each name only some
    // of them, which the round trip (import nft-json) cannot read back as the one class it is.
    out.push(rule({ ...rest, other: false }));
  }
  return out;
}
