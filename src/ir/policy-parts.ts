/**
 * The parts of policy rules that every chain drafting them shares, computed once per compile: a
 * host's source atoms as an enforcer sees them, a rule's destination groups, and a rule's drafts
 * where nothing about the chain changes them. Most of compiling a big spec is its forward chains
 * drafting every policy rule (10,000 hosts: four forward chains × 100,000 rules); a rule whose
 * sources no interface binds at that enforcer and whose addresses miss the enforcer's own is the
 * same draft in each of them, so it is built once and pushed by reference.
 */
import { targetAddrs } from '../model/addresses.js';
import type { Model, Origin, PolicyRule, Target } from '../model/types.js';
import { ALL_FLOWS, flowEqual, flowIntersect, flowIsEmpty, type FlowSet } from '../util/flows.js';
import * as R from '../util/rangeset.js';
import type { RangeSet } from '../util/rangeset.js';
import { SpanIndex } from './span-index.js';
import type { Action, IrMatch, RuleRole } from './types.js';

/** An IR rule before it gets its id and index (drafts may be shared by chains: never changed). */
export interface Draft {
  readonly match: IrMatch;
  readonly action: Action;
  readonly log: boolean;
  readonly rate: string | undefined;
  readonly role: RuleRole;
  readonly origin: Origin;
  readonly policyIndex: number | undefined;
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

export class PolicyParts {
  readonly policy: readonly PolicyRule[];
  private readonly bindings = new Map<string, Binding>();
  private readonly unbound: Binding;
  /** A host's addresses, normalised once (shared: never changed). */
  private readonly hostAddrs = new Map<string, RangeSet>();
  /** enforcer → host → the host's atoms, one per nic, as that enforcer sees them. */
  private readonly atoms = new Map<string, Map<string, readonly SrcAtom[]>>();
  /** host → the enforcers at which one of its nics is bound (a superset: a bridge owner, a tunnel server). */
  private readonly hostBinders = new Map<string, readonly string[]>();
  /** Per rule (position in model.policy): its sources as no enforcer binds them, unrestricted. */
  private readonly srcs: (readonly SrcAtom[] | undefined)[];
  /** Per rule: its destination groups, unrestricted. */
  private readonly dsts: (readonly DstGroup[] | undefined)[];
  /** Per rule: the drafts of those two (the same at every chain no binding or restriction changes). */
  private readonly drafts: (readonly Draft[] | undefined)[];
  /** enforcer → per rule, 1 when some source of the rule is bound at that enforcer. */
  private boundBy: Map<string, Uint8Array> | undefined;
  private bySrc: SpanIndex | undefined;
  private byDst: SpanIndex | undefined;

  constructor(private readonly model: Model) {
    this.policy = model.policy;
    const n = model.policy.length;
    this.srcs = new Array<readonly SrcAtom[] | undefined>(n).fill(undefined);
    this.dsts = new Array<readonly DstGroup[] | undefined>(n).fill(undefined);
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

  /** targetAddrs, kept per host: a host named in many rules is normalised once. */
  addrs(t: Target): RangeSet {
    if (t.kind !== 'host' && t.kind !== 'service') return targetAddrs(this.model, t);
    let a = this.hostAddrs.get(t.host);
    if (!a) this.hostAddrs.set(t.host, (a = targetAddrs(this.model, t)));
    return a;
  }

  /** A host's source atoms as `enforcer` sees them, one per nic ('' = no enforcer: none bound). */
  hostAtoms(host: string, enforcer: string): readonly SrcAtom[] {
    let perEnforcer = this.atoms.get(enforcer);
    if (!perEnforcer) this.atoms.set(enforcer, (perEnforcer = new Map<string, readonly SrcAtom[]>()));
    let list = perEnforcer.get(host);
    if (!list) {
      const h = this.model.hosts.get(host)!;
      const out: SrcAtom[] = [];
      for (const nic of h.nics) {
        const net = this.model.networks.get(nic.segment);
        const tun = this.model.tunnels.get(nic.segment);
        const addrs: RangeSet = [[nic.address, nic.address]];
        if (net && net.owner === enforcer && nic.port) out.push({ addrs, b: this.binding(undefined, nic.port) });
        else if (tun && tun.server === enforcer && h.name !== enforcer) out.push({ addrs, b: this.binding(tun.ifname, undefined) });
        else out.push({ addrs, b: this.unbound });
      }
      perEnforcer.set(host, (list = out));
    }
    return list;
  }

  /** Splits sources so that a guest's address is matched together with its bridge port. */
  sourceAtoms(targets: readonly Target[], enforcer: string, restrict: RangeSet | undefined): readonly SrcAtom[] {
    // One host of one nic (most rules): its cached atom as it is when the restriction keeps it.
    if (targets.length === 1 && (targets[0]!.kind === 'host' || targets[0]!.kind === 'service')) {
      const list = this.hostAtoms(targets[0]!.host, enforcer);
      if (list.length === 1) {
        const addrs = restrictTo(list[0]!.addrs, restrict);
        return addrs.length === 0 ? NONE : addrs === list[0]!.addrs ? list : [{ addrs, b: list[0]!.b }];
      }
    }
    // Atoms with the same binding are merged, in the order their bindings first appear; what the
    // restriction excludes is dropped. The parts of one binding are normalised once at the end: a
    // union per atom was quadratic in a group's size. Most rules have one or two bindings, so they
    // are kept in a short list searched by binding.
    const bs: Binding[] = [];
    const parts: RangeSet[][] = [];
    const add = (addrs: RangeSet, b: Binding): void => {
      addrs = restrictTo(addrs, restrict);
      if (addrs.length === 0) return;
      const i = bs.indexOf(b);
      if (i >= 0) parts[i]!.push(addrs);
      else {
        bs.push(b);
        parts.push([addrs]);
      }
    };
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i]!;
      if (t.kind === 'host' || t.kind === 'service') {
        const atoms = this.hostAtoms(t.host, enforcer);
        for (let j = 0; j < atoms.length; j++) add(atoms[j]!.addrs, atoms[j]!.b);
      } else if (t.kind === 'network') {
        const net = this.model.networks.get(t.network);
        const tun = this.model.tunnels.get(t.network);
        const addrs = targetAddrs(this.model, t);
        if (net && net.owner === enforcer) add(addrs, this.binding(net.bridge, undefined));
        else if (tun && tun.server === enforcer) add(addrs, this.binding(tun.ifname, undefined));
        else add(addrs, this.unbound);
      } else {
        add(targetAddrs(this.model, t), this.unbound);
      }
    }
    const out: SrcAtom[] = new Array<SrcAtom>(bs.length);
    for (let i = 0; i < bs.length; i++) {
      const p = parts[i]!;
      out[i] = { addrs: p.length === 1 ? p[0]! : R.normalize(p.flat()), b: bs[i]! };
    }
    if (out.length < 2) return out;
    return out.sort((x, y) => x.addrs[0]![0] - y.addrs[0]![0] || x.b.order.localeCompare(y.b.order));
  }

