/**
 * One rule of `nft -j list ruleset` → what it matches, as alternatives of boxes (a concatenated
 * set lookup or an interface set is a union of boxes), its verdict, and every part cordon cannot
 * express. Values are read with the nft-json reader (values.ts); this module only knows which
 * field an expression names and how matches combine. Matches read: ip saddr/daddr/protocol,
 * meta l4proto/iifname/oifname/nfproto, tcp/udp/th dport, ct state, named and anonymous sets,
 * concatenations of those. Source ports, ICMP types, marks and the rest are named in `unknown`,
 * for the caller to widen or leave out the rule as the iptables importer does.
 */
import { ALL_PORTS, NO_FLOWS, type FlowSet } from '../../util/flows.js';
import { ADDR_MAX } from '../../util/ip.js';
import * as R from '../../util/rangeset.js';
import type { RangeSet } from '../../util/rangeset.js';
import { ANY_BOX, type Box } from '../common/box.js';
import type { Target } from '../iptables/match.js';
import type { NftRule, NftSet } from '../nft-json/ruleset.js';
import { concatParts, describeValue, members, parseAddr, parseIfname, parsePort, parseProto, type Iv, type Parsed } from '../nft-json/values.js';

/** Alternatives a rule may expand to (set elements × interface names); past it the rule is an error. */
export const MAX_ALTS = 4096;

/** One alternative while a rule is read: every dimension a conjunction of intervals. */
interface Part {
  readonly src: RangeSet | undefined;
  readonly dst: RangeSet | undefined;
  /** IP protocol numbers; undefined = any. */
  readonly proto: RangeSet | undefined;
  readonly dport: RangeSet | undefined;
  readonly iif: string | undefined;
  readonly oif: string | undefined;
  readonly state: 'new' | 'established' | undefined;
  /** Contradictory (two interfaces, disjoint states): matches nothing. */
  readonly empty: boolean;
}

const ANY_PART: Part = { src: undefined, dst: undefined, proto: undefined, dport: undefined, iif: undefined, oif: undefined, state: undefined, empty: false };

export interface NftParsed {
  readonly alts: readonly Box[];
  readonly target: Target;
  readonly unknown: readonly string[];
  /** The rule cannot match an IPv4 packet (ip6 fields, meta nfproto ipv6): it takes no part. */
  readonly notV4: boolean;
  readonly errors: readonly string[];
  readonly limited: boolean;
  /** Statements that change packets or state (NAT, marks…): not modelled, the packet goes on. */
  readonly effects: readonly string[];
}

type Field =
  | { kind: 'src' | 'dst' | 'proto' | 'dport' | 'iif' | 'oif' | 'state'; implies?: RangeSet }
  | { kind: 'sport' | 'nfproto'; implies?: RangeSet }
  | { kind: 'v6' }
  /** `implies`: the protocol the field's header belongs to (`icmp type` matches only ICMP). */
  | { kind: 'unknown'; text: string; implies?: RangeSet };

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const TCP: RangeSet = [[6, 6]];
const UDP: RangeSet = [[17, 17]];
const ICMP: RangeSet = [[1, 1]];
const TH: RangeSet = [
  [6, 6],
  [17, 17],
];

function fieldOf(left: unknown): Field {
  if (isObj(left) && isObj(left.payload)) {
    const p = left.payload;
    const proto = p.protocol;
    const field = p.field;
    if (proto === 'ip6' || proto === 'icmpv6') return { kind: 'v6' };
    if (proto === 'ip' && field === 'saddr') return { kind: 'src' };
    if (proto === 'ip' && field === 'daddr') return { kind: 'dst' };
    if (proto === 'ip' && field === 'protocol') return { kind: 'proto' };
    if ((proto === 'tcp' || proto === 'udp' || proto === 'th') && (field === 'dport' || field === 'sport')) {
      const implies = proto === 'tcp' ? TCP : proto === 'udp' ? UDP : TH;
      return field === 'dport' ? { kind: 'dport', implies } : { kind: 'sport', implies };
    }
    const implies = proto === 'tcp' ? TCP : proto === 'udp' ? UDP : proto === 'icmp' ? ICMP : undefined;
    return { kind: 'unknown', text: `${String(proto)} ${String(field)}`, ...(implies ? { implies } : {}) };
  }
  if (isObj(left) && isObj(left.meta)) {
    const k = left.meta.key;
    if (k === 'l4proto') return { kind: 'proto' };
    if (k === 'iifname') return { kind: 'iif' };
    if (k === 'oifname') return { kind: 'oif' };
    if (k === 'nfproto') return { kind: 'nfproto' };
    return { kind: 'unknown', text: `meta ${String(k)}` };
  }
  if (isObj(left) && isObj(left.ct) && left.ct.key === 'state' && left.ct.dir === undefined) return { kind: 'state' };
  if (isObj(left) && isObj(left.ct)) return { kind: 'unknown', text: `ct ${String(left.ct.key)}` };
  return { kind: 'unknown', text: describeValue(left) };
}

