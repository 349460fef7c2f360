/** The rows and columns of a reachability matrix, and how spec targets map onto them. */
import type { Source } from '../ir/paths.js';
import type { Model, Target } from '../model/types.js';
import { formatIPv4 } from '../util/ip.js';
import type { Dest } from './engine.js';

export interface Endpoint {
  /** Display name: a host name, `internet` or `lan`. */
  readonly name: string;
  readonly source: Source;
  readonly dest: Dest;
}

/** Hosts sorted by name, then the built-in zones that exist in this model. */
export function endpoints(model: Model): Endpoint[] {
  const out: Endpoint[] = [...model.hosts.keys()].sort().map((h) => ({ name: h, source: { kind: 'host', host: h }, dest: { kind: 'host', host: h } }));
  out.push({ name: 'internet', source: { kind: 'zone', zone: 'internet' }, dest: { kind: 'zone', zone: 'internet' } });
  // The LAN is a row and a column when the policy names it, or when a bridge's physical port puts it on a network.
  const bridged = [...model.networks.values()].some((n) => n.ports.length > 0);
  if (!model.networks.has('lan') && model.lan.length > 0 && (bridged || mentionsLan(model))) {
    out.push({ name: 'lan', source: { kind: 'zone', zone: 'lan' }, dest: { kind: 'zone', zone: 'lan' } });
  }
  return out;
}

function mentionsLan(model: Model): boolean {
  const has = (ts: readonly Target[]): boolean => ts.some((t) => t.kind === 'lan');
  return model.policy.some((r) => has(r.from) || has(r.to)) || model.expectations.some((e) => e.from.kind === 'lan' || e.to.kind === 'lan');
}

/** The hosts a network or CIDR target stands for: those with an interface on it or inside it. */
function hostsOn(model: Model, t: Target & { kind: 'network' | 'cidr' }): Source[] {
  const on = (n: { segment: string; address: number }): boolean =>
    t.kind === 'network' ? n.segment === t.network : n.address >= t.range.lo && n.address <= t.range.hi;
  return [...model.hosts.values()].filter((h) => h.nics.some(on)).map((h) => ({ kind: 'host', host: h.name }));
}

/**
 * Sources a target stands for in a query or expectation. A network stands for its hosts;
 * a CIDR for the hosts inside it; `any` for every host and the internet.
 */
export function targetSources(model: Model, t: Target): Source[] {
  switch (t.kind) {
    case 'host':
    case 'service':
      return [{ kind: 'host', host: t.host }];
    case 'internet':
      return [{ kind: 'zone', zone: 'internet' }];
    case 'lan':
      return [{ kind: 'zone', zone: 'lan' }];
    case 'network':
    case 'cidr':
      return hostsOn(model, t);
    case 'any':
      return [...[...model.hosts.keys()].map((h): Source => ({ kind: 'host', host: h })), { kind: 'zone', zone: 'internet' }];
  }
}

/**
 * Destinations a target stands for: the same hosts and zones as its sources, except that a
 * single address is itself (it may belong to no host).
 */
export function targetDests(model: Model, t: Target): Dest[] {
  if (t.kind === 'cidr' && t.range.lo === t.range.hi) return [{ kind: 'addr', addr: t.range.lo }];
  return targetSources(model, t);
}

export function sourceName(s: Source): string {
  return s.kind === 'host' ? s.host : s.zone;
}

export function destName(model: Model, d: Dest): string {
  switch (d.kind) {
    case 'host':
      return d.host;
    case 'zone':
      return d.zone;
    case 'addr': {
      for (const h of model.hosts.values()) if (h.nics.some((n) => n.address === d.addr)) return `${h.name} (${formatIPv4(d.addr)})`;
      return formatIPv4(d.addr);
    }
  }
}
