/**
 * A query's endpoints and flow as a person writes them (`ollama`, `192.168.100.20`, `ollama.api`,
 * `internet`, `tcp` + `11434`) resolved against a compiled spec: the source, the destination and
 * the flow the engine asks about. One resolver for every shell: `cordon query` passes its flag
 * names (`--from`), the server its JSON field names (`from`), and each message names the input the
 * way that caller's user typed it.
 *
 * Refusals are `QueryArgError`s (the shell turns them into exit 2 or HTTP 400); unknown names list
 * the valid choices.
 */
import type { Source } from '../ir/paths.js';
import type { Ir } from '../ir/types.js';
import type { Flow } from '../util/flows.js';
import { parseIPv4 } from '../util/ip.js';
import { unknownNameHint } from '../util/suggest.js';
import type { Dest } from './engine.js';

/** How the caller's user names the four inputs, for messages. */
export interface QueryNames {
  readonly from: string;
  readonly to: string;
  readonly proto: string;
  readonly port: string;
}

/** The CLI's flags. */
export const CLI_QUERY_NAMES: QueryNames = { from: '--from', to: '--to', proto: '--proto', port: '--port' };
/** A JSON body's fields (the server). */
export const JSON_QUERY_NAMES: QueryNames = { from: 'from', to: 'to', proto: 'proto', port: 'port' };

export type QueryField = keyof QueryNames;

/** A query input that names nothing in the spec, or a flow that is incomplete or contradictory. */
export class QueryArgError extends Error {
  constructor(
    readonly field: QueryField,
    message: string,
  ) {
    super(message);
    this.name = 'QueryArgError';
  }
}

export const PROTOS = ['tcp', 'udp', 'icmp', 'other'] as const;
export type QueryProto = (typeof PROTOS)[number];

function endpointNames(ir: Ir): string[] {
  return [...ir.model.hosts.keys(), 'internet', 'lan'];
}

/** A source: a host by name or by one of its addresses, or the zone internet or lan. */
export function resolveSource(ir: Ir, name: string, names: QueryNames = CLI_QUERY_NAMES): Source {
  if (name === 'internet' || name === 'lan') return { kind: 'zone', zone: name };
  if (ir.model.hosts.has(name)) return { kind: 'host', host: name };
  const addr = parseIPv4(name);
  if (addr !== undefined) {
    for (const h of ir.model.hosts.values()) if (h.nics.some((n) => n.address === addr)) return { kind: 'host', host: h.name };
    throw new QueryArgError('from', `${names.from} ${name}: no declared host has that address; use a host name, internet or lan`);
  }
  throw new QueryArgError('from', `${names.from}: unknown host '${name}' (${unknownNameHint(name, endpointNames(ir))})`);
}

/**
 * A destination: a host, `host.service` (whose first port, or icmp, is the default flow), any
 * address, or the zone internet or lan.
 */
export function resolveDest(ir: Ir, name: string, names: QueryNames = CLI_QUERY_NAMES): { dest: Dest; flowFromService?: Flow } {
  if (name === 'internet' || name === 'lan') return { dest: { kind: 'zone', zone: name } };
  if (ir.model.hosts.has(name)) return { dest: { kind: 'host', host: name } };
  const dot = name.indexOf('.');
  const host = dot > 0 ? ir.model.hosts.get(name.slice(0, dot)) : undefined;
  if (host) {
    const svcName = name.slice(dot + 1);
    const svc = host.services.get(svcName);
    if (!svc)
      throw new QueryArgError('to', `${names.to}: host '${host.name}' has no service '${svcName}' (${unknownNameHint(svcName, [...host.services.keys()])})`);
    const flow: Flow = svc.tcp.length ? { proto: 'tcp', port: svc.tcp[0]![0] } : svc.udp.length ? { proto: 'udp', port: svc.udp[0]![0] } : { proto: 'icmp' };
    return { dest: { kind: 'host', host: host.name }, flowFromService: flow };
  }
  const addr = parseIPv4(name);
  if (addr !== undefined) return { dest: { kind: 'addr', addr } };
  throw new QueryArgError('to', `${names.to}: unknown destination '${name}' (${unknownNameHint(name, endpointNames(ir))})`);
}

/**
 * The flow from a protocol and port (either may be missing when the destination names a service:
 * its own protocol and port are the default). `port` comes as text from a command line or as a
 * number from JSON; both are checked to be 1–65535.
 */
export function resolveFlow(
  proto: string | undefined,
  port: string | number | undefined,
  fallback: Flow | undefined,
  names: QueryNames = CLI_QUERY_NAMES,
): Flow {
  if (proto === undefined) {
    // As the CLI always did: a service's own flow wins (a port given without a protocol is not enough to say which).
    if (fallback) return fallback;
    throw new QueryArgError('proto', `${names.proto} is required (tcp, udp, icmp, other) unless ${names.to} names a service`);
  }
  if (!(PROTOS as readonly string[]).includes(proto)) throw new QueryArgError('proto', `${names.proto} must be tcp, udp, icmp or other, got '${proto}'`);
  const p = proto as QueryProto;
  if (p === 'icmp' || p === 'other') {
    if (port !== undefined) throw new QueryArgError('port', `${names.port} makes no sense with ${names.proto} ${p}`);
    return { proto: p };
  }
  if (port === undefined) {
    if (fallback && fallback.proto === p) return fallback;
    throw new QueryArgError('port', `${names.port} is required with ${names.proto} ${p}`);
  }
  const n = typeof port === 'number' ? port : /^\d{1,5}$/.test(port) ? Number(port) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new QueryArgError('port', `${names.port} must be 1–65535, got '${port}'`);
  return { proto: p, port: n };
}

export interface QueryInput {
  readonly from: string;
  readonly to: string;
  readonly proto?: string | undefined;
  readonly port?: string | number | undefined;
}

/** Source, destination and flow of one query, every name resolved against `ir`. */
export function resolveQuery(ir: Ir, q: QueryInput, names: QueryNames = CLI_QUERY_NAMES): { from: Source; dest: Dest; flow: Flow } {
  const from = resolveSource(ir, q.from, names);
  const { dest, flowFromService } = resolveDest(ir, q.to, names);
  return { from, dest, flow: resolveFlow(q.proto, q.port, flowFromService, names) };
}
