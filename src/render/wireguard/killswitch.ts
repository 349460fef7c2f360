/**
 * The in-guest kill switch of a vpn-only host: its own input/output (and forward) chains from the
 * IR, which allow the tunnel interface and the tunnel's own UDP transport to the server and drop
 * everything else. Rendered twice, for whichever tool the guest has:
 *
 * - `killswitch.nft`: one `inet` table, loaded atomically with `nft -f`; rules that name no
 *   address apply to IPv6 as well, so IPv6 cannot leak around the tunnel either;
 * - `killswitch.rules.v4` / `killswitch.rules.v6`: iptables-restore / ip6tables-restore files
 *   (the form seed 004 uses). cordon models IPv4: the v6 file keeps only rules without addresses
 *   (loopback, the tunnel interface, connection state) and drops the rest.
 *
 * Rules are written one per line, in IR order, each with its origin, so the file reads like the
 * spec. A kill switch is small; the nftables target's set machinery is not needed here.
 */
import { diag, type Diagnostic } from '../../diag/diagnostic.js';
import { Code } from '../../diag/codes.js';
import type { Chain, Ir, IrRule } from '../../ir/types.js';
import { assertNever } from '../../util/assert.js';
import { ALL_FLOWS, flowEqual, type FlowSet } from '../../util/flows.js';
import { formatIPv4, rangeToCidrs } from '../../util/ip.js';
import * as R from '../../util/rangeset.js';
import type { RangeSet, Span } from '../../util/rangeset.js';
import { commented, Emitter, headerLines } from '../emit.js';
import { ifname, inert, quotedText } from '../escape.js';

/** The nft table the kill switch lives in; apart from the nftables target's tables. */
export const KILLSWITCH_TABLE = 'cordon_killswitch';

const HOOK_ORDER: Record<string, number> = { input: 0, forward: 1, output: 2 };

/** The in-guest chains of a host, in a stable order (input, forward, output). */
export function killswitchChains(ir: Ir, host: string): Chain[] {
  return [...ir.chains.values()]
    .filter((c) => c.enforcedOn === host && (c.hook === 'input' || c.hook === 'output' || c.hook === 'forward'))
    .sort((a, b) => (HOOK_ORDER[a.hook] ?? 9) - (HOOK_ORDER[b.hook] ?? 9));
}

function where(r: IrRule): string {
  return inert(`${r.id}: ${r.origin.text} (${r.origin.file.split('/').pop()}:${r.origin.line})`);
}

function inPortError(ir: Ir, c: Chain, r: IrRule, ds: Diagnostic[]): boolean {
  if (!r.match.inPort) return false;
  ds.push(
    diag(
      Code.PORT_NOT_ON_HOST,
      'error',
      `wireguard kill switch: ${r.id} ("${r.origin.text}") matches bridge port(s) ${r.match.inPort.join(', ')}, which do not exist inside ${c.host}`,
      { file: ir.model.file, line: r.origin.line, col: r.origin.col, path: r.origin.path },
    ),
  );
  return true;
}

/** A packet the kill switch must let through for the tunnel to work at all. */
interface Probe {
  readonly src: number | undefined;
  readonly dst: number | undefined;
  readonly iif: string | undefined;
  readonly oif: string | undefined;
  readonly state: 'new' | 'established';
  /** The udp destination port; undefined = every port must pass (replies go to an ephemeral one). */
  readonly dport: number | undefined;
}

function coversUdp(flows: FlowSet, dport: number | undefined): 'all' | 'some' | 'none' {
  if (dport !== undefined) return R.contains(flows.udp, dport) ? 'all' : 'none';
  if (flows.udp.length === 0) return 'none';
  return isAllPorts(flows.udp) ? 'all' : 'some';
}

/** First-match verdict of a chain for a probe; a rule that covers only some ports does not decide. */
function verdictFor(c: Chain, p: Probe): 'accept' | 'drop' | 'depends' {
  for (const r of c.rules) {
    const m = r.match;
    if (m.inPort) continue;
    if (m.state !== undefined && m.state !== p.state) continue;
    if (m.iif && (p.iif === undefined || !m.iif.includes(p.iif))) continue;
    if (m.oif && (p.oif === undefined || !m.oif.includes(p.oif))) continue;
    if (m.src && (p.src === undefined || !R.contains(m.src, p.src))) continue;
    if (m.dst && (p.dst === undefined || !R.contains(m.dst, p.dst))) continue;
    const cov = coversUdp(m.flows, p.dport);
    if (cov === 'none') continue;
    if (cov === 'some') return 'depends';
    return r.action === 'accept' ? 'accept' : 'drop';
  }
  return c.policy;
}

