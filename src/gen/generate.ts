/**
 * Synthetic specs for benchmarks and property tests: `cordon gen --hosts N --rules M --seed S`.
 *
 * The output looks like a real lab grown large: a few Proxmox-style hypervisors, each owning its
 * own /12 of 10.0.0.0/8 with many bridges (mostly /24, some /22 to /16) and static routes to the
 * other hypervisors over a shared management segment; VMs and containers spread over the bridges,
 * some dual-homed; services on common ports; groups nested a little; and an ordered policy that
 * mixes host, service, group, network, CIDR, `internet`, `lan` and `any` targets with overlapping
 * prefixes, port ranges and some denies. Larger specs get a WireGuard tunnel with a few roaming
 * peers and a vpn-only guest.
 *
 * Pure and deterministic: the same options give the same text, byte for byte. Randomness comes
 * only from a seeded PRNG (no Math.random, no clock).
 */
import { Document, isMap, isPair, isScalar, isSeq, visit, type Node } from 'yaml';
import { formatIPv4 } from '../util/ip.js';

export interface GenOptions {
  /** Number of hosts, hypervisors and peers included (at least 1). */
  readonly hosts: number;
  /** Number of policy rules (at least 0). */
  readonly rules: number;
  /** Seed of the PRNG; any integer. */
  readonly seed: number;
}

/** Limits the CLI and the library both enforce. */
export const GEN_LIMITS = { maxHosts: 200_000, maxRules: 2_000_000 } as const;

/** Why `opts` cannot be generated, or undefined when they can. */
export function genOptionsError(opts: GenOptions): string | undefined {
  if (!Number.isInteger(opts.hosts) || opts.hosts < 1) return `hosts must be a whole number ≥ 1, got ${opts.hosts}`;
  if (opts.hosts > GEN_LIMITS.maxHosts) return `hosts must be at most ${GEN_LIMITS.maxHosts}, got ${opts.hosts}`;
  if (!Number.isInteger(opts.rules) || opts.rules < 0) return `rules must be a whole number ≥ 0, got ${opts.rules}`;
  if (opts.rules > GEN_LIMITS.maxRules) return `rules must be at most ${GEN_LIMITS.maxRules}, got ${opts.rules}`;
  if (!Number.isSafeInteger(opts.seed)) return `seed must be an integer, got ${opts.seed}`;
  return undefined;
}

/** A small, fast, seedable PRNG (sfc32, seeded through splitmix32). */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = (seed >>> 0) ^ Math.floor(seed / 0x100000000);
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 0x100000000;
  }

  /** Uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.float() * items.length)]!;
  }

  /** Picks by weight: `[[weight, value], …]`. */
  weighted<T>(table: readonly (readonly [number, T])[]): T {
    let total = 0;
    for (const [w] of table) total += w;
    let x = this.float() * total;
    for (const [w, v] of table) {
      if (x < w) return v;
      x -= w;
    }
    return table[table.length - 1]![1];
  }

  /** `n` distinct items (fewer when the list is shorter), in list order. */
  sample<T>(items: readonly T[], n: number): T[] {
    if (n >= items.length) return [...items];
    const chosen = new Set<number>();
    while (chosen.size < n) chosen.add(Math.floor(this.float() * items.length));
    return [...chosen].sort((x, y) => x - y).map((i) => items[i]!);
  }
}

/** Services guests offer, with realistic ports (single ports, lists and ranges). */
const SERVICE_CATALOG: readonly (readonly [string, string | string[]])[] = [
  ['ssh', 'tcp/22'],
  ['http', 'tcp/80'],
  ['https', 'tcp/443'],
  ['web', ['tcp/80', 'tcp/443']],
  ['api', 'tcp/8080'],
  ['ollama', 'tcp/11434'],
  ['vllm', 'tcp/8000'],
  ['postgres', 'tcp/5432'],
  ['redis', 'tcp/6379'],
  ['metrics', 'tcp/9100'],
  ['grafana', 'tcp/3000'],
  ['dns', ['udp/53', 'tcp/53']],
  ['ntp', 'udp/123'],
  ['jupyter', 'tcp/8888-8899'],
  ['rtp', 'udp/10000-10100'],
  ['mqtt', 'tcp/1883,8883'],
  ['grpc', 'tcp/50051'],
  ['s3', 'tcp/9000-9001'],
];

