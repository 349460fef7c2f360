/**
 * `cordon run --mode vpn-only --wireguard FILE`: reads a wg-quick style client config (the file a
 * VPN provider or `cordon render --target wireguard` hands out) and turns it into what the
 * sandbox needs: the `wg setconf` text (keys go to wg on stdin, never to a file or a log), the
 * tunnel's addresses, routes and DNS servers, and the transport endpoints the egress policy lets
 * out of the veth. Pure: text in, value or errors out.
 *
 * The sandbox is IPv4 only: IPv6 addresses and allowed IPs are dropped with a note (their traffic
 * has no route in the sandbox, so nothing leaks). An Endpoint must be an IPv4 literal: before the
 * tunnel is up the sandbox has no resolver it may use.
 */
import { isWgKey } from '../util/wgkey.js';
import { formatCidr, parseCidr, parseIPv4, type Cidr } from '../util/ip.js';

export interface WgPeer {
  readonly publicKey: string;
  readonly presharedKey: string | undefined;
  readonly endpoint: { readonly addr: number; readonly port: number; readonly text: string };
  readonly allowedIps: readonly Cidr[];
  readonly keepalive: number | undefined;
}

export interface WgClient {
  /** Where it came from, for messages. */
  readonly file: string;
  readonly privateKey: string;
  /** `Address =` entries: the sandbox's own address with its prefix length (host bits kept). */
  readonly addresses: readonly Cidr[];
  readonly addressTexts: readonly string[];
  readonly dns: readonly string[];
  readonly mtu: number | undefined;
  readonly peers: readonly WgPeer[];
  /** What was read but cannot be honoured in the sandbox (IPv6, PostUp …), said plainly. */
  readonly notes: readonly string[];
}

export class WgConfigError extends Error {}

/** wg-quick keys that only matter to wg-quick's own scripts on a host; harmless to skip in a sandbox. */
const HOST_ONLY = new Set(['table', 'preup', 'postup', 'predown', 'postdown', 'saveconfig', 'fwmark', 'listenport']);

const isV6 = (s: string): boolean => s.includes(':');

