/**
 * `cordon run --spec FILE --as HOST`, the pure half: what the spec lets HOST reach, as sandbox
 * egress rules (CIDR + protocol + port range).
 *
 * The source of truth is the verifier's configured view, the same flows `cordon matrix FILE`
 * shows in HOST's row: every other host (one /32 per address) and the built-in `internet` and
 * `lan` zones. A zone is split into the classes the engine itself evaluates (cut at every
 * destination prefix a firewall rule mentions), so a rule that opens only 8.8.8.8 does not become
 * "the whole internet". Zone rules never cover a private, loopback, link-local, multicast or
 * reserved address, nor a network the spec declares: those are not "the internet" to the verifier
 * either (src/model/addresses.ts).
 */
import type { Ir } from '../ir/types.js';
import type { Model } from '../model/types.js';
import { ALL_FLOWS, flowEqual, flowIsEmpty, flowUnion, formatFlowSet, NO_FLOWS, PORT_MAX, type FlowSet } from '../util/flows.js';
import { formatCidr, formatIPv4, rangeToCidrs, type Cidr } from '../util/ip.js';
import * as R from '../util/rangeset.js';
import type { RangeSet } from '../util/rangeset.js';
import { closest } from '../util/suggest.js';
import { Engine } from '../verify/engine.js';
import { endpoints } from '../verify/endpoints.js';

export interface SpecEgressRule {
  /** A host address is a /32. */
  readonly cidr: Cidr;
  readonly proto: 'tcp' | 'udp' | 'icmp' | 'any';
  /** tcp/udp only; undefined = all ports. */
  readonly ports: { readonly lo: number; readonly hi: number } | undefined;
  /** Human: "ollama 10.10.10.5 tcp/11434" or "internet tcp/443". */
  readonly text: string;
}

export interface SpecEgress {
  readonly host: string;
  /** 'vpn-only' when the host's egress mode in the spec is vpn-only (the sandbox then needs a WireGuard config), 'isolated' when it reaches nothing, else 'filtered'. */
  readonly mode: 'isolated' | 'filtered' | 'vpn-only';
  /** Sorted by address, prefix length, protocol (any, icmp, tcp, udp), then ports. */
  readonly rules: readonly SpecEgressRule[];
  /** Things the sandbox cannot reproduce exactly, said plainly. */
  readonly notes: readonly string[];
}

type Proto = SpecEgressRule['proto'];
type Ports = SpecEgressRule['ports'];

/** One (protocol, port range) piece of a flow set. */
interface Atom {
  readonly proto: Proto;
  readonly ports: Ports;
}

/**
 * The egress the spec gives `host` (configured view). Throws for a host the spec does not declare,
 * naming the closest one and the valid choices.
 */