/**
 * Seed 004's mistake, caught where the kill switch is written: the tunnel's own UDP transport
 * leaves through the underlay interface, not the tunnel, and its replies come back there. A kill
 * switch that drops either keeps the tunnel from ever coming up.
 */
export function checkTransport(ir: Ir, host: string, chains: readonly Chain[], ds: Diagnostic[]): void {
  const h = ir.model.hosts.get(host);
  const t = h?.vpnTunnel ? ir.model.tunnels.get(h.vpnTunnel) : undefined;
  if (!h || !t) return;
  const underlay = h.nics.filter((n) => n.segment !== t.name);
  const out = chains.find((c) => c.hook === 'output');
  const inn = chains.find((c) => c.hook === 'input');
  const at = { file: ir.model.file, line: h.origin.line, col: h.origin.col, path: h.origin.path };
  const flow = `udp to ${formatIPv4(t.endpoint)}:${t.listen}`;
  const send = underlay.some(
    (n) => out && verdictFor(out, { src: n.address, dst: t.endpoint, iif: undefined, oif: n.ifname, state: 'new', dport: t.listen }) !== 'drop',
  );
  if (out && !send) {
    ds.push(
      diag(
        Code.TUNNEL_BLOCKED,
        'warning',
        `wireguard: the kill switch of '${host}' drops its tunnel's own transport (${flow} out of ${underlay.map((n) => n.ifname).join(', ') || 'its underlay'}): ${t.name} can never come up`,
        at,
        `the transport leaves through the underlay, not ${t.ifname}: accept ${flow} in ${out.point} (cordon's vpn-only egress does)`,
      ),
    );
  }
  const recv = underlay.some(
    (n) => inn && verdictFor(inn, { src: t.endpoint, dst: n.address, iif: n.ifname, oif: undefined, state: 'established', dport: undefined }) !== 'drop',
  );
  if (inn && !recv) {
    ds.push(
      diag(
        Code.TUNNEL_BLOCKED,
        'warning',
        `wireguard: the kill switch of '${host}' drops the replies of its tunnel's transport (udp from ${formatIPv4(t.endpoint)}:${t.listen} into ${underlay.map((n) => n.ifname).join(', ') || 'its underlay'}): ${t.name} can never come up`,
        at,
        `accept established traffic in ${inn.point}`,
      ),
    );
  }
}

// ---------------------------------------------------------------- nftables

function nftSet(items: readonly string[]): string {
  return items.length === 1 ? items[0]! : `{ ${items.join(', ')} }`;
}

function nftAddr([lo, hi]: Span): string {
  if (lo === hi) return formatIPv4(lo);
  const cidrs = rangeToCidrs({ lo, hi });
  if (cidrs.length === 1) return `${formatIPv4(cidrs[0]!.addr)}/${cidrs[0]!.len}`;
  return `${formatIPv4(lo)}-${formatIPv4(hi)}`;
}

function nftPorts(ports: RangeSet): string {
  return nftSet(ports.map(([lo, hi]) => (lo === hi ? String(lo) : `${lo}-${hi}`)));
}

function isAllPorts(ports: RangeSet): boolean {
  return ports.length === 1 && ports[0]![0] <= 1 && ports[0]![1] === 65535;
}

/** Protocol matches of a flow set, one per rule line ('' = any protocol). */
function nftProtos(flows: FlowSet): string[] {
  if (flowEqual(flows, ALL_FLOWS)) return [''];
  const out: string[] = [];
  if (flows.tcp.length) out.push(isAllPorts(flows.tcp) ? 'meta l4proto tcp' : `tcp dport ${nftPorts(flows.tcp)}`);
  if (flows.udp.length) out.push(isAllPorts(flows.udp) ? 'meta l4proto udp' : `udp dport ${nftPorts(flows.udp)}`);
  if (flows.icmp) out.push('meta l4proto icmp');
  if (flows.other) out.push('meta l4proto != { tcp, udp, icmp }');
  return out;
}

function nftLogPrefix(point: string, what: string): string {
  return `cordon ${what} ${point} `.slice(0, 60);
}

