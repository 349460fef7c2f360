/**
 * lint's analysis of one IR chain: which rules are shadowed, redundant, empty or undecided, and
 * which pairs of rules overlap with opposite verdicts. Pure; `lint` (lint.ts) turns what it finds
 * into diagnostics about the spec's rules.
 */
import { type BoxNames, CutMemo, EarlierMeets, type Neighbours, type Overlap, OverlapList, overlapHasPart } from './lint-overlap.js';
import { IntBuffer } from '../util/int-buffer.js';
import { I32Chunks } from '../util/chunks.js';
import { NameSplit } from './name-split.js';
import { IntervalColumns } from '../util/interval-index.js';
import { upperBound } from '../util/search.js';
import type { Action, Chain, IrRule, RuleRole } from '../ir/types.js';
import * as R from '../util/rangeset.js';
import type { RangeSet } from '../util/rangeset.js';
import {
  boxIntersects,
  boxIsEmpty,
  boxMeetsBeyondAddresses,
  boxOf,
  boxSubtract,
  cornerOutside,
  covered,
  IntervalIndex,
  meetsRange,
  rsIntersects,
  smallCover,
  type Box,
} from './box.js';

const DEFAULT_BUDGET = 20_000;
/** See `wideFactor` in `lintChain`. */
const WIDE_FACTOR = 8;
/**
 * An address set of more ranges than this is indexed in the other dimension's index by at most
 * this many hulls of its ranges (see `spanGroups`).
 */
const HULL_ABOVE = 4;
/** An address pair with more rules than this has them split by name (see NameSplit). */
const SPLIT_ABOVE = 16;

/** Roles whose rules lint reports on; the others are cordon's plumbing. */
const SUBJECT_ROLES: ReadonlySet<RuleRole> = new Set(['policy', 'handwritten']);
/** Plumbing that overlaps nearly everything by design, so an overlap with it says nothing. */
const QUIET_ROLES: ReadonlySet<RuleRole> = new Set(['stateful', 'loopback']);

export function isSubject(r: IrRule): boolean {
  return SUBJECT_ROLES.has(r.role);
}

export function verdictOf(a: Action): 'accept' | 'deny' {
  return a === 'accept' ? 'accept' : 'deny';
}

/** What lint found in one chain, by rule index. */
export interface ChainLint {
  readonly chain: Chain;
  /** Rules whose whole match space earlier rules take; `by` is a small set of them that covers it. */
  readonly shadowed: ReadonlyMap<number, { readonly by: readonly IrRule[] }>;
  /** Rules that can go without changing any verdict: later rules of the same action, or the default, take over. */
  readonly redundant: ReadonlyMap<number, { readonly by: readonly IrRule[]; readonly byDefault: boolean }>;
  /**
   * Pairs where an earlier rule may take part of a later rule's traffic with the opposite verdict,
   * in the order lint met them. The part itself is computed only when asked (`parts`, `hasPart`):
   * a big chain has millions of such pairs and a message shows a few; a pair whose part is empty
   * is no overlap.
   */
  readonly overlaps: readonly Overlap[];
  /** The same pairs, without an object each (`overlaps` builds them when first read). */
  readonly overlapList: OverlapList;
  /** Rules matching no packet at all. */
  readonly empty: ReadonlySet<number>;
  /** Rules the work limit stopped lint from deciding. */
  readonly undecided: readonly number[];
}

/**
 * Which overlap parts are worth reporting: `keep(b)` for a part b, `keepMeet(a, b)` the same for
 * the intersection of a and b (given they meet) without building it. Both hold for every box
 * containing a box they hold for, and look at interface and port names only (their types have
 * nothing else): where the later rule names none, lint asks once per cut of the earlier rule.
 */
export interface PartFilter {
  readonly keep: (b: BoxNames) => boolean;
  readonly keepMeet: (a: BoxNames, b: BoxNames) => boolean;
}

/**
 * Per-chain analysis; `lint` turns it into diagnostics about spec rules. With `parts`, only the
 * overlaps with a part it keeps are listed: a big chain has millions of pairs of which a few
 * thousand have one, and listing them all first ran out of memory.
 */
