/**
 * `cordon lint`: rules that never match, rules that change nothing, allow/deny overlaps, names
 * declared but never used, and ports opened to every address when a narrower target was meant.
 *
 * The rule findings are computed per IR chain (where first-match order is real) and reported per
 * rule of the spec: one policy rule compiles into several chains, so each finding is said once, at
 * the rule's own line, with the chains it holds in. cordon's plumbing (stateful replies, loopback,
 * anti-spoofing, tunnel transport, egress modes) is never reported on, but it does take traffic
 * away from the rules after it.
 */
import { Engine } from './engine.js';
import { type BoxNames, CutMemo, EarlierMeets, type Overlap, OverlapList, overlapHasPart } from './lint-overlap.js';
import { IdBag } from './id-bag.js';
import { NameSplit } from './name-split.js';
import { IntervalColumns } from '../util/interval-index.js';
export type { Overlap } from './lint-overlap.js';
import { describeDecision, explain } from './explain.js';
import type { Diagnostic, Severity } from '../diag/diagnostic.js';
import { Code } from '../diag/codes.js';
import { diag, sortDiagnostics } from '../diag/diagnostic.js';
import type { Action, Chain, Ir, IrRule, RuleRole } from '../ir/types.js';
import type { Model, Origin, PolicyRule, Target } from '../model/types.js';
import { ALL, targetAddrs } from '../model/addresses.js';
import { ALL_FLOWS, flowEqual, flowUnion, formatFlowSet, NO_FLOWS } from '../util/flows.js';
import { localeOrder } from '../util/collate.js';
import { formatCidr, formatIPv4, formatRange, rangeToCidrs } from '../util/ip.js';
import * as R from '../util/rangeset.js';
import type { RangeSet } from '../util/rangeset.js';
import {
  ADDR_MAX,
  boxIntersects,
  boxIsEmpty,
  boxMeetsBeyondAddresses,
  boxOf,
  boxSubtract,
  cornerOutside,
  covered,
  IntervalIndex,
  lineToFlows,
  nameHas,
  rsIntersects,
  smallCover,
  STATE_ESTABLISHED,
  type Box,
  type NameSet,
} from './box.js';

/** The codes lint reports: findings about the rules, never bad input. */
export const LINT_CODES = [
  Code.SHADOWED_RULE,
  Code.REDUNDANT_RULE,
  Code.ALLOW_DENY_OVERLAP,
  Code.UNUSED_GROUP,
  Code.UNUSED_SERVICE,
  Code.PORT_TO_ANY,
  Code.TUNNEL_BLOCKED,
  Code.RULE_APPLIES_NOWHERE,
  Code.LINT_UNDECIDED,
] as const;

export interface LintOptions {
  /**
   * Finds spec positions by JSON path (a `SourceMap` fits). Used to point unused groups and
   * services at their declaration; without it they are reported at line 0 of the file.
   */
  readonly source?: { pos(path: readonly (string | number)[], key?: boolean): { file: string; line: number; col: number; path: string } };
  /** Work limit per rule for the coverage searches (default 20,000 steps); past it a rule is "undecided". */
  readonly budget?: number;
}

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

