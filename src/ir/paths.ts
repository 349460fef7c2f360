/**
 * Where a packet goes: the ordered enforcement points it crosses from a source to a destination
 * address, following each host's routes, bridges, NAT, uplinks and WireGuard tunnels.
 *
 * In the "compromised" view an untrusted source may pick any first hop it could reach (any
 * connected segment, any forwarding host on it, any tunnel it holds keys for), so several paths
 * come back; trusted hosts on the way still route as configured.
 */
import { lanEntry, lanRouterAddress } from '../model/bridge-ports.js';
import type { Hook, Host, Model, Network, Nic, Tunnel } from '../model/types.js';
import { formatIPv4, inRange } from '../util/ip.js';
import * as R from '../util/rangeset.js';
import { pointId } from './types.js';

export interface Hop {
  readonly point: string;
  readonly host: string;
  readonly hook: Hook;
  readonly iif: string | undefined;
  readonly oif: string | undefined;
  /** Bridge port the packet came in on, when the enforcing host owns that bridge. */
  readonly inPort: string | undefined;
  /**
   * The source address the packet carries here: undefined = the flow's original source
   * (which a compromised guest may forge); a number = rewritten by NAT on the way.
   */
  readonly natSrc: number | undefined;
}

export type PathEnd =
  | { readonly kind: 'host'; readonly host: string }
  | { readonly kind: 'zone'; readonly zone: 'internet' | 'lan' }
  | { readonly kind: 'dropped'; readonly reason: string };

export interface Transport {
  readonly tunnel: string;
  /** The non-server side, which sends the UDP transport to the endpoint. */
  readonly peer: string;
}

/**
 * WireGuard's cryptokey routing: the server accepts a packet from a member only when its (inner)
 * source is in that member's allowed IPs (cordon renders them as the member's tunnel address).
 */
export interface SourceCheck {
  readonly tunnel: string;
  readonly peer: string;
  readonly allowed: R.RangeSet;
  /** The source the packet carries into the tunnel when NAT set it; undefined = the flow's own. */
  readonly natSrc: number | undefined;
}

export interface Path {
  readonly hops: readonly Hop[];
  /** Source addresses the path lets through at all (a tunnel's allowed IPs); empty = no limit. */
  readonly sourceChecks: readonly SourceCheck[];
  /** Human chain of nodes: `agent-1 → agent-nat-filtered → kvm-host → internet`. */
  readonly nodes: readonly string[];
  readonly tunnels: readonly string[];
  readonly transports: readonly Transport[];
  readonly end: PathEnd;
  /** For alternative routes a compromised guest may choose: which one this is. */
  readonly choice: string | undefined;
  readonly notes: readonly string[];
  /** The source is some unknown internet address (a roaming peer outside its tunnel). */
  readonly anonymous: boolean;
}

export type Source = { readonly kind: 'host'; readonly host: string } | { readonly kind: 'zone'; readonly zone: 'internet' | 'lan' };

export interface PathOptions {
  /** Untrusted sources may choose any first hop. */
  readonly compromised: boolean;
  /** Ignore tunnels when routing (the path of a tunnel's own transport). */
  readonly underlay: boolean;
}

interface State {
  hops: Hop[];
  sourceChecks: SourceCheck[];
  nodes: string[];
  tunnels: string[];
  transports: Transport[];
  natSrc: number | undefined;
  notes: string[];
  /** (host, route) pairs the packet has left by: a few per path, compared field by field. */
  seen: { readonly host: string; readonly route: RouteChoice }[];
  anonymous: boolean;
}

const MAX_HOPS = 24;

/** The bridge owner's forward hook on a frame bridged between two of its ports (br_netfilter). */
function bridgedHop(s: State, owner: string, bridge: string, inPort: string | undefined): void {
  s.hops.push({ point: pointId(owner, 'forward'), host: owner, hook: 'forward', iif: bridge, oif: bridge, inPort, natSrc: s.natSrc });
}

/** A per-guest firewall hop on the hypervisor side of a guest's bridge port (no out interface: it filters the port). */
function guestHop(s: State, host: string, hook: 'guest-in' | 'guest-out', iif: string | undefined, inPort: string | undefined): void {
  s.hops.push({ point: pointId(host, hook), host, hook, iif, oif: undefined, inPort, natSrc: s.natSrc });
}

