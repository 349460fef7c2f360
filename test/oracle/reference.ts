/**
 * A second, independent semantics for cordon: "may this one packet get from here to there?",
 * answered from the resolved model (hosts, networks, the policy in the user's words), one packet at
 * a time, with no IR, no compiled chains, no class splitting and no shared routing code. It is
 * written to be obviously right, not fast: property tests compare it with the engine.
 *
 * It imports only the model's types (and reads the model's data); addresses are plain numbers.
 *
 * Covered subset (`outsideSubset` says when a model leaves it):
 * - one managed hypervisor that owns (bridges) every network and forwards between them, with or
 *   without an uplink; any egress mode for it (open, filtered, isolated);
 * - guests (vm, container) and managed servers on those networks, one or more nics each, with
 *   egress isolated / filtered / open, per-guest firewall, in-guest firewall, anti-spoofing;
 * - networks with egress none / nat / routed, with or without the hypervisor as gateway;
 * - the policy: ordered allow/deny, first match wins, default deny; targets host, service,
 *   network, group (flattened by the model), CIDR, internet, lan, any; ports or services' ports;
 * - the internet and the owner's LAN as sources and destinations;
 * - hand-written `firewalls:` chains at any point, taken as written (interfaces as each host
 *   names them: bridges, the uplink, wg0, a guest's eth0);
 * - WireGuard tunnels served by the hypervisor with roaming peers (laptops somewhere on the
 *   internet): the endpoint, the peers' transport, allowed IPs, the tunnel as an interface;
 * - the "configured" and "compromised" views: a compromised guest ignores its own (in-guest)
 *   firewall, may pick any first hop it can reach, and may forge any source address; only
 *   firewalls outside it count.
 * Not covered: port forwards (`forwards:`, DNAT), guests or servers that are tunnel members, vpn-only, static
 * routes and explicit `gateway:` settings, hosts placed on the
 * internet, several hypervisors or routers, a network named `lan`. (Control channels only matter
 * to the invariants, not to reachability.)
 *
 * The semantics, in words (README "Spec reference", DESIGN.md "Threat model"):
 * 1. A packet goes from its sender along the route: a destination on one of the sender's networks
 *    directly over that bridge; anything else to the sender's default gateway (the gateway of its
 *    first network that has one; for the hypervisor, its uplink when it has one or is the gateway
 *    of a network with egress). The hypervisor delivers what is addressed to it, forwards the rest
 *    the same way, and hands public and LAN destinations to its uplink.
 * 2. Every firewall on the way decides by the policy: the first rule whose `from` names the
 *    sender and whose `to` names the destination and the flow wins; no rule means drop.
 *    Where a firewall runs: the sender's own output, the per-guest firewall on the hypervisor
 *    side of a guest's port (out of it and into it), the hypervisor's forward path (also between
 *    two ports of one bridge), the receiver's own input.
 * 3. Who the sender is, as a firewall sees it: the bridge owner knows the port a packet came in
 *    by, so a rule naming a guest (or a network it bridges) holds only for packets that really
 *    came from that guest (that bridge), with that guest's own address; every other firewall only
 *    sees the source address, which a compromised guest may forge.
 * 4. Egress modes come before the policy and cannot be overridden by it: `isolated` never reaches
 *    the internet or the LAN; `open` lets a guest send anything the policy does not deny; a
 *    network with `egress: none` never leaks to the internet or the LAN through its router.
 *    A trusted host's own output is open unless its egress says otherwise.
 * 5. A `nat` network is masqueraded by its gateway when its packets leave by another interface:
 *    firewalls after that point see the gateway's address as the source.
 * 6. A tunnel's server listens at the endpoint (one of its addresses) on udp/listen; the internet
 *    reaches the endpoint through the server's uplink, and the server lets its remote peers'
 *    transport in from there before any policy. A roaming peer sends what is meant for the
 *    tunnel's addresses or the declared networks through the tunnel, everything else from its own
 *    internet connection (as some unknown internet address); compromised, it may put anything
 *    into the tunnel. The server takes from the tunnel only packets whose source is the peer's
 *    tunnel address (allowed IPs), and nothing goes through a tunnel whose transport cannot reach
 *    the endpoint. The server's firewall knows a packet came out of the tunnel, as a bridge owner
 *    knows its ports: a rule naming the peer or the tunnel holds only for such packets.
 */