export function lintChain(
  chain: Chain,
  opts: {
    budget?: number;
    parts?: PartFilter;
    /**
     * A subject rule whose cheapest index scan costs more than this many times the rules it would
     * be tested against one by one gets its neighbours that way (default 8). The answer is the
     * same either way: 0 (every rule) and Infinity (none) are for tests that show it.
     */
    wideFactor?: number;
  } = {},
): ChainLint {
  const rules = chain.rules;
  const boxes = rules.map((r) => boxOf(r.match));
  const n = rules.length;
  const budgetPerRule = opts.budget ?? DEFAULT_BUDGET;

  // Per dimension (source, destination, flow) an index over every range of every rule, not over
  // a rule's hull: a rule from two hosts on distant bridges has a hull spanning all between them,
  // which met thousands of rules it shares nothing with. The source and destination indexes hold
  // one item per source range × destination range, so a query on one address filters on the
  // other in the same scan: most rules share a source with hundreds of others but a source and a
  // destination with a few. A query uses whichever index scans least; the hulls are a cheap test
  // on all three before the exact one.
  const live: number[] = [];
  for (let i = 0; i < n; i++) if (!boxIsEmpty(boxes[i]!)) live.push(i);
  const sLo = new Float64Array(n);
  const sHi = new Float64Array(n);
  const dLo = new Float64Array(n);
  const dHi = new Float64Array(n);
  const fLo = new Float64Array(n);
  const fHi = new Float64Array(n);
  for (let t = 0; t < live.length; t++) {
    const i = live[t]!;
    const b = boxes[i]!;
    sLo[i] = b.src[0]![0];
    sHi[i] = b.src[b.src.length - 1]![1];
    dLo[i] = b.dst[0]![0];
    dHi[i] = b.dst[b.dst.length - 1]![1];
    fLo[i] = b.flow[0]![0];
    fHi[i] = b.flow[b.flow.length - 1]![1];
  }
  // Rules with the same source and destination sets share their entries in the address indexes
  // (an address pair): the plumbing at the top of a big chain is one drop per bridge, hundreds of
  // rules from anywhere to the internet's dozens of ranges, and a query on those ranges met each
  // of them once per range. A query finds the pair once and tests its rules.
  const setIds = new AddressSets();
  const flowIds = new AddressSets();
  /** Per rule and dimension, the id of its set there (equal sets, one id): estimates are per set. */
  const setOf = [new Int32Array(n), new Int32Array(n), new Int32Array(n)];
  /** Per source set id, its pairs by destination set id (small-integer keys: one key of both was a double). */
  const pairOf: (Map<number, number> | undefined)[] = [];
  /** Per pair, its rules in chain order. */
  const members: number[][] = [];
  for (let t = 0; t < live.length; t++) {
    const i = live[t]!;
    const b = boxes[i]!;
    const sId = (setOf[0]![i] = setIds.of(b.src));
    const dId = (setOf[1]![i] = setIds.of(b.dst));
    setOf[2]![i] = flowIds.of(b.flow);
    const bySrc = (pairOf[sId] ??= new Map<number, number>());
    let p = bySrc.get(dId);
    if (p === undefined) {
      bySrc.set(dId, (p = members.length));
      members.push([]);
    }
    members[p]!.push(i);
  }
  // Per pair, its first rule and address hulls, side by side: the scan of a query's pairs reads
  // these for every pair it meets, and going through the members list to a rule cost a cache
  // miss each.
  const { pRep, pHull, pOne } = pairHulls(members, boxes, sLo, sHi, dLo, dHi);
  const dims: ((b: Box) => RangeSet)[] = [(b) => b.src, (b) => b.dst, (b) => b.flow];
  const indexes = dims.map((get, d) => {
    if (d === 2) {
      // The flow index: one entry per rule and flow range; its second interval is the destination hull.
      const cols = new IntervalColumns(live.length, true);
      for (let t = 0; t < live.length; t++) {
        const i = live[t]!;
        const flow = boxes[i]!.flow;
        for (let k = 0; k < flow.length; k++) cols.push(flow[k]![0], flow[k]![1], i, dLo[i], dHi[i]);
      }
      return new IntervalIndex(cols);
    }
    // The address indexes: one entry per pair and source range × destination range.
    const cols = new IntervalColumns(members.length * 2, true);
    /** Span groups per set (by identity: the IR shares one set of the internet's ranges between rules). */
    const grouped = new Map<RangeSet, RangeSet>();
    for (let p = 0; p < members.length; p++) {
      const rep = boxes[members[p]![0]!]!;
      const one = get(rep);
      const other = d === 0 ? rep.dst : rep.src;
      // Against a set of many ranges (the internet's dozens) one entry per range of `one` and group
      // of the set's ranges: the egress drop of every guest is from its address to those ranges,
      // and the source index held each of them dozens of times, all met by one query from a prefix.
      let spans: RangeSet = other;
      if (other.length > HULL_ABOVE) {
        spans = grouped.get(other) ?? spanGroups(other, HULL_ABOVE);
        grouped.set(other, spans);
      }
      for (let a = 0; a < one.length; a++) for (let c = 0; c < spans.length; c++) cols.push(one[a]![0], one[a]![1], p, spans[c]![0], spans[c]![1]);
    }
    return new IntervalIndex(cols);
  });
  /**
   * What an entry scanned costs, per index: the address indexes filter on the other address as
   * they scan; nearly every entry the flow index finds becomes a candidate to test in full.
   */
  const COST = [1, 1, 4];
  /**
   * Per dimension and set id, the estimate (-1 until asked): hundreds of rules share a host's
   * addresses or a service's ports, and the binary searches per bucket were most of a query.
   */
  const estimates = [setIds.size, setIds.size, flowIds.size].map((m) => new Float64Array(m).fill(-1));
  /** Index entries a query found; reused (a JS array emptied by `length = 0` gives up its store). */
  const scratch = new IntBuffer(1024);
  /** seen[x] === i: rule (flow index) or pair (address indexes) x already looked at for rule i. */
  const seen = new Int32Array(Math.max(n, members.length)).fill(-1);
  /** Big pairs' rules by name, built when first met. */
  const splits: (NameSplit | undefined)[] = [];
  const stamp = new Int32Array(n).fill(-1);
  const named = new IntBuffer(256);
  const families = new IntBuffer(16);
  /** The index that scans least for rule i (0 source, 1 destination, 2 flow); its estimate in `cost[i]`. */
  const cost = new Float64Array(n);
  const choose = (i: number): number => {
    const b = boxes[i]!;
    let pick = 0;
    let least = Infinity;
    for (let d = 0; d < dims.length; d++) {
      const id = setOf[d]![i]!;
      let e = estimates[d]![id]!;
      if (e < 0) {
        e = 0;
        const rs = dims[d]!(b);
        // Only to choose an index: a set of many ranges (the internet's dozens) is estimated by its
        // hull, two binary searches per bucket instead of two per range.
        if (rs.length > 4) e = indexes[d]!.estimate(rs[0]![0], rs[rs.length - 1]![1]) * COST[d]!;
        else for (let k = 0; k < rs.length; k++) e += indexes[d]!.estimate(rs[k]![0], rs[k]![1]) * COST[d]!;
        estimates[d]![id] = e;
      }
      if (e < least) {
        least = e;
        pick = d;
      }
    }
    cost[i] = least;
    return pick;
  };
  /** Rules other than i sharing a packet with rule i, ascending, found through index `pick`. */
  const found = new IntBuffer(1024);
  /**
   * The lists' memory: views into shared chunks, not an array each (460k lists at 10k, each typed
   * array with its own backing store for the collector to account and free).
   */
  const lists = new I32Chunks(1 << 16);
  const sortedCopy = (xs: Int32Array): Neighbours => {
    const v = lists.take(xs.length);
    v.set(xs);
    return v.sort();
  };
  const query = (i: number, pick: number): Neighbours => {
    const b = boxes[i]!;
    scratch.clear();
    // The second interval to filter on: the query's hull in the index's other dimension.
    const lo2 = pick === 1 ? sLo[i]! : dLo[i]!;
    const hi2 = pick === 1 ? sHi[i]! : dHi[i]!;
    const rs = pick === 0 ? b.src : pick === 1 ? b.dst : b.flow;
    const index = indexes[pick]!;
    for (let k = 0; k < rs.length; k++) index.queryWithin(rs[k]![0], rs[k]![1], lo2, hi2, scratch);
    const hits = scratch.view();
    const out = found;
    out.clear();
    if (pick === 2) {
      for (let t = 0; t < hits.length; t++) {
        const j = hits[t]!;
        if (j === i || seen[j] === i) continue;
        seen[j] = i;
        if (sLo[j]! > sHi[i]! || sHi[j]! < sLo[i]! || dLo[j]! > dHi[i]! || dHi[j]! < dLo[i]! || fLo[j]! > fHi[i]! || fHi[j]! < fLo[i]!) continue;
        if (boxIntersects(b, boxes[j]!)) out.push(j);
      }
    } else {
      const qsLo = sLo[i]!;
      const qsHi = sHi[i]!;
      const qdLo = dLo[i]!;
      const qdHi = dHi[i]!;
      for (let t = 0; t < hits.length; t++) {
        const p = hits[t]!;
        if (seen[p] === i) continue;
        seen[p] = i;
        // The addresses are the pair's: tested once for all its rules.
        const h = 4 * p;
        if (pHull[h]! > qsHi || pHull[h + 1]! < qsLo || pHull[h + 2]! > qdHi || pHull[h + 3]! < qdLo) continue;
        // The exact test, from the pair's columns when its set is one range: most pairs met fail
        // it (a query towards a group of hosts spread over the lab spans all between them), and
        // loading their rule's box for it was a cache miss each.
        // Not in the index's own dimension: an entry is one of the pair's ranges there, found
        // because it overlaps one of the query's.
        const one = pOne[p]!;
        if (pick !== 1 && ((one & 2) !== 0 ? !meetsRange(b.dst, pHull[h + 2]!, pHull[h + 3]!) : !rsIntersects(b.dst, boxes[pRep[p]!]!.dst))) continue;
        if (pick !== 0 && ((one & 1) !== 0 ? !meetsRange(b.src, pHull[h]!, pHull[h + 1]!) : !rsIntersects(b.src, boxes[pRep[p]!]!.src))) continue;
        const list = members[p]!;
        let cands: ArrayLike<number> = list;
        const split = list.length > SPLIT_ABOVE ? (splits[p] ??= new NameSplit(boxes, list)) : undefined;
        if (split) {
          named.clear();
          families.clear();
          split.candidates(b, stamp, i, named, families);
          cands = named.view();
          const fams = families.view();
          // Rules alike but for their port names, and q matching every port: the first answers for all.
          for (let f = 0; f < fams.length; f++) {
            const { rep, members: all } = split.families[fams[f]!]!;
            if (fLo[rep]! > fHi[i]! || fHi[rep]! < fLo[i]! || !boxMeetsBeyondAddresses(b, boxes[rep]!)) continue;
            for (let t = 0; t < all.length; t++) if (all[t] !== i) out.push(all[t]!);
          }
        }
        for (let t = 0; t < cands.length; t++) {
          const j = cands[t]!;
          if (j === i || fLo[j]! > fHi[i]! || fHi[j]! < fLo[i]!) continue;
          if (boxMeetsBeyondAddresses(b, boxes[j]!)) out.push(j);
        }
      }
    }
    return sortedCopy(out.view());
  };

  const shadowed = new Map<number, { by: IrRule[] }>();
  const isShadowed = new Uint8Array(n);
  const { rated, verdict, quiet } = ruleColumns(rules);
  const redundant = new Map<number, { by: IrRule[]; byDefault: boolean }>();
  const empty = new Set<number>();
  const undecided: number[] = [];
  const near = new Map<number, Neighbours>();
  const filter = opts.parts;
  const meets = new EarlierMeets(boxes, near);
  const memo = new CutMemo(rules, boxes, meets);
  const overlaps = new OverlapList(rules, boxes, meets, memo);
  /** Rule j may take part of rule i's traffic; `nb` (the rules meeting i) holds every rule before j that takes some first. */
  const addOverlap = (j: number, i: number, nb: Neighbours): void => {
    if (filter && !overlapHasPart(rules, boxes, j, i, nb, meets, memo, filter.keep, filter.keepMeet)) return;
    overlaps.push(j, i, nb);
  };

  // In a function of its own, as ruleColumns and pairHulls are: V8 compiles a hot loop's function whole
  // (on-stack replacement), and lintChain is big: a loop added here made it compile again whole.
  const neighbourLists = (): void => {
    // Every subject rule's neighbours first: the analysis of rule i reads its own list and what
    // was found about rules before it, nothing that depends on when the lists were made.
    const subjects: number[] = [];
    const others: number[] = [];
    const pickOf = new Int8Array(n);
    for (let t = 0; t < live.length; t++) {
      const i = live[t]!;
      if (isSubject(rules[i]!)) {
        subjects.push(i);
        pickOf[i] = choose(i);
      } else others.push(i);
    }
    // A wide rule (from a whole prefix to the internet, any port) meets little but scans much of
    // every index: at 10k a few hundred of them tested millions of index entries. Its neighbours
    // are the narrow rules whose own lists hold it (meeting is symmetric), and the plumbing and
    // other wide rules, tested one by one: a rule is wide when its cheapest scan costs more than
    // `wideFactor` times that test.
    const wideFactor = opts.wideFactor ?? WIDE_FACTOR;
    const wide = new Uint8Array(n);
    const wides: number[] = [];
    // Only rules over the first bar can be wide: the sort is of those (the bar rises with each).
    const over = subjects.filter((i) => cost[i]! > wideFactor * (others.length + 1));
    for (const i of over.sort((x, y) => cost[y]! - cost[x]!)) {
      if (cost[i]! <= wideFactor * (others.length + wides.length + 1)) break;
      wide[i] = 1;
      wides.push(i);
    }
    const held = new Map<number, number[]>();
    for (const i of wides) held.set(i, []);
    for (let s = 0; s < subjects.length; s++) {
      const i = subjects[s]!;
      if (wide[i] === 1) continue;
      const nb = query(i, pickOf[i]!);
      near.set(i, nb);
      if (wides.length > 0) for (let t = 0; t < nb.length; t++) if (wide[nb[t]!] === 1) held.get(nb[t]!)!.push(i);
    }
    for (const i of wides) {
      const nb = held.get(i)!;
      const b = boxes[i]!;
      for (const group of [others, wides]) {
        for (let t = 0; t < group.length; t++) {
          const j = group[t]!;
          if (j === i || sLo[j]! > sHi[i]! || sHi[j]! < sLo[i]! || dLo[j]! > dHi[i]! || dHi[j]! < dLo[i]! || fLo[j]! > fHi[i]! || fHi[j]! < fLo[i]!) continue;
          if (boxIntersects(b, boxes[j]!)) nb.push(j);
        }
      }
      near.set(i, sortedCopy(Int32Array.from(nb)));
    }
    held.clear();
  };
  neighbourLists();

  const earlierBuf = new IntBuffer(1024);

  for (let i = 0; i < n; i++) {
    const r = rules[i]!;
    if (!isSubject(r)) continue;
    const q = boxes[i]!;
    if (boxIsEmpty(q)) {
      empty.add(i);
      continue;
    }
    const nb = near.get(i)!;
    // A rate-limited rule lets packets over the limit fall through, so it covers nothing.
    // One buffer for every rule (what keeps a list copies it): at 10k the lists were 23M pushes
    // into fresh arrays, all garbage a moment later.
    earlierBuf.clear();
    for (let t = 0; t < nb.length && nb[t]! < i; t++) if (rated[nb[t]!] === 0) earlierBuf.push(nb[t]!);
    const earlier = earlierBuf.view();
    const budget = { left: budgetPerRule };
    // A corner of q outside every earlier rule is the answer `covered` gives at its first step;
    // found here without the candidates' merging, which cost most rules far more.
    const res = cornerOutside(q, boxes, earlier)
      ? 'uncovered'
      : covered(
          q,
          Array.from(earlier, (j) => boxes[j]!),
          budget,
        );
    if (res === 'covered') {
      const subj = Array.from(earlier, (j) => isSubject(rules[j]!));
      const pick = smallCover(
        q,
        Array.from(earlier, (j) => boxes[j]!),
        { left: budgetPerRule },
        subj,
      );
      // Without a small cover in budget, name the rules in the order they take the traffic.
      const by = pick ? pick.map((k) => earlier[k]!) : takers(q, earlier, boxes);
      shadowed.set(i, { by: by.map((j) => rules[j]!) });
      isShadowed[i] = 1;
      // When other parts of the same spec rule do apply elsewhere, this is an overlap to report.
      for (const j of by) if (overlapPartner(rules[j]!, r)) addOverlap(j, i, nb);
      continue;
    }
    if (res === 'unknown') undecided.push(i);
    // overlapPartner, from the per-rule columns: this runs for millions of pairs on big chains.
    const mine = verdict[i]!;
    for (let t = 0; t < nb.length; t++) {
      const j = nb[t]!;
      if (j >= i) break;
      if (isShadowed[j] === 1 || verdict[j] === mine || quiet[j] === 1) continue;
      addOverlap(j, i, nb);
    }
  }

  for (let i = 0; i < n; i++) {
    const r = rules[i]!;
    const nb = near.get(i);
    if (!nb || isShadowed[i] === 1 || r.log || r.rate !== undefined) continue;
    const q = boxes[i]!;
    let rem: Box[] = [q];
    const by: IrRule[] = [];
    let keeps = true;
    let cut = false;
    // The later neighbours only: nb ascends.
    for (let t = upperBound(nb, i); t < nb.length; t++) {
      const j = nb[t]!;
      const l = rules[j]!;
      if (l.action === r.action) {
        // A later twin that never matches only looks like a replacement: report that one instead.
        if (isShadowed[j] === 1 || l.rate !== undefined) continue;
        const next = rem.flatMap((x) => boxSubtract(x, boxes[j]!));
        if (next.length !== rem.length || next.some((x, k) => x !== rem[k])) by.push(l);
        rem = next;
        if (rem.length === 0 || rem.length > 512) {
          cut = rem.length > 512;
          break;
        }
      } else if (rem.some((x) => boxIntersects(x, boxes[j]!))) {
        keeps = false;
        break;
      }
    }
    if (!keeps || cut) continue;
    const byDefault = rem.length > 0;
    if (byDefault && chain.policy !== r.action) continue;
    redundant.set(i, { by, byDefault });
  }
  // The overlaps keep these for their parts; emptied, they give the same parts from the overlap's
  // own neighbours, and a big chain's millions of lists and cuts are not kept past its lint.
  near.clear();
  memo.forget();
  let built: Overlap[] | undefined;
  return {
    chain,
    shadowed,
    redundant,
    get overlaps(): readonly Overlap[] {
      return (built ??= overlaps.toArray());
    },
    overlapList: overlaps,
    empty,
    undecided,
  };
}