  /** Groups a rule's destinations by the flows it gives them (a service's ports, or the rule's). */
  private destGroups(rule: PolicyRule, restrict: RangeSet | undefined): readonly DstGroup[] {
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

  /** Rule k's sources as no enforcer binds them, unrestricted: at most one atom (all unbound). */
  private plainSources(k: number): readonly SrcAtom[] {
    return (this.srcs[k] ??= this.sourceAtoms(this.policy[k]!.from, '', undefined));
  }

  private plainDests(k: number): readonly DstGroup[] {
    return (this.dsts[k] ??= this.destGroups(this.policy[k]!, undefined));
  }

  /** Whether some source of rule k is bound (to a port or an interface) at `enforcer`. */
  private bound(enforcer: string, k: number): boolean {
    if (enforcer === '') return false;
    if (!this.boundBy) {
      const by = new Map<string, Uint8Array>();
      const n = this.policy.length;
      for (let r = 0; r < n; r++) {
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

  /** Enforcers at which hostAtoms or sourceAtoms may bind some of `t`'s addresses (a superset). */
  private binders(t: Target): readonly string[] {
    if (t.kind === 'network') {
      const owner = this.model.networks.get(t.network)?.owner;
      const server = this.model.tunnels.get(t.network)?.server;
      return owner !== undefined ? (server !== undefined ? [owner, server] : [owner]) : server !== undefined ? [server] : NONE;
    }
    if (t.kind !== 'host' && t.kind !== 'service') return NONE;
    let list = this.hostBinders.get(t.host);
    if (!list) {
      const h = this.model.hosts.get(t.host)!;
      const out: string[] = [];
      for (const nic of h.nics) {
        const owner = this.model.networks.get(nic.segment)?.owner;
        const server = this.model.tunnels.get(nic.segment)?.server;
        if (owner !== undefined && nic.port !== undefined && !out.includes(owner)) out.push(owner);
        if (server !== undefined && server !== h.name && !out.includes(server)) out.push(server);
      }
      this.hostBinders.set(t.host, (list = out.length === 0 ? NONE : out));
    }
    return list;
  }

  /**
   * Appends the drafts of rule k at `enforcer` to `out`, its sources restricted to `srcRestrict`
   * and its destinations to `dstRestrict` (undefined: not restricted).
   */
  draft(k: number, enforcer: string, srcRestrict: RangeSet | undefined, dstRestrict: RangeSet | undefined, out: Draft[]): void {
    const plainSrc = srcRestrict === undefined && !this.bound(enforcer, k);
    if (plainSrc && dstRestrict === undefined) {
      let ds = this.drafts[k];
      if (!ds) {
        const list: Draft[] = [];
        this.push(this.policy[k]!, this.plainSources(k), this.plainDests(k), list);
        this.drafts[k] = ds = list;
      }
      for (let i = 0; i < ds.length; i++) out.push(ds[i]!);
      return;
    }
    const rule = this.policy[k]!;
    let srcs: readonly SrcAtom[];
    if (plainSrc) srcs = this.plainSources(k);
    else {
      // What sourceAtoms would find empty after the restriction: no drafts at all.
      const all = this.plainSources(k);
      if (all.length === 0 || (srcRestrict && !meets(all[0]!.addrs, srcRestrict))) return;
      srcs = this.sourceAtoms(rule.from, enforcer, srcRestrict);
    }
    if (srcs.length === 0) return;
    this.push(rule, srcs, dstRestrict === undefined ? this.plainDests(k) : this.destGroups(rule, dstRestrict), out);
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
      const n = this.policy.length;
      if (side === 'src') {
        // Unbound and unrestricted, a rule's sources are one atom holding every source address.
        this.bySrc = index = new SpanIndex(n, (k) => this.plainSources(k)[0]?.addrs);
      } else {
        // Destinations without a flow draft nothing: the groups hold every address that drafts.
        this.byDst = index = new SpanIndex(n, (k) => {
          const gs = this.plainDests(k);
          return gs.length === 1 ? gs[0]!.addrs : gs.length === 0 ? undefined : gs.flatMap((g) => g.addrs);
        });
      }
    }
    return index.meeting(addrs);
  }
}