/** Indexes for address → owner lookups, built once per model. */
export class Topology {
  readonly byAddr = new Map<number, { host: Host; nic: Nic }>();

  constructor(readonly model: Model) {
    for (const h of model.hosts.values()) for (const nic of h.nics) this.byAddr.set(nic.address, { host: h, nic });
  }

  segment(name: string): Network | Tunnel | undefined {
    return this.model.networks.get(name) ?? this.model.tunnels.get(name);
  }

  /** The tunnel server that holds `addr` as its endpoint and is reached through its uplink. */
  endpointServer(addr: number): { host: Host; tunnel: Tunnel } | undefined {
    for (const t of this.model.tunnels.values()) {
      if (t.endpoint === addr) {
        const host = this.model.hosts.get(t.server);
        if (host) return { host, tunnel: t };
      }
    }
    return undefined;
  }

  /** Every path from a source to a destination address. */
  paths(src: Source, dst: number, opts: PathOptions): Path[] {
    const out: Path[] = [];
    const st = (): State => ({
      hops: [],
      sourceChecks: [],
      nodes: [],
      tunnels: [],
      transports: [],
      natSrc: undefined,
      notes: [],
      seen: [],
      anonymous: false,
    });
    if (src.kind === 'zone') {
      const s = st();
      s.nodes.push(src.zone);
      const owner = this.byAddr.get(dst);
      const bridged = src.zone === 'lan' && owner ? this.model.networks.get(owner.nic.segment) : undefined;
      if (bridged && bridged.ports.length > 0) this.fromBridgedLan(s, bridged, owner!.host, owner!.nic, dst, out);
      else this.fromZone(s, dst, undefined, out, undefined, src.zone === 'internet');
      return out;
    }
    const host = this.model.hosts.get(src.host);
    if (!host) return out;
    if (host.nics.some((n) => n.address === dst)) return out;
    if (host.roaming) {
      this.fromRoamingPeer(host, dst, opts, out, st);
      return out;
    }
    const choices = this.firstHops(host, dst, opts);
    for (const c of choices) {
      const s = st();
      s.nodes.push(host.name);
      this.leave(s, host, c.route, dst, 'output', undefined, undefined, out, c.choice);
    }
    return out;
  }

  private fromRoamingPeer(host: Host, dst: number, opts: PathOptions, out: Path[], st: () => State): void {
    const tnic = host.nics.find((n) => this.model.tunnels.has(n.segment));
    const t = tnic ? this.model.tunnels.get(tnic.segment)! : undefined;
    const viaTunnel = t && !opts.underlay && (inRange(dst, t.range) || this.isDeclaredPrivate(dst));
    if (t && (viaTunnel || (opts.compromised && !opts.underlay))) {
      const s = st();
      s.nodes.push(host.name);
      s.hops.push(this.hop(host, 'output', undefined, t.ifname, undefined, s));
      this.throughTunnel(s, host, t, dst, out, viaTunnel ? undefined : `through ${t.name} (chosen)`);
    }
    if (!viaTunnel) {
      // Anything else leaves the peer's own internet connection, outside cordon's reach.
      const s = st();
      s.nodes.push(host.name, 'internet');
      s.anonymous = true;
      s.notes.push(`${host.name} is a roaming peer: traffic outside ${t?.name ?? 'its tunnel'} leaves from somewhere on the internet`);
      this.fromZone(s, dst, undefined, out, undefined, true);
    }
  }

  private isDeclaredPrivate(addr: number): boolean {
    for (const n of this.model.networks.values()) if (inRange(addr, n.range)) return true;
    return false;
  }

