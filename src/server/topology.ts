/**
 * `GET /api/specs/:id/versions/:version/topology`: what `cordon describe` prints, as JSON for the
 * dashboard's Topology view (networks, tunnels, hosts with their addresses, services and the policy
 * rules that name them, enforcement points). Every rule keeps its origin (file:line), as explain's do.
 */
import { z } from 'zod';
import type { Ir } from '../ir/types.js';
import type { Host, PolicyRule, Target } from '../model/types.js';
import { formatFlowSet } from '../util/flows.js';
import { formatCidr, formatIPv4, inRange } from '../util/ip.js';
import { Refusal } from './analysis.js';
import type { CompileCache } from './compile-cache.js';
import { HttpError } from './errors.js';
import type { Api } from './http.js';
import { VersionParams } from './schemas.js';
import type { Store } from './store.js';

const OriginJson = z.object({ file: z.string(), line: z.number().int(), col: z.number().int(), text: z.string() });

export const TopologyResponse = z
  .object({
    file: z.string(),
    networks: z.array(
      z.object({
        name: z.string(),
        cidr: z.string(),
        egress: z.enum(['none', 'nat', 'routed']),
        gateway: z.string().optional(),
        bridge: z.string(),
        owner: z.string().optional().describe('the host whose bridge this is'),
      }),
    ),
    tunnels: z.array(
      z.object({ name: z.string(), cidr: z.string(), server: z.string(), endpoint: z.string(), listen: z.number().int(), members: z.array(z.string()) }),
    ),
    hosts: z.array(
      z.object({
        name: z.string(),
        kind: z.string(),
        trusted: z.boolean().describe('false: cordon assumes it may turn hostile (vm, container, sandbox, peer)'),
        managed: z.boolean(),
        egress: z.enum(['isolated', 'filtered', 'vpn-only', 'open']),
        nics: z.array(z.object({ segment: z.string(), address: z.string(), ifname: z.string() })),
        services: z.array(z.object({ name: z.string(), ports: z.string() })),
        rules: z
          .array(z.object({ action: z.enum(['allow', 'deny']), side: z.enum(['from', 'to']), origin: OriginJson }))
          .describe('policy rules that name this host (directly, by service, by one of its networks, or any)'),
      }),
    ),
    points: z.array(
      z.object({
        point: z.string(),
        host: z.string(),
        hook: z.string(),
        enforcedOn: z.string(),
        inGuest: z.boolean().describe('runs inside an untrusted guest: counts only as configured'),
        policy: z.enum(['accept', 'drop']),
        rules: z.number().int(),
      }),
    ),
  })
  .describe('the spec as `cordon describe` shows it');

type TopologyJson = z.output<typeof TopologyResponse>;

type RuleRef = TopologyJson['hosts'][number]['rules'][number];

/**
 * The hosts a target names: itself (host or one of its services), a network's hosts, every host
 * for `any`, the hosts with an address in a CIDR; `internet` and `lan` are zones, no host.
 */
function namedHosts(t: Target, hosts: readonly Host[], byName: ReadonlyMap<string, Host>, onNetwork: ReadonlyMap<string, readonly Host[]>): readonly Host[] {
  switch (t.kind) {
    case 'host':
    case 'service': {
      const h = byName.get(t.host);
      return h ? [h] : [];
    }
    case 'network':
      return onNetwork.get(t.network) ?? [];
    case 'any':
      return hosts;
    case 'cidr':
      return hosts.filter((h) => h.nics.some((n) => inRange(n.address, t.range)));
    case 'internet':
    case 'lan':
      return [];
  }
}

/**
 * Per host, the policy rules that name it, in policy order (`from` before `to` for one rule).
 * One pass over the policy with the hosts indexed by network: a 1,000-host spec with 10,000
 * rules took seconds when every host re-tested every rule.
 */