/**
 * `count` hulls covering the ranges of `rs`, split at its widest gaps. One hull of the internet's
 * ranges spans the lab's own addresses between them, so every query towards a lab host met every
 * pair towards the internet, to fail the exact test; the widest gaps are the lab's ranges, so the
 * hulls leave them out.
 */
export function spanGroups(rs: RangeSet, count: number): [number, number][] {
  if (rs.length <= count) return rs.map(([lo, hi]): [number, number] => [lo, hi]);
  // The count - 1 widest gaps (ties: the first), as indexes of the range after each.
  const gaps = Array.from({ length: rs.length - 1 }, (_, k) => k + 1);
  gaps.sort((x, y) => rs[y]![0] - rs[y - 1]![1] - (rs[x]![0] - rs[x - 1]![1]) || x - y);
  const cuts = gaps.slice(0, count - 1).sort((x, y) => x - y);
  const out: [number, number][] = [];
  let from = 0;
  for (const at of [...cuts, rs.length]) {
    out.push([rs[from]![0], rs[at - 1]![1]]);
    from = at;
  }
  return out;
}

/** Per rule: 1 when rate-limited; its verdict (1 accept, 2 deny); 1 when overlapPartner never takes it as the earlier rule. */
function ruleColumns(rules: readonly IrRule[]): { rated: Uint8Array; verdict: Uint8Array; quiet: Uint8Array } {
  const n = rules.length;
  const rated = new Uint8Array(n);
  const verdict = new Uint8Array(n);
  const quiet = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const x = rules[k]!;
    rated[k] = x.rate === undefined ? 0 : 1;
    verdict[k] = verdictOf(x.action) === 'accept' ? 1 : 2;
    quiet[k] = QUIET_ROLES.has(x.role) || x.match.state === 'established' ? 1 : 0;
  }
  return { rated, verdict, quiet };
}

