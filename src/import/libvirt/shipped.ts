/**
 * The filters libvirt ships (/usr/share/libvirt/nwfilter, `virsh nwfilter-list` on a fresh host),
 * by what they mean for the IPv4 flows cordon models, so a reference to them needs no file:
 * - no-ip-spoofing (chain ipv4): from the guest, only its `IP` addresses (and 0.0.0.0 for a
 *   DHCP request to port 67) pass; everything else is dropped at layer 2;
 * - allow-incoming-ipv4 / allow-ipv4: layer-2 accepts, which end the layer-2 (ebtables) checks
 *   for IPv4 in that direction but never the connection-level (iptables) rules;
 * - no-ip-multicast: drops IPv4 multicast from the guest;
 * - clean-traffic: no-mac-spoofing + no-ip-spoofing + allow-incoming-ipv4 + no-arp-spoofing +
 *   no-other-l2-traffic + qemu-announce-self; clean-traffic-gateway adds a MAC restriction to one
 *   gateway, which cordon cannot model (a located warning; it only ever drops more);
 * - the MAC, ARP, RARP, IPv6, DHCP and layer-2-other filters do not change which IPv4 flows pass:
 *   a note says so.
 * A user's own <filter> of the same name replaces the shipped one, as `virsh nwfilter-define` would.
 */
import type { Direction } from './filter.js';

export type ShippedEffect =
  | { readonly kind: 'antispoof' }
  | { readonly kind: 'l2accept'; readonly direction: Direction }
  | { readonly kind: 'multicast' }
  | { readonly kind: 'l2only' }
  | { readonly kind: 'approx'; readonly why: string };

export interface ShippedFilter {
  readonly what: string;
  readonly chain: string;
  readonly refs: readonly string[];
  readonly effects: readonly ShippedEffect[];
}

const L2: ShippedEffect[] = [{ kind: 'l2only' }];
const CLEAN = ['no-mac-spoofing', 'no-ip-spoofing', 'allow-incoming-ipv4', 'no-arp-spoofing', 'no-other-l2-traffic', 'qemu-announce-self'];

export const SHIPPED: ReadonlyMap<string, ShippedFilter> = new Map<string, ShippedFilter>([
  ['clean-traffic', { what: 'no MAC, IP or ARP spoofing; nothing but IPv4 and ARP', chain: 'root', refs: CLEAN, effects: [] }],
  [
    'clean-traffic-gateway',
    {
      what: 'clean-traffic, and traffic only to and from the gateway MAC',
      chain: 'root',
      refs: CLEAN,
      effects: [
        {
          kind: 'approx',
          why: 'its restriction to the gateway MAC (GATEWAY_MAC) is not modelled: guests on the same network may look reachable directly although this filter drops that traffic',
        },
      ],
    },
  ],
  ['no-ip-spoofing', { what: "only the guest's own IP addresses as source", chain: 'ipv4', refs: [], effects: [{ kind: 'antispoof' }] }],
  ['allow-incoming-ipv4', { what: 'accept incoming IPv4 at layer 2', chain: 'ipv4', refs: [], effects: [{ kind: 'l2accept', direction: 'in' }] }],
  ['allow-ipv4', { what: 'accept IPv4 at layer 2', chain: 'ipv4', refs: [], effects: [{ kind: 'l2accept', direction: 'inout' }] }],
  ['no-ip-multicast', { what: 'no IPv4 multicast from the guest', chain: 'ipv4', refs: [], effects: [{ kind: 'multicast' }] }],
  ...[
    'no-mac-spoofing',
    'no-mac-broadcast',
    'no-arp-spoofing',
    'no-arp-ip-spoofing',
    'no-arp-mac-spoofing',
    'no-other-l2-traffic',
    'no-other-rarp-traffic',
    'allow-arp',
    'allow-dhcp',
    'allow-dhcp-server',
    'allow-dhcpv6',
    'allow-dhcpv6-server',
    'allow-incoming-ipv6',
    'allow-ipv6',
    'no-ipv6-multicast',
    'no-ipv6-spoofing',
    'qemu-announce-self',
    'qemu-announce-self-rarp',
  ].map((n): [string, ShippedFilter] => [n, { what: 'layer-2 (MAC, ARP, RARP, DHCP or IPv6) filtering', chain: 'root', refs: [], effects: L2 }]),
]);
