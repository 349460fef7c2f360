/**
 * Values as `nft -j` prints them, turned into the intervals cordon reasons with: addresses
 * (`"10.0.0.1"`, `{prefix: {addr, len}}`, `{range: [a, b]}`), protocols (`"tcp"`, `6`,
 * `{range: [2, 5]}`), ports (`22`, `{range: [80, 90]}`), interface names and marks. nft
 * normalises what it prints (names for protocol numbers it knows, prefixes for aligned ranges),
 * so comparisons are made on these intervals, never on the text.
 */
import { maskOf, parseIPv4 } from '../../util/ip.js';

export type Iv = readonly [number, number];

/** What a parse gives: an interval, or why the value is not one cordon understands. */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = <T>(error: string): Parsed<T> => ({ ok: false, error });

/** IP protocol names nft prints (from Debian's /etc/protocols, which nft reads through libc). */
export const PROTO_NUMBERS: ReadonlyMap<string, number> = new Map([
  ['ip', 0],
  ['hopopt', 0],
  ['icmp', 1],
  ['igmp', 2],
  ['ggp', 3],
  ['ipencap', 4],
  ['st', 5],
  ['tcp', 6],
  ['egp', 8],
  ['igp', 9],
  ['pup', 12],
  ['udp', 17],
  ['hmp', 20],
  ['xns-idp', 22],
  ['rdp', 27],
  ['iso-tp4', 29],
  ['dccp', 33],
  ['xtp', 36],
  ['ddp', 37],
  ['idpr-cmtp', 38],
  ['ipv6', 41],
  ['ipv6-route', 43],
  ['ipv6-frag', 44],
  ['idrp', 45],
  ['rsvp', 46],
  ['gre', 47],
  ['esp', 50],
  ['ah', 51],
  ['skip', 57],
  ['ipv6-icmp', 58],
  ['icmpv6', 58],
  ['ipv6-nonxt', 59],
  ['ipv6-opts', 60],
  ['rspf', 73],
  ['vmtp', 81],
  ['eigrp', 88],
  ['ospf', 89],
  ['ax.25', 93],
  ['ipip', 94],
  ['etherip', 97],
  ['encap', 98],
  ['pim', 103],
  ['ipcomp', 108],
  ['vrrp', 112],
  ['l2tp', 115],
  ['isis', 124],
  ['sctp', 132],
  ['fc', 133],
  ['mobility-header', 135],
  ['udplite', 136],
  ['mpls-in-ip', 137],
  ['manet', 138],
  ['hip', 139],
  ['shim6', 140],
  ['wesp', 141],
  ['rohc', 142],
  ['ethernet', 143],
]);

/** Services nft may print by name for a port (it does not by default; accepted for hand-made input). */
const PORT_NUMBERS: ReadonlyMap<string, number> = new Map([
  ['ssh', 22],
  ['domain', 53],
  ['http', 80],
  ['https', 443],
  ['ntp', 123],
  ['smtp', 25],
  ['ftp', 21],
]);

export function describeValue(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function addrOf(v: unknown): Parsed<number> {
  if (typeof v !== 'string') return bad(`${describeValue(v)} is not an IPv4 address`);
  const n = parseIPv4(v);
  return n === undefined ? bad(`"${v}" is not an IPv4 address (cordon models IPv4 only)`) : ok(n);
}

/** One address value: a single address, a prefix or a range. */
export function parseAddr(v: unknown): Parsed<Iv> {
  if (typeof v === 'string') {
    const a = addrOf(v);
    return a.ok ? ok([a.value, a.value]) : a;
  }
  if (isObj(v) && isObj(v.prefix)) {
    const a = addrOf(v.prefix.addr);
    const len = v.prefix.len;
    if (!a.ok) return a;
    if (typeof len !== 'number' || !Number.isInteger(len) || len < 0 || len > 32) return bad(`prefix length ${describeValue(len)} is not 0..32`);
    const lo = (a.value & maskOf(len)) >>> 0;
    return ok([lo, (lo + 2 ** (32 - len) - 1) >>> 0]);
  }
  if (isObj(v) && Array.isArray(v.range) && v.range.length === 2) {
    const lo = addrOf(v.range[0]);
    const hi = addrOf(v.range[1]);
    if (!lo.ok) return lo;
    if (!hi.ok) return hi;
    return lo.value <= hi.value ? ok([lo.value, hi.value]) : bad(`address range ${describeValue(v)} runs backwards`);
  }
  return bad(`${describeValue(v)} is not an address, prefix or address range`);
}

function numberOf(v: unknown, names: ReadonlyMap<string, number>, max: number, what: string): Parsed<number> {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max) return ok(v);
  if (typeof v === 'string') {
    if (/^\d+$/.test(v) && Number(v) <= max) return ok(Number(v));
    const n = names.get(v);
    if (n !== undefined) return ok(n);
  }
  return bad(`${describeValue(v)} is not ${what}`);
}

function intervalOf(v: unknown, names: ReadonlyMap<string, number>, max: number, what: string): Parsed<Iv> {
  if (isObj(v) && Array.isArray(v.range) && v.range.length === 2) {
    const lo = numberOf(v.range[0], names, max, what);
    const hi = numberOf(v.range[1], names, max, what);
    if (!lo.ok) return lo;
    if (!hi.ok) return hi;
    return lo.value <= hi.value ? ok([lo.value, hi.value]) : bad(`range ${describeValue(v)} runs backwards`);
  }
  const n = numberOf(v, names, max, what);
  return n.ok ? ok([n.value, n.value]) : n;
}

/** An IP protocol (l4proto) value: a name, a number or a range. */
export function parseProto(v: unknown): Parsed<Iv> {
  return intervalOf(v, PROTO_NUMBERS, 255, 'an IP protocol');
}

/** A port (inet_service) value: a number or a range. */
export function parsePort(v: unknown): Parsed<Iv> {
  return intervalOf(v, PORT_NUMBERS, 65535, 'a port');
}

/** A packet mark: a number (nft prints marks as numbers in JSON). */
export function parseMark(v: unknown): Parsed<Iv> {
  return intervalOf(v, new Map(), 0xffffffff, 'a mark');
}

export function parseIfname(v: unknown): Parsed<string> {
  return typeof v === 'string' ? ok(v) : bad(`${describeValue(v)} is not an interface name`);
}

/**
 * The members of a right-hand side: one value, or an anonymous set `{set: [...]}`.
 * Set elements may be wrapped as `{elem: {val}}` (when they carry counters or timeouts).
 */
export function members(v: unknown): unknown[] {
  if (isObj(v) && Array.isArray(v.set)) return v.set.map(unwrapElem);
  return [unwrapElem(v)];
}

export function unwrapElem(v: unknown): unknown {
  if (isObj(v) && isObj(v.elem) && 'val' in v.elem) return v.elem.val;
  return v;
}

/** The components of one (possibly concatenated) set element. */
export function concatParts(v: unknown): unknown[] {
  const u = unwrapElem(v);
  if (isObj(u) && Array.isArray(u.concat)) return u.concat;
  return [u];
}
