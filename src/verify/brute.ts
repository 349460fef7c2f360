/**
 * A brute-force reachability evaluator: the reference the class-based engines are tested and
 * benchmarked against. It shares no logic with chain-eval.ts or the engines: it takes concrete
 * packets one at a time (protocol, destination port, source and destination address), runs
 * each chain on a path first-match rule by rule, ANDs the hops and ORs the paths. Routing comes
 * from `Topology` (what is checked here is filtering, not routing).
 *
 * What it enumerates:
 * - ports: every tcp and udp port 0..65535 (`ports: 'full'`), or (`'sampled'`, for speed) every
 *   port at or next to a boundary some rule names plus `samples` random ports per protocol; a
 *   sampled port's verdict then stands for the ports up to the next sample, which is exact as
 *   long as verdicts only change at rule boundaries (the random samples probe exactly that);
 * - forged sources (zones, roaming peers off their tunnel, compromised guests): every address at
 *   or next to a boundary of any rule's source prefixes, of the zones and of hosts' addresses;
 * - zone destinations (`internet`, `lan`): every address of the zone at or next to a boundary of
 *   any rule's destination prefixes, any segment or route, skipping addresses owned by hosts.
 */
import { Topology as TopologyClass, type Hop, type Path, type Source, type Topology } from '../ir/paths.js';
import type { Chain, Ir, IrRule } from '../ir/types.js';
import type { Assume, Host } from '../model/types.js';
import { PORT_MAX, type FlowSet } from '../util/flows.js';
import { ADDR_MAX } from '../util/ip.js';
import type { RangeSet } from '../util/rangeset.js';
import type { Dest } from './engine.js';
import { endpoints } from './endpoints.js';
import type { Matrix } from './matrix.js';

export interface BruteOptions {
  /** 'full': all 65,536 ports of tcp and udp. 'sampled': boundary ports ±1 plus random ones. */
  readonly ports: 'full' | 'sampled';
  /** Random extra ports per protocol in sampled mode (default 16). */
  readonly samples?: number;
  /** Seed for the random ports (default 1). */
  readonly seed?: number;
}

type Proto = 'tcp' | 'udp' | 'icmp' | 'other';

function inSet(set: RangeSet, x: number): boolean {
  for (const [lo, hi] of set) if (x >= lo && x <= hi) return true;
  return false;
}

function flowHas(f: FlowSet, proto: Proto, port: number): boolean {
  switch (proto) {
    case 'tcp':
      return inSet(f.tcp, port);
    case 'udp':
      return inSet(f.udp, port);
    case 'icmp':
      return f.icmp;
    case 'other':
      return f.other;
  }
}

/** Does the rule match the packet's interfaces, state and addresses at this hop? */
function headerMatches(r: IrRule, hop: Hop, src: number, dst: number): boolean {
  const m = r.match;
  // The question is about new connections; rules for established ones never decide it.
  if (m.state === 'established') return false;
  if (m.iif !== undefined && !(hop.iif !== undefined && m.iif.includes(hop.iif))) return false;
  if (m.oif !== undefined && !(hop.oif !== undefined && m.oif.includes(hop.oif))) return false;
  if (m.inPort !== undefined && !(hop.inPort !== undefined && m.inPort.includes(hop.inPort))) return false;
  if (m.src !== undefined && !inSet(m.src, src)) return false;
  if (m.dst !== undefined && !inSet(m.dst, dst)) return false;
  return true;
}

/**
 * One hop for packets with fixed addresses: the rules whose header fields match, in order, so
 * each packet then only tests protocol and port (the rest is the same for all of them).
 */
interface HopRules {
  readonly rules: readonly IrRule[];
  readonly policy: 'accept' | 'drop';
}

/** First match, rule by rule; the chain's policy when none matches. */
function hopAccepts(h: HopRules, proto: Proto, port: number): boolean {
  for (const r of h.rules) if (flowHas(r.match.flows, proto, port)) return r.action === 'accept';
  return h.policy === 'accept';
}

