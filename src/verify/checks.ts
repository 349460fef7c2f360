/**
 * `cordon test`: every `expect:` entry and every invariant, each a pass or a failure with a
 * witness (a flow, the path it takes and the rule that let it through).
 */
import type { Ir } from '../ir/types.js';
import type { Assume, Expectation, Host, Model, Origin, Target } from '../model/types.js';
import { GUEST_KINDS } from '../model/types.js';
import { ALL_FLOWS, flowCovers, flowIntersect, flowIsEmpty, flowSubtract, flowUnion, formatFlowSet, NO_FLOWS, type Flow, type FlowSet } from '../util/flows.js';
import { Engine, type Dest, type Reach } from './engine.js';
import { destName, sourceName, targetDests, targetSources } from './endpoints.js';
import { explain, type Explanation } from './explain.js';

export interface CheckResult {
  readonly kind: 'expect' | 'invariant';
  readonly name: string;
  readonly ok: boolean;
  readonly assume: Assume;
  readonly message: string;
  readonly origin: Origin;
  /** For failures: one explained flow that shows the problem. */
  readonly witness: Explanation | undefined;
}

/** Ports a reader recognises, tried first as a witness when the set holds them. */
const FAMILIAR_PORTS = [443, 22, 80, 53] as const;

/**
 * A concrete flow inside a set, for witnesses: of the first protocol present, a familiar port the
 * set holds, else its lowest port other than 0 (no connection uses port 0, and `tcp/0` in a
 * witness reads like a bug).
 */
export function sampleFlow(f: FlowSet): Flow | undefined {
  const port = (rs: FlowSet['tcp']): number =>
    FAMILIAR_PORTS.find((p) => rs.some(([lo, hi]) => lo <= p && p <= hi)) ?? (rs[0]![0] === 0 && rs[0]![1] > 0 ? 1 : rs[0]![0]);
  if (f.tcp.length) return { proto: 'tcp', port: port(f.tcp) };
  if (f.udp.length) return { proto: 'udp', port: port(f.udp) };
  if (f.icmp) return { proto: 'icmp' };
  if (f.other) return { proto: 'other' };
  return undefined;
}

export function runChecks(ir: Ir, engine = new Engine(ir)): CheckResult[] {
  const out: CheckResult[] = [];
  for (const e of ir.model.expectations) out.push(...checkExpectation(ir, engine, e));
  out.push(...checkInvariants(ir, engine));
  return out;
}

export function checkExpectation(ir: Ir, engine: Engine, e: Expectation): CheckResult[] {
  const out: CheckResult[] = [];
  const sources = targetSources(ir.model, e.from);
  const dests = targetDests(ir.model, e.to);
  for (const assume of e.assume) {
    let failure: { reach: Reach; flows: FlowSet; why: string } | undefined;
    for (const s of sources) {
      for (const d of dests) {
        if (s.kind === 'host' && d.kind === 'host' && s.host === d.host) continue;
        const reach = engine.reach(s, d, assume);
        if (e.verdict === 'allow') {
          const want = e.flows ?? ALL_FLOWS;
          const missing = e.flows ? flowSubtract(want, reach.allowed) : flowIsEmpty(reach.allowed) ? ALL_FLOWS : NO_FLOWS;
          if (!flowIsEmpty(missing))
            failure ??= {
              reach,
              flows: missing,
              why: `${sourceName(s)} → ${destName(ir.model, d)} is denied for ${e.flows ? formatFlowSet(missing) : 'every flow'}`,
            };
        } else {
          const leak = e.flows ? flowIntersect(e.flows, reach.allowed) : reach.allowed;
          if (!flowIsEmpty(leak)) failure ??= { reach, flows: leak, why: `${sourceName(s)} → ${destName(ir.model, d)} is allowed for ${formatFlowSet(leak)}` };
        }
      }
    }
    const flow = failure ? sampleFlow(failure.flows) : undefined;
    out.push({
      kind: 'expect',
      name: e.origin.text,
      ok: !failure,
      assume,
      message: failure ? failure.why : `${e.origin.text} holds`,
      origin: e.origin,
      witness: failure && flow ? explain(ir, failure.reach, flow) : undefined,
    });
  }
  return out;
}

/** Flows a policy rule grants by naming both ends (host, service or group member). */
export function explicitlyAllowed(model: Model, from: string, to: string): FlowSet {
  let acc: FlowSet = NO_FLOWS;
  const names = (ts: readonly Target[], host: string): Target[] => ts.filter((t) => (t.kind === 'host' || t.kind === 'service') && t.host === host);
  for (const r of model.policy) {
    if (r.action !== 'allow') continue;
    if (names(r.from, from).length === 0) continue;
    for (const t of names(r.to, to)) {
      const f = t.kind === 'service' ? (r.ports ? flowIntersect(r.ports, t.flows) : t.flows) : (r.ports ?? ALL_FLOWS);
      acc = flowUnion(acc, f);
    }
  }
  return acc;
}

