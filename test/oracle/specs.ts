/**
 * Random specs inside the reference's subset (see reference.ts): one hypervisor that bridges
 * 1–3 networks (nat, routed or none, with or without it as gateway), with or without an uplink,
 * and with any egress mode (a trusted host whose output is *not* open is what catches a compiler
 * that forgets its default policy); 1–5 guests and managed servers with random egress modes,
 * firewall placement and services; sometimes a WireGuard tunnel on the hypervisor, with or
 * without a roaming peer (any egress mode); 0–2 groups; 0–2 hand-written chains; 1–8 allow/deny rules whose targets mix hosts,
 * services, networks, groups, overlapping CIDRs (private, public, LAN), `internet`, `lan`, `any`,
 * with overlapping port ranges.
 */
import fc from 'fast-check';
import { stringify } from 'yaml';

export const PORT_ITEMS = [
  'tcp/22',
  'tcp/80',
  'tcp/443',
  'tcp/80,443',
  'tcp/1000-2000',
  'tcp/1500-2500',
  'tcp/1-1023',
  'udp/53',
  'udp/5000-6000',
  'tcp',
  'udp',
  'icmp',
  'any',
];
export const SERVICES: readonly (readonly [string, string])[] = [
  ['ssh', 'tcp/22'],
  ['web', 'tcp/80,443'],
  ['dns', 'udp/53'],
  ['jobs', 'tcp/1200-1800'],
];

export interface HostDraft {
  kind: 'vm' | 'container' | 'server';
  nets: number[];
  egress: 'filtered' | 'isolated' | 'open' | undefined;
  guestFw: boolean;
  localFw: boolean | undefined;
  antiSpoof: boolean;
  services: number[];
}

export interface SubsetDraft {
  nets: { egress: 'none' | 'nat' | 'routed'; gateway: boolean; len: 24 | 25 }[];
  uplink: boolean;
  hvEgress: 'open' | 'filtered' | 'isolated' | undefined;
  hosts: HostDraft[];
  tunnel: { peer: boolean; peerEgress: 'filtered' | 'isolated' | 'open' | undefined } | undefined;
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
      oif: number | undefined;
      state: boolean;
    }[];
  }[];
}

const hostArb: fc.Arbitrary<HostDraft> = fc.record({
  kind: fc.constantFrom('vm', 'vm', 'container', 'server'),
  nets: fc.uniqueArray(fc.nat(2), { minLength: 1, maxLength: 2 }),
  egress: fc.constantFrom(undefined, 'filtered', 'isolated', 'open'),
  guestFw: fc.boolean(),
  localFw: fc.constantFrom(undefined, true, false),
  antiSpoof: fc.boolean(),
  services: fc.uniqueArray(fc.nat(SERVICES.length - 1), { maxLength: 2 }),
});

export const subsetArb: fc.Arbitrary<SubsetDraft> = fc.record({
  nets: fc.array(fc.record({ egress: fc.constantFrom('none', 'nat', 'routed'), gateway: fc.boolean(), len: fc.constantFrom(24, 25) }), {
    minLength: 1,
    maxLength: 3,
  }),
  uplink: fc.boolean(),
  hvEgress: fc.constantFrom(undefined, 'open', 'filtered', 'isolated'),
  hosts: fc.array(hostArb, { minLength: 1, maxLength: 5 }),
  tunnel: fc.option(fc.record({ peer: fc.boolean(), peerEgress: fc.constantFrom(undefined, 'filtered', 'isolated', 'open') }), { nil: undefined }),
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
          iif: fc.option(fc.nat(7), { nil: undefined, freq: 2 }),
          oif: fc.option(fc.nat(7), { nil: undefined, freq: 3 }),
          state: fc.boolean(),
        }),
        { maxLength: 4 },
      ),
    }),
    { maxLength: 2 },
  ),
});