function meetSet(a: RangeSet | undefined, b: RangeSet): RangeSet {
  return a === undefined ? b : R.intersect(a, b);
}

/** Connection states → cordon's two (as the iptables importer reads --ctstate). */
function statesOf(vals: readonly unknown[], negate: boolean): Parsed<'new' | 'established' | undefined> {
  const known = new Set(['new', 'established', 'related', 'invalid', 'untracked']);
  const names: unknown[] = vals.flatMap((v): unknown[] => (Array.isArray(v) ? (v as unknown[]) : [v]));
  const bad = names.find((s) => typeof s !== 'string' || !known.has(s));
  if (bad !== undefined) return { ok: false, error: `${describeValue(bad)} is not a connection state` };
  let hasNew = names.includes('new');
  let hasOld = names.includes('established') || names.includes('related');
  if (negate) {
    hasNew = !hasNew;
    hasOld = !hasOld;
  }
  if (hasNew && hasOld) return { ok: true, value: undefined };
  return { ok: true, value: hasNew ? 'new' : 'established' };
}

/** Parts for one field = one value (or an interval): each value alone, so interface names can be alternatives. */
function restrict(p: Part, f: Field, value: unknown, negate: boolean): Parsed<Part> {
  const iv = (x: Parsed<Iv>, max: number): Parsed<RangeSet> => (x.ok ? { ok: true, value: negate ? R.complement([x.value], [0, max]) : [x.value] } : x);
  switch (f.kind) {
    case 'src':
    case 'dst': {
      const s = iv(parseAddr(value), ADDR_MAX);
      return s.ok ? { ok: true, value: { ...p, [f.kind]: meetSet(p[f.kind], s.value) } } : s;
    }
    case 'proto': {
      const s = iv(parseProto(value), 255);
      return s.ok ? { ok: true, value: { ...p, proto: meetSet(p.proto, s.value) } } : s;
    }
    case 'dport': {
      const s = iv(parsePort(value), 65535);
      if (!s.ok) return s;
      return { ok: true, value: { ...p, dport: meetSet(p.dport, s.value), proto: meetSet(p.proto, f.implies!) } };
    }
    case 'iif':
    case 'oif': {
      const n = parseIfname(value);
      if (!n.ok) return n;
      const cur = p[f.kind];
      return { ok: true, value: { ...p, [f.kind]: n.value, empty: p.empty || (cur !== undefined && cur !== n.value) } };
    }
    case 'state': {
      const s = statesOf([value], negate);
      if (!s.ok) return s;
      if (s.value === undefined) return { ok: true, value: p };
      return { ok: true, value: { ...p, state: s.value, empty: p.empty || (p.state !== undefined && p.state !== s.value) } };
    }
    default:
      return { ok: true, value: p };
  }
}

function partToBox(p: Part): Box | undefined {
  if (p.empty) return undefined;
  if (p.src !== undefined && R.isEmpty(p.src)) return undefined;
  if (p.dst !== undefined && R.isEmpty(p.dst)) return undefined;
  const proto = p.proto ?? [[0, 255]];
  let flows: FlowSet;
  if (p.dport !== undefined) {
    flows = { ...NO_FLOWS, tcp: R.contains(proto, 6) ? p.dport : [], udp: R.contains(proto, 17) ? p.dport : [] };
  } else {
    const other = !R.isEmpty(
      R.subtract(proto, [
        [1, 1],
        [6, 6],
        [17, 17],
      ]),
    );
    flows = { tcp: R.contains(proto, 6) ? ALL_PORTS : [], udp: R.contains(proto, 17) ? ALL_PORTS : [], icmp: R.contains(proto, 1), other };
  }
  if (R.isEmpty(flows.tcp) && R.isEmpty(flows.udp) && !flows.icmp && !flows.other) return undefined;
  return { ...ANY_BOX, src: p.src, dst: p.dst, flows, iif: p.iif, oif: p.oif, state: p.state };
}

