/**
 * All-pairs reachability for big specs, held in compact form.
 *
 * Gives exactly the cells `computeMatrix` gives (the per-pair engine), computed the way
 * DESIGN.md's "Verification engine" describes:
 *
 * - **Port classes.** Every tcp/udp port boundary any rule mentions cuts the port space into
 *   classes; with icmp and `other` each flow set becomes a small bitmask, and a chain's
 *   first-match evaluation becomes AND/OR on words.
 * - **Destination universe.** Every address a destination endpoint stands for (hosts' addresses,
 *   the representatives of `internet` and `lan`) sorted once; a rule's destination prefixes map to
 *   index ranges of it.
 * - **Chain indexes.** Per chain, rules are indexed by bridge port, by source-address interval and
 *   by the rest, so one source's candidate rules are found without scanning the chain. One sweep
 *   over the candidates' destination ranges, in rule order, gives the chain's verdict for every
 *   destination at once (piecewise over the universe).
 * - **Path templates.** Routing is `Topology.paths`, called once per (source class, destination
 *   class), never per pair: "leaf" hosts (guests that forward nothing and route through nobody)
 *   with the same interfaces, routes and firewall placement form one source class; leaf
 *   addresses on one segment form one destination class. A template's hops name the source and
 *   the destination by role, so it is instantiated for every member.
 * - **Route filter** (configured view, leaf sources). Destinations one `via` route leads to are
 *   all first reached at the same hop of the next-hop host, whose input or forward chain decides
 *   before anything else; where both are default-drop, only the entries their sweeps accept
 *   something toward are visited, and templates are computed only for their classes.
 * - **Forged sources** (zones, roaming peers off their tunnel, compromised guests). Every source
 *   prefix the hops' rules name cuts the source space into classes (as the per-pair engine
 *   does); each class is swept once per source and set of hops and the results ORed per cell.
 *
 * A cell is the union over the destination's addresses, the paths and (where the source may be
 * forged) the source-address classes of the intersection of every counted hop's accepted flows;
 * denied cells are not stored. Per source, a row holds the destination indexes with something
 * allowed and an interned flow-set id for each.
 *
 * Correctness rests on two facts about Topology, both checked by the tests (fast = computeMatrix
 * on every example and on random and generated specs, with every template compared against
 * Topology.paths when `verifyTemplates` is set): interchangeable leaves route alike, and a `via`
 * route's first leg (leave → crossSegment → arrive) does not depend on the final destination.
 */
import { upperBound } from '../util/search.js';
import { lowerBoundF64, lowerBoundI32, sortI32, upperBoundF64, upperBoundI32 } from './typed-search.js';
import { SourceIndex } from './source-index.js';
import { I32Chunks, U32Chunks } from '../util/chunks.js';
import type { Hop, Path, RouteChoice, Topology, Transport } from '../ir/paths.js';
import { pointId, type Chain, type Ir, type IrRule } from '../ir/types.js';
import { HOOKS, type Assume, type Host, type Hook, type Model } from '../model/types.js';
import { NO_FLOWS, PORT_MAX, type FlowSet } from '../util/flows.js';
import { ANY_ADDRESS } from '../util/ip.js';
import * as R from '../util/rangeset.js';
import type { RangeSet } from '../util/rangeset.js';
import { Engine, representatives } from './engine.js';
import { endpoints, type Endpoint } from './endpoints.js';
import type { Matrix } from './matrix.js';

// ---------------------------------------------------------------------------------------------
// Port classes and masks

/** The port space cut at every boundary rules mention; a flow set becomes a bitmask of classes. */
export class PortClasses {
  /** First port of each tcp class (ascending, starts at 0). */
  readonly tcp: Int32Array;
  readonly udp: Int32Array;
  readonly icmpBit: number;
  readonly otherBit: number;
  /** Number of bits. */
  readonly bits: number;
  /** Words per mask. */
  readonly W: number;
  /** The mask of every flow. */
  readonly all: Uint32Array;

  constructor(tcpCuts: Iterable<number>, udpCuts: Iterable<number>) {
    const starts = (cuts: Iterable<number>): Int32Array => {
      const s = new Set<number>([0]);
      for (const c of cuts) if (c > 0 && c <= PORT_MAX) s.add(c);
      return Int32Array.from([...s].sort((a, b) => a - b));
    };
    this.tcp = starts(tcpCuts);
    this.udp = starts(udpCuts);
    this.icmpBit = this.tcp.length + this.udp.length;
    this.otherBit = this.icmpBit + 1;
    this.bits = this.otherBit + 1;
    this.W = (this.bits + 31) >>> 5;
    this.all = new Uint32Array(this.W);
    for (let b = 0; b < this.bits; b++) this.all[b >>> 5]! |= 1 << (b & 31);
  }

  static fromIr(ir: Ir): PortClasses {
    const t = new Set<number>();
    const u = new Set<number>();
    const seen = new Set<FlowSet>();
    const add = (f: FlowSet): void => {
      if (seen.has(f)) return;
      seen.add(f);
      for (const [lo, hi] of f.tcp) t.add(lo).add(hi + 1);
      for (const [lo, hi] of f.udp) u.add(lo).add(hi + 1);
    };
    for (const c of ir.chains.values()) for (const r of c.rules) add(r.match.flows);
    return new PortClasses(t, u);
  }

  /** Writes the mask of `f` into out[off .. off+W). Every boundary of `f` must be a class start. */
  toMask(f: FlowSet, out: Uint32Array, off: number): void {
    for (let w = 0; w < this.W; w++) out[off + w] = 0;
    setSpans(out, off, f.tcp, this.tcp, 0);
    setSpans(out, off, f.udp, this.udp, this.tcp.length);
    if (f.icmp) out[off + (this.icmpBit >>> 5)]! |= 1 << (this.icmpBit & 31);
    if (f.other) out[off + (this.otherBit >>> 5)]! |= 1 << (this.otherBit & 31);
  }

  /** The flow set of a mask (normalised, so equal sets compare equal with flowEqual). */
  toFlowSet(m: Uint32Array, off: number): FlowSet {
    const has = (b: number): boolean => ((m[off + (b >>> 5)]! >>> (b & 31)) & 1) === 1;
    const spans = (starts: Int32Array, base: number): RangeSet => {
      const out: [number, number][] = [];
      for (let c = 0; c < starts.length; c++) {
        if (!has(base + c)) continue;
        const lo = starts[c]!;
        const hi = c + 1 < starts.length ? starts[c + 1]! - 1 : PORT_MAX;
        const last = out[out.length - 1];
        if (last && last[1] + 1 === lo) last[1] = hi;
        else out.push([lo, hi]);
      }
      return out;
    };
    const tcp = spans(this.tcp, 0);
    const udp = spans(this.udp, this.tcp.length);
    const icmp = has(this.icmpBit);
    const other = has(this.otherBit);
    if (tcp.length === 0 && udp.length === 0 && !icmp && !other) return NO_FLOWS;
    return { tcp, udp, icmp, other };
  }
}

/** Sets the bits of the classes (numbered from `base`) that the port ranges `rs` cover. */
function setSpans(out: Uint32Array, off: number, rs: RangeSet, starts: Int32Array, base: number): void {
  for (let k = 0; k < rs.length; k++) {
    const r = rs[k]!;
    const c1 = base + classOf(starts, r[1]);
    for (let c = base + classOf(starts, r[0]); c <= c1; c++) out[off + (c >>> 5)]! |= 1 << (c & 31);
  }
}

function classOf(starts: Int32Array, port: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const m = (lo + hi + 1) >> 1;
    if (starts[m]! <= port) lo = m;
    else hi = m - 1;
  }
  return lo;
}

/** The first piece at or after p still open (next[q] === q), compressing the links walked. */
function openFrom(next: Int32Array, p: number): number {
  let r = p;
  while (next[r] !== r) r = next[r]!;
  while (p !== r) {
    const t = next[p]!;
    next[p] = r;
    p = t;
  }
  return r;
}

/** The distinct values of `a` ascending, as a list (sorts `a` in place). */
function sortedUniqueList(a: Float64Array): number[] {
  a.sort();
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (i === 0 || a[i] !== a[i - 1]) out.push(a[i]!);
  return out;
}

/** acc |= rem & keep over acc's length. */
function orInto(acc: Uint32Array, rem: Uint32Array, keep: number): void {
  for (let x = 0; x < acc.length; x++) acc[x] = acc[x]! | (rem[x]! & keep);
}

function isZero(m: Uint32Array, off: number, W: number): boolean {
  for (let w = 0; w < W; w++) if (m[off + w] !== 0) return false;
  return true;
}

/** Interned masks by value: hash buckets over a growing word pool. */
class MaskSet {
  private pool: Uint32Array;
  private count = 0;
  private readonly ids: number[] = [];
  private readonly buckets = new Map<number, number[]>();

  constructor(private readonly W: number) {
    this.pool = new Uint32Array(256 * W);
  }

  private hash(m: Uint32Array, off: number): number {
    let h = 0x811c9dc5;
    for (let w = 0; w < this.W; w++) h = Math.imul(h ^ m[off + w]!, 0x01000193);
    return h;
  }

  /** The id of mask m[off..off+W), or -1. */
  find(m: Uint32Array, off: number): number {
    const b = this.buckets.get(this.hash(m, off));
    if (!b) return -1;
    for (let x = 0; x < b.length; x++) {
      const k = b[x]!;
      let same = true;
      for (let w = 0; w < this.W && same; w++) same = this.pool[k * this.W + w] === m[off + w];
      if (same) return this.ids[k]!;
    }
    return -1;
  }

  add(m: Uint32Array, id: number): void {
    if ((this.count + 1) * this.W > this.pool.length) {
      const grown = new Uint32Array(this.pool.length * 2);
      grown.set(this.pool);
      this.pool = grown;
    }
    this.pool.set(m.subarray(0, this.W), this.count * this.W);
    const h = this.hash(m, 0);
    let b = this.buckets.get(h);
    if (!b) this.buckets.set(h, (b = []));
    b.push(this.count);
    this.ids.push(id);
    this.count++;
  }
}

// ---------------------------------------------------------------------------------------------
// The destination universe

interface Universe {
  /** Sorted addresses (duplicates allowed: a host address can also represent a zone). */
  readonly addr: Float64Array;
  /** Endpoint index of each entry. */
  readonly ep: Int32Array;
  /** Destination class of each entry. */
  readonly dc: Int32Array;
  /** For host entries: the nic index of the address in its host. */
  readonly nic: Int32Array;
  readonly size: number;
}

// ---------------------------------------------------------------------------------------------
// Chain indexes

/** How a hop looks to a chain: interfaces, bridge port and the source address it carries. */
interface HopKey {
  readonly iif: string | undefined;
  readonly oif: string | undefined;
  readonly inPort: string | undefined;
}

/** Rules of one chain, indexed so the candidates for one hop and source come out cheaply. */
class ChainIndex {
  /** Rules that can match a new connection (established-only rules never do), in chain order. */
  readonly rules: IrRule[] = [];
  readonly maskOff: Int32Array;
  readonly accept: Uint8Array;
  /**
   * Each rule's destination and interface lists, read once here: rules come from several places
   * in compile and have several shapes, so reading `rule.match` in the sweep and candidate loops
   * made those loads polymorphic (and deoptimised sweep when a new shape first came by).
   */
  private readonly dsts: (RangeSet | undefined)[];
  private readonly srcOf: (RangeSet | undefined)[];
  private readonly iifOf: (readonly string[] | undefined)[];
  private readonly oifOf: (readonly string[] | undefined)[];
  private readonly byPort = new Map<string, number[]>();
  /** Not bound to a port, any source. */
  private readonly noSrc: number[] = [];
  /** Not bound to a port, with source prefixes: found by source address. */
  private readonly bySrc: SourceIndex;
  /** The rules bySrc holds, in chain order. */
  private readonly withSrc: number[] = [];
  /**
   * Destination ranges per rule as universe index pairs [a, b), found on first use: rule i's
   * are dstPool[dstOff[i] .. dstOff[i] + dstLen[i]) (dstOff -1: not yet). One pool, not an
   * array per rule (a forward chain has tens of thousands).
   */
  private readonly dstOff: Int32Array;
  private readonly dstLen: Int32Array;
  private dstPool = new Int32Array(1024);
  private dstUsed = 0;
  /** A rule whose ranges are in the pool, by its destination list (undefined: anywhere). */
  private readonly dstByList = new Map<RangeSet | undefined, number>();
  /** Every candidate list asked for, by bridge port, input interface key and source. */
  private readonly candByPort = new Map<string, Map<string, Map<number, Candidates>>>();
  private candCount = 0;
  /** Candidate lists without port-bound rules, by input interface key and source-index leaf. */
  private readonly candByLeaf = new Map<string, Map<number, Candidates>>();
  private readonly cutCache = new Map<string, readonly number[]>();
  /** Interface names the chain's rules mention: a hop's other names all look the same to it. */
  private readonly iifs = new Set<string>();
  private readonly oifs = new Set<string>();

