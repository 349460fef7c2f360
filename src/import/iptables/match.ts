/**
 * One iptables rule's arguments → what it matches (a Box), its target, and every part cordon
 * cannot express. Matches read: -s/-d (also lists and `!`), -p, -i/-o, -m tcp/udp --dport,
 * -m multiport --dports, -m state --state, -m conntrack --ctstate, -m iprange, -m set (with the
 * sets of an `ipset save` file), -m physdev --physdev-in, -m comment. Everything else (source
 * ports, ICMP types, owner, mark, string …) is named in `unknown`, for the caller to widen or
 * leave out the rule and say so.
 */
import { ALL_FLOWS, ALL_PORTS, flowIntersect, NO_FLOWS, PORT_MAX, type FlowSet } from '../../util/flows.js';
import { ADDR_MAX, cidrRange, parseCidr, parseIPv4, maskOf } from '../../util/ip.js';
import * as R from '../../util/rangeset.js';
import type { RangeSet } from '../../util/rangeset.js';
import { ANY_BOX, type Box } from '../common/box.js';
import { PROTO_NUMBERS } from '../nft-json/values.js';

export type Target =
  | { readonly kind: 'verdict'; readonly verdict: 'accept' | 'drop' | 'reject' }
  | { readonly kind: 'return' }
  /**
   * A user chain, or a target extension (LOG, NFLOG, MARK, DNAT, MASQUERADE …) with its options:
   * which one it is depends on the chains the table declares (flatten.ts).
   */
  | { readonly kind: 'jump'; readonly chain: string; readonly goto: boolean; readonly args?: readonly string[] }
  | { readonly kind: 'none' };

export interface ParsedRule {
  readonly box: Box;
  readonly target: Target;
  /** Conditions cordon cannot express, as written (`-m owner --uid-owner 0`). */
  readonly unknown: readonly string[];
  /** The rule cannot match any IPv4 packet cordon models (an IPv6 address…). */
  readonly v6: boolean;
  /** Errors in the arguments themselves (a missing value, a bad address). */
  readonly errors: readonly string[];
  readonly comment: string | undefined;
  /** The rule has `-m limit`: it matches only up to a rate. */
  readonly limited: boolean;
}

/** Sets from an `ipset save` file, by name. */
export type IpSets = ReadonlyMap<string, RangeSet>;

const TARGET_OPTS_WITH_VALUE = new Set([
  '--reject-with',
  '--log-prefix',
  '--log-level',
  '--nflog-group',
  '--nflog-prefix',
  '--nflog-range',
  '--nflog-size',
  '--nflog-threshold',
  '--to-destination',
  '--to-source',
  '--to-ports',
  '--to',
  '--set-mark',
  '--set-xmark',
  '--and-mark',
  '--or-mark',
  '--xor-mark',
  '--mask',
  '--save-mark',
  '--restore-mark',
  '--set-dscp',
  '--set-class',
  '--queue-num',
  '--zone',
]);

/** Parses `a.b.c.d`, `a.b.c.d/len`, `a.b.c.d/255.255.255.0`, comma lists. */
export function parseAddrList(text: string): { set: RangeSet } | { v6: true } | { error: string } {
  const spans: [number, number][] = [];
  for (const part of text.split(',')) {
    if (part.includes(':')) return { v6: true };
    const [a, l] = part.split('/');
    const addr = parseIPv4(a ?? '');
    if (addr === undefined) return { error: `'${part.slice(0, 60)}' is not an IPv4 address or prefix` };
    let len = 32;
    if (l !== undefined) {
      if (/^\d{1,2}$/.test(l) && Number(l) <= 32) len = Number(l);
      else {
        const mask = parseIPv4(l);
        const ones = mask === undefined ? -1 : 32 - Math.log2(ADDR_MAX - mask + 1);
        if (mask === undefined || !Number.isInteger(ones) || maskOf(ones) !== mask)
          return { error: `'${l.slice(0, 40)}' in '${part.slice(0, 60)}' is not a prefix length or netmask` };
        len = ones;
      }
    }
    const c = parseCidr(`${a}/${len}`, false)!;
    const r = cidrRange(c);
    spans.push([r.lo, r.hi]);
  }
  return { set: R.normalize(spans) };
}