/** A named set of the rule's table (`@name`), or an anonymous one, as its elements. */
function elementsOf(right: unknown, sets: ReadonlyMap<string, NftSet>): Parsed<unknown[]> {
  if (typeof right === 'string' && right.startsWith('@')) {
    const s = sets.get(right.slice(1));
    if (!s) return { ok: false, error: `no set '${right.slice(1, 60)}' in this table` };
    return { ok: true, value: s.elem.map((e) => members(e)[0]) };
  }
  return { ok: true, value: members(right) };
}

function verdictOf(stmt: Record<string, unknown>): Target | undefined {
  if ('accept' in stmt) return { kind: 'verdict', verdict: 'accept' };
  if ('drop' in stmt) return { kind: 'verdict', verdict: 'drop' };
  if ('reject' in stmt) return { kind: 'verdict', verdict: 'reject' };
  if ('return' in stmt) return { kind: 'return' };
  for (const k of ['jump', 'goto'] as const) {
    const t = stmt[k];
    if (isObj(t) && typeof t.target === 'string') return { kind: 'jump', chain: t.target, goto: k === 'goto' };
  }
  return undefined;
}

const IGNORED = new Set(['counter', 'log']);

export function parseNftRule(rule: NftRule, sets: ReadonlyMap<string, NftSet>): NftParsed {
  let alts: Part[] = [ANY_PART];
  let target: Target = { kind: 'none' };
  const unknown: string[] = [];
  const errors: string[] = [];
  const effects: string[] = [];
  let notV4 = false;
  let limited = false;
  for (const e of rule.expr) {
    if (!isObj(e)) {
      errors.push(`${describeValue(e)} is not an nft expression`);
      continue;
    }
    const [kind = ''] = Object.keys(e);
    if (kind === 'match' && isObj(e.match)) {
      const m = e.match;
      const op = m.op ?? '==';
      if (op !== '==' && op !== '!=' && op !== 'in') {
        unknown.push(`operator ${describeValue(op)}`);
        continue;
      }
      const negate = op === '!=';
      const left = m.left;
      if (isObj(left) && Array.isArray(left.concat)) {
        const fields = left.concat.map(fieldOf);
        const bad = fields.find((f) => f.kind === 'unknown' || f.kind === 'sport' || f.kind === 'nfproto' || f.kind === 'v6');
        if (bad || negate) {
          if (bad?.kind === 'v6') notV4 = true;
          else unknown.push(negate ? 'negated concatenation' : `concatenation with ${bad!.kind === 'unknown' ? bad!.text : bad!.kind}`);
          continue;
        }
        const els = elementsOf(m.right, sets);
        if (!els.ok) {
          errors.push(els.error);
          continue;
        }
        const next: Part[] = [];
        for (const el of els.value) {
          const parts = concatParts(el);
          if (parts.length !== fields.length) {
            errors.push(`set element ${describeValue(el)} has ${parts.length} parts, the lookup ${fields.length}`);
            break;
          }
          for (const a of alts) {
            let cur: Parsed<Part> = { ok: true, value: a };
            for (let i = 0; i < fields.length && cur.ok; i++) cur = restrict(cur.value, fields[i]!, parts[i], false);
            if (!cur.ok) errors.push(cur.error);
            else next.push(cur.value);
          }
          if (next.length > MAX_ALTS) break;
        }
        alts = next;
      } else {
        const f = fieldOf(left);
        if (f.kind === 'v6') {
          notV4 = true;
          continue;
        }
        if (f.kind === 'nfproto') {
          const v = members(m.right);
          const v4 = v.includes('ipv4');
          if (negate ? v4 : !v4) notV4 = true;
          continue;
        }
        if (f.kind === 'unknown' || f.kind === 'sport') {
          const text = f.kind === 'unknown' ? f.text : 'sport (cordon matches destination ports only)';
          unknown.push(`${text} ${negate ? '!= ' : ''}${describeValue(m.right)}`);
          // Widened to match without the field, but still only the protocol whose header it is.
          const implies = f.implies;
          if (implies) alts = alts.map((a) => ({ ...a, proto: meetSet(a.proto, implies) }));
          continue;
        }
        const els = elementsOf(m.right, sets);
        if (!els.ok) {
          errors.push(els.error);
          continue;
        }
        if (f.kind === 'state') {
          const s = statesOf(els.value, negate);
          if (!s.ok) errors.push(s.error);
          else if (s.value !== undefined) alts = alts.map((a) => ({ ...a, state: s.value, empty: a.empty || (a.state !== undefined && a.state !== s.value) }));
          continue;
        }
        if ((f.kind === 'iif' || f.kind === 'oif') && negate) {
          unknown.push(`${f.kind === 'iif' ? 'iifname' : 'oifname'} != ${describeValue(m.right)}`);
          continue;
        }
        if (f.kind === 'iif' || f.kind === 'oif') {
          // Several names: one alternative each (a box names one interface).
          const next: Part[] = [];
          for (const v of els.value)
            for (const a of alts) {
              const r = restrict(a, f, v, false);
              if (r.ok) next.push(r.value);
              else errors.push(r.error);
            }
          alts = next;
          continue;
        }
        // Addresses, protocols, ports: the union of the members, then the conjunction.
        const next: Part[] = [];
        for (const a of alts) {
          let union: Part | undefined;
          const pieces: Part[] = [];
          for (const v of els.value) {
            const r = restrict({ ...ANY_PART }, f, v, false);
            if (!r.ok) errors.push(r.error);
            else pieces.push(r.value);
          }
          const dim = f.kind === 'src' || f.kind === 'dst' ? f.kind : f.kind === 'proto' ? 'proto' : 'dport';
          const max = dim === 'src' || dim === 'dst' ? ADDR_MAX : dim === 'proto' ? 255 : 65535;
          let set: RangeSet = R.EMPTY;
          for (const pc of pieces) set = R.union(set, pc[dim] ?? [[0, max]]);
          if (negate) set = R.complement(set, [0, max]);
          union = { ...a, [dim]: meetSet(a[dim], set) };
          if (f.kind === 'dport') union = { ...union, proto: meetSet(a.proto, f.implies!) };
          next.push(union);
        }
        alts = next;
      }
      if (alts.length > MAX_ALTS) {
        errors.push(`the rule expands to more than ${MAX_ALTS} alternatives`);
        alts = [];
      }
      continue;
    }
    const v = verdictOf(e);
    if (v) {
      target = v;
      continue;
    }
    if (IGNORED.has(kind)) continue;
    if (kind === 'limit') {
      limited = true;
      continue;
    }
    if (kind === 'vmap') {
      // Only a named map gets here (expandVmap took the anonymous ones): its verdicts are not read.
      effects.push('vmap with a named map (its verdicts are not read)');
      continue;
    }
    effects.push(kind === '' ? describeValue(e) : kind);
  }
  const boxes: Box[] = [];
  for (const a of alts) {
    const b = partToBox(a);
    if (b) boxes.push(b);
  }
  return { alts: boxes, target, unknown, notV4, errors, limited, effects };
}

/**
 * A rule ending in an anonymous verdict map (`tcp dport vmap { 22 : accept, 23 : drop }`) → one
 * rule per element, in the map's order: the keys of a map are distinct, so at most one element
 * matches a packet and the order of the expanded rules does not matter. A named map (`vmap @m`)
 * is left as it is, for parseNftRule to name as not modelled.
 */
export function expandVmap(rule: NftRule): NftRule[] {
  const last = rule.expr[rule.expr.length - 1];
  if (!isObj(last) || !isObj(last.vmap)) return [rule];
  const data = last.vmap.data;
  if (!isObj(data) || !Array.isArray(data.set)) return [rule];
  const head = rule.expr.slice(0, -1);
  const out: NftRule[] = [];
  for (const el of data.set as unknown[]) {
    if (!Array.isArray(el) || el.length !== 2 || !isObj(el[1])) return [rule];
    out.push({ ...rule, expr: [...head, { match: { op: '==', left: last.vmap.key, right: el[0] as unknown } }, el[1]] });
  }
  return out;
}
