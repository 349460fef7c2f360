/**
 * The parts of policy rules that every chain drafting them shares, computed once per compile: a
 * host's source atoms as an enforcer sees them, a rule's destination groups, and a rule's drafts
 * where nothing about the chain changes them. Most of compiling a big spec is its forward chains
 * drafting every policy rule (10,000 hosts: four forward chains × 100,000 rules); a rule whose
 * sources no interface binds at that enforcer and whose addresses miss the enforcer's own is the
 * same draft in each of them, so it is built once and pushed by reference.
 */
import { targetAddrs } from '../model/addresses.js';
import type { Host, Model, PolicyRule, Target } from '../model/types.js';
import { ALL_FLOWS, flowEqual, flowIntersect, flowIsEmpty, type FlowSet } from '../util/flows.js';
import { localeOrder } from '../util/collate.js';
import * as R from '../util/rangeset.js';
import type { RangeSet } from '../util/rangeset.js';
import { SpanIndex } from './span-index.js';
import type { Action, IrMatch, IrRule } from './types.js';

/** An IR rule before it gets its id and index (drafts may be shared by chains: never changed). */
export type Draft = Omit<IrRule, 'id' | 'index'>;

/**
 * The IR rule of a draft at `index` of a chain whose ids start with `prefix` (`point#`, made
 * once per chain: a template per rule made two strings more each). One literal, fields in the
 * order a spread of the draft gave (JSON output keeps it); a spread copies through a generic
 * path, and a big spec's forward chain has tens of thousands.
 */
export function irRule(prefix: string, index: number, d: Draft): IrRule {
  return {
    id: prefix + index,
    index,
    match: d.match,
    action: d.action,
    log: d.log,
    rate: d.rate,
    role: d.role,
    origin: d.origin,
    policyIndex: d.policyIndex,
  };
}

/** What every id of `point`'s rules starts with. */
export function idPrefix(point: string): string {
  return `${point}#`;
}

/**
 * A chain's rules as they are drafted, each numbered and given its id as it is added (no draft
 * object per rule and no second pass: a big spec's forward chains hold 100,000 rules each).
 */
export class RuleList {
  readonly rules: IrRule[] = [];
  private readonly prefix: string;
  constructor(point: string) {
    this.prefix = idPrefix(point);
  }

  add(d: Draft): void {
    this.rules.push(irRule(this.prefix, this.rules.length, d));
  }

  addAll(ds: readonly Draft[]): void {
    for (let i = 0; i < ds.length; i++) this.add(ds[i]!);
  }

  /** A rule drafted from policy rule `rule`, added without a draft. */
  addPolicy(rule: PolicyRule, action: Action, match: IrMatch): void {
    const index = this.rules.length;
    this.rules.push({
      id: this.prefix + index,
      index,
      match,
      action,
      log: rule.log,
      rate: rule.rate,
      role: 'policy',
      origin: rule.origin,
      policyIndex: rule.index,
    });
  }
}

/**
 * The interface binding of a source atom, one object per (iif, inPort) in a compile, with the
 * one-element lists a rule's match holds (shared by every rule with this binding: never changed).
 */
export interface Binding {
  readonly iif: string | undefined;
  readonly inPort: string | undefined;
  readonly iifs: readonly string[] | undefined;
  readonly inPorts: readonly string[] | undefined;
  /** The tie-break of atoms starting at one address (the text it always was, "undefined" included). */
  readonly order: string;
}

/** A set of source addresses with the interface binding that makes it unforgeable at an enforcer. */
export interface SrcAtom {
  readonly addrs: RangeSet;
  readonly b: Binding;
}

/** Destinations of a rule that get the same flows, with `dst` as a match holds it (undefined = any). */
interface DstGroup {
  readonly addrs: RangeSet;
  readonly dst: RangeSet | undefined;
  readonly flows: FlowSet;
}

const NONE: readonly never[] = [];

/**
 * Adds `addrs` (unless empty) to the parts of binding `b`, a new binding at the end. `at`, when
 * given, holds each binding's position in `bs`: a big group's hosts each have a binding of their
 * own where their bridge's owner enforces, and a search of the list per host was quadratic.
 */