/** Per address pair, its first rule, the source and destination hulls (lo, hi, lo, hi) of its rules, and which are one range. */
function pairHulls(
  members: readonly (readonly number[])[],
  boxes: readonly Box[],
  sLo: Float64Array,
  sHi: Float64Array,
  dLo: Float64Array,
  dHi: Float64Array,
): { pRep: Int32Array; pHull: Float64Array; pOne: Uint8Array } {
  const pairs = members.length;
  const pRep = new Int32Array(pairs);
  const pHull = new Float64Array(pairs * 4);
  /** Bit 1: the source set is one range (its hull); bit 2: the destination set is. */
  const pOne = new Uint8Array(pairs);
  for (let p = 0; p < pairs; p++) {
    const r = members[p]![0]!;
    pRep[p] = r;
    pOne[p] = (boxes[r]!.src.length === 1 ? 1 : 0) | (boxes[r]!.dst.length === 1 ? 2 : 0);
    pHull[4 * p] = sLo[r]!;
    pHull[4 * p + 1] = sHi[r]!;
    pHull[4 * p + 2] = dLo[r]!;
    pHull[4 * p + 3] = dHi[r]!;
  }
  return { pRep, pHull, pOne };
}

/** Numbers for address sets, equal numbers for equal sets (one lookup when the very same array recurs). */
class AddressSets {
  private readonly byRef = new Map<RangeSet, number>();
  /** Sets seen, by a hash of their ranges (a string per set was a good part of lint's set-up). */
  private readonly byHash = new Map<number, { rs: RangeSet; id: number }[]>();
  private count = 0;