export function specEgress(ir: Ir, host: string, engine: Engine = new Engine(ir)): SpecEgress {
  const model = ir.model;
  const h = model.hosts.get(host);
  if (!h) throw new Error(unknownHostMessage(model, host));

  const rules: SpecEgressRule[] = [];
  const notes: string[] = [];
  const other: string[] = [];
  const src = { kind: 'host', host } as const;

  for (const ep of endpoints(model)) {
    if (ep.name === host) continue;
    if (ep.dest.kind === 'host') {
      const dest = model.hosts.get(ep.dest.host)!;
      for (const addr of [...new Set(dest.nics.map((n) => n.address))].sort((a, b) => a - b)) {
        const allowed = engine.reach(src, { kind: 'addr', addr }, 'configured').allowed;
        if (flowIsEmpty(allowed)) continue;
        const label = `${dest.name} ${formatIPv4(addr)}`;
        for (const a of atoms(allowed)) rules.push(makeRule({ addr, len: 32 }, a, label));
        if (hasUnexpressedOther(allowed)) other.push(label);
      }
    } else if (ep.dest.kind === 'zone') {
      const zone = ep.dest.zone;
      const space = zone === 'internet' ? model.internet : model.lan;
      const classes = zoneClasses(ir, engine, host, space);
      const reached = classes.filter((c) => !flowIsEmpty(c.allowed));
      if (reached.length === 0) continue;
      // Addresses per (protocol, ports), over all classes that allow it.
      const byAtom = new Map<string, { atom: Atom; addrs: RangeSet }>();
      for (const c of reached) {
        for (const a of atoms(c.allowed)) {
          const k = atomKey(a);
          const cur = byAtom.get(k);
          byAtom.set(k, { atom: a, addrs: cur ? R.union(cur.addrs, c.addrs) : c.addrs });
        }
        if (hasUnexpressedOther(c.allowed)) other.push(zone);
      }
      for (const { atom, addrs } of byAtom.values()) {
        const whole = R.equal(addrs, space);
        for (const [lo, hi] of addrs) {
          for (const cidr of rangeToCidrs({ lo, hi })) rules.push(makeRule(cidr, atom, whole ? zone : `${zone} ${formatCidr(cidr)}`));
        }
      }
      notes.push(zoneNote(zone, reached, space));
    }
  }

  if (other.length > 0) {
    notes.push(`reaches ${[...new Set(other)].join(', ')} on other IP protocols too (not tcp, udp or icmp): the sandbox does not open those`);
  }

  rules.sort(compareRules);
  const mode: SpecEgress['mode'] = rules.length === 0 ? 'isolated' : h.egress === 'vpn-only' ? 'vpn-only' : 'filtered';
  if (h.egress === 'vpn-only') {
    const t = h.vpnTunnel ? model.tunnels.get(h.vpnTunnel) : undefined;
    const through = t ? `${t.name} (server ${t.server}, endpoint ${formatIPv4(t.endpoint)} udp/${t.listen})` : 'its tunnel';
    if (mode === 'vpn-only') {
      notes.push(
        `${host} is egress: vpn-only: everything goes through ${through}, so the sandbox needs a WireGuard config for it; the rules are what ${host} reaches through the tunnel`,
      );
    } else {
      notes.push(`${host} is egress: vpn-only but reaches nothing, even through ${through}: the sandbox gets no network and no tunnel`);
    }
  }
  if (rules.length > 0 && h.nics.length > 0) {
    const addrs = [...new Set(h.nics.map((n) => n.address))].sort((a, b) => a - b).map(formatIPv4);
    notes.push(
      `the sandbox reproduces ${host}'s egress filter only: whether a destination is routable from the machine that runs it, and what firewalls on the way do with that machine's address (not ${host}'s ${addrs.join(', ')}), is outside it`,
    );
  }
  return { host, mode, rules, notes };
}

function unknownHostMessage(model: Model, host: string): string {
  const names = [...model.hosts.keys()].sort();
  const near = closest(host, names);
  const hint = near ? ` did you mean '${near}'?` : '';
  return `no host '${host}' in ${model.file}:${hint} hosts are ${names.map((n) => `'${n}'`).join(', ') || '(none)'}`;
}

interface ZoneClass {
  readonly addrs: RangeSet;
  readonly allowed: FlowSet;
}

/**
 * `space` cut at every destination prefix a firewall rule or route mentions (and at every declared
 * network), one engine query per piece. Mirrors Engine.zoneDestinations, whose cuts are a subset of
 * these, so the union over the pieces is the matrix cell.
 */
function zoneClasses(ir: Ir, engine: Engine, host: string, space: RangeSet): ZoneClass[] {
  const cutSet = new Set<number>();
  const cut = (lo: number, hi: number): void => {
    cutSet.add(lo);
    if (hi < 0xffffffff) cutSet.add(hi + 1);
  };
  for (const c of ir.chains.values()) for (const r of c.rules) if (r.match.dst) for (const [lo, hi] of r.match.dst) cut(lo, hi);
  for (const h of ir.model.hosts.values()) for (const rt of h.routes) cut(rt.range.lo, rt.range.hi);
  for (const s of [...ir.model.networks.values(), ...ir.model.tunnels.values()]) cut(s.range.lo, s.range.hi);
  const cuts = [...cutSet].sort((a, b) => a - b);
  const owned = new Set<number>();
  for (const h of ir.model.hosts.values()) for (const n of h.nics) owned.add(n.address);

  const out: ZoneClass[] = [];
  let i = 0;
  for (const [lo, hi] of space) {
    while (i < cuts.length && cuts[i]! <= lo) i++;
    let start = lo;
    while (start <= hi) {
      const end = i < cuts.length && cuts[i]! <= hi ? cuts[i]! - 1 : hi;
      let rep = start;
      while (owned.has(rep) && rep < end) rep++;
      const allowed = engine.reach({ kind: 'host', host }, { kind: 'addr', addr: rep }, 'configured').allowed;
      const last = out[out.length - 1];
      // Neighbouring pieces with the same verdict are one class.
      if (last && flowEqual(last.allowed, allowed) && last.addrs[last.addrs.length - 1]![1] + 1 === start) {
        out[out.length - 1] = { addrs: R.union(last.addrs, [[start, end]]), allowed };
      } else {
        out.push({ addrs: [[start, end]], allowed });
      }
      start = end + 1;
      if (end === hi) break;
      i++;
    }
  }
  // Merge non-neighbouring classes with the same verdict.
  const merged: ZoneClass[] = [];
  for (const c of out) {
    const same = merged.findIndex((m) => flowEqual(m.allowed, c.allowed));
    if (same >= 0) merged[same] = { addrs: R.union(merged[same]!.addrs, c.addrs), allowed: c.allowed };
    else merged.push(c);
  }
  return merged;
}