  constructor(
    readonly chain: Chain,
    private readonly eng: FastEngine,
  ) {
    // Indexed loops throughout: this runs once per chain, before the optimiser has seen it,
    // where for-of over arrays allocates an iterator result per step.
    const all = chain.rules;
    for (let i = 0; i < all.length; i++) if (all[i]!.match.state !== 'established') this.rules.push(all[i]!);
    const n = this.rules.length;
    this.maskOff = new Int32Array(n);
    this.accept = new Uint8Array(n);
    this.dstOff = new Int32Array(n).fill(-1);
    this.dstLen = new Int32Array(n);
    this.dsts = new Array<RangeSet | undefined>(n);
    this.srcOf = new Array<RangeSet | undefined>(n);
    this.iifOf = new Array<readonly string[] | undefined>(n);
    this.oifOf = new Array<readonly string[] | undefined>(n);
    const withSrc = this.withSrc;
    for (let i = 0; i < n; i++) {
      const r = this.rules[i]!;
      this.maskOff[i] = eng.maskOf(r.match.flows);
      this.accept[i] = r.action === 'accept' ? 1 : 0;
      const m = r.match;
      this.dsts[i] = m.dst;
      this.srcOf[i] = m.src;
      this.iifOf[i] = m.iif;
      this.oifOf[i] = m.oif;
      if (m.iif) for (let x = 0; x < m.iif.length; x++) this.iifs.add(m.iif[x]!);
      if (m.oif) for (let x = 0; x < m.oif.length; x++) this.oifs.add(m.oif[x]!);
      if (m.inPort) {
        for (let x = 0; x < m.inPort.length; x++) {
          const p = m.inPort[x]!;
          let l = this.byPort.get(p);
          if (!l) this.byPort.set(p, (l = []));
          l.push(i);
        }
      } else if (!m.src) this.noSrc.push(i);
      else {
        withSrc.push(i);
      }
    }
    this.bySrc = new SourceIndex(this.rules, withSrc);
  }

  /**
   * Rules that match the hop's input interface, port and source `src`, in chain order. The output
   * interface is left to `forOif`, since few rules name one and most hops share the rest.
   */
  candidates(hop: HopKey, src: number): Candidates {
    // Asked again and again for one source's hops: found by port, input interface key and
    // source without building a key.
    const iifKey = this.iifKey(hop);
    let byIif = this.candByPort.get(hop.inPort ?? '');
    if (!byIif) this.candByPort.set(hop.inPort ?? '', (byIif = new Map<string, Map<number, Candidates>>()));
    let bySrc = byIif.get(iifKey);
    if (!bySrc) byIif.set(iifKey, (bySrc = new Map<number, Candidates>()));
    let c = bySrc.get(src);
    if (!c) {
      if (++this.candCount > 200_000) this.forget();
      bySrc.set(src, (c = this.findCandidates(hop, iifKey, src)));
    }
    return c;
  }

  private findCandidates(hop: HopKey, iifKey: string, src: number): Candidates {
    // Rules bound to the hop's bridge port that match this source: when there are none, the
    // candidates are those of any other port (shared by every guest behind the same interface).
    let bound: number[] | undefined;
    const list = hop.inPort !== undefined ? this.byPort.get(hop.inPort) : undefined;
    if (list !== undefined) {
      for (let x = 0; x < list.length; x++) {
        const i = list[x]!;
        const ms = this.srcOf[i];
        const mi = this.iifOf[i];
        if ((!ms || R.contains(ms, src)) && (!mi || (hop.iif !== undefined && mi.includes(hop.iif)))) (bound ??= []).push(i);
      }
    }
    // Without port-bound rules the list depends on the source only through the source index's
    // leaf: every source on one leaf gets the same list (and, in sweepFor, the same sweeps).
    const leaf = this.bySrc.leafOf(src);
    let byLeaf: Map<number, Candidates> | undefined;
    if (!bound) {
      byLeaf = this.candByLeaf.get(iifKey);
      if (!byLeaf) this.candByLeaf.set(iifKey, (byLeaf = new Map<number, Candidates>()));
      const c = byLeaf.get(leaf);
      if (c) return c;
    }
    const portFree = bound === undefined;
    const out: number[] = bound ?? [];
    let oifSensitive = false;
    const iifOf = this.iifOf;
    const oifOf = this.oifOf;
    for (let x = 0; x < out.length; x++) if (oifOf[out[x]!]) oifSensitive = true;
    const iif = hop.iif;
    const n0 = out.length;
    const noSrc = this.noSrc;
    for (let x = 0; x < noSrc.length; x++) out.push(noSrc[x]!);
    if (leaf >= 0) this.bySrc.collectLeaf(leaf, out);
    // Keep the rules that match the input interface (port-bound ones were checked above).
    let n = n0;
    for (let x = n0; x < out.length; x++) {
      const i = out[x]!;
      const mi = iifOf[i];
      if (mi && (iif === undefined || !mi.includes(iif))) continue;
      if (oifOf[i]) oifSensitive = true;
      out[n++] = i;
    }
    const sorted = this.eng.lists.take(n);
    for (let x = 0; x < n; x++) sorted[x] = out[x]!;
    sortI32(sorted, n);
    // A rule with several prefixes may sit on several nodes of the walk: keep it once.
    let u = 0;
    for (let x = 0; x < n; x++) if (x === 0 || sorted[x] !== sorted[x - 1]) sorted[u++] = sorted[x]!;
    const rules = u === n ? sorted : sorted.slice(0, u);
    if (portFree) {
      // Source-index leaves cut by rules the interface filter drops give the same list again (1k:
      // the internet's 26 source classes into the forward chain, 10 lists): one object, so its
      // sweeps are shared too.
      const same = this.sameList(rules);
      if (same) {
        byLeaf!.set(leaf, same);
        return same;
      }
    }
    // The maps only where they can be used: one list per source and port (1k: ~1,600) needs neither.
    const c: Candidates = { rules, oifSensitive, byOif: oifSensitive ? new Map() : undefined, portFree, sweeps: portFree ? new Map() : undefined };
    if (portFree) this.addList(c);
    byLeaf?.set(leaf, c);
    return c;
  }

  /** Port-free candidate lists by a hash of their rules (see findCandidates). */
  private readonly listsByHash = new Map<number, Candidates[]>();

  private static listHash(rules: Int32Array): number {
    let h = 0x811c9dc5 ^ rules.length;
    for (let x = 0; x < rules.length; x++) h = Math.imul(h ^ rules[x]!, 0x01000193);
    return h;
  }

  private sameList(rules: Int32Array): Candidates | undefined {
    const l = this.listsByHash.get(ChainIndex.listHash(rules));
    if (!l) return undefined;
    outer: for (let x = 0; x < l.length; x++) {
      const o = l[x]!.rules;
      if (o.length !== rules.length) continue;
      for (let k = 0; k < o.length; k++) if (o[k] !== rules[k]) continue outer;
      return l[x];
    }
    return undefined;
  }

  private addList(c: Candidates): void {
    const h = ChainIndex.listHash(c.rules);
    const l = this.listsByHash.get(h);
    if (l) l.push(c);
    else this.listsByHash.set(h, [c]);
  }

  /** Drops the cached candidate lists (and the sweeps kept with them). */
  forget(): void {
    this.listsByHash.clear();
    this.candByLeaf.clear();
    this.candByPort.clear();
    this.candCount = 0;
  }

  /** The candidates that also match output interface `oif`. */
  forOif(c: Candidates, oif: string | undefined): Int32Array {
    if (!c.byOif) return c.rules;
    const k = oif ?? '';
    let l = c.byOif.get(k);
    if (!l) {
      l = c.rules.filter((i) => {
        const m = this.oifOf[i];
        return !m || (oif !== undefined && m.includes(oif));
      });
      c.byOif.set(k, l);
    }
    return l;
  }

  /** Source-address cuts of every rule that matches the hop whatever the source (for forged sources). */
  sourceCuts(hop: HopKey): readonly number[] {
    const key = `${this.iifKey(hop)}|${this.oifKey(hop)}|${this.portKey(hop)}`;
    const known = this.cutCache.get(key);
    if (known) return known;
    // The rules not bound to a port are the same for every guest behind an interface: cut once.
    const freeKey = `${this.iifKey(hop)}|${this.oifKey(hop)}|-`;
    let free = this.cutCache.get(freeKey);
    const ok = (i: number): boolean => {
      const mi = this.iifOf[i];
      if (mi && (hop.iif === undefined || !mi.includes(hop.iif))) return false;
      const mo = this.oifOf[i];
      if (mo && (hop.oif === undefined || !mo.includes(hop.oif))) return false;
      return true;
    };
    if (!free) {
      // The rules with a source and no port are the source index's (withSrc). Indexed loops and
      // a typed sort: this runs once per hop key over a whole chain, before the optimiser.
      const withSrc = this.withSrc;
      const keep: number[] = [];
      let nc = 0;
      for (let x = 0; x < withSrc.length; x++) {
        if (!ok(withSrc[x]!)) continue;
        keep.push(withSrc[x]!);
        nc += 2 * this.srcOf[withSrc[x]!]!.length;
      }
      const cuts = new Float64Array(nc);
      let k = 0;
      for (let x = 0; x < keep.length; x++) {
        const src = this.srcOf[keep[x]!]!;
        for (let e = 0; e < src.length; e++) {
          cuts[k++] = src[e]![0];
          cuts[k++] = src[e]![1] + 1;
        }
      }
      free = sortedUniqueList(cuts);
      this.cutCache.set(freeKey, free);
    }
    if (key === freeKey) return free;
    const cuts = [...free];
    const bound = hop.inPort !== undefined ? this.byPort.get(hop.inPort) : undefined;
    if (bound) {
      for (let x = 0; x < bound.length; x++) {
        const src = this.srcOf[bound[x]!];
        if (src && ok(bound[x]!)) for (let e = 0; e < src.length; e++) cuts.push(src[e]![0], src[e]![1] + 1);
      }
    }
    const sorted = sortedUniqueList(Float64Array.from(cuts));
    this.cutCache.set(key, sorted);
    return sorted;
  }

  /** Whether any rule names an output interface (else a hop's output interface never matters here). */
  get usesOif(): boolean {
    return this.oifs.size > 0;
  }

  /** The hop's input interface as the rules see it: one the rules name, or none of theirs. */
  iifKey(hop: HopKey): string {
    return hop.iif !== undefined && this.iifs.has(hop.iif) ? hop.iif : hop.iif === undefined ? '-' : '*';
  }

  oifKey(hop: HopKey): string {
    return hop.oif !== undefined && this.oifs.has(hop.oif) ? hop.oif : hop.oif === undefined ? '-' : '*';
  }

  portKey(hop: HopKey): string {
    return hop.inPort !== undefined && this.byPort.has(hop.inPort) ? hop.inPort : hop.inPort === undefined ? '-' : '*';
  }

  /** Where rule i's destination ranges start in dstPool (computed on first use; see dstOff). */
  private dstRanges(i: number): number {
    const known = this.dstOff[i]!;
    if (known >= 0) return known;
    const dst = this.dsts[i];
    // Rules compiled from one destination share its prefix list object, and so its ranges.
    const same = this.dstByList.get(dst);
    if (same !== undefined) {
      this.dstOff[i] = this.dstOff[same]!;
      this.dstLen[i] = this.dstLen[same]!;
      return this.dstOff[i];
    }
    this.dstByList.set(dst, i);
    const need = dst ? 2 * dst.length : 2;
    if (this.dstUsed + need > this.dstPool.length) {
      const grown = new Int32Array(Math.max(this.dstPool.length * 2, this.dstUsed + need));
      grown.set(this.dstPool);
      this.dstPool = grown;
    }
    const off = this.dstUsed;
    const len = this.eng.universeRanges(dst, this.dstPool, off);
    this.dstUsed += len;
    this.dstOff[i] = off;
    this.dstLen[i] = len;
    return off;
  }

