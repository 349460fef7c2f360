/**
 * IPv4 addresses as unsigned 32-bit numbers and ranges of them.
 * cordon models IPv4 only; IPv6 input is refused with a diagnostic rather than silently ignored.
 */

import type { RangeSet } from './rangeset.js';

/** An inclusive range of IPv4 addresses, both ends as unsigned 32-bit integers. */
export interface AddrRange {
  readonly lo: number;
  readonly hi: number;
}

export interface Cidr {
  readonly addr: number;
  readonly len: number;
}

/** The highest IPv4 address as a number (255.255.255.255). */
export const ADDR_MAX = 0xffffffff;

/** Every IPv4 address, as a range. */
export const ALL_ADDRS: AddrRange = { lo: 0, hi: ADDR_MAX };

/** Every IPv4 address as a set: the any-address, 0.0.0.0/0. The one literal of it in cordon. */
export const ANY_ADDRESS: RangeSet = [[0, ADDR_MAX]];

/** Whether a (normalised) set is every address. */
export function isAnyAddress(set: RangeSet): boolean {
  return set.length === 1 && set[0]![0] === 0 && set[0]![1] === ADDR_MAX;
}

/**
 * Parses a dotted-quad address (four groups of one to three digits, each at most 255, no leading
 * zero); returns undefined when it is not one. Read by hand, not by a regex with its match array:
 * every address of a spec goes through here (1,000s of hosts, rules, routes).
 */
export function parseIPv4(text: string): number | undefined {
  const t = text.trim();
  let n = 0;
  let i = 0;
  for (let part = 0; part < 4; part++) {
    if (part > 0) {
      if (t.charCodeAt(i) !== 0x2e) return undefined;
      i++;
    }
    const start = i;
    let octet = 0;
    for (; i < t.length && i - start < 3; i++) {
      const c = t.charCodeAt(i);
      if (c < 0x30 || c > 0x39) break;
      octet = octet * 10 + (c - 0x30);
    }
    if (i === start || octet > 255 || (i - start > 1 && t.charCodeAt(start) === 0x30)) return undefined;
    n = n * 256 + octet;
  }
  return i === t.length ? n : undefined;
}

/** Parses `a.b.c.d/len` (or a bare address, taken as /32). Host bits must be zero when `strict`. */
export function parseCidr(text: string, strict = true): Cidr | undefined {
  const t = text.trim();
  const slash = t.indexOf('/');
  if (slash >= 0 && t.indexOf('/', slash + 1) >= 0) return undefined;
  const a = slash < 0 ? t : t.slice(0, slash);
  const l = slash < 0 ? undefined : t.slice(slash + 1);
  const addr = parseIPv4(a);
  if (addr === undefined) return undefined;
  let len = 32;
  if (l !== undefined) {
    if (!/^\d{1,2}$/.test(l)) return undefined;
    len = Number(l);
    if (len > 32) return undefined;
  }
  const net = networkOf(addr, len);
  if (strict && net !== addr) return undefined;
  return { addr: net, len };
}

export function maskOf(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

export function networkOf(addr: number, len: number): number {
  return (addr & maskOf(len)) >>> 0;
}

export function cidrRange(c: Cidr): AddrRange {
  const lo = networkOf(c.addr, c.len);
  const hi = (lo + (len2size(c.len) - 1)) >>> 0;
  return { lo, hi };
}

/** 2 ** i for i in 0..32: rangeToCidrs asks for these millions of times when rendering big specs. */
const POW2: readonly number[] = Array.from({ length: 33 }, (_, i) => 2 ** i);

function len2size(len: number): number {
  return POW2[32 - len]!;
}

export function formatIPv4(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export function formatCidr(c: Cidr): string {
  return `${formatIPv4(c.addr)}/${c.len}`;
}

export function inRange(addr: number, r: AddrRange): boolean {
  return addr >= r.lo && addr <= r.hi;
}

export function rangesOverlap(a: AddrRange, b: AddrRange): boolean {
  return a.lo <= b.hi && b.lo <= a.hi;
}

/** Splits an inclusive range into the minimal list of CIDR blocks covering exactly it. */
export function rangeToCidrs(r: AddrRange): Cidr[] {
  const out: Cidr[] = [];
  let lo = r.lo;
  while (lo <= r.hi) {
    let len = 32;
    // Grow the block while it stays aligned and inside the range.
    while (len > 0) {
      const size = len2size(len - 1);
      if (lo % size !== 0 || lo + size - 1 > r.hi) break;
      len--;
    }
    out.push({ addr: lo, len });
    lo = lo + len2size(len);
    if (lo > 0xffffffff) break;
  }
  return out;
}

/** Formats a range as compactly as possible: a single address, a CIDR, or a `lo-hi` span. */
export function formatRange(r: AddrRange): string {
  if (r.lo === r.hi) return formatIPv4(r.lo);
  const cidrs = rangeToCidrs(r);
  if (cidrs.length === 1) return formatCidr(cidrs[0]!);
  return `${formatIPv4(r.lo)}-${formatIPv4(r.hi)}`;
}
