/**
 * model → IR. Decides which enforcement points exist and compiles the policy into each of them.
 *
 * Placement: every managed host gets input, output and (if it forwards) forward chains; a guest
 * with a per-guest firewall gets guest-out/guest-in (run by its bridge's owner); an untrusted host
 * with a local firewall gets in-guest input/output (defence in depth, ignored when the guest is
 * assumed compromised). Hand-written chains from `firewalls:` replace the compiled ones as-is.
 */
import { targetAddrs } from '../model/addresses.js';
import { lanEntry } from '../model/bridge-ports.js';
import { GUEST_KINDS, type Hook, type Host, type Model, type Origin, type PolicyRule, type Target } from '../model/types.js';
import { ALL_FLOWS, flowEqual, flowIntersect, flowIsEmpty, NO_FLOWS, type FlowSet } from '../util/flows.js';
import { formatIPv4 } from '../util/ip.js';
import { IntervalIndex } from '../util/interval-index.js';
import * as R from '../util/rangeset.js';
import type { RangeSet } from '../util/rangeset.js';
import { diag, type Diagnostic } from '../diag/diagnostic.js';
import { Code } from '../diag/codes.js';
import { forwardDrafts } from './forwards.js';
import { pointId, type Action, type Chain, type Ir, type IrMatch, type IrRule, type RuleRole } from './types.js';

const ANY_MATCH: IrMatch = { src: undefined, dst: undefined, flows: ALL_FLOWS, iif: undefined, oif: undefined, inPort: undefined, state: undefined };

interface Draft {
  match: IrMatch;
  action: Action;
  log: boolean;
  rate: string | undefined;
  role: RuleRole;
  origin: Origin;
  policyIndex: number | undefined;
}

export function compile(model: Model): Ir {
  const chains = new Map<string, Chain>();
  const ds: Diagnostic[] = [];
  const hosts = [...model.hosts.values()].sort((a, b) => a.name.localeCompare(b.name));
  const spans = new RuleSpans(model);
  hostAtomCache.delete(model); // nothing kept from an earlier compile of this model
  for (const h of hosts) {
    for (const hook of hostHooks(model, h)) {
      const id = pointId(h.name, hook);
      const hand = model.firewalls.get(id);
      const enforcedOn = hook === 'guest-in' || hook === 'guest-out' ? (bridgeOwner(model, h) ?? h.name) : h.name;
      const inGuest = !h.trusted && hook !== 'guest-in' && hook !== 'guest-out';
      if (hand) {
        chains.set(id, {
          point: id,
          host: h.name,
          hook,
          enforcedOn,
          inGuest,
          policy: hand.policy,
          policyOrigin: hand.origin,
          rules: finalize(
            id,
            hand.rules.map((r) => ({
              match: {
                src: r.src,
                dst: r.dst,
                flows: r.flows,
                iif: r.iif ? [r.iif] : undefined,
                oif: r.oif ? [r.oif] : undefined,
                inPort: r.inPort ? [r.inPort] : undefined,
                state: r.state,
              },
              action: r.action,
              log: r.log,
              rate: undefined,
              role: 'handwritten' as const,
              origin: r.origin,
              policyIndex: undefined,
            })),
          ),
          handwritten: true,
        });
        continue;
      }
      const drafts = compileChain(model, h, hook, enforcedOn, spans);
      const policy = defaultPolicy(h, hook);
      chains.set(id, {
        point: id,
        host: h.name,
        hook,
        enforcedOn,
        inGuest,
        policy,
        policyOrigin: {
          file: model.file,
          line: h.origin.line,
          col: h.origin.col,
          path: h.origin.path,
          text: `cordon default for ${id}: ${policy}${policy === 'drop' ? ' (default deny)' : ` (egress: ${h.egress})`}`,
        },
        rules: finalize(id, drafts),
        handwritten: false,
      });
    }
  }
  ds.push(...unplacedFirewalls(model, (point) => chains.has(point)));
  ds.push(...unfilteredIpv6(model));
  return { model, chains, diagnostics: ds };
}