  /**
   * The chain's verdict for every destination of the universe at once: first match over the
   * candidates, swept over the pieces their destination ranges cut the universe into.
   */
  sweep(cands: Int32Array, store: SweepStore): Sweep {
    const st = this.eng.opts.stats;
    if (st) {
      st.sweeps++;
      st.sweepRules += cands.length;
    }
    const W = this.eng.W;
    const masks = this.eng.masks;
    const n = this.eng.universe.size;
    let total = 2;
    for (let c = 0; c < cands.length; c++) {
      this.dstRanges(cands[c]!);
      total += this.dstLen[cands[c]!]!;
    }
    // Every candidate's ranges are in the pool now (it no longer grows during this sweep).
    const pool = this.dstPool;
    const dstOff = this.dstOff;
    const dstLen = this.dstLen;
    const pts = this.eng.pointBuffer(total);
    pts[0] = 0;
    pts[1] = n;
    let np = 2;
    for (let c = 0; c < cands.length; c++) {
      const i = cands[c]!;
      const end = dstOff[i]! + dstLen[i]!;
      for (let x = dstOff[i]!; x < end; x++) pts[np++] = pool[x]!;
    }
    sortI32(pts, np);
    let nb = 0;
    for (let k = 0; k < np; k++) if (k === 0 || pts[k] !== pts[k - 1]) pts[nb++] = pts[k]!;
    const bounds = store.bounds.copy(pts, nb);
    const pieces = bounds.length - 1;
    const rem = this.eng.remBuffer(pieces * W);
    const acc = store.acc.take(pieces * W);
    const all = this.eng.classes.all;
    for (let p = 0; p < pieces; p++) for (let w = 0; w < W; w++) rem[p * W + w] = all[w]!;
    // Pieces whose every flow is decided are skipped by later rules: next[p] leads to the first
    // undecided piece at or after p (path-compressed), so a wide rule late in the list (the
    // internet, everything) costs what is still open, not every piece again.
    const next = this.eng.nextBuffer(pieces + 1);
    for (let p = 0; p <= pieces; p++) next[p] = p;
    for (let c = 0; c < cands.length; c++) {
      const i = cands[c]!;
      const mo = this.maskOff[i]!;
      const accept = this.accept[i] === 1;
      const end = dstOff[i]! + dstLen[i]!;
      for (let k = dstOff[i]!; k < end; k += 2) {
        const p0 = lowerBoundI32(bounds, pool[k]!, 0);
        const p1 = lowerBoundI32(bounds, pool[k + 1]!, p0);
        for (let p = openFrom(next, p0); p < p1; p = openFrom(next, p + 1)) {
          const o = p * W;
          let left = 0;
          for (let w = 0; w < W; w++) {
            const x = rem[o + w]! & masks[mo + w]!;
            if (x !== 0) {
              rem[o + w] = rem[o + w]! ^ x;
              if (accept) acc[o + w] = acc[o + w]! | x;
            }
            left |= rem[o + w]!;
          }
          if (left === 0) next[p] = p + 1;
        }
      }
    }
    // What no rule decided is the policy's: accepted unless it drops. Run for every chain (the
    // mask is zero when it drops): a call or loop taken only for the few accept-policy chains
    // had no type feedback in sweep's optimised code and deoptimised it again and again.
    const restrictive = this.chain.policy === 'drop';
    orInto(acc, rem, restrictive ? 0 : 0xffffffff);
    let nonzero = 0;
    for (let p = 0; p < pieces; p++) if (!isZero(acc, p * W, W)) nonzero++;
    return { bounds, acc, restrictive, nonzero };
  }

  /** The chain's verdict for one destination (entry j of the universe, address `dst`), into out. */
  point(cands: Int32Array, dst: number, out: Uint32Array): void {
    const W = this.eng.W;
    const masks = this.eng.masks;
    const rem = this.eng.scratch;
    const all = this.eng.classes.all;
    for (let w = 0; w < W; w++) {
      rem[w] = all[w]!;
      out[w] = 0;
    }
    for (let c = 0; c < cands.length; c++) {
      const i = cands[c]!;
      const d = this.dsts[i];
      if (d && !R.contains(d, dst)) continue;
      const mo = this.maskOff[i]!;
      let left = 0;
      for (let w = 0; w < W; w++) {
        const x = rem[w]! & masks[mo + w]!;
        rem[w] = rem[w]! ^ x;
        if (this.accept[i] === 1) out[w] = out[w]! | x;
        left |= rem[w]!;
      }
      if (left === 0) return;
    }
    if (this.chain.policy === 'accept') for (let w = 0; w < W; w++) out[w] = out[w]! | rem[w]!;
  }
}

interface Candidates {
  /** Matching everything but the output interface. */
  readonly rules: Int32Array;
  /** Some of them name an output interface. */
  readonly oifSensitive: boolean;
  /** The rules by output interface (only for oifSensitive lists). */
  readonly byOif: Map<string, Int32Array> | undefined;
  /** No rule bound to a bridge port is among them. */
  readonly portFree: boolean;
  /** Sweeps of the list by output interface key (for shared lists, made on first need; see FastEngine.sweepFor). */
  sweeps: Map<string, Sweep> | undefined;
}

/** A chain's verdict over the whole universe: piece p covers entries [bounds[p], bounds[p+1]). */
interface Sweep {
  readonly bounds: Int32Array;
  readonly acc: Uint32Array;
  /** Outside the pieces rules touch, nothing is accepted (the chain's default is drop). */
  readonly restrictive: boolean;
  /** Pieces with something accepted. */
  readonly nonzero: number;
}

/**
 * Where sweeps' arrays are cut from: one store for the sweeps kept with their candidate lists,
 * one for those of the current source only, so chunks of the latter are not kept alive by the
 * former.
 */
interface SweepStore {
  readonly bounds: I32Chunks;
  readonly acc: U32Chunks;
}

function sweepAt(s: Sweep, j: number): number {
  return upperBoundI32(s.bounds, j) - 1;
}

// ---------------------------------------------------------------------------------------------
// Source and destination classes, path templates

const HOOK_INDEX: Record<Hook, number> = Object.fromEntries(HOOKS.map((h, i) => [h, i])) as Record<Hook, number>;

const enum Role {
  Fixed = 0,
  Src = 1,
  Dst = 2,
}

/** A hop of a path template, the source and the destination named by role. */
interface SymHop {
  readonly role: Role;
  readonly hook: Hook;
  /** For fixed hops: the chain (undefined = no firewall there). */
  readonly chain: Chain | undefined;
  readonly point: string;
  readonly iif: string | undefined;
  /** The input interface is the destination's own interface for its address. */
  readonly iifDst: boolean;
  readonly oif: string | undefined;
  readonly inPort: string | undefined;
  /** The bridge port is the source's port on its nic number `inPortSrcNic` (-1: not). */
  readonly inPortSrcNic: number;
  readonly natSrc: number | undefined;
}

interface SymPath {
  readonly hops: readonly SymHop[];
  /** The hops before the destination's own, and their ids in the source class's hop table. */
  readonly pre: readonly SymHop[];
  readonly preIds: Int32Array;
  /** The destination's own hops (evaluated per member). */
  readonly dst: readonly SymHop[];
  readonly anonymous: boolean;
  /** Sources the path lets through at all (a tunnel's allowed IPs, when Topology reports them). */
  readonly checks: readonly SourceLimit[];
  /** Index of the source nic the engine takes the real source address from (-1: address 0). */
  readonly srcNic: number;
  /** What the current source (generation `gen`) sees of the path before the destination (evalSource; made on first use). */
  memo: PathMemo | undefined;
}

/** A path's source address and sweeps for one source: `count` sweeps (-1: the limits drop it). */
interface PathMemo {
  gen: number;
  src: number;
  count: number;
  readonly sweeps: Sweep[];
}

/** A tunnel on the path drops packets whose source (or NAT source) is outside `allowed`. */
interface SourceLimit {
  readonly allowed: RangeSet;
  readonly natSrc: number | undefined;
}

function sourceLimits(p: Path): readonly SourceLimit[] {
  return (p as Path & { readonly sourceChecks?: readonly SourceLimit[] }).sourceChecks ?? [];
}

function passesLimits(checks: readonly SourceLimit[], src: number): boolean {
  for (let k = 0; k < checks.length; k++) if (!R.contains(checks[k]!.allowed, checks[k]!.natSrc ?? src)) return false;
  return true;
}

interface PreHop {
  readonly chain: Chain;
  readonly key: HopKey;
  readonly nat: number | undefined;
  readonly shared: boolean;
}

/** Forged sources over some hops: the source classes and the hops' sweeps for each. */
interface Forged {
  readonly pre: readonly PreHop[];
  readonly space: RangeSet;
  readonly cuts: readonly number[];
  /** Class representatives the path lets through, and the hops' sweeps for each. */
  readonly reps: readonly number[];
  readonly sweeps: readonly (readonly Sweep[])[];
}

interface Template {
  readonly paths: readonly SymPath[];
  /** No kept path crosses a tunnel, is anonymous or has source limits. */
  readonly plain: boolean;
}

/**
 * A leaf → leaf template through one forwarding host T, kept for leaf classes on other segments
 * (see FastEngine.crossKey): the hops that name the source's segment, by position.
 */
interface CrossTemplate {
  readonly t: Template;
  /** Per path: for each hop, 0 = as is, 1 = iif is the source segment's bridge, 2 = iif is T's interface on it. */
  readonly derived: readonly Uint8Array[];
}

/** What a leaf's `via` route through T looks like without its segment, and that segment's names. */
interface CrossKey {
  /** The key: equal ids, one template but for the names below. */
  readonly id: number;
  readonly T: string;
  readonly bridge: string;
  readonly tIf: string;
  /** The destination class's segment is T's own bridge (T's per-guest chains see the arrival interface). */
  readonly dstOwnedByT: boolean;
}

interface DestClass {
  readonly id: number;
  /** Universe entries, ascending. */
  readonly members: Int32Array;
  /** Members' addresses belong to interchangeable leaf hosts (substituted by role). */
  readonly leaf: boolean;
}

/** Destination classes one route of a leaf source class leads to. */
interface RouteGroup {
  readonly index: number;
  readonly dcs: DestClass[];
  readonly via: boolean;
  filter: RouteFilter | undefined;
}

interface RoutePlan {
  readonly groups: readonly RouteGroup[];
  /** Group index of each destination class. */
  readonly groupOf: Int32Array;
  /** Per destination class: the id of what the source's route to it looks like (-1: none). */
  readonly routeKeys: Int32Array;
  /** Per destination class: 1 when it is an address of the host its `via` route's next hop belongs to. */
  readonly toNextHop: Uint8Array;
  /** The class's first member, and its configured route to each destination class (undefined: none). */
  readonly host: Host;
  readonly routes: (RouteChoice | undefined)[];
}

/** The hop where a `via` route first arrives: host T's input and forward chains, interface, port, source nic. */
interface RouteFilter {
  readonly input: Chain;
  readonly forward: Chain;
  readonly iif: string | undefined;
  readonly inPort: string | undefined;
  readonly inPortSrcNic: number;
  readonly srcNic: number;
}

interface SourceClass {
  readonly id: number;
  readonly members: number[];
  readonly leaf: boolean;
}

/** Options, mostly for tests. */
export interface FastMatrixOptions {
  /** Check every instantiated template against Topology.paths (slow; for tests). */
  readonly verifyTemplates?: boolean;
  /** Filled with work counters, for benchmarks. */
  readonly stats?: FastMatrixStats;
  /** Never share leaf → leaf templates between source segments (crossKey; for tests). */
  readonly noCrossTemplates?: boolean;
}

/** What the engine did: how many classes, templates, sweeps and visits it took. */
export interface FastMatrixStats {
  sourceClasses: number;
  destClasses: number;
  universe: number;
  portClasses: number;
  /** Topology.paths calls (one per source class and destination class actually needed). */
  templates: number;
  /** Templates instantiated from another source segment's (crossKey) instead. */
  crossTemplates?: number;
  /** Chain sweeps over the destination universe. */
  sweeps: number;
  /** Candidate rules summed over sweeps. */
  sweepRules: number;
  /** (source, destination entry) pairs evaluated. */
  visits: number;
}

// ---------------------------------------------------------------------------------------------
// The compact matrix

/** All-pairs reachability: per source, the destinations with something allowed and their flows. */
export class CompactMatrix {
  constructor(
    readonly assume: Assume,
    readonly endpoints: readonly Endpoint[],
    /** Interned flow sets; id 0 is the empty set. */
    readonly flowSets: readonly FlowSet[],
    /** Per source row: destination endpoint indexes, ascending. */
    private readonly rowTo: readonly Int32Array[],
    /** Per source row: flow-set ids, parallel to rowTo. */
    private readonly rowId: readonly Int32Array[],
  ) {}

  /** Whether cell (i, j) exists at all (not the diagonal, not zone to zone). */
  applicable(i: number, j: number): boolean {
    if (i === j) return false;
    const a = this.endpoints[i];
    const b = this.endpoints[j];
    return !(a?.source.kind === 'zone' && b?.dest.kind === 'zone');
  }

