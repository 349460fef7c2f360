/**
 * The topology an import is about: the user's `--topology` spec with its policy taken out, or a
 * minimal one made from what the imported files say. Imported rules are the only policy, so every
 * enforcement point that was not imported must not be compiled from a policy either: hosts whose
 * configuration was not read are unmanaged (nothing filters there) and no host keeps cordon's
 * own firewall placements (a per-guest or in-guest firewall exists only where the files say so).
 */
import type { HostSpecT, Spec } from '../../spec/schema.js';

/** Kinds cordon manages by default (src/model/resolve.ts). */
const MANAGED_KINDS: ReadonlySet<string> = new Set(['hypervisor', 'router', 'server']);

export interface Base {
  readonly base: Omit<Spec, 'firewalls'>;
  readonly keptFirewalls: NonNullable<Spec['firewalls']>;
  /** Hand-written per-guest chains of the topology left out: they run on a hypervisor whose rules were not imported. */
  readonly droppedFirewalls: readonly string[];
}

/**
 * `topology` with its policy left out, the hosts in `imported` kept as they are (minus cordon's
 * firewall placements), every other host unmanaged, and `firewalls:` entries of hosts not imported
 * kept. `extraHosts` are added when the topology does not declare them.
 */
export function importBase(
  topology: Spec | undefined,
  imported: ReadonlySet<string>,
  extraHosts: Readonly<Record<string, HostSpecT>>,
  description: string,
  /** Guests whose per-guest firewall (guest-in/guest-out on their hypervisor's ports) was imported. */
  guestFirewalls: ReadonlySet<string> = new Set(),
): Base {
  const t: Spec = topology ?? { version: 1 };
  const hosts: Record<string, HostSpecT> = {};
  const keptFirewalls: NonNullable<Spec['firewalls']> = {};
  const droppedFirewalls: string[] = [];
  for (const [point, fw] of Object.entries(t.firewalls ?? {})) {
    const [host = '', hook = ''] = point.split(':');
    if (imported.has(host)) continue;
    // A per-guest chain runs on the guest's hypervisor: imported with its rule set, or not there at all.
    if (hook === 'guest-in' || hook === 'guest-out') droppedFirewalls.push(point);
    else keptFirewalls[point] = fw;
  }
  const handWritten = new Set(Object.keys(keptFirewalls).map((p) => p.split(':')[0]));
  for (const [name, h] of Object.entries(t.hosts ?? {})) {
    const copy: HostSpecT = { ...h };
    if (!imported.has(name) && !handWritten.has(name)) {
      if (MANAGED_KINDS.has(h.kind) || h.managed === true) copy.managed = false;
    }
    // A host whose rules are imported enforces them: an earlier topology-only import (netplan,
    // ifupdown) left it unmanaged because nothing of its firewall was known then.
    else if (imported.has(name) && copy.managed === false) delete copy.managed;
    // No compiled in-guest or per-guest chain: only imported (or kept hand-written) chains filter.
    copy.firewall = { guest: guestFirewalls.has(name), local: false };
    hosts[name] = copy;
  }
  for (const [name, h] of Object.entries(extraHosts)) if (!(name in hosts)) hosts[name] = h;
  const rest: Spec = { ...t };
  delete rest.policy;
  delete rest.firewalls;
  const base: Omit<Spec, 'firewalls'> = { ...rest, version: 1, description, ...(Object.keys(hosts).length > 0 ? { hosts } : {}) };
  return { base, keptFirewalls, droppedFirewalls };
}