/** The hooks a host gets a chain on, in the order compile builds them. */
function hostHooks(model: Model, h: Host): Hook[] {
  const hooks: Hook[] = [];
  if (h.managed || (!h.trusted && h.localFirewall)) hooks.push('input', 'output');
  if ((h.managed || (!h.trusted && h.localFirewall)) && h.forward) hooks.push('forward');
  if (h.guestFirewall) hooks.push('guest-out', 'guest-in');
  for (const fw of model.firewalls.values()) if (fw.host === h.name && !hooks.includes(fw.hook)) hooks.push(fw.hook);
  return hooks;
}

function unplacedFirewalls(model: Model, hasChain: (point: string) => boolean): Diagnostic[] {
  const ds: Diagnostic[] = [];
  for (const fw of model.firewalls.values()) {
    if (!hasChain(fw.point))
      ds.push(
        diag(Code.CHAIN_OFF_PATH, 'warning', `hand-written chain '${fw.point}' is not on any path cordon models`, {
          file: model.file,
          line: fw.origin.line,
          col: fw.origin.col,
          path: fw.origin.path,
        }),
      );
  }
  return ds;
}

/**
 * The diagnostics `compile(model).diagnostics` would give, without compiling: `cordon check` needs
 * only these, and drafting every chain is most of its time on big specs.
 */
export function compileDiagnostics(model: Model): Diagnostic[] {
  const points = new Set<string>();
  for (const h of model.hosts.values()) for (const hook of hostHooks(model, h)) points.add(pointId(h.name, hook));
  return [...unplacedFirewalls(model, (point) => points.has(point)), ...unfilteredIpv6(model)];
}

/**
 * Guests on a network no managed host bridges (its gateway is a router outside the spec): the
 * renderers drop IPv6 only on bridges cordon's hosts own (src/render/nftables/ipv6.ts), so there
 * the guests' IPv6 (link-local, SLAAC from a router on the segment) passes no cordon rule set, and
 * the matrix, IPv4 only, does not show it.
 */
function unfilteredIpv6(model: Model): Diagnostic[] {
  const ds: Diagnostic[] = [];
  for (const net of model.networks.values()) {
    if (net.owner !== undefined) continue;
    const members = [...model.hosts.values()].filter((h) => h.nics.some((n) => n.segment === net.name));
    const guests = members.filter((h) => GUEST_KINDS.has(h.kind)).map((h) => h.name);
    // Who on the segment would take the guests' IPv6 without a cordon rule set of its own in the way.
    const open = members.filter((h) => GUEST_KINDS.has(h.kind) || !h.managed).map((h) => h.name);
    const outsideGateway = net.gateway !== undefined && !members.some((h) => h.nics.some((n) => n.address === net.gateway));
    // A lone guest with only managed hosts around (each drops IPv6 in its own rule set) is no finding.
    const peers = [...open.filter((h) => guests.length > 1 || !guests.includes(h)), ...(outsideGateway ? [`the router at ${formatIPv4(net.gateway)}`] : [])];
    if (guests.length === 0 || peers.length === 0) continue;
    ds.push(
      diag(
        Code.IPV6_UNSUPPORTED,
        'warning',
        `network ${net.name} is bridged by no host cordon manages, so IPv6 between ${guests.sort().join(', ')} and ${peers.sort().join(', ')} there (link-local, addresses from a router's advertisements) passes no cordon rule set; the matrix, IPv4 only, does not show it`,
        { file: model.file, line: net.origin.line, col: net.origin.col, path: net.origin.path },
        "give the network an owner (a managed hypervisor holding its gateway), or switch IPv6 off where the segment's switch or router can (in the guest it is not a wall)",
      ),
    );
  }
  return ds;
}

