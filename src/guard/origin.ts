/**
 * From a logged drop back to the spec: the NFLOG prefix names the enforcement point (a hash of its
 * name) and the IR rule that starts the dropping run, or the chain default; the packet's addresses,
 * protocol and port then pick the rule of that run that matched, whose origin is what `explain`
 * prints. Also the bounded destination class metrics use. Pure: the IR and a packet in, facts out.
 */
import type { Chain, Ir, IrRule } from '../ir/types.js';
import { nflogPointId, parseNflogPrefix } from '../model/names.js';
import { GUEST_KINDS } from '../model/types.js';
import { flowContains, type Flow } from '../util/flows.js';
import * as R from '../util/rangeset.js';
import type { DestClass } from './events.js';

export interface LoggedPacket {
  readonly src: number;
  readonly dst: number;
  readonly flow: Flow;
}

export interface DropOrigin {
  readonly chain: Chain;
  /** undefined: the chain default dropped it. */
  readonly rule: IrRule | undefined;
  readonly kind: 'rule' | 'default';
  readonly text: string;
  readonly file: string;
  readonly line: number;
  readonly path: string;
}

function ruleCovers(r: IrRule, p: LoggedPacket): boolean {
  const m = r.match;
  if (m.src && !R.contains(m.src, p.src)) return false;
  if (m.dst && !R.contains(m.dst, p.dst)) return false;
  return flowContains(m.flows, p.flow);
}

/** Maps NFLOG prefixes of one host's rule set back to IR rules and their origins. */
export class OriginIndex {
  private readonly chains = new Map<string, Chain>();

  /** `host`: the enforcing host whose rule set is loaded (the chains it runs). */
  constructor(ir: Ir, host: string) {
    for (const c of ir.chains.values()) if (c.enforcedOn === host) this.chains.set(nflogPointId(c.point), c);
  }

  /** What dropped a packet logged with `prefix`; undefined when the prefix is not one of this rule set's. */
  lookup(prefix: string, p: LoggedPacket): DropOrigin | undefined {
    const parsed = parseNflogPrefix(prefix);
    if (!parsed) return undefined;
    const chain = this.chains.get(parsed.pointId);
    if (!chain) return undefined;
    if (parsed.ref === 'policy') {
      const o = chain.policyOrigin;
      return { chain, rule: undefined, kind: 'default', text: o.text, file: o.file, line: o.line, path: o.path };
    }
    const first = chain.rules[parsed.ref];
    if (!first) return undefined;
    // The prefix names the first rule of a run rendered as one set lookup: the packet picks the
    // rule of that run (same verdict, in order) that actually covers it.
    let rule: IrRule = first;
    for (let i = parsed.ref; i < chain.rules.length && chain.rules[i]!.action === first.action; i++) {
      if (ruleCovers(chain.rules[i]!, p)) {
        rule = chain.rules[i]!;
        break;
      }
    }
    const o = rule.origin;
    return { chain, rule, kind: 'rule', text: o.text, file: o.file, line: o.line, path: o.path };
  }
}

/** The destination class of an address in a model: a guest's, another host's, the LAN, the internet, else other. */
export function destClass(ir: Ir, addr: number): DestClass {
  for (const h of ir.model.hosts.values()) {
    if (h.nics.some((n) => n.address === addr)) return GUEST_KINDS.has(h.kind) ? 'guest' : 'host';
  }
  if (R.contains(ir.model.lan, addr)) return 'lan';
  if (R.contains(ir.model.internet, addr)) return 'internet';
  return 'other';
}