/** Port items for rules: mostly common ports, some lists and ranges, some whole protocols. */
const RULE_PORTS: readonly (readonly [number, string | string[]])[] = [
  [10, 'tcp/22'],
  [8, 'tcp/443'],
  [6, ['tcp/80', 'tcp/443']],
  [5, 'tcp/8080'],
  [4, 'tcp/11434'],
  [4, 'tcp/5432'],
  [3, 'udp/53'],
  [3, ['tcp/53', 'udp/53']],
  [3, 'icmp'],
  [3, 'tcp/1024-65535'],
  [3, 'tcp/8000-8999'],
  [2, 'tcp/3000-3100'],
  [2, 'udp/5000-5100'],
  [2, 'udp/10000-20000'],
  [2, ['tcp/22', 'tcp/80', 'tcp/443', 'icmp']],
  [2, 'tcp/9100'],
  [2, 'tcp/6379'],
  [1, 'tcp'],
  [1, 'udp'],
  [1, 'any'],
  [1, 'tcp/1-1023'],
  [1, 'udp/123'],
  [1, ['tcp/8443', 'tcp/9443']],
];

/** Public prefixes rules mention (documentation space and well-known resolvers). */
const PUBLIC_CIDRS = [
  '198.51.100.0/24',
  '203.0.113.0/24',
  '203.0.113.64/26',
  '192.0.2.0/24',
  '8.8.8.8',
  '1.1.1.1',
  '9.9.9.0/24',
  '104.16.0.0/13',
  '52.0.0.0/8',
];

interface GenNetwork {
  name: string;
  base: number;
  len: number;
  hyper: number;
  egress: 'none' | 'nat' | 'routed';
  next: number;
  hosts: string[];
}

interface GenHost {
  name: string;
  spec: Record<string, unknown>;
  services: string[];
  addresses: number[];
}

const MGMT_BASE = ((10 << 24) | (255 << 16) | (255 << 8)) >>> 0;
const WG_BASE = ((10 << 24) | (255 << 16) | (254 << 8)) >>> 0;

function cidr(base: number, len: number): string {
  return `${formatIPv4(base)}/${len}`;
}

/** Generates one spec as YAML text. Throws on options that genOptionsError rejects. */
export function generateSpec(opts: GenOptions): string {
  const bad = genOptionsError(opts);
  if (bad) throw new RangeError(bad);
  const rng = new Rng(opts.seed);
  const model = buildSpec(opts, rng);
  return toYaml(model, opts);
}

interface SpecParts {
  networks: GenNetwork[];
  hosts: GenHost[];
  tunnel: { peers: string[] } | undefined;
  groups: [string, string[]][];
  policy: Record<string, unknown>[];
}

