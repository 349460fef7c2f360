/**
 * What a filter bound to a guest's interface (`<filterref filter='F'>` in the domain XML) does to
 * the guest's traffic, as the guest's two per-guest chains: guest-out (from the guest, to anywhere
 * including its host) and guest-in (to the guest). Written from libvirt's formatnwfilter
 * documentation and its ebiptables driver:
 *
 * - references are expanded depth first with their parameters (`$IP`, lists allowed); a cycle or
 *   an unknown filter is an error at the reference; libvirt's own filters come from shipped.ts;
 * - two layers, both of which a packet must pass: layer 2 (`mac`, `arp`, `ip`… rules, ebtables),
 *   then the connection layer (`tcp`, `udp`, `icmp`, `all`… rules, iptables). Layer 2 runs the
 *   root chain by priority, a filter of chain `ipv4` etc. as a sub-chain jumped to at the chain's
 *   priority (ipv4 -700 unless the filter says otherwise); a layer-2 accept ends layer 2 only. The
 *   imported chain lists layer 2's drops first; a layer-2 drop behind an overlapping layer-2
 *   accept is left out with a warning (the matrix may show more allowed, never less);
 * - connection-layer rules of every filter are one list ordered by priority (lower first);
 * - a rule without `state` is stateful: an accept `out` matches NEW,ESTABLISHED from the guest and
 *   libvirt adds its reverse, ESTABLISHED, to the guest; `in` likewise the other way; a drop or
 *   reject matches any state and its reverse is added too (a drop `out` of everything also drops
 *   everything to the guest); `inout` matches both directions without state. With `state` given,
 *   only the direction(s) named; `statematch='false'` drops the state match;
 * - a packet no rule decides passes (nwfilter's chains end without a verdict);
 * - `return` ends the filter for the packet (taken as accept), `continue` goes on (no effect).
 * Rules only for established connections never decide a new connection, so their source ports
 * (which the reverse of a port rule has) are not kept.
 */
import { diag, type Diagnostic, type SourcePos } from '../../diag/diagnostic.js';
import { Code } from '../../diag/codes.js';
import { ALL_FLOWS, ALL_PORTS, flowIntersect, flowIsEmpty, flowSubtract, NO_FLOWS, PORT_MAX, type FlowSet } from '../../util/flows.js';
import { ADDR_MAX, parseIPv4 } from '../../util/ip.js';
import * as R from '../../util/rangeset.js';
import type { RangeSet } from '../../util/rangeset.js';
import { ANY_BOX, boxToRule, intersectBox, unexpressible, type Box } from '../common/box.js';
import type { DraftRule } from '../common/spec-writer.js';
import { CHAIN_PRIORITY, type NwAction, type NwFilter, type NwRule } from './filter.js';
import { SHIPPED } from './shipped.js';
import type { XmlElement } from './xml.js';

const L3: Readonly<Record<string, FlowSet>> = {
  tcp: { ...NO_FLOWS, tcp: ALL_PORTS },
  udp: { ...NO_FLOWS, udp: ALL_PORTS },
  icmp: { ...NO_FLOWS, icmp: true },
  all: ALL_FLOWS,
  udplite: { ...NO_FLOWS, other: true },
  sctp: { ...NO_FLOWS, other: true },
  igmp: { ...NO_FLOWS, other: true },
  esp: { ...NO_FLOWS, other: true },
  ah: { ...NO_FLOWS, other: true },
};
const L2_OTHER: ReadonlySet<string> = new Set(['mac', 'vlan', 'stp', 'arp', 'rarp', 'ipv6']);
const IP_PROTO: Readonly<Record<string, FlowSet>> = { tcp: L3.tcp!, '6': L3.tcp!, udp: L3.udp!, '17': L3.udp!, icmp: L3.icmp!, '1': L3.icmp! };
const KNOWN_ATTRS: ReadonlySet<string> = new Set([
  'srcipaddr',
  'srcipmask',
  'dstipaddr',
  'dstipmask',
  'srcipfrom',
  'srcipto',
  'dstipfrom',
  'dstipto',
  'srcportstart',
  'srcportend',
  'dstportstart',
  'dstportend',
  'state',
  'comment',
  'match',
  'protocol',
]);

