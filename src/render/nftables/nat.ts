/**
 * The NAT half of a host's nftables file: masquerade for every `egress: nat` network the host is
 * the gateway of (src/render/nat.ts says where). One `ip` table, replaced in the same `nft -f`
 * transaction as the filter tables, so a rule set and its NAT never disagree, not even for a moment.
 *
 *   natmark      filter, forward hook, priority -10 (before cordon's filter chains at 0): a new
 *                connection entering by the network's gateway interface gets a conntrack mark;
 *                it accepts everything and decides nothing.
 *   postrouting  nat, srcnat: a marked connection leaving by another interface is masqueraded.
 *   prerouting   nat, dstnat: port forwards, the world's connections to the host's own address
 *                on a published port go to the guest (only when the host forwards any).
 */
import type { Model } from '../../model/types.js';
import { tableName } from '../../model/names.js';
import type { Emitter } from '../emit.js';
import { ifname, inert, quotedText } from '../escape.js';
import { formatIPv4 } from '../../util/ip.js';
import { forwardRules, natRules, portRange } from '../nat.js';

/** The table holding a host's NAT (`cordon_<host>_nat`). */
export function natTableName(host: string): string {
  return tableName(`${host}:nat`);
}

/** Appends the NAT table of `host` (with its atomic-replace preamble) to `e`; nothing when the host masquerades and forwards nothing. */
export function emitNat(e: Emitter, model: Model, host: string): void {
  const rules = natRules(model, host);
  const forwards = forwardRules(model, host);
  if (rules.length === 0 && forwards.length === 0) return;
  const t = natTableName(host);
  e.gap();
  if (rules.length > 0) {
    e.line(`# NAT: ${host} masquerades ${rules.map((r) => inert(r.network.name)).join(', ')} (egress: nat) out of its other interfaces.`);
    e.line('# The entry interface is carried to postrouting as a conntrack mark: postrouting does not');
    e.line('# know it, and a source-address match would let a guest forging its source leave un-NATed.');
  }
  if (forwards.length > 0) {
    e.line(`# Port forwards: ${host} sends what the world addresses to its own addresses on these ports`);
    e.line('# to the guests (DNAT); its forward chain lets only these ports reach them from outside.');
  }
  e.line(`table ip ${t} {}`);
  e.line(`delete table ip ${t}`);
  e.block(`table ip ${t} {`, () => {
    if (forwards.length > 0)
      e.block('chain prerouting {', () => {
        e.line('type nat hook prerouting priority dstnat; policy accept;');
        for (const f of forwards) {
          const ins = f.entry.map((o) => `"${ifname(o)}"`);
          // The user's comment goes on a line of its own: nft refuses a rule comment over 128 bytes.
          if (f.comment) e.line(`# ${inert(f.comment)}`);
          for (const p of f.ports) {
            const to = p.public[0] === p.target[0] ? formatIPv4(f.address) : `${formatIPv4(f.address)}:${portRange(p.target)}`;
            e.line(
              `iifname ${ins.length === 1 ? ins[0]! : `{ ${ins.join(', ')} }`} fib daddr type local ${p.proto} dport ${portRange(p.public)} dnat to ${to} comment "${quotedText(
                `forward ${f.host}.${f.service}`,
              )}"`,
            );
          }
        }
      });
    if (rules.length === 0) return;
    e.block('chain natmark {', () => {
      e.line('type filter hook forward priority -10; policy accept;');
      for (const r of rules) e.line(`iifname "${ifname(r.inIf)}" ct state new ct mark set ${r.mark} comment "${quotedText(`${r.network.name}: egress nat`)}"`);
    });
    e.block('chain postrouting {', () => {
      e.line('type nat hook postrouting priority srcnat; policy accept;');
      for (const r of rules) {
        const outs = r.outIfs.map((o) => `"${ifname(o)}"`);
        e.line(
          `ct mark ${r.mark} oifname ${outs.length === 1 ? outs[0]! : `{ ${outs.join(', ')} }`} masquerade comment "${quotedText(`${r.network.name} behind ${host}`)}"`,
        );
      }
    });
  });
}