/** The YAML of a draft; every draft loads. */
export function subsetYaml(d: SubsetDraft): string {
  const networks: Record<string, unknown> = {};
  const hvNics: Record<string, string> = {};
  d.nets.forEach((n, i) => {
    const base = `10.${i + 1}.0`;
    networks[`net${i}`] = { cidr: `${base}.0/${n.len}`, egress: n.egress, ...(n.gateway ? { gateway: `${base}.1` } : {}) };
    hvNics[`net${i}`] = `${base}.1`;
  });
  const hosts: Record<string, unknown> = {
    hv: {
      kind: 'hypervisor',
      nics: hvNics,
      services: { ssh: 'tcp/22' },
      ...(d.uplink ? { uplink: 'enp1s0' } : {}),
      ...(d.hvEgress ? { egress: d.hvEgress } : {}),
    },
  };
  if (d.tunnel) hvNics.wg0 = '10.99.0.1';
  const names = ['hv'];
  const points = ['hv:forward', 'hv:input', 'hv:output'];
  const services = ['hv.ssh'];
  d.hosts.forEach((g, k) => {
    const name = `g${k}`;
    const nics: Record<string, string> = {};
    for (const i of [...new Set(g.nets.map((x) => x % d.nets.length))].sort()) nics[`net${i}`] = `10.${i + 1}.0.${10 + k}`;
    const spec: Record<string, unknown> = { kind: g.kind, nics };
    if (g.kind !== 'server') spec.id = 100 + k;
    if (g.egress) spec.egress = g.egress;
    const fw: Record<string, boolean> = {};
    if (g.guestFw && g.kind !== 'server') fw.guest = true;
    if (g.localFw !== undefined) fw.local = g.localFw;
    if (!g.antiSpoof) fw.antiSpoof = false;
    if (Object.keys(fw).length) spec.firewall = fw;
    if (g.services.length) spec.services = Object.fromEntries(g.services.map((s) => SERVICES[s]!));
    for (const s of g.services) services.push(`${name}.${SERVICES[s]![0]}`);
    hosts[name] = spec;
    names.push(name);
    if (fw.guest) points.push(`${name}:guest-in`, `${name}:guest-out`);
    if (fw.local || g.kind === 'server') points.push(`${name}:input`, `${name}:output`);
  });
  const extra: string[] = [];
  if (d.tunnel) {
    extra.push('wg0', '10.99.0.0/25');
    if (d.tunnel.peer) {
      hosts.laptop = { kind: 'peer', via: 'wg0', address: '10.99.0.2', ...(d.tunnel.peerEgress ? { egress: d.tunnel.peerEgress } : {}) };
      names.push('laptop');
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
    '192.168.1.0/24',
    '198.51.100.0/24',
    '198.51.100.7',
    'internet',
    'lan',
    'any',
    ...extra,
  ];
  const groups: Record<string, string[]> = {};
  d.groups.forEach((members, i) => {
    groups[`grp${i}`] = [...new Set(members.map((m) => refs[m % refs.length]!))];
  });
  refs.push(...Object.keys(groups));
  const one = (xs: number[]): string | string[] => {
    const list = [...new Set(xs.map((i) => refs[i % refs.length]!))];
    return list.length === 1 ? list[0]! : list;
  };
  const policy = d.rules.map((r) => {
    const body: Record<string, unknown> = { from: one(r.from), to: one(r.to) };
    if (r.ports) body.ports = r.ports.length === 1 ? r.ports[0] : r.ports;
    return r.deny ? { deny: body } : { allow: body };
  });
  const doc: Record<string, unknown> = { version: 1, networks, hosts, policy };
  if (Object.keys(groups).length) doc.groups = groups;
  if (d.tunnel) doc.tunnels = { wg0: { server: 'hv', listen: 51820, cidr: '10.99.0.0/24' } };
  // Hand-written chains, with interfaces as the hosts name them (bridges, the uplink, wg0, eth0, lo).
  const ifnames = ['net0', 'net1', 'net2', 'eth0', 'eth1', 'wg0', 'lo', d.uplink ? 'enp1s0' : 'uplink'];
  const firewalls: Record<string, unknown> = {};
  for (const f of d.firewalls) {
    firewalls[points[f.point % points.length]!] = {
      policy: f.policy,
      rules: f.rules.map((r) => ({
        action: r.action,
        ...(r.from !== undefined ? { from: refs[r.from % refs.length] } : {}),
        ...(r.to !== undefined ? { to: refs[r.to % refs.length] } : {}),
        ...(r.ports !== undefined ? { ports: r.ports } : {}),
        ...(r.iif !== undefined ? { iif: ifnames[r.iif] } : {}),
        ...(r.oif !== undefined ? { oif: ifnames[r.oif] } : {}),
        ...(r.state ? { state: 'established' } : {}),
      })),
    };
  }
  if (Object.keys(firewalls).length) doc.firewalls = firewalls;
  return stringify(doc);
}