function parsePortList(text: string): RangeSet | undefined {
  const spans: [number, number][] = [];
  for (const part of text.split(',')) {
    const m = /^(\d{0,5})(?::(\d{0,5}))?$/.exec(part);
    if (!m || (m[1] === '' && m[2] === undefined)) return undefined;
    const lo = m[1] === '' ? 0 : Number(m[1]);
    const hi = m[2] === undefined ? lo : m[2] === '' ? PORT_MAX : Number(m[2]);
    if (lo > PORT_MAX || hi > PORT_MAX || hi < lo) return undefined;
    spans.push([lo, hi]);
  }
  return R.normalize(spans);
}

function protoFlows(p: string): FlowSet | { v6: true } | undefined {
  const name = p.toLowerCase();
  if (name === 'all' || name === '0') return ALL_FLOWS;
  if (name === 'ipv6-icmp' || name === 'icmpv6' || name === '58') return { v6: true };
  const n = /^\d+$/.test(name) ? Number(name) : PROTO_NUMBERS.get(name);
  if (n === undefined || n > 255) return undefined;
  if (n === 6) return { ...NO_FLOWS, tcp: ALL_PORTS };
  if (n === 17) return { ...NO_FLOWS, udp: ALL_PORTS };
  if (n === 1) return { ...NO_FLOWS, icmp: true };
  return { ...NO_FLOWS, other: true };
}

function complementFlows(f: FlowSet): FlowSet {
  return {
    tcp: R.subtract(ALL_PORTS, f.tcp),
    udp: R.subtract(ALL_PORTS, f.udp),
    icmp: !f.icmp,
    other: !f.other,
  };
}

/** conntrack states → cordon's two: a set with NEW and a reply state is any; without NEW, established. */
function parseStates(text: string, negate: boolean): 'new' | 'established' | undefined | { error: string } {
  const known = new Set(['NEW', 'ESTABLISHED', 'RELATED', 'INVALID', 'UNTRACKED', 'SNAT', 'DNAT']);
  const states = text.split(',').map((s) => s.trim().toUpperCase());
  const bad = states.find((s) => !known.has(s));
  if (bad !== undefined) return { error: `'${bad.slice(0, 30)}' is not a connection state` };
  let hasNew = states.includes('NEW');
  let hasOld = states.some((s) => s === 'ESTABLISHED' || s === 'RELATED');
  if (negate) {
    hasNew = !hasNew;
    hasOld = !hasOld;
  }
  if (hasNew && hasOld) return undefined;
  // INVALID or UNTRACKED alone (the verifier asks about new connections and their replies): established never matches a new one.
  return hasNew ? 'new' : 'established';
}

