/** A readable summary of a model: networks, hosts, tunnels and where policy is enforced. */
import pc from 'picocolors';
import type { Ir } from '../ir/types.js';
import { formatCidr, formatIPv4 } from '../util/ip.js';
import { formatFlowSet } from '../util/flows.js';

export function topologyToText(ir: Ir, color = false): string {
  const c = pc.createColors(color);
  const m = ir.model;
  const out: string[] = [];
  out.push(c.bold('networks'));
  for (const n of [...m.networks.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    const gw = n.gateway !== undefined ? `gateway ${formatIPv4(n.gateway)}` : 'no gateway';
    out.push(`  ${n.name.padEnd(20)} ${formatCidr(n.cidr).padEnd(18)} egress ${n.egress.padEnd(6)} ${gw}${n.owner ? `, bridged by ${n.owner}` : ''}`);
  }
  if (m.tunnels.size) {
    out.push(c.bold('tunnels'));
    for (const t of [...m.tunnels.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      const members = [...m.hosts.values()].filter((h) => h.name !== t.server && h.nics.some((n) => n.segment === t.name)).map((h) => h.name);
      out.push(
        `  ${t.name.padEnd(20)} ${formatCidr(t.cidr).padEnd(18)} server ${t.server} at ${formatIPv4(t.endpoint)}:${t.listen}, peers: ${members.join(', ') || 'none'}`,
      );
    }
  }
  out.push(c.bold('hosts'));
  for (const h of [...m.hosts.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    const nics = h.nics.map((n) => `${n.segment}=${formatIPv4(n.address)}`).join(' ');
    const svc = [...h.services.entries()].map(([k, v]) => `${k} ${formatFlowSet(v)}`).join(', ');
    const trust = h.trusted ? 'trusted' : 'untrusted';
    out.push(`  ${h.name.padEnd(20)} ${h.kind.padEnd(10)} ${trust.padEnd(9)} egress ${h.egress.padEnd(8)} ${nics}${svc ? `  [${svc}]` : ''}`);
  }
  out.push(c.bold('enforcement points'));
  for (const ch of [...ir.chains.values()].sort((a, b) => a.point.localeCompare(b.point))) {
    const where = ch.inGuest ? 'inside the guest (defence in depth)' : `on ${ch.enforcedOn}`;
    out.push(
      `  ${ch.point.padEnd(28)} ${String(ch.rules.length).padStart(4)} rules, default ${ch.policy.padEnd(6)} ${where}${ch.handwritten ? ', hand-written' : ''}`,
    );
  }
  return out.join('\n');
}
