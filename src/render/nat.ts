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
 *
 * Port forwards (model `forwards`) are DNAT in prerouting: a new connection that comes in by the
 * forwarding host's world interfaces (uplink, internet nics), addressed to one of the host's own
 * addresses, on a public port, goes to the guest. "Addressed to the host" (`fib daddr type local`,
 * `-m addrtype --dst-type LOCAL`) keeps traffic routed through the host to other addresses as it is.
 */
import type { Forward, Host, Model, Network } from '../model/types.js';

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

/** The port forwards (DNAT) `hostName` does, in spec order. */
export function forwardRules(model: Model, hostName: string): Forward[] {
  return model.forwards.filter((f) => f.via === hostName);
}

/** Whether a host has a NAT table at all: it masquerades a network or forwards a port. */
export function hasNat(model: Model, hostName: string): boolean {
  return natRules(model, hostName).length > 0 || forwardRules(model, hostName).length > 0;
}

/** Hosts that masquerade at least one network, by name. */
export function natHosts(model: Model): string[] {
  return [...model.hosts.keys()].filter((h) => natRules(model, h).length > 0).sort();
}

/** Hosts with a NAT table: they masquerade a network or forward a port, by name. */
export function natTableHosts(model: Model): string[] {
  return [...model.hosts.keys()].filter((h) => hasNat(model, h)).sort();
}

/** `80` or `5000-5010`. */
export function portRange([lo, hi]: readonly [number, number], sep = '-'): string {
  return lo === hi ? `${lo}` : `${lo}${sep}${hi}`;
}