  /** Flow-set id of cell (i, j): -1 not applicable, 0 nothing allowed. */
  cellId(i: number, j: number): number {
    if (!this.applicable(i, j)) return -1;
    const to = this.rowTo[i]!;
    const k = lowerBoundI32(to, j, 0);
    return k < to.length && to[k] === j ? this.rowId[i]![k]! : 0;
  }

  /** Cell (i, j) exactly as computeMatrix gives it: undefined where not applicable. */
  cell(i: number, j: number): FlowSet | undefined {
    const id = this.cellId(i, j);
    return id < 0 ? undefined : this.flowSets[id];
  }

  /** Number of ordered pairs with something allowed. */
  allowedCount(): number {
    let n = 0;
    for (const r of this.rowTo) n += r.length;
    return n;
  }

  /** Every pair with something allowed, row by row. */
  *allowed(): IterableIterator<{ from: number; to: number; flows: FlowSet }> {
    for (let i = 0; i < this.rowTo.length; i++) {
      const to = this.rowTo[i]!;
      const ids = this.rowId[i]!;
      for (let k = 0; k < to.length; k++) yield { from: i, to: to[k]!, flows: this.flowSets[ids[k]!]! };
    }
  }

  /** Row i: destinations with something allowed and their flow-set ids (do not modify). */
  row(i: number): { readonly to: Int32Array; readonly ids: Int32Array } {
    return { to: this.rowTo[i]!, ids: this.rowId[i]! };
  }

  /** The dense Matrix form (cells share the interned flow sets); memory grows with n². */
  toMatrix(): Matrix {
    const n = this.endpoints.length;
    const cells = this.endpoints.map((_, i) => {
      const row = new Array<FlowSet | undefined>(n);
      for (let j = 0; j < n; j++) row[j] = this.applicable(i, j) ? NO_FLOWS : undefined;
      const to = this.rowTo[i]!;
      const ids = this.rowId[i]!;
      for (let k = 0; k < to.length; k++) row[to[k]!] = this.flowSets[ids[k]!];
      return row;
    });
    return { assume: this.assume, endpoints: this.endpoints, cells };
  }
}

/**
 * One source's row as it is filled: the flows OR-ed into each destination endpoint's cell, then
 * the row (destinations ascending with something allowed, interned flow-set ids). Buffers are
 * reused from source to source.
 */
class RowCells {
  /** Interned flow sets; id 0 is the empty set. */
  readonly flowSets: FlowSet[] = [NO_FLOWS];
  /** The last finished row. */
  to: Int32Array = new Int32Array(0);
  ids: Int32Array = new Int32Array(0);
  private readonly W: number;
  private readonly interned: MaskSet;
  private readonly mask: Uint32Array;
  private readonly touched: Uint8Array;
  /** The touched destinations, then (compacted in place) the row. */
  private readonly list: Int32Array;
  private readonly idBuf: Int32Array;
  /** The mask of the last cell interned by finish (cells are cleared as they are read). */
  private readonly lastMask: Uint32Array;
  /** Where finished rows are kept (every row lives as long as the matrix). */
  private readonly rows = new I32Chunks();
  private count = 0;

  constructor(
    n: number,
    private readonly classes: PortClasses,
  ) {
    const W = classes.W;
    this.W = W;
    this.interned = new MaskSet(W);
    this.interned.add(new Uint32Array(W), 0);
    this.mask = new Uint32Array(n * W);
    this.touched = new Uint8Array(n);
    this.list = new Int32Array(n);
    this.idBuf = new Int32Array(n);
    this.lastMask = new Uint32Array(W);
  }

  /** OR mask m[0 .. W) into the cell of destination endpoint ep. */
  add(ep: number, m: Uint32Array): void {
    if (this.touched[ep] === 0) {
      this.touched[ep] = 1;
      this.list[this.count++] = ep;
    }
    const mask = this.mask;
    const o = ep * this.W;
    for (let w = 0; w < this.W; w++) mask[o + w] = mask[o + w]! | m[w]!;
  }

  /** Ends the row: `to` and `ids` hold it; the cells are clear for the next source. */
  finish(): void {
    const W = this.W;
    const mask = this.mask;
    const list = this.list;
    const nl = this.count;
    // The row is filled in place. Touched in order more often than not (one arrival sweep's
    // pieces, ascending): then there is nothing to sort.
    let sorted = true;
    for (let x = 1; x < nl && sorted; x++) sorted = list[x - 1]! < list[x]!;
    if (!sorted) sortI32(list, nl);
    let k = 0;
    // Neighbouring destinations mostly get the same flows (one policy line, one segment): the
    // last cell's id is tried before the hash lookup.
    let lastO = -1;
    let lastId = -1;
    for (let x = 0; x < nl; x++) {
      const ep = list[x]!;
      this.touched[ep] = 0;
      const o = ep * W;
      if (!isZero(mask, o, W)) {
        let id = -1;
        if (lastO >= 0) {
          let same = true;
          for (let w = 0; w < W && same; w++) same = mask[o + w] === this.lastMask[w];
          if (same) id = lastId;
        }
        if (id < 0) {
          id = this.interned.find(mask, o);
          if (id < 0) {
            id = this.flowSets.length;
            this.flowSets.push(this.classes.toFlowSet(mask, o));
            this.interned.add(mask.subarray(o, o + W), id);
          }
          for (let w = 0; w < W; w++) this.lastMask[w] = mask[o + w]!;
          lastO = o;
          lastId = id;
        }
        list[k] = ep;
        this.idBuf[k++] = id;
      }
      for (let w = 0; w < W; w++) mask[o + w] = 0;
    }
    this.count = 0;
    this.to = this.rows.copy(list, k);
    this.ids = this.rows.copy(this.idBuf, k);
  }
}

/**
 * All-pairs reachability under one assumption, exactly equal to computeMatrix's cells, in
 * compact form. The engine is the per-pair one (used for zone representatives and tunnel
 * transports, which it caches).
 */
export function computeFastMatrix(ir: Ir, assume: Assume, engine = new Engine(ir), opts: FastMatrixOptions = {}): CompactMatrix {
  return new FastEngine(ir, assume, engine, opts).run();
}

// ---------------------------------------------------------------------------------------------
// The engine

class FastEngine {
  readonly model: Model;
  readonly topo: Topology;
  readonly eps: Endpoint[];
  readonly classes: PortClasses;
  readonly W: number;
  /** Interned masks, W words each; maskOf returns offsets. */
  masks: Uint32Array;
  private maskCount = 0;
  /** Masks by value, to their offset in `masks`. */
  private readonly maskIntern: MaskSet;
  private readonly maskTmp: Uint32Array;
  private readonly maskByFlow = new Map<FlowSet, number>();
  readonly scratch: Uint32Array;
  readonly universe: Universe;
  private readonly dcs: DestClass[] = [];
  private readonly scs: SourceClass[] = [];
  /** Source class of each endpoint index. */
  private readonly scOf: Int32Array;
  private readonly hostByEp: (Host | undefined)[];
  private readonly chainIdx = new Map<string, ChainIndex>();
  private readonly compromised: boolean;
  private localSweeps = new Map<Candidates, Map<string, Sweep>>();
  private keptSweeps = 0;
  private readonly leafHosts = new Set<string>();
  /** Roaming peers that share templates by shape (configured view; see isRoamer). */
  private readonly roamers = new Set<string>();
  private readonly pinned: { hosts: Set<string>; addrs: Set<number> };
  private readonly features: ReturnType<FastEngine['featureIndex']>;

  constructor(
    readonly ir: Ir,
    readonly assume: Assume,
    readonly engine: Engine,
    readonly opts: FastMatrixOptions,
  ) {
    this.model = ir.model;
    this.topo = engine.topo;
    this.eps = endpoints(ir.model);
    this.compromised = assume === 'compromised';
    this.classes = PortClasses.fromIr(ir);
    this.W = this.classes.W;
    this.masks = new Uint32Array(64 * this.W);
    this.maskIntern = new MaskSet(this.W);
    this.maskTmp = new Uint32Array(this.W);
    this.scratch = new Uint32Array(this.W);
    this.hostByEp = this.eps.map((e) => (e.source.kind === 'host' ? this.model.hosts.get(e.source.host) : undefined));
    for (const c of ir.chains.values()) {
      let m = this.chainsByHost.get(c.host);
      if (!m) this.chainsByHost.set(c.host, (m = {}));
      m[c.hook] = c;
    }
    this.epChain = this.eps.flatMap((e) => HOOKS.map((k) => (e.source.kind === 'host' ? this.chainAt(e.source.host, k) : undefined)));
    this.pinned = this.pinnedSets();
    this.features = this.featureIndex();
    for (const h of this.model.hosts.values()) if (this.isLeaf(h)) this.leafHosts.add(h.name);
    if (!this.compromised) for (const h of this.model.hosts.values()) if (this.isRoamer(h)) this.roamers.add(h.name);
    this.universe = this.buildUniverse();
    this.entryStamp = new Int32Array(this.universe.size);
    this.scOf = this.buildSourceClasses();
    const st = opts.stats;
    if (st) {
      st.sourceClasses = this.scs.length;
      st.destClasses = this.dcs.length;
      st.universe = this.universe.size;
      st.portClasses = this.classes.bits;
    }
  }

  private points = new Int32Array(1024);

  private rem = new Uint32Array(1024);

  /** A scratch buffer of at least n words (what a sweep has not matched yet). */
  remBuffer(n: number): Uint32Array {
    if (this.rem.length < n) this.rem = new Uint32Array(Math.max(n, this.rem.length * 2));
    return this.rem;
  }

  private next = new Int32Array(1024);

  /** A scratch buffer of at least n ints (a sweep's links to open pieces). */
  nextBuffer(n: number): Int32Array {
    if (this.next.length < n) this.next = new Int32Array(Math.max(n, this.next.length * 2));
    return this.next;
  }

  /** A scratch buffer of at least n ints (reused by sweeps). */
  pointBuffer(n: number): Int32Array {
    if (this.points.length < n) this.points = new Int32Array(Math.max(n, this.points.length * 2));
    return this.points;
  }

  /**
   * An address set as universe index pairs [a, b), written into out from off; returns how many
   * numbers it wrote (at most 2 per range; 2 for undefined, the whole universe).
   */
  universeRanges(dst: RangeSet | undefined, out: Int32Array, off: number): number {
    if (!dst) {
      out[off] = 0;
      out[off + 1] = this.universe.size;
      return 2;
    }
    const u = this.universe.addr;
    let n = off;
    let a = 0;
    let prev = -Infinity;
    for (let x = 0; x < dst.length; x++) {
      const lo = dst[x]![0];
      const hi = dst[x]![1];
      // Sets are sorted: each search starts where the last one ended.
      a = lowerBoundF64(u, lo, lo > prev ? a : 0);
      const b = lowerBoundF64(u, hi + 1, a);
      if (a < b) {
        out[n++] = a;
        out[n++] = b;
      }
      a = b;
      prev = hi;
    }
    return n - off;
  }

  maskOf(f: FlowSet): number {
    const known = this.maskByFlow.get(f);
    if (known !== undefined) return known;
    const W = this.W;
    const tmp = this.maskTmp;
    this.classes.toMask(f, tmp, 0);
    let off = this.maskIntern.find(tmp, 0);
    if (off < 0) {
      off = this.maskCount * W;
      if (off + W > this.masks.length) {
        const grown = new Uint32Array(this.masks.length * 2);
        grown.set(this.masks);
        this.masks = grown;
      }
      this.masks.set(tmp, off);
      this.maskCount++;
      this.maskIntern.add(tmp, off);
    }
    this.maskByFlow.set(f, off);
    return off;
  }

  /**
   * A leaf host appears on a path only as its first or its last node: it forwards nothing, no
   * route or gateway points at it, it owns no bridge, serves or joins no tunnel and sits on no
   * internet address. Leaves with the same shape are interchangeable for routing.
   */
  private isLeaf(h: Host): boolean {
    if (h.forward || h.roaming || h.uplink !== undefined) return false;
    if (h.defaultRoute.kind !== 'gateway' && h.defaultRoute.kind !== 'none') return false;
    if (!h.nics.every((n) => this.model.networks.has(n.segment))) return false;
    if (this.pinned.hosts.has(h.name)) return false;
    return !h.nics.some((n) => this.pinned.addrs.has(n.address));
  }