function gather(addrs: RangeSet, b: Binding, bs: Binding[], parts: RangeSet[][], at: Map<Binding, number> | undefined): void {
  if (addrs.length === 0) return;
  const i = at === undefined ? bs.indexOf(b) : (at.get(b) ?? -1);
  if (i >= 0) parts[i]!.push(addrs);
  else {
    at?.set(b, bs.length);
    bs.push(b);
    parts.push([addrs]);
  }
}

/** Target lists longer than this gather their bindings with a map of positions. */
const SHORT_LIST = 32;

function isAll(a: RangeSet): boolean {
  return a.length === 1 && a[0]![0] === 0 && a[0]![1] === 0xffffffff;
}

/** `addrs` ∩ `restrict`; a single address (most of them) is looked up instead of a new set built. */
function restrictTo(addrs: RangeSet, restrict: RangeSet | undefined): RangeSet {
  if (!restrict) return addrs;
  if (addrs.length === 1 && addrs[0]![0] === addrs[0]![1]) return R.contains(restrict, addrs[0]![0]) ? addrs : R.EMPTY;
  return R.intersect(addrs, restrict);
}

/** Whether two range sets share a value: each span of the smaller one looked up in the larger. */
export function meets(a: RangeSet, b: RangeSet): boolean {
  const small = a.length <= b.length ? a : b;
  const big = small === a ? b : a;
  for (let i = 0; i < small.length; i++) {
    const lo = small[i]![0];
    const hi = small[i]![1];
    // The first span of `big` that ends at or after lo.
    let l = 0;
    let h = big.length;
    while (l < h) {
      const m = (l + h) >> 1;
      if (big[m]![1] < lo) l = m + 1;
      else h = m;
    }
    if (l < big.length && big[l]![0] <= hi) return true;
  }
  return false;
}

/** The order of merged atoms: by first address, then binding. */
function atomOrder(x: SrcAtom, y: SrcAtom): number {
  return x.addrs[0]![0] - y.addrs[0]![0] || localeOrder(x.b.order, y.b.order);
}

/** What the compiler keeps per host, built at its first use. */
interface HostInfo {
  readonly host: Host;
  /** Its addresses, normalised (shared: never changed). */
  readonly addrs: RangeSet;
  /** Its atoms where no nic is bound: one per nic. */
  readonly nicAtoms: readonly SrcAtom[];
  /** The enforcers at which some nic is bound (a bridge owner with a port, a tunnel server), each once. */
  readonly binders: readonly string[];
  /** Per binder: its atoms there, one per nic. */
  readonly boundAtoms: (readonly SrcAtom[] | undefined)[];
  /** sourceAtoms of the host alone where no nic is bound, unrestricted. */
  plain: readonly SrcAtom[] | undefined;
  /** Per binder: sourceAtoms of the host alone there, unrestricted. */
  readonly boundSources: (readonly SrcAtom[] | undefined)[];
}

export class PolicyParts {
  readonly policy: readonly PolicyRule[];
  private readonly bindings = new Map<string, Binding>();
  private readonly unbound: Binding;
  private readonly hosts = new Map<string, HostInfo>();
  /**
   * Per rule (position in model.policy): its sources as no enforcer binds them, unrestricted (at
   * most one atom: all unbound); the host when its sources are one host (most rules); its
   * destination groups, unrestricted. Built for every rule at the first use, in one pass (each
   * chain that drafts the policy needs most of them).
   */
  private srcs: readonly (readonly SrcAtom[])[] = NONE;
  private srcHost: readonly (HostInfo | undefined)[] = NONE;
  private dsts: readonly (readonly DstGroup[])[] = NONE;
  /** Per rule: the drafts of those two (the same at every chain no binding or restriction changes). */
  private readonly drafts: (readonly Draft[] | undefined)[];
  /** enforcer → per rule of several sources, 1 when one of them is bound at that enforcer. */
  private boundBy: Map<string, Uint8Array> | undefined;
  private bySrc: SpanIndex | undefined;
  private byDst: SpanIndex | undefined;

  constructor(private readonly model: Model) {
    this.policy = model.policy;
    const n = model.policy.length;
    this.drafts = new Array<readonly Draft[] | undefined>(n).fill(undefined);
    this.unbound = this.binding(undefined, undefined);
  }

