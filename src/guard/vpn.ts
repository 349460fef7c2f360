/**
 * VPN health: how long ago each WireGuard peer of the watched host last completed a handshake
 * (`wg show IF dump`, in the namespace), by the spec's name for that peer — never its key.
 *
 * WireGuard renews a session's handshake every 2 minutes while traffic flows and gives a session
 * up 180 s after its handshake (REJECT_AFTER_TIME), so a handshake older than that means no
 * session: the tunnel is down. The guard then reports `vpn-down` (and `vpn-up` once a handshake
 * is fresh again). It changes nothing: a vpn-only host's rules drop whatever does not go through
 * the tunnel, so a tunnel that is down lets nothing out (fail-closed), with or without the guard.
 * Pure parts here; the guard polls.
 */
import type { Ir } from '../ir/types.js';
import { GUARD_DEFAULTS } from '../model/types.js';
import { parseIPv4 } from '../util/ip.js';

/** WireGuard's REJECT_AFTER_TIME: no session outlives its handshake by more (seconds); the spec's guard.vpnDownAfter default. */
export const DEFAULT_VPN_DOWN_AFTER_S: number = GUARD_DEFAULTS.vpnDownAfterS;

/** One tunnel of the watched host, with the spec's names for the addresses its peers carry. */
export interface VpnTunnel {
  readonly tunnel: string;
  /** The interface name to give `wg show` (the spec's ifname unless told otherwise). */
  readonly ifname: string;
  /** The tunnel's server (preferred when a peer's allowed IPs cover several hosts, as 0.0.0.0/0 does). */
  readonly server: string;
  /** Other members' tunnel addresses → their names. */
  readonly members: ReadonlyMap<number, string>;
}

/** The tunnels `host` is on (server or member), sorted by name; `ifnames` overrides interface names by tunnel. */
export function vpnTunnels(ir: Ir, host: string, ifnames: ReadonlyMap<string, string> = new Map()): VpnTunnel[] {
  const h = ir.model.hosts.get(host);
  if (!h) return [];
  const out: VpnTunnel[] = [];
  for (const t of [...ir.model.tunnels.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    if (!h.nics.some((n) => n.segment === t.name)) continue;
    const members = new Map<number, string>();
    for (const o of ir.model.hosts.values()) {
      if (o.name === host) continue;
      for (const n of o.nics) if (n.segment === t.name) members.set(n.address, o.name);
    }
    out.push({ tunnel: t.name, ifname: ifnames.get(t.name) ?? t.ifname, server: t.server, members });
  }
  return out;
}

export interface WgPeerState {
  readonly allowedIps: readonly string[];
  /** Epoch seconds of the last handshake; 0 = never. */
  readonly latestHandshake: number;
}

/** The peers `host` should have on a tunnel: the server for a member; every member for the server. */
export function expectedPeers(t: VpnTunnel, host: string): string[] {
  if (host !== t.server) return [t.server];
  return [...new Set(t.members.values())].sort();
}

/** `wg show IF dump`: the interface line first, then one tab-separated line per peer. Keys are read past, never kept. */
export function parseWgDump(text: string): WgPeerState[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const out: WgPeerState[] = [];
  for (const line of lines.slice(1)) {
    const f = line.split('\t');
    if (f.length < 8) continue;
    const hs = Number(f[4]);
    out.push({ allowedIps: f[3] === '(none)' ? [] : f[3]!.split(','), latestHandshake: Number.isFinite(hs) ? hs : 0 });
  }
  return out;
}

function covers(cidr: string, addr: number): boolean {
  const [a, l] = cidr.split('/');
  const base = parseIPv4(a ?? '');
  const len = Number(l ?? 32);
  if (base === undefined || !(len >= 0 && len <= 32)) return false;
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return (base & mask) >>> 0 === (addr & mask) >>> 0;
}

/**
 * The spec's name for a peer, from the tunnel addresses its allowed IPs cover: the tunnel's server
 * when covered (a member's one peer, 0.0.0.0/0), else the one member covered, else the covered
 * members joined by `+`; `unknown` when it covers none (a peer the spec does not declare).
 */
export function peerName(t: VpnTunnel, allowedIps: readonly string[]): string {
  const names = new Set<string>();
  for (const [addr, name] of t.members) if (allowedIps.some((c) => covers(c.trim(), addr))) names.add(name);
  if (names.has(t.server)) return t.server;
  if (names.size === 0) return 'unknown';
  return [...names].sort().join('+');
}

export interface VpnTransition {
  readonly tunnel: string;
  readonly peer: string;
  readonly up: boolean;
  /** Seconds since the last handshake; null = never. */
  readonly ageSeconds: number | null;
}

/** Up/down per peer from handshake ages; each change reported once. The first reading reports only a peer that is down. */
export class VpnHealth {
  private readonly up = new Map<string, boolean>();

  constructor(private readonly downAfterS: number) {}

  /** Age in seconds at `nowS` (Infinity when never). */
  static age(p: WgPeerState, nowS: number): number {
    return p.latestHandshake === 0 ? Infinity : Math.max(0, nowS - p.latestHandshake);
  }

  update(tunnel: string, peer: string, ageS: number): VpnTransition | undefined {
    const key = `${tunnel}\0${peer}`;
    const isUp = ageS <= this.downAfterS;
    const was = this.up.get(key);
    this.up.set(key, isUp);
    if (was === isUp || (was === undefined && isUp)) return undefined;
    return { tunnel, peer, up: isUp, ageSeconds: Number.isFinite(ageS) ? Math.round(ageS * 10) / 10 : null };
  }
}