function buildSpec(opts: GenOptions, rng: Rng): SpecParts {
  const nHyper = Math.max(1, Math.min(14, Math.round(opts.hosts / 2500)));
  const withTunnel = opts.hosts >= 20;
  const nPeers = withTunnel ? Math.max(2, Math.min(8, Math.floor(opts.hosts / 100))) : 0;
  const nVpnOnly = withTunnel ? 1 : 0;
  const nGuests = Math.max(0, opts.hosts - nHyper - nPeers);
  const nNets = Math.max(1, Math.ceil(nGuests / 30));

  // Networks: each hypervisor owns 10.(16k).0.0/12; bridges are cut from it in order.
  const networks: GenNetwork[] = [];
  const cursor = new Array<number>(nHyper).fill(0);
  for (let i = 0; i < nNets; i++) {
    const hyper = i % nHyper;
    const len = rng.weighted<number>([
      [80, 24],
      [7, 23],
      [6, 22],
      [5, 20],
      [2, 16],
    ]);
    const size = 2 ** (32 - len);
    const block = ((10 << 24) | ((16 * (hyper + 1)) << 16)) >>> 0;
    let off = cursor[hyper]!;
    off = Math.ceil(off / size) * size;
    if (off + size > 2 ** 20) throw new RangeError(`too many networks for hypervisor ${hyper + 1}: lower --hosts`);
    cursor[hyper] = off + size;
    const egress = rng.weighted<GenNetwork['egress']>([
      [50, 'nat'],
      [20, 'routed'],
      [30, 'none'],
    ]);
    networks.push({ name: `vmbr${i + 1}`, base: (block + off) >>> 0, len, hyper, egress, next: 2, hosts: [] });
  }

  const hosts: GenHost[] = [];
  const hyperNames = Array.from({ length: nHyper }, (_, k) => `pve${k + 1}`);
  // Hypervisors first: gateway (.1) of each of their bridges, a management address, an uplink.
  for (let k = 0; k < nHyper; k++) {
    const nics: Record<string, string> = {};
    const addresses: number[] = [];
    for (const n of networks) {
      if (n.hyper !== k) continue;
      nics[n.name] = formatIPv4(n.base + 1);
      addresses.push(n.base + 1);
    }
    if (nHyper > 1) {
      nics.mgmt = formatIPv4(MGMT_BASE + 10 + k);
      addresses.push(MGMT_BASE + 10 + k);
    }
    if (k === 0 && withTunnel) {
      nics.internet = '203.0.113.10';
      nics.wg0 = formatIPv4(WG_BASE + 1);
    }
    const spec: Record<string, unknown> = { kind: 'hypervisor', uplink: 'enp1s0', nics, services: { ssh: 'tcp/22', webui: 'tcp/8006' } };
    if (nHyper > 1) {
      spec.routes = hyperNames.flatMap((_, j) => (j === k ? [] : [{ to: `10.${16 * (j + 1)}.0.0/12`, via: formatIPv4(MGMT_BASE + 10 + j) }]));
    }
    hosts.push({ name: hyperNames[k]!, spec, services: ['ssh', 'webui'], addresses });
  }

  // Guests: spread over the bridges; a fifth are dual-homed on the next bridge of the same hypervisor.
  const usedNames = new Set(hosts.map((h) => h.name));
  const roles = ['agent', 'llm', 'db', 'web', 'cache', 'build', 'worker', 'gpu', 'ci', 'proxy', 'vault', 'mon'];
  for (let i = 0; i < nGuests; i++) {
    const kind = rng.chance(0.7) ? 'vm' : 'container';
    const role = rng.pick(roles);
    const name = `${role}-${i + 1}`;
    usedNames.add(name);
    const primary = rng.int(0, networks.length - 1);
    const nets = [networks[primary]!];
    if (rng.chance(0.2)) {
      const sameHyper = networks.filter((n) => n.hyper === networks[primary]!.hyper);
      const partner = sameHyper[(sameHyper.indexOf(networks[primary]!) + 1) % sameHyper.length]!;
      if (partner !== networks[primary]) nets.push(partner);
    }
    const nics: Record<string, string> = {};
    const addresses: number[] = [];
    for (const n of nets) {
      const capacity = 2 ** (32 - n.len) - 2;
      if (n.next >= capacity) continue;
      n.next += rng.chance(0.1) ? rng.int(1, 3) : 0;
      if (n.next >= capacity) n.next = capacity - 1;
      const a = n.base + n.next;
      n.next++;
      nics[n.name] = formatIPv4(a);
      addresses.push(a);
      n.hosts.push(name);
    }
    if (addresses.length === 0) continue;
    const services: Record<string, string | string[]> = {};
    const nSvc = rng.weighted<number>([
      [25, 0],
      [40, 1],
      [25, 2],
      [10, 3],
    ]);
    for (const [sname, ports] of rng.sample(SERVICE_CATALOG, nSvc)) services[sname] = ports;
    const spec: Record<string, unknown> = { kind, id: 100 + i, nics };
    if (nSvc > 0) spec.services = services;
    // Most guests are filtered; some isolated; a handful (whatever the size) open.
    const pOpen = Math.min(0.04, 8 / Math.max(1, nGuests));
    const egress = rng.weighted<string | undefined>([
      [0.88 - pOpen, undefined],
      [0.12, 'isolated'],
      [pOpen, 'open'],
    ]);
    if (egress) spec.egress = egress;
    // A few guests carry a per-guest (hypervisor-side) or an in-guest firewall. Each one compiles
    // the whole policy into its chains, so their number is capped to keep compile time realistic.
    if (i % 997 === 5) spec.firewall = { guest: true };
    else if (i % 1499 === 11) spec.firewall = { local: true };
    hosts.push({ name, spec, services: Object.keys(services), addresses });
  }

  let tunnel: SpecParts['tunnel'];
  if (withTunnel) {
    const peers: string[] = [];
    for (let p = 0; p < nPeers; p++) {
      const name = `laptop-${p + 1}`;
      hosts.push({ name, spec: { kind: 'peer', via: 'wg0', address: formatIPv4(WG_BASE + 10 + p) }, services: [], addresses: [WG_BASE + 10 + p] });
      peers.push(name);
    }
    // One guest routes everything through the tunnel (vpn-only), like seed 004's Mac VM.
    for (let v = 0; v < nVpnOnly; v++) {
      const g = hosts.find((h) => h.spec.kind === 'vm' && !h.spec.egress && Object.keys(h.spec.nics as object).length === 1 && !h.spec.firewall);
      if (!g) break;
      (g.spec.nics as Record<string, string>).wg0 = formatIPv4(WG_BASE + 200 + v);
      g.spec.egress = 'vpn-only';
      g.addresses.push(WG_BASE + 200 + v);
      peers.push(g.name);
    }
    tunnel = { peers };
  }

  const guests = hosts.filter((h) => h.spec.kind === 'vm' || h.spec.kind === 'container');
  const withServices = hosts.filter((h) => h.services.length > 0);

  // Groups: role-based and random, a few including earlier groups (so no cycles).
  const groups: [string, string[]][] = [];
  const nGroups = guests.length === 0 ? 0 : Math.max(2, Math.round(opts.hosts / 25));
  for (let g = 0; g < nGroups; g++) {
    const members: string[] = [];
    const size = rng.weighted<number>([
      [50, rng.int(2, 6)],
      [35, rng.int(5, 15)],
      [15, rng.int(15, 40)],
    ]);
    for (const h of rng.sample(guests, size)) members.push(h.name);
    if (rng.chance(0.15) && withServices.length > 0) {
      const h = rng.pick(withServices);
      members.push(`${h.name}.${rng.pick(h.services)}`);
    }
    if (rng.chance(0.1)) members.push(rng.pick(networks).name);
    if (g > 0 && rng.chance(0.2)) members.push(groups[rng.int(0, g - 1)]![0]);
    groups.push([`g-${rng.pick(roles)}-${g + 1}`, [...new Set(members)]]);
  }

  const policy: Record<string, unknown>[] = [];
  const ref = new RefPicker(rng, networks, guests, withServices, groups, hosts, opts.rules);
  for (let r = 0; r < opts.rules; r++) policy.push(ref.rule());
  return { networks, hosts, tunnel, groups, policy };
}