function rulesByHost(policy: readonly PolicyRule[], hosts: readonly Host[]): Map<string, RuleRef[]> {
  const out = new Map<string, RuleRef[]>(hosts.map((h) => [h.name, []]));
  const byName = new Map(hosts.map((h) => [h.name, h]));
  const onNetwork = new Map<string, Host[]>();
  for (const h of hosts)
    for (const n of h.nics) {
      const list = onNetwork.get(n.segment);
      if (list) list.push(h);
      else onNetwork.set(n.segment, [h]);
    }
  const sideOf = (targets: readonly Target[]): Set<string> => {
    const named = new Set<string>();
    for (const t of targets) for (const h of namedHosts(t, hosts, byName, onNetwork)) named.add(h.name);
    return named;
  };
  for (const r of policy) {
    const origin = { file: r.origin.file, line: r.origin.line, col: r.origin.col, text: r.origin.text };
    for (const h of sideOf(r.from)) out.get(h)!.push({ action: r.action, side: 'from', origin });
    for (const h of sideOf(r.to)) out.get(h)!.push({ action: r.action, side: 'to', origin });
  }
  return out;
}

/** The topology of a compiled spec, sorted by name (determinism, as everywhere in cordon). */
export function topologyJson(file: string, ir: Ir): TopologyJson {
  const m = ir.model;
  const byName = <T extends { name: string }>(xs: Iterable<T>) => [...xs].sort((a, b) => a.name.localeCompare(b.name));
  const hosts = byName(m.hosts.values());
  const rules = rulesByHost(m.policy, hosts);
  return {
    file,
    networks: byName(m.networks.values()).map((n) => ({
      name: n.name,
      cidr: formatCidr(n.cidr),
      egress: n.egress,
      ...(n.gateway !== undefined ? { gateway: formatIPv4(n.gateway) } : {}),
      bridge: n.bridge,
      ...(n.owner !== undefined ? { owner: n.owner } : {}),
    })),
    tunnels: byName(m.tunnels.values()).map((t) => ({
      name: t.name,
      cidr: formatCidr(t.cidr),
      server: t.server,
      endpoint: formatIPv4(t.endpoint),
      listen: t.listen,
      members: hosts.filter((h) => h.name !== t.server && h.nics.some((n) => n.segment === t.name)).map((h) => h.name),
    })),
    hosts: hosts.map((h) => ({
      name: h.name,
      kind: h.kind,
      trusted: h.trusted,
      managed: h.managed,
      egress: h.egress,
      nics: h.nics.map((n) => ({ segment: n.segment, address: formatIPv4(n.address), ifname: n.ifname })),
      services: [...h.services.entries()].map(([name, f]) => ({ name, ports: formatFlowSet(f) })),
      rules: rules.get(h.name)!,
    })),
    points: [...ir.chains.values()]
      .sort((a, b) => a.point.localeCompare(b.point))
      .map((c) => ({ point: c.point, host: c.host, hook: c.hook, enforcedOn: c.enforcedOn, inGuest: c.inGuest, policy: c.policy, rules: c.rules.length })),
  };
}

export function topologyRoutes(api: Api, store: Store, cache: CompileCache): void {
  api.route(
    {
      method: 'GET',
      url: '/api/specs/:id/versions/:version/topology',
      summary: 'networks, tunnels, hosts (addresses, services, the rules naming them) and enforcement points, as `cordon describe` shows them',
      tag: 'analysis',
      auth: 'specs:read',
      params: VersionParams,
      responses: { 200: { description: 'the topology', schema: TopologyResponse } },
    },
    ({ params }) => {
      const spec = store.spec(params.id);
      if (!spec) throw new HttpError(404, `no spec with id ${params.id}`);
      const n = params.version === 'latest' ? spec.latestVersion : params.version;
      const v = store.specVersion(params.id, n);
      if (!v) throw new HttpError(404, `spec '${spec.name}' has no version ${n} (latest is ${spec.latestVersion})`);
      try {
        // The analysis routes' cache: Topology and Matrix of one version compile it once.
        return topologyJson(spec.name, cache.get(params.id, spec.name, n).ir);
      } catch (e) {
        if (e instanceof Refusal) throw new HttpError(400, e.message, { diagnostics: e.diagnostics });
        throw e;
      }
    },
  );
}
