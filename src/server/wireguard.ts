/**
 * WireGuard peers handed out by the server, for a tunnel declared in a spec. Pure parts: the next
 * free address and the config texts. Edge parts: the hub's key pair and config file under
 * `<data>/wireguard/`, both 0600 and written atomically (temporary file, fsync, rename), so a crash
 * never leaves a half-written config for `wg syncconf` to load.
 *
 * A client's private key exists only in the answer to the create call: it is never stored or
 * logged. The hub's private key is stored 0600 and never leaves the data directory.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Model, Tunnel } from '../model/types.js';
import { formatCidr, formatIPv4 } from '../util/ip.js';
import { generateWgKeyPair, keyPairOf, type WgKeyPair } from '../util/wgkey.js';
import { makeDirs } from '../util/mkdirs.js';

/** Addresses of the tunnel already taken by the spec itself (the hub, declared peers). */
export function specAddresses(model: Model, tunnel: Tunnel): number[] {
  const out: number[] = [];
  for (const h of model.hosts.values()) for (const n of h.nics) if (n.segment === tunnel.name) out.push(n.address);
  return out;
}

/** The lowest usable address of the tunnel's subnet not in `used` (network and broadcast excluded), or undefined when it is full. */
export function nextFreeAddress(tunnel: Tunnel, used: ReadonlySet<number>): number | undefined {
  const { lo, hi } = tunnel.range;
  const first = hi - lo >= 2 ? lo + 1 : lo;
  const last = hi - lo >= 2 ? hi - 1 : hi;
  for (let a = first; a <= last; a++) if (!used.has(a)) return a;
  return undefined;
}

export interface PeerEntry {
  readonly name: string;
  readonly publicKey: string;
  readonly address: number;
}

/** The hub's config: its interface and every active server-managed peer, sorted by address. */
export function hubConfigText(specName: string, tunnel: Tunnel, hub: WgKeyPair, peers: readonly PeerEntry[]): string {
  const lines = [
    `# cordon serve: spec ${specName}, tunnel ${tunnel.name}; rewritten on every peer change, apply with wg syncconf`,
    '[Interface]',
    `PrivateKey = ${hub.privateKey}`,
    `ListenPort = ${tunnel.listen}`,
  ];
  for (const p of [...peers].sort((a, b) => a.address - b.address))
    lines.push('', `# ${p.name}`, '[Peer]', `PublicKey = ${p.publicKey}`, `AllowedIPs = ${formatIPv4(p.address)}/32`);
  return `${lines.join('\n')}\n`;
}

/** The client's config (wg-quick format). Without a private key (the user brought their own pair) a comment says where it goes. */
export function clientConfigText(tunnel: Tunnel, hubPublicKey: string, address: number, privateKey: string | undefined): string {
  return [
    '[Interface]',
    privateKey ? `PrivateKey = ${privateKey}` : '# PrivateKey = <the private key of the public key you sent>',
    `Address = ${formatIPv4(address)}/${tunnel.cidr.len}`,
    '',
    '[Peer]',
    `PublicKey = ${hubPublicKey}`,
    `Endpoint = ${formatIPv4(tunnel.endpoint)}:${tunnel.listen}`,
    `AllowedIPs = ${formatCidr(tunnel.cidr)}`,
    'PersistentKeepalive = 25',
    '',
  ].join('\n');
}

/** Writes `text` beside `file` in a temporary file (0600, fsynced) and returns its path; rename it over `file` to publish it. */
export function writeTemp0600(file: string, text: string): string {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return tmp;
}

/** Writes `text` to `file` with mode 0600, atomically. */
export function writeFileAtomic0600(file: string, text: string): void {
  renameSync(writeTemp0600(file, text), file);
}

/** Files of one tunnel under `<data>/wireguard/`: `<spec id>-<tunnel>.key` and `.conf`. */
export function tunnelFiles(dataDir: string, specId: number, tunnel: string): { dir: string; key: string; conf: string } {
  const dir = join(dataDir, 'wireguard');
  return { dir, key: join(dir, `${specId}-${tunnel}.key`), conf: join(dir, `${specId}-${tunnel}.conf`) };
}

/** The hub's key pair for a tunnel, generated and stored (0600) on first use. */
export function hubKeyPair(files: { dir: string; key: string }): WgKeyPair {
  makeDirs(files.dir, 0o700);
  try {
    return keyPairOf(readFileSync(files.key, 'utf8').trim());
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const pair = generateWgKeyPair();
  writeFileAtomic0600(files.key, `${pair.privateKey}\n`);
  return pair;
}

/**
 * Loads `conf` into the running interface `ifname` in network namespace `netns` with
 * `wg syncconf`: peers added or removed, every other peer's session kept. Returns the error text,
 * or undefined on success. (Synchronous: a peer change waits for it, about 10 ms.)
 */
export function syncConf(netns: string, ifname: string, conf: string): string | undefined {
  const r = spawnSync('ip', ['netns', 'exec', netns, 'wg', 'syncconf', ifname, conf], { encoding: 'utf8', timeout: 10_000 });
  if (r.status === 0) return undefined;
  return (r.stderr || r.error?.message || `exit ${r.status}`).trim();
}

/** What the running interface says of one peer (`wg show IF dump`). */
export interface PeerStatus {
  /** ISO 8601 of the last handshake; null when there never was one. */
  readonly lastHandshake: string | null;
  readonly rxBytes: number;
  readonly txBytes: number;
  /** `IP:port` the peer last spoke from; null before its first packet. */
  readonly endpoint: string | null;
}

/**
 * Parses `wg show IF dump`: the interface's line (4 fields) first, then one line per peer, tab
 * separated: public key, preshared key, endpoint, allowed IPs, latest handshake (unix seconds,
 * 0 = never), rx bytes, tx bytes, keepalive. Lines of another shape are skipped, not guessed at.
 */
export function parseWgDump(text: string): Map<string, PeerStatus> {
  const out = new Map<string, PeerStatus>();
  for (const line of text.split('\n').slice(1)) {
    const f = line.split('\t');
    if (f.length !== 8) continue;
    const [key, , endpoint, , hs, rx, tx] = f as [string, string, string, string, string, string, string, string];
    if (!/^\d+$/.test(hs) || !/^\d+$/.test(rx) || !/^\d+$/.test(tx)) continue;
    const seconds = Number(hs);
    out.set(key, {
      lastHandshake: seconds === 0 ? null : new Date(seconds * 1000).toISOString(),
      rxBytes: Number(rx),
      txBytes: Number(tx),
      endpoint: endpoint === '(none)' ? null : endpoint,
    });
  }
  return out;
}

/** `wg show IFNAME dump` in `netns`, parsed; undefined (and the error text) when the interface cannot be read. */
export function wgDump(netns: string, ifname: string): { peers: Map<string, PeerStatus> } | { error: string } {
  const r = spawnSync('ip', ['netns', 'exec', netns, 'wg', 'show', ifname, 'dump'], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) return { error: (r.stderr || r.error?.message || `exit ${r.status}`).trim() };
  return { peers: parseWgDump(r.stdout) };
}