  /** The routes a source may take for its first hop. */
  private firstHops(host: Host, dst: number, opts: PathOptions): { route: RouteChoice; choice: string | undefined }[] {
    const configured = this.lookup(host, dst, opts.underlay);
    if (!opts.compromised || host.trusted) return configured ? [{ route: configured, choice: undefined }] : [{ route: { kind: 'none' }, choice: undefined }];
    const out: { route: RouteChoice; choice: string | undefined }[] = [];
    const key = routeKey;
    const seen = new Set<string>();
    const add = (route: RouteChoice, choice: string | undefined): void => {
      const k = key(route);
      if (seen.has(k)) return;
      seen.add(k);
      out.push({ route, choice });
    };
    if (configured) add(configured, undefined);
    for (const nic of host.nics) {
      const net = this.model.networks.get(nic.segment);
      if (net) {
        if (inRange(dst, net.range)) add({ kind: 'direct', segment: net.name, nic }, `direct on ${net.name} (chosen)`);
        for (const other of this.model.hosts.values()) {
          if (other === host || !other.forward) continue;
          const onet = other.nics.find((n) => n.segment === net.name);
          if (onet) add({ kind: 'via', segment: net.name, nic, next: onet.address }, `via ${other.name} (${formatIPv4(onet.address)}) on ${net.name} (chosen)`);
        }
      }
      // On a bridge with a physical port, any router of the LAN beyond it is one hop away.
      const router = net && net.ports.length > 0 && net.owner !== host.name ? this.lanRouter(net) : undefined;
      if (net && router !== undefined && !inRange(dst, net.range))
        add(
          { kind: 'via', segment: net.name, nic, next: router },
          `via a router on the LAN beyond ${net.ports.join(', ')} (${formatIPv4(router)}) on ${net.name} (chosen)`,
        );
      const tun = this.model.tunnels.get(nic.segment);
      if (tun && !opts.underlay) add({ kind: 'tunnel', tunnel: tun.name, nic }, `through ${tun.name} (chosen)`);
      if (nic.segment === 'internet') add({ kind: 'uplink', ifname: nic.ifname }, 'out its internet interface (chosen)');
    }
    if (host.uplink) add({ kind: 'uplink', ifname: host.uplink }, `out ${host.uplink} (chosen)`);
    return out;
  }

  /** The configured route of `host` for `dst`; undefined when there is none. */
  lookup(host: Host, dst: number, underlay: boolean): RouteChoice | undefined {
    // Connected segments first (longest prefix among them).
    let best: { nic: Nic; len: number } | undefined;
    for (const nic of host.nics) {
      const seg = this.segment(nic.segment);
      if (!seg || (underlay && seg.kind === 'tunnel')) continue;
      if (inRange(dst, seg.range) && (!best || seg.cidr.len > best.len)) best = { nic, len: seg.cidr.len };
    }
    if (best) {
      const seg = this.segment(best.nic.segment)!;
      return seg.kind === 'tunnel' ? { kind: 'tunnel', tunnel: seg.name, nic: best.nic } : { kind: 'direct', segment: seg.name, nic: best.nic };
    }
    let route: { len: number; choice: RouteChoice } | undefined;
    for (const r of host.routes) {
      if (!inRange(dst, r.range) || (route && route.len >= r.to.len)) continue;
      if (r.via.kind === 'tunnel') {
        if (underlay) continue;
        const nic = host.nics.find((n) => n.segment === (r.via as { tunnel: string }).tunnel);
        if (nic) route = { len: r.to.len, choice: { kind: 'tunnel', tunnel: r.via.tunnel, nic } };
      } else {
        const seg = r.via.segment;
        const nic = host.nics.find((n) => n.segment === seg)!;
        route = { len: r.to.len, choice: { kind: 'via', segment: seg, nic, next: r.via.address } };
      }
    }
    if (route) return route.choice;
    // A tunnel server reaches its peers; a tunnel client reaches what lies behind the server.
    if (!underlay) {
      for (const nic of host.nics) {
        const t = this.model.tunnels.get(nic.segment);
        if (
          t &&
          t.server !== host.name &&
          host.egress !== 'vpn-only' &&
          this.isDeclaredPrivate(dst) &&
          !host.nics.some((n) => this.model.networks.get(n.segment) && inRange(dst, this.model.networks.get(n.segment)!.range))
        ) {
          const server = this.model.hosts.get(t.server);
          if (server && server.nics.some((n) => this.model.networks.get(n.segment) && inRange(dst, this.model.networks.get(n.segment)!.range)))
            return { kind: 'tunnel', tunnel: t.name, nic };
        }
      }
    }
    const d = host.defaultRoute;
    switch (d.kind) {
      case 'gateway': {
        const nic = host.nics.find((n) => n.segment === d.segment)!;
        return { kind: 'via', segment: d.segment, nic, next: d.via };
      }
      case 'tunnel': {
        if (underlay) {
          // The transport follows the route the host had before the tunnel took the default.
          for (const nic of host.nics) {
            const net = this.model.networks.get(nic.segment);
            if (net?.gateway !== undefined && net.gateway !== nic.address) return { kind: 'via', segment: net.name, nic, next: net.gateway };
          }
          return undefined;
        }
        const nic = host.nics.find((n) => n.segment === d.tunnel)!;
        return { kind: 'tunnel', tunnel: d.tunnel, nic };
      }
      case 'uplink':
        return { kind: 'uplink', ifname: d.ifname };
      case 'none':
        return undefined;
    }
  }