function controlFlows(model: Model, guest: Host, to: string): FlowSet {
  let acc: FlowSet = NO_FLOWS;
  for (const t of guest.control) {
    if (t.kind === 'service' && t.host === to) acc = flowUnion(acc, t.flows);
    if (t.kind === 'host' && t.host === to) acc = ALL_FLOWS;
  }
  void model;
  return acc;
}

/** The UDP transport a tunnel member must be able to send to its server. */
function transportFlows(model: Model, from: Host, to: string): FlowSet {
  let acc: FlowSet = NO_FLOWS;
  for (const t of model.tunnels.values()) {
    if (t.server !== to || !from.nics.some((n) => n.segment === t.name)) continue;
    acc = flowUnion(acc, { tcp: [], udp: [[t.listen, t.listen]], icmp: false, other: false });
  }
  return acc;
}

function invariantResult(
  ir: Ir,
  name: string,
  origin: Origin,
  violation: { reach: Reach; flows: FlowSet; message: string } | undefined,
  okMessage: string,
): CheckResult {
  const flow = violation ? sampleFlow(violation.flows) : undefined;
  return {
    kind: 'invariant',
    name,
    ok: !violation,
    assume: 'compromised',
    message: violation ? violation.message : okMessage,
    origin,
    witness: violation && flow ? explain(ir, violation.reach, flow) : undefined,
  };
}

