/**
 * The sandbox's nftables rule sets, written through the shared text emitter (render/emit.ts): the
 * egress policy inside the sandbox and the NAT table in the host namespace. Pure.
 */
import { Emitter } from '../render/emit.js';
import { cidrRange, formatCidr, formatIPv4, inRange, parseCidr, rangesOverlap, type Cidr } from '../util/ip.js';
import type { NetRule, SandboxOptions } from './types.js';
import { WG_FWMARK } from './wireguard.js';

export const SBX_TABLE = 'cordon_sbx';

/** Link-local and cloud metadata: denied ahead of the allowlist unless an allow entry lies inside. */
export const ALWAYS_DENY: readonly string[] = ['169.254.0.0/16', '100.100.100.200/32'];

/**
 * How long a denied destination stays in the `denied` set. Elements are added once (`add`, which
 * does not refresh the timeout) and keep counting, so `timeout - expires` at exit says when the
 * first attempt was made: a per-attempt time without any logging.
 */
export const DENIED_TIMEOUT_S = 7 * 24 * 3600;

function dstOf(r: NetRule): string {
  return r.cidr.len === 32 ? formatIPv4(r.cidr.addr) : formatCidr(r.cidr);
}

/** The protocol and port part of a rule's match ('' = every protocol). */
function l4Of(r: NetRule): string {
  const ports = r.port === undefined ? undefined : r.portHi !== undefined ? `${r.port}-${r.portHi}` : String(r.port);
  if (r.proto === 'icmp') return 'meta l4proto icmp';
  if (r.proto !== undefined) return ports === undefined ? `meta l4proto ${r.proto}` : `${r.proto} dport ${ports}`;
  return ports === undefined ? '' : `meta l4proto { tcp, udp } th dport ${ports}`;
}

/** Words of a rule, the empty ones left out. */
function words(...parts: readonly string[]): string {
  return parts.filter((x) => x !== '').join(' ');
}

function match(r: NetRule): string {
  return words(`ip daddr ${dstOf(r)}`, l4Of(r));
}

/**
 * Allow rules as nft matches: rules with the same protocol and ports share one rule with an
 * anonymous set of destinations (nft merges overlapping prefixes in it), so a spec host's
 * hundreds of internet prefixes (`--as`) cost one lookup per port, not one rule per prefix.
 */
function allowMatches(rules: readonly NetRule[]): string[] {
  const byL4 = new Map<string, string[]>();
  for (const r of rules) byL4.set(l4Of(r), [...(byL4.get(l4Of(r)) ?? []), dstOf(r)]);
  return [...byL4].map(([l4, dsts]) => {
    const uniqDsts = [...new Set(dsts)];
    const dst = uniqDsts.length === 1 ? uniqDsts[0]! : `{ ${uniqDsts.join(', ')} }`;
    return words(`ip daddr ${dst}`, l4);
  });
}

/**
 * What a denied packet gets: TCP a reset, everything else ICMP "administratively prohibited"
 * (icmpx: the ICMPv6 form for IPv6), so the client fails in milliseconds with "connection
 * refused" / "no route to host" instead of waiting out its retries on a silent drop. The kernel
 * sends no ICMP error about an ICMP error, so rejecting every protocol cannot loop.
 */
export const REJECT_TCP = 'reject with tcp reset';
export const REJECT_OTHER = 'reject with icmpx admin-prohibited';

/** Every denied packet lands in `denied` (destination . proto . port) and its counter, then is rejected. */
const RECORD = [
  `meta l4proto tcp add @denied { ip daddr . meta l4proto . th dport } counter name denied ${REJECT_TCP}`,
  `meta l4proto udp add @denied { ip daddr . meta l4proto . th dport } counter name denied ${REJECT_OTHER}`,
  `meta nfproto ipv4 add @denied { ip daddr . meta l4proto . 0 } counter name denied ${REJECT_OTHER}`,
  `counter name denied ${REJECT_OTHER}`,
];

/**
 * An explicit deny (`--deny`, link-local/metadata) after its match: recorded without port, rejected
 * like the rest; the TCP reset line only where the match can be TCP (`proto`: the rule's protocol).
 */
function denyLines(m: string, proto?: string): string[] {
  const other = words(m, `add @denied { ip daddr . meta l4proto . 0 } counter name denied ${REJECT_OTHER}`);
  if (proto !== undefined && proto !== 'tcp') return [other];
  return [words(m, `meta l4proto tcp add @denied { ip daddr . meta l4proto . 0 } counter name denied ${REJECT_TCP}`), other];
}

/** vpn-only: the tunnel interface and the VPN servers' transport endpoints (out of the veth). */
export interface TunnelEgress {
  readonly ifname: string;
  readonly endpoints: readonly { readonly addr: number; readonly port: number }[];
}

const ANY: NetRule = { cidr: { addr: 0, len: 0 }, port: undefined, text: 'everything through the tunnel' };