  private hop(host: Host, hook: Hook, iif: string | undefined, oif: string | undefined, inPort: string | undefined, s: State): Hop {
    return { point: pointId(host.name, hook), host: host.name, hook, iif, oif, inPort, natSrc: s.natSrc };
  }

  private finish(s: State, end: PathEnd, out: Path[], choice: string | undefined): void {
    out.push({
      hops: s.hops,
      sourceChecks: s.sourceChecks,
      nodes: s.nodes,
      tunnels: s.tunnels,
      transports: s.transports,
      end,
      choice,
      notes: s.notes,
      anonymous: s.anonymous,
    });
  }

  private clone(s: State): State {
    return {
      hops: [...s.hops],
      sourceChecks: [...s.sourceChecks],
      nodes: [...s.nodes],
      tunnels: [...s.tunnels],
      transports: [...s.transports],
      natSrc: s.natSrc,
      notes: [...s.notes],
      seen: [...s.seen],
      anonymous: s.anonymous,
    };
  }

  /**
   * The packet leaves `host` (locally generated: hook output; forwarded: hook forward) by `route`.
   */
  private leave(
    s: State,
    host: Host,
    route: RouteChoice,
    dst: number,
    hook: 'output' | 'forward',
    iif: string | undefined,
    inPort: string | undefined,
    out: Path[],
    choice: string | undefined,
  ): void {
    if (s.hops.length > MAX_HOPS) return this.finish(s, { kind: 'dropped', reason: 'routing loop' }, out, choice);
    for (let k = 0; k < s.seen.length; k++) {
      const e = s.seen[k]!;
      if (e.host === host.name && routeEqual(e.route, route)) return this.finish(s, { kind: 'dropped', reason: `routing loop at ${host.name}` }, out, choice);
    }
    s.seen.push({ host: host.name, route });
    switch (route.kind) {
      case 'none':
        if (hook === 'output') s.hops.push(this.hop(host, 'output', undefined, undefined, undefined, s));
        return this.finish(s, { kind: 'dropped', reason: `${host.name} has no route to ${formatIPv4(dst)}` }, out, choice);
      case 'uplink': {
        s.hops.push(this.hop(host, hook, iif, route.ifname, inPort, s));
        this.masquerade(s, host, iif, undefined, this.uplinkAddress(host, route.ifname, dst));
        // An uplink that is the host's internet nic leads onto the internet itself, not a LAN.
        const onInternet = host.nics.some((n) => n.segment === 'internet' && n.ifname === route.ifname);
        s.nodes.push(!onInternet && R.contains(this.model.lan, dst) ? 'lan' : 'internet');
        return this.fromZone(s, dst, host, out, choice, onInternet);
      }
      case 'tunnel': {
        const t = this.model.tunnels.get(route.tunnel)!;
        s.hops.push(this.hop(host, hook, iif, t.ifname, inPort, s));
        return this.throughTunnel(s, host, t, dst, out, choice);
      }
      case 'direct':
      case 'via': {
        const net = this.model.networks.get(route.segment)!;
        const next = route.kind === 'direct' ? dst : route.next;
        const target = this.byAddr.get(next);
        const outPort = target && net.owner === host.name ? target.nic.port : undefined;
        s.hops.push(this.hop(host, hook, iif, route.nic.ifname, inPort, s));
        const beforeNat = s.natSrc;
        if (hook === 'forward') this.masquerade(s, host, iif, route.nic);
        void outPort;
        if (!target && net.ports.length > 0) return this.toBridgedLan(s, host, route.nic, net, dst, out, choice);
        if (!target || target.nic.segment !== net.name) {
          return this.finish(s, { kind: 'dropped', reason: `no host has address ${formatIPv4(next)} on ${net.name}` }, out, choice);
        }
        if (net.owner === host.name) {
          // The owner's per-guest chains run in its forward/output hooks, before its own NAT
          // (postrouting): they still see the source the packet came with.
          const afterNat = s.natSrc;
          s.natSrc = beforeNat;
          this.crossSegment(s, host, route.nic, net, target.host, target.nic, hook === 'forward' ? iif : undefined, hook === 'forward' ? inPort : undefined);
          s.natSrc = afterNat;
        } else
          this.crossSegment(s, host, route.nic, net, target.host, target.nic, hook === 'forward' ? iif : undefined, hook === 'forward' ? inPort : undefined);
        s.nodes.push(net.name, target.host.name);
        return this.arrive(s, target.host, target.nic.ifname, this.portSeenBy(host, route.nic, net, target.host), dst, out, choice);
      }
    }
  }