  binding(iif: string | undefined, inPort: string | undefined): Binding {
    const key = `${iif === undefined ? '' : `i${iif}`}\n${inPort === undefined ? '' : `p${inPort}`}`;
    let b = this.bindings.get(key);
    if (!b) {
      b = { iif, inPort, iifs: iif ? [iif] : undefined, inPorts: inPort ? [inPort] : undefined, order: `${inPort}${iif}` };
      this.bindings.set(key, b);
    }
    return b;
  }

  private info(name: string): HostInfo {
    let hi = this.hosts.get(name);
    if (!hi) hi = this.newInfo(name);
    return hi;
  }

  private newInfo(name: string): HostInfo {
    const h = this.model.hosts.get(name)!;
    const nics = h.nics;
    const addrs = targetAddrs(this.model, { kind: 'host', host: name, name });
    const nicAtoms: SrcAtom[] = new Array<SrcAtom>(nics.length);
    const binders: string[] = [];
    // Index loops: this runs once per host, mostly before it is optimised.
    for (let i = 0; i < nics.length; i++) {
      const nic = nics[i]!;
      // One nic (most hosts): its atom's set is the host's, already made (sets are never changed).
      nicAtoms[i] = { addrs: nics.length === 1 && addrs.length === 1 ? addrs : [[nic.address, nic.address]], b: this.unbound };
      const owner = this.model.networks.get(nic.segment)?.owner;
      const server = this.model.tunnels.get(nic.segment)?.server;
      if (owner !== undefined && nic.port && !binders.includes(owner)) binders.push(owner);
      if (server !== undefined && server !== h.name && !binders.includes(server)) binders.push(server);
    }
    const hi: HostInfo = {
      host: h,
      addrs,
      nicAtoms,
      binders,
      boundAtoms: new Array<readonly SrcAtom[] | undefined>(binders.length).fill(undefined),
      plain: undefined,
      boundSources: new Array<readonly SrcAtom[] | undefined>(binders.length).fill(undefined),
    };
    this.hosts.set(name, hi);
    return hi;
  }

  /** targetAddrs, kept per host: a host named in many rules is normalised once. */
  addrs(t: Target): RangeSet {
    return t.kind === 'host' || t.kind === 'service' ? this.info(t.host).addrs : targetAddrs(this.model, t);
  }

  /** A host's source atoms as `enforcer` sees them, one per nic ('' = no enforcer: none bound). */
  private hostAtoms(hi: HostInfo, enforcer: string): readonly SrcAtom[] {
    const at = enforcer === '' ? -1 : hi.binders.indexOf(enforcer);
    if (at < 0) return hi.nicAtoms;
    let list = hi.boundAtoms[at];
    if (!list) {
      const h = hi.host;
      const out: SrcAtom[] = [];
      for (let i = 0; i < h.nics.length; i++) {
        const nic = h.nics[i]!;
        const net = this.model.networks.get(nic.segment);
        const tun = this.model.tunnels.get(nic.segment);
        const addrs = hi.nicAtoms[i]!.addrs;
        if (net && net.owner === enforcer && nic.port) out.push({ addrs, b: this.binding(undefined, nic.port) });
        else if (tun && tun.server === enforcer && h.name !== enforcer) out.push({ addrs, b: this.binding(tun.ifname, undefined) });
        else out.push(hi.nicAtoms[i]!);
      }
      hi.boundAtoms[at] = list = out;
    }
    return list;
  }

  /** sourceAtoms of one host at `enforcer`, unrestricted: kept per host and binder. */
  private hostSources(hi: HostInfo, enforcer: string): readonly SrcAtom[] {
    const at = enforcer === '' ? -1 : hi.binders.indexOf(enforcer);
    // Kept here, per host: not in `merged`, whose keys are the rules' lists.
    if (at < 0) return (hi.plain ??= this.mergeNow([{ kind: 'host', host: hi.host.name, name: hi.host.name }], '', undefined));
    return (hi.boundSources[at] ??= this.mergeNow([{ kind: 'host', host: hi.host.name, name: hi.host.name }], enforcer, undefined));
  }