/** One interface's filter binding. */
export interface Binding {
  readonly filter: string;
  readonly params: ReadonlyMap<string, readonly string[]>;
  /** Where the binding is (the `<filterref>` of the domain XML). */
  readonly at: SourcePos;
  /** The guest's addresses on this interface: `$IP` when the binding does not give it. */
  readonly addresses: RangeSet;
  /**
   * For a guest with more than one interface: the rules apply to this interface's traffic only,
   * told apart by the interface's addresses (source going out, destination coming in).
   */
  readonly only: RangeSet | undefined;
}

export interface Instantiated {
  readonly out: DraftRule[];
  readonly in: DraftRule[];
  /** no-ip-spoofing (or clean-traffic) is in force: the guest cannot forge its source address. */
  readonly antiSpoof: boolean;
}

/** A rule's match as written, before directions: sport is kept apart because a reverse turns it into a destination port. */
interface Sel {
  readonly src: RangeSet | undefined;
  readonly dst: RangeSet | undefined;
  readonly base: FlowSet;
  readonly dport: RangeSet | undefined;
  readonly sport: RangeSet | undefined;
  readonly state: 'new' | 'established' | 'never' | undefined;
  readonly hasState: boolean;
  readonly unknown: readonly string[];
}

type Layer = 'l2' | 'l3';

interface Inst {
  readonly dir: 'out' | 'in';
  readonly layer: Layer;
  readonly key: readonly number[];
  readonly box: Box;
  readonly action: NwAction;
  readonly rule: NwRule | undefined;
  readonly at: SourcePos;
  readonly text: string;
  /** An instance libvirt adds itself (the reverse of a rule, a shipped filter's rule): not the user's to remove. */
  readonly builtin: boolean;
}

function num(text: string, lo: number, hi: number): number | undefined {
  return /^\d{1,10}$/.test(text) && Number(text) >= lo && Number(text) <= hi ? Number(text) : undefined;
}

function maskLen(text: string): number | undefined {
  const n = num(text, 0, 32);
  if (n !== undefined) return n;
  const m = parseIPv4(text);
  if (m === undefined) return undefined;
  const len = 32 - Math.log2((~m >>> 0) + 1);
  return Number.isInteger(len) ? len : undefined;
}

function prefixSet(addr: number, len: number): RangeSet {
  const size = 2 ** (32 - len);
  const lo = Math.floor(addr / size) * size;
  return [[lo, lo + size - 1]];
}

/** Everything that reads a rule: variables, the guest's addresses, diagnostics. */
class Reader {
  constructor(
    private readonly params: ReadonlyMap<string, readonly string[]>,
    private readonly addresses: RangeSet,
  ) {}

  /** Values of an attribute, `$VAR` expanded (a list gives several). */
  values(raw: string): string[] | string {
    const v = /^\$([A-Za-z_][A-Za-z0-9_]*)(?:\[@?\d+\])?$/.exec(raw.trim());
    if (!v) return [raw.trim()];
    const got = this.params.get(v[1]!);
    if (got && got.length > 0) return [...got];
    return `variable $${v[1]} has no value here`;
  }

  addrSet(el: XmlElement, addrName: string, maskName: string, from: string, to: string, unknown: string[]): RangeSet | undefined {
    let set: RangeSet | undefined;
    const a = el.attrs.get(addrName)?.value;
    if (a !== undefined) {
      const raw = /^\$IP(?:\[@?\d+\])?$/.test(a.trim()) && !this.params.has('IP') ? 'guest' : this.values(a);
      const vals = raw === 'guest' ? (R.isEmpty(this.addresses) ? 'variable $IP has no value (no address is known for the guest)' : []) : raw;
      if (typeof vals === 'string') unknown.push(`${addrName}='${a.slice(0, 40)}': ${vals}`);
      else {
        const maskText = el.attrs.get(maskName)?.value;
        const len = maskText === undefined ? 32 : maskLen(maskText);
        let acc: RangeSet = raw === 'guest' ? this.addresses : R.EMPTY;
        for (const s of vals) {
          const ip = parseIPv4(s);
          if (ip === undefined || len === undefined) {
            unknown.push(`${addrName}='${s.slice(0, 40)}'${maskText ? `/${maskText.slice(0, 20)}` : ''} (not an IPv4 address and mask)`);
            acc = R.EMPTY;
            break;
          }
          acc = R.union(acc, prefixSet(ip, len));
        }
        if (!R.isEmpty(acc)) set = acc;
      }
    }
    const f = el.attrs.get(from)?.value;
    const t = el.attrs.get(to)?.value;
    if (f !== undefined || t !== undefined) {
      const lo = parseIPv4(f ?? '');
      const hi = parseIPv4(t ?? f ?? '');
      if (lo === undefined || hi === undefined || lo > hi) unknown.push(`${from}/${to} '${f ?? ''}'-'${t ?? ''}' (not an IPv4 range)`);
      else set = R.intersect(set ?? [[0, ADDR_MAX]], [[lo, hi]]);
    }
    return set;
  }