  /**
   * A device of the LAN beyond a bridge's physical port (`ports:`) sends to a host on that bridge:
   * the frame is bridged, never routed, so it meets only what filters at the bridge — the owner's
   * forward hook through br_netfilter (in by the bridge, `inPort` the physical port) and the
   * receiver's per-guest firewall — then the receiver itself.
   */
  private fromBridgedLan(s: State, net: Network, to: Host, toNic: Nic, dst: number, out: Path[], choice?: string): void {
    const port = net.ports[0]!;
    s.notes.push(`the LAN is bridged into ${net.name} through ${net.ports.join(', ')}: it reaches ${to.name} at layer 2, not through a route`);
    if (net.owner && net.owner !== to.name) bridgedHop(s, net.owner, net.bridge, port);
    if (to.guestFirewall && toNic.port) guestHop(s, to.name, 'guest-in', net.bridge, port);
    s.nodes.push(net.name, to.name);
    this.arrive(s, to, toNic.ifname, net.owner === to.name ? port : undefined, dst, out, choice);
  }

  /**
   * A host on a bridge with a physical port sends to an address of that network no declared host
   * holds: a device of the LAN beyond the port (or, through it, a router to what lies further).
   * The sender's per-guest firewall and the owner's forward hook (br_netfilter) are all it passes.
   */
  private toBridgedLan(s: State, from: Host, fromNic: Nic, net: Network, dst: number, out: Path[], choice: string | undefined): void {
    if (from.guestFirewall && fromNic.port) guestHop(s, from.name, 'guest-out', net.bridge, fromNic.port);
    if (net.owner && net.owner !== from.name) {
      bridgedHop(s, net.owner, net.bridge, fromNic.port);
    }
    s.nodes.push(net.name, 'lan');
    if (inRange(dst, net.range)) {
      s.notes.push(`${net.name} is bridged to the LAN through ${net.ports.join(', ')}: ${formatIPv4(dst)} is reached at layer 2 beyond it`);
      if (!R.contains(this.model.lan, dst))
        return this.finish(s, { kind: 'dropped', reason: `${formatIPv4(dst)} is not an address of the LAN bridged into ${net.name}` }, out, choice);
      return this.finish(s, { kind: 'zone', zone: 'lan' }, out, choice);
    }
    // Through a router of that LAN: on into the LAN, or out to the internet, past the owner's routing.
    s.notes.push(
      `${net.name} is bridged to the LAN through ${net.ports.join(', ')}: a router there takes ${formatIPv4(dst)} on, not ${net.owner ?? 'the owner'}`,
    );
    if (R.contains(this.model.internet, dst)) {
      s.nodes.push('internet');
      return this.finish(s, { kind: 'zone', zone: 'internet' }, out, choice);
    }
    if (R.contains(this.model.lan, dst)) return this.finish(s, { kind: 'zone', zone: 'lan' }, out, choice);
    return this.finish(s, { kind: 'dropped', reason: `nothing beyond ${net.ports.join(', ')} routes ${formatIPv4(dst)}` }, out, choice);
  }

