/**
 * The kill switch the guard engages when cordon's tables drift and the policy says so: one more
 * table that drops, in every base chain it has, whatever the tampered tables now accept (a drop
 * in any base chain is final). On a host that forwards for guests it drops all forwarded traffic
 * (outside the guests, so they cannot undo it), never the host's own input and output, so its
 * administrators are not locked out; on a guest that enforces its own egress it drops its input
 * and output except loopback. The next `cordon apply` removes it with cordon's other old tables.
 */
import type { Ir } from '../ir/types.js';
import { killswitchTableName } from '../model/names.js';
import { GUEST_KINDS } from '../model/types.js';

/** The kill switch rule set for `host` (`nft -f`; atomic; replaces an earlier kill switch). */
export function killswitchRuleset(ir: Ir, host: string): string {
  const name = killswitchTableName(host);
  const chains = [...ir.chains.values()].filter((c) => c.enforcedOn === host);
  const forwards = chains.some((c) => c.hook === 'forward' || c.hook === 'guest-in' || c.hook === 'guest-out');
  const kind = ir.model.hosts.get(host)?.kind;
  const own = kind !== undefined && GUEST_KINDS.has(kind) && chains.some((c) => c.hook === 'output' || c.hook === 'input');
  const lines = [
    `# cordon guard kill switch for ${host}: cordon's tables were changed behind its back.`,
    `table inet ${name} {}`,
    `delete table inet ${name}`,
    `table inet ${name} {`,
  ];
  // Without either (a host with only its own input chain) the switch still drops forwarding: it never opens.
  if (forwards || !own) lines.push('\tchain forward {', '\t\ttype filter hook forward priority -300; policy drop;', '\t}');
  if (own) {
    for (const hook of ['input', 'output'] as const) {
      const lo = hook === 'input' ? 'iifname' : 'oifname';
      lines.push(`\tchain ${hook} {`, `\t\ttype filter hook ${hook} priority -300; policy drop;`, `\t\t${lo} "lo" accept`, '\t}');
    }
  }
  lines.push('}', '');
  return lines.join('\n');
}