function nftRule(r: IrRule, point: string): string[] {
  const m = r.match;
  const base: string[] = [];
  if (m.iif) base.push(`iifname ${nftSet(m.iif.map((i) => `"${ifname(i)}"`))}`);
  if (m.oif) base.push(`oifname ${nftSet(m.oif.map((i) => `"${ifname(i)}"`))}`);
  if (m.state === 'new') base.push('ct state new');
  if (m.state === 'established') base.push('ct state established,related');
  if (m.src) base.push(`ip saddr ${nftSet(m.src.map(nftAddr))}`);
  if (m.dst) base.push(`ip daddr ${nftSet(m.dst.map(nftAddr))}`);
  const lines: string[] = [];
  for (const proto of nftProtos(m.flows)) {
    const match = [...base, proto].filter(Boolean).join(' ');
    const pre = match ? `${match} ` : '';
    if (r.log) lines.push(`${pre}limit rate 5/second burst 10 packets log prefix "${quotedText(nftLogPrefix(point, r.action))}" level info`);
    switch (r.action) {
      case 'accept':
        lines.push(`${pre}${r.rate ? `limit rate ${r.rate} ` : ''}counter accept`);
        break;
      case 'drop':
        lines.push(`${pre}counter drop`);
        break;
      case 'reject':
        lines.push(`${pre}meta l4proto tcp counter reject with tcp reset`, `${pre}counter reject`);
        break;
      default:
        assertNever(r.action, 'action');
    }
  }
  return lines;
}

export function killswitchNft(ir: Ir, host: string, chains: readonly Chain[], ds: Diagnostic[]): string {
  const e = new Emitter('\t');
  e.lines_(
    commented(
      headerLines(ir.model, `in-guest kill switch of ${host} (nftables): nft -f killswitch.nft (atomic; replaces only table inet ${KILLSWITCH_TABLE}).`),
      '# ',
    ),
  );
  e.line('# Load it at boot (include it from /etc/nftables.conf) and never tie its removal to the tunnel:');
  e.line('# it must stay in force while the tunnel is down, or traffic leaks around it (fail-closed).');
  e.line('# Defence in depth only: a workload with root inside the guest can unload it.');
  e.gap();
  e.line(`table inet ${KILLSWITCH_TABLE} {}`);
  e.line(`delete table inet ${KILLSWITCH_TABLE}`);
  e.block(`table inet ${KILLSWITCH_TABLE} {`, () => {
    for (const c of chains) {
      e.block(`chain ${c.hook} {`, () => {
        e.line(`type filter hook ${c.hook} priority 0; policy ${c.policy};`);
        e.line(`# ${inert(`${c.point}${c.handwritten ? ' (hand-written in the spec)' : ''}; default ${c.policy} — ${c.policyOrigin.text}`)}`);
        for (const r of c.rules) {
          if (inPortError(ir, c, r, ds)) continue;
          e.line(`# ${where(r)}`);
          if (r.role === 'stateful') {
            e.line('ct state established,related counter accept');
            e.line('ct state invalid counter drop');
            continue;
          }
          for (const l of nftRule(r, c.point)) e.line(l);
        }
        if (c.policy === 'drop') e.line(`limit rate 5/second burst 10 packets log prefix "${quotedText(nftLogPrefix(c.point, 'drop'))}" level info`);
      });
    }
  });
  return e.toString();
}

// ---------------------------------------------------------------- iptables-restore

const IPT_CHAIN: Record<string, string> = { input: 'INPUT', output: 'OUTPUT', forward: 'FORWARD' };

function iptLogPrefix(hook: string, what: string): string {
  // The LOG target keeps at most 29 characters: the host is the machine itself, the hook says enough.
  return `cordon ${what} ${hook} `;
}

function iptAddr(flag: '-s' | '-d', span: Span): { plain?: string; range?: string } {
  const [lo, hi] = span;
  const cidrs = rangeToCidrs({ lo, hi });
  if (cidrs.length === 1) return { plain: `${flag} ${formatIPv4(cidrs[0]!.addr)}/${cidrs[0]!.len}` };
  return { range: `${flag === '-s' ? '--src-range' : '--dst-range'} ${formatIPv4(lo)}-${formatIPv4(hi)}` };
}

function iptProtos(flows: FlowSet, family: 4 | 6): string[] | undefined {
  if (flowEqual(flows, ALL_FLOWS)) return [''];
  if (flows.other) return undefined;
  const out: string[] = [];
  for (const proto of ['tcp', 'udp'] as const) {
    const ports = flows[proto];
    if (!ports.length) continue;
    if (isAllPorts(ports)) out.push(`-p ${proto}`);
    else for (const [lo, hi] of ports) out.push(`-p ${proto} -m ${proto} --dport ${lo === hi ? lo : `${lo}:${hi}`}`);
  }
  // cordon's icmp is ICMP for IPv4; it has no counterpart in the v6 file.
  if (flows.icmp && family === 4) out.push('-p icmp');
  return out;
}