/** Link-local/metadata ranges the allowlist overlaps without lying wholly inside one entry. */
function alwaysDenied(allow: readonly NetRule[]): Cidr[] {
  const allowed = allow.map((a) => cidrRange(a.cidr));
  return ALWAYS_DENY.map((text) => parseCidr(text, false)!).filter((c) => {
    const r = cidrRange(c);
    return !allowed.some((a) => inRange(a.lo, r) && inRange(a.hi, r)) && allowed.some((a) => rangesOverlap(a, r));
  });
}

/**
 * The sandbox's own egress policy: default drop; loopback and replies pass; deny entries, then
 * link-local/metadata, then allow entries; every denied packet is rejected (a TCP reset or ICMP
 * admin-prohibited, so clients fail fast) and lands in the dynamic set
 * `denied` (destination . proto . port, with packet and byte counters and its first-seen time),
 * which the run reads at exit (denied.ts) — per-destination denied attempts without any logging
 * infrastructure.
 *
 * vpn-only: only the tunnel interface carries traffic (all of it, or the allowlist's part); the
 * veth carries only the tunnel's own UDP to its endpoints, recognised by the fwmark wireguard-go
 * sets (the command cannot set marks). Replies are accepted per interface, so a connection that
 * began in the tunnel cannot continue outside it if the tunnel goes away: fail closed.
 */
export function sandboxRuleset(
  opts: Pick<SandboxOptions, 'mode' | 'allow' | 'deny'> & { readonly publish?: readonly number[] },
  resolver?: string,
  veth?: string,
  tunnel?: TunnelEgress,
): string {
  const vpn = opts.mode === 'vpn-only' && tunnel !== undefined;
  const e = new Emitter();
  e.block(`table inet ${SBX_TABLE} {`, () => {
    e.lines_(['counter tx {}', 'counter rx {}', 'counter denied {}']);
    e.line(`set denied { type ipv4_addr . inet_proto . inet_service; flags dynamic,timeout; timeout ${DENIED_TIMEOUT_S}s; size 65536; counter; }`);
    if (resolver !== undefined) e.lines_(['set dom4 { type ipv4_addr; }', 'set dom4p { type ipv4_addr . inet_service; }']);
    e.block('chain output {', () => {
      e.line('type filter hook output priority 0; policy drop;');
      // Every mode's default route leaves by a non-loopback interface (isolated: a veth pair with both
      // ends inside the namespace, plan.ts inlineNetwork), so lo carries only the namespace's own traffic.
      e.line('oifname "lo" accept');
      if (vpn) {
        e.line(`oifname "${tunnel.ifname}" ct state established,related counter name tx accept`);
        for (const p of tunnel.endpoints) {
          e.line(`oifname "${veth}" meta mark 0x${WG_FWMARK.toString(16)} ip daddr ${formatIPv4(p.addr)} udp dport ${p.port} counter name tx accept`);
        }
      } else e.line('ct state established,related counter name tx accept');
      for (const d of opts.deny) e.lines_(denyLines(match(d), d.proto));
      if (opts.mode === 'filtered' || vpn) {
        const allow = vpn && opts.allow.length === 0 ? [ANY] : opts.allow;
        for (const c of alwaysDenied(allow)) e.lines_(denyLines(`ip daddr ${formatCidr(c)}`));
        const via = vpn ? `oifname "${tunnel.ifname}"` : '';
        const matches = allow.includes(ANY) ? [''] : allowMatches(allow);
        for (const m of matches) e.line(words(via, m, 'counter name tx accept'));
        if (resolver !== undefined) {
          e.line(`ip daddr ${resolver} meta l4proto { tcp, udp } th dport 53 counter name tx accept`);
          e.lines_(['ip daddr @dom4 counter name tx accept', 'meta l4proto { tcp, udp } ip daddr . th dport @dom4p counter name tx accept']);
        }
      }
      e.lines_(RECORD);
    });
    e.block('chain input {', () => {
      e.lines_(['type filter hook input priority 0; policy drop;', 'iifname "lo" accept', 'ct state established,related counter name rx accept']);
      if (veth !== undefined && opts.publish !== undefined && opts.publish.length > 0)
        e.line(`iifname "${veth}" tcp dport { ${opts.publish.join(', ')} } counter name rx accept`);
    });
  });
  return e.toString();
}

/** The host side: masquerade the sandbox's /30 out of any other interface, forward its traffic. */
export function hostRuleset(table: string, veth: string, subnet: Cidr): string {
  const net = formatCidr(subnet);
  const e = new Emitter();
  e.block(`table ip ${table} {`, () => {
    e.block('chain forward {', () =>
      e.lines_([
        'type filter hook forward priority -1; policy accept;',
        `iifname "${veth}" ip saddr ${net} accept`,
        `oifname "${veth}" ct state established,related accept`,
        `oifname "${veth}" drop`,
      ]),
    );
    e.block('chain postrouting {', () =>
      e.lines_(['type nat hook postrouting priority 100; policy accept;', `ip saddr ${net} oifname != "${veth}" masquerade`]),
    );
  });
  return e.toString();
}
