/**
 * CORDON055: guests a bridge's physical port puts on the owner's LAN, where the policy separates
 * them from it.
 *
 * How the model sees a physical port (`networks.N.ports`): the LAN beyond it is on N, so N's host
 * addresses that no declared host holds belong to the `lan` endpoint (model/resolve.ts), and a
 * packet between them and a host on N is bridged (ir/paths.ts `fromBridgedLan`/`toBridgedLan`): it
 * passes the bridge owner's forward hook (br_netfilter) and the guest's per-guest firewall, nothing
 * routed. The matrix shows it as the `lan` row and column. This check asks the engine, with the
 * guest compromised, what lan → guest and guest → lan allow; where that is less than everything the
 * policy meant to separate them, and a guest without a per-guest firewall is then kept apart from
 * its LAN neighbours only by the owner's br_netfilter sysctl (and not at all for ARP, or for any
 * frame that is not IPv4 where cordon's bridge table is not loaded): a warning, at the port.
 */
import { diag, type Diagnostic } from '../diag/diagnostic.js';
import { Code } from '../diag/codes.js';
import { compile } from '../ir/compile.js';
import type { Ir } from '../ir/types.js';
import { GUEST_KINDS, type Model } from '../model/types.js';
import { ALL_FLOWS, flowEqual, flowIsEmpty, formatFlowSet, type FlowSet } from '../util/flows.js';
import { Engine } from './engine.js';

/** Whether any network has a physical port: only then is there anything to check (and an IR to compile). */
export function hasBridgedLan(model: Model): boolean {
  return [...model.networks.values()].some((n) => n.ports.length > 0);
}

/** The CORDON055 warnings of a model; compiles it only when a network has a physical port. */
export function bridgedLanDiagnostics(model: Model, ir?: Ir): Diagnostic[] {
  if (!hasBridgedLan(model)) return [];
  const engine = new Engine(ir ?? compile(model));
  const out: Diagnostic[] = [];
  const say = (f: FlowSet): string => (flowIsEmpty(f) ? 'nothing' : formatFlowSet(f));
  for (const net of [...model.networks.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (net.ports.length === 0 || net.owner === undefined) continue;
    const guests = [...model.hosts.values()]
      .filter((h) => GUEST_KINDS.has(h.kind) && !h.guestFirewall && h.nics.some((n) => n.segment === net.name))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const g of guests) {
      const inbound = engine.reach({ kind: 'zone', zone: 'lan' }, { kind: 'host', host: g.name }, 'compromised').allowed;
      const outbound = engine.reach({ kind: 'host', host: g.name }, { kind: 'zone', zone: 'lan' }, 'compromised').allowed;
      if (flowEqual(inbound, ALL_FLOWS) && flowEqual(outbound, ALL_FLOWS)) continue;
      out.push(
        diag(
          Code.BRIDGED_LAN,
          'warning',
          `network '${net.name}' bridges ${net.ports.join(', ')}: the LAN beyond it shares the segment with guest '${g.name}', which the policy separates from it (lan → ${g.name}: ${say(inbound)}; ${g.name} → lan: ${say(outbound)}), but only ${net.owner}'s forward rules through br_netfilter stand between them (a sysctl; ARP and, without cordon's bridge table, every frame that is not IPv4 pass them unfiltered)`,
          { file: net.portsOrigin.file, line: net.portsOrigin.line, col: net.portsOrigin.col, path: net.portsOrigin.path },
          `give '${g.name}' a per-guest firewall (firewall: { guest: true }), or move it to a bridge without a physical port and let ${net.owner} route between it and the LAN`,
        ),
      );
    }
  }
  return out;
}