  /** How many distinct sets have ids (ids are 0 … size - 1). */
  get size(): number {
    return this.count;
  }

  of(rs: RangeSet): number {
    let id = this.byRef.get(rs);
    if (id !== undefined) return id;
    let h = rs.length;
    for (let k = 0; k < rs.length; k++) {
      h = Math.imul(h ^ rs[k]![0], 0x9e3779b1);
      h = Math.imul(h ^ rs[k]![1], 0x85ebca77);
    }
    const bucket = this.byHash.get(h);
    const same = bucket?.find((x) => R.equal(x.rs, rs));
    if (same) id = same.id;
    else {
      id = this.count++;
      if (bucket) bucket.push({ rs, id });
      else this.byHash.set(h, [{ rs, id }]);
    }
    this.byRef.set(rs, id);
    return id;
  }
}

/** Whether `earlier` taking part of `later`'s traffic is worth saying: opposite verdicts, and not
 * plumbing that matches nearly everything, nor an accept of replies only. */
function overlapPartner(earlier: IrRule, later: IrRule): boolean {
  return !QUIET_ROLES.has(earlier.role) && earlier.match.state !== 'established' && verdictOf(earlier.action) !== verdictOf(later.action);
}

/** Earlier rules in chain order, each kept when it takes something of what is left of q. */
function takers(q: Box, earlier: Int32Array, boxes: readonly Box[]): number[] {
  let rem: Box[] = [q];
  const out: number[] = [];
  for (const j of earlier) {
    if (rem.length === 0) break;
    const b = boxes[j]!;
    if (!rem.some((x) => boxIntersects(x, b))) continue;
    out.push(j);
    rem = rem.flatMap((x) => boxSubtract(x, b));
  }
  return out;
}