  /** Splits sources so that a guest's address is matched together with its bridge port. */
  sourceAtoms(targets: readonly Target[], enforcer: string, restrict: RangeSet | undefined): readonly SrcAtom[] {
    if (targets.length === 1 && (targets[0]!.kind === 'host' || targets[0]!.kind === 'service')) {
      const hi = this.info(targets[0]!.host);
      if (restrict === undefined) return this.hostSources(hi, enforcer);
      // One nic (most hosts): its atom as it is when the restriction keeps it.
      const list = this.hostAtoms(hi, enforcer);
      if (list.length === 1) {
        const addrs = restrictTo(list[0]!.addrs, restrict);
        return addrs.length === 0 ? NONE : addrs === list[0]!.addrs ? list : [{ addrs, b: list[0]!.b }];
      }
    }
    return this.merge(targets, enforcer, restrict);
  }

  /**
   * Unrestricted merges, per enforcer and target list: rules naming one group share its list
   * (1k-host spec: 2,468 rules with several sources, 1,104 lists), so each is merged once.
   */
  private readonly merged = new Map<string, Map<readonly Target[], readonly SrcAtom[]>>();

  private merge(targets: readonly Target[], enforcer: string, restrict: RangeSet | undefined): readonly SrcAtom[] {
    if (restrict !== undefined) return this.mergeNow(targets, enforcer, restrict);
    let byList = this.merged.get(enforcer);
    if (!byList) this.merged.set(enforcer, (byList = new Map<readonly Target[], readonly SrcAtom[]>()));
    let atoms = byList.get(targets);
    if (!atoms) byList.set(targets, (atoms = this.mergeNow(targets, enforcer, undefined)));
    return atoms;
  }