  /** An address of the LAN beyond a bridged network's port (its gateway when a LAN router holds that), standing for a router there. */
  private lanRouter(net: Network): number | undefined {
    return lanRouterAddress(this.model, net);
  }

  /** The bridge port `sender` uses on `net`, as seen by `receiver` (only if the receiver owns the bridge). */
  private portSeenBy(sender: Host, nic: Nic, net: Network, receiver: Host): string | undefined {
    void sender;
    return net.owner === receiver.name ? nic.port : undefined;
  }

  /**
   * Hops between two hosts on one L2 segment: per-guest firewalls and the bridge owner's forward path.
   * The per-guest chains run in the owner's kernel, which sees a guest's packets come in on the
   * bridge (br_netfilter), and a packet the owner forwards to a guest come in where it entered the
   * owner (`fromIif`; undefined for the owner's own packets), still carrying the mark of the bridge
   * port it entered by (`fromInPort`: the mark survives the owner's routing).
   */
  private crossSegment(
    s: State,
    from: Host,
    fromNic: Nic,
    net: Network,
    to: Host,
    toNic: Nic,
    fromIif: string | undefined,
    fromInPort: string | undefined,
  ): void {
    if (from.guestFirewall && fromNic.port) guestHop(s, from.name, 'guest-out', net.bridge, fromNic.port);
    if (net.owner && net.owner !== from.name && net.owner !== to.name) {
      bridgedHop(s, net.owner, net.bridge, fromNic.port);
    }
    if (to.guestFirewall && toNic.port)
      guestHop(s, to.name, 'guest-in', from.name === net.owner ? fromIif : net.bridge, from.name === net.owner ? fromInPort : fromNic.port);
  }

  /**
   * The source address a packet masqueraded out of `host`'s uplink carries: the host's public
   * address when the uplink is its internet nic, else some address of the zone it is headed for
   * (undeclared: the uplink's own address, or the public address of a NAT further on), never 0.0.0.0.
   */
  private uplinkAddress(host: Host, ifname: string, dst: number): number {
    const inet = host.nics.find((n) => n.segment === 'internet' && n.ifname === ifname);
    if (inet) return inet.address;
    const zone = R.contains(this.model.lan, dst) ? this.model.lan : this.model.internet;
    for (const [lo, hi] of zone) for (let a = lo; a <= hi && a < lo + 1024; a++) if (!this.byAddr.has(a)) return a;
    return 0;
  }

  /** Source NAT: traffic from a nat network leaving its gateway by another interface. */
  private masquerade(s: State, host: Host, iif: string | undefined, outNic: Nic | undefined, uplinkAddr = 0): void {
    if (iif === undefined) return;
    const inNic = host.nics.find((n) => n.ifname === iif);
    const net = inNic ? this.model.networks.get(inNic.segment) : undefined;
    if (!net || outNic?.segment === net.name) return;
    if (net.egress === 'nat' && net.gateway === inNic!.address) {
      s.natSrc = outNic ? outNic.address : uplinkAddr;
      s.notes.push(`${host.name} masquerades ${net.name} traffic${outNic ? ` as ${formatIPv4(outNic.address)}` : ' behind its uplink'}`);
    } else if (net.egress === 'none' && !outNic) {
      s.notes.push(
        `${net.name} has egress: none, so ${host.name} does not NAT it: where a firewall lets it through, replies cannot return but one-way packets (UDP exfiltration) do leave`,
      );
    }
  }

