/**
 * Rogue connections (seed 004's RogueConnectionDetector, done where the packets are): for a
 * vpn-only host, anything seen leaving it other than through its tunnel or as the tunnel's own
 * transport (UDP to the server's endpoint and listen port) is rogue — "there is no legitimate
 * non-VPN traffic". The facts are the ones the kernel reports, no process: source, destination,
 * protocol, port, interface.
 *
 * Two sightings feed it: a packet cordon's rules dropped (NFLOG: it has the interfaces) is a rogue
 * attempt, `blocked`; a connection the rules let through (conntrack: no interfaces) is a rogue
 * connection that got out, `allowed` — a leak, which with intact rules happens only for the
 * transport. What came in through a tunnel (a tunnel server forwarding its member's traffic) or
 * goes into one is the VPN working, never rogue. Pure: the guard feeds it and writes the events.
 */
import type { Ir } from '../ir/types.js';

/** One packet or connection as the kernel reported it. */
export interface Sighting {
  readonly src: number;
  readonly dst: number;
  /** IP protocol name as the guard labels it (`tcp`, `udp`, `icmp`, or another). */
  readonly proto: string;
  readonly dport: number | undefined;
  /** Interfaces, when the source knows them (NFLOG does, conntrack does not). */
  readonly iif?: string | undefined;
  readonly oif?: string | undefined;
}

export interface Rogue {
  /** The vpn-only host it left. */
  readonly from: string;
  /** The spec's network (or tunnel) of the source address. */
  readonly network: string;
  /** The interface it left through, when the kernel said. */
  readonly iface: string | null;
}

interface Source {
  readonly host: string;
  readonly network: string;
  /** The address is the host's own on one of its tunnels (its traffic normally goes through it). */
  readonly tunnelAddress: boolean;
}

export class RogueDetector {
  private readonly sources = new Map<number, Source>();
  /** `address:port` of every tunnel transport a vpn-only host may send to, by host. */
  private readonly transports = new Map<string, Set<string>>();
  private readonly tunnelIfs: Set<string>;

  /** `tunnelIfnames`: interface names tunnels have on this machine beside the spec's (the lab's wireguard-go names). */
  constructor(ir: Ir, tunnelIfnames: Iterable<string> = []) {
    const m = ir.model;
    this.tunnelIfs = new Set([...[...m.tunnels.values()].map((t) => t.ifname), ...tunnelIfnames]);
    for (const h of m.hosts.values()) {
      if (h.egress !== 'vpn-only') continue;
      const ok = new Set<string>();
      for (const n of h.nics) {
        const t = m.tunnels.get(n.segment);
        this.sources.set(n.address, { host: h.name, network: n.segment, tunnelAddress: t !== undefined });
        if (t) ok.add(`${t.endpoint}:${t.listen}`);
      }
      this.transports.set(h.name, ok);
    }
  }

  /** Whether the spec has any vpn-only host (else nothing can be rogue and nothing is watched). */
  get watching(): boolean {
    return this.sources.size > 0;
  }

  /** The rogue facts of one sighting; undefined when it is not rogue. */
  classify(s: Sighting): Rogue | undefined {
    const from = this.sources.get(s.src);
    if (!from) return undefined;
    // Loopback never leaves the host.
    if (s.dst >>> 24 === 127) return undefined;
    // Through the tunnel, in either direction of this vantage point: the VPN doing its job.
    if ((s.iif !== undefined && this.tunnelIfs.has(s.iif)) || (s.oif !== undefined && this.tunnelIfs.has(s.oif))) return undefined;
    // The tunnel's own transport is the one thing that must leave outside it.
    if (s.proto === 'udp' && s.dport !== undefined && this.transports.get(from.host)?.has(`${s.dst}:${s.dport}`)) return undefined;
    // Without interfaces (conntrack), traffic from the tunnel address is taken to be in the tunnel.
    if (from.tunnelAddress && s.iif === undefined && s.oif === undefined) return undefined;
    return { from: from.host, network: from.network, iface: s.oif ?? null };
  }
}
