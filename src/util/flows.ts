/**
 * Sets of flows by protocol and destination port: the value of one reachability-matrix cell
 * and the match of one rule. `other` stands for every IP protocol that is not tcp, udp or icmp
 * (raw IP, GRE, SCTP…), so "allow any" and "deny any" stay honest about them.
 */
import * as R from './rangeset.js';
import type { RangeSet } from './rangeset.js';

export const PROTOS = ['tcp', 'udp', 'icmp'] as const;
export type Proto = (typeof PROTOS)[number];
export const PORT_MAX = 65535;
export const ALL_PORTS: RangeSet = [[0, PORT_MAX]];

export interface FlowSet {
  readonly tcp: RangeSet;
  readonly udp: RangeSet;
  readonly icmp: boolean;
  readonly other: boolean;
}

export const NO_FLOWS: FlowSet = { tcp: R.EMPTY, udp: R.EMPTY, icmp: false, other: false };
export const ALL_FLOWS: FlowSet = { tcp: ALL_PORTS, udp: ALL_PORTS, icmp: true, other: true };

export function flowUnion(a: FlowSet, b: FlowSet): FlowSet {
  return {
    tcp: R.union(a.tcp, b.tcp),
    udp: R.union(a.udp, b.udp),
    icmp: a.icmp || b.icmp,
    other: a.other || b.other,
  };
}

export function flowIntersect(a: FlowSet, b: FlowSet): FlowSet {
  return {
    tcp: R.intersect(a.tcp, b.tcp),
    udp: R.intersect(a.udp, b.udp),
    icmp: a.icmp && b.icmp,
    other: a.other && b.other,
  };
}

export function flowSubtract(a: FlowSet, b: FlowSet): FlowSet {
  return {
    tcp: R.subtract(a.tcp, b.tcp),
    udp: R.subtract(a.udp, b.udp),
    icmp: a.icmp && !b.icmp,
    other: a.other && !b.other,
  };
}

export function flowIsEmpty(a: FlowSet): boolean {
  return a.tcp.length === 0 && a.udp.length === 0 && !a.icmp && !a.other;
}

export function flowEqual(a: FlowSet, b: FlowSet): boolean {
  return R.equal(a.tcp, b.tcp) && R.equal(a.udp, b.udp) && a.icmp === b.icmp && a.other === b.other;
}

export function flowCovers(a: FlowSet, b: FlowSet): boolean {
  return flowIsEmpty(flowSubtract(b, a));
}

/** One concrete flow: what a probe or a `query` asks about. */
export interface Flow {
  readonly proto: Proto | 'other';
  /** Destination port; absent for icmp/other. */
  readonly port?: number;
}

export function flowOf(f: Flow): FlowSet {
  switch (f.proto) {
    case 'tcp':
      return { ...NO_FLOWS, tcp: R.span(f.port ?? 0, f.port ?? PORT_MAX) };
    case 'udp':
      return { ...NO_FLOWS, udp: R.span(f.port ?? 0, f.port ?? PORT_MAX) };
    case 'icmp':
      return { ...NO_FLOWS, icmp: true };
    case 'other':
      return { ...NO_FLOWS, other: true };
  }
}

export function flowContains(a: FlowSet, f: Flow): boolean {
  switch (f.proto) {
    case 'tcp':
      return f.port === undefined ? R.covers(a.tcp, ALL_PORTS) : R.contains(a.tcp, f.port);
    case 'udp':
      return f.port === undefined ? R.covers(a.udp, ALL_PORTS) : R.contains(a.udp, f.port);
    case 'icmp':
      return a.icmp;
    case 'other':
      return a.other;
  }
}

export function formatFlow(f: Flow): string {
  return f.port === undefined ? f.proto : `${f.proto}/${f.port}`;
}

function formatPorts(r: RangeSet): string {
  if (R.equal(r, ALL_PORTS)) return '*';
  return r.map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`)).join(',');
}

/** Compact text: `tcp/22,80,443 udp/53 icmp`, `any` for everything, `-` for nothing. */
export function formatFlowSet(a: FlowSet): string {
  if (flowEqual(a, ALL_FLOWS)) return 'any';
  const parts: string[] = [];
  if (a.tcp.length) parts.push(`tcp/${formatPorts(a.tcp)}`);
  if (a.udp.length) parts.push(`udp/${formatPorts(a.udp)}`);
  if (a.icmp) parts.push('icmp');
  if (a.other) parts.push('other');
  return parts.length ? parts.join(' ') : '-';
}

/** JSON form: stable and complete (ranges as [lo, hi] pairs). */
export interface FlowSetJson {
  tcp: [number, number][];
  udp: [number, number][];
  icmp: boolean;
  other: boolean;
}

export function flowSetToJson(a: FlowSet): FlowSetJson {
  return {
    tcp: a.tcp.map(([x, y]) => [x, y]),
    udp: a.udp.map(([x, y]) => [x, y]),
    icmp: a.icmp,
    other: a.other,
  };
}

export type PortSpecError = { error: string };

/**
 * Parses one port item as written in a spec: `tcp/80`, `udp/5000-5010`, `tcp/80,443`, `tcp`
 * (all tcp ports), `icmp`, `any`. Returns an error string naming what was expected.
 */
export function parsePortSpec(text: string): FlowSet | PortSpecError {
  const t = text.trim().toLowerCase();
  if (t === 'any' || t === 'all' || t === '*') return ALL_FLOWS;
  if (t === 'icmp') return { ...NO_FLOWS, icmp: true };
  if (t === 'other') return { ...NO_FLOWS, other: true };
  const m = /^(tcp|udp)(?:\/(.+))?$/.exec(t);
  if (!m) return { error: `"${text}" is not a port: expected tcp/PORT, udp/PORT, tcp/LO-HI, tcp, udp, icmp or any` };
  const proto = m[1] as 'tcp' | 'udp';
  let ports: RangeSet = ALL_PORTS;
  if (m[2] !== undefined) {
    const spans: [number, number][] = [];
    for (const part of m[2].split(',')) {
      const pm = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
      if (!pm) return { error: `"${part}" in "${text}" is not a port number or LO-HI range` };
      const lo = Number(pm[1]);
      const hi = pm[2] === undefined ? lo : Number(pm[2]);
      if (lo < 1 || lo > PORT_MAX || hi < 1 || hi > PORT_MAX) {
        return { error: `port ${lo > PORT_MAX || lo < 1 ? lo : hi} in "${text}" is out of range: ports run from 1 to 65535` };
      }
      if (hi < lo) return { error: `range ${lo}-${hi} in "${text}" runs backwards: write ${hi}-${lo}` };
      spans.push([lo, hi]);
    }
    ports = R.normalize(spans);
  }
  return proto === 'tcp' ? { ...NO_FLOWS, tcp: ports } : { ...NO_FLOWS, udp: ports };
}

export function isPortSpecError(x: FlowSet | PortSpecError): x is PortSpecError {
  return (x as PortSpecError).error !== undefined;
}