  private throughTunnel(s: State, host: Host, t: Tunnel, dst: number, out: Path[], choice: string | undefined): void {
    s.tunnels.push(t.name);
    s.nodes.push(t.name);
    let peer: Host | undefined;
    if (t.server === host.name) {
      const owner = this.byAddr.get(dst);
      // A server reaches a peer by its tunnel address, or a vpn client routing everything through it.
      peer = owner && owner.nic.segment === t.name ? owner.host : undefined;
      if (!peer) return this.finish(s, { kind: 'dropped', reason: `no peer of ${t.name} has ${formatIPv4(dst)} in its allowed IPs` }, out, choice);
      s.transports.push({ tunnel: t.name, peer: peer.name });
    } else {
      peer = this.model.hosts.get(t.server);
      if (!peer) return this.finish(s, { kind: 'dropped', reason: `tunnel ${t.name} has no server` }, out, choice);
      s.transports.push({ tunnel: t.name, peer: host.name });
      s.sourceChecks.push({
        tunnel: t.name,
        peer: host.name,
        allowed: R.normalize(host.nics.filter((n) => n.segment === t.name).map((n) => [n.address, n.address] as const)),
        natSrc: s.natSrc,
      });
    }
    s.natSrc = undefined;
    s.nodes.push(peer.name);
    return this.arrive(s, peer, t.ifname, undefined, dst, out, choice);
  }

  /** The packet arrives at `host` on interface `iif`: delivered locally or forwarded on. */
  private arrive(s: State, host: Host, iif: string, inPort: string | undefined, dst: number, out: Path[], choice: string | undefined): void {
    if (host.nics.some((n) => n.address === dst) || (host.uplink && this.endpointServer(dst)?.host === host)) {
      s.hops.push(this.hop(host, 'input', iif, undefined, inPort, s));
      return this.finish(s, { kind: 'host', host: host.name }, out, choice);
    }
    if (!host.forward) return this.finish(s, { kind: 'dropped', reason: `${host.name} does not forward packets` }, out, choice);
    const route = this.lookup(host, dst, false);
    if (!route) {
      s.hops.push(this.hop(host, 'forward', iif, undefined, inPort, s));
      return this.finish(s, { kind: 'dropped', reason: `${host.name} has no route to ${formatIPv4(dst)}` }, out, choice);
    }
    return this.leave(s, host, route, dst, 'forward', iif, inPort, out, choice);
  }

  /**
   * From the internet or the owner's LAN (outside any declared segment) toward `dst`.
   * `onInternet`: the packet is out on the internet (sent by the internet itself or a roaming peer),
   * where private LAN addresses are not routed; after a host's uplink it may still be on the LAN.
   */
  private fromZone(s: State, dst: number, came: Host | undefined, out: Path[], choice?: string, onInternet = false): void {
    // A tunnel endpoint may be a public address that an upstream router forwards to the server's uplink.
    const ep = this.endpointServer(dst);
    if (ep && ep.host !== came) {
      const up = ep.host.uplink ?? (ep.host.defaultRoute.kind === 'uplink' ? ep.host.defaultRoute.ifname : undefined);
      if (up) {
        s.nodes.push(ep.host.name);
        s.hops.push(this.hop(ep.host, 'input', up, undefined, undefined, s));
        s.notes.push(`${formatIPv4(dst)} is ${ep.tunnel.name}'s endpoint, reached through ${ep.host.name}'s uplink ${up}`);
        return this.finish(s, { kind: 'host', host: ep.host.name }, out, choice);
      }
      // No uplink: the router of the LAN beyond a bridge port, which the server routes through,
      // forwards the endpoint to it: bridged in by that port (src/model/bridge-ports.ts lanEntry).
      const entry = lanEntry(this.model, ep.host, dst);
      if (entry) {
        const net = this.model.networks.get(entry.network)!;
        s.notes.push(`${formatIPv4(dst)} is ${ep.tunnel.name}'s endpoint, forwarded by the router of the LAN beyond ${entry.port}`);
        return this.fromBridgedLan(
          s,
          net,
          ep.host,
          ep.host.nics.find((n) => n.address === dst)!,
          dst,
          out,
          choice,
        );
      }
    }
    // A host placed on the internet is reached there (its address is not part of the `internet`
    // endpoint, so the zone test below would miss it).
    const owner = this.byAddr.get(dst);
    if (owner && owner.nic.segment === 'internet') {
      s.nodes.push(owner.host.name);
      return this.arrive(this.clone(s), owner.host, owner.nic.ifname, undefined, dst, out, choice);
    }
    if (R.contains(this.model.internet, dst) || (!onInternet && R.contains(this.model.lan, dst))) {
      return this.finish(s, { kind: 'zone', zone: R.contains(this.model.lan, dst) ? 'lan' : 'internet' }, out, choice);
    }
    // A port forward (DNAT) on a host the world reaches: the packet arrives by that host's uplink
    // and, rewritten, is forwarded to the guest. Which ports it carries is the forwarding host's
    // forward chain's to say (src/ir/forwards.ts puts the forward's own limit there).
    const fwds = this.model.forwards.filter((f) => f.address === dst && f.via !== came?.name);
    const vias = [...new Set(fwds.map((f) => f.via))];
    for (const name of vias) {
      const via = this.model.hosts.get(name)!;
      const mine = fwds.filter((f) => f.via === name);
      const t = vias.length > 1 ? this.clone(s) : s;
      t.nodes.push(via.name);
      const ports = mine.flatMap((f) => f.ports.map((p) => `${p.proto}/${p.public[0] === p.public[1] ? p.public[0] : `${p.public[0]}-${p.public[1]}`}`));
      t.notes.push(`${via.name} forwards ${ports.join(', ')} to ${formatIPv4(dst)} (${mine.map((f) => `${f.host}.${f.service}`).join(', ')})`);
      this.arrive(t, via, mine[0]!.entry[0]!, undefined, dst, out, choice);
    }
    if (vias.length > 0) return;
    for (const n of this.model.networks.values()) {
      if (!inRange(dst, n.range) || n.egress !== 'routed' || n.gateway === undefined) continue;
      const gw = this.byAddr.get(n.gateway);
      const up = gw?.host.uplink ?? (gw?.host.defaultRoute.kind === 'uplink' ? gw.host.defaultRoute.ifname : undefined);
      if (gw && up && gw.host !== came) {
        s.nodes.push(gw.host.name);
        return this.arrive(s, gw.host, up, undefined, dst, out, choice);
      }
    }
    return this.finish(
      s,
      { kind: 'dropped', reason: `${formatIPv4(dst)} is a private address: nothing routes it from the internet (no port forward is declared)` },
      out,
      choice,
    );
  }
}

