/**
 * The random specs of the property tests (test/property.test.ts), shared with the random renderer
 * tests: one hypervisor on 1–3 networks (each nat, routed or isolated, with or without its
 * gateway), 1–5 more hosts (VMs, containers, a managed server, sometimes a WireGuard peer and a
 * vpn-only guest), random egress modes and firewall placement, 0–2 groups, 1–8 policy rules
 * whose targets mix hosts, services, networks, groups, overlapping CIDRs, `internet`, `lan` and
 * `any`, with overlapping port ranges; sometimes hand-written `firewalls:` chains.
 */
import fc from 'fast-check';
import { stringify } from 'yaml';

const PORT_ITEMS = [
  'tcp/22',
  'tcp/80',
  'tcp/443',
  'tcp/80,443',
  'tcp/1000-2000',
  'tcp/1500-2500',
  'tcp/8000-9000',
  'tcp/1-1023',
  'udp/53',
  'udp/5000-6000',
  'udp/5500-7000',
  'tcp',
  'udp',
  'icmp',
  'any',
];
const SERVICES: readonly (readonly [string, string])[] = [
  ['ssh', 'tcp/22'],
  ['web', 'tcp/80,443'],
  ['api', 'tcp/8080'],
  ['dns', 'udp/53'],
  ['jobs', 'tcp/1200-1800'],
];

interface GuestDraft {
  kind: 'vm' | 'container' | 'server';
  nets: number[];
  egress: 'filtered' | 'isolated' | 'open' | undefined;
  guestFw: boolean;
  localFw: boolean;
  antiSpoof: boolean;
  services: number[];
}

export interface SpecDraft {
  nets: { egress: 'none' | 'nat' | 'routed'; gateway: boolean; len: 24 | 25 }[];
  uplink: boolean;
  guests: GuestDraft[];
  tunnel: { peer: boolean; vpnOnly: boolean } | undefined;
  groups: number[][];
  rules: { deny: boolean; from: number[]; to: number[]; ports: string[] | undefined }[];
  firewalls: {
    point: number;
    policy: 'accept' | 'drop';
    rules: {
      action: 'accept' | 'drop';
      from: number | undefined;
      to: number | undefined;
      ports: string | undefined;
      iif: number | undefined;
      state: boolean;
    }[];
  }[];
}

const guestArb: fc.Arbitrary<GuestDraft> = fc.record({
  kind: fc.constantFrom('vm', 'vm', 'container', 'server'),
  nets: fc.uniqueArray(fc.nat(2), { minLength: 1, maxLength: 2 }),
  egress: fc.constantFrom(undefined, undefined, 'filtered', 'isolated', 'open'),
  guestFw: fc.boolean(),
  localFw: fc.boolean(),
  antiSpoof: fc.boolean(),
  services: fc.uniqueArray(fc.nat(SERVICES.length - 1), { maxLength: 2 }),
});

export const specArb: fc.Arbitrary<SpecDraft> = fc.record({
  nets: fc.array(fc.record({ egress: fc.constantFrom('none', 'nat', 'routed'), gateway: fc.boolean(), len: fc.constantFrom(24, 25) }), {
    minLength: 1,
    maxLength: 3,
  }),
  uplink: fc.boolean(),
  guests: fc.array(guestArb, { minLength: 1, maxLength: 5 }),
  tunnel: fc.option(fc.record({ peer: fc.boolean(), vpnOnly: fc.boolean() }), { nil: undefined }),
  groups: fc.array(fc.uniqueArray(fc.nat(40), { minLength: 1, maxLength: 3 }), { maxLength: 2 }),
  rules: fc.array(
    fc.record({
      deny: fc.boolean(),
      from: fc.uniqueArray(fc.nat(40), { minLength: 1, maxLength: 2 }),
      to: fc.uniqueArray(fc.nat(40), { minLength: 1, maxLength: 2 }),
      ports: fc.option(fc.uniqueArray(fc.constantFrom(...PORT_ITEMS), { minLength: 1, maxLength: 2 }), { nil: undefined }),
    }),
    { minLength: 1, maxLength: 8 },
  ),
  firewalls: fc.array(
    fc.record({
      point: fc.nat(20),
      policy: fc.constantFrom('accept', 'drop'),
      rules: fc.array(
        fc.record({
          action: fc.constantFrom('accept', 'drop'),
          from: fc.option(fc.nat(40), { nil: undefined }),
          to: fc.option(fc.nat(40), { nil: undefined }),
          ports: fc.option(fc.constantFrom(...PORT_ITEMS), { nil: undefined }),
          iif: fc.option(fc.nat(4), { nil: undefined }),
          state: fc.boolean(),
        }),
        { maxLength: 4 },
      ),
    }),
    { maxLength: 2 },
  ),
});

