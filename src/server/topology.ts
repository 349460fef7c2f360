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
import { compileText, Refusal } from './analysis.js';
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

function names(t: Target, h: Host): boolean {
  switch (t.kind) {
    case 'host':
    case 'service':
      return t.host === h.name;
    case 'network':
      return h.nics.some((n) => n.segment === t.network);
    case 'any':
      return true;
    case 'cidr':
      return h.nics.some((n) => inRange(n.address, t.range));
    case 'internet':
    case 'lan':
      return false;
  }
}

function rulesOf(policy: readonly PolicyRule[], h: Host): TopologyJson['hosts'][number]['rules'] {
  const out: TopologyJson['hosts'][number]['rules'] = [];
  for (const r of policy) {
    const origin = { file: r.origin.file, line: r.origin.line, col: r.origin.col, text: r.origin.text };
    if (r.from.some((t) => names(t, h))) out.push({ action: r.action, side: 'from', origin });
    if (r.to.some((t) => names(t, h))) out.push({ action: r.action, side: 'to', origin });
  }
  return out;
}

/** The topology of a compiled spec, sorted by name (determinism, as everywhere in cordon). */
export function topologyJson(file: string, ir: Ir): TopologyJson {
  const m = ir.model;
  const byName = <T extends { name: string }>(xs: Iterable<T>) => [...xs].sort((a, b) => a.name.localeCompare(b.name));
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
      members: byName(m.hosts.values())
        .filter((h) => h.name !== t.server && h.nics.some((n) => n.segment === t.name))
        .map((h) => h.name),
    })),
    hosts: byName(m.hosts.values()).map((h) => ({
      name: h.name,
      kind: h.kind,
      trusted: h.trusted,
      managed: h.managed,
      egress: h.egress,
      nics: h.nics.map((n) => ({ segment: n.segment, address: formatIPv4(n.address), ifname: n.ifname })),
      services: [...h.services.entries()].map(([name, f]) => ({ name, ports: formatFlowSet(f) })),
      rules: rulesOf(m.policy, h),
    })),
    points: [...ir.chains.values()]
      .sort((a, b) => a.point.localeCompare(b.point))
      .map((c) => ({ point: c.point, host: c.host, hook: c.hook, enforcedOn: c.enforcedOn, inGuest: c.inGuest, policy: c.policy, rules: c.rules.length })),
  };
}

export function topologyRoutes(api: Api, store: Store): void {
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
        return topologyJson(spec.name, compileText(v.text, spec.name).ir);
      } catch (e) {
        if (e instanceof Refusal) throw new HttpError(400, e.message, { diagnostics: e.diagnostics });
        throw e;
      }
    },
  );
}