  private mergeNow(targets: readonly Target[], enforcer: string, restrict: RangeSet | undefined): readonly SrcAtom[] {
    // Atoms with the same binding are merged, in the order their bindings first appear; what the
    // restriction excludes is dropped. The parts of one binding are normalised once at the end: a
    // union per atom was quadratic in a group's size. Most rules have one or two bindings, so they
    // are kept in a short list searched by binding.
    const bs: Binding[] = [];
    const parts: RangeSet[][] = [];
    const at = targets.length > SHORT_LIST ? new Map<Binding, number>() : undefined;
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i]!;
      if (t.kind === 'host' || t.kind === 'service') {
        const atoms = this.hostAtoms(this.info(t.host), enforcer);
        for (let j = 0; j < atoms.length; j++) gather(restrictTo(atoms[j]!.addrs, restrict), atoms[j]!.b, bs, parts, at);
      } else if (t.kind === 'network') {
        const net = this.model.networks.get(t.network);
        const tun = this.model.tunnels.get(t.network);
        const addrs = restrictTo(targetAddrs(this.model, t), restrict);
        if (net && net.owner === enforcer) gather(addrs, this.binding(net.bridge, undefined), bs, parts, at);
        else if (tun && tun.server === enforcer) gather(addrs, this.binding(tun.ifname, undefined), bs, parts, at);
        else gather(addrs, this.unbound, bs, parts, at);
      } else {
        gather(restrictTo(targetAddrs(this.model, t), restrict), this.unbound, bs, parts, at);
      }
    }
    const out: SrcAtom[] = new Array<SrcAtom>(bs.length);
    for (let i = 0; i < bs.length; i++) {
      const p = parts[i]!;
      out[i] = { addrs: p.length === 1 ? p[0]! : R.normalize(p.flat()), b: bs[i]! };
    }
    if (out.length < 2) return out;
    // Two atoms (the usual case of several) are put in order without a sort's work array.
    if (out.length === 2) {
      if (atomOrder(out[0]!, out[1]!) > 0) out.reverse();
      return out;
    }
    return out.sort(atomOrder);
  }

  /** Groups a rule's destinations by the flows it gives them (a service's ports, or the rule's). */
  private destGroups(rule: PolicyRule, restrict: RangeSet | undefined): readonly DstGroup[] {
    if (rule.to.length === 1) return this.destGroup(rule, rule.to[0]!, restrict);
    // The addresses of one group are normalised once at the end (a union per target was quadratic).
    const flowsOf: FlowSet[] = [];
    const parts: RangeSet[][] = [];
    for (let x = 0; x < rule.to.length; x++) {
      const t = rule.to[x]!;
      let flows: FlowSet = rule.ports ?? ALL_FLOWS;
      if (t.kind === 'service') flows = rule.ports ? flowIntersect(rule.ports, t.flows) : t.flows;
      if (flowIsEmpty(flows)) continue;
      const addrs = restrictTo(this.addrs(t), restrict);
      if (addrs.length === 0) continue;
      let i = 0;
      while (i < flowsOf.length && !flowEqual(flowsOf[i]!, flows)) i++;
      if (i < flowsOf.length) parts[i]!.push(addrs);
      else {
        flowsOf.push(flows);
        parts.push([addrs]);
      }
    }
    if (flowsOf.length === 0) return NONE;
    const out: DstGroup[] = new Array<DstGroup>(flowsOf.length);
    for (let i = 0; i < flowsOf.length; i++) {
      const p = parts[i]!;
      const addrs = p.length === 1 ? p[0]! : R.normalize(p.flat());
      out[i] = { addrs, dst: isAll(addrs) ? undefined : addrs, flows: flowsOf[i]! };
    }
    return out;
  }

  /** destGroups of a rule with one destination: one group or none, without the lists a merge needs. */
  private destGroup(rule: PolicyRule, t: Target, restrict: RangeSet | undefined): readonly DstGroup[] {
    let flows: FlowSet = rule.ports ?? ALL_FLOWS;
    if (t.kind === 'service') flows = rule.ports ? flowIntersect(rule.ports, t.flows) : t.flows;
    if (flowIsEmpty(flows)) return NONE;
    const addrs = restrictTo(this.addrs(t), restrict);
    if (addrs.length === 0) return NONE;
    return [{ addrs, dst: isAll(addrs) ? undefined : addrs, flows }];
  }

  /**
   * destGroups unrestricted, per destination list and ports: rules share both (1k-host spec:
   * 10,000 rules, 4,946 pairs), so each pair's groups are made once.
   */
  private readonly grouped = new Map<readonly Target[], Map<FlowSet | undefined, readonly DstGroup[]>>();

  private unrestrictedGroups(rule: PolicyRule): readonly DstGroup[] {
    let byPorts = this.grouped.get(rule.to);
    if (!byPorts) this.grouped.set(rule.to, (byPorts = new Map<FlowSet | undefined, readonly DstGroup[]>()));
    let groups = byPorts.get(rule.ports);
    if (!groups) byPorts.set(rule.ports, (groups = this.destGroups(rule, undefined)));
    return groups;
  }

  private prepare(): void {
    if (this.srcs.length === this.policy.length) return;
    const n = this.policy.length;
    const srcs = new Array<readonly SrcAtom[]>(n);
    const srcHost = new Array<HostInfo | undefined>(n);
    const dsts = new Array<readonly DstGroup[]>(n);
    for (let k = 0; k < n; k++) {
      const from = this.policy[k]!.from;
      const one = from.length === 1 && (from[0]!.kind === 'host' || from[0]!.kind === 'service') ? this.info(from[0]!.host) : undefined;
      srcHost[k] = one;
      srcs[k] = one ? this.hostSources(one, '') : this.merge(from, '', undefined);
      dsts[k] = this.unrestrictedGroups(this.policy[k]!);
    }
    this.srcs = srcs;
    this.srcHost = srcHost;
    this.dsts = dsts;
  }

  /** Whether some source of rule k (not of one host: see srcHost) is bound at `enforcer`. */
  private bound(enforcer: string, k: number): boolean {
    if (enforcer === '') return false;
    if (!this.boundBy) {
      const by = new Map<string, Uint8Array>();
      const n = this.policy.length;
      for (let r = 0; r < n; r++) {
        if (this.srcHost[r]) continue;
        const from = this.policy[r]!.from;
        for (let i = 0; i < from.length; i++) {
          const es = this.binders(from[i]!);
          for (let j = 0; j < es.length; j++) {
            const e = es[j]!;
            let marks = by.get(e);
            if (!marks) by.set(e, (marks = new Uint8Array(n)));
            marks[r] = 1;
          }
        }
      }
      this.boundBy = by;
    }
    const marks = this.boundBy.get(enforcer);
    return marks !== undefined && marks[k] === 1;
  }

  /** Enforcers at which sourceAtoms may bind some of `t`'s addresses (a superset). */
  private binders(t: Target): readonly string[] {
    if (t.kind === 'host' || t.kind === 'service') return this.info(t.host).binders;
    if (t.kind !== 'network') return NONE;
    const owner = this.model.networks.get(t.network)?.owner;
    const server = this.model.tunnels.get(t.network)?.server;
    return owner !== undefined ? (server !== undefined ? [owner, server] : [owner]) : server !== undefined ? [server] : NONE;
  }

  /**
   * Appends the drafts of rule k at `enforcer` to `out`, its sources restricted to `srcRestrict`
   * and its destinations to `dstRestrict` (undefined: not restricted).
   */
  draft(k: number, enforcer: string, srcRestrict: RangeSet | undefined, dstRestrict: RangeSet | undefined, out: RuleList): void {
    this.prepare();
    const rule = this.policy[k]!;
    let srcs: readonly SrcAtom[];
    if (srcRestrict === undefined) {
      const one = this.srcHost[k];
      // One host: its sources at this enforcer, kept (the plain ones when nothing binds there).
      if (one) srcs = this.hostSources(one, enforcer);
      else srcs = this.bound(enforcer, k) ? this.merge(rule.from, enforcer, undefined) : this.srcs[k]!;
    } else {
      // What sourceAtoms would find empty after the restriction: no drafts at all.
      const all = this.srcs[k]!;
      if (all.length === 0 || !meets(all[0]!.addrs, srcRestrict)) return;
      srcs = this.sourceAtoms(rule.from, enforcer, srcRestrict);
    }
    if (srcs.length === 0) return;
    if (srcs === this.srcs[k] && dstRestrict === undefined) {
      // Nothing about this chain changes the rule: its drafts, built once.
      let ds = this.drafts[k];
      if (!ds) {
        const list: Draft[] = [];
        this.push(rule, srcs, this.dsts[k]!, list);
        this.drafts[k] = ds = list;
      }
      out.addAll(ds);
      return;
    }
    const dsts = dstRestrict === undefined ? this.dsts[k]! : this.destGroups(rule, dstRestrict);
    if (dsts.length === 0) return;
    const action = rule.action === 'allow' ? 'accept' : 'drop';
    for (let i = 0; i < srcs.length; i++) {
      const s = srcs[i]!;
      const src = isAll(s.addrs) ? undefined : s.addrs;
      for (let j = 0; j < dsts.length; j++) {
        const d = dsts[j]!;
        // ANY_MATCH with these fields set, as one literal in its field order.
        out.addPolicy(rule, action, { src, dst: d.dst, flows: d.flows, iif: s.b.iifs, oif: undefined, inPort: s.b.inPorts, state: undefined });
      }
    }
  }

  private push(rule: PolicyRule, srcs: readonly SrcAtom[], dsts: readonly DstGroup[], out: Draft[]): void {
    if (dsts.length === 0) return;
    const action = rule.action === 'allow' ? 'accept' : 'drop';
    for (let i = 0; i < srcs.length; i++) {
      const s = srcs[i]!;
      const src = isAll(s.addrs) ? undefined : s.addrs;
      for (let j = 0; j < dsts.length; j++) {
        const d = dsts[j]!;
        out.push({
          // ANY_MATCH with these fields set, as one literal in its field order.
          match: { src, dst: d.dst, flows: d.flows, iif: s.b.iifs, oif: undefined, inPort: s.b.inPorts, state: undefined },
          action,
          log: rule.log,
          rate: rule.rate,
          role: 'policy',
          origin: rule.origin,
          policyIndex: rule.index,
        });
      }
    }
  }

  /**
   * Positions of the policy rules, in order, whose sources (or destinations) meet `addrs`: a
   * superset of those `draft` keeps under that restriction, found through an index instead of a
   * pass over every rule per chain.
   */
  meeting(side: 'src' | 'dst', addrs: RangeSet): Int32Array {
    let index = side === 'src' ? this.bySrc : this.byDst;
    if (!index) {
      this.prepare();
      const n = this.policy.length;
      const sets = new Array<RangeSet | undefined>(n);
      for (let k = 0; k < n; k++) {
        if (side === 'src') {
          // Unbound and unrestricted, a rule's sources are one atom holding every source address.
          sets[k] = this.srcs[k]![0]?.addrs;
        } else {
          // Destinations without a flow draft nothing: the groups hold every address that drafts.
          const gs = this.dsts[k]!;
          sets[k] = gs.length === 1 ? gs[0]!.addrs : gs.length === 0 ? undefined : gs.flatMap((g) => g.addrs);
        }
      }
      index = new SpanIndex(sets);
      if (side === 'src') this.bySrc = index;
      else this.byDst = index;
    }
    return index.meeting(addrs);
  }
}
