/**
 * The NAT half of a host's rules.v4 (src/render/nat.ts says where): the entry interface of a NAT
 * network's connections as a conntrack mark, set first thing in the filter table's FORWARD (before
 * cordon's chains decide), and a `*nat` table that masquerades marked connections out of the
 * host's other interfaces and DNATs its port forwards in PREROUTING. iptables-restore replaces every table the file names, so this host's
 * whole nat table is cordon's too; the header says so.
 */
import type { Model } from '../../model/types.js';
import { ifname, inert, quotedText } from '../escape.js';
import { formatIPv4 } from '../../util/ip.js';
import { forwardRules, natRules, portRange } from '../nat.js';

/** `-A FORWARD … -j CONNMARK` lines, one per NAT network; empty when the host masquerades nothing. */
export function natMarkLines(model: Model, host: string): string[] {
  return natRules(model, host).map(
    (r) =>
      `-A FORWARD -i ${ifname(r.inIf)} -m conntrack --ctstate NEW -m comment --comment "${quotedText(`cordon ${r.network.name}: egress nat`)}" -j CONNMARK --set-xmark ${r.mark}/0xffffffff`,
  );
}

/** The `*nat … COMMIT` section; empty when the host masquerades and forwards nothing. */
export function natSection(model: Model, host: string): string[] {
  const rules = natRules(model, host);
  const forwards = forwardRules(model, host);
  if (rules.length === 0 && forwards.length === 0) return [];
  const lines: string[] = [];
  if (rules.length > 0)
    lines.push(
      `# NAT: ${host} masquerades ${rules.map((r) => r.network.name).join(', ')} (egress: nat). The entry interface comes`,
      '# from the CONNMARK set in FORWARD: POSTROUTING does not know it, and a source-address match',
      '# would let a guest forging its source leave un-NATed.',
    );
  if (forwards.length > 0)
    lines.push(
      `# Port forwards: ${host} sends what the world addresses to its own addresses on these ports to the`,
      "# guests (DNAT); the filter table's FORWARD lets only these ports reach them from outside.",
    );
  lines.push('*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]');
  for (const f of forwards) {
    // The user's comment goes on a line of its own: the comment match refuses more than 256 bytes.
    if (f.comment) lines.push(`# ${inert(f.comment)}`);
    for (const i of f.entry)
      for (const p of f.ports) {
        const to = p.public[0] === p.target[0] ? formatIPv4(f.address) : `${formatIPv4(f.address)}:${portRange(p.target)}`;
        lines.push(
          `-A PREROUTING -i ${ifname(i)} -p ${p.proto} -m addrtype --dst-type LOCAL -m ${p.proto} --dport ${portRange(p.public, ':')} -m comment --comment "${quotedText(
            `cordon forward ${f.host}.${f.service}`,
          )}" -j DNAT --to-destination ${to}`,
        );
      }
  }
  for (const r of rules)
    for (const o of r.outIfs)
      lines.push(
        `-A POSTROUTING -o ${ifname(o)} -m connmark --mark ${r.mark} -m comment --comment "${quotedText(`cordon ${r.network.name} behind ${host}`)}" -j MASQUERADE`,
      );
  lines.push('COMMIT');
  return lines;
}