/**
 * Policy rules, by kind. Real policies grow by specific rules (this host may use that service);
 * rules about whole networks and groups are written a few per network or group, and rules about
 * everything (`any`, `lan`, a /8../20 super-prefix) a handful in all. So the share of each kind
 * follows the topology, not the number of rules: a network gets about three rules, a group about
 * four, broad rules about eight; the rest are host and service rules, with CIDR, internet egress
 * and ingress rules mixed in. About one rule in eight is a deny.
 */
class RefPicker {
  private readonly weights: readonly (readonly [number, () => Record<string, unknown>])[];

  constructor(
    private readonly rng: Rng,
    private readonly networks: readonly GenNetwork[],
    private readonly guests: readonly GenHost[],
    private readonly withServices: readonly GenHost[],
    private readonly groups: readonly [string, string[]][],
    private readonly hosts: readonly GenHost[],
    rules: number,
  ) {
    const m = Math.max(1, rules);
    const pNet = Math.min(0.25, (3 * networks.length) / m);
    const pGroup = groups.length ? Math.min(0.25, (4 * groups.length) / m) : 0;
    const pBroad = Math.min(0.02, 8 / m);
    const rest = 1 - pNet - pGroup - pBroad;
    this.weights = [
      [pNet, () => this.networkRule()],
      [pGroup, () => this.groupRule()],
      [pBroad, () => this.broadRule()],
      [rest * 0.6, () => this.hostRule()],
      [rest * 0.14, () => this.cidrRule()],
      [rest * 0.18, () => ({ from: this.host(), to: 'internet', ports: this.ports() })],
      [rest * 0.08, () => ({ from: rng.chance(0.8) ? 'internet' : rng.pick(PUBLIC_CIDRS), to: this.serviceOrHost() })],
    ];
  }