  /**
   * A roaming peer with nothing but its tunnel address appears on a path only as its first
   * node (no route points at it) and routes like every other such peer of the tunnel; what
   * differs is its own address, which the server's source check (allowed IPs) compares with the
   * packet's source. Evaluated with that very address (as configured: never forged), the check
   * always passes, so it is left out of the template (ownLimit) and the peers share templates.
   */
  private isRoamer(h: Host): boolean {
    if (!h.roaming || h.nics.length !== 1 || !this.model.tunnels.has(h.nics[0]!.segment)) return false;
    return !this.pinned.hosts.has(h.name) && !this.pinned.addrs.has(h.nics[0]!.address);
  }

  /** Hosts and addresses routing points at: bridge owners, tunnel servers, gateways, next hops, endpoints. */
  private pinnedSets(): { hosts: Set<string>; addrs: Set<number> } {
    const hosts = new Set<string>();
    const addrs = new Set<number>();
    for (const n of this.model.networks.values()) {
      if (n.owner !== undefined) hosts.add(n.owner);
      if (n.gateway !== undefined) addrs.add(n.gateway);
    }
    for (const t of this.model.tunnels.values()) {
      hosts.add(t.server);
      addrs.add(t.endpoint);
    }
    // A forwarded guest is reached from the world, unlike other leaves of its shape.
    for (const f of this.model.forwards) hosts.add(f.host);
    for (const o of this.model.hosts.values()) {
      for (const r of o.routes) if (r.via.kind === 'gateway') addrs.add(r.via.address);
      if (o.defaultRoute.kind === 'gateway') addrs.add(o.defaultRoute.via);
    }
    return { hosts, addrs };
  }

  private readonly chainsByHost = new Map<string, Partial<Record<Hook, Chain>>>();
  /** The chain of endpoint e at hook k: epChain[e * HOOKS.length + HOOK_INDEX[k]]. */
  private epChain: (Chain | undefined)[] = [];

  /** The chain at a host's hook (undefined: no firewall there). */
  chainAt(host: string, hook: Hook): Chain | undefined {
    return this.chainsByHost.get(host)?.[hook];
  }

  private leafShape(h: Host): string {
    return JSON.stringify([
      h.trusted,
      h.guestFirewall,
      h.egress === 'vpn-only',
      h.defaultRoute,
      h.routes.map((r) => [r.range.lo, r.range.hi, r.via]),
      h.nics.map((n) => [n.segment, n.ifname, n.port !== undefined]),
    ]);
  }

  /** What routing sees of an address that is not a leaf's: segments, routes, zones. */
  private routingFeatures(a: number): string {
    // Constant between consecutive range boundaries (every segment, route, internet and lan
    // range starts or ends at one): worked out once per elementary interval.
    const cuts = this.featureCuts;
    const k = upperBoundF64(cuts, a);
    let f = this.featureMemo.get(k);
    if (f === undefined) this.featureMemo.set(k, (f = this.routingFeaturesOf(a)));
    return f;
  }

  /** Every boundary (range start, range end + 1) of what routingFeaturesOf looks at, ascending. */
  private get featureCuts(): Float64Array {
    if (this.featureCutList) return this.featureCutList;
    const f = this.features;
    const cuts: number[] = [];
    for (let k = 0; k < f.segLo.length; k++) cuts.push(f.segLo[k]!, f.segHi[k]! + 1);
    for (const r of f.routes) cuts.push(r.lo, r.hi + 1);
    for (const z of [this.model.internet, this.model.lan]) for (let k = 0; k < z.length; k++) cuts.push(z[k]![0], z[k]![1] + 1);
    const a = Float64Array.from(cuts).sort();
    this.featureCutList = a;
    return a;
  }

  private featureCutList: Float64Array | undefined;
  private readonly featureMemo = new Map<number, string>();

  private routingFeaturesOf(a: number): string {
    const segs: string[] = [];
    const f = this.features;
    for (let k = upperBound(f.segLo, a) - 1; k >= 0; k--) {
      // Segments are sorted by start; scan back while one could still contain a (they rarely overlap).
      if (a <= f.segHi[k]!) segs.push(f.segName[k]!);
      if (f.disjoint) break;
    }
    const routes: string[] = [];
    for (const r of f.routes) if (a >= r.lo && a <= r.hi) routes.push(r.name);
    return `${segs.sort().join(',')}|${routes.join(',')}|${R.contains(this.model.internet, a) ? 'i' : ''}${R.contains(this.model.lan, a) ? 'l' : ''}`;
  }

  private featureIndex(): {
    segLo: Float64Array;
    segHi: Float64Array;
    segName: string[];
    disjoint: boolean;
    routes: { lo: number; hi: number; name: string }[];
  } {
    const segs = [...this.model.networks.values(), ...this.model.tunnels.values()]
      .map((n) => ({ lo: n.range.lo, hi: n.range.hi, name: n.name }))
      .sort((x, y) => x.lo - y.lo);
    let disjoint = true;
    for (let k = 1; k < segs.length; k++) if (segs[k]!.lo <= segs[k - 1]!.hi) disjoint = false;
    const routes: { lo: number; hi: number; name: string }[] = [];
    for (const h of this.model.hosts.values()) h.routes.forEach((r, i) => routes.push({ lo: r.range.lo, hi: r.range.hi, name: `${h.name}#${i}` }));
    return {
      segLo: Float64Array.from(segs.map((x) => x.lo)),
      segHi: Float64Array.from(segs.map((x) => x.hi)),
      segName: segs.map((x) => x.name),
      disjoint,
      routes,
    };
  }

  private buildUniverse(): Universe {
    const entries: { addr: number; ep: number; nic: number; key: string }[] = [];
    const owned = this.topo.byAddr;
    const endpointAddrs = new Set<number>();
    for (const t of this.model.tunnels.values()) endpointAddrs.add(t.endpoint);
    this.eps.forEach((e, i) => {
      if (e.dest.kind === 'host') {
        const h = this.model.hosts.get(e.dest.host)!;
        h.nics.forEach((n, k) => {
          const key = this.leafHosts.has(h.name)
            ? `L|${n.segment}|${h.guestFirewall && n.port !== undefined ? 1 : 0}|${this.routingFeatures(n.address)}`
            : `A|${n.address}`;
          entries.push({ addr: n.address, ep: i, nic: k, key });
        });
      } else if (e.dest.kind === 'zone') {
        for (const a of this.engine.zoneDestinations(e.dest.zone)) {
          const key = owned.has(a) || endpointAddrs.has(a) ? `A|${a}` : `Z|${this.routingFeatures(a)}`;
          entries.push({ addr: a, ep: i, nic: -1, key });
        }
      }
    });
    entries.sort((x, y) => x.addr - y.addr || x.ep - y.ep);
    const n = entries.length;
    const addr = new Float64Array(n);
    const ep = new Int32Array(n);
    const dc = new Int32Array(n);
    const nic = new Int32Array(n);
    const byKey = new Map<string, number[]>();
    entries.forEach((e, j) => {
      addr[j] = e.addr;
      ep[j] = e.ep;
      nic[j] = e.nic;
      let l = byKey.get(e.key);
      if (!l) byKey.set(e.key, (l = []));
      l.push(j);
    });
    for (const [key, members] of byKey) {
      const id = this.dcs.length;
      this.dcs.push({ id, members: Int32Array.from(members), leaf: key.startsWith('L|') });
      for (const j of members) dc[j] = id;
    }
    return { addr, ep, dc, nic, size: n };
  }

  private buildSourceClasses(): Int32Array {
    const scOf = new Int32Array(this.eps.length).fill(-1);
    const byKey = new Map<string, number[]>();
    this.eps.forEach((e, i) => {
      const h = this.hostByEp[i];
      const key = h && this.leafHosts.has(h.name) ? `L|${this.leafShape(h)}` : h && this.roamers.has(h.name) ? `R|${this.leafShape(h)}` : `A|${i}`;
      let l = byKey.get(key);
      if (!l) byKey.set(key, (l = []));
      l.push(i);
    });
    for (const [key, members] of byKey) {
      const id = this.scs.length;
      this.scs.push({ id, members, leaf: key.startsWith('L|') });
      for (const i of members) scOf[i] = id;
    }
    return scOf;
  }

  private index(chain: Chain): ChainIndex {
    let x = this.chainIdx.get(chain.point);
    if (!x) this.chainIdx.set(chain.point, (x = new ChainIndex(chain, this)));
    return x;
  }

  private counted(chain: Chain | undefined): chain is Chain {
    return chain !== undefined && !(this.compromised && chain.inGuest);
  }

  // ---- templates

  /** Paths from source endpoint s0 to universe entry j0, with the source and destination by role. */
  private template(s0: number, j0: number): Template {
    const from = this.eps[s0]!.source;
    const S0 = this.hostByEp[s0];
    const dcl = this.dcs[this.universe.dc[j0]!]!;
    const D0 = dcl.leaf ? this.hostByEp[this.universe.ep[j0]!] : undefined;
    const d0 = this.universe.addr[j0]!;
    const paths = this.topo.paths(from, d0, { compromised: this.compromised, underlay: false });
    const out: SymPath[] = [];
    let plain = true;
    for (let x = 0; x < paths.length; x++) {
      const p = paths[x]!;
      if (p.end.kind === 'dropped' || !this.transportsOk(p)) continue;
      if (p.transports.length > 0 || p.anonymous || p.sourceChecks.length > 0) plain = false;
      out.push(this.symbolize(p, S0, D0, D0 ? D0.nics[this.universe.nic[j0]!]!.ifname : undefined));
    }
    return { paths: out, plain };
  }

  /** Templates by crossKey. */
  private readonly crossTemplates = new Map<number, CrossTemplate>();

  /**
   * The template for source endpoint s0 and entry j0, from one kept for a leaf class on another
   * segment when their crossKeys are equal, else computed (and kept when it qualifies).
   */
  private templateOrCross(s0: number, j0: number, dc: DestClass, plan: RoutePlan | undefined, rk: number): Template {
    const ck = plan && dc.leaf && !this.opts.noCrossTemplates ? this.crossKey(plan, rk, dc) : undefined;
    const st = this.opts.stats;
    if (ck) {
      const known = this.crossTemplates.get(ck.id);
      if (known) {
        if (st) st.crossTemplates = (st.crossTemplates ?? 0) + 1;
        return this.fromCross(known, ck);
      }
    }
    const t = this.template(s0, j0);
    if (st) st.templates++;
    if (ck && t.plain) {
      const c = this.toCross(t, ck);
      if (c) this.crossTemplates.set(ck.id, c);
    }
    return t;
  }

  /**
   * Leaf → leaf paths by a `via` route through a forwarding host T that owns the source's bridge
   * (Topology: leave → crossSegment → arrive at T, T forwards). Two leaves on different segments
   * whose routes leave by nics of one shape toward the same T get the same hops but for the
   * names of their segment (the source's per-guest hop on its bridge, T's input interface, and a
   * per-guest hop on T's bridge beyond, which sees where the packet came in) and for T's
   * masquerade, which is in the key. Undefined: not such a route.
   */
  private crossKey(plan: RoutePlan, rk: number, dc: DestClass): CrossKey | undefined {
    // The route key (routeKeyId) fixes everything the base looks at: worked out once per key.
    let base = this.crossBases.get(rk);
    if (base === undefined) this.crossBases.set(rk, (base = this.crossBase(plan.host, plan.routes[dc.id]) ?? null));
    if (base === null) return undefined;
    const u = this.universe;
    const j = dc.members[0]!;
    const dNic = this.hostByEp[u.ep[j]!]?.nics[u.nic[j]!];
    const B = dNic ? this.model.networks.get(dNic.segment) : undefined;
    if (!B || B.name === base.segment) return undefined;
    return { ...base, id: base.id * this.dcs.length + dc.id, dstOwnedByT: B.owner === base.T };
  }

  private readonly crossBases = new Map<number, (Omit<CrossKey, 'id' | 'dstOwnedByT'> & { id: number; segment: string }) | null>();
  private readonly crossBaseIds = new Map<string, number>();