  portSet(el: XmlElement, start: string, end: string, unknown: string[]): RangeSet | undefined {
    const s = el.attrs.get(start)?.value;
    const e = el.attrs.get(end)?.value;
    if (s === undefined && e === undefined) return undefined;
    const sv = s === undefined ? [] : this.values(s);
    const ev = e === undefined ? [] : this.values(e);
    if (typeof sv === 'string' || typeof ev === 'string') {
      unknown.push(`${start}: ${typeof sv === 'string' ? sv : (ev as string)}`);
      return undefined;
    }
    const lo = num(sv[0] ?? ev[0] ?? '', 0, PORT_MAX);
    const hi = num(ev[0] ?? sv[0] ?? '', 0, PORT_MAX);
    if (lo === undefined || hi === undefined || lo > hi) {
      unknown.push(`${start}/${end} '${s ?? ''}'-'${e ?? ''}' (not a port range)`);
      return undefined;
    }
    return [[lo, hi]];
  }

  /** The protocol element of a rule as a selection; undefined when it is no IPv4 matter (layer-2 or IPv6). */
  sel(el: XmlElement | undefined, rule: NwRule): { sel: Sel; layer: Layer } | { skip: string; v6: boolean } {
    if (!el)
      return {
        sel: { src: undefined, dst: undefined, base: ALL_FLOWS, dport: undefined, sport: undefined, state: undefined, hasState: false, unknown: [] },
        layer: 'l3',
      };
    const name = el.name;
    if (/-ipv6$/.test(name) || name === 'ipv6') return { skip: `<${name}>: IPv6 rule not modelled: cordon verifies IPv4 only`, v6: true };
    const unknown: string[] = [];
    let layer: Layer = 'l3';
    let base: FlowSet;
    if (name in L3) base = L3[name]!;
    else if (name === 'ip') {
      layer = 'l2';
      const p = el.attrs.get('protocol')?.value;
      base = p === undefined ? ALL_FLOWS : (IP_PROTO[p.toLowerCase()] ?? { ...NO_FLOWS, other: true });
    } else if (name === 'mac') {
      layer = 'l2';
      const pid = el.attrs.get('protocolid')?.value?.toLowerCase();
      if (pid !== undefined && pid !== 'ipv4' && pid !== '0x0800' && pid !== '0x800')
        return { skip: `<mac protocolid='${pid.slice(0, 20)}'>: not IPv4, outside the flows cordon models`, v6: false };
      base = ALL_FLOWS;
      for (const k of el.attrs.keys()) if (k !== 'protocolid' && k !== 'comment' && k !== 'match') unknown.push(`<mac ${k}> (MAC addresses are not modelled)`);
    } else if (L2_OTHER.has(name)) return { skip: `<${name}>: a layer-2 rule (not IPv4 traffic), outside the flows cordon models`, v6: false };
    else return { skip: `<${name}>: not a protocol nwfilter knows`, v6: false };
    const negate = el.attrs.get('match')?.value === 'no';
    for (const k of el.attrs.keys())
      if (!KNOWN_ATTRS.has(k) && !(name === 'mac' && k === 'protocolid') && !(name === 'mac' && unknown.length > 0))
        unknown.push(`${k}='${el.attrs.get(k)!.value.slice(0, 40)}'`);
    if (name !== 'ip' && el.attrs.has('protocol')) unknown.push(`protocol= on <${name}>`);
    let src = this.addrSet(el, 'srcipaddr', 'srcipmask', 'srcipfrom', 'srcipto', unknown);
    let dst = this.addrSet(el, 'dstipaddr', 'dstipmask', 'dstipfrom', 'dstipto', unknown);
    let dport = this.portSet(el, 'dstportstart', 'dstportend', unknown);
    let sport = this.portSet(el, 'srcportstart', 'srcportend', unknown);
    if ((dport || sport) && R.isEmpty(R.union(base.tcp, base.udp))) {
      unknown.push(`ports of <${name}> (cordon keeps ports for tcp and udp only)`);
      dport = undefined;
      sport = undefined;
    }
    if (negate) {
      // match='no' negates each attribute of the element; a box can say that per dimension.
      if (src) src = R.complement(src, [0, ADDR_MAX]);
      if (dst) dst = R.complement(dst, [0, ADDR_MAX]);
      if (dport) dport = R.complement(dport, [0, PORT_MAX]);
      if (sport) sport = R.complement(sport, [0, PORT_MAX]);
      if (name === 'ip' && el.attrs.has('protocol')) base = flowSubtract(ALL_FLOWS, base);
    }
    const stateText = el.attrs.get('state')?.value;
    let state: Sel['state'];
    let hasState = false;
    if (stateText !== undefined && layer === 'l3' && rule.statematch) {
      const parts = new Set(
        stateText
          .toUpperCase()
          .split(',')
          .map((s) => s.trim()),
      );
      const bad = [...parts].filter((p) => !['NEW', 'ESTABLISHED', 'RELATED', 'INVALID', 'NONE'].includes(p));
      if (bad.length > 0) unknown.push(`state '${bad.join(',').slice(0, 40)}'`);
      else if (parts.has('NONE')) {
        // NONE is a state flag: the rule lives in its own direction only (no reverse), with no state match.
        hasState = true;
      } else {
        hasState = true;
        const est = parts.has('ESTABLISHED') || parts.has('RELATED');
        state = parts.has('NEW') ? (est ? undefined : 'new') : est ? 'established' : 'never';
      }
    }
    return { sel: { src, dst, base, dport, sport, state, hasState, unknown }, layer };
  }
}