/** Parses a wg-quick file; every error names FILE:LINE and what was expected. */
export function parseWgQuick(text: string, file: string): WgClient {
  const errors: string[] = [];
  const notes: string[] = [];
  const err = (line: number, msg: string): void => {
    errors.push(`${file}:${line}: ${msg}`);
  };
  let section: 'none' | 'interface' | 'peer' = 'none';
  let privateKey: string | undefined;
  const addresses: Cidr[] = [];
  const addressTexts: string[] = [];
  const dns: string[] = [];
  let mtu: number | undefined;
  type Draft = { line: number; publicKey?: string; presharedKey?: string; endpoint?: WgPeer['endpoint']; allowedIps: Cidr[]; keepalive?: number };
  const peers: Draft[] = [];
  let interfaces = 0;
  // Keys seen with a bad value: already reported, so not "missing" as well.
  const seenBad = new Set<string>();
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const n = i + 1;
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const sec = /^\[(\w+)\]$/.exec(line);
    if (sec) {
      const name = sec[1]!.toLowerCase();
      if (name === 'interface') {
        section = 'interface';
        interfaces++;
        if (interfaces > 1) err(n, 'a second [Interface] section: one tunnel per file');
      } else if (name === 'peer') {
        section = 'peer';
        peers.push({ line: n, allowedIps: [] });
      } else err(n, `unknown section [${sec[1]}]: expected [Interface] or [Peer]`);
      return;
    }
    const kv = /^([A-Za-z]+)\s*=\s*(.*)$/.exec(line);
    if (!kv) {
      err(n, `cannot read '${line.slice(0, 40)}': expected Key = Value`);
      return;
    }
    const key = kv[1]!.toLowerCase();
    const value = kv[2]!.trim();
    const list = value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (section === 'none') {
      err(n, `'${kv[1]}' before any [Interface] or [Peer] section`);
      return;
    }
    if (section === 'interface') {
      switch (key) {
        case 'privatekey':
          if (!isWgKey(value)) {
            err(n, 'PrivateKey: expected a WireGuard key (44 characters of base64, as `wg genkey` prints it)');
            seenBad.add('privatekey');
          } else privateKey = value;
          return;
        case 'address':
          for (const a of list) {
            if (isV6(a)) {
              notes.push(`${file}:${n}: IPv6 address ${a} skipped (the sandbox is IPv4 only; IPv6 has no route there)`);
              continue;
            }
            // The interface's own address keeps its host bits (10.77.0.2/24).
            const [ip, len = '32'] = a.split('/');
            const addr = parseIPv4(ip ?? '');
            if (addr === undefined || !/^\d{1,2}$/.test(len) || Number(len) > 32) err(n, `Address: '${a}' is not an IPv4 address with an optional /LEN`);
            else {
              addresses.push({ addr, len: Number(len) });
              addressTexts.push(a.includes('/') ? a : `${a}/32`);
            }
          }
          return;
        case 'dns':
          for (const d of list) {
            if (parseIPv4(d) !== undefined) dns.push(d);
            else if (isV6(d)) notes.push(`${file}:${n}: IPv6 DNS server ${d} skipped`);
            else notes.push(`${file}:${n}: DNS search domain '${d}' ignored`);
          }
          return;
        case 'mtu': {
          const m = Number(value);
          if (!Number.isInteger(m) || m < 576 || m > 9000) err(n, `MTU: '${value}' is not a number between 576 and 9000`);
          else mtu = m;
          return;
        }
        default:
          if (HOST_ONLY.has(key)) {
            notes.push(`${file}:${n}: ${kv[1]} is for wg-quick on a host; not used in a sandbox`);
            return;
          }
          err(n, `unknown [Interface] key '${kv[1]}': expected PrivateKey, Address, DNS or MTU`);
          return;
      }
    }
    const p = peers[peers.length - 1]!;
    switch (key) {
      case 'publickey':
        if (!isWgKey(value)) {
          err(n, 'PublicKey: expected a WireGuard key (44 characters of base64, as `wg pubkey` prints it)');
          seenBad.add(`publickey@${p.line}`);
        } else p.publicKey = value;
        return;
      case 'presharedkey':
        if (!isWgKey(value)) err(n, 'PresharedKey: expected a WireGuard key (44 characters of base64, as `wg genpsk` prints it)');
        else p.presharedKey = value;
        return;
      case 'endpoint': {
        const m = /^(\d+\.\d+\.\d+\.\d+):(\d{1,5})$/.exec(value);
        const addr = m ? parseIPv4(m[1]!) : undefined;
        const port = m ? Number(m[2]) : 0;
        if (!m || addr === undefined || port < 1 || port > 65535) {
          seenBad.add(`endpoint@${p.line}`);
          err(
            n,
            `Endpoint: '${value}' is not IPv4:PORT${/[a-z]/i.test(value) ? ' (names are not resolved: before the tunnel is up the sandbox has no resolver it may use; put the address)' : ''}`,
          );
        } else p.endpoint = { addr, port, text: value };
        return;
      }
      case 'allowedips':
        for (const a of list) {
          if (isV6(a)) {
            notes.push(`${file}:${n}: IPv6 allowed IPs ${a} skipped (the sandbox is IPv4 only; IPv6 has no route there)`);
            continue;
          }
          const c = parseCidr(a.includes('/') ? a : `${a}/32`, false);
          if (!c) err(n, `AllowedIPs: '${a}' is not an IPv4 prefix`);
          else p.allowedIps.push(c);
        }
        return;
      case 'persistentkeepalive': {
        const k = value === 'off' ? 0 : Number(value);
        if (!Number.isInteger(k) || k < 0 || k > 65535) err(n, `PersistentKeepalive: '${value}' is not a number of seconds (0-65535) or off`);
        else if (k > 0) p.keepalive = k;
        return;
      }
      default:
        err(n, `unknown [Peer] key '${kv[1]}': expected PublicKey, PresharedKey, Endpoint, AllowedIPs or PersistentKeepalive`);
    }
  });
  if (interfaces === 0) errors.push(`${file}: no [Interface] section`);
  else if (privateKey === undefined && !seenBad.has('privatekey')) errors.push(`${file}: [Interface] has no PrivateKey`);
  if (interfaces > 0 && addresses.length === 0) errors.push(`${file}: [Interface] has no IPv4 Address: the sandbox needs its address inside the tunnel`);
  if (peers.length === 0) errors.push(`${file}: no [Peer] section: a vpn-only sandbox needs the VPN server as a peer`);
  const done: WgPeer[] = [];
  for (const p of peers) {
    if (p.publicKey === undefined && !seenBad.has(`publickey@${p.line}`)) errors.push(`${file}:${p.line}: [Peer] has no PublicKey`);
    if (p.endpoint === undefined && !seenBad.has(`endpoint@${p.line}`))
      errors.push(`${file}:${p.line}: [Peer] has no Endpoint: the sandbox dials out to the VPN server, so it must know where it is`);
    if (p.allowedIps.length === 0) errors.push(`${file}:${p.line}: [Peer] has no IPv4 AllowedIPs: nothing would go through the tunnel`);
    if (p.publicKey !== undefined && p.endpoint !== undefined) {
      done.push({ publicKey: p.publicKey, presharedKey: p.presharedKey, endpoint: p.endpoint, allowedIps: p.allowedIps, keepalive: p.keepalive });
    }
  }
  if (errors.length > 0) throw new WgConfigError(errors.join('\n'));
  return { file, privateKey: privateKey!, addresses, addressTexts, dns, mtu, peers: done, notes };
}

/** Marks the tunnel's own UDP packets (SO_MARK needs CAP_NET_ADMIN, which the command lacks). */
export const WG_FWMARK = 0xc0d0;

/** The text for `wg setconf IF /dev/stdin`: keys travel on a pipe only. */
export function wgSetconf(c: WgClient): string {
  const out = ['[Interface]', `PrivateKey = ${c.privateKey}`, `FwMark = 0x${WG_FWMARK.toString(16)}`];
  for (const p of c.peers) {
    out.push('', '[Peer]', `PublicKey = ${p.publicKey}`);
    if (p.presharedKey !== undefined) out.push(`PresharedKey = ${p.presharedKey}`);
    out.push(`Endpoint = ${p.endpoint.text}`, `AllowedIPs = ${p.allowedIps.map(formatCidr).join(', ')}`);
    if (p.keepalive !== undefined) out.push(`PersistentKeepalive = ${p.keepalive}`);
  }
  return `${out.join('\n')}\n`;
}

/** A copy fit for messages and --dry-run: no secret in it. */
export function redacted(c: WgClient): string {
  return wgSetconf(c).replace(/^(PrivateKey|PresharedKey) = .*$/gm, '$1 = (hidden)');
}
