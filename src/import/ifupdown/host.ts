/**
 * What the stanzas of one host's /etc/network/interfaces say about its addresses, bridges, routes
 * and resolvers (interfaces(5), and the bridge-utils-interfaces(5) options Debian and Proxmox use).
 *
 * - `inet static`: `address A/LEN` (or `address A` with `netmask M`; several address lines give
 *   several addresses), `gateway G` (the default route), `bridge-ports P…|none` (a bridge),
 *   `dns-nameservers A…` (resolvconf's option).
 * - `inet dhcp`: no address cordon can check (a warning); `inet manual`: no address (a bridge
 *   port); `inet loopback`: nothing to import; `inet6`: CORDON046.
 * - `up`/`post-up ip route add PREFIX via A` is a static route (`default` is the default route);
 *   its `down … del` twin undoes it. A `post-up … MASQUERADE` masquerades the bridge. Every other
 *   command (`up`, `pre-up`, `post-up`, `down`…) runs something cordon does not read: a warning at
 *   its line, the command quoted.
 * Options that change nothing about which addresses talk (STP timers, MTU, MAC address…) are read
 * without a word; any other option is a warning.
 */
import { diag, type Diagnostic } from '../../diag/diagnostic.js';
import { Code } from '../../diag/codes.js';
import { formatIPv4, parseIPv4 } from '../../util/ip.js';
import { commentText } from '../common/spec-writer.js';
import { parseAddrLen, prefixText, type HostNetConfig, type IfaceConfig, type LocatedAddr } from '../common/interfaces.js';
import type { IfaceStanza, IfOption } from './parse.js';

const COMMANDS = new Set(['up', 'post-up', 'pre-up', 'down', 'post-down', 'pre-down']);
const QUIET = new Set([
  'bridge-stp',
  'bridge-fd',
  'bridge-maxwait',
  'bridge-waitport',
  'bridge-hello',
  'bridge-maxage',
  'bridge-ageing',
  'bridge-vlan-aware',
  'bridge-vids',
  'bridge-pvid',
  'bridge-mcsnoop',
  'mtu',
  'hwaddress',
  'metric',
  'scope',
  'broadcast',
  'network',
  'vlan-raw-device',
  'dns-domain',
  'dns-search',
  'hostname',
  'description',
]);

function netmaskLen(text: string): number | undefined {
  const m = parseIPv4(text);
  if (m === undefined) return undefined;
  const len = 32 - Math.log2((~m >>> 0) + 1);
  return Number.isInteger(len) ? len : undefined;
}

/** `ip route add PREFIX|default via A …` → the route; undefined when the command is something else. */
function ipRoute(cmd: string, verb: 'add' | 'del'): { to: string; via: string } | undefined {
  const m = new RegExp(`^(?:/s?bin/|/usr/s?bin/)?ip (?:-4 )?route ${verb} (\\S+) via (\\S+)(?: dev \\S+)?(?: metric \\d+)?$`).exec(cmd.trim());
  return m ? { to: m[1]!, via: m[2]! } : undefined;
}

