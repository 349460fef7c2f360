/**
 * One guard for a whole lab: what it watches in each enforcing namespace of a running lab (the
 * rule set the lab loaded there, the namespace, the lab's machine-unique wireguard-go names for
 * `wg show`). Pure given the lab's registry entry: the command starts one guard per entry, all in
 * one process with one metrics registry and one event stream.
 */
import type { Ir } from '../ir/types.js';
import { generatedKeys } from '../lab/keys.js';
import { planLab } from '../lab/plan.js';
import type { LabState } from '../lab/state.js';
import { guarded } from '../render/guard.js';
import { enforcingHosts, nftablesRenderer } from '../render/nftables/index.js';

export interface LabGuardHost {
  readonly host: string;
  readonly netns: string;
  readonly ruleset: string;
  /** Tunnel → the lab's wireguard-go name (its control socket), for `wg show`. */
  readonly wgNames: ReadonlyMap<string, string>;
}

/** Every enforcing host of the spec that the lab built, sorted; a host nftables cannot render for is left out (the lab refuses those). */
export function labGuardHosts(ir: Ir, lab: LabState): LabGuardHost[] {
  // The same plan as the lab's (kernel names depend only on the prefix and the spec; the keys are not used).
  const plan = planLab(ir, { prefix: lab.prefix, keys: generatedKeys() });
  const out: LabGuardHost[] = [];
  for (const host of enforcingHosts(ir)) {
    const netns = lab.hosts[host];
    if (netns === undefined) continue;
    const ruleset = guarded(nftablesRenderer).render(ir, { host, params: new Map() }).files[0]?.content;
    if (ruleset === undefined) continue;
    const wgNames = new Map(plan.layout.tunnels.filter((t) => t.host === host).map((t) => [t.tunnel, t.kernelName]));
    out.push({ host, netns, ruleset, wgNames });
  }
  return out.sort((a, b) => a.host.localeCompare(b.host));
}