/** Parses the arguments after `-A CHAIN`. */
export function parseRule(args: readonly string[], sets: IpSets): ParsedRule {
  let box: Box = ANY_BOX;
  let target: Target = { kind: 'none' };
  const unknown: string[] = [];
  const errors: string[] = [];
  let v6 = false;
  let comment: string | undefined;
  let limited = false;
  let proto: FlowSet | undefined;
  let dports: RangeSet | undefined;
  let module = '';
  let negate = false;
  const addrs = (dim: 'src' | 'dst', text: string, neg: boolean): void => {
    const r = parseAddrList(text);
    if ('v6' in r) v6 = true;
    else if ('error' in r) errors.push(r.error);
    else {
      const set = neg ? R.complement(r.set, [0, ADDR_MAX]) : r.set;
      const cur = box[dim];
      box = { ...box, [dim]: cur === undefined ? set : R.intersect(cur, set) };
    }
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '!') {
      negate = true;
      continue;
    }
    const neg = negate;
    negate = false;
    const value = (): string | undefined => {
      const v = args[i + 1];
      if (v === undefined) {
        errors.push(`${a} needs a value`);
        return undefined;
      }
      i++;
      return v;
    };
    // `--dport ! 22`, the old spelling of negation after the option.
    const valueNeg = (): { v: string | undefined; neg: boolean } => {
      if (args[i + 1] === '!') {
        i++;
        return { v: value(), neg: true };
      }
      return { v: value(), neg };
    };
    switch (a) {
      case '-s':
      case '--source':
      case '--src': {
        const v = value();
        if (v !== undefined) addrs('src', v, neg);
        break;
      }
      case '-d':
      case '--destination':
      case '--dst': {
        const v = value();
        if (v !== undefined) addrs('dst', v, neg);
        break;
      }
      case '-p':
      case '--protocol': {
        const v = value();
        if (v === undefined) break;
        const f = protoFlows(v);
        if (f === undefined) errors.push(`'${v.slice(0, 30)}' is not a protocol`);
        else if ('v6' in f) v6 = true;
        else proto = neg ? complementFlows(f) : f;
        break;
      }
      case '-i':
      case '--in-interface':
      case '-o':
      case '--out-interface': {
        const v = value();
        if (v === undefined) break;
        const dim = a === '-i' || a === '--in-interface' ? 'iif' : 'oif';
        if (neg || v.endsWith('+')) unknown.push(`${neg ? '! ' : ''}${a} ${v}`);
        else box = { ...box, [dim]: v };
        break;
      }
      case '-m':
      case '--match': {
        module = value() ?? '';
        if (!['tcp', 'udp', 'multiport', 'state', 'conntrack', 'iprange', 'set', 'comment', 'physdev', 'limit', 'icmp'].includes(module)) {
          // The module's own options follow; they are named below as unknown with it.
          const opts: string[] = [];
          while (args[i + 1] !== undefined && args[i + 1] !== '-m' && args[i + 1] !== '-j' && args[i + 1] !== '-g' && !/^-[a-z]$/.test(args[i + 1]!))
            opts.push(args[++i]!);
          unknown.push([`-m ${module}`, ...opts].join(' '));
        }
        break;
      }
      case '--dport':
      case '--destination-port':
      case '--dports':
      case '--destination-ports': {
        const { v, neg: n } = valueNeg();
        if (v === undefined) break;
        const ports = parsePortList(v);
        if (ports === undefined) errors.push(`'${v.slice(0, 40)}' is not a port, a port range or a list of them`);
        else {
          const set = n ? R.subtract(ALL_PORTS, ports) : ports;
          dports = dports === undefined ? set : R.intersect(dports, set);
        }
        break;
      }
      case '--sport':
      case '--source-port':
      case '--sports':
      case '--source-ports':
      case '--ports': {
        const v = value();
        unknown.push(`${neg ? '! ' : ''}${a} ${v ?? ''} (cordon matches destination ports only)`);
        break;
      }
      case '--state':
      case '--ctstate': {
        const { v, neg: n } = valueNeg();
        if (v === undefined) break;
        const s = parseStates(v, n);
        if (typeof s === 'object') errors.push(s.error);
        else if (s !== undefined) {
          if (box.state !== undefined && box.state !== s) box = { ...box, flows: NO_FLOWS };
          else box = { ...box, state: s };
        }
        break;
      }
      case '--src-range':
      case '--dst-range': {
        const v = value();
        if (v === undefined) break;
        const [lo, hi] = v.split('-').map((x) => parseIPv4(x));
        if (v.includes(':')) v6 = true;
        else if (lo === undefined || hi === undefined || hi < lo) errors.push(`'${v.slice(0, 40)}' is not an address range FIRST-LAST`);
        else {
          const set: RangeSet = neg ? R.complement([[lo, hi]], [0, ADDR_MAX]) : [[lo, hi]];
          const dim = a === '--src-range' ? 'src' : 'dst';
          const cur = box[dim];
          box = { ...box, [dim]: cur === undefined ? set : R.intersect(cur, set) };
        }
        break;
      }
      case '--match-set': {
        const name = value();
        const flags = value();
        if (name === undefined || flags === undefined) break;
        const set = sets.get(name);
        if (set === undefined || (flags !== 'src' && flags !== 'dst')) {
          unknown.push(
            `${neg ? '! ' : ''}--match-set ${name} ${flags}${set === undefined ? ' (the set is not in an ipset save file given to the import)' : ' (only one address dimension is read)'}`,
          );
          break;
        }
        const s = neg ? R.complement(set, [0, ADDR_MAX]) : set;
        const dim = flags === 'src' ? 'src' : 'dst';
        const cur = box[dim];
        box = { ...box, [dim]: cur === undefined ? s : R.intersect(cur, s) };
        break;
      }
      case '--comment':
        comment = value();
        break;
      case '--physdev-in': {
        const v = value();
        if (v === undefined) break;
        if (neg || v.endsWith('+')) unknown.push(`${neg ? '! ' : ''}--physdev-in ${v}`);
        else box = { ...box, inPort: v };
        break;
      }
      case '--physdev-out': {
        const v = value();
        unknown.push(`${neg ? '! ' : ''}--physdev-out ${v ?? ''} (cordon matches the bridge port a packet entered through, not the one it leaves by)`);
        break;
      }
      case '--physdev-is-bridged':
      case '--physdev-is-in':
      case '--physdev-is-out':
        unknown.push(`${neg ? '! ' : ''}${a}`);
        break;
      case '--limit':
      case '--limit-burst':
        value();
        limited = true;
        break;
      case '--icmp-type': {
        const v = value();
        unknown.push(`${neg ? '! ' : ''}--icmp-type ${v ?? ''} (cordon matches all of ICMP or none)`);
        break;
      }
      case '--syn':
      case '--tcp-flags':
      case '--tcp-option':
      case '-f':
      case '--fragment': {
        const opts = a === '--tcp-flags' ? [value(), value()] : a === '--tcp-option' ? [value()] : [];
        unknown.push([neg ? '!' : '', a, ...opts].filter((x) => x).join(' '));
        break;
      }
      case '-c':
      case '--set-counters':
        value();
        value();
        break;
      case '-4':
      case '--ipv4':
        break;
      case '-6':
      case '--ipv6':
        v6 = true;
        break;
      case '-j':
      case '--jump':
      case '-g':
      case '--goto': {
        const v = value();
        if (v === undefined) break;
        const goto = a === '-g' || a === '--goto';
        if (!goto && (v === 'ACCEPT' || v === 'DROP' || v === 'REJECT'))
          target = { kind: 'verdict', verdict: v === 'ACCEPT' ? 'accept' : v === 'DROP' ? 'drop' : 'reject' };
        else if (!goto && v === 'RETURN') target = { kind: 'return' };
        else if (/^[A-Za-z0-9_.:+-]+$/.test(v)) target = { kind: 'jump', chain: v, goto };
        else errors.push(`'${v.slice(0, 30)}' is not a target`);
        // Options of the target follow it (iptables-save prints them last).
        const targs: string[] = [];
        while (args[i + 1] !== undefined && TARGET_OPTS_WITH_VALUE.has(args[i + 1]!)) {
          targs.push(args[++i]!);
          if (args[i + 1] !== undefined) targs.push(args[++i]!);
        }
        if (target.kind === 'jump') target = { ...target, args: targs };
        break;
      }
      default:
        if (a.startsWith('--') && module !== '') {
          // An option of a known module that this reader does not interpret.
          const v = args[i + 1] !== undefined && !args[i + 1]!.startsWith('-') ? args[++i] : undefined;
          unknown.push([`-m ${module}`, neg ? '!' : '', a, v ?? ''].filter((x) => x).join(' '));
        } else if (a.startsWith('-')) {
          const v = args[i + 1] !== undefined && !args[i + 1]!.startsWith('-') ? args[++i] : undefined;
          unknown.push([neg ? '!' : '', a, v ?? ''].filter((x) => x).join(' '));
        } else errors.push(`unexpected '${a.slice(0, 40)}'`);
    }
  }
  let flows = proto ?? ALL_FLOWS;
  if (dports !== undefined) {
    if (proto === undefined) errors.push('a destination port needs -p tcp or -p udp');
    flows = flowIntersect(flows, { tcp: dports, udp: dports, icmp: false, other: false });
  }
  box = { ...box, flows: flowIntersect(box.flows, flows) };
  return { box, target, unknown, v6, errors, comment, limited };
}