/** Deterministic small PRNG for the sampled ports. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MAX_ADDR = ADDR_MAX;

export class BruteForce {
  private readonly portList: { tcp: number[]; udp: number[] };
  private readonly srcCandidates: number[];
  private readonly zoneDst = new Map<string, number[]>();
  private readonly transportOk = new Map<string, boolean>();

  constructor(
    readonly ir: Ir,
    readonly topo: Topology,
    readonly opts: BruteOptions = { ports: 'sampled' },
  ) {
    this.portList = this.ports();
    this.srcCandidates = this.sourceCandidates();
  }

  private ports(): { tcp: number[]; udp: number[] } {
    if (this.opts.ports === 'full') {
      const all = Array.from({ length: PORT_MAX + 1 }, (_, i) => i);
      return { tcp: all, udp: all };
    }
    const rand = prng(this.opts.seed ?? 1);
    const tcp = new Set<number>([0, PORT_MAX]);
    const udp = new Set<number>([0, PORT_MAX]);
    const near = (s: Set<number>, x: number): void => {
      for (const y of [x - 1, x, x + 1]) if (y >= 0 && y <= PORT_MAX) s.add(y);
    };
    for (const c of this.ir.chains.values()) {
      for (const r of c.rules) {
        for (const [lo, hi] of r.match.flows.tcp) for (const x of [lo, hi]) near(tcp, x);
        for (const [lo, hi] of r.match.flows.udp) for (const x of [lo, hi]) near(udp, x);
      }
    }
    for (let i = 0; i < (this.opts.samples ?? 16); i++) {
      tcp.add(Math.floor(rand() * (PORT_MAX + 1)));
      udp.add(Math.floor(rand() * (PORT_MAX + 1)));
    }
    return { tcp: [...tcp].sort((a, b) => a - b), udp: [...udp].sort((a, b) => a - b) };
  }

  private boundaryAddrs(which: 'src' | 'dst'): Set<number> {
    const out = new Set<number>([0, MAX_ADDR]);
    const near = (x: number): void => {
      for (const y of [x - 1, x, x + 1]) if (y >= 0 && y <= MAX_ADDR) out.add(y);
    };
    const nearBoth = (lo: number, hi: number): void => {
      near(lo);
      near(hi);
    };
    const m = this.ir.model;
    for (const c of this.ir.chains.values()) {
      for (const r of c.rules) for (const [lo, hi] of r.match[which] ?? []) nearBoth(lo, hi);
    }
    for (const [lo, hi] of m.internet) nearBoth(lo, hi);
    for (const [lo, hi] of m.lan) nearBoth(lo, hi);
    for (const h of m.hosts.values()) {
      for (const n of h.nics) near(n.address);
      for (const r of h.routes) nearBoth(r.range.lo, r.range.hi);
    }
    for (const n of m.networks.values()) nearBoth(n.range.lo, n.range.hi);
    for (const t of m.tunnels.values()) {
      nearBoth(t.range.lo, t.range.hi);
      near(t.endpoint);
    }
    return out;
  }

  private sourceCandidates(): number[] {
    return [...this.boundaryAddrs('src')].sort((a, b) => a - b);
  }

  /** Addresses that stand for a zone as a destination. */
  zoneAddresses(zone: 'internet' | 'lan'): number[] {
    let list = this.zoneDst.get(zone);
    if (list) return list;
    const space = zone === 'internet' ? this.ir.model.internet : this.ir.model.lan;
    list = [...this.boundaryAddrs('dst')].filter((a) => inSet(space, a) && !this.topo.byAddr.has(a)).sort((a, b) => a - b);
    this.zoneDst.set(zone, list);
    return list;
  }

  private destAddrs(to: Dest): number[] {
    switch (to.kind) {
      case 'host':
        return this.ir.model.hosts.get(to.host)?.nics.map((n) => n.address) ?? [];
      case 'addr':
        return [to.addr];
      case 'zone':
        return this.zoneAddresses(to.zone);
    }
  }

  /** The address a host sends from on a path: the one on its first hop's interface or port. */
  private ownAddress(h: Host, path: Path): number {
    const first = path.hops[0];
    if (first?.oif !== undefined) {
      for (const n of h.nics) if (n.ifname === first.oif) return n.address;
    }
    if (first?.inPort !== undefined) {
      for (const n of h.nics) if (n.port === first.inPort) return n.address;
    }
    return h.nics.length > 0 ? h.nics[0]!.address : 0;
  }

  /** Source addresses a packet on this path may carry. */
  private sources(from: Source, host: Host | undefined, path: Path, compromised: boolean): number[] {
    const forged = from.kind === 'zone' || path.anonymous || (compromised && host !== undefined && !host.trusted);
    if (!forged) return host ? [this.ownAddress(host, path)] : [];
    const space: RangeSet | undefined =
      from.kind === 'zone' ? (from.zone === 'internet' ? this.ir.model.internet : this.ir.model.lan) : path.anonymous ? this.ir.model.internet : undefined;
    return space ? this.srcCandidates.filter((a) => inSet(space, a)) : this.srcCandidates;
  }

  /** The hops of a path whose chains count under this assumption, with their rules. */
  private counted(path: Path, compromised: boolean): { hop: Hop; chain: Chain }[] {
    const out: { hop: Hop; chain: Chain }[] = [];
    for (const hop of path.hops) {
      const chain = this.ir.chains.get(hop.point);
      if (!chain) continue;
      if (compromised && chain.inGuest) continue;
      out.push({ hop, chain });
    }
    return out;
  }

  /** The counted hops for packets from src to dst (NAT rewrites the source where it happens). */
  private fix(hops: readonly { hop: Hop; chain: Chain }[], src: number, dst: number): HopRules[] {
    return hops.map(({ hop, chain }) => {
      const s = hop.natSrc ?? src;
      return { rules: chain.rules.filter((r) => headerMatches(r, hop, s, dst)), policy: chain.policy };
    });
  }

  /** Whether one packet (protocol and port) crosses every hop. */
  private passes(hops: readonly HopRules[], proto: Proto, port: number): boolean {
    for (const h of hops) if (!hopAccepts(h, proto, port)) return false;
    return true;
  }

  /** A tunnel's own UDP transport from its peer to the server's endpoint, as configured. */
  private transportUp(tunnelName: string, peerName: string): boolean {
    const key = `${tunnelName}/${peerName}`;
    const known = this.transportOk.get(key);
    if (known !== undefined) return known;
    const t = this.ir.model.tunnels.get(tunnelName)!;
    const peer = this.ir.model.hosts.get(peerName)!;
    const from: Source = peer.roaming ? { kind: 'zone', zone: 'internet' } : { kind: 'host', host: peer.name };
    let ok = false;
    for (const path of this.topo.paths(from, t.endpoint, { compromised: false, underlay: true })) {
      if (ok) break;
      if (path.end.kind === 'dropped') continue;
      if (!path.transports.every((x) => this.transportUp(x.tunnel, x.peer))) continue;
      const hops = this.counted(path, false);
      for (const src of this.sources(from, peer.roaming ? undefined : peer, path, false)) {
        if (!tunnelsLetThrough(path, src)) continue;
        if (this.passes(this.fix(hops, src, t.endpoint), 'udp', t.listen)) {
          ok = true;
          break;
        }
      }
    }
    this.transportOk.set(key, ok);
    return ok;
  }

  /** Every flow from `from` to `to` that some packet gets through, under `assume`. */
  reach(from: Source, to: Dest, assume: Assume): FlowSet {
    const compromised = assume === 'compromised';
    const host = from.kind === 'host' ? this.ir.model.hosts.get(from.host) : undefined;
    const tcp = new Uint8Array(this.portList.tcp.length);
    const udp = new Uint8Array(this.portList.udp.length);
    let icmp = false;
    let other = false;
    for (const dst of this.destAddrs(to)) {
      for (const path of this.topo.paths(from, dst, { compromised, underlay: false })) {
        if (path.end.kind === 'dropped') continue;
        if (!path.transports.every((x) => this.transportUp(x.tunnel, x.peer))) continue;
        const hops = this.counted(path, compromised);
        for (const src of this.sources(from, host, path, compromised)) {
          if (!tunnelsLetThrough(path, src)) continue;
          const fixed = this.fix(hops, src, dst);
          this.portList.tcp.forEach((port, i) => {
            if (!tcp[i] && this.passes(fixed, 'tcp', port)) tcp[i] = 1;
          });
          this.portList.udp.forEach((port, i) => {
            if (!udp[i] && this.passes(fixed, 'udp', port)) udp[i] = 1;
          });
          if (!icmp && this.passes(fixed, 'icmp', 0)) icmp = true;
          if (!other && this.passes(fixed, 'other', 0)) other = true;
        }
      }
    }
    return { tcp: toRanges(this.portList.tcp, tcp), udp: toRanges(this.portList.udp, udp), icmp, other };
  }
}

