/**
 * The reachability engine: for a source and a destination, every path with the verdict of every
 * enforcement point on it, under "configured" or "compromised" assumptions (DESIGN.md).
 *
 * Source addresses are split into classes from the prefixes the rules on a path mention, so a
 * compromised guest that may forge any source is evaluated once per class, not per address.
 */
import { Topology, type Hop, type Path, type Source, type SourceCheck, type Transport } from '../ir/paths.js';
import type { Chain, Ir } from '../ir/types.js';
import type { Assume, Host } from '../model/types.js';
import { ALL_FLOWS, flowContains, flowIntersect, flowIsEmpty, flowUnion, NO_FLOWS, type Flow, type FlowSet } from '../util/flows.js';
import { ANY_ADDRESS, formatIPv4 } from '../util/ip.js';
import * as R from '../util/rangeset.js';
import type { RangeSet } from '../util/rangeset.js';
import { lowerBound } from '../util/search.js';
import { acceptedFlows, evalChain, ruleMatchesHopAnySrc, type Piece } from './chain-eval.js';

export type HopStatus = 'filtered' | 'no-firewall' | 'ignored-in-guest';

export interface HopTrace {
  readonly hop: Hop;
  readonly status: HopStatus;
  readonly chain: Chain | undefined;
  /** How this chain splits all flows (only when filtered). */
  readonly pieces: readonly Piece[];
  readonly allowed: FlowSet;
}

export interface TransportCheck {
  readonly transport: Transport;
  readonly ok: boolean;
  readonly reach: Reach | undefined;
}

export interface PathVerdict {
  readonly path: Path;
  /** The source address this verdict was computed for; undefined = NAT/zone handled it. */
  readonly src: number;
  readonly hops: readonly HopTrace[];
  readonly transports: readonly TransportCheck[];
  readonly allowed: FlowSet;
  /** A tunnel on the path that drops this source (not in the sender's allowed IPs). */
  readonly sourceBlocked: SourceCheck | undefined;
}

export type Dest =
  | { readonly kind: 'host'; readonly host: string }
  | { readonly kind: 'addr'; readonly addr: number }
  | { readonly kind: 'zone'; readonly zone: 'internet' | 'lan' };

export interface Reach {
  readonly from: Source;
  readonly to: Dest;
  readonly assume: Assume;
  readonly allowed: FlowSet;
  readonly verdicts: readonly PathVerdict[];
}

export class Engine {
  readonly topo: Topology;
  private readonly transportCache = new Map<string, Reach>();
  private zoneReps: Map<string, number[]> | undefined;
  private dstCuts: Float64Array | undefined;

  constructor(readonly ir: Ir) {
    this.topo = new Topology(ir.model);
  }

  /** Representative destination addresses of a zone: one per class of the rules' destination prefixes. */
  zoneDestinations(zone: 'internet' | 'lan'): number[] {
    if (!this.zoneReps) this.zoneReps = new Map();
    const cached = this.zoneReps.get(zone);
    if (cached) return cached;
    const space = zone === 'internet' ? this.ir.model.internet : this.ir.model.lan;
    // Both zones cut at the same places: every chain's destination prefixes, collected once into a
    // typed array (millions of addresses above 2^31 on big specs, each a heap number in an array).
    // Only cuts inside a zone (lo < cut ≤ hi of one of its ranges) can start a class there, so
    // the others (most of them: hosts' own addresses) are left out before sorting.
    // Indexed loops: this runs once, in code not yet optimised, where for-of allocates per step.
    if (!this.dstCuts) {
      const internet = this.ir.model.internet;
      const lan = this.ir.model.lan;
      const inZone = (c: number): boolean => cutsInto(internet, c) || cutsInto(lan, c);
      // Rules compiled from one destination share its prefix list (1k spec: 17,144 rules, 2,122
      // lists): each list is cut once, the cuts being the same for every rule that holds it.
      const chains = [...this.ir.chains.values()];
      const lists: RangeSet[] = [];
      const seen = new Set<RangeSet>();
      let n = 0;
      for (let c = 0; c < chains.length; c++) {
        const rules = chains[c]!.rules;
        for (let i = 0; i < rules.length; i++) {
          const d = rules[i]!.match.dst;
          if (!d || seen.has(d)) continue;
          seen.add(d);
          lists.push(d);
          n += 2 * d.length;
        }
      }
      const cuts = new Float64Array(n);
      let k = 0;
      for (let l = 0; l < lists.length; l++) {
        const d = lists[l]!;
        for (let x = 0; x < d.length; x++) {
          const span = d[x]!;
          if (inZone(span[0])) cuts[k++] = span[0];
          if (inZone(span[1] + 1)) cuts[k++] = span[1] + 1;
        }
      }
      this.dstCuts = sortedUnique(cuts.subarray(0, k));
    }
    const reps = classRepresentatives(space, this.dstCuts, this.topo.byAddr);
    this.zoneReps.set(zone, reps);
    return reps;
  }