/** Builds the YAML text of a draft; every draft gives a spec that loads. */
export function draftToYaml(d: SpecDraft): string {
  const networks: Record<string, unknown> = {};
  const hv: Record<string, string> = {};
  d.nets.forEach((n, i) => {
    const base = `10.${i + 1}.0`;
    networks[`net${i}`] = { cidr: `${base}.0/${n.len}`, egress: n.egress, ...(n.gateway ? { gateway: `${base}.1` } : {}) };
    hv[`net${i}`] = `${base}.1`;
  });
  const hosts: Record<string, unknown> = {};
  const names: string[] = ['hv'];
  const services: string[] = ['hv.ssh'];
  const guestPoints: string[] = [];
  const localPoints: string[] = [];
  const tunnels: Record<string, unknown> = {};
  if (d.tunnel) {
    tunnels.wg0 = { server: 'hv', listen: 51820, cidr: '10.99.0.0/24' };
    hv.wg0 = '10.99.0.1';
  }
  hosts.hv = { kind: 'hypervisor', nics: hv, services: { ssh: 'tcp/22' }, ...(d.uplink ? { uplink: 'enp1s0' } : {}) };
  d.guests.forEach((g, k) => {
    const name = `g${k}`;
    const nics: Record<string, string> = {};
    const nets = [...new Set(g.nets.map((i) => i % d.nets.length))];
    for (const i of nets) nics[`net${i}`] = `10.${i + 1}.0.${10 + k}`;
    const spec: Record<string, unknown> = { kind: g.kind, nics };
    if (g.kind !== 'server') spec.id = 100 + k;
    if (g.egress) spec.egress = g.egress;
    const fw: Record<string, boolean> = {};
    if (g.guestFw && g.kind !== 'server') fw.guest = true;
    if (g.localFw) fw.local = true;
    if (!g.antiSpoof) fw.antiSpoof = false;
    if (Object.keys(fw).length) spec.firewall = fw;
    if (g.services.length) spec.services = Object.fromEntries(g.services.map((s) => SERVICES[s]!));
    for (const s of g.services) services.push(`${name}.${SERVICES[s]![0]}`);
    if (fw.guest) guestPoints.push(`${name}:guest-in`, `${name}:guest-out`);
    if (fw.local || g.kind === 'server') localPoints.push(`${name}:input`, `${name}:output`);
    hosts[name] = spec;
    names.push(name);
  });
  if (d.tunnel) {
    if (d.tunnel.peer) {
      hosts.laptop = { kind: 'peer', via: 'wg0', address: '10.99.0.2' };
      names.push('laptop');
    }
    const vm = d.tunnel.vpnOnly ? d.guests.findIndex((g) => g.kind === 'vm') : -1;
    if (vm >= 0) {
      const h = hosts[`g${vm}`] as { nics: Record<string, string>; egress?: string };
      h.nics.wg0 = `10.99.0.${20 + vm}`;
      h.egress = 'vpn-only';
    }
  }
  const refs: string[] = [
    ...names,
    ...services,
    ...d.nets.map((_, i) => `net${i}`),
    '10.1.0.0/24',
    '10.1.0.0/25',
    '10.1.0.128/26',
    '10.1.0.10',
    '10.2.0.0/16',
    '10.0.0.0/8',
    '198.51.100.0/24',
    '198.51.100.7',
    'internet',
    'lan',
    'any',
  ];
  const groups: Record<string, string[]> = {};
  d.groups.forEach((members, i) => {
    groups[`grp${i}`] = [...new Set(members.map((m) => refs[m % refs.length]!))];
  });
  refs.push(...Object.keys(groups));
  const ref = (i: number): string => refs[i % refs.length]!;
  const one = (xs: number[]): string | string[] => {
    const list = [...new Set(xs.map(ref))];
    return list.length === 1 ? list[0]! : list;
  };
  const policy = d.rules.map((r) => {
    const body: Record<string, unknown> = { from: one(r.from), to: one(r.to) };
    if (r.ports) body.ports = r.ports.length === 1 ? r.ports[0] : r.ports;
    return r.deny ? { deny: body } : { allow: body };
  });
  const points = ['hv:forward', 'hv:input', 'hv:output', ...guestPoints, ...localPoints];
  const ifnames = ['net0', 'net1', 'eth0', 'wg0', 'lo'];
  const firewalls: Record<string, unknown> = {};
  for (const f of d.firewalls) {
    const point = points[f.point % points.length]!;
    firewalls[point] = {
      policy: f.policy,
      rules: f.rules.map((r) => ({
        action: r.action,
        ...(r.from !== undefined ? { from: ref(r.from) } : {}),
        ...(r.to !== undefined ? { to: ref(r.to) } : {}),
        ...(r.ports !== undefined ? { ports: r.ports } : {}),
        ...(r.iif !== undefined ? { iif: ifnames[r.iif] } : {}),
        ...(r.state ? { state: 'established' } : {}),
      })),
    };
  }
  const doc: Record<string, unknown> = { version: 1, networks, hosts, policy };
  if (d.tunnel) doc.tunnels = tunnels;
  if (Object.keys(groups).length) doc.groups = groups;
  if (Object.keys(firewalls).length) doc.firewalls = firewalls;
  return stringify(doc);
}