function checkInvariants(ir: Ir, engine: Engine): CheckResult[] {
  const m = ir.model;
  const out: CheckResult[] = [];
  const hosts = [...m.hosts.values()].sort((a, b) => a.name.localeCompare(b.name));
  const zones: Dest[] = [{ kind: 'zone', zone: 'internet' }];
  if (!m.networks.has('lan') && m.lan.length > 0) zones.push({ kind: 'zone', zone: 'lan' });

  if (m.invariants.noInternet) {
    for (const h of hosts) {
      const onlyIsolatedNets = h.nics.length > 0 && h.nics.every((n) => m.networks.get(n.segment)?.egress === 'none');
      if (h.trusted || (h.egress !== 'isolated' && !(onlyIsolatedNets && h.egress === 'filtered'))) continue;
      let violation: { reach: Reach; flows: FlowSet; message: string } | undefined;
      for (const z of zones) {
        const reach = engine.reach({ kind: 'host', host: h.name }, z, 'compromised');
        if (!flowIsEmpty(reach.allowed) && !violation) {
          violation = {
            reach,
            flows: reach.allowed,
            message: `${h.name} (${h.egress === 'isolated' ? 'egress: isolated' : 'only on egress: none networks'}) reaches the ${z.kind === 'zone' ? z.zone : ''} on ${formatFlowSet(reach.allowed)} when the guest is compromised`,
          };
        }
      }
      out.push(invariantResult(ir, `no-internet: ${h.name}`, h.origin, violation, `${h.name} cannot reach the internet, even compromised`));
    }
    // A host on both an isolated and a NAT network must not leak through its isolated leg.
    for (const h of hosts) {
      if (h.trusted || h.egress === 'isolated' || h.egress === 'open') continue;
      const isolatedLegs = h.nics.map((n) => m.networks.get(n.segment)).filter((n) => n?.egress === 'none');
      if (isolatedLegs.length === 0 || isolatedLegs.length === h.nics.length) continue;
      for (const net of isolatedLegs) {
        let violation: { reach: Reach; flows: FlowSet; message: string } | undefined;
        for (const z of zones) {
          const reach = engine.reach({ kind: 'host', host: h.name }, z, 'compromised');
          const leaks = reach.verdicts.filter((v) => v.path.nodes[1] === net!.name && !flowIsEmpty(v.allowed));
          if (leaks.length > 0 && !violation) {
            const flows = leaks.reduce((acc, v) => flowUnion(acc, v.allowed), NO_FLOWS);
            violation = {
              reach: { ...reach, verdicts: leaks, allowed: flows },
              flows,
              message: `${h.name} reaches the ${z.kind === 'zone' ? z.zone : ''} through its leg on ${net!.name} (egress: none) on ${formatFlowSet(flows)} when the guest is compromised`,
            };
          }
        }
        out.push(
          invariantResult(
            ir,
            `no-internet: ${h.name} via ${net!.name}`,
            net!.origin,
            violation,
            `nothing leaves ${net!.name} for the internet from ${h.name}, even compromised`,
          ),
        );
      }
    }
  }

  if (m.invariants.vpnOnly) {
    for (const h of hosts.filter((x) => x.egress === 'vpn-only' && x.vpnTunnel)) {
      const t = m.tunnels.get(h.vpnTunnel!)!;
      let violation: { reach: Reach; flows: FlowSet; message: string } | undefined;
      // 1. The tunnel must be able to come up at all (as configured).
      const tr = engine.checkTransport({ tunnel: t.name, peer: h.name }, 'configured');
      if (!tr.ok && tr.reach) {
        violation = {
          reach: tr.reach,
          flows: { tcp: [], udp: [[t.listen, t.listen]], icmp: false, other: false },
          message: `${h.name}'s tunnel ${t.name} cannot come up: its own UDP transport to the endpoint (udp/${t.listen}) is blocked, so vpn-only means no network at all`,
        };
      }
      // 2. Nothing may leave except through the tunnel, even when the guest is compromised.
      if (!violation) {
        const dests: Dest[] = [...hosts.filter((x) => x !== h).map((x): Dest => ({ kind: 'host', host: x.name })), ...zones];
        for (const d of dests) {
          const reach = engine.reach({ kind: 'host', host: h.name }, d, 'compromised');
          for (const v of reach.verdicts) {
            if (v.path.tunnels.includes(t.name)) continue;
            let leak = v.allowed;
            const endpointHost = [...m.hosts.values()].find((x) => x.nics.some((n) => n.address === t.endpoint));
            if (d.kind === 'host' && endpointHost && d.host === endpointHost.name)
              leak = flowSubtract(leak, { tcp: [], udp: [[t.listen, t.listen]], icmp: false, other: false });
            if (!flowIsEmpty(leak)) {
              violation = {
                reach: { ...reach, verdicts: [v], allowed: leak },
                flows: leak,
                message: `${h.name} is vpn-only but reaches ${destName(m, d)} outside ${t.name} on ${formatFlowSet(leak)} (via ${v.path.nodes.join(' → ')}) when the guest is compromised`,
              };
              break;
            }
          }
          if (violation) break;
        }
      }
      out.push(
        invariantResult(ir, `vpn-only: ${h.name}`, h.origin, violation, `${h.name} reaches nothing outside ${t.name}, and ${t.name}'s transport is open`),
      );
    }
  }

  const guests = hosts.filter((h) => GUEST_KINDS.has(h.kind));
  if (m.invariants.noVmToVm) {
    for (const a of guests) {
      let violation: { reach: Reach; flows: FlowSet; message: string } | undefined;
      for (const b of guests) {
        if (a === b) continue;
        const reach = engine.reach({ kind: 'host', host: a.name }, { kind: 'host', host: b.name }, 'compromised');
        const extra = flowSubtract(reach.allowed, explicitlyAllowed(m, a.name, b.name));
        if (!flowIsEmpty(extra)) {
          violation = { reach, flows: extra, message: `${a.name} reaches guest ${b.name} on ${formatFlowSet(extra)}, which no rule naming both allows` };
          break;
        }
      }
      if (guests.length > 1)
        out.push(invariantResult(ir, `no-vm-to-vm: ${a.name}`, a.origin, violation, `${a.name} reaches other guests only where a rule names both`));
    }
  }

  if (m.invariants.noVmToHost) {
    const managed = hosts.filter((h) => h.trusted && h.managed);
    for (const a of guests) {
      let violation: { reach: Reach; flows: FlowSet; message: string } | undefined;
      for (const h of managed) {
        const reach = engine.reach({ kind: 'host', host: a.name }, { kind: 'host', host: h.name }, 'compromised');
        const ok = flowUnion(flowUnion(explicitlyAllowed(m, a.name, h.name), controlFlows(m, a, h.name)), transportFlows(m, a, h.name));
        const extra = flowSubtract(reach.allowed, ok);
        if (!flowIsEmpty(extra)) {
          violation = {
            reach,
            flows: extra,
            message: `${a.name} reaches ${h.kind} ${h.name} on ${formatFlowSet(extra)}, which is neither a declared control channel nor allowed by a rule naming ${h.name}`,
          };
          break;
        }
      }
      if (managed.length > 0)
        out.push(
          invariantResult(ir, `no-vm-to-host: ${a.name}`, a.origin, violation, `${a.name} reaches managed hosts only on control channels and named rules`),
        );
    }
  }
  void flowCovers;
  return out;
}
