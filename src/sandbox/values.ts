/** The textual values of `cordon run`'s options: destinations, sizes, durations. */
import { parseCidr } from '../util/ip.js';
import type { NetRule } from './types.js';

/**
 * Parses `IP[/LEN][:PORT[-PORT]][/tcp|/udp]` (also `IP[/LEN]/icmp`); a domain or a bad port is an
 * error (message).
 */
export function parseNetRule(text: string): NetRule | string {
  const full = /^([^:]+?)(?::(\d{1,5})(?:-(\d{1,5}))?)?(?:\/(tcp|udp|icmp))?$/.exec(text.trim());
  const m = full && (full[4] !== 'icmp' || full[2] === undefined) ? full : null;
  if (!m) return `'${text}' is not IP[/LEN][:PORT[-PORT]][/tcp|/udp] or IP[/LEN]/icmp`;
  const addr = m[1]!;
  const cidr = parseCidr(addr.includes('/') ? addr : `${addr}/32`, false);
  if (!cidr) {
    if (/^[A-Za-z0-9*.-]+$/.test(addr)) return `'${text}' is a name; only --allow takes names (the sandbox's resolver answers them), --deny takes addresses`;
    return `'${text}' is not IP[/LEN][:PORT]`;
  }
  const port = m[2] === undefined ? undefined : Number(m[2]);
  const portHi = m[3] === undefined ? undefined : Number(m[3]);
  for (const p of [port, portHi]) if (p !== undefined && (p < 1 || p > 65535)) return `'${text}': port ${p} is out of range 1-65535`;
  if (port !== undefined && portHi !== undefined && portHi < port) return `'${text}': the port range ${port}-${portHi} is reversed`;
  const proto = m[4] as NetRule['proto'];
  return { cidr, port, ...(portHi !== undefined && portHi !== port ? { portHi } : {}), ...(proto ? { proto } : {}), text };
}

/** Parses `512m`, `1g`, `65536` (bytes). */
export function parseBytes(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)b?$/i.exec(text.trim());
  if (!m) return undefined;
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.floor(Number(m[1]) * mult);
}

/** Parses `30s`, `500ms`, `2m`, `1h`, `10` (seconds). */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return undefined;
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * mult);
}

export function formatBytes(n: number): string {
  for (const [u, f] of [
    ['g', 1024 ** 3],
    ['m', 1024 ** 2],
    ['k', 1024],
  ] as const)
    if (n >= f && n % f === 0) return `${n / f}${u}`;
  return String(n);
}