  /** Addresses of a destination. */
  destAddrs(to: Dest): number[] {
    switch (to.kind) {
      case 'host': {
        const h = this.ir.model.hosts.get(to.host);
        return h ? h.nics.map((n) => n.address) : [];
      }
      case 'addr':
        return [to.addr];
      case 'zone':
        return this.zoneDestinations(to.zone);
    }
  }

  reach(from: Source, to: Dest, assume: Assume): Reach {
    const verdicts: PathVerdict[] = [];
    let allowed: FlowSet = NO_FLOWS;
    const compromised = assume === 'compromised';
    const srcHost = from.kind === 'host' ? this.ir.model.hosts.get(from.host) : undefined;
    for (const dst of this.destAddrs(to)) {
      const paths = this.topo.paths(from, dst, { compromised, underlay: false });
      for (const path of paths) {
        for (const v of this.evalPath(path, srcHost, from, dst, assume)) {
          verdicts.push(v);
          allowed = flowUnion(allowed, v.allowed);
        }
      }
    }
    return { from, to, assume, allowed, verdicts };
  }

  /** Source addresses to try on one path: the real one, or one per class when it may be forged. */
  private sourceReps(path: Path, srcHost: Host | undefined, from: Source, dst: number, assume: Assume): number[] {
    const forged = from.kind === 'zone' || path.anonymous || (assume === 'compromised' && srcHost !== undefined && !srcHost.trusted);
    if (!forged && srcHost) return [sourceAddress(srcHost, path)];
    const space =
      from.kind === 'zone' ? (from.zone === 'internet' ? this.ir.model.internet : this.ir.model.lan) : path.anonymous ? this.ir.model.internet : ANY_ADDRESS;
    const cuts: number[] = [];
    for (const c of path.sourceChecks) if (c.natSrc === undefined) for (const [lo, hi] of c.allowed) cuts.push(lo, hi + 1);
    for (const hop of path.hops) {
      if (hop.natSrc !== undefined) continue;
      const chain = this.ir.chains.get(hop.point);
      if (!chain) continue;
      for (const r of chain.rules) if (r.match.src && ruleMatchesHopAnySrc(r, hop, dst)) for (const [lo, hi] of r.match.src) cuts.push(lo, hi + 1);
    }
    const reps = representatives(space, cuts, new Set());
    if (srcHost && !path.anonymous) {
      const own = sourceAddress(srcHost, path);
      // Evaluate the guest's true address first so traces prefer it.
      return [own, ...reps.filter((r) => r !== own)];
    }
    return reps;
  }

  private evalPath(path: Path, srcHost: Host | undefined, from: Source, dst: number, assume: Assume): PathVerdict[] {
    const out: PathVerdict[] = [];
    const transports = path.transports.map((t) => this.checkTransport(t, assume));
    const transportsOk = transports.every((t) => t.ok);
    for (const src of this.sourceReps(path, srcHost, from, dst, assume)) {
      let allowed: FlowSet = path.end.kind === 'dropped' ? NO_FLOWS : ALL_FLOWS;
      if (!transportsOk) allowed = NO_FLOWS;
      const sourceBlocked = path.sourceChecks.find((c) => !R.contains(c.allowed, c.natSrc ?? src));
      if (sourceBlocked) allowed = NO_FLOWS;
      const hops: HopTrace[] = [];
      for (const hop of path.hops) {
        const chain = this.ir.chains.get(hop.point);
        if (!chain) {
          hops.push({ hop, status: 'no-firewall', chain: undefined, pieces: [], allowed: ALL_FLOWS });
          continue;
        }
        if (assume === 'compromised' && chain.inGuest) {
          hops.push({ hop, status: 'ignored-in-guest', chain, pieces: [], allowed: ALL_FLOWS });
          continue;
        }
        const pieces = evalChain(chain, hop, hop.natSrc ?? src, dst);
        const acc = acceptedFlows(pieces);
        hops.push({ hop, status: 'filtered', chain, pieces, allowed: acc });
        allowed = flowIntersect(allowed, acc);
      }
      out.push({ path, src, hops, transports, allowed, sourceBlocked });
      // One verdict per class is needed only while classes differ in outcome; stop early when all is allowed.
      if (out.length > 1 && flowIsEmpty(allowed)) out.pop();
    }
    return out;
  }