function zoneNote(zone: 'internet' | 'lan', reached: readonly ZoneClass[], space: RangeSet): string {
  const all = reached.reduce<FlowSet>((acc, c) => flowUnion(acc, c.allowed), NO_FLOWS);
  const uniform = reached.length === 1 && R.equal(reached[0]!.addrs, space);
  const what =
    zone === 'internet'
      ? "any public address; private ranges (RFC 1918, 100.64.0.0/10), loopback, link-local, multicast, reserved space and the networks the spec declares stay denied, and public addresses of the spec's own hosts get only their own rules"
      : `the lan's private prefixes outside the networks the spec declares (${space.map(([lo, hi]) => rangeText(lo, hi)).join(', ')})`;
  if (uniform) return `reaches the ${zone} on ${formatFlowSet(all)}: allowed to ${what}`;
  const parts = reached.map((c) => `${formatFlowSet(c.allowed)} to ${summarize(c.addrs)}`);
  return `reaches parts of the ${zone} only: ${parts.join('; ')} (out of ${what})`;
}

function summarize(addrs: RangeSet): string {
  const shown = addrs.slice(0, 4).map(([lo, hi]) => rangeText(lo, hi));
  return shown.join(', ') + (addrs.length > 4 ? `, … (${addrs.length} ranges)` : '');
}

function rangeText(lo: number, hi: number): string {
  const cidrs = rangeToCidrs({ lo, hi });
  if (cidrs.length === 1) return lo === hi ? formatIPv4(lo) : formatCidr(cidrs[0]!);
  return `${formatIPv4(lo)}-${formatIPv4(hi)}`;
}

/** A flow set as (protocol, port range) pieces; everything = one `any`. `other` alone has no piece. */
function atoms(f: FlowSet): Atom[] {
  if (flowEqual(f, ALL_FLOWS)) return [{ proto: 'any', ports: undefined }];
  const out: Atom[] = [];
  for (const proto of ['tcp', 'udp'] as const) {
    for (const [lo, hi] of f[proto]) out.push({ proto, ports: lo === 0 && hi === PORT_MAX ? undefined : { lo, hi } });
  }
  if (f.icmp) out.push({ proto: 'icmp', ports: undefined });
  return out;
}

/** `other` protocols allowed, but not everything: no sandbox rule can say that. */
function hasUnexpressedOther(f: FlowSet): boolean {
  return f.other && !flowEqual(f, ALL_FLOWS);
}

function atomKey(a: Atom): string {
  return a.ports ? `${a.proto}/${a.ports.lo}-${a.ports.hi}` : a.proto;
}

function atomText(a: Atom): string {
  if (!a.ports) return a.proto;
  return a.ports.lo === a.ports.hi ? `${a.proto}/${a.ports.lo}` : `${a.proto}/${a.ports.lo}-${a.ports.hi}`;
}

function makeRule(cidr: Cidr, a: Atom, label: string): SpecEgressRule {
  return { cidr, proto: a.proto, ports: a.ports, text: `${label} ${atomText(a)}` };
}

const PROTO_ORDER: Record<Proto, number> = { any: 0, icmp: 1, tcp: 2, udp: 3 };

function compareRules(a: SpecEgressRule, b: SpecEgressRule): number {
  return (
    a.cidr.addr - b.cidr.addr ||
    a.cidr.len - b.cidr.len ||
    PROTO_ORDER[a.proto] - PROTO_ORDER[b.proto] ||
    (a.ports?.lo ?? -1) - (b.ports?.lo ?? -1) ||
    (a.ports?.hi ?? -1) - (b.ports?.hi ?? -1)
  );
}