/** Reads an `ipset save` file: `create NAME hash:net …` and `add NAME 10.0.0.0/24` lines. */
export function parseIpsetSave(text: string): { sets: Map<string, RangeSet>; lines: number } | undefined {
  const sets = new Map<string, RangeSet>();
  let lines = 0;
  for (const raw of text.split(/\r?\n/)) {
    const l = raw.trim();
    if (l === '' || l.startsWith('#')) continue;
    const words = l.split(/\s+/);
    if (words[0] === 'create' && words[1] !== undefined) {
      sets.set(words[1], sets.get(words[1]) ?? R.EMPTY);
      lines++;
    } else if (words[0] === 'add' && words[1] !== undefined && words[2] !== undefined) {
      const r = words[2].includes('-') ? undefined : parseAddrList(words[2].split(',')[0]!);
      const range = words[2].includes('-') ? words[2].split('-').map((x) => parseIPv4(x)) : undefined;
      let add: RangeSet | undefined;
      if (r && 'set' in r) add = r.set;
      else if (range && range[0] !== undefined && range[1] !== undefined && range[0] <= range[1]) add = [[range[0], range[1]]];
      if (add !== undefined) sets.set(words[1], R.union(sets.get(words[1]) ?? R.EMPTY, add));
      lines++;
    } else return undefined;
  }
  return lines > 0 ? { sets, lines } : undefined;
}
