/**
 * spec `forwards:` → model: each port forward resolved to the host that rewrites the destination,
 * the interfaces the world comes in by, the target's address and the public → target port ranges.
 * Called once by model/resolve.ts, which owns the diagnostics and the reference resolution.
 */
import { Code } from '../diag/codes.js';
import type { DiagCode } from '../diag/diagnostic.js';
import type { PathSeg } from '../spec/parse.js';
import type { ForwardSpecT } from '../spec/schema.js';
import { flowIsEmpty, formatFlowSet } from '../util/flows.js';
import { formatIPv4 } from '../util/ip.js';
import { unknownNameHint } from '../util/suggest.js';
import { visible } from '../util/visible.js';
import type { Forward, ForwardPort, Host, Network, Origin, Target, Tunnel } from './types.js';

/** What the resolver lends this step. */
export interface ForwardContext {
  readonly hosts: ReadonlyMap<string, Host>;
  readonly networks: ReadonlyMap<string, Network>;
  readonly tunnels: ReadonlyMap<string, Tunnel>;
  resolveRef(ref: string, path: readonly PathSeg[]): Target[];
  err(code: DiagCode, message: string, path: readonly PathSeg[], hint?: string): void;
  origin(path: readonly PathSeg[], text: string): Origin;
}

/** The interfaces by which the world reaches `h`: its uplink (or default route's) and its internet nics. */
export function worldEntries(h: Host): string[] {
  const out = new Set<string>();
  if (h.uplink !== undefined) out.add(h.uplink);
  if (h.defaultRoute.kind === 'uplink') out.add(h.defaultRoute.ifname);
  for (const n of h.nics) if (n.segment === 'internet') out.add(n.ifname);
  return [...out].sort();
}

/** The host holding the gateway of a network `target` is on, that the world can reach: the default `via`. */
function defaultVia(ctx: ForwardContext, target: Host): Host | undefined {
  for (const nic of target.nics) {
    const net = ctx.networks.get(nic.segment);
    if (net?.gateway === undefined) continue;
    for (const h of ctx.hosts.values()) if (h !== target && h.nics.some((n) => n.address === net.gateway) && worldEntries(h).length > 0) return h;
  }
  return undefined;
}

export function resolveForwards(ctx: ForwardContext, specs: readonly ForwardSpecT[]): Forward[] {
  const out: Forward[] = [];
  specs.forEach((f, index) => {
    const path: PathSeg[] = ['forwards', index];
    const targets = ctx.resolveRef(f.to, [...path, 'to']);
    if (targets.length === 0) return; // resolveRef said why
    const t = targets[0]!;
    if (targets.length !== 1 || t.kind !== 'service') {
      ctx.err(
        Code.WRONG_REFERENCE_KIND,
        `forward: '${f.to}' is not one service; a forward publishes host.service`,
        [...path, 'to'],
        'write e.g. gateway.https',
      );
      return;
    }
    const target = ctx.hosts.get(t.host)!;
    if (t.flows.icmp || t.flows.other || flowIsEmpty(t.flows)) {
      ctx.err(
        Code.BAD_PORT,
        `forward: service '${f.to}' is ${formatFlowSet(t.flows)}; only tcp and udp ports can be forwarded`,
        [...path, 'to'],
        'publish a service of tcp/udp ports',
      );
      return;
    }
    let via: Host | undefined;
    if (f.via !== undefined) {
      via = ctx.hosts.get(f.via);
      if (!via) {
        ctx.err(Code.UNKNOWN_NAME, `forward: unknown host '${f.via}'`, [...path, 'via'], unknownNameHint(f.via, [...ctx.hosts.keys()]));
        return;
      }
    } else {
      via = defaultVia(ctx, target);
      if (!via) {
        ctx.err(
          Code.ROUTING,
          `forward: no host holds the gateway of a network '${t.host}' is on and reaches the internet, so nothing can forward to it`,
          path,
          'name the forwarding host with via: (a managed host with an uplink or an internet nic)',
        );
        return;
      }
    }
    const at = f.via !== undefined ? [...path, 'via'] : path;
    if (via === target) {
      ctx.err(
        Code.ROUTING,
        `forward: '${via.name}' would forward to itself`,
        at,
        'a forward publishes a service of another host; allow the service in the policy instead',
      );
      return;
    }
    if (!via.managed || !via.forward) {
      ctx.err(
        Code.ROUTING,
        `forward: '${via.name}' ${via.managed ? 'does not forward packets' : 'is not managed by cordon'}, so cordon cannot write its DNAT`,
        at,
        'forward through a managed hypervisor or router',
      );
      return;
    }
    const entry = worldEntries(via);
    if (entry.length === 0) {
      ctx.err(
        Code.ROUTING,
        `forward: '${via.name}' has no uplink and no internet nic, so the internet does not reach it`,
        at,
        'give it uplink: or a nic on internet',
      );
      return;
    }
    const shared = target.nics.find((n) => ctx.networks.has(n.segment) && via.nics.some((m) => m.segment === n.segment));
    if (!shared) {
      ctx.err(Code.ROUTING, `forward: '${t.host}' shares no network with '${via.name}', which cannot send it the forwarded connections`, at);
      return;
    }
    const ports: ForwardPort[] = [];
    for (const proto of ['tcp', 'udp'] as const) for (const [lo, hi] of t.flows[proto]) ports.push({ proto, public: [lo, hi], target: [lo, hi] });
    if (f.port !== undefined) {
      const one = ports.length === 1 && ports[0]!.target[0] === ports[0]!.target[1] ? ports[0]! : undefined;
      if (!one) {
        ctx.err(
          Code.BAD_PORT,
          `forward: port ${f.port} needs a service of one port, but '${f.to}' is ${formatFlowSet(t.flows)}`,
          [...path, 'port'],
          'publish each port as its own service, or leave port: out to keep the service ports',
        );
        return;
      }
      ports[0] = { ...one, public: [f.port, f.port] };
    }
    // One public port goes to one place; the tunnel's own transport is never taken over.
    for (const p of ports) {
      const tunnel = [...ctx.tunnels.values()].find((x) => x.server === via.name && p.proto === 'udp' && p.public[0] <= x.listen && x.listen <= p.public[1]);
      if (tunnel) {
        ctx.err(
          Code.ROUTING,
          `forward: udp/${tunnel.listen} on '${via.name}' is tunnel ${tunnel.name}'s own listen port`,
          path,
          'give the forward another public port (port:)',
        );
        return;
      }
      for (const o of out) {
        if (o.via !== via.name) continue;
        const clash = o.ports.find((q) => q.proto === p.proto && q.public[0] <= p.public[1] && p.public[0] <= q.public[1]);
        if (clash) {
          ctx.err(
            Code.ROUTING,
            `forward: ${p.proto}/${rangeText(p.public)} on '${via.name}' is already forwarded to ${o.host}.${o.service} (forwards[${o.index}])`,
            path,
            'give one of them another public port (port:)',
          );
          return;
        }
      }
    }
    const text = `forward ${ports.map((p) => `${p.proto}/${rangeText(p.public)}`).join(', ')} on ${via.name} → ${f.to} (${formatIPv4(shared.address)})`;
    out.push({
      index,
      via: via.name,
      entry,
      host: t.host,
      service: t.service,
      address: shared.address,
      flows: t.flows,
      ports,
      comment: f.comment === undefined ? undefined : visible(f.comment),
      origin: ctx.origin(path, f.comment ? `${text} (${f.comment})` : text),
    });
  });
  return out;
}

function rangeText([lo, hi]: readonly [number, number]): string {
  return lo === hi ? `${lo}` : `${lo}-${hi}`;
}