  /** crossKey's part that depends on the source's route only. */
  private crossBase(S: Host, r: RouteChoice | undefined): (Omit<CrossKey, 'id' | 'dstOwnedByT'> & { id: number; segment: string }) | undefined {
    if (!this.leafHosts.has(S.name)) return undefined;
    if (!r || r.kind !== 'via' || r.nic.segment !== r.segment) return undefined;
    const A = this.model.networks.get(r.segment);
    const target = this.topo.byAddr.get(r.next);
    if (!A || !target || target.nic.segment !== A.name) return undefined;
    const T = target.host;
    // No bridge owner between S and T, and no per-guest hop of T on that bridge.
    if (A.owner !== T.name || target.nic.port !== undefined || !T.forward) return undefined;
    // Topology.masquerade finds T's input nic by name: it must be this one.
    if (T.nics.find((n) => n.ifname === target.nic.ifname) !== target.nic) return undefined;
    const masq = A.egress === 'nat' && A.gateway === target.nic.address;
    const n = r.nic;
    const k = S.nics.indexOf(n);
    const byIf = S.nics.findIndex((x) => x.ifname === n.ifname);
    const byPort = n.port === undefined ? -1 : S.nics.findIndex((x) => x.port === n.port);
    const key = `${T.name}|${k}|${n.ifname}|${n.port !== undefined}|${byIf}|${byPort}|${S.guestFirewall}|${masq}`;
    let id = this.crossBaseIds.get(key);
    if (id === undefined) this.crossBaseIds.set(key, (id = this.crossBaseIds.size));
    return { id, T: T.name, bridge: A.bridge, tIf: target.nic.ifname, segment: A.name };
  }

  /**
   * Which hops of t name the source's segment, or undefined when some hop could not be told
   * apart (a host other than S, T and D on the way, or a segment name where none is expected).
   */
  private toCross(t: Template, ck: CrossKey): CrossTemplate | undefined {
    const derived: Uint8Array[] = [];
    for (let x = 0; x < t.paths.length; x++) {
      const hops = t.paths[x]!.hops;
      const d = new Uint8Array(hops.length);
      for (let k = 0; k < hops.length; k++) {
        const h = hops[k]!;
        const named = h.iif !== undefined && (h.iif === ck.bridge || h.iif === ck.tIf);
        if (h.role === Role.Src) {
          if (h.iif === undefined) continue;
          if (h.hook !== 'guest-out' || h.iif !== ck.bridge) return undefined;
          d[k] = 1;
        } else if (h.role === Role.Fixed) {
          if (h.point !== pointId(ck.T, h.hook)) return undefined;
          if (!named) continue;
          if (h.hook !== 'forward' || h.iif !== ck.tIf) return undefined;
          d[k] = 2;
        } else {
          if (h.iifDst || !named) continue;
          if (h.hook !== 'guest-in' || h.iif !== ck.tIf || !ck.dstOwnedByT) return undefined;
          d[k] = 2;
        }
      }
      derived.push(d);
    }
    return { t, derived };
  }

  /** A kept cross template with this source segment's names. */
  private fromCross(c: CrossTemplate, ck: CrossKey): Template {
    const paths = new Array<SymPath>(c.t.paths.length);
    for (let x = 0; x < paths.length; x++) {
      const p = c.t.paths[x]!;
      const d = c.derived[x]!;
      const hops = new Array<SymHop>(p.hops.length);
      let nDst = 0;
      for (let k = 0; k < hops.length; k++) {
        const h = p.hops[k]!;
        hops[k] = d[k] === 0 ? h : { ...h, iif: d[k] === 1 ? ck.bridge : ck.tIf };
        if (h.role === Role.Dst) nDst++;
      }
      paths[x] = this.symPath(hops, nDst, p.srcNic, p.anonymous, p.checks);
    }
    return { paths, plain: true };
  }

  /** Whether each tunnel's transport gets through, by tunnel and peer (see transportOk). */
  private readonly transportOks = new Map<string, boolean>();

  private transportsOk(p: Path): boolean {
    for (let x = 0; x < p.transports.length; x++) if (!this.transportOk(p.transports[x]!)) return false;
    return true;
  }

  /**
   * Engine.checkTransport's verdict, worked out once per tunnel for all its roaming peers: a
   * roaming peer's transport is evaluated from the internet, not from the peer (1k: 8 peers of
   * one tunnel, 8 evaluations of the same internet-wide source classes, was).
   */
  private transportOk(t: Transport): boolean {
    const peer = this.model.hosts.get(t.peer);
    const key = peer?.roaming ? `${t.tunnel}\0` : `${t.tunnel}\0${t.peer}`;
    let ok = this.transportOks.get(key);
    if (ok === undefined) this.transportOks.set(key, (ok = this.engine.checkTransport(t, this.assume).ok));
    return ok;
  }

  private symbolize(p: Path, S0: Host | undefined, D0: Host | undefined, d0If: string | undefined): SymPath {
    // Indexed loops, no closures: this runs once per template (2,401 at 1k), before the optimiser.
    const substitutable = S0 !== undefined && this.leafHosts.has(S0.name);
    // Arrays of their exact length (push leaves room for 16 more: 10k keeps ~150,000 paths).
    const hops = new Array<SymHop>(p.hops.length);
    let nDst = 0;
    for (let x = 0; x < p.hops.length; x++) {
      const h = p.hops[x]!;
      const role = S0 && h.host === S0.name ? Role.Src : D0 && h.host === D0.name ? Role.Dst : Role.Fixed;
      const inPortSrcNic = substitutable && h.inPort !== undefined ? portNic(S0, h.inPort) : -1;
      const iifDst = role === Role.Dst && h.iif !== undefined && h.iif === d0If;
      if (h.natSrc !== undefined && ((substitutable && hasAddress(S0, h.natSrc)) || (D0 && hasAddress(D0, h.natSrc))))
        throw new Error(`template: NAT to a leaf's address at ${h.point}`);
      const sh: SymHop = {
        role,
        hook: h.hook,
        chain: role === Role.Fixed ? this.ir.chains.get(h.point) : undefined,
        point: h.point,
        iif: h.iif,
        iifDst,
        oif: h.oif,
        inPort: h.inPort,
        inPortSrcNic,
        natSrc: h.natSrc,
      };
      hops[x] = sh;
      if (role === Role.Dst) nDst++;
    }
    return this.symPath(hops, nDst, S0 ? sourceNic(S0, p.hops[0]) : -1, p.anonymous, this.limitsOf(p, S0));
  }

  /** The path's source limits but a roaming peer's check of its own address (see isRoamer). */
  private limitsOf(p: Path, S: Host | undefined): readonly SourceLimit[] {
    const all = sourceLimits(p);
    if (S === undefined || !this.roamers.has(S.name) || all.length === 0) return all;
    const own = S.nics[0]!.address;
    return all.filter((c) => !(c.natSrc === undefined && c.allowed.length === 1 && c.allowed[0]![0] === own && c.allowed[0]![1] === own));
  }

  private symPath(hops: SymHop[], nDst: number, srcNic: number, anonymous: boolean, checks: readonly SourceLimit[]): SymPath {
    const pre = new Array<SymHop>(hops.length - nDst);
    const dst = new Array<SymHop>(nDst);
    for (let x = 0, a = 0, b = 0; x < hops.length; x++) {
      if (hops[x]!.role === Role.Dst) dst[b++] = hops[x]!;
      else pre[a++] = hops[x]!;
    }
    const preIds = new Int32Array(pre.length);
    for (let x = 0; x < pre.length; x++) preIds[x] = this.hopId(pre[x]!, srcNic);
    return { hops, pre, preIds, dst, anonymous, checks, srcNic, memo: undefined };
  }

  // ---- evaluation

  run(): CompactMatrix {
    const n = this.eps.length;
    const rowTo: Int32Array[] = new Array<Int32Array>(n);
    const rowId: Int32Array[] = new Array<Int32Array>(n);
    const cells = new RowCells(n, this.classes);
    this.cells = cells;
    for (let c = 0; c < this.scs.length; c++) {
      const sc = this.scs[c]!;
      this.fromZone = false;
      // By destination class id (undefined: not yet computed); looked up once per entry visited.
      const templates = new Array<Template | null | undefined>(this.dcs.length);
      for (let x = 0; x < sc.members.length; x++) {
        const s = sc.members[x]!;
        this.localSweeps = new Map();
        this.forgedBySig = new Map();
        this.gen++;
        this.evalSource(sc, s, templates);
        // A path's memo must not keep this source's sweeps alive (10k: 105,000 templates).
        for (let x = 0; x < this.memos.length; x++) this.memos[x]!.sweeps.length = 0;
        this.memos.length = 0;
        cells.finish();
        rowTo[s] = cells.to;
        rowId[s] = cells.ids;
      }
    }
    return new CompactMatrix(this.assume, this.eps, cells.flowSets, rowTo, rowId);
  }

  /** A template for (source class, destination class), computed once per class pair. */
  private templateFor(sc: SourceClass, s: number, dc: DestClass, cache: (Template | null | undefined)[]): Template | null {
    const cached = cache[dc.id];
    if (cached !== undefined) return cached;
    // Leaf classes whose routes to this class look alike share the template (see routeKeyId).
    // Every address of the next hop's own host gives one path whatever the address: the route's
    // first leg to that host, then its input hook, where the packet is delivered (Topology:
    // leave → crossSegment → arrive, which delivers before looking at any route). Those share
    // one template per route key.
    const plan = this.plans.get(sc.id);
    const rk = plan?.routeKeys[dc.id] ?? -1;
    const gk = rk >= 0 && plan!.toNextHop[dc.id] === 1 ? -1 - rk : rk * this.dcs.length + dc.id;
    if (rk >= 0) {
      const shared = this.sharedTemplates.get(gk);
      if (shared !== undefined) {
        cache[dc.id] = shared;
        return shared;
      }
    }
    // Representatives: a source of the class and a member not owned by it.
    let t: Template | null = null;
    const u = this.universe;
    // s first, then the class's other members (no list built: this runs once per class pair).
    const members = sc.members;
    outer: for (let k = -1; k < members.length; k++) {
      const s0 = k < 0 ? s : members[k]!;
      if (k >= 0 && s0 === s) continue;
      const fromZone = this.eps[s0]!.source.kind === 'zone';
      const dm = dc.members;
      for (let x = 0; x < dm.length; x++) {
        const j = dm[x]!;
        if (u.ep[j] === s0) continue;
        if (fromZone && this.eps[u.ep[j]!]!.dest.kind === 'zone') continue;
        t = this.templateOrCross(s0, j, dc, rk >= 0 ? plan : undefined, rk);
        break outer;
      }
    }
    cache[dc.id] = t;
    if (rk >= 0) this.sharedTemplates.set(gk, t);
    return t;
  }

  /** Templates by (route key, destination class), shared between leaf source classes. */
  private readonly sharedTemplates = new Map<number, Template | null>();
  private readonly routeKeyIds = new Map<number, Map<number, number>>();
  private routeKeyCount = 0;
  private readonly nicBase = new Map<object, number>();
  private readonly nicBaseIds = new Map<string, number>();

  /**
   * What a leaf's path to a destination depends on, in the configured view: Topology.paths
   * leaves a leaf by its configured route (lookup) and meets the leaf itself only in its first
   * hops (output, per-guest firewall of the route's nic, bridge owner), which see the route, the
   * nic (segment, interface, whether it has a bridge port) and whether the leaf has a per-guest
   * firewall; the engine takes the source address from the nic the first hop leaves by. Leaves
   * of different classes with the same key get the same template (checked in tests by
   * verifyTemplates, like every template).
   */
  private routeKeyId(S: Host, r: ReturnType<Topology['lookup']>): number {
    let base: number;
    let next = -1;
    if (!r) base = S.guestFirewall ? -2 : -3;
    else if (r.kind === 'direct' || r.kind === 'via') {
      // The route leaves by one of S's nics (on the route's segment): what the path sees of it
      // is keyed once per nic object, the next hop added per route.
      const n = r.nic;
      let b = this.nicBase.get(n);
      if (b === undefined) {
        const k = S.nics.indexOf(n);
        const byIf = S.nics.findIndex((x) => x.ifname === n.ifname);
        const byPort = n.port === undefined ? -1 : S.nics.findIndex((x) => x.port === n.port);
        const key = `${k}|${n.segment}|${n.ifname}|${n.port !== undefined}|${byIf}|${byPort}|${S.guestFirewall}`;
        b = this.nicBaseIds.get(key);
        if (b === undefined) this.nicBaseIds.set(key, (b = this.nicBaseIds.size));
        this.nicBase.set(n, b);
      }
      base = 2 * b + (r.kind === 'via' ? 1 : 0);
      if (r.kind === 'via') next = r.next;
      // The route's own segment is the nic's (Topology.lookup picks the nic on it).
      if (r.segment !== n.segment) return -1;
    } else return -1;
    let m = this.routeKeyIds.get(base);
    if (!m) this.routeKeyIds.set(base, (m = new Map<number, number>()));
    let id = m.get(next);
    if (id === undefined) m.set(next, (id = this.routeKeyCount++));
    return id;
  }

  private fromZone = false;
  /** The current source's row being filled (set by run). */
  private cells!: RowCells;
  private readonly plans = new Map<number, RoutePlan | undefined>();
  private readonly repCache = new Map<string, { cuts: number[]; reps: number[] }>();