function finalize(point: string, drafts: readonly Draft[]): IrRule[] {
  // One literal per rule, fields in the order a spread of the draft gave (JSON output keeps it):
  // a spread copies through a generic path, and a big spec's forward chain has tens of thousands.
  const out: IrRule[] = new Array<IrRule>(drafts.length);
  for (let index = 0; index < drafts.length; index++) {
    const d = drafts[index]!;
    out[index] = {
      id: `${point}#${index}`,
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
  return out;
}

function defaultPolicy(h: Host, hook: Hook): 'accept' | 'drop' {
  if (hook === 'output' && h.trusted) return h.egress === 'open' ? 'accept' : 'drop';
  return 'drop';
}

export function bridgeOwner(model: Model, h: Host): string | undefined {
  for (const n of h.nics) {
    const net = model.networks.get(n.segment);
    if (net?.owner && n.port) return net.owner;
  }
  return undefined;
}

function hostAddrs(h: Host, filter?: (segment: string) => boolean): RangeSet {
  return R.normalize(h.nics.filter((n) => !filter || filter(n.segment)).map((n) => [n.address, n.address] as const));
}

/** A set of source addresses with the interface binding that makes it unforgeable at `enforcer`. */
interface SrcAtom {
  addrs: RangeSet;
  iif: string | undefined;
  inPort: string | undefined;
}

/** A source atom with its binding as a key, for merging atoms of one binding. */
interface KeyedAtom extends SrcAtom {
  readonly key: string;
}

function keyed(addrs: RangeSet, iif: string | undefined, inPort: string | undefined): KeyedAtom {
  return { addrs, iif, inPort, key: `${iif ?? ''}|${inPort ?? ''}` };
}

/**
 * Hosts' source atoms as an enforcer sees them, one per nic; the same for every rule naming the
 * host, so kept per model, enforcer and host (big specs name a host in many rules).
 */
const hostAtomCache = new WeakMap<Model, Map<string, Map<string, readonly KeyedAtom[]>>>();

function hostAtomsFor(model: Model, enforcer: string): Map<string, readonly KeyedAtom[]> {
  let perModel = hostAtomCache.get(model);
  if (!perModel) hostAtomCache.set(model, (perModel = new Map<string, Map<string, readonly KeyedAtom[]>>()));
  let perEnforcer = perModel.get(enforcer);
  if (!perEnforcer) perModel.set(enforcer, (perEnforcer = new Map<string, readonly KeyedAtom[]>()));
  return perEnforcer;
}

function hostAtoms(model: Model, cache: Map<string, readonly KeyedAtom[]>, host: string, enforcer: string): readonly KeyedAtom[] {
  let atoms = cache.get(host);
  if (!atoms) {
    const h = model.hosts.get(host)!;
    const list: KeyedAtom[] = [];
    for (const nic of h.nics) {
      const net = model.networks.get(nic.segment);
      const tun = model.tunnels.get(nic.segment);
      const addrs: RangeSet = [[nic.address, nic.address]];
      if (net && net.owner === enforcer && nic.port) list.push(keyed(addrs, undefined, nic.port));
      else if (tun && tun.server === enforcer && h.name !== enforcer) list.push(keyed(addrs, tun.ifname, undefined));
      else list.push(keyed(addrs, undefined, undefined));
    }
    cache.set(host, (atoms = list));
  }
  return atoms;
}

/** `addrs` ∩ `restrict`; a single address (most of them) is looked up instead of a new set built. */
function restrictTo(addrs: RangeSet, restrict: RangeSet | undefined): RangeSet {
  if (!restrict) return addrs;
  if (addrs.length === 1 && addrs[0]![0] === addrs[0]![1]) return R.contains(restrict, addrs[0]![0]) ? addrs : R.EMPTY;
  return R.intersect(addrs, restrict);
}

/** Splits a rule's sources so that a guest's address is matched together with its bridge port. */
function sourceAtoms(model: Model, targets: readonly Target[], enforcer: string, restrict: RangeSet | undefined): SrcAtom[] {
  // Atoms with the same binding are merged, in the order their bindings first appear; what the
  // restriction excludes is dropped. The parts of one binding are normalised once at the end: a
  // union per atom was quadratic in a group's size. Most rules have one or two bindings, so they
  // are kept in a short list searched by key, not a Map with an entry object per binding.
  const merged: { atom: KeyedAtom; parts: RangeSet[] }[] = [];
  const cache = hostAtomsFor(model, enforcer);
  const add = (a: KeyedAtom): void => {
    const addrs = restrictTo(a.addrs, restrict);
    if (addrs.length === 0) return;
    for (const m of merged)
      if (m.atom.key === a.key) {
        m.parts.push(addrs);
        return;
      }
    merged.push({ atom: a, parts: [addrs] });
  };
  for (const t of targets) {
    if (t.kind === 'host' || t.kind === 'service') {
      for (const atom of hostAtoms(model, cache, t.host, enforcer)) add(atom);
    } else if (t.kind === 'network') {
      const net = model.networks.get(t.network);
      const tun = model.tunnels.get(t.network);
      const addrs = targetAddrs(model, t);
      if (net && net.owner === enforcer) add(keyed(addrs, net.bridge, undefined));
      else if (tun && tun.server === enforcer) add(keyed(addrs, tun.ifname, undefined));
      else add(keyed(addrs, undefined, undefined));
    } else {
      add(keyed(targetAddrs(model, t), undefined, undefined));
    }
  }
  const out: SrcAtom[] = new Array<SrcAtom>(merged.length);
  for (let i = 0; i < merged.length; i++) {
    const { atom, parts } = merged[i]!;
    out[i] = { addrs: parts.length === 1 ? parts[0]! : R.normalize(parts.flat()), iif: atom.iif, inPort: atom.inPort };
  }
  if (out.length < 2) return out;
  return out.sort((x, y) => x.addrs[0]![0] - y.addrs[0]![0] || `${x.inPort}${x.iif}`.localeCompare(`${y.inPort}${y.iif}`));
}

/** Groups destinations by the flows the rule gives them (a service's ports, or the rule's). */
function destGroups(spans: RuleSpans, rule: PolicyRule, restrict: RangeSet | undefined): { addrs: RangeSet; flows: FlowSet }[] {
  // The addresses of one group are normalised once at the end (a union per target was quadratic).
  const groups: { parts: RangeSet[]; flows: FlowSet }[] = [];
  for (const t of rule.to) {
    let flows: FlowSet = rule.ports ?? ALL_FLOWS;
    if (t.kind === 'service') flows = rule.ports ? flowIntersect(rule.ports, t.flows) : t.flows;
    if (flowIsEmpty(flows)) continue;
    const addrs = restrictTo(spans.addrs(t), restrict);
    if (addrs.length === 0) continue;
    const same = groups.find((g) => flowEqual(g.flows, flows));
    if (same) same.parts.push(addrs);
    else groups.push({ parts: [addrs], flows });
  }
  return groups.map((g) => ({ addrs: g.parts.length === 1 ? g.parts[0]! : R.normalize(g.parts.flat()), flows: g.flows }));
}

function isAll(a: RangeSet): boolean {
  return a.length === 1 && a[0]![0] === 0 && a[0]![1] === 0xffffffff;
}

/**
 * Every address a rule's sources and destinations stand for, computed once per rule. Each chain
 * drafts every policy rule, and most rules cannot touch a given host's input, output or guest
 * chains; knowing that from these sets skips building their atoms (chains × rules × targets).
 */
class RuleSpans {
  private readonly cache = new Map<PolicyRule, { src: RangeSet; dst: RangeSet }>();
  private readonly hostAddrs = new Map<string, RangeSet>();
  private bySrc: IntervalIndex | undefined;
  private byDst: IntervalIndex | undefined;
  constructor(private readonly model: Model) {}

  of(rule: PolicyRule): { src: RangeSet; dst: RangeSet } {
    let s = this.cache.get(rule);
    if (!s) {
      s = { src: this.all(rule.from), dst: this.all(rule.to) };
      this.cache.set(rule, s);
    }
    return s;
  }

  private all(ts: readonly Target[]): RangeSet {
    if (ts.length === 1) return this.addrs(ts[0]!);
    const spans: (readonly [number, number])[] = [];
    for (const t of ts) for (const span of this.addrs(t)) spans.push(span);
    return R.normalize(spans);
  }

  /** targetAddrs, kept per host: a host named in many rules is normalised once (shared: never changed). */
  addrs(t: Target): RangeSet {
    if (t.kind !== 'host' && t.kind !== 'service') return targetAddrs(this.model, t);
    let a = this.hostAddrs.get(t.host);
    if (!a) this.hostAddrs.set(t.host, (a = targetAddrs(this.model, t)));
    return a;
  }

  /**
   * The policy rules, in order, whose sources (or destinations) meet `addrs`: a superset of those
   * policyDrafts keeps under that restriction, found through an index instead of a pass over every
   * rule per chain (10,000 hosts × 3 chains × 100,000 rules was most of compiling a big spec).
   */
  meeting(side: 'src' | 'dst', addrs: RangeSet): PolicyRule[] {
    const policy = this.model.policy;
    let index = side === 'src' ? this.bySrc : this.byDst;
    if (!index) {
      const items: { lo: number; hi: number; id: number }[] = [];
      policy.forEach((r, id) => {
        for (const [lo, hi] of this.of(r)[side]) items.push({ lo, hi, id });
      });
      index = new IntervalIndex(items);
      if (side === 'src') this.bySrc = index;
      else this.byDst = index;
    }
    const ids: number[] = [];
    for (const [lo, hi] of addrs) index.query(lo, hi, ids);
    // A rule with several ranges is found once per range that meets: once is enough.
    const sorted = Int32Array.from(ids).sort();
    const out: PolicyRule[] = [];
    for (let k = 0; k < sorted.length; k++) if (k === 0 || sorted[k] !== sorted[k - 1]) out.push(policy[sorted[k]!]!);
    return out;
  }
}

/** Whether two range sets share a value: each span of the smaller one looked up in the larger. */
function meets(a: RangeSet, b: RangeSet): boolean {
  const [small, big] = a.length <= b.length ? [a, b] : [b, a];
  for (const [lo, hi] of small) {
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

/** Appends the drafts of one policy rule at `enforcer` to `out` (the chain's list: no list per rule). */
function policyDrafts(
  model: Model,
  spans: RuleSpans,
  rule: PolicyRule,
  enforcer: string,
  srcRestrict: RangeSet | undefined,
  dstRestrict: RangeSet | undefined,
  out: Draft[],
): void {
  // What sourceAtoms and destGroups would find empty after the restriction: no drafts at all.
  if (srcRestrict && !meets(spans.of(rule).src, srcRestrict)) return;
  if (dstRestrict && !meets(spans.of(rule).dst, dstRestrict)) return;
  const srcs = sourceAtoms(model, rule.from, enforcer, srcRestrict);
  if (srcs.length === 0) return;
  const dsts = destGroups(spans, rule, dstRestrict);
  const action = rule.action === 'allow' ? 'accept' : 'drop';
  for (const s of srcs) {
    const src = isAll(s.addrs) ? undefined : s.addrs;
    const iif = s.iif ? [s.iif] : undefined;
    const inPort = s.inPort ? [s.inPort] : undefined;
    for (const d of dsts) {
      out.push({
        // ANY_MATCH with these fields set, as one literal in its field order.
        match: { src, dst: isAll(d.addrs) ? undefined : d.addrs, flows: d.flows, iif, oif: undefined, inPort, state: undefined },
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

const STATEFUL = (h: Host, model: Model): Draft => ({
  match: { ...ANY_MATCH, state: 'established' },
  action: 'accept',
  log: false,
  rate: undefined,
  role: 'stateful',
  origin: { ...h.origin, file: model.file, text: 'replies to allowed connections (ct state established,related)' },
  policyIndex: undefined,
});

/** Rules that implement hosts' egress modes; they come before the policy so they cannot be overridden. */
function egressDrafts(model: Model, guests: readonly Host[], enforcer: string): Draft[] {
  const out: Draft[] = [];
  for (const g of guests) {
    if (g.egress === 'isolated') {
      const src = sourceAtoms(model, [{ kind: 'host', host: g.name, name: g.name }], enforcer, undefined);
      for (const s of src) {
        out.push({
          // Bound to the guest's port, the rule needs no source address, so forging one cannot dodge it.
          match: {
            ...ANY_MATCH,
            src: s.inPort ? undefined : s.addrs,
            dst: R.union(model.internet, model.lan),
            iif: s.iif ? [s.iif] : undefined,
            inPort: s.inPort ? [s.inPort] : undefined,
          },
          action: 'drop',
          log: true,
          rate: undefined,
          role: 'egress',
          origin: { ...g.origin, text: `${g.name} egress: isolated (no internet, no LAN)` },
          policyIndex: undefined,
        });
      }
    } else if (g.egress === 'vpn-only' && g.vpnTunnel) {
      const t = model.tunnels.get(g.vpnTunnel)!;
      const underlay = R.normalize(g.nics.filter((n) => n.segment !== t.name).map((n) => [n.address, n.address] as const));
      const src = sourceAtoms(model, [{ kind: 'host', host: g.name, name: g.name }], enforcer, underlay);
      for (const s of src) {
        const base = { ...ANY_MATCH, src: s.inPort ? undefined : s.addrs, iif: s.iif ? [s.iif] : undefined, inPort: s.inPort ? [s.inPort] : undefined };
        out.push({
          match: { ...base, dst: [[t.endpoint, t.endpoint]], flows: { ...NO_FLOWS, udp: [[t.listen, t.listen]] } },
          action: 'accept',
          log: false,
          rate: undefined,
          role: 'tunnel',
          origin: { ...g.origin, text: `${g.name} egress: vpn-only — the tunnel's own transport to ${formatIPv4(t.endpoint)} udp/${t.listen}` },
          policyIndex: undefined,
        });
        out.push({
          match: base,
          action: 'drop',
          log: true,
          rate: undefined,
          role: 'egress',
          origin: { ...g.origin, text: `${g.name} egress: vpn-only — everything else outside ${t.name} is dropped` },
          policyIndex: undefined,
        });
      }
    }
  }
  return out;
}

function openDrafts(model: Model, guests: readonly Host[], enforcer: string): Draft[] {
  const out: Draft[] = [];
  for (const g of guests) {
    if (g.egress !== 'open' || g.trusted) continue;
    for (const s of sourceAtoms(model, [{ kind: 'host', host: g.name, name: g.name }], enforcer, undefined)) {
      out.push({
        match: { ...ANY_MATCH, src: s.addrs, iif: s.iif ? [s.iif] : undefined, inPort: s.inPort ? [s.inPort] : undefined },
        action: 'accept',
        log: false,
        rate: undefined,
        role: 'egress',
        origin: { ...g.origin, text: `${g.name} egress: open` },
        policyIndex: undefined,
      });
    }
  }
  return out;
}

function compileChain(model: Model, h: Host, hook: Hook, enforcedOn: string, spans: RuleSpans): Draft[] {
  const own = hostAddrs(h);
  const drafts: Draft[] = [STATEFUL(h, model)];
  switch (hook) {
    case 'input': {
      drafts.push(loopback(h, 'iif'));
      drafts.push(...tunnelListen(model, h));
      // A packet from one of the host's own addresses never reaches input except over lo (the kernel
      // drops it as a martian, accept_local=0): the host's own outgoing rules do not belong here.
      const notOwn = R.subtract([[0, 0xffffffff]], own);
      for (const r of spans.meeting('dst', own)) policyDrafts(model, spans, r, h.name, notOwn, own, drafts);
      break;
    }
    case 'output': {
      drafts.push(loopback(h, 'oif'));
      if (!h.trusted) {
        drafts.push(...inGuestEgress(model, h));
        if (h.egress === 'vpn-only') break;
      }
      if (h.egress === 'isolated') drafts.push(...egressDrafts(model, [h], h.name));
      for (const r of spans.meeting('src', own)) policyDrafts(model, spans, r, '', own, undefined, drafts);
      if (!h.trusted) drafts.push(...openDrafts(model, [h], ''));
      break;
    }
    case 'forward': {
      const untrusted = [...model.hosts.values()].filter((g) => !g.trusted).sort((a, b) => a.name.localeCompare(b.name));
      drafts.push(...isolatedNetworkDrafts(model, h));
      drafts.push(...egressDrafts(model, untrusted, h.name));
      drafts.push(...forwardDrafts(model, h));
      const notOwn = R.subtract([[0, 0xffffffff]], own);
      for (const r of model.policy) policyDrafts(model, spans, r, h.name, notOwn, notOwn, drafts);
      drafts.push(...openDrafts(model, untrusted, h.name));
      break;
    }
    case 'guest-out': {
      if (h.antiSpoof) {
        drafts.unshift({
          match: { ...ANY_MATCH, src: R.complement(own, [0, 0xffffffff]) },
          action: 'drop',
          log: true,
          rate: undefined,
          role: 'antispoof',
          origin: { ...h.origin, text: `anti-spoofing: ${h.name} may only send from its own addresses` },
          policyIndex: undefined,
        });
      }
      drafts.push(...egressDrafts(model, [h], enforcedOn));
      for (const r of spans.meeting('src', own)) policyDrafts(model, spans, r, enforcedOn, own, undefined, drafts);
      drafts.push(...openDrafts(model, [h], enforcedOn));
      break;
    }
    case 'guest-in': {
      for (const r of spans.meeting('dst', own)) policyDrafts(model, spans, r, enforcedOn, undefined, own, drafts);
      break;
    }
  }
  return drafts;
}

/**
 * A network with `egress: none` never reaches the internet or the LAN through this router, whoever
 * sends: a host that is also on a NAT network must not leak through its isolated leg either.
 */
function isolatedNetworkDrafts(model: Model, h: Host): Draft[] {
  const out: Draft[] = [];
  for (const nic of h.nics) {
    const net = model.networks.get(nic.segment);
    if (!net || net.egress !== 'none') continue;
    out.push({
      match: { ...ANY_MATCH, iif: [nic.ifname], dst: R.union(model.internet, model.lan) },
      action: 'drop',
      log: true,
      rate: undefined,
      role: 'egress',
      origin: { ...net.origin, text: `network ${net.name} egress: none — nothing from it reaches the internet or the LAN` },
      policyIndex: undefined,
    });
  }
  return out;
}

function loopback(h: Host, dir: 'iif' | 'oif'): Draft {
  return {
    match: { ...ANY_MATCH, [dir]: ['lo'] },
    action: 'accept',
    log: false,
    rate: undefined,
    role: 'loopback',
    origin: { ...h.origin, text: `loopback traffic of ${h.name}` },
    policyIndex: undefined,
  };
}

/** A tunnel server accepts its peers' UDP transport on the listen port. */
function tunnelListen(model: Model, h: Host): Draft[] {
  const out: Draft[] = [];
  for (const t of [...model.tunnels.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    if (t.server !== h.name) continue;
    // Peers send from where they are: members on a network the server is also on, from their own
    // underlay addresses; the others (roaming peers, and hosts that reach the server across the
    // internet, seen from a public address: their own or that of a NAT on the way) from the
    // internet, through the uplink. Nobody else may knock on the port.
    const members = [...model.hosts.values()].filter((m) => m.name !== h.name && m.nics.some((n) => n.segment === t.name));
    const serverNets = new Set(h.nics.filter((n) => model.networks.has(n.segment)).map((n) => n.segment));
    const remote = (m: Host): boolean => m.roaming || !m.nics.some((n) => serverNets.has(n.segment));
    const rule = (src: RangeSet, iif: string[] | undefined, inPort?: string[]): Draft => ({
      match: { ...ANY_MATCH, src, iif, inPort, dst: [[t.endpoint, t.endpoint]], flows: { ...NO_FLOWS, udp: [[t.listen, t.listen]] } },
      action: 'accept',
      log: false,
      rate: undefined,
      role: 'tunnel',
      origin: { ...t.origin, text: `tunnel ${t.name}: peers' WireGuard transport to udp/${t.listen}` },
      policyIndex: undefined,
    });
    // Remote peers' packets come in where the internet does: the uplink, or a nic on the internet.
    // Bound to those interfaces, so a guest forging a public source address cannot knock; with
    // neither, the internet cannot reach the server at all and no rule is needed.
    const up = h.uplink ?? (h.defaultRoute.kind === 'uplink' ? h.defaultRoute.ifname : undefined);
    const fromInternet = [...new Set([...(up ? [up] : []), ...h.nics.filter((n) => n.segment === 'internet').map((n) => n.ifname)])];
    if (members.some(remote) && fromInternet.length > 0) out.push(rule(model.internet, fromInternet));
    // Without either, the router of a LAN bridged in by a physical port may forward the endpoint
    // (lanEntry): bound to that port, so a guest on the bridge cannot knock with a forged source.
    const entry = fromInternet.length === 0 ? lanEntry(model, h, t.endpoint) : undefined;
    if (members.some(remote) && entry) out.push(rule(model.internet, undefined, [entry.port]));
    // Local members send from their own underlay addresses, over a network they share with the
    // server: bound to the server's interfaces on those networks, so a guest elsewhere cannot knock
    // by forging a member's address; and a member behind a port of a bridge the server owns is
    // bound to that port, so that a guest on the same bridge cannot knock by forging it either.
    let local: RangeSet = R.EMPTY;
    const localNets = new Set<string>();
    const ported: [number, number][] = [];
    const ports = new Set<string>();
    for (const m of members) {
      if (remote(m)) continue;
      for (const n of m.nics) {
        if (n.segment === t.name) continue;
        if (n.port && model.networks.get(n.segment)?.owner === h.name) {
          ported.push([n.address, n.address]);
          ports.add(n.port);
          continue;
        }
        local = R.union(local, [[n.address, n.address]]);
        if (serverNets.has(n.segment)) localNets.add(n.segment);
      }
    }
    const localIif = h.nics.filter((n) => localNets.has(n.segment)).map((n) => n.ifname);
    if (local.length > 0) out.push(rule(local, [...new Set(localIif)].sort()));
    if (ported.length > 0) out.push(rule(R.normalize(ported), undefined, [...ports].sort()));
    if (members.length === 0) out.push(rule(R.EMPTY, undefined));
  }
  return out;
}

/** The in-guest kill switch of a vpn-only host: its tunnel, and the tunnel's own transport. */
function inGuestEgress(model: Model, h: Host): Draft[] {
  if (h.egress !== 'vpn-only' || !h.vpnTunnel) return [];
  const t = model.tunnels.get(h.vpnTunnel)!;
  return [
    {
      match: { ...ANY_MATCH, oif: [t.ifname] },
      action: 'accept',
      log: false,
      rate: undefined,
      role: 'tunnel',
      origin: { ...h.origin, text: `${h.name} egress: vpn-only — anything through ${t.ifname}` },
      policyIndex: undefined,
    },
    {
      match: { ...ANY_MATCH, dst: [[t.endpoint, t.endpoint]], flows: { ...NO_FLOWS, udp: [[t.listen, t.listen]] } },
      action: 'accept',
      log: false,
      rate: undefined,
      role: 'tunnel',
      origin: { ...h.origin, text: `${h.name} egress: vpn-only — ${t.name}'s own transport to ${formatIPv4(t.endpoint)} udp/${t.listen}` },
      policyIndex: undefined,
    },
  ];
}