/** A selection as a box, for one instance: reversed swaps addresses and ports (libvirt's reverse rule for replies). */
function boxOf(s: Sel, reversed: boolean, state: 'new' | 'established' | undefined, unknown: string[]): Box | undefined {
  const src = reversed ? s.dst : s.src;
  const dst = reversed ? s.src : s.dst;
  const dport = reversed ? s.sport : s.dport;
  const sport = reversed ? s.dport : s.sport;
  let flows = s.base;
  if (dport) flows = flowIntersect(flows, { tcp: dport, udp: dport, icmp: false, other: false });
  if (sport && state !== 'established')
    unknown.push(`source port ${sport.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',')} (cordon matches destination ports only)`);
  if (flowIsEmpty(flows) || (src && R.isEmpty(src)) || (dst && R.isEmpty(dst))) return undefined;
  return { ...ANY_BOX, src, dst, flows, state };
}

/** Which instances libvirt makes of one rule: [direction, reversed, state]. */
function directions(r: NwRule, s: Sel, layer: Layer): ['out' | 'in', boolean, 'new' | 'established' | undefined][] {
  if (layer === 'l2')
    return r.direction === 'out'
      ? [['out', false, undefined]]
      : r.direction === 'in'
        ? [['in', false, undefined]]
        : [
            ['in', false, undefined],
            ['out', true, undefined],
          ];
  if (s.hasState) {
    const st = s.state === 'never' ? undefined : s.state;
    return r.direction === 'out'
      ? [['out', false, st]]
      : r.direction === 'in'
        ? [['in', false, st]]
        : [
            ['out', true, st],
            ['in', false, st],
          ];
  }
  const accepting = r.action === 'accept' || r.action === 'return';
  const stateful = r.statematch && r.direction !== 'inout' && accepting;
  const reply = stateful ? 'established' : undefined;
  if (r.direction === 'out')
    return [
      ['out', false, undefined],
      ['in', true, reply],
    ];
  if (r.direction === 'in')
    return [
      ['in', false, undefined],
      ['out', true, reply],
    ];
  return [
    ['in', false, undefined],
    ['out', true, undefined],
  ];
}

