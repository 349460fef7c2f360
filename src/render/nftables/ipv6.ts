/**
 * IPv6 cannot leak: cordon models IPv4 only, so every host with a cordon rule set drops IPv6 in
 * its own tables, whatever the policy chains accept and whatever the bridge sysctls say.
 *
 *   ip6 cordon_<host>_ipv6    input, forward and output at priority -10: IPv6 on `lo` passes
 *                             (local daemons bind ::1), every other IPv6 packet is counted and
 *                             dropped. Neighbour discovery and router advertisements are dropped
 *                             too: with no IPv6 traffic allowed there is nothing to resolve, and an
 *                             accepted RA would give the host addresses and routes cordon cannot see.
 *   bridge cordon_<host>_v4only  on the bridges the host owns, a guest port passes IPv4 and ARP only,
 *                             both ways: no IPv6 (so no RA and no SLAAC for guests, from the host, a
 *                             router behind a bridged uplink or another guest), no VLAN-tagged
 *                             frames (which br_netfilter's IPv4 hooks would not see either), no other
 *                             ethertype. At layer 2, so it holds for frames bridged between two
 *                             ports, which the inet hooks see only with bridge-nf-call-ip6tables=1.
 * Drops are counted in the rule (`nft list table …`) and logged, rate-limited, to syslog. The file
 * lists cordon's tables in the order `apply` sorts them by (family, then name), so a rolled-back
 * rule set lists exactly as it was: v4only right after the ports table, ip6 last.
 */
import type { Model } from '../../model/types.js';
import { tableName } from '../../model/names.js';
import type { Emitter } from '../emit.js';
import { ifname } from '../escape.js';

/** IPv4 and ARP: every ethertype a guest port carries. */
const L2_ALLOWED = 'ether type != { ip, arp }';
const LOG = 'limit rate 5/second burst 10 packets log prefix';

export function ipv6TableName(host: string): string {
  return tableName(`${host}:ipv6`);
}

export function l2TableName(host: string): string {
  return tableName(`${host}:v4only`);
}

/** Guest ports on bridges `host` owns (every host's nic with a port on such a network), sorted. */
export function guestPorts(model: Model, host: string): string[] {
  const ports = new Set<string>();
  for (const h of model.hosts.values())
    for (const n of h.nics) if (n.port !== undefined && h.name !== host && model.networks.get(n.segment)?.owner === host) ports.add(n.port);
  return [...ports].sort();
}

/** Appends the ip6 table of `host` (with its atomic-replace preamble): every IPv6 packet but loopback's is dropped. */
export function emitIpv6Guard(e: Emitter, host: string): void {
  const t = ipv6TableName(host);
  e.gap();
  e.line('# IPv6 is not modelled by cordon: this host drops all of it except on lo, neighbour');
  e.line('# discovery and router advertisements included, in a table of its own that no policy rule reaches.');
  e.line(`table ip6 ${t} {}`);
  e.line(`delete table ip6 ${t}`);
  e.block(`table ip6 ${t} {`, () => {
    for (const hook of ['input', 'forward', 'output'] as const) {
      e.block(`chain ${hook} {`, () => {
        e.line(`type filter hook ${hook} priority -10; policy accept;`);
        if (hook !== 'forward') e.line(`${hook === 'input' ? 'iifname' : 'oifname'} "lo" accept`);
        e.line(`${LOG} "cordon drop ipv6 ${hook} " level info`);
        e.line('counter drop');
      });
    }
  });
}

/** Appends the bridge table that lets guest ports carry IPv4 and ARP only; nothing when the host owns no guest port. */
export function emitL2Guard(e: Emitter, model: Model, host: string): void {
  const ports = guestPorts(model, host);
  if (ports.length === 0) return;
  const set = ports.length === 1 ? `"${ifname(ports[0]!)}"` : `{ ${ports.map((p) => `"${ifname(p)}"`).join(', ')} }`;
  const l2 = l2TableName(host);
  e.gap();
  e.line('# Guest ports carry IPv4 and ARP only, in and out: no IPv6 (no RA, no SLAAC), no VLAN tags.');
  e.line(`table bridge ${l2} {}`);
  e.line(`delete table bridge ${l2}`);
  e.block(`table bridge ${l2} {`, () => {
    // Chains named for what they guard, not after their hooks: only cordon's point tables have a `chain forward`.
    e.block('chain from_guest {', () => {
      e.line('type filter hook prerouting priority -190; policy accept;');
      e.line(`iifname ${set} ${L2_ALLOWED} ${LOG} "cordon drop non-ipv4 from guest " level info`);
      e.line(`iifname ${set} ${L2_ALLOWED} counter drop`);
    });
    for (const [name, hook] of [
      ['to_guest', 'forward'],
      ['to_guest_local', 'output'],
    ] as const) {
      e.block(`chain ${name} {`, () => {
        e.line(`type filter hook ${hook} priority -190; policy accept;`);
        e.line(`oifname ${set} ${L2_ALLOWED} ${LOG} "cordon drop non-ipv4 to guest " level info`);
        e.line(`oifname ${set} ${L2_ALLOWED} counter drop`);
      });
    }
  });
}