  private evalSource(sc: SourceClass, s: number, templates: (Template | null | undefined)[]): void {
    const ep = this.eps[s]!;
    const S = this.hostByEp[s];
    this.fromZone = ep.source.kind === 'zone';
    const plan = sc.leaf && !this.compromised && S ? this.routePlan(sc, templates) : undefined;
    if (!plan) {
      for (let d = 0; d < this.dcs.length; d++) this.evalDc(sc, s, S, this.dcs[d]!, templates);
      return;
    }
    for (let gi = 0; gi < plan.groups.length; gi++) {
      const g = plan.groups[gi]!;
      const arrival = g.filter ? this.arrivalSweeps(S!, g.filter) : undefined;
      if (!arrival) {
        for (let d = 0; d < g.dcs.length; d++) this.evalDc(sc, s, S, g.dcs[d]!, templates);
        continue;
      }
      // Only entries the arrival hop accepts something toward can be allowed: visit those,
      // each with its own class's template (computed on first need).
      const u = this.universe;
      const W = this.W;
      this.entryGen++;
      for (let a = 0; a < arrival.length; a++) {
        const sw = arrival[a]!;
        for (let p = 0; p < sw.bounds.length - 1; p++) {
          if (isZero(sw.acc, p * W, W)) continue;
          for (let j = sw.bounds[p]!; j < sw.bounds[p + 1]!; j++) {
            if (this.entryStamp[j] === this.entryGen) continue;
            this.entryStamp[j] = this.entryGen;
            const dc = this.dcs[u.dc[j]!]!;
            if (plan.groupOf[dc.id] !== g.index) continue;
            const first = dc.members[0]!;
            if (dc.members.length === 1 && u.ep[first] === s) continue;
            const t = this.templateFor(sc, s, dc, templates);
            if (!t) continue;
            if (this.opts.verifyTemplates) this.checkTemplate(s, S, j, t);
            for (let k = 0; k < t.paths.length; k++) {
              const path = t.paths[k]!;
              // The source address, the limits and the hops' sweeps are the source's, not the
              // entry's: found on the path's first entry (of ~5 per source at 1k), then reused.
              const m = (path.memo ??= { gen: -1, src: 0, count: -1, sweeps: [] });
              if (m.gen !== this.gen) {
                m.gen = this.gen;
                this.memos.push(m);
                m.src = path.srcNic >= 0 ? S!.nics[path.srcNic]!.address : (S!.nics[0]?.address ?? 0);
                m.count = passesLimits(path.checks, m.src) ? this.preSweeps(S, path, m.src) : -1;
                for (let x = 0; x < m.count; x++) m.sweeps[x] = this.sweepList[x]!;
              }
              if (m.count >= 0) this.visit(s, j, m.sweeps, m.count, path.dst, m.src, undefined);
            }
          }
        }
      }
    }
  }

  /** Path memos filled for the current source. */
  private readonly memos: PathMemo[] = [];
  private entryGen = 0;
  private entryStamp = new Int32Array(0);
  private evalDc(sc: SourceClass, s: number, S: Host | undefined, dc: DestClass, templates: (Template | null | undefined)[]): void {
    const u = this.universe;
    // Skip classes that hold nothing but the source itself or zones seen from a zone.
    const first = dc.members[0]!;
    if (dc.members.length === 1 && (u.ep[first] === s || (this.fromZone && this.eps[u.ep[first]!]!.dest.kind === 'zone'))) return;
    const t = this.templateFor(sc, s, dc, templates);
    if (!t) return;
    if (this.opts.verifyTemplates) for (const j of dc.members) this.checkTemplate(s, S, j, t);
    for (let k = 0; k < t.paths.length; k++) this.evalPath(s, S, dc, t.paths[k]!);
  }

  /**
   * For a leaf source class, as configured: destination classes grouped by the source's route to
   * them. Every destination one `via` route leads to is first reached at the same host T, on
   * the same interface and bridge port, before any NAT (Topology: leave → crossSegment → arrive),
   * where T's input chain (T's own addresses) or forward chain (everything else) decides. When
   * both chains are restrictive (default drop), a destination can only be allowed where one of
   * them accepts something for this source: the sweeps of those two chains mark the candidate
   * classes, and the others are skipped without computing their path templates. Other routes (a
   * directly connected segment, no route) are evaluated class by class.
   */
  private routePlan(sc: SourceClass, templates: (Template | null | undefined)[]): RoutePlan | undefined {
    if (this.plans.has(sc.id)) return this.plans.get(sc.id);
    const s0 = sc.members[0]!;
    const S0 = this.hostByEp[s0]!;
    const u = this.universe;
    const groups: RouteGroup[] = [];
    const groupOf = new Int32Array(this.dcs.length).fill(-1);
    // Only `via` routes group classes; every other class is a group of its own.
    const byVia = new Map<string, RouteGroup>();
    const routeKeys = new Int32Array(this.dcs.length).fill(-1);
    const toNextHop = new Uint8Array(this.dcs.length);
    const routes = new Array<RouteChoice | undefined>(this.dcs.length);
    const byAddr = this.topo.byAddr;
    for (let d = 0; d < this.dcs.length; d++) {
      const dc = this.dcs[d]!;
      let j = -1;
      for (let x = 0; x < dc.members.length; x++) {
        if (u.ep[dc.members[x]!] !== s0) {
          j = dc.members[x]!;
          break;
        }
      }
      let via: string | undefined;
      if (j >= 0) {
        const r = this.topo.lookup(S0, u.addr[j]!, false);
        if (r?.kind === 'via') via = `${r.segment}|${r.next}|${r.nic.address}`;
        routeKeys[dc.id] = this.routeKeyId(S0, r);
        routes[dc.id] = r;
        // A class of leaves is never the next hop's (a leaf is no next hop); one of a host's own
        // addresses is a class of its own (every member the same address).
        if (r?.kind === 'via' && !dc.leaf) {
          const owner = byAddr.get(u.addr[j]!);
          if (owner !== undefined && owner.host === byAddr.get(r.next)?.host) toNextHop[dc.id] = 1;
        }
      }
      let g = via !== undefined ? byVia.get(via) : undefined;
      if (!g) {
        g = { index: groups.length, dcs: [], filter: undefined, via: via !== undefined };
        if (via !== undefined) byVia.set(via, g);
        groups.push(g);
      }
      g.dcs.push(dc);
      groupOf[dc.id] = g.index;
    }
    const plan = { groups, groupOf, routeKeys, toNextHop, host: S0, routes };
    this.plans.set(sc.id, plan);
    for (let x = 0; x < groups.length; x++) if (groups[x]!.via) groups[x]!.filter = this.witness(sc, groups[x]!, templates);
    return plan;
  }

  /** The arrival hop a `via` group's paths share, read off one computed template; undefined: no filter. */
  private witness(sc: SourceClass, g: RouteGroup, templates: (Template | null | undefined)[]): RouteFilter | undefined {
    for (const dc of g.dcs) {
      const t = this.templateFor(sc, sc.members[0]!, dc, templates);
      if (!t || t.paths.length !== 1) continue;
      const path = t.paths[0]!;
      const h = path.hops.find((x) => x.role !== Role.Src);
      if (!h || h.role !== Role.Fixed || h.natSrc !== undefined) return undefined;
      const host = h.point.slice(0, h.point.length - h.hook.length - 1);
      const input = this.chainAt(host, 'input');
      const forward = this.chainAt(host, 'forward');
      if (!this.counted(input) || !this.counted(forward) || input.policy !== 'drop' || forward.policy !== 'drop') return undefined;
      return { input, forward, iif: h.iif, inPort: h.inPort, inPortSrcNic: h.inPortSrcNic, srcNic: path.srcNic };
    }
    return undefined;
  }

  /** The sweeps of T's forward and input chains for S at the arrival hop; undefined when unusable. */
  private arrivalSweeps(S: Host, f: RouteFilter): Sweep[] | undefined {
    const src = f.srcNic >= 0 ? S.nics[f.srcNic]!.address : (S.nics[0]?.address ?? 0);
    const inPort = f.inPortSrcNic >= 0 ? S.nics[f.inPortSrcNic]!.port : f.inPort;
    const key = { iif: f.iif, oif: undefined, inPort };
    // The forward hop's output interface varies with the destination: only usable if no candidate names one.
    const fwd = this.index(f.forward);
    const inp = this.index(f.input);
    const fc = fwd.candidates(key, src);
    const ic = inp.candidates(key, src);
    if (fc.oifSensitive || ic.oifSensitive) return undefined;
    return [this.sweepOf(fwd, fc, key, false), this.sweepOf(inp, ic, key, false)];
  }

  /** Compares a template, instantiated for (s, entry j), with what Topology.paths says. */
  private checkTemplate(s: number, S: Host | undefined, j: number, t: Template): void {
    const u = this.universe;
    const e = u.ep[j]!;
    if (e === s || (this.eps[s]!.source.kind === 'zone' && this.eps[e]!.dest.kind === 'zone')) return;
    const D = this.dcs[u.dc[j]!]!.leaf ? this.hostByEp[e] : undefined;
    const real = this.topo
      .paths(this.eps[s]!.source, u.addr[j]!, { compromised: this.compromised, underlay: false })
      .filter((p) => p.end.kind !== 'dropped' && p.transports.every((x) => this.engine.checkTransport(x, this.assume).ok));
    const show = (
      hs: readonly { point: string; iif: string | undefined; oif: string | undefined; inPort: string | undefined; natSrc: number | undefined }[],
    ): string => hs.map((h) => `${h.point}(${h.iif ?? ''}>${h.oif ?? ''} ${h.inPort ?? ''} ${h.natSrc ?? ''})`).join(' ');
    const mine = t.paths.map((p) => ({
      anonymous: p.anonymous,
      srcNic: p.srcNic,
      checks: JSON.stringify(p.checks),
      hops: show(
        p.hops.map((h) => ({
          point: h.role === Role.Src ? pointId(S!.name, h.hook) : h.role === Role.Dst ? pointId(D!.name, h.hook) : h.point,
          iif: h.iifDst ? D!.nics[u.nic[j]!]!.ifname : h.iif,
          oif: h.oif,
          inPort: h.inPortSrcNic >= 0 ? S!.nics[h.inPortSrcNic]!.port : h.inPort,
          natSrc: h.natSrc,
        })),
      ),
    }));
    const theirs = real.map((p) => ({
      anonymous: p.anonymous,
      srcNic: S ? sourceNic(S, p.hops[0]) : -1,
      checks: JSON.stringify(this.limitsOf(p, S)),
      hops: show(p.hops),
    }));
    const a = JSON.stringify(mine);
    const b = JSON.stringify(theirs);
    if (a !== b)
      throw new Error(
        `path template for ${this.eps[s]!.name} → ${this.eps[e]!.name} (${u.addr[j]}) differs from Topology.paths:\n  template: ${a}\n  paths:    ${b}`,
      );
  }

  /**
   * Ids of the hops before the destination within the current source class: hops with one id
   * give one sweep per source, however many destination classes' templates contain them.
   */
  private hopIds = new Map<string, number>();
  private hopDefs: { hop: SymHop; srcNic: number }[] = [];
  /** Per source: the sweep of each hop id (null: no counted chain), valid when its generation is current. */
  private sweepById: (Sweep | null)[] = [];
  private sweepGen: Int32Array = new Int32Array(0);
  private gen = 0;

  private hopId(h: SymHop, srcNic: number): number {
    // A fixed hop's output interface only matters if its chain names one.
    const oif = h.role !== Role.Fixed || (h.chain !== undefined && this.index(h.chain).usesOif) ? (h.oif ?? '') : '*';
    const key = `${h.role}|${h.role === Role.Fixed ? h.point : h.hook}|${h.iif ?? ''}|${oif}|${h.inPort ?? ''}|${h.inPortSrcNic}|${h.natSrc ?? `s${srcNic}`}`;
    let id = this.hopIds.get(key);
    if (id === undefined) {
      id = this.hopDefs.length;
      this.hopIds.set(key, id);
      this.hopDefs.push({ hop: h, srcNic });
    }
    return id;
  }

  /** Instantiates the source's side of a hop. */
  private srcHop(S: Host | undefined, h: SymHop): { chain: Chain | undefined; key: HopKey } {
    const chain = h.role === Role.Src ? this.chainAt(S!.name, h.hook) : h.chain;
    const inPort = h.inPortSrcNic >= 0 ? S!.nics[h.inPortSrcNic]!.port : h.inPort;
    return { chain, key: { iif: h.iif, oif: h.oif, inPort } };
  }