/**
 * Equal exactly when the routes' JSON is (a nic is its four fields), without serialising the nic:
 * the loop key is built at every hop of every path.
 */
export function routeKey(r: RouteChoice): string {
  switch (r.kind) {
    case 'none':
      return 'none';
    case 'uplink':
      return `uplink\0${r.ifname}`;
    case 'tunnel':
      return `tunnel\0${r.tunnel}\0${nicKey(r.nic)}`;
    case 'direct':
      return `direct\0${r.segment}\0${nicKey(r.nic)}`;
    case 'via':
      return `via\0${r.segment}\0${nicKey(r.nic)}\0${r.next}`;
  }
}

/** routeKey(a) === routeKey(b), without building either (the loop check runs at every hop). */
export function routeEqual(a: RouteChoice, b: RouteChoice): boolean {
  if (a === b) return true;
  switch (a.kind) {
    case 'none':
      return b.kind === 'none';
    case 'uplink':
      return b.kind === 'uplink' && a.ifname === b.ifname;
    case 'tunnel':
      return b.kind === 'tunnel' && a.tunnel === b.tunnel && nicEqual(a.nic, b.nic);
    case 'direct':
      return b.kind === 'direct' && a.segment === b.segment && nicEqual(a.nic, b.nic);
    case 'via':
      return b.kind === 'via' && a.segment === b.segment && a.next === b.next && nicEqual(a.nic, b.nic);
  }
}

function nicEqual(a: Nic, b: Nic): boolean {
  return a === b || (a.segment === b.segment && a.address === b.address && a.ifname === b.ifname && a.port === b.port);
}

function nicKey(n: Nic): string {
  return `${n.segment}\0${n.address}\0${n.ifname}\0${n.port === undefined ? '\u0001' : `=${n.port}`}`;
}

export type RouteChoice =
  | { readonly kind: 'direct'; readonly segment: string; readonly nic: Nic }
  | { readonly kind: 'via'; readonly segment: string; readonly nic: Nic; readonly next: number }
  | { readonly kind: 'tunnel'; readonly tunnel: string; readonly nic: Nic }
  | { readonly kind: 'uplink'; readonly ifname: string }
  | { readonly kind: 'none' };