import type { Host, Model, Network, PolicyRule, Target, Tunnel } from '../../src/model/types.js';

export type Proto = 'tcp' | 'udp' | 'icmp' | 'other';
export interface Flow {
  readonly proto: Proto;
  /** Destination port for tcp/udp; ignored otherwise. */
  readonly port: number;
}

/** The sender: a host of the model, or someone on the internet or the owner's LAN. */
export type RefSource = { readonly host: string } | { readonly zone: 'internet' | 'lan' };

const ALL_HI = 0xffffffff;

// ---------------------------------------------------------------------------------------------
// Address spaces, written out from the README's definitions.

function cidr(text: string): [number, number] {
  const [a, l] = text.split('/');
  const n = a!.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  const len = Number(l ?? 32);
  const size = 2 ** (32 - len);
  const lo = Math.floor(n / size) * size;
  return [lo, lo + size - 1];
}

const PRIVATE = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'].map(cidr);
/** Never "the internet": private, CGNAT, loopback, link-local, multicast, reserved, "this network". */
const NOT_PUBLIC = [...PRIVATE, ...['0.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '224.0.0.0/4', '240.0.0.0/4'].map(cidr)];

const inAny = (a: number, rs: readonly (readonly [number, number])[]): boolean => rs.some(([lo, hi]) => a >= lo && a <= hi);

export class Reference {
  private readonly hv: Host;
  private readonly declared: [number, number][];
  private readonly ownerOf = new Map<number, { host: Host; net: string }>();
  /** Journeys do not depend on the flow: worked out once per sender, destination and view. */
  private readonly journeyCache = new Map<string, Journey[]>();
  private readonly fromCache = new Map<string, boolean[]>();

  constructor(readonly model: Model) {
    const why = outsideSubset(model);
    if (why) throw new Error(`reference: model outside the covered subset: ${why}`);
    this.hv = [...model.hosts.values()].find((h) => h.kind === 'hypervisor')!;
    this.declared = [...model.networks.values(), ...model.tunnels.values()].map((n) => [n.range.lo, n.range.hi]);
    for (const h of model.hosts.values()) for (const n of h.nics) this.ownerOf.set(n.address, { host: h, net: n.segment });
  }

  isInternet(a: number): boolean {
    return !inAny(a, NOT_PUBLIC) && !inAny(a, this.declared);
  }

  isLan(a: number): boolean {
    return inAny(a, PRIVATE) && !inAny(a, this.declared);
  }

  /**
   * Whether a new connection with this flow from `src` to address `dst` gets through: in the
   * compromised view, whether *some* route the sender may choose and *some* source address it
   * may write lets it through. `sources` are the forged addresses to try (callers pass one per
   * class that matters; the sender's own address is always tried).
   */
  allows(from: RefSource, dst: number, flow: Flow, compromised: boolean, forgeable: readonly number[]): boolean {
    const key = `${'zone' in from ? from.zone : from.host}|${dst}|${compromised}`;
    let journeys = this.journeyCache.get(key);
    if (!journeys) this.journeyCache.set(key, (journeys = this.journeys(from, dst, compromised)));
    for (const journey of journeys) {
      if (journey.tunnels.length > 0 && !this.transportWorks()) continue;
      for (const src of this.sourcesFor(from, journey, compromised, forgeable)) {
        if (journey.mustSendFrom !== undefined && src !== journey.mustSendFrom) continue;
        if (journey.steps.every((s) => this.passes(s, src, dst, flow, compromised))) return true;
      }
    }
    return false;
  }

  /**
   * Whether the peers' WireGuard transport reaches the tunnel's endpoint: from some internet
   * address, through the server's uplink, accepted by the server's input (as configured: a peer
   * that breaks its own tunnel only hurts itself). There is one tunnel in the subset.
   */
  private transportWorks(): boolean {
    const t = [...this.model.tunnels.values()][0]!;
    if (!this.hvHasUplink()) return false;
    const step: Step = { host: this.hv, hook: 'input', seen: this.fromUplink(), oif: undefined, nat: undefined };
    return INTERNET_PROBES.some((src) => this.passes(step, src, t.endpoint, { proto: 'udp', port: t.listen }, false));
  }

  private sourcesFor(from: RefSource, j: Journey, compromised: boolean, forgeable: readonly number[]): number[] {
    if ('zone' in from) return forgeable.filter((a) => (from.zone === 'internet' ? this.isInternet(a) : this.isLan(a)));
    if (j.fromSomewhereOnInternet) return forgeable.filter((a) => this.isInternet(a));
    const h = this.model.hosts.get(from.host)!;
    if (compromised && !h.trusted) return [j.ownSource, ...forgeable];
    return [j.ownSource];
  }

  // -------------------------------------------------------------------------------------------
  // Routes

  /** Every way a packet may travel (only delivered ones; a dropped packet has no journey). */
  journeys(from: RefSource, dst: number, compromised: boolean): Journey[] {
    if ('zone' in from) return this.fromOutside(dst);
    const h = this.model.hosts.get(from.host)!;
    if (h.nics.some((n) => n.address === dst)) return [];
    if (h.kind === 'peer') return this.fromPeer(h, dst, compromised);
    const out: Journey[] = [];
    const firstHops: FirstHop[] = [];
    const configured = this.configuredHop(h, dst);
    if (configured) firstHops.push(configured);
    if (compromised && !h.trusted) {
      // A guest with root may put the packet on any of its bridges, addressed to anyone there.
      for (const nic of h.nics) {
        const net = this.model.networks.get(nic.segment)!;
        if (inNet(dst, net)) firstHops.push({ kind: 'bridge', net: net.name, next: dst });
        const hvNic = this.hv.nics.find((n) => n.segment === net.name);
        if (hvNic) firstHops.push({ kind: 'bridge', net: net.name, next: hvNic.address });
      }
    }
    for (const hop of firstHops) {
      const j = this.travel(h, hop, dst);
      if (j) out.push(j);
    }
    return out;
  }

  /** A roaming peer: into its tunnel, or out of its own internet connection. */
  private fromPeer(p: Host, dst: number, compromised: boolean): Journey[] {
    const tnic = p.nics[0]!;
    const t = this.model.tunnels.get(tnic.segment)!;
    const viaTunnel = inNet(dst, t) || [...this.model.networks.values()].some((n) => inNet(dst, n));
    const out: Journey[] = [];
    if (viaTunnel || compromised) {
      const rest = this.arrive(this.hv, { net: undefined, portOf: undefined, tunnel: t.name, ifname: t.ifname }, dst, undefined);
      if (rest)
        out.push({
          steps: [{ host: p, hook: 'output', seen: noEntry(), oif: t.ifname, nat: undefined }, ...rest.steps],
          ownSource: tnic.address,
          mustSendFrom: tnic.address,
          tunnels: [t.name, ...rest.tunnels],
        });
    }
    if (!viaTunnel) {
      for (const j of this.fromOutside(dst, false)) out.push({ ...j, fromSomewhereOnInternet: true });
    }
    return out;
  }

  /** The route the sender's own routing table picks. */
  private configuredHop(h: Host, dst: number): FirstHop | undefined {
    const onLink = this.netsOf(h)
      .filter((net) => inNet(dst, net))
      .sort((a, b) => b.cidr.len - a.cidr.len)[0];
    if (onLink) return { kind: 'bridge', net: onLink.name, next: dst };
    if (h === this.hv) {
      const t = [...this.model.tunnels.values()].find((x) => inNet(dst, x));
      if (t) return { kind: 'tunnel', tunnel: t.name };
      return this.hvHasUplink() ? { kind: 'uplink' } : undefined;
    }
    for (const n of h.nics) {
      const net = this.model.networks.get(n.segment)!;
      if (net.gateway !== undefined && net.gateway !== n.address) return { kind: 'bridge', net: net.name, next: net.gateway };
    }
    return undefined;
  }

  private hvHasUplink(): boolean {
    if (this.hv.uplink) return true;
    // The gateway of a network with egress reaches the internet itself.
    return this.hv.nics.some((n) => {
      const net = this.model.networks.get(n.segment);
      return net !== undefined && net.egress !== 'none' && net.gateway === n.address;
    });
  }

  /** The hypervisor's uplink interface: declared, or the implicit one of a gateway with egress. */
  private uplinkName(): string | undefined {
    return this.hv.uplink ?? (this.hv.defaultRoute.kind === 'uplink' ? this.hv.defaultRoute.ifname : undefined);
  }

  private fromUplink(): Entry {
    return { net: undefined, portOf: undefined, uplink: true, ifname: this.uplinkName() };
  }

  /** The networks (not tunnels) a host has a nic on. */
  private netsOf(h: Host): Network[] {
    return h.nics.flatMap((n) => {
      const net = this.model.networks.get(n.segment);
      return net ? [net] : [];
    });
  }

  /** From the sender's first hop to delivery; undefined when the packet is dropped for lack of a route. */
  private travel(sender: Host, first: FirstHop, dst: number): Journey | undefined {
    const steps: Step[] = [];
    if (first.kind === 'uplink') {
      // Only the hypervisor has an uplink here; it sends from its first address (the model
      // declares no uplink address).
      steps.push({ host: sender, hook: 'output', seen: noEntry(), oif: this.uplinkName(), nat: undefined });
      return this.isInternet(dst) || this.isLan(dst) ? { steps, ownSource: sender.nics[0]!.address, tunnels: [] } : undefined;
    }
    if (first.kind === 'tunnel') {
      const peer = this.ownerOf.get(dst);
      if (!peer || peer.net !== first.tunnel) return undefined;
      const t = this.model.tunnels.get(first.tunnel)!;
      steps.push({ host: sender, hook: 'output', seen: noEntry(), oif: t.ifname, nat: undefined });
      steps.push({ host: peer.host, hook: 'input', seen: { ...noEntry(), ifname: t.ifname }, oif: undefined, nat: undefined });
      return { steps, ownSource: sender.nics.find((n) => n.segment === first.tunnel)!.address, tunnels: [first.tunnel] };
    }
    const nic = sender.nics.find((n) => n.segment === first.net)!;
    const net = this.model.networks.get(first.net)!;
    const next = this.ownerOf.get(first.next);
    if (!next || next.net !== net.name) return undefined;
    steps.push({ host: sender, hook: 'output', seen: noEntry(), oif: nic.ifname, nat: undefined });
    steps.push(...this.acrossBridge(sender, net, next.host, noEntry(), { net: net.name, portOf: sender, ifname: net.bridge }));
    const inNic = next.host.nics.find((n) => n.address === first.next)!;
    const rest = this.arrive(next.host, { net: net.name, portOf: sender === this.hv ? undefined : sender, ifname: inNic.ifname }, dst, undefined);
    if (!rest) return undefined;
    steps.push(...rest.steps);
    return { steps, ownSource: nic.address, tunnels: rest.tunnels };
  }

  /**
   * The firewalls between two hosts on one bridge: the sender's per-guest firewall, the bridge
   * owner's forward path (when it is neither end) and the receiver's per-guest firewall.
   * `ownerSaw`: how the packet entered the owner when the owner itself sends it on (forwarding);
   * `bridgeEntry`: how it enters the bridge from a non-owner sender.
   */
  private acrossBridge(sender: Host, net: Network, receiver: Host, ownerSaw: Entry, bridgeEntry: Entry): Step[] {
    const steps: Step[] = [];
    const fromOwner = sender === this.hv;
    const entry: Entry = fromOwner ? ownerSaw : bridgeEntry;
    if (!fromOwner && sender.guestFirewall) steps.push({ host: sender, hook: 'guest-out', seen: bridgeEntry, oif: undefined, nat: undefined });
    if (!fromOwner && receiver !== this.hv) steps.push({ host: this.hv, hook: 'forward', seen: bridgeEntry, oif: net.bridge, nat: undefined });
    if (receiver !== this.hv && receiver.guestFirewall) steps.push({ host: receiver, hook: 'guest-in', seen: entry, oif: undefined, nat: undefined });
    void net;
    return steps;
  }

  /** The packet reaches `host`, entering as `seen`: delivered, or forwarded by the hypervisor. */
  private arrive(host: Host, seen: Entry, dst: number, nat: number | undefined): { steps: Step[]; tunnels: string[] } | undefined {
    if (host.nics.some((n) => n.address === dst)) return { steps: [{ host, hook: 'input', seen, oif: undefined, nat }], tunnels: [] };
    if (host !== this.hv) return undefined; // only the hypervisor forwards here
    const t = [...this.model.tunnels.values()].find((x) => inNet(dst, x));
    if (t) {
      // Into the tunnel, to the peer that holds the address (no NAT on a tunnel).
      const peer = this.ownerOf.get(dst);
      if (!peer || peer.net !== t.name) return undefined;
      return {
        steps: [
          { host: this.hv, hook: 'forward', seen, oif: t.ifname, nat },
          { host: peer.host, hook: 'input', seen: { ...noEntry(), ifname: t.ifname }, oif: undefined, nat },
        ],
        tunnels: [t.name],
      };
    }
    const onLink = this.netsOf(this.hv).find((net) => inNet(dst, net));
    const inNatNet = seen.net !== undefined ? this.model.networks.get(seen.net) : undefined;
    const masq = (outNet: string | undefined): number | undefined => {
      if (!inNatNet || inNatNet.egress !== 'nat' || outNet === inNatNet.name) return nat;
      const gwNic = this.hv.nics.find((n) => n.segment === inNatNet.name)!;
      if (inNatNet.gateway !== gwNic.address) return nat;
      return outNet ? this.hv.nics.find((n) => n.segment === outNet)!.address : PUBLIC_NAT;
    };
    if (onLink) {
      const target = this.ownerOf.get(dst);
      if (!target || target.net !== onLink.name) return undefined;
      const steps: Step[] = [{ host: this.hv, hook: 'forward', seen, oif: onLink.bridge, nat }];
      // The owner's per-guest firewalls run before its masquerade; the receiver sees the rewritten source.
      steps.push(...this.acrossBridge(this.hv, onLink, target.host, seen, seen).map((s) => ({ ...s, nat })));
      steps.push({
        host: target.host,
        hook: 'input',
        seen: { net: onLink.name, portOf: undefined, ifname: target.host.nics.find((n) => n.address === dst)!.ifname },
        oif: undefined,
        nat: masq(onLink.name),
      });
      return { steps, tunnels: [] };
    }
    if (!this.hvHasUplink()) return undefined;
    // Out of the uplink: public and LAN destinations are reached; our own private space is not routed there.
    if (!this.isInternet(dst) && !this.isLan(dst)) return undefined;
    return { steps: [{ host: this.hv, hook: 'forward', seen, oif: this.uplinkName(), nat }], tunnels: [] };
  }

  /**
   * From the internet or the LAN: the tunnel endpoint, and a routed network's gateway with an
   * uplink, let packets in. `lanReachable`: false out on the internet, where the owner's private
   * LAN addresses are not routed.
   */
  private fromOutside(dst: number, lanReachable = true): Journey[] {
    if (this.isInternet(dst) || (lanReachable && this.isLan(dst))) return [{ steps: [], ownSource: -1, tunnels: [] }];
    const ep = [...this.model.tunnels.values()].find((t) => t.endpoint === dst);
    if (ep && this.hvHasUplink())
      return [{ steps: [{ host: this.hv, hook: 'input', seen: this.fromUplink(), oif: undefined, nat: undefined }], ownSource: -1, tunnels: [] }];
    const net = [...this.model.networks.values()].find((n) => inNet(dst, n));
    if (!net || net.egress !== 'routed' || net.gateway === undefined || !this.hvHasUplink()) return [];
    const gw = this.ownerOf.get(net.gateway);
    if (!gw || gw.host !== this.hv) return [];
    const r = this.arrive(this.hv, this.fromUplink(), dst, undefined);
    return r ? [{ steps: r.steps, ownSource: -1, tunnels: r.tunnels }] : [];
  }

  // -------------------------------------------------------------------------------------------
  // Firewalls

  /** Whether one firewall lets the packet through (true where there is no firewall). */
  private passes(step: Step, origSrc: number, dst: number, flow: Flow, compromised: boolean): boolean {
    const h = step.host;
    const src = step.nat ?? origSrc;
    const hand = this.model.firewalls.get(`${h.name}:${step.hook}`);
    if (hand) {
      // Taken as written instead of the policy; a compromised guest ignores its own.
      const inGuest = !h.trusted && step.hook !== 'guest-in' && step.hook !== 'guest-out';
      if (compromised && inGuest) return true;
      for (const r of hand.rules) {
        if (r.state === 'established') continue; // we ask about new connections
        if (r.iif !== undefined && r.iif !== step.seen.ifname) continue;
        if (r.oif !== undefined && r.oif !== step.oif) continue;
        if (r.src && !r.src.some(([lo, hi]) => src >= lo && src <= hi)) continue;
        if (r.dst && !r.dst.some(([lo, hi]) => dst >= lo && dst <= hi)) continue;
        if (!flowHas(r.flows, flow)) continue;
        return r.action === 'accept';
      }
      return hand.policy === 'accept';
    }
    // (plain booleans, not little closures: this runs millions of times in the property test)
    const srcOwn = h.nics.some((n) => n.address === src);
    const dstOwn = h.nics.some((n) => n.address === dst);
    const dstOutside = this.isInternet(dst) || this.isLan(dst);
    switch (step.hook) {
      case 'output': {
        const has = h.managed || (!h.trusted && h.localFirewall);
        if (!has || (compromised && !h.trusted)) return true;
        if (h.egress === 'isolated' && dstOutside) return false;
        const v = this.firstRule(h.name, step.seen, src, dst, flow, true);
        if (v) return v === 'allow';
        if (!h.trusted) return h.egress === 'open';
        return h.egress === 'open';
      }
      case 'input': {
        const has = h.managed || (!h.trusted && h.localFirewall);
        if (!has || (compromised && !h.trusted)) return true;
        if (srcOwn) return false; // a packet claiming to be from ourselves is a martian
        if (this.isTransport(h, step.seen, src, dst, flow)) return true;
        return this.firstRule(h.name, step.seen, src, dst, flow, false) === 'allow';
      }
      case 'guest-out': {
        // Enforced on the bridge owner; the guest sends only with its own addresses.
        if (!srcOwn) return false;
        if (h.egress === 'isolated' && dstOutside) return false;
        const v = this.firstRule(this.hv.name, step.seen, src, dst, flow, false);
        if (v) return v === 'allow';
        return h.egress === 'open' && this.cameFromItself(h, step.seen, src);
      }
      case 'guest-in':
        return this.firstRule(this.hv.name, step.seen, src, dst, flow, false) === 'allow';
      case 'forward': {
        if (!h.managed) return true;
        if (dstOutside) {
          // egress: none networks and isolated guests never get out, whatever the source says.
          if (step.seen.net !== undefined && this.model.networks.get(step.seen.net)!.egress === 'none') return false;
          if (step.seen.portOf && !step.seen.portOf.trusted && step.seen.portOf.egress === 'isolated') return false;
          const peer = this.peerSending(step.seen, src);
          if (peer && peer.egress === 'isolated') return false;
        }
        if (!srcOwn && !dstOwn) {
          const v = this.firstRule(h.name, step.seen, src, dst, flow, false);
          if (v) return v === 'allow';
        }
        const g = step.seen.portOf ?? this.peerSending(step.seen, src);
        return g !== undefined && !g.trusted && g.egress === 'open' && this.cameFromItself(g, step.seen, src);
      }
    }
  }

  /** The packet came in by `g`'s own port on its bridge (or out of its tunnel), with the address it has there. */
  private cameFromItself(g: Host, seen: Entry, src: number): boolean {
    if (seen.tunnel !== undefined) return g.nics.some((n) => n.segment === seen.tunnel && n.address === src);
    return seen.portOf === g && g.nics.some((n) => n.segment === seen.net && n.address === src);
  }

  /** The tunnel member whose tunnel address a packet out of the tunnel carries. */
  private peerSending(seen: Entry, src: number): Host | undefined {
    if (seen.tunnel === undefined) return undefined;
    const o = this.ownerOf.get(src);
    return o && o.net === seen.tunnel && o.host !== this.hv ? o.host : undefined;
  }

  /** A remote peer's WireGuard transport to its server's endpoint, let in from the uplink before any policy. */
  private isTransport(h: Host, seen: Entry, src: number, dst: number, flow: Flow): boolean {
    for (const t of this.model.tunnels.values()) {
      if (t.server !== h.name || dst !== t.endpoint || flow.proto !== 'udp' || flow.port !== t.listen) continue;
      const members = [...this.model.hosts.values()].filter((m) => m !== h && m.nics.some((n) => n.segment === t.name));
      // Every member is a roaming peer here: they knock from the internet, by the uplink.
      if (members.length > 0 && this.isInternet(src) && seen.uplink === true) return true;
    }
    return false;
  }

  /**
   * The first policy rule that speaks about this packet, as the firewall on host `at` sees it.
   * `ownOutput`: the host's own output, which judges only what the host itself sends.
   */
  private firstRule(at: string, seen: Entry, src: number, dst: number, flow: Flow, ownOutput: boolean): 'allow' | 'deny' | undefined {
    // Which rules' `from` name this sender does not depend on the flow: worked out once (speed only).
    const key = `${at}|${seen.net}|${seen.portOf?.name}|${seen.uplink}|${seen.tunnel}|${src}|${ownOutput}`;
    let fromOk = this.fromCache.get(key);
    if (!fromOk) this.fromCache.set(key, (fromOk = this.model.policy.map((r) => r.from.some((t) => this.fromMatches(t, at, seen, src, ownOutput)))));
    for (const [i, r] of this.model.policy.entries()) {
      if (!fromOk[i]) continue;
      if (!r.to.some((t) => this.toMatches(r, t, dst, flow))) continue;
      return r.action;
    }
    return undefined;
  }

  private fromMatches(t: Target, at: string, seen: Entry, src: number, ownOutput: boolean): boolean {
    switch (t.kind) {
      case 'host':
      case 'service': {
        const h = this.model.hosts.get(t.host)!;
        return h.nics.some((n) => {
          if (n.address !== src) return false;
          if (ownOutput) return true;
          // The bridge owner knows the port: the address counts only from that host's own port.
          if (this.model.networks.get(n.segment)?.owner === at && n.port !== undefined) return seen.portOf === h && seen.net === n.segment;
          // A tunnel's server knows what came out of the tunnel.
          if (this.model.tunnels.get(n.segment)?.server === at && h.name !== at) return seen.tunnel === n.segment;
          return true;
        });
      }
      case 'network': {
        const net = this.model.networks.get(t.network);
        if (!net) {
          const tun = this.model.tunnels.get(t.network)!;
          if (!inNet(src, tun)) return false;
          return ownOutput || tun.server !== at || seen.tunnel === tun.name;
        }
        if (!inNet(src, net)) return false;
        const bound = !ownOutput && net.owner === at;
        return !bound || seen.net === net.name;
      }
      case 'cidr':
        return src >= t.range.lo && src <= t.range.hi;
      case 'internet':
        return this.isInternet(src);
      case 'lan':
        return this.isLan(src);
      case 'any':
        return true;
    }
  }

  private toMatches(r: PolicyRule, t: Target, dst: number, flow: Flow): boolean {
    let addrOk: boolean;
    switch (t.kind) {
      case 'host':
      case 'service':
        addrOk = this.model.hosts.get(t.host)!.nics.some((n) => n.address === dst);
        break;
      case 'network':
        addrOk = inNet(dst, this.model.networks.get(t.network) ?? this.model.tunnels.get(t.network)!);
        break;
      case 'cidr':
        addrOk = dst >= t.range.lo && dst <= t.range.hi;
        break;
      case 'internet':
        addrOk = this.isInternet(dst);
        break;
      case 'lan':
        addrOk = this.isLan(dst);
        break;
      case 'any':
        addrOk = true;
        break;
    }
    if (!addrOk) return false;
    // Ports: a service's own ports (narrowed by the rule's), else the rule's, else everything.
    const inRule = r.ports === undefined || flowHas(r.ports, flow);
    return t.kind === 'service' ? inRule && flowHas(t.flows, flow) : inRule;
  }
}

/** Reads a model FlowSet as plain data (no shared flow code). */
function flowHas(
  set: {
    readonly tcp: readonly (readonly [number, number])[];
    readonly udp: readonly (readonly [number, number])[];
    readonly icmp: boolean;
    readonly other: boolean;
  },
  f: Flow,
): boolean {
  switch (f.proto) {
    case 'tcp':
      return set.tcp.some(([lo, hi]) => f.port >= lo && f.port <= hi);
    case 'udp':
      return set.udp.some(([lo, hi]) => f.port >= lo && f.port <= hi);
    case 'icmp':
      return set.icmp;
    case 'other':
      return set.other;
  }
}

function inNet(a: number, n: Network | Tunnel): boolean {
  return a >= n.range.lo && a <= n.range.hi;
}

/** Some internet addresses a peer's transport may come from (the public space outside TEST-NET and inside it). */
const INTERNET_PROBES = [0x08080808, 0xc6336407, 0xcb007109, 0x01010101];

/** A public address masquerading puts on packets leaving by the uplink (never seen by a firewall here). */
const PUBLIC_NAT = 0xc0000201;

/** How a packet entered the host whose firewall looks at it. */
interface Entry {
  /** The bridge it came in over; undefined = from the host itself or its uplink. */
  readonly net: string | undefined;
  /** The host whose bridge port it came in by (known only to the bridge owner). */
  readonly portOf: Host | undefined;
  readonly uplink?: boolean;
  /** It came out of this tunnel (known to the tunnel's server). */
  readonly tunnel?: string;
  /** The interface it came in by, as the host looking at it names it (a bridge, the uplink, wg0, eth0…). */
  readonly ifname?: string;
}

const noEntry = (): Entry => ({ net: undefined, portOf: undefined });

type FirstHop =
  { readonly kind: 'bridge'; readonly net: string; readonly next: number } | { readonly kind: 'uplink' } | { readonly kind: 'tunnel'; readonly tunnel: string };

interface Step {
  readonly host: Host;
  readonly hook: 'input' | 'output' | 'forward' | 'guest-in' | 'guest-out';
  readonly seen: Entry;
  /** The interface it leaves by, where the host's firewall knows it (output, forward). */
  readonly oif: string | undefined;
  /** Source address after masquerading, when a NAT on the way rewrote it. */
  readonly nat: number | undefined;
}

interface Journey {
  readonly steps: readonly Step[];
  /** The address the sender really sends from on this journey. */
  readonly ownSource: number;
  /** Tunnels crossed: each needs its transport to work. */
  readonly tunnels: readonly string[];
  /** A tunnel's allowed IPs: only this source gets through. */
  readonly mustSendFrom?: number;
  /** The sender is out on the internet (a roaming peer outside its tunnel): any public source. */
  readonly fromSomewhereOnInternet?: boolean;
}

/** Why a model is outside what the reference covers; undefined when it is inside. */
export function outsideSubset(m: Model): string | undefined {
  const hvs = [...m.hosts.values()].filter((h) => h.kind === 'hypervisor');
  if (hvs.length !== 1) return 'exactly one hypervisor';
  const hv = hvs[0]!;
  if (!hv.managed || !hv.forward) return 'the hypervisor must be managed and forward';
  if (m.tunnels.size > 1) return 'more than one tunnel';
  for (const t of m.tunnels.values()) if (t.server !== hv.name) return 'a tunnel served by another host than the hypervisor';
  for (const fw of m.firewalls.values()) if (fw.host !== hv.name && !m.hosts.get(fw.host)) return 'a hand-written chain for an unknown host';
  if (m.networks.has('lan')) return 'a network named lan';
  if (m.forwards.length > 0) return 'port forwards (forwards:)';
  for (const n of m.networks.values()) {
    if (n.owner !== hv.name) return `network ${n.name} not bridged by the hypervisor`;
    if (n.gateway !== undefined && !hv.nics.some((x) => x.address === n.gateway)) return `network ${n.name}'s gateway is not the hypervisor`;
  }
  for (const h of m.hosts.values()) {
    if (!['hypervisor', 'vm', 'container', 'server', 'peer'].includes(h.kind)) return `host kind ${h.kind}`;
    if (h.kind === 'peer' && !h.roaming) return 'a peer with a network address';
    if (h.kind !== 'peer' && h !== hv && h.nics.some((n) => m.tunnels.has(n.segment))) return `${h.name} is a tunnel member (only roaming peers are covered)`;
    if (h.kind === 'peer') continue;
    if (h.routes.length > 0) return 'static routes';
    if (h.egress === 'vpn-only') return 'vpn-only';
    if (h !== hv && (h.forward || h.uplink)) return `${h.name} forwards or has an uplink`;
    if (h.nics.some((n) => !m.networks.has(n.segment) && !(h === hv && m.tunnels.has(n.segment)))) return `${h.name} has a nic outside the networks`;
    if (h !== hv && h.defaultRoute.kind !== 'none' && h.defaultRoute.kind !== 'gateway') return `${h.name}'s default route`;
  }
  if (hv.defaultRoute.kind === 'gateway') return 'a hypervisor routing via a gateway';
  return undefined;
}

export { ALL_HI };