/** The per-guest chains of one binding; every diagnostic is located at the rule (or reference) it is about. */
export function instantiate(b: Binding, filters: ReadonlyMap<string, NwFilter>, ds: Diagnostic[]): Instantiated {
  const insts: Inst[] = [];
  let antiSpoof = false;
  let seq = 0;
  const walk = (name: string, params: ReadonlyMap<string, readonly string[]>, at: SourcePos, outer: number | undefined, stack: readonly string[]): void => {
    if (stack.includes(name)) {
      ds.push(
        diag(
          Code.IMPORT_SYNTAX,
          'error',
          `filter '${name}' refers to itself: ${[...stack, name].join(' → ')}`,
          at,
          'libvirt refuses such a filter; remove one reference',
        ),
      );
      return;
    }
    const f = filters.get(name);
    const shipped = f ? undefined : SHIPPED.get(name);
    if (!f && !shipped) {
      ds.push(
        diag(
          Code.IMPORT_SYNTAX,
          'error',
          `no filter '${name}': not among the files given nor one libvirt ships`,
          at,
          'give its XML (virsh nwfilter-dumpxml NAME) as one of the paths',
        ),
      );
      return;
    }
    const chain = f?.chain ?? shipped!.chain;
    const chainType = chain.split('-')[0]!;
    // A non-root filter is a sub-chain jumped to from root at the chain's priority; its own rules sort inside it.
    const here = outer ?? (chainType === 'root' ? undefined : (f?.priority ?? CHAIN_PRIORITY[chainType] ?? 0));
    if (shipped) {
      for (const r of shipped.refs) walk(r, params, at, here, [...stack, name]);
      for (const e of shipped.effects) {
        const key = [here ?? 0, 0, seq++];
        const text = `libvirt's shipped filter ${name}: ${shipped.what}`;
        if (e.kind === 'antispoof') {
          antiSpoof = true;
          const own = R.union(b.addresses, [[0, 0]]);
          insts.push({
            dir: 'out',
            layer: 'l2',
            key,
            box: { ...ANY_BOX, src: R.complement(own, [0, ADDR_MAX]) },
            action: 'drop',
            rule: undefined,
            at,
            text,
            builtin: true,
          });
          // 0.0.0.0 only for a DHCP request (udp to port 67).
          const notDhcp = flowSubtract(ALL_FLOWS, { ...NO_FLOWS, udp: [[67, 67]] });
          insts.push({
            dir: 'out',
            layer: 'l2',
            key: [here ?? 0, 0, seq++],
            box: { ...ANY_BOX, src: [[0, 0]], flows: notDhcp },
            action: 'drop',
            rule: undefined,
            at,
            text,
            builtin: true,
          });
        } else if (e.kind === 'l2accept') {
          for (const dir of e.direction === 'inout' ? (['out', 'in'] as const) : [e.direction])
            insts.push({ dir, layer: 'l2', key, box: ANY_BOX, action: 'accept', rule: undefined, at, text, builtin: true });
        } else if (e.kind === 'multicast') {
          insts.push({
            dir: 'out',
            layer: 'l2',
            key,
            box: { ...ANY_BOX, dst: [[0xe0000000, 0xefffffff]] },
            action: 'drop',
            rule: undefined,
            at,
            text,
            builtin: true,
          });
        } else if (e.kind === 'l2only') {
          ds.push(diag(Code.IMPORT_NOTE, 'info', `${text}: does not change which IPv4 flows pass`, at));
        } else {
          ds.push(diag(Code.IMPORT_UNSUPPORTED, 'warning', `${text}: ${e.why}`, at, 'the matrix may show more allowed than the filter allows'));
        }
      }
      return;
    }
    for (const e of f!.entries) {
      if (e.kind === 'ref') {
        const merged = new Map(params);
        for (const [k, v] of e.params) if (!merged.has(k)) merged.set(k, v);
        walk(e.filter, merged, e.at, here, [...stack, name]);
        continue;
      }
      const reader = new Reader(params, b.addresses);
      const got = reader.sel(e.match, e);
      if ('skip' in got) {
        ds.push(diag(got.v6 ? Code.IMPORT_IPV6 : Code.IMPORT_NOTE, got.v6 ? 'warning' : 'info', got.skip, e.at));
        continue;
      }
      if (e.action === 'continue') {
        ds.push(diag(Code.IMPORT_NOTE, 'info', "action 'continue': the packet goes on to the next rule; nothing to import", e.at));
        continue;
      }
      if (got.sel.state === 'never') {
        ds.push(
          diag(Code.IMPORT_NOTE, 'info', `state ${e.match?.attrs.get('state')?.value ?? ''}: never a new connection; it does not change the matrix`, e.at),
        );
        continue;
      }
      for (const [dir, reversed, state] of directions(e, got.sel, got.layer)) {
        const unknown = [...got.sel.unknown];
        const box = boxOf(got.sel, reversed, state, unknown);
        if (!box) continue;
        const widen = e.action === 'accept' || e.action === 'return';
        if (unknown.length > 0) {
          ds.push(unexpressible(unknown, widen, widen ? 'accept' : e.action, e.at));
          if (!widen) continue;
        }
        const key = got.layer === 'l2' ? (here === undefined ? [e.priority, 0, seq++] : [here, e.priority, seq++]) : [e.priority, seq++];
        insts.push({
          dir,
          layer: got.layer,
          key,
          box,
          action: e.action,
          rule: e,
          at: e.at,
          text: `${e.text}${reversed ? ' (its reverse, which libvirt adds for the other direction)' : ''}`,
          builtin: reversed,
        });
      }
    }
  };
  walk(b.filter, b.params, b.at, undefined, []);
  const cmp = (a: Inst, c: Inst): number => {
    for (let i = 0; i < Math.max(a.key.length, c.key.length); i++) {
      const d = (a.key[i] ?? 0) - (c.key[i] ?? 0);
      if (d !== 0) return d;
    }
    return 0;
  };
  const chainOf = (dir: 'out' | 'in'): DraftRule[] => {
    const out: DraftRule[] = [];
    const draft = (x: Inst): DraftRule | undefined => {
      if (!b.only) return draftOf(x);
      const dim = dir === 'out' ? 'src' : 'dst';
      const narrowed = R.intersect(x.box[dim] ?? [[0, ADDR_MAX]], b.only);
      return R.isEmpty(narrowed) ? undefined : draftOf({ ...x, box: { ...x.box, [dim]: narrowed } });
    };
    const l2 = insts.filter((x) => x.dir === dir && x.layer === 'l2').sort(cmp);
    const accepted: Box[] = [];
    for (const x of l2) {
      if (x.action === 'accept' || x.action === 'return') {
        accepted.push(x.box);
        continue;
      }
      if (accepted.some((a) => intersectBox(a, x.box) !== undefined)) {
        ds.push(
          diag(
            Code.IMPORT_UNSUPPORTED,
            'warning',
            `${x.rule ? 'this layer-2 drop' : x.text} comes after a layer-2 accept that overlaps it: the drop is left out (layer 2's accepts cannot be written as one chain)`,
            x.at,
            'the matrix may show more allowed than the filter allows',
          ),
        );
        continue;
      }
      const d = draft(x);
      if (d) out.push(d);
    }
    const l3 = insts.filter((x) => x.dir === dir && x.layer === 'l3').sort(cmp);
    // Earlier rules by priority and verdict, so each rule is compared only with its equals of the other verdict.
    const seen = new Map<string, Inst[]>();
    for (const x of l3) {
      const mine = `${x.key[0]}/${verdict(x.action)}`;
      const other = `${x.key[0]}/${verdict(x.action) === 'accept' ? 'drop' : 'accept'}`;
      // libvirt sorts by priority alone: two overlapping rules of equal priority and different verdicts have no defined order.
      const clash =
        x.box.state === 'established'
          ? undefined
          : (seen.get(other) ?? []).find((y) => y.rule !== x.rule && y.box.state !== 'established' && intersectBox(x.box, y.box) !== undefined);
      const same = seen.get(mine);
      if (same) same.push(x);
      else seen.set(mine, [x]);
      if (clash)
        ds.push(
          diag(
            Code.IMPORT_UNSUPPORTED,
            'warning',
            `this rule and the one at ${clash.at.file}:${clash.at.line} have the same priority (${x.key[0]}), overlap and decide differently: libvirt does not define which runs first (taken in file order)`,
            x.at,
            'give them different priority= values so the order is the one you mean',
          ),
        );
      const d = draft(x);
      if (d) out.push(d);
    }
    return out;
  };
  return { out: chainOf('out'), in: chainOf('in'), antiSpoof };
}

function verdict(a: NwAction): 'accept' | 'drop' {
  return a === 'accept' || a === 'return' || a === 'continue' ? 'accept' : 'drop';
}

/** One instance as an imported rule; undefined when it selects only port 0 (which no connection uses). */
function draftOf(x: Inst): DraftRule | undefined {
  const action = x.action === 'reject' ? 'reject' : verdict(x.action);
  // Lint and audit leave "built-in:" rules alone: shadowed or redundant, they are libvirt's, not the user's.
  const rule = boxToRule(
    x.box,
    action,
    x.builtin ? `libvirt built-in: ${x.rule ? 'reverse of' : 'shipped filter at'} ${x.at.file}:${x.at.line}` : `${x.at.file}:${x.at.line}`,
  );
  return rule && { rule, source: x.at, sourceText: x.text };
}