  private ports(): string | string[] {
    return this.rng.weighted(RULE_PORTS);
  }

  /** A CIDR that overlaps the topology: a host address, a bridge, a sub-prefix, a public block. */
  private cidr(): string {
    const rng = this.rng;
    const net = rng.pick(this.networks);
    return rng.weighted<() => string>([
      [
        40,
        () => {
          const h = this.guests.length ? rng.pick(this.guests) : undefined;
          return h ? formatIPv4(rng.pick(h.addresses)) : cidr(net.base, net.len);
        },
      ],
      [20, () => cidr(net.base, net.len)],
      [
        25,
        () => {
          // A sub-prefix of a bridge: /25../29.
          const len = Math.max(net.len + 1, rng.int(25, 29));
          const count = 2 ** (len - net.len);
          return cidr(net.base + rng.int(0, count - 1) * 2 ** (32 - len), len);
        },
      ],
      [15, () => rng.pick(PUBLIC_CIDRS)],
    ])();
  }

  /** A super-prefix around some bridge: the hypervisor's /12, a /16, a /20, or all of 10/8. */
  private superPrefix(): string {
    const net = this.rng.pick(this.networks);
    const len = this.rng.pick([8, 12, 16, 20].filter((l) => l <= net.len));
    const mask = (0xffffffff << (32 - len)) >>> 0;
    return cidr((net.base & mask) >>> 0, len);
  }

  private host(): string {
    return this.guests.length ? this.rng.pick(this.guests).name : this.rng.pick(this.hosts).name;
  }

  private service(): string | undefined {
    if (this.withServices.length === 0) return undefined;
    const h = this.rng.pick(this.withServices);
    return `${h.name}.${this.rng.pick(h.services)}`;
  }

  private serviceOrHost(): string {
    return this.service() ?? this.host();
  }

  private group(): string {
    return this.groups.length ? this.rng.pick(this.groups)[0] : this.host();
  }

  private network(): string {
    return this.rng.pick(this.networks).name;
  }

  /** A host (sometimes two) to a service, a host or a few services; explicit ports mostly where no service says them. */
  private hostRule(): Record<string, unknown> {
    const rng = this.rng;
    const from = rng.chance(0.1) ? [...new Set([this.host(), this.host()])] : this.host();
    if (rng.chance(0.75)) {
      const s = this.serviceOrHost();
      const to = rng.chance(0.1) ? [...new Set([s, this.serviceOrHost()])] : s;
      return rng.chance(0.15) ? { from, to, ports: this.ports() } : { from, to };
    }
    return { from, to: this.host(), ports: this.ports() };
  }

  private networkRule(): Record<string, unknown> {
    const rng = this.rng;
    if (rng.chance(0.5)) {
      const to = rng.weighted<() => string>([
        [3, () => this.serviceOrHost()],
        [2, () => 'internet'],
        [1, () => this.network()],
        [1, () => this.group()],
      ])();
      return { from: this.network(), to, ports: this.ports() };
    }
    const from = rng.weighted<() => string | string[]>([
      [3, () => this.host()],
      [2, () => this.group()],
      [1, () => this.network()],
      [1, () => [this.network(), this.host()]],
    ])();
    return { from, to: this.network(), ports: this.ports() };
  }