export function stanzasToHost(host: string, files: string[], stanzas: readonly IfaceStanza[], ds: Diagnostic[]): HostNetConfig {
  const cfg: HostNetConfig = { host, files, ifaces: [], defaultVia: undefined, routes: [], nameservers: undefined, wireguard: [] };
  const ifaceOf = (s: IfaceStanza): IfaceConfig => {
    let i = cfg.ifaces.find((x) => x.name === s.name);
    if (!i) {
      i = { name: s.name, at: s.at, addrs: [], bridgePorts: undefined, masquerade: false };
      cfg.ifaces.push(i);
    }
    return i;
  };
  const setDefault = (addr: number, o: IfOption): void => {
    if (cfg.defaultVia === undefined) cfg.defaultVia = { addr, at: o.at };
    else ds.push(diag(Code.IMPORT_UNSUPPORTED, 'warning', 'a second default route: cordon models one, the first is kept', o.at));
  };
  for (const s of stanzas) {
    if (s.family === 'inet6') {
      ds.push(diag(Code.IMPORT_IPV6, 'warning', `iface ${s.name.slice(0, 40)} inet6: IPv6 is not modelled, cordon verifies IPv4 only`, s.at));
      continue;
    }
    if (s.family !== 'inet') {
      ds.push(diag(Code.IMPORT_UNSUPPORTED, 'warning', `iface ${s.name.slice(0, 40)} ${s.family}: not an IPv4 stanza; not read`, s.at));
      continue;
    }
    if (s.method === 'loopback') continue;
    if (!['static', 'dhcp', 'manual'].includes(s.method)) {
      ds.push(
        diag(Code.IMPORT_UNSUPPORTED, 'warning', `method ${s.method.slice(0, 20)}: only static, dhcp, manual and loopback are read; this stanza is not`, s.at),
      );
      continue;
    }
    const iface = ifaceOf(s);
    if (s.method === 'dhcp')
      ds.push(
        diag(
          Code.IMPORT_UNSUPPORTED,
          'warning',
          `${s.name.slice(0, 40)} takes its address from DHCP: unknown here, so it is on no network`,
          s.at,
          'give the address the DHCP server hands out as a static stanza, or in --topology',
        ),
      );
    let pendingAddr: { addr: number; at: IfOption['at'] } | undefined;
    let netmask: number | undefined;
    let sawNetmask = false;
    for (const o of s.options) {
      const v = o.value;
      if (o.key === 'address') {
        if (s.method !== 'static') {
          ds.push(diag(Code.IMPORT_UNSUPPORTED, 'warning', `address on an inet ${s.method} stanza: ifupdown does not set it; left out`, o.at));
          continue;
        }
        if (v.includes(':')) {
          ds.push(diag(Code.IMPORT_IPV6, 'warning', `${commentText(v, 45)}: IPv6 is not modelled, cordon verifies IPv4 only`, o.at));
          continue;
        }
        const a = parseAddrLen(v);
        if (!a) ds.push(diag(Code.IMPORT_SYNTAX, 'error', `address '${commentText(v, 45)}': expected A.B.C.D/LEN, or A.B.C.D with a netmask line`, o.at));
        else if (a.len !== undefined) iface.addrs.push({ addr: a.addr, len: a.len, at: o.at });
        else pendingAddr = { addr: a.addr, at: o.at };
      } else if (o.key === 'netmask') {
        sawNetmask = true;
        netmask = netmaskLen(v);
        if (netmask === undefined) ds.push(diag(Code.IMPORT_SYNTAX, 'error', `netmask '${commentText(v, 45)}' is not a netmask`, o.at));
      } else if (o.key === 'gateway') {
        const g = parseIPv4(v);
        if (v.includes(':')) ds.push(diag(Code.IMPORT_IPV6, 'warning', `gateway ${commentText(v, 45)}: IPv6 is not modelled`, o.at));
        else if (g === undefined) ds.push(diag(Code.IMPORT_SYNTAX, 'error', `gateway '${commentText(v, 45)}' is not an IPv4 address`, o.at));
        else setDefault(g, o);
      } else if (o.key === 'bridge-ports') {
        iface.bridgePorts = v.split(/\s+/).filter((p) => p !== '' && p !== 'none');
      } else if (o.key === 'dns-nameservers') {
        const addrs: number[] = [];
        for (const w of v.split(/\s+/)) {
          const a = parseIPv4(w);
          if (a !== undefined) addrs.push(a);
          else if (w.includes(':')) ds.push(diag(Code.IMPORT_IPV6, 'warning', `nameserver ${commentText(w, 45)}: IPv6 is not modelled`, o.at));
          else ds.push(diag(Code.IMPORT_SYNTAX, 'error', `nameserver '${commentText(w, 45)}' is not an IPv4 address`, o.at));
        }
        cfg.nameservers = { addrs: [...(cfg.nameservers?.addrs ?? []), ...addrs], at: cfg.nameservers?.at ?? o.at };
      } else if (COMMANDS.has(o.key)) {
        const add = o.key === 'up' || o.key === 'post-up' ? ipRoute(v, 'add') : undefined;
        const del = o.key === 'down' || o.key === 'pre-down' || o.key === 'post-down' ? ipRoute(v, 'del') : undefined;
        if (add) {
          const via = parseIPv4(add.via);
          const to = add.to === 'default' ? { addr: 0, len: 0 } : parseAddrLen(add.to);
          if (via === undefined || !to || to.len === undefined) {
            ds.push(
              diag(
                Code.IMPORT_UNSUPPORTED,
                'warning',
                `${o.key} ${commentText(v, 80)}: a route cordon cannot read (IPv4 prefix and next hop expected); not imported`,
                o.at,
              ),
            );
          } else if (to.len === 0) setDefault(via, o);
          else cfg.routes.push({ to: prefixText(to.addr, to.len), via, at: o.at });
        } else if (del) {
          // Undoes an `up … add` when the interface goes down: nothing while it is up.
        } else if (/\bMASQUERADE\b/.test(v) && (o.key === 'post-up' || o.key === 'up')) {
          iface.masquerade = true;
          ds.push(diag(Code.IMPORT_NOTE, 'info', `${o.key}: masquerades what leaves ${s.name.slice(0, 40)} (source NAT): taken as the bridge's way out`, o.at));
        } else if (o.key.endsWith('down')) {
          // Runs when the interface goes down: says nothing about what is allowed while it is up.
        } else
          ds.push(
            diag(
              Code.IMPORT_UNSUPPORTED,
              'warning',
              `${o.key} ${commentText(v, 80)}: a command cordon does not read`,
              o.at,
              'if it sets up addresses, routes or a firewall, give them in a form cordon reads (an iface stanza, --from iptables, --topology)',
            ),
          );
      } else if (!QUIET.has(o.key)) ds.push(diag(Code.IMPORT_UNSUPPORTED, 'warning', `option ${commentText(o.key, 40)}: not read`, o.at));
    }
    if (pendingAddr) {
      if (netmask === undefined && !sawNetmask)
        ds.push(
          diag(
            Code.IMPORT_SYNTAX,
            'error',
            `address ${formatIPv4(pendingAddr.addr)} has no prefix length and the stanza no netmask`,
            pendingAddr.at,
            'write it as A.B.C.D/LEN',
          ),
        );
      else if (netmask !== undefined) iface.addrs.push({ addr: pendingAddr.addr, len: netmask, at: pendingAddr.at } satisfies LocatedAddr);
    }
  }
  return cfg;
}