  /** Whether a tunnel's own UDP transport gets from the peer to the server's endpoint. */
  checkTransport(t: Transport, assume: Assume): TransportCheck {
    const tunnel = this.ir.model.tunnels.get(t.tunnel)!;
    const key = `${t.tunnel}/${t.peer}/${assume}`;
    let reach = this.transportCache.get(key);
    if (!reach) {
      const peer = this.ir.model.hosts.get(t.peer)!;
      const flow: Flow = { proto: 'udp', port: tunnel.listen };
      const verdicts: PathVerdict[] = [];
      let allowed: FlowSet = NO_FLOWS;
      const from: Source = peer.roaming ? { kind: 'zone', zone: 'internet' } : { kind: 'host', host: peer.name };
      // The transport is evaluated as configured: a guest that breaks its own tunnel only hurts itself.
      for (const path of this.topo.paths(from, tunnel.endpoint, { compromised: false, underlay: true })) {
        for (const v of this.evalPath(path, peer.roaming ? undefined : peer, from, tunnel.endpoint, 'configured')) {
          verdicts.push(v);
          allowed = flowUnion(allowed, v.allowed);
        }
      }
      reach = {
        from,
        to: { kind: 'addr', addr: tunnel.endpoint },
        assume,
        allowed: flowIntersect(allowed, { tcp: [], udp: [[tunnel.listen, tunnel.listen]], icmp: false, other: false }),
        verdicts,
      };
      this.transportCache.set(key, reach);
      void flow;
    }
    return { transport: t, ok: flowContains(reach.allowed, { proto: 'udp', port: tunnel.listen }), reach };
  }
}

/** The address a host sends from on this path: the one on the interface of its first hop. */
function sourceAddress(h: Host, path: Path): number {
  const first = path.hops[0];
  if (first && first.oif) {
    const nic = h.nics.find((n) => n.ifname === first.oif);
    if (nic) return nic.address;
  }
  if (first && first.inPort) {
    const nic = h.nics.find((n) => n.port === first.inPort);
    if (nic) return nic.address;
  }
  return h.nics[0]?.address ?? 0;
}

/**
 * One address per class of `space` split at `cuts` (each cut starts a new class), avoiding
 * addresses in `avoid` where the class has others.
 */
export function representatives(space: RangeSet, cuts: ArrayLike<number>, avoid: { has(a: number): boolean }): number[] {
  return classRepresentatives(space, sortedUnique(Float64Array.from(cuts)), avoid);
}

/** Whether `cut` can start a class of `space`: lo < cut ≤ hi for one of its ranges. */
function cutsInto(space: RangeSet, cut: number): boolean {
  let lo = 0;
  let hi = space.length;
  // The first range whose hi is ≥ cut.
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (space[m]![1] < cut) lo = m + 1;
    else hi = m;
  }
  return lo < space.length && space[lo]![0] < cut;
}

/** representatives() with the cuts already sorted and distinct. */
function classRepresentatives(space: RangeSet, sorted: Float64Array, avoid: { has(a: number): boolean }): number[] {
  const out: number[] = [];
  for (let s = 0; s < space.length; s++) {
    const lo = space[s]![0];
    const hi = space[s]![1];
    let start = lo;
    let i = lowerBound(sorted, lo + 1);
    while (start <= hi) {
      const next = i < sorted.length && sorted[i]! <= hi ? sorted[i]! : hi + 1;
      let rep = start;
      while (avoid.has(rep) && rep < next - 1) rep++;
      out.push(rep);
      start = next;
      i++;
    }
  }
  return out;
}

/** The distinct values of `a` in ascending order (sorts `a` in place: a numeric sort, no comparator). */
function sortedUnique(a: Float64Array): Float64Array {
  a.sort();
  let n = 0;
  for (let i = 0; i < a.length; i++) if (i === 0 || a[i] !== a[n - 1]) a[n++] = a[i]!;
  return a.subarray(0, n);
}

export function describeSrc(addr: number): string {
  return formatIPv4(addr);
}

export { R };