  private groupRule(): Record<string, unknown> {
    const rng = this.rng;
    return rng.weighted<() => Record<string, unknown>>([
      [4, () => ({ from: this.group(), to: this.serviceOrHost() })],
      [2, () => ({ from: this.group(), to: this.group(), ports: this.ports() })],
      [2, () => ({ from: this.group(), to: 'internet', ports: this.ports() })],
      [2, () => ({ from: rng.chance(0.5) ? this.host() : [this.host(), this.cidr()], to: this.group(), ports: this.ports() })],
    ])();
  }

  private cidrRule(): Record<string, unknown> {
    const rng = this.rng;
    if (rng.chance(0.5)) return { from: this.cidr(), to: this.serviceOrHost(), ...(rng.chance(0.5) ? { ports: this.ports() } : {}) };
    return { from: rng.chance(0.7) ? this.host() : this.group(), to: this.cidr(), ports: this.ports() };
  }

  /** Rules about (nearly) everything: monitoring, backups, a resolver, a legacy allow-all to one service. */
  private broadRule(): Record<string, unknown> {
    const rng = this.rng;
    return rng.weighted<() => Record<string, unknown>>([
      [1, () => ({ from: this.host(), to: rng.pick(['any', 'lan', this.superPrefix()]), ports: this.ports() })],
      [1, () => ({ from: rng.pick(['any', 'lan', this.superPrefix()]), to: this.serviceOrHost() })],
    ])();
  }

  rule(): Record<string, unknown> {
    const rng = this.rng;
    const body = rng.weighted(this.weights)();
    const deny = rng.chance(0.12);
    if (deny && rng.chance(0.5)) body.log = true;
    return deny ? { deny: body } : { allow: body };
  }
}

function toYaml(p: SpecParts, opts: GenOptions): string {
  const networks: Record<string, unknown> = {};
  for (const n of p.networks) {
    const net: Record<string, unknown> = { cidr: cidr(n.base, n.len), gateway: formatIPv4(n.base + 1), egress: n.egress };
    networks[n.name] = net;
  }
  if (p.hosts.filter((h) => h.spec.kind === 'hypervisor').length > 1) {
    networks.mgmt = { cidr: cidr(MGMT_BASE, 24), egress: 'none', description: 'hypervisor management and routing between nodes' };
  }
  const hosts: Record<string, unknown> = {};
  for (const h of p.hosts) hosts[h.name] = h.spec;
  const doc: Record<string, unknown> = {
    version: 1,
    description: `synthetic spec: cordon gen --hosts ${opts.hosts} --rules ${opts.rules} --seed ${opts.seed}`,
    networks,
  };
  if (p.tunnel) doc.tunnels = { wg0: { server: 'pve1', listen: 51820, cidr: cidr(WG_BASE, 24) } };
  doc.hosts = hosts;
  if (p.groups.length) doc.groups = Object.fromEntries(p.groups);
  doc.policy = p.policy;
  const d = new Document(doc, { aliasDuplicateObjects: false });
  // Small mappings and lists on one line, as people write them: one line per network, tunnel,
  // group and rule; hosts keep one field per line with their nics and services inline.
  visit(d, {
    Map(_, node: Node, path) {
      if (!isMap(node)) return;
      const depth = collectionDepth(path);
      const section = sectionOf(path);
      if (depth >= 3 || (depth === 2 && (section === 'networks' || section === 'tunnels'))) node.flow = true;
    },
    Seq(_, node: Node, path) {
      if (!isSeq(node)) return;
      const depth = collectionDepth(path);
      if (depth >= 3 || (depth === 2 && sectionOf(path) === 'groups')) node.flow = true;
    },
  });
  return d.toString({ lineWidth: 0, flowCollectionPadding: true });
}

function collectionDepth(path: readonly unknown[]): number {
  let n = 0;
  for (const x of path) if (isMap(x) || isSeq(x)) n++;
  return n;
}

/** The top-level key (networks, hosts, policy…) a node sits under. */
function sectionOf(path: readonly unknown[]): string | undefined {
  for (const x of path) if (isPair(x) && isScalar(x.key)) return String(x.key.value);
  return undefined;
}