function iptRule(ir: Ir, c: Chain, r: IrRule, family: 4 | 6, ds: Diagnostic[]): string[] {
  const m = r.match;
  const chain = IPT_CHAIN[c.hook]!;
  // Rules about IPv4 addresses cannot match an IPv6 packet: they are left out of the v6 file.
  if (family === 6 && (m.src || m.dst)) return [];
  const protos = iptProtos(m.flows, family);
  if (!protos) {
    if (family === 4)
      ds.push(
        diag(
          Code.TARGET_CANNOT_EXPRESS,
          'error',
          `wireguard kill switch: ${r.id} ("${r.origin.text}") matches "every other IP protocol" but not every flow, which one iptables rule cannot say`,
          { file: ir.model.file, line: r.origin.line, col: r.origin.col, path: r.origin.path },
          'use killswitch.nft, or list the protocols',
        ),
      );
    return [];
  }
  const ifaces: string[] = [];
  for (const i of m.iif ?? ['']) for (const o of m.oif ?? ['']) ifaces.push([i ? `-i ${ifname(i)}` : '', o ? `-o ${ifname(o)}` : ''].filter(Boolean).join(' '));
  const state = m.state === 'new' ? '-m conntrack --ctstate NEW' : m.state === 'established' ? '-m conntrack --ctstate ESTABLISHED,RELATED' : '';
  const lines: string[] = [];
  for (const ifs of ifaces) {
    for (const s of m.src ?? [undefined]) {
      for (const d of m.dst ?? [undefined]) {
        const sa = s ? iptAddr('-s', s) : {};
        const da = d ? iptAddr('-d', d) : {};
        const ranges = [sa.range, da.range].filter(Boolean);
        for (const p of protos) {
          const match = [ifs, sa.plain, da.plain, p, ranges.length ? `-m iprange ${ranges.join(' ')}` : '', state, `-m comment --comment "${quotedText(r.id)}"`]
            .filter(Boolean)
            .join(' ');
          if (r.log)
            lines.push(`-A ${chain} ${match} -m limit --limit 5/sec --limit-burst 10 -j LOG --log-prefix "${quotedText(iptLogPrefix(c.hook, r.action))}"`);
          switch (r.action) {
            case 'accept':
              lines.push(`-A ${chain} ${match}${r.rate ? ` -m limit --limit ${r.rate}` : ''} -j ACCEPT`);
              break;
            case 'drop':
              lines.push(`-A ${chain} ${match} -j DROP`);
              break;
            case 'reject':
              lines.push(`-A ${chain} ${match} -j REJECT`);
              break;
            default:
              assertNever(r.action, 'action');
          }
        }
      }
    }
  }
  return lines;
}

export function killswitchIptables(ir: Ir, host: string, chains: readonly Chain[], family: 4 | 6, ds: Diagnostic[]): string {
  const e = new Emitter('');
  const tool = family === 4 ? 'iptables-restore' : 'ip6tables-restore';
  e.lines_(
    commented(
      headerLines(ir.model, `in-guest kill switch of ${host} (${tool}): ${tool} < killswitch.rules.v${family}, or install as /etc/iptables/rules.v${family}.`),
      '# ',
    ),
  );
  e.line('# Replaces the whole filter table. Keep it loaded while the tunnel is down (fail-closed).');
  e.line('# Defence in depth only: a workload with root inside the guest can unload it.');
  if (family === 6) e.line('# cordon models IPv4: here only rules without addresses remain; all other IPv6 is dropped.');
  e.line('*filter');
  const policy = (hook: string): string => {
    const c = chains.find((x) => x.hook === hook);
    return c ? (c.policy === 'drop' ? 'DROP' : 'ACCEPT') : 'ACCEPT';
  };
  for (const hook of ['input', 'forward', 'output']) e.line(`:${IPT_CHAIN[hook]} ${policy(hook)} [0:0]`);
  for (const c of chains) {
    const chain = IPT_CHAIN[c.hook]!;
    e.line(`# ${inert(`${c.point}${c.handwritten ? ' (hand-written in the spec)' : ''}; default ${c.policy} — ${c.policyOrigin.text}`)}`);
    for (const r of c.rules) {
      if (family === 4 && inPortError(ir, c, r, ds)) continue;
      if (r.match.inPort) continue;
      if (r.role === 'stateful') {
        e.line(`# ${where(r)}`);
        e.line(`-A ${chain} -m conntrack --ctstate ESTABLISHED,RELATED -m comment --comment "${quotedText(r.id)}" -j ACCEPT`);
        e.line(`-A ${chain} -m conntrack --ctstate INVALID -m comment --comment "${quotedText(r.id)}" -j DROP`);
        continue;
      }
      const lines = iptRule(ir, c, r, family, ds);
      e.line(`# ${where(r)}${lines.length === 0 && family === 6 ? ' — IPv4 only, not here' : ''}`);
      for (const l of lines) e.line(l);
    }
    if (c.policy === 'drop') e.line(`-A ${chain} -m limit --limit 5/sec --limit-burst 10 -j LOG --log-prefix "${quotedText(iptLogPrefix(c.hook, 'drop'))}"`);
  }
  e.line('COMMIT');
  return e.toString();
}