/**
 * WireGuard's cryptokey routing, when Topology reports it: a tunnel drops a packet whose source
 * (or the NAT source it carries into the tunnel) is not in the sending member's allowed IPs.
 */
function tunnelsLetThrough(path: Path, src: number): boolean {
  const checks = (path as Path & { readonly sourceChecks?: readonly { readonly allowed: RangeSet; readonly natSrc: number | undefined }[] }).sourceChecks ?? [];
  return checks.every((c) => inSet(c.allowed, c.natSrc ?? src));
}

/** Sampled verdicts to port ranges: each sample's verdict holds up to the next sample. */
function toRanges(ports: readonly number[], ok: Uint8Array): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < ports.length; i++) {
    if (!ok[i]) continue;
    const lo = ports[i]!;
    const hi = i + 1 < ports.length ? ports[i + 1]! - 1 : PORT_MAX;
    const last = out[out.length - 1];
    if (last && last[1] + 1 === lo) last[1] = hi;
    else out.push([lo, hi]);
  }
  return out;
}

/** The whole matrix by brute force (small specs only): same shape as computeMatrix's. */
export function bruteMatrix(ir: Ir, assume: Assume, opts: BruteOptions = { ports: 'sampled' }, topo: Topology = new TopologyClass(ir.model)): Matrix {
  const bf = new BruteForce(ir, topo, opts);
  const eps = endpoints(ir.model);
  const cells = eps.map((a, i) =>
    eps.map((b, j) => {
      if (i === j) return undefined;
      if (a.source.kind === 'zone' && b.dest.kind === 'zone') return undefined;
      return bf.reach(a.source, b.dest, assume);
    }),
  );
  return { assume, endpoints: eps, cells };
}