  /** Where candidate lists' rules are kept (see ChainIndex.findCandidates). */
  readonly lists = new I32Chunks();
  private readonly keptStore: SweepStore = { bounds: new I32Chunks(), acc: new U32Chunks() };
  private readonly localStore: SweepStore = { bounds: new I32Chunks(), acc: new U32Chunks() };

  private sweepFor(chain: Chain, key: HopKey, src: number, shared: boolean): Sweep {
    const idx = this.index(chain);
    return this.sweepOf(idx, idx.candidates(key, src), key, shared);
  }

  /** sweepFor with the chain's index and the hop's candidates already found. */
  private sweepOf(idx: ChainIndex, cands: Candidates, key: HopKey, shared: boolean): Sweep {
    const k = cands.oifSensitive ? idx.oifKey(key) : '*';
    // Lists with no port-bound rule are the same for every source behind that interface: the
    // sweep is kept with the list. The others are one source's: kept while that source is evaluated.
    if (shared || cands.portFree) {
      const kept = (cands.sweeps ??= new Map<string, Sweep>());
      let sw = kept.get(k);
      if (!sw) {
        // Bounded memory on big specs: past a number of kept sweeps, every chain forgets its lists.
        if (++this.keptSweeps > 20_000) {
          this.keptSweeps = 0;
          for (const x of this.chainIdx.values()) x.forget();
        }
        kept.set(k, (sw = idx.sweep(idx.forOif(cands, key.oif), this.keptStore)));
      }
      return sw;
    }
    let byK = this.localSweeps.get(cands);
    if (!byK) this.localSweeps.set(cands, (byK = new Map<string, Sweep>()));
    let sw = byK.get(k);
    if (!sw) byK.set(k, (sw = idx.sweep(idx.forOif(cands, key.oif), this.localStore)));
    return sw;
  }

  /**
   * The sweeps of a path's hops before the destination's own, for the current source (address
   * src), from the per-source table by hop id; into sweepList (valid until the next call), whose
   * first `count` entries they are. The list is never truncated: `length = 0` drops its backing
   * store, and the next push allocates one again (once per visit).
   */
  private preSweeps(S: Host | undefined, path: SymPath, src: number): number {
    const sweeps = this.sweepList;
    let count = 0;
    if (this.sweepGen.length < this.hopDefs.length) {
      const g = new Int32Array(Math.max(this.hopDefs.length, this.sweepGen.length * 2, 64));
      g.set(this.sweepGen);
      this.sweepGen = g;
    }
    for (let k = 0; k < path.pre.length; k++) {
      const id = path.preIds[k]!;
      let sw: Sweep | null;
      if (this.sweepGen[id] === this.gen) sw = this.sweepById[id]!;
      else {
        const h = path.pre[k]!;
        const { chain, key } = this.srcHop(S, h);
        sw = this.counted(chain) ? this.sweepFor(chain, key, h.natSrc ?? src, h.natSrc !== undefined && h.role === Role.Fixed && h.inPortSrcNic < 0) : null;
        this.sweepById[id] = sw;
        this.sweepGen[id] = this.gen;
      }
      if (sw) {
        if (count < sweeps.length) sweeps[count] = sw;
        else sweeps.push(sw);
        count++;
      }
    }
    return count;
  }

  private evalPath(s: number, S: Host | undefined, dc: DestClass, path: SymPath): void {
    const from = this.eps[s]!.source;
    const forged = from.kind === 'zone' || path.anonymous || (this.compromised && S !== undefined && !S.trusted);
    const dst = path.dst;
    if (!forged) {
      // One source address: the hops' sweeps come from the per-source table by hop id.
      const src = S ? (path.srcNic >= 0 ? S.nics[path.srcNic]!.address : (S.nics[0]?.address ?? 0)) : 0;
      if (!passesLimits(path.checks, src)) return;
      const ns = this.preSweeps(S, path, src);
      this.evalClass(s, dc, this.sweepList, ns, dst, src);
      return;
    }
    // Forged sources: the hops before the destination's own are swept once per source class
    // (class representatives from every source prefix those hops' rules name), per source, for
    // every destination class whose paths have these hops.
    const f = this.forged(S, path, from.kind === 'zone' ? from.zone : path.anonymous ? 'internet' : 'all');
    // A destination whose own chains look at the source cuts the classes finer: those members
    // are evaluated class by class; the rest read the union.
    const dstCuts = new Map<number, number[]>();
    for (let k = 0; k < dst.length; k++) {
      const h = dst[k]!;
      if (h.natSrc !== undefined) continue;
      for (let x = 0; x < dc.members.length; x++) {
        const j = dc.members[x]!;
        const D = this.hostByEp[this.universe.ep[j]!]!;
        const chain = this.chainAt(D.name, h.hook);
        if (!this.counted(chain)) continue;
        const c = this.index(chain).sourceCuts(this.dstKey(S, D, j, h));
        if (c.length) {
          let l = dstCuts.get(j);
          if (!l) dstCuts.set(j, (l = []));
          for (const x of c) l.push(x);
        }
      }
    }
    const skip = dstCuts.size ? (j: number): boolean => dstCuts.has(j) : undefined;
    for (let k = 0; k < f.reps.length; k++) this.evalClass(s, dc, f.sweeps[k]!, f.sweeps[k]!.length, dst, f.reps[k]!, skip);
    for (const [j, extra] of dstCuts) {
      for (const src of representatives(f.space, [...f.cuts, ...extra], new Set())) {
        if (passesLimits(path.checks, src)) {
          const sweeps = this.sweepsAt(f.pre, src);
          this.evalClass(s, dc, sweeps, sweeps.length, dst, src, (x) => x !== j);
        }
      }
    }
  }

  /** Per source: forged-source evaluations by the hops they cover. */
  private forgedBySig = new Map<string, Forged>();

  private forged(S: Host | undefined, path: SymPath, spaceName: string): Forged {
    const sig = `${spaceName}|${path.preIds.join(',')}|${path.checks.length ? JSON.stringify(path.checks) : ''}`;
    let f = this.forgedBySig.get(sig);
    if (f) return f;
    const pre: PreHop[] = [];
    for (const h of path.pre) {
      const { chain, key } = this.srcHop(S, h);
      if (!this.counted(chain)) continue;
      pre.push({ chain, key, nat: h.natSrc, shared: h.natSrc !== undefined && h.role === Role.Fixed && h.inPortSrcNic < 0 });
    }
    const space: RangeSet = spaceName === 'internet' ? this.model.internet : spaceName === 'lan' ? this.model.lan : ANY_ADDRESS;
    let repKey = spaceName;
    for (const p of pre) if (p.nat === undefined) repKey += `|${p.chain.point}/${p.key.iif ?? ''}/${p.key.oif ?? ''}/${p.key.inPort ?? ''}`;
    for (const c of path.checks) if (c.natSrc === undefined) repKey += `|limit:${JSON.stringify(c.allowed)}`;
    let cached = this.repCache.get(repKey);
    if (!cached) {
      const cuts: number[] = [];
      for (const p of pre) if (p.nat === undefined) for (const c of this.index(p.chain).sourceCuts(p.key)) cuts.push(c);
      for (const c of path.checks) if (c.natSrc === undefined) for (const [lo, hi] of c.allowed) cuts.push(lo, hi + 1);
      cached = { cuts, reps: representatives(space, cuts, new Set()) };
      if (this.repCache.size > 10_000) this.repCache.clear();
      this.repCache.set(repKey, cached);
    }
    const reps = cached.reps.filter((src) => passesLimits(path.checks, src));
    f = { pre, space, cuts: cached.cuts, reps, sweeps: reps.map((src) => this.sweepsAt(pre, src)) };
    this.forgedBySig.set(sig, f);
    return f;
  }

  private sweepsAt(pre: readonly PreHop[], src: number): Sweep[] {
    return pre.map((p) => this.sweepFor(p.chain, p.key, p.nat ?? src, p.shared));
  }

  private dstKey(S: Host | undefined, D: Host, j: number, h: SymHop): HopKey {
    const inPort = h.inPortSrcNic >= 0 ? S!.nics[h.inPortSrcNic]!.port : h.inPort;
    const iif = h.iifDst ? D.nics[this.universe.nic[j]!]!.ifname : h.iif;
    return { iif, oif: h.oif, inPort };
  }

  /**
   * One source address (or class representative): the intersection over the hops for every
   * member of the destination class, OR-ed into the cells, except members `skip` says.
   */
  private evalClass(s: number, dc: DestClass, sweeps: readonly Sweep[], ns: number, dst: readonly SymHop[], src: number, skip?: (j: number) => boolean): void {
    const W = this.W;
    // Walk only the pieces the most selective restrictive sweep accepts something in.
    // Any sweep can guide (nothing comes of a piece it accepts nothing in): take the sparsest.
    let guide: Sweep | undefined;
    for (let k = 0; k < ns; k++) if (!guide || sweeps[k]!.nonzero < guide.nonzero) guide = sweeps[k]!;
    const members = dc.members;
    if (!guide) {
      for (let k = 0; k < members.length; k++) this.visit(s, members[k]!, sweeps, ns, dst, src, skip);
      return;
    }
    const hi = members[members.length - 1]! + 1;
    const gb = guide.bounds;
    const ga = guide.acc;
    const last = gb.length - 1;
    for (let p = sweepAt(guide, members[0]!); p < last; p++) {
      const a = gb[p]!;
      if (a >= hi) break;
      if (isZero(ga, p * W, W)) continue;
      const b = gb[p + 1]!;
      for (let k = lowerBoundI32(members, a, 0); k < members.length && members[k]! < b; k++) this.visit(s, members[k]!, sweeps, ns, dst, src, skip);
    }
  }

  private readonly sweepList: Sweep[] = [];
  private readonly accBuf = new Uint32Array(64);
  private readonly tmpBuf = new Uint32Array(64);

  /** One source (address src) to universe entry j: AND over the sweeps and the destination's hops. */
  /** The first `ns` of `sweeps` are the hops' before the destination's own. */
  private visit(
    s: number,
    j: number,
    sweeps: readonly Sweep[],
    ns: number,
    dst: readonly SymHop[],
    src: number,
    skip: ((j: number) => boolean) | undefined,
  ): void {
    if (skip && skip(j)) return;
    if (this.opts.stats) this.opts.stats.visits++;
    const u = this.universe;
    const e = u.ep[j]!;
    if (e === s) return;
    if (this.fromZone && this.eps[e]!.dest.kind === 'zone') return;
    const W = this.W;
    const acc = W <= 64 ? this.accBuf : new Uint32Array(W);
    const all = this.classes.all;
    for (let w = 0; w < W; w++) acc[w] = all[w]!;
    for (let x = 0; x < ns; x++) {
      const sw = sweeps[x]!;
      const o = sweepAt(sw, j) * W;
      let any = 0;
      for (let w = 0; w < W; w++) {
        const v = acc[w]! & sw.acc[o + w]!;
        acc[w] = v;
        any |= v;
      }
      if (any === 0) return;
    }
    if (dst.length) {
      const tmp = W <= 64 ? this.tmpBuf : new Uint32Array(W);
      const D = this.hostByEp[e]!;
      const S = this.hostByEp[s];
      for (let k = 0; k < dst.length; k++) {
        const h = dst[k]!;
        const chain = this.epChain[e * HOOKS.length + HOOK_INDEX[h.hook]];
        if (!this.counted(chain)) continue;
        const idx = this.index(chain);
        const key = this.dstKey(S, D, j, h);
        idx.point(idx.forOif(idx.candidates(key, h.natSrc ?? src), key.oif), u.addr[j]!, tmp);
        let any = 0;
        for (let w = 0; w < W; w++) {
          const v = acc[w]! & tmp[w]!;
          acc[w] = v;
          any |= v;
        }
        if (any === 0) return;
      }
    }
    this.cells.add(e, acc);
  }
}

/** The index of the (last) one of h's nics on bridge port `port` (-1: none). */
function portNic(h: Host, port: string): number {
  for (let i = h.nics.length - 1; i >= 0; i--) if (h.nics[i]!.port === port) return i;
  return -1;
}

function hasAddress(h: Host, a: number): boolean {
  for (let i = 0; i < h.nics.length; i++) if (h.nics[i]!.address === a) return true;
  return false;
}

/** The nic the engine takes a host's source address from on a path (engine.ts sourceAddress). */
function sourceNic(h: Host, first: Hop | undefined): number {
  if (first && first.oif) {
    const i = h.nics.findIndex((n) => n.ifname === first.oif);
    if (i >= 0) return i;
  }
  if (first && first.inPort) {
    const i = h.nics.findIndex((n) => n.port === first.inPort);
    if (i >= 0) return i;
  }
  return h.nics.length ? 0 : -1;
}