function verdictOf(a: Action): 'accept' | 'deny' {
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
  for (const i of live) {
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
  for (const i of live) {
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
      for (const i of live) for (const [lo, hi] of boxes[i]!.flow) cols.push(lo, hi, i, dLo[i], dHi[i]);
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
  const scratch: number[] = [];
  /** seen[x] === i: rule (flow index) or pair (address indexes) x already looked at for rule i. */
  const seen = new Int32Array(Math.max(n, members.length)).fill(-1);
  /** Big pairs' rules by name, built when first met. */
  const splits: (NameSplit | undefined)[] = [];
  const stamp = new Int32Array(n).fill(-1);
  const named: number[] = [];
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
        else for (const [lo, hi] of rs) e += indexes[d]!.estimate(lo, hi) * COST[d]!;
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
  const query = (i: number, pick: number): number[] => {
    const b = boxes[i]!;
    scratch.length = 0;
    // The second interval to filter on: the query's hull in the index's other dimension.
    const lo2 = pick === 1 ? sLo[i]! : dLo[i]!;
    const hi2 = pick === 1 ? sHi[i]! : dHi[i]!;
    for (const [lo, hi] of dims[pick]!(b)) indexes[pick]!.queryWithin(lo, hi, lo2, hi2, scratch);
    const out: number[] = [];
    if (pick === 2) {
      for (const j of scratch) {
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
      for (let t = 0; t < scratch.length; t++) {
        const p = scratch[t]!;
        if (seen[p] === i) continue;
        seen[p] = i;
        // The addresses are the pair's: tested once for all its rules.
        const h = 4 * p;
        if (pHull[h]! > qsHi || pHull[h + 1]! < qsLo || pHull[h + 2]! > qdHi || pHull[h + 3]! < qdLo) continue;
        // The exact test, from the pair's columns when its set is one range: most pairs met fail
        // it (a query towards a group of hosts spread over the lab spans all between them), and
        // loading their rule's box for it was a cache miss each.
        const one = pOne[p]!;
        if ((one & 2) !== 0 ? !meetsRange(b.dst, pHull[h + 2]!, pHull[h + 3]!) : !rangesMeet(b.dst, boxes[pRep[p]!]!.dst)) continue;
        if ((one & 1) !== 0 ? !meetsRange(b.src, pHull[h]!, pHull[h + 1]!) : !rangesMeet(b.src, boxes[pRep[p]!]!.src)) continue;
        const list = members[p]!;
        let cands: readonly number[] = list;
        const split = list.length > SPLIT_ABOVE ? (splits[p] ??= new NameSplit(boxes, list)) : undefined;
        if (split) {
          named.length = 0;
          split.candidates(b, stamp, i, named);
          cands = named;
        }
        for (const j of cands) {
          if (j === i || fLo[j]! > fHi[i]! || fHi[j]! < fLo[i]!) continue;
          if (boxMeetsBeyondAddresses(b, boxes[j]!)) out.push(j);
        }
      }
    }
    return out.sort((x, y) => x - y);
  };

  const shadowed = new Map<number, { by: IrRule[] }>();
  const isShadowed = new Uint8Array(n);
  const { rated, verdict, quiet } = ruleColumns(rules);
  const redundant = new Map<number, { by: IrRule[]; byDefault: boolean }>();
  const empty = new Set<number>();
  const undecided: number[] = [];
  const near = new Map<number, number[]>();
  const filter = opts.parts;
  const meets = new EarlierMeets(boxes, near);
  const memo = new CutMemo(rules, boxes, meets);
  const overlaps = new OverlapList(rules, boxes, meets, memo);
  /** Rule j may take part of rule i's traffic; `nb` (the rules meeting i) holds every rule before j that takes some first. */
  const addOverlap = (j: number, i: number, nb: readonly number[]): void => {
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
    for (const i of live) {
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
    for (const i of [...subjects].sort((x, y) => cost[y]! - cost[x]!)) {
      if (cost[i]! <= wideFactor * (others.length + wides.length + 1)) break;
      wide[i] = 1;
      wides.push(i);
    }
    const held = new Map<number, number[]>();
    for (const i of wides) held.set(i, []);
    for (const i of subjects) {
      if (wide[i] === 1) continue;
      const nb = query(i, pickOf[i]!);
      near.set(i, nb);
      for (const j of nb) if (wide[j] === 1) held.get(j)!.push(i);
    }
    for (const i of wides) {
      const nb = held.get(i)!;
      const b = boxes[i]!;
      for (const group of [others, wides]) {
        for (const j of group) {
          if (j === i || sLo[j]! > sHi[i]! || sHi[j]! < sLo[i]! || dLo[j]! > dHi[i]! || dHi[j]! < dLo[i]! || fLo[j]! > fHi[i]! || fHi[j]! < fLo[i]!) continue;
          if (boxIntersects(b, boxes[j]!)) nb.push(j);
        }
      }
      near.set(
        i,
        nb.sort((x, y) => x - y),
      );
    }
    held.clear();
  };
  neighbourLists();

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
    const earlier: number[] = [];
    for (let t = 0; t < nb.length && nb[t]! < i; t++) if (rated[nb[t]!] === 0) earlier.push(nb[t]!);
    const budget = { left: budgetPerRule };
    // A corner of q outside every earlier rule is the answer `covered` gives at its first step;
    // found here without the candidates' merging, which cost most rules far more.
    const res = cornerOutside(q, boxes, earlier)
      ? 'uncovered'
      : covered(
          q,
          earlier.map((j) => boxes[j]!),
          budget,
        );
    if (res === 'covered') {
      const subj = earlier.map((j) => isSubject(rules[j]!));
      const pick = smallCover(
        q,
        earlier.map((j) => boxes[j]!),
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
    for (const j of nb) {
      if (j <= i) continue;
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

/**
 * rsIntersects, by binary search when a set of a few ranges meets one of many: most address
 * pairs a query finds are a host against the dozens of ranges of the internet, and the walk
 * through them was most of the query's time.
 */
export function rangesMeet(a: RangeSet, b: RangeSet): boolean {
  const few = a.length <= b.length ? a : b;
  const many = few === a ? b : a;
  if (few.length > 2 || many.length <= 8) return rsIntersects(a, b);
  for (let k = 0; k < few.length; k++) if (meetsRange(many, few[k]![0], few[k]![1])) return true;
  return false;
}

/** Whether `rs` meets [lo, hi]: the first range ending at or after lo starts by hi. */
export function meetsRange(rs: RangeSet, lo: number, hi: number): boolean {
  let l = 0;
  let h = rs.length;
  while (l < h) {
    const m = (l + h) >>> 1;
    if (rs[m]![1] < lo) l = m + 1;
    else h = m;
  }
  return l < rs.length && rs[l]![0] <= hi;
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
function takers(q: Box, earlier: readonly number[], boxes: readonly Box[]): number[] {
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

// ---- from chains to the user's rules --------------------------------------------------------

/** Identifies a rule of the spec: every IR rule compiled from it shares its origin. */
function ruleKey(o: Origin): string {
  return `${o.file}\u0000${o.path}\u0000${o.line}\u0000${o.col}`;
}

interface Occurrence {
  readonly chain: Chain;
  readonly rule: IrRule;
  readonly lint: ChainLint;
}

export function lint(ir: Ir, opts: LintOptions = {}): Diagnostic[] {
  const model = ir.model;
  const names = new Namer(model);
  const ds: Diagnostic[] = [];
  const chains = [...ir.chains.values()].sort((a, b) => localeOrder(a.point, b.point));
  const bridgeOf = portBridges(model);
  // Only the parts some packet can be in: a frame from a bridge port comes in on its bridge.
  const parts: PartFilter = {
    keep: (b) => onTheirBridge(b, bridgeOf) !== undefined,
    keepMeet: (a, b) => meetOnTheirBridge(a, b, bridgeOf),
  };
  const results = chains.map((c) => lintChain(c, { ...opts, parts }));

  /** Occurrences by spec rule id, in the order first met. */
  const byRule = new Map<number, Occurrence[]>();
  // Each spec rule's key as a number, per chain and rule index: the overlap pairs below are
  // millions on big specs, and building two key strings for each was a good part of lint's time.
  const ids = new Map<string, number>();
  // The rules compiled from one spec rule mostly share its origin object: one lookup each.
  const idByOrigin = new Map<Origin, number>();
  const idOf = (o: Origin): number => {
    let id = idByOrigin.get(o);
    if (id !== undefined) return id;
    const k = ruleKey(o);
    id = ids.get(k);
    if (id === undefined) ids.set(k, (id = ids.size));
    idByOrigin.set(o, id);
    return id;
  };
  const keyIds = new Map<ChainLint, Int32Array>();
  for (const res of results) {
    const rules = res.chain.rules;
    const kid = new Int32Array(rules.length);
    for (let x = 0; x < rules.length; x++) kid[x] = idOf(rules[x]!.origin);
    keyIds.set(res, kid);
    for (let x = 0; x < rules.length; x++) {
      const r = rules[x]!;
      if (!isSubject(r)) continue;
      const k = kid[x]!;
      const list = byRule.get(k);
      if (list) list.push({ chain: res.chain, rule: r, lint: res });
      else byRule.set(k, [{ chain: res.chain, rule: r, lint: res }]);
    }
  }

  const dead = new Uint8Array(ids.size);
  for (const [k, occ] of byRule) {
    const subject = occ[0]!.rule;
    const at = atOrigin(subject.origin);
    if (occ.every((o) => o.lint.empty.has(o.rule.index))) {
      dead[k] = 1;
      ds.push(
        diag(
          Code.RULE_APPLIES_NOWHERE,
          'warning',
          `${quote(subject.origin)} can never apply: it matches no packet (a source or destination set is empty)`,
          at,
          'check its from/to: a group or name may resolve to nothing here',
        ),
      );
      continue;
    }
    const sh = occ.filter((o) => o.lint.shadowed.has(o.rule.index) || o.lint.empty.has(o.rule.index));
    if (sh.length === occ.length) {
      dead[k] = 1;
      ds.push(shadowDiagnostic(subject, sh));
      continue;
    }
    const gone = occ.every((o) => o.lint.shadowed.has(o.rule.index) || o.lint.redundant.has(o.rule.index) || o.lint.empty.has(o.rule.index));
    if (gone)
      ds.push(
        redundantDiagnostic(
          subject,
          occ.filter((o) => o.lint.redundant.has(o.rule.index)),
        ),
      );
  }

  // Overlaps: one finding per rule whose traffic earlier rules partly take, naming those rules.
  interface Pair {
    earlier: IrRule;
    chains: string[];
    parts: Box[];
  }
  /**
   * Per later rule: the first three earlier rules met, in full (the message shows their parts);
   * of the others only their ids and whether any is a policy rule. A big spec has millions of
   * pairs, nearly all past the third, and an object each for those was most of lint's memory.
   */
  interface Later {
    later: IrRule;
    shown: Map<number, Pair>;
    rest: IdBag;
    /** Whether every earlier rule in `rest` is cordon's plumbing. */
    restPlumbing: boolean;
    chains: string[];
  }
  const overlapped = new Map<number, Later>();
  // A run is one later rule's pairs in one chain (they come together, earlier rules ascending);
  // addedIn[id] === run: spec rule id went into that later rule's `rest` in this run.
  const addedIn = new Int32Array(ids.size).fill(-1);
  let run = -1;
  for (const res of results) {
    const list = res.overlapList;
    if (list.length === 0) continue;
    const kid = keyIds.get(res)!;
    const rules = res.chain.rules;
    const point = res.chain.point;
    // Per rule, from a column: a big chain has millions of pairs, each a read of a random rule.
    const subject = new Uint8Array(rules.length);
    for (let x = 0; x < rules.length; x++) subject[x] = isSubject(rules[x]!) ? 1 : 0;
    let runOf = -1;
    let e: Later | undefined;
    /** Whether e.chains is known to hold this chain. */
    let listed = false;
    for (let k = 0; k < list.length; k++) {
      const i = list.i(k);
      const lk = kid[i]!;
      if (i !== runOf) {
        runOf = i;
        run++;
        e = overlapped.get(lk);
        listed = false;
      }
      const j = list.j(k);
      const ek = kid[j]!;
      if (dead[lk] === 1 || dead[ek] === 1) continue;
      const known = e?.shown.get(ek);
      // lintChain listed only the pairs with a part on a real bridge.
      if (e && !known && e.shown.size >= 3) {
        if (!listed) {
          if (!e.chains.includes(point)) e.chains.push(point);
          listed = true;
        }
        if (addedIn[ek] !== run) {
          addedIn[ek] = run;
          e.rest.add(ek, run);
          if (subject[j] === 1) e.restPlumbing = false;
        }
        continue;
      }
      // The message shows the parts of the first three pairs, three parts each. A pair already
      // known in this chain with its three parts adds nothing more.
      if (known && known.chains.includes(point) && known.parts.length >= 3) continue;
      if (!e) overlapped.set(lk, (e = { later: rules[i]!, shown: new Map(), rest: new IdBag(), restPlumbing: true, chains: [] }));
      if (!e.chains.includes(point)) e.chains.push(point);
      listed = true;
      let p = known;
      if (!p) e.shown.set(ek, (p = { earlier: rules[list.j(k)]!, chains: [], parts: [] }));
      if (!p.chains.includes(point)) p.chains.push(point);
      if (p.parts.length < 3) {
        for (const b of list.at(k).parts()) {
          if (p.parts.length >= 3) break;
          const x = onTheirBridge(b, bridgeOf);
          if (x) p.parts.push(x);
        }
      }
    }
  }
  for (const { later, shown: byEarlier, rest, restPlumbing, chains } of overlapped.values()) {
    const list = [...byEarlier.values()];
    const count = list.length + rest.distinct();
    const partsOf = (p: Pair): string => {
      const texts = [...new Set(p.parts.map((b) => names.box(b)))];
      return texts.slice(0, 2).join('; and on ') + (texts.length > 2 ? ' (and more)' : '');
    };
    let message: string;
    if (count === 1) {
      const p = list[0]!;
      message = `${quote(later.origin)} and the earlier ${quote(p.earlier.origin)}${lineOf(p.earlier.origin, later.origin)} overlap on ${partsOf(p)}: there the earlier one ${verb(p.earlier.action)} (${p.chains.join(', ')})`;
    } else {
      const shown = list.map((p) => `${quote(p.earlier.origin)}${lineOf(p.earlier.origin, later.origin)} ${verb(p.earlier.action)} ${partsOf(p)}`);
      const more = count > 3 ? `; and ${count - 3} more rules` : '';
      message = `${quote(later.origin)} overlaps ${count} earlier rules of the other verdict, which win where they overlap: ${shown.join('; ')}${more} (${chains.join(', ')})`;
    }
    const plumbing = restPlumbing && list.every((p) => !isSubject(p.earlier));
    ds.push(
      diag(
        Code.ALLOW_DENY_OVERLAP,
        'info',
        message,
        atOrigin(later.origin),
        plumbing ? undefined : `if ${quote(later.origin)} should win there, move it above the earlier rules; if not, this is the intended exception`,
      ),
    );
  }

  for (const res of results) {
    for (const i of res.undecided) {
      const r = res.chain.rules[i]!;
      ds.push(
        diag(
          Code.LINT_UNDECIDED,
          'info',
          `lint could not decide within its work limit whether ${quote(r.origin)} is shadowed in ${res.chain.point}`,
          atOrigin(r.origin),
        ),
      );
    }
  }

  // Policy rules that compile into no chain at all.
  for (const p of model.policy) {
    const id = ids.get(ruleKey(p.origin));
    if (id !== undefined && byRule.has(id)) continue;
    ds.push(
      diag(
        Code.RULE_APPLIES_NOWHERE,
        'warning',
        `${quote(p.origin)} never applies: no enforcement point cordon manages sees this traffic`,
        atOrigin(p.origin),
        'a rule between two addresses of one host, or between hosts no managed firewall sits between, compiles to nothing',
      ),
    );
  }

  ds.push(...portToAny(ir, names));
  ds.push(...unused(model, opts));
  ds.push(...tunnelFindings(ir));
  return sortDiagnostics(ds);
}

/**
 * A tunnel whose own UDP transport is blocked never comes up (seed 004's kill switch allows only
 * lo and wg0, forgetting the packets that carry wg0). Checked as configured: that is what runs.
 */
export function tunnelFindings(ir: Ir, engine = new Engine(ir)): Diagnostic[] {
  const ds: Diagnostic[] = [];
  for (const t of [...ir.model.tunnels.values()].sort((a, b) => localeOrder(a.name, b.name))) {
    const members = [...ir.model.hosts.values()]
      .filter((h) => h.name !== t.server && h.nics.some((n) => n.segment === t.name))
      .sort((a, b) => localeOrder(a.name, b.name));
    for (const m of members) {
      const check = engine.checkTransport({ tunnel: t.name, peer: m.name }, 'configured');
      if (check.ok || !check.reach) continue;
      const flow = { proto: 'udp' as const, port: t.listen };
      const why = explain(ir, check.reach, flow);
      const last = why.path?.hops.find((h) => h.verdict === 'drop');
      const where = last ? ` at ${last.point} by ${describeDecision(last.decision)}` : why.path ? `: ${why.path.end}` : ': no route to the endpoint';
      ds.push(
        diag(
          Code.TUNNEL_BLOCKED,
          'warning',
          `tunnel '${t.name}' cannot come up for ${m.name}: its UDP transport to ${formatIPv4(t.endpoint)}:${t.listen} is dropped${where}`,
          { file: t.origin.file, line: t.origin.line, col: t.origin.col, path: t.origin.path },
          `allow udp/${t.listen} to ${formatIPv4(t.endpoint)} out of ${m.name}'s underlay interface, or nothing goes through '${t.name}'`,
        ),
      );
    }
  }
  return ds;
}

function atOrigin(o: Origin): { file: string; line: number; col: number; path: string } {
  return { file: o.file, line: o.line, col: o.col, path: o.path };
}

function quote(o: Origin): string {
  return `'${o.text}'`;
}

/** ` (line N)` when the rule is elsewhere than `here`; names the spec path when there is no line. */
function lineOf(o: Origin, here?: Origin): string {
  if (here && o.line === here.line && o.file === here.file) return '';
  if (o.line > 0) return ` (line ${o.line})`;
  return o.path ? ` (${o.path})` : '';
}

function verb(a: Action): string {
  return a === 'accept' ? 'allows' : a === 'drop' ? 'denies' : 'rejects';
}

function verbPlural(a: Action): string {
  return a === 'accept' ? 'allow' : a === 'drop' ? 'deny' : 'reject';
}

/** Rules as `'text' (line N)`, joined with "and"; past five, the count of the rest. */
function listRules(rules: readonly IrRule[], here: Origin): string {
  const u = uniqueRules(rules);
  const parts = u.slice(0, 5).map((r) => `${quote(r.origin)}${lineOf(r.origin, here)}`);
  if (u.length > 5) parts.push(`${u.length - 5} more rules`);
  if (parts.length <= 1) return parts.join('');
  return `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
}

function uniqueRules(rules: readonly IrRule[]): IrRule[] {
  const seen = new Set<string>();
  return rules.filter((r) => {
    const k = ruleKey(r.origin);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Groups occurrences whose explanations read the same, so each is said once with its chains. */
function groupByText<T>(items: readonly T[], chainOf: (x: T) => string, text: (x: T) => string): { text: string; chains: string[] }[] {
  const out: { text: string; chains: string[] }[] = [];
  for (const x of items) {
    const t = text(x);
    const g = out.find((o) => o.text === t);
    if (g) {
      if (!g.chains.includes(chainOf(x))) g.chains.push(chainOf(x));
    } else out.push({ text: t, chains: [chainOf(x)] });
  }
  return out;
}

function shadowDiagnostic(subject: IrRule, occ: readonly Occurrence[]): Diagnostic {
  const here = subject.origin;
  const mine = verdictOf(subject.action);
  const all = uniqueRules(occ.flatMap((o) => o.lint.shadowed.get(o.rule.index)?.by ?? []));
  const opposite = all.some((r) => verdictOf(r.action) !== mine);
  const explain = (by: readonly IrRule[]): string => {
    const u = uniqueRules(by);
    if (u.length === 0) return 'it matches no packet here';
    const actions = new Set(u.map((r) => r.action));
    if (actions.size === 1) {
      const a = u[0]!.action;
      return u.length === 1
        ? `${listRules(u, here)} ${verb(a)} all of its traffic first`
        : `${listRules(u, here)} together ${verbPlural(a)} all of its traffic first`;
    }
    const shown = u.slice(0, 5).map((r) => `${quote(r.origin)}${lineOf(r.origin, here)} ${verb(r.action)} part`);
    if (u.length > 5) shown.push(`${u.length - 5} more rules take the rest`);
    return `earlier rules take all of its traffic: ${shown.join(', ')}`;
  };
  const groups = groupByText(
    occ,
    (o) => o.chain.point,
    (o) => explain(o.lint.shadowed.get(o.rule.index)?.by ?? []),
  );
  const why = groups.map((g) => `${g.text} (${g.chains.join(', ')})`).join('; ');
  const severity: Severity = 'warning';
  if (opposite) {
    const first = all.find((r) => verdictOf(r.action) !== mine)!;
    const hint = isSubject(first)
      ? `move it above ${quote(first.origin)}, or narrow that rule if it was not meant to ${verbPlural(first.action)} this traffic`
      : `${quote(first.origin)} is what cordon makes of ${first.origin.path || 'a setting'} and always comes before the policy: change that setting if this rule should apply, or remove the rule`;
    return diag(Code.SHADOWED_RULE, severity, `${quote(here)} is shadowed and never matches: ${why}`, atOrigin(here), hint);
  }
  return diag(
    Code.SHADOWED_RULE,
    severity,
    `${quote(here)} is redundant and never matches (dead rule): ${why}`,
    atOrigin(here),
    'remove it: the earlier rules already do what it says',
  );
}

function redundantDiagnostic(subject: IrRule, occ: readonly Occurrence[]): Diagnostic {
  const here = subject.origin;
  const explain = (o: Occurrence): string => {
    const f = o.lint.redundant.get(o.rule.index)!;
    const later = uniqueRules(f.by);
    const parts: string[] = [];
    if (later.length > 0)
      parts.push(
        `${listRules(later, here)} ${later.length === 1 ? verb(subject.action) : verbPlural(subject.action)} ${f.byDefault ? 'part of' : 'all of'} its traffic anyway`,
      );
    if (f.byDefault)
      parts.push(
        `${later.length > 0 ? 'the rest falls' : 'its traffic falls'} to the chain default (${o.chain.policyOrigin.text}), which ${verb(o.chain.policy === 'accept' ? 'accept' : 'drop')} it as well`,
      );
    return `${parts.join(', and ')}, with no rule of another action in between`;
  };
  const groups = groupByText(occ, (o) => o.chain.point, explain);
  const why = groups.map((g) => `${g.text} (${g.chains.join(', ')})`).join('; ');
  const open = occ.find(
    (o) =>
      o.lint.redundant.get(o.rule.index)?.byDefault &&
      !o.chain.handwritten &&
      o.chain.hook === 'output' &&
      o.chain.policy === 'accept' &&
      subject.action === 'accept',
  );
  const hint = open
    ? `'${open.chain.host}' lets everything out by default (${open.chain.policyOrigin.text}), so this allow restricts nothing: set \`egress: filtered\` on '${open.chain.host}' if these rules were meant as its limit, or remove the rule`
    : 'remove it, or give it `log: true` if it is there to record these packets';
  return diag(Code.REDUNDANT_RULE, 'warning', `${quote(here)} is redundant: removing it changes no verdict: ${why}`, atOrigin(here), hint);
}

// ---- bridge ports and the bridge they are on ------------------------------------------------

/** Every bridge port (tap101i0) with the interface names its bridge has on the host owning it. */
function portBridges(model: Model): ReadonlyMap<string, readonly string[]> {
  const out = new Map<string, string[]>();
  for (const h of model.hosts.values()) {
    for (const nic of h.nics) {
      if (!nic.port) continue;
      const net = model.networks.get(nic.segment);
      if (!net) continue;
      const ownerNic = net.owner !== undefined ? model.hosts.get(net.owner)?.nics.find((n) => n.segment === nic.segment) : undefined;
      out.set(nic.port, [...new Set([net.bridge, ...(ownerNic ? [ownerNic.ifname] : [])])]);
    }
  }
  return out;
}

/**
 * A box with only the bridge ports whose bridge its input interfaces take in; undefined when none
 * is left. Rule matches are independent sets, so "port tap101i0" from one rule and "in on vmbr1"
 * from another meet in a box no frame is in (tap101i0 is a port of vmbr0), and describing it would
 * name a port on the wrong bridge.
 */
function onTheirBridge<B extends BoxNames>(b: B, bridgeOf: ReadonlyMap<string, readonly string[]>): B | undefined {
  if (b.port.neg) return b;
  const names = b.port.names.filter((p) => {
    const bridges = bridgeOf.get(p);
    return bridges === undefined || bridges.some((x) => nameHas(b.iif, x));
  });
  if (names.length === 0) return undefined;
  return names.length === b.port.names.length ? b : { ...b, port: { neg: false, names } };
}

/**
 * `onTheirBridge(boxIntersect(a, b)) !== undefined` for boxes that meet, without building the
 * intersection: the ports both allow, each kept when its bridge is an input interface of both.
 */
function meetOnTheirBridge(a: BoxNames, b: BoxNames, bridgeOf: ReadonlyMap<string, readonly string[]>): boolean {
  if (a.port.neg && b.port.neg) return true;
  const listed = a.port.neg ? b.port : a.port;
  const other = a.port.neg ? a.port : b.port;
  for (const p of listed.names) {
    if (!nameHas(other, p)) continue;
    const bridges = bridgeOf.get(p);
    if (bridges === undefined) return true;
    for (const x of bridges) if (nameHas(a.iif, x) && nameHas(b.iif, x)) return true;
  }
  return false;
}

// ---- describing match spaces in the user's names ------------------------------------------

function isAll(rs: RangeSet): boolean {
  return rs.length === 1 && rs[0]![0] === 0 && rs[0]![1] === ADDR_MAX;
}

/** Names addresses after the model: hosts, networks, internet; falls back to prefixes. */
class Namer {
  private readonly hostOf = new Map<number, string>();
  private readonly netOf = new Map<string, string>();
  private readonly portOf = new Map<string, string>();

  constructor(private readonly model: Model) {
    for (const h of [...model.hosts.values()].sort((a, b) => localeOrder(a.name, b.name))) {
      for (const nic of h.nics) {
        if (!this.hostOf.has(nic.address)) this.hostOf.set(nic.address, h.name);
        if (nic.port) this.portOf.set(nic.port, h.name);
      }
    }
    for (const n of [...model.networks.values(), ...model.tunnels.values()]) this.netOf.set(`${n.range.lo}-${n.range.hi}`, n.name);
  }

  addrs(rs: RangeSet): string {
    if (rs.length === 1 && rs[0]![0] === 0 && rs[0]![1] === ADDR_MAX) return 'any address';
    if (this.model.internet.length > 0 && R.equal(rs, this.model.internet)) return 'internet';
    if (this.model.lan.length > 0 && R.equal(rs, this.model.lan)) return 'lan';
    // The complement is only asked about for several ranges: most sets are one host or prefix,
    // and lint names a few thousand parts.
    if (rs.length > 1) {
      const rest = R.complement(rs, [0, ADDR_MAX]);
      if (R.size(rest) < 2 ** 31) return `any address except ${this.addrs(rest)}`;
    }
    let hostOnly = true;
    for (let k = 0; k < rs.length && hostOnly; k++) hostOnly = rs[k]![0] === rs[k]![1] && this.hostOf.has(rs[k]![0]);
    const items: string[] = [];
    if (hostOnly) {
      const byHost = new Map<string, number[]>();
      for (let k = 0; k < rs.length; k++) {
        const a = rs[k]![0];
        const h = this.hostOf.get(a)!;
        const list = byHost.get(h);
        if (list) list.push(a);
        else byHost.set(h, [a]);
      }
      for (const [h, list] of byHost) items.push(`${h} (${list.map(formatIPv4).join(', ')})`);
    } else {
      // Only three ranges are named and the rest counted: a set of thousands of ranges (what is
      // left of `any` after many exceptions) is not formatted in full for one line of text.
      for (let k = 0; k < rs.length && k < 3; k++) {
        const lo = rs[k]![0];
        const hi = rs[k]![1];
        const net = this.netOf.get(`${lo}-${hi}`);
        if (net) items.push(`${net} (${formatRange({ lo, hi })})`);
        else if (lo === hi && this.hostOf.has(lo)) items.push(`${this.hostOf.get(lo)} (${formatIPv4(lo)})`);
        else {
          const cidrs = rangeToCidrs({ lo, hi });
          items.push(cidrs.length <= 2 ? cidrs.map(formatCidr).join(', ') : formatRange({ lo, hi }));
        }
      }
    }
    const count = hostOnly ? items.length : rs.length;
    return count > 3 ? `${items.slice(0, 3).join(', ')} and ${count - 3} more ranges` : items.join(', ');
  }

  private static ifs(s: NameSet, what: string, owner?: ReadonlyMap<string, string>): string | undefined {
    if (s.neg && s.names.length === 0) return undefined;
    const list = s.names.map((x) => (owner?.get(x) ? `${x} (${owner.get(x)!})` : x)).join(', ');
    return s.neg ? `${what} other than ${list}` : `${what} ${list}`;
  }

  /** `tcp/22 from agentfarm (10.0.0.10) to internet through port tap101i0`. */
  box(b: Box): string {
    const f = lineToFlows(b.flow);
    let text = flowEqual(f, ALL_FLOWS) ? 'all traffic' : formatFlowSet(f);
    if (!isAll(b.src)) text += ` from ${this.addrs(b.src)}`;
    if (!isAll(b.dst)) text += ` to ${this.addrs(b.dst)}`;
    const port = Namer.ifs(b.port, 'through bridge port', this.portOf);
    const iif = Namer.ifs(b.iif, 'in on');
    const oif = Namer.ifs(b.oif, 'out on');
    if (port) text += ` ${port}`;
    if (iif) text += ` ${iif}`;
    if (oif) text += ` ${oif}`;
    // New connections are what every question is about; only say so when the part is replies.
    if (b.state === STATE_ESTABLISHED) text += ' (established connections)';
    return text;
  }
}

// ---- ports opened to every address -----------------------------------------------------------

/** A destination so wide it takes in the user's own machines: `any`, or a prefix of /8 or shorter. */
export function isHugeTarget(t: Target): boolean {
  if (t.kind === 'any') return true;
  return t.kind === 'cidr' && t.range.hi - t.range.lo + 1 >= 2 ** 24;
}

function hostsIn(model: Model, space: RangeSet, except: ReadonlySet<string>): { name: string; kind: string }[] {
  const out: { name: string; kind: string }[] = [];
  for (const h of [...model.hosts.values()].sort((a, b) => localeOrder(a.name, b.name))) {
    if (except.has(h.name)) continue;
    if (h.nics.some((n) => R.contains(space, n.address))) out.push({ name: h.name, kind: h.kind });
  }
  return out;
}

function alsoReaches(model: Model, reached: readonly { name: string; kind: string }[], fromGuests: boolean, plural = false): string {
  if (reached.length === 0) return '';
  const list = reached
    .slice(0, 5)
    .map((h) => `${h.name} (${h.kind})`)
    .join(', ');
  const more = reached.length > 5 ? ` and ${reached.length - 5} more` : '';
  const guests = reached.some((h) => ['vm', 'container', 'sandbox'].includes(h.kind));
  const hosts = reached.some((h) => model.hosts.get(h.name)?.managed);
  const kinds = fromGuests ? [guests ? 'VM-to-VM' : '', hosts ? 'VM-to-host' : ''].filter(Boolean) : [];
  return `, so ${plural ? 'they also reach' : 'it also reaches'} ${list}${more}${kinds.length ? ` (${kinds.join(' and ')})` : ''}`;
}

function portToAny(ir: Ir, names: Namer): Diagnostic[] {
  const model = ir.model;
  const ds: Diagnostic[] = [];
  const declared = declaredSpace(model);
  for (const p of model.policy) {
    if (p.action !== 'allow' || p.ports === undefined || flowEqual(p.ports, ALL_FLOWS)) continue;
    const wide = p.to.filter((t) => isHugeTarget(t) && (t.kind === 'any' || R.intersect(targetAddrs(model, t), declared).length > 0));
    if (wide.length === 0) continue;
    const from = fromHosts(model, p);
    let space: RangeSet = R.EMPTY;
    for (const t of wide) space = R.union(space, targetAddrs(model, t));
    const fromGuests = [...from].some((h) => !model.hosts.get(h)?.trusted) || p.from.some((t) => t.kind === 'network' || t.kind === 'any');
    const reached = hostsIn(model, space, from);
    const w = wide.map((t) => (t.kind === 'any' ? 'any' : t.name)).join(', ');
    ds.push(
      diag(
        Code.PORT_TO_ANY,
        'warning',
        `${quote(p.origin)} allows ${formatFlowSet(p.ports)} to ${w === 'any' ? 'any address' : w}, not only to the internet${alsoReaches(model, reached, fromGuests)}`,
        atOrigin(p.origin),
        `if outbound access was meant, write \`to: internet\`; name any of your own machines it really needs beside it, e.g. \`to: [internet, ${reached[0]?.name ?? 'HOST'}]\``,
      ),
    );
  }
  // Hand-written chains: accepts with specific ports and no narrower destination, where the
  // destination varies. One finding per chain: such rules usually come as a list (a whitelist).
  for (const c of [...ir.chains.values()].sort((a, b) => localeOrder(a.point, b.point))) {
    if (!c.handwritten || !['forward', 'output', 'guest-out'].includes(c.hook)) continue;
    const wide = c.rules.filter((r) => {
      const m = r.match;
      if (r.action !== 'accept' || m.state === 'established' || flowEqual(m.flows, ALL_FLOWS)) return false;
      const dst = m.dst ?? ALL;
      return R.size(dst) >= 2 ** 24 && R.intersect(dst, declared).length > 0;
    });
    const first = wide[0];
    if (!first) continue;
    let flows = NO_FLOWS;
    let dst: RangeSet = R.EMPTY;
    for (const r of wide) {
      flows = flowUnion(flows, r.match.flows);
      dst = R.union(dst, r.match.dst ?? ALL);
    }
    const reached = hostsIn(model, dst, new Set([c.host]));
    const guest = !model.hosts.get(c.host)?.trusted;
    const lines = [...new Set(wide.slice(1).map((r) => r.origin.line))].filter((l) => l > 0 && l !== first.origin.line);
    const at = lines.length === 0 ? '' : ` (line${lines.length > 1 ? 's' : ''} ${lines.join(', ')})`;
    const who =
      wide.length === 1
        ? `${quote(first.origin)} in ${c.point} allows`
        : `${quote(first.origin)} and ${wide.length - 1} more accept rule${wide.length > 2 ? 's' : ''}${at} in ${c.point} allow`;
    const to = wide.every((r) => r.match.dst === undefined) ? 'any destination' : names.addrs(dst);
    ds.push(
      diag(
        Code.PORT_TO_ANY,
        'warning',
        `${who} ${formatFlowSet(flows)} to ${to}, not only to the internet${alsoReaches(model, reached, guest, wide.length > 1)}`,
        atOrigin(first.origin),
        `if outbound access was meant, add \`to: internet\` to ${wide.length === 1 ? 'this rule' : 'these rules'}`,
      ),
    );
  }
  return ds;
}

/** Addresses of everything the spec declares: networks, tunnels and hosts. */
function declaredSpace(model: Model): RangeSet {
  const spans: [number, number][] = [];
  for (const n of [...model.networks.values(), ...model.tunnels.values()]) spans.push([n.range.lo, n.range.hi]);
  for (const h of model.hosts.values()) for (const nic of h.nics) spans.push([nic.address, nic.address]);
  return R.normalize(spans);
}

function fromHosts(model: Model, p: PolicyRule): Set<string> {
  const out = new Set<string>();
  for (const t of p.from) {
    if (t.kind === 'host' || t.kind === 'service') out.add(t.host);
  }
  return out;
}

// ---- unused names ----------------------------------------------------------------------------

function unused(model: Model, opts: LintOptions): Diagnostic[] {
  const ds: Diagnostic[] = [];
  const at = (path: (string | number)[], fallback?: Origin): { file: string; line: number; col: number; path: string } => {
    if (opts.source) return opts.source.pos(path, true);
    if (fallback) return { ...atOrigin(fallback), path: path.join('.') };
    return { file: model.file, line: 0, col: 0, path: path.join('.') };
  };
  for (const g of [...model.groups.keys()].sort()) {
    if (model.used.groups.has(g)) continue;
    const members = model.groups.get(g) ?? [];
    ds.push(
      diag(
        Code.UNUSED_GROUP,
        'warning',
        `group '${g}' is never used${
          members.length
            ? ` (it holds ${members
                .slice(0, 4)
                .map((t) => t.name)
                .join(', ')}${members.length > 4 ? ', …' : ''})`
            : ''
        }`,
        at(['groups', g]),
        'name it in a rule or an expectation, or remove it',
      ),
    );
  }
  for (const h of [...model.hosts.values()].sort((a, b) => localeOrder(a.name, b.name))) {
    for (const [s, flows] of [...h.services.entries()].sort((a, b) => localeOrder(a[0], b[0]))) {
      if (model.used.services.has(`${h.name}.${s}`)) continue;
      ds.push(
        diag(
          Code.UNUSED_SERVICE,
          'warning',
          `service '${h.name}.${s}' (${formatFlowSet(flows)}) is never used: no rule, expectation or control channel names it`,
          at(['hosts', h.name, 'services', s], h.origin),
          `a service opens nothing by itself; allow it with a rule such as \`allow: { from: SOURCE, to: ${h.name}.${s} }\`, or remove it`,
        ),
      );
    }
  }
  return ds;
}
