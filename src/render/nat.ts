/**
 * Where a host masquerades, as src/ir/paths.ts `masquerade` reasons: a forwarded packet that
 * entered the host by the interface holding the gateway address of an `egress: nat` network, and
 * leaves by any other interface of the host except a tunnel, gets the outgoing interface's address.
 *
 * Pure and shared: the nftables and iptables targets write it, the lab loads what they write, so
 * the live matrix covers NAT with the same text a user installs. The entry interface is matched
 * in the forward hook and carried to postrouting as a conntrack mark, because postrouting does not
 * know the input interface and a source-address match would let a guest that forges its source
 * address leave un-NATed where the verifier assumes it is masqueraded.
 */
import type { Host, Model, Network } from '../model/types.js';

/** ct marks of connections that entered from a NAT network; the high half says "cordon's". */
export const NAT_CTMARK_BASE = 0xc10000;

export interface NatRule {
  readonly network: Network;
  /** The interface that holds the network's gateway address (the bridge, for the bridge owner). */
  readonly inIf: string;
  /** Every other non-tunnel interface of the host, sorted: nics, uplinks, public nics. */
  readonly outIfs: readonly string[];
  /** Conntrack mark, `0x…`. */
  readonly mark: string;
}

/** The kernel name of `h`'s interface on a segment: the bridge where `h` owns the network. */
function nicIfname(model: Model, h: Host, segment: string): string | undefined {
  const nic = h.nics.find((n) => n.segment === segment);
  if (!nic) return undefined;
  const net = model.networks.get(segment);
  return net && net.owner === h.name ? net.bridge : nic.ifname;
}

/** Every non-tunnel interface of a host: its nics, its uplink and the interface of an uplink default route. */
export function hostInterfaces(model: Model, h: Host): string[] {
  const ifaces = new Set<string>();
  for (const n of h.nics) if (!model.tunnels.has(n.segment)) ifaces.add(nicIfname(model, h, n.segment)!);
  if (h.uplink !== undefined) ifaces.add(h.uplink);
  if (h.defaultRoute.kind === 'uplink') ifaces.add(h.defaultRoute.ifname);
  return [...ifaces];
}

/** The masquerade rules of one host, in nic order; empty when it forwards no NAT network. */
export function natRules(model: Model, hostName: string): NatRule[] {
  const h = model.hosts.get(hostName);
  if (!h || !h.forward) return [];
  const ifaces = hostInterfaces(model, h);
  const out: NatRule[] = [];
  for (const n of h.nics) {
    const net = model.networks.get(n.segment);
    if (!net || net.egress !== 'nat' || net.gateway !== n.address) continue;
    const inIf = nicIfname(model, h, net.name)!;
    const outIfs = ifaces.filter((x) => x !== inIf).sort();
    if (outIfs.length === 0) continue;
    out.push({ network: net, inIf, outIfs, mark: `0x${(NAT_CTMARK_BASE + out.length + 1).toString(16)}` });
  }
  return out;
}

/** Hosts that masquerade at least one network, by name. */
export function natHosts(model: Model): string[] {
  return [...model.hosts.keys()].filter((h) => natRules(model, h).length > 0).sort();
}
