/**
 * Every kernel-visible name the lab creates comes from here: namespaces, world links, WireGuard
 * interfaces, nft tables. All of them carry the run-unique prefix (`cl` + 4 hex digits), so two
 * labs never collide and `lab down` can tell its own objects from everything else.
 *
 * Interfaces inside a lab namespace keep the spec's names (vmbr0, tap101i0, ens18): a namespace
 * has its own interface list, so they cannot collide with the machine's. The exception is
 * WireGuard: wireguard-go's control socket lives in the one shared /var/run/wireguard, so a tunnel
 * interface is created under a lab-unique name and renamed to the spec's name afterwards (its
 * socket keeps the unique name, which is what `wg` talks to).
 */
import { IFNAMSIZ, shortHash } from '../model/names.js';

/** `cl` + 4 lower-case hex digits. */
export const PREFIX_RE = /^cl[0-9a-f]{4}$/;

/** A namespace name belongs to a lab with this prefix. */
export function isLabNamespace(ns: string, prefix?: string): boolean {
  const m = /^(cl[0-9a-f]{4})[.-]/.exec(ns);
  return m !== null && (prefix === undefined || m[1] === prefix);
}

export function prefixOfNamespace(ns: string): string | undefined {
  return /^(cl[0-9a-f]{4})[.-]/.exec(ns)?.[1];
}

/** A fresh prefix from 16 random bits (the caller checks it is not in use). */
export function newPrefix(random: () => number): string {
  return `cl${Math.floor(random() * 0x10000).toString(16).padStart(4, '0')}`;
}

function slug(name: string): string {
  const s = name.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 48);
  return s === name ? s : `${s}_${shortHash(name, 4)}`;
}

/** The namespace of a host: `cl3f9a-pve`. */
export function hostNamespace(prefix: string, host: string): string {
  return `${prefix}-${slug(host)}`;
}

/** The namespace holding the bridge of a network nobody in the spec owns: `cl3f9a.net-lan`. */
export function networkNamespace(prefix: string, network: string): string {
  return `${prefix}.net-${slug(network)}`;
}

/** The internet: TEST-NET services, roaming peers' underlay, hosts placed on the internet. */
export function internetNamespace(prefix: string): string {
  return `${prefix}.internet`;
}

/** What lies behind hosts' uplinks: the owner's LAN and the way on to the internet. */
export function upstreamNamespace(prefix: string): string {
  return `${prefix}.upstream`;
}

/** The kernel name a tunnel interface is created under (and its wireguard-go socket keeps). */
export function wireguardKernelName(prefix: string, index: number): string {
  const name = `${prefix}w${index}`;
  if (name.length > IFNAMSIZ) throw new Error(`too many tunnel interfaces for one lab (${index})`);
  return name;
}

/** nft tables the lab adds beside the rendered ones (NAT, the upstream's SNAT). */
export function labTableName(prefix: string, what: string): string {
  return `${prefix}_${what.replace(/[^A-Za-z0-9_]/g, '_')}`;
}
