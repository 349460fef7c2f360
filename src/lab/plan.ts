/**
 * model + IR → the lab as a list of steps (pure: no I/O, no clock, no randomness; keys and the
 * prefix come in as options). `cordon lab up --dry-run` prints exactly this; `exec.ts` runs it.
 *
 * What is built:
 *  - one network namespace per host, one per network nobody in the spec owns (its bridge lives
 *    there), `internet` (TEST-NET services, roaming peers, hosts placed on the internet) and
 *    `upstream` (the owner's LAN behind hosts' uplinks, and the way on to the internet);
 *  - a bridge per network in its owner's namespace, named as in the spec; a guest's nic is a veth
 *    pair: the spec's ifname (ens18) in the guest, the port (tap101i0) on the owner's bridge;
 *  - addresses, routes and sysctls that make packets go where src/ir/paths.ts says they go;
 *  - the nftables rule set rendered for every enforcing host (src/render/nftables), loaded as is;
 *  - bandwidth limits as the tc target renders them (src/render/tc), on the guests' ports in the
 *    owner's namespace;
 *  - masquerade where a network has `egress: nat`, from the rendered rule set (its NAT table), and
 *    the upstream's SNAT to one public address;
 *  - WireGuard tunnels with wireguard-go and generated keys; dnsmasq for the spec's `dns:` and
 *    public resolvers in the internet namespace; responders on every service port.
 *
 * A network with a physical port (`ports:`) gets the LAN beyond it: the upstream namespace plays
 * the LAN's router and its devices, joined to the owner's bridge by a veth whose bridge end is
 * named after the port (enp1s0), holding the routers hosts route through there and the LAN's
 * addresses in the network; it forwards tunnel endpoints the LAN's router forwards (lanEntry) and
 * NATs the rest of the network to the internet, as a home router does.
 *
 * The world outside the spec routes only what paths.ts lets in from the internet: hosts placed on
 * the internet, tunnel endpoints and `egress: routed` networks behind their gateway's uplink.
 * Links between a host and the world use 169.254.0.0/16, which no spec address can be.
 */
import type { Diagnostic } from '../diag/diagnostic.js';
import type { Ir } from '../ir/types.js';
import type { Host, Model, Network } from '../model/types.js';
import { dnsRenderer } from '../render/dns/index.js';
import { nftablesRenderer } from '../render/nftables/index.js';
import { guarded } from '../render/guard.js';
import { Emitter } from '../render/emit.js';
import { natTableHosts } from '../render/nat.js';
import { emitNat } from '../render/nftables/nat.js';
import { portLimits, shapingCommands } from '../render/tc/index.js';
import { ALL_FLOWS, type FlowSet } from '../util/flows.js';
import { formatCidr, formatIPv4, inRange, parseIPv4 } from '../util/ip.js';
import * as R from '../util/rangeset.js';
import type { WgKeyPair } from '../util/wgkey.js';
import type { RangeSet } from '../util/rangeset.js';
import { Engine } from '../verify/engine.js';
import { hostNamespace, internetNamespace, labTableName, networkNamespace, upstreamNamespace, wireguardKernelName } from '../model/names.js';
import { lanEntry, lanRouterAddress } from '../model/bridge-ports.js';

export const STAGES = ['namespaces', 'sysctls', 'links', 'addresses', 'firewalls', 'shaping', 'tunnels', 'tunnel-routes', 'services', 'handshakes'] as const;
export type Stage = (typeof STAGES)[number];

export interface WgPeer {
  readonly host: string;
  readonly publicKey: string;
  readonly allowedIps: readonly string[];
  /** `addr:port`; undefined = learnt from the peer's first packet. */
  readonly endpoint: string | undefined;
  readonly keepalive: number | undefined;
}

export type Step =
  | { readonly stage: 'namespaces'; readonly kind: 'netns'; readonly ns: string; readonly label: string }
  | { readonly stage: 'sysctls'; readonly kind: 'sysctl'; readonly ns: string; readonly key: string; readonly value: string; readonly optional: boolean }
  /** One ip(8) command line without the leading `ip`; ns undefined = run in the machine's namespace (only `link add … netns X` ever is). */
  | { readonly stage: 'links' | 'addresses' | 'tunnel-routes'; readonly kind: 'ip'; readonly ns: string | undefined; readonly cmd: string }
  | { readonly stage: 'firewalls'; readonly kind: 'nft'; readonly ns: string; readonly name: string; readonly ruleset: string }
  /** One tc or ip command of the tc target (src/render/tc), run with `-n ns` (a bandwidth limit on a guest's port). */
  | { readonly stage: 'shaping'; readonly kind: 'shape'; readonly ns: string; readonly argv: readonly string[]; readonly label: string }
  | {
      readonly stage: 'tunnels';
      readonly kind: 'wireguard';
      readonly ns: string;
      readonly host: string;
      readonly tunnel: string;
      readonly kernelName: string;
      readonly ifname: string;
      readonly privateKey: string;
      readonly listenPort: number | undefined;
      readonly fwmark: number | undefined;
      readonly peers: readonly WgPeer[];
    }
  | { readonly stage: 'services'; readonly kind: 'dnsmasq'; readonly ns: string; readonly name: string; readonly config: string }
  | { readonly stage: 'services'; readonly kind: 'listen'; readonly ns: string; readonly proto: 'tcp' | 'udp'; readonly port: number; readonly label: string }
  | {
      readonly stage: 'handshakes';
      readonly kind: 'handshake';
      readonly tunnel: string;
      readonly host: string;
      readonly ns: string;
      readonly kernelName: string;
      /** The member's public key, as the server lists it. */
      readonly publicKey: string;
      readonly serverKernelName: string;
      /** The server's tunnel address: sending anything there starts a handshake. */
      readonly serverAddr: string;
      readonly expectUp: boolean;
    };

export type NamespaceRole = 'host' | 'network' | 'internet' | 'upstream';

export interface LabNamespace {
  readonly name: string;
  readonly role: NamespaceRole;
  /** Host or network name; `internet` / `upstream` for the world. */
  readonly of: string;
}

/** One class of an address space (the static engine cannot tell its addresses apart) and the lab's addresses in it. */
export interface AddrClass {
  readonly lo: number;
  readonly hi: number;
  /** Addresses the lab owns in this class (at least one). */
  readonly addrs: readonly number[];
}

export interface LabService {
  readonly name: string;
  readonly addr: number;
  readonly proto: 'tcp' | 'udp';
  readonly port: number;
}

export interface LabTunnelEnd {
  readonly tunnel: string;
  readonly host: string;
  readonly ns: string;
  readonly kernelName: string;
  readonly ifname: string;
  readonly server: boolean;
  /** The host's address in the tunnel. */
  readonly addr: number;
}

export interface LabLayout {
  readonly hostNs: ReadonlyMap<string, string>;
  readonly internetNs: string;
  readonly upstreamNs: string;
  /** Which namespace answers on an address: hosts' nics, the internet's and the LAN's addresses. */
  readonly addrNs: ReadonlyMap<number, string>;
  /** The internet split into the classes the IR distinguishes, each with the lab's addresses in it. */
  readonly internetClasses: readonly AddrClass[];
  readonly lanClasses: readonly AddrClass[];
  readonly services: readonly LabService[];
  readonly tunnels: readonly LabTunnelEnd[];
  /** The public address the upstream's NAT gives traffic from hosts' uplinks (as paths.ts assumes). */
  readonly natAddress: number;
  /** Roaming peers' addresses on the internet. */
  readonly peerUnderlay: ReadonlyMap<string, number>;
  /** Public addresses of port forwards: the forwarding host's uplink address → the host. */
  readonly published: ReadonlyMap<number, string>;
}

export interface LabPlan {
  readonly prefix: string;
  readonly file: string;
  readonly hash: string;
  readonly namespaces: readonly LabNamespace[];
  readonly steps: readonly Step[];
  readonly layout: LabLayout;
  /** Where the lab had to approximate the spec, in words. */
  readonly notes: readonly string[];
  /** What the lab cannot build (e.g. a kernel name that does not fit); `buildLab` refuses a plan with any. */
  readonly diagnostics: readonly Diagnostic[];
}

export interface PlanOptions {
  readonly prefix: string;
  /** A WireGuard key pair for a host's end of a tunnel (the lab never uses real keys). */
  readonly keys: (host: string, tunnel: string) => WgKeyPair;
}

/** Address of the world's side of every host link; the host's default route points at it. */
export const WORLD_GW = parseIPv4('169.254.0.1')!;
const UPSTREAM_SIDE = parseIPv4('169.254.0.2')!;
/** The internet's side of its link to the upstream (the upstream itself holds WORLD_GW toward hosts). */
const INTERNET_SIDE = parseIPv4('169.254.0.3')!;
const LINK_BASE = parseIPv4('169.254.1.0')!;
/** fwmark of WireGuard's own UDP transport in tunnel members, so it follows the underlay routes. */
export const WG_FWMARK = 0xc1ab;
/** Routing table for tunnel routes in tunnel members. */
export const WG_TABLE = 51820;
/** Fixed services on the internet: resolvers and a web server, where the spec leaves them public. */
const INTERNET_SERVICES: readonly { name: string; addr: string; ports: readonly ['tcp' | 'udp', number][] }[] = [
  {
    name: 'dns (8.8.8.8)',
    addr: '8.8.8.8',
    ports: [
      ['udp', 53],
      ['tcp', 53],
    ],
  },
  {
    name: 'dns (1.1.1.1)',
    addr: '1.1.1.1',
    ports: [
      ['udp', 53],
      ['tcp', 53],
    ],
  },
  {
    name: 'web',
    addr: '198.51.100.80',
    ports: [
      ['tcp', 80],
      ['tcp', 443],
    ],
  },
  {
    name: 'dns (TEST-NET)',
    addr: '192.0.2.53',
    ports: [
      ['udp', 53],
      ['tcp', 53],
    ],
  },
  { name: 'generic responder', addr: '203.0.113.200', ports: [] },
];
/** Ports the generic responders in the internet and upstream namespaces always answer on. */
const GENERIC_TCP = [22, 80, 443, 8080];
const GENERIC_UDP = [123];

function linkAddress(k: number): number {
  return LINK_BASE + Math.floor(k / 250) * 256 + (k % 250) + 2;
}

function sorted<T>(items: Iterable<T>, key: (x: T) => string): T[] {
  return [...items].sort((a, b) => key(a).localeCompare(key(b)));
}

/** The interface names a host uses to leave toward the world. */
interface Uplink {
  readonly host: Host;
  readonly ifname: string;
  /** `internet`: the host's own internet nic; `upstream`: a link into the upstream namespace. */
  readonly kind: 'internet' | 'upstream';
  /** The host's address on the link. */
  readonly address: number;
  /** The world namespace's interface name. */
  readonly worldIf: string;
}

export function planLab(ir: Ir, opts: PlanOptions): LabPlan {
  return new Planner(ir, opts).plan();
}

class Planner {
  private readonly model: Model;
  private readonly steps: Step[] = [];
  private readonly notes: string[] = [];
  private readonly diagnostics: Diagnostic[] = [];
  private readonly namespaces: LabNamespace[] = [];
  private readonly hostNs = new Map<string, string>();
  private readonly addrNs = new Map<number, string>();
  private readonly inet: string;
  private readonly up: string;
  private readonly uplinks: Uplink[] = [];
  private readonly hosts: Host[];
  /** LAN addresses that fall in a bridged network: they go on the upstream's leg into its bridge. */
  private readonly lanOnBridges: number[] = [];

  constructor(
    private readonly ir: Ir,
    private readonly opts: PlanOptions,
  ) {
    this.model = ir.model;
    this.inet = internetNamespace(opts.prefix);
    this.up = upstreamNamespace(opts.prefix);
    this.hosts = sorted(this.model.hosts.values(), (h) => h.name);
  }

  private macs = 0;

  /** A fresh locally administered MAC: every lab interface gets one, so neighbours can be written down. */
  private mac(): string {
    const n = ++this.macs;
    return `02:c0:${[n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
  }

  /** A veth pair created directly inside its two namespaces, with fixed MACs; returns them. */
  private veth(aName: string, aNs: string, bName: string, bNs: string): { a: string; b: string } {
    const a = this.mac();
    const b = this.mac();
    this.ip('links', undefined, `link add ${aName} address ${a} netns ${aNs} type veth peer name ${bName} address ${b} netns ${bNs}`);
    return { a, b };
  }

  /**
   * A permanent neighbour entry. The kernel's ARP table is ONE table for every namespace on the
   * machine, with gc_thresh3 = 1024 dynamic entries in all; a 100-host lab resolving its
   * neighbours overflowed it ("neighbor table overflow") and lost packets. Permanent entries do
   * not count against that limit, and the lab knows every MAC it assigned.
   */
  private neigh(ns: string, addr: number, mac: string, dev: string): void {
    this.ip('addresses', ns, `neigh replace ${formatIPv4(addr)} lladdr ${mac} dev ${dev} nud permanent`);
  }

  private ip(stage: 'links' | 'addresses' | 'tunnel-routes', ns: string | undefined, cmd: string): void {
    this.steps.push({ stage, kind: 'ip', ns, cmd });
  }

  private sysctl(ns: string, key: string, value: string | number, optional = false): void {
    this.steps.push({ stage: 'sysctls', kind: 'sysctl', ns, key, value: String(value), optional });
  }

  plan(): LabPlan {
    const p = this.opts.prefix;
    // Namespaces.
    for (const h of this.hosts) {
      const ns = hostNamespace(p, h.name);
      this.hostNs.set(h.name, ns);
      this.namespaces.push({ name: ns, role: 'host', of: h.name });
    }
    const netNs = new Map<string, string>();
    for (const n of sorted(this.model.networks.values(), (x) => x.name)) {
      if (n.owner !== undefined) continue;
      const ns = networkNamespace(p, n.name);
      netNs.set(n.name, ns);
      this.namespaces.push({ name: ns, role: 'network', of: n.name });
    }
    this.namespaces.push({ name: this.inet, role: 'internet', of: 'internet' }, { name: this.up, role: 'upstream', of: 'upstream' });
    for (const ns of this.namespaces) this.steps.push({ stage: 'namespaces', kind: 'netns', ns: ns.name, label: `${ns.role} ${ns.of}` });

    // Sysctls first, so every interface created afterwards inherits the defaults.
    const owners = new Set([...this.model.networks.values()].flatMap((n) => (n.owner ? [n.owner] : [])));
    for (const ns of this.namespaces) {
      const h = ns.role === 'host' ? this.model.hosts.get(ns.of)! : undefined;
      this.sysctl(ns.name, 'net.ipv6.conf.all.disable_ipv6', 1);
      this.sysctl(ns.name, 'net.ipv6.conf.default.disable_ipv6', 1);
      this.sysctl(ns.name, 'net.ipv4.conf.all.rp_filter', 0);
      this.sysctl(ns.name, 'net.ipv4.conf.default.rp_filter', 0);
      this.sysctl(ns.name, 'net.ipv4.icmp_ratelimit', 0);
      this.sysctl(ns.name, 'net.ipv4.icmp_msgs_per_sec', 100000, true);
      this.sysctl(ns.name, 'net.ipv4.icmp_msgs_burst', 100000, true);
      // Probes bind their own source ports below 61000; the kernel's choices stay above.
      this.sysctl(ns.name, 'net.ipv4.ip_local_port_range', '61000 65000');
      const forward = ns.role === 'internet' || ns.role === 'upstream' || (h?.forward ?? false);
      this.sysctl(ns.name, 'net.ipv4.ip_forward', forward ? 1 : 0);
      if (ns.role === 'network') this.sysctl(ns.name, 'net.bridge.bridge-nf-call-iptables', 0, true);
      // A bridge owner filters bridged guest traffic in its inet forward hook (DESIGN.md, br_netfilter).
      if (h && owners.has(h.name)) this.sysctl(ns.name, 'net.bridge.bridge-nf-call-iptables', 1);
    }

    for (const ns of this.namespaces) this.ip('addresses', ns.name, 'link set lo up');
    this.planUplinks();
    const layoutWorld = this.planWorld();
    this.planNetworks(netNs);
    this.planHostRoutes();
    this.planFirewalls();
    this.planShaping();
    const tunnels = this.planTunnels(layoutWorld.peerUnderlay);
    this.planServices(layoutWorld.services);

    const layout: LabLayout = {
      hostNs: this.hostNs,
      internetNs: this.inet,
      upstreamNs: this.up,
      addrNs: this.addrNs,
      internetClasses: layoutWorld.internetClasses,
      lanClasses: layoutWorld.lanClasses,
      services: layoutWorld.services,
      tunnels,
      natAddress: layoutWorld.natAddress,
      published: layoutWorld.published,
      peerUnderlay: layoutWorld.peerUnderlay,
    };
    const order = new Map(STAGES.map((s, i) => [s, i]));
    const steps = this.steps
      .map((s, i) => ({ s, i }))
      .sort((a, b) => order.get(a.s.stage)! - order.get(b.s.stage)! || a.i - b.i)
      .map((x) => x.s);
    return {
      prefix: p,
      file: this.model.file,
      hash: this.model.hash,
      namespaces: this.namespaces,
      steps,
      layout,
      notes: this.notes,
      diagnostics: this.diagnostics,
    };
  }

  /** Interfaces by which hosts reach the world, in host order. */
  private planUplinks(): void {
    let k = 0;
    let i = 0;
    for (const h of this.hosts) {
      const ns = this.hostNs.get(h.name)!;
      for (const nic of h.nics) {
        if (nic.segment !== 'internet') continue;
        const worldIf = `i${i++}`;
        this.uplinks.push({ host: h, ifname: nic.ifname, kind: 'internet', address: nic.address, worldIf });
        this.addrNs.set(nic.address, ns);
      }
      const names = new Set<string>();
      if (h.uplink) names.add(h.uplink);
      if (h.defaultRoute.kind === 'uplink') names.add(h.defaultRoute.ifname);
      for (const ifname of sorted(names, (x) => x)) {
        if (h.nics.some((n) => n.segment === 'internet' && n.ifname === ifname)) continue;
        this.uplinks.push({ host: h, ifname, kind: 'upstream', address: linkAddress(k++), worldIf: `u${k - 1}` });
      }
    }
    let table = 100;
    for (const u of this.uplinks) {
      const hns = this.hostNs.get(u.host.name)!;
      const wns = u.kind === 'internet' ? this.inet : this.up;
      const m = this.veth(u.worldIf, wns, u.ifname, hns);
      this.ip('addresses', hns, `addr add ${formatIPv4(u.address)}/32 dev ${u.ifname}`);
      this.neigh(hns, WORLD_GW, m.a, u.ifname);
      this.neigh(wns, u.address, m.b, u.worldIf);
      this.ip('addresses', hns, `link set ${u.ifname} up`);
      const d = u.host.defaultRoute;
      if (u.kind === 'internet' && !(d.kind === 'uplink' && d.ifname === u.ifname)) {
        // A public address that is not on the default route still answers from where it was
        // reached (a WireGuard server replies from its endpoint and the interface it came in on).
        // Connected networks and the spec's routes still win (suppress_prefixlength 0).
        this.ip('addresses', hns, `route add default via ${formatIPv4(WORLD_GW)} dev ${u.ifname} onlink table ${table}`);
        if (table === 100) this.ip('addresses', hns, 'rule add lookup main suppress_prefixlength 0 priority 80');
        this.ip('addresses', hns, `rule add from ${formatIPv4(u.address)} lookup ${table} priority 90`);
        table++;
      }
      this.ip('addresses', wns, `addr add ${formatIPv4(WORLD_GW)}/32 dev ${u.worldIf}`);
      this.ip('addresses', wns, `link set ${u.worldIf} up`);
      this.ip('addresses', wns, `route add ${formatIPv4(u.address)}/32 dev ${u.worldIf}`);
    }
  }

  /** The uplink by which the world reaches `h` (paths.ts: `uplink ?? default route's uplink`). */
  private worldEntry(h: Host): Uplink | undefined {
    const name = h.uplink ?? (h.defaultRoute.kind === 'uplink' ? h.defaultRoute.ifname : undefined);
    return name === undefined ? undefined : this.uplinks.find((u) => u.host === h && u.ifname === name);
  }

  private planWorld(): {
    internetClasses: AddrClass[];
    lanClasses: AddrClass[];
    services: LabService[];
    natAddress: number;
    published: ReadonlyMap<number, string>;
    peerUnderlay: Map<string, number>;
  } {
    const m = this.model;
    // The upstream NATs hosts' link addresses to the address paths.ts gives uplink traffic.
    const natAddress = m.internet[0]?.[0] ?? 0;
    const reserved = new Set<number>([natAddress]);
    for (const h of this.hosts) for (const n of h.nics) reserved.add(n.address);
    // Roaming peers sit on the internet at TEST-NET addresses.
    const peerUnderlay = new Map<string, number>();
    let cand = parseIPv4('192.0.2.100')!;
    for (const h of this.hosts) {
      if (!h.roaming) continue;
      while (reserved.has(cand) || !R.contains(m.internet, cand)) cand++;
      peerUnderlay.set(h.name, cand);
      reserved.add(cand);
    }
    // Fixed services where the spec leaves their address on the internet.
    const services: LabService[] = [];
    const owned: number[] = [];
    for (const s of INTERNET_SERVICES) {
      const a = parseIPv4(s.addr)!;
      if (!R.contains(m.internet, a) || reserved.has(a)) continue;
      owned.push(a);
      for (const [proto, port] of s.ports) services.push({ name: s.name, addr: a, proto, port });
    }
    // Addresses the expectations name and one address per class of the space.
    const cuts: number[] = [];
    for (const c of this.ir.chains.values()) {
      for (const r of c.rules) for (const set of [r.match.src, r.match.dst]) if (set) for (const [lo, hi] of set) cuts.push(lo, hi + 1);
    }
    const wanted: number[] = [];
    for (const e of m.expectations) for (const t of [e.from, e.to]) if (t.kind === 'cidr' && t.range.lo === t.range.hi) wanted.push(t.range.lo);
    const internetClasses = classes(m.internet, cuts, [...owned, ...wanted.filter((a) => !reserved.has(a))], reserved);
    const lanClasses = classes(
      m.lan,
      cuts,
      wanted.filter((a) => !reserved.has(a)),
      reserved,
    );
    const inetAddrs = [...new Set([...owned, ...internetClasses.flatMap((c) => c.addrs)])].sort((a, b) => a - b);
    const lanAddrs = [...new Set(lanClasses.flatMap((c) => c.addrs))].sort((a, b) => a - b);
    for (const a of inetAddrs) {
      this.addrNs.set(a, this.inet);
      this.ip('addresses', this.inet, `addr add ${formatIPv4(a)}/32 dev lo`);
    }
    for (const a of lanAddrs) {
      this.addrNs.set(a, this.up);
      // An address of a bridged network lives on the upstream's leg into that bridge (planLanPorts).
      if (this.bridgedNets().some((n) => inRange(a, n.range))) this.lanOnBridges.push(a);
      else this.ip('addresses', this.up, `addr add ${formatIPv4(a)}/32 dev lo`);
    }
    // upstream ↔ internet.
    const wm = this.veth('world', this.up, 'upstream', this.inet);
    this.neigh(this.up, INTERNET_SIDE, wm.b, 'world');
    this.neigh(this.inet, UPSTREAM_SIDE, wm.a, 'upstream');
    this.ip('addresses', this.up, `addr add ${formatIPv4(UPSTREAM_SIDE)}/32 dev world`);
    this.ip('addresses', this.up, 'link set world up');
    this.ip('addresses', this.up, `route add default via ${formatIPv4(INTERNET_SIDE)} dev world onlink`);
    this.ip('addresses', this.inet, `addr add ${formatIPv4(INTERNET_SIDE)}/32 dev upstream`);
    this.ip('addresses', this.inet, 'link set upstream up');
    this.ip('addresses', this.inet, `route add ${formatIPv4(UPSTREAM_SIDE)}/32 dev upstream`);
    if (natAddress) this.ip('addresses', this.inet, `route add ${formatIPv4(natAddress)}/32 via ${formatIPv4(UPSTREAM_SIDE)} dev upstream onlink`);
    // Roaming peers' underlay.
    let pk = 0;
    for (const [host, addr] of sorted(peerUnderlay, ([h]) => h)) {
      const hns = this.hostNs.get(host)!;
      const wif = `p${pk++}`;
      const pm = this.veth(wif, this.inet, 'eth0', hns);
      this.ip('addresses', hns, `addr add ${formatIPv4(addr)}/32 dev eth0`);
      this.neigh(hns, WORLD_GW, pm.a, 'eth0');
      this.neigh(this.inet, addr, pm.b, wif);
      this.ip('addresses', hns, 'link set eth0 up');
      this.ip('addresses', hns, `route add default via ${formatIPv4(WORLD_GW)} dev eth0 onlink`);
      this.ip('addresses', this.inet, `addr add ${formatIPv4(WORLD_GW)}/32 dev ${wif}`);
      this.ip('addresses', this.inet, `link set ${wif} up`);
      this.ip('addresses', this.inet, `route add ${formatIPv4(addr)}/32 dev ${wif}`);
    }
    // What the world routes in (paths.ts fromZone): tunnel endpoints and routed networks, through
    // the uplink of the host holding them. Hosts placed on the internet were routed above.
    const routed: { cidr: string; host: Host }[] = [];
    const published = new Map<number, string>();
    const lanEndpoints: number[] = [];
    for (const t of sorted(this.model.tunnels.values(), (x) => x.name)) {
      const server = this.model.hosts.get(t.server);
      if (!server || server.nics.some((n) => n.segment === 'internet' && n.address === t.endpoint)) continue;
      if (!this.worldEntry(server) && lanEntry(this.model, server, t.endpoint)) {
        // The LAN's router (the upstream) forwards the endpoint into the bridge (paths.ts fromZone).
        lanEndpoints.push(t.endpoint);
        this.ip('addresses', this.inet, `route add ${formatIPv4(t.endpoint)}/32 via ${formatIPv4(UPSTREAM_SIDE)} dev upstream onlink`);
        continue;
      }
      routed.push({ cidr: `${formatIPv4(t.endpoint)}/32`, host: server });
    }
    for (const n of sorted(this.model.networks.values(), (x) => x.name)) {
      if (n.egress !== 'routed' || n.gateway === undefined) continue;
      const gw = this.hosts.find((h) => h.nics.some((x) => x.address === n.gateway));
      if (gw) routed.push({ cidr: formatCidr(n.cidr), host: gw });
    }
    // Port forwards (paths.ts fromZone): the world reaches a forwarded guest's address through the
    // forwarding host, as it reaches a routed network, so a probe to the guest's own address meets
    // the same forward chain; and the host's uplink address, the forward's public address here.
    for (const f of this.model.forwards) {
      const via = this.model.hosts.get(f.via)!;
      const cidr = `${formatIPv4(f.address)}/32`;
      const inRouted = [...this.model.networks.values()].some((n) => n.egress === 'routed' && n.gateway !== undefined && inRange(f.address, n.range));
      if (!inRouted && !routed.some((r) => r.cidr === cidr)) routed.push({ cidr, host: via });
      const entry = this.worldEntry(via);
      if (entry?.kind === 'upstream' && !published.has(entry.address)) {
        published.set(entry.address, via.name);
        this.ip('addresses', this.inet, `route add ${formatIPv4(entry.address)}/32 via ${formatIPv4(UPSTREAM_SIDE)} dev upstream onlink`);
      } else if (entry) published.set(entry.address, via.name);
    }
    for (const r of routed) {
      const entry = this.worldEntry(r.host);
      if (!entry) continue;
      if (entry.kind === 'internet') {
        this.ip('addresses', this.inet, `route add ${r.cidr} via ${formatIPv4(entry.address)} dev ${entry.worldIf} onlink`);
      } else {
        this.ip('addresses', this.up, `route add ${r.cidr} via ${formatIPv4(entry.address)} dev ${entry.worldIf} onlink`);
        this.ip('addresses', this.inet, `route add ${r.cidr} via ${formatIPv4(UPSTREAM_SIDE)} dev upstream onlink`);
      }
    }
    // The upstream gives hosts' link addresses one public address on the way out, as paths.ts does.
    if (natAddress) {
      this.steps.push({
        stage: 'firewalls',
        kind: 'nft',
        ns: this.up,
        name: 'upstream NAT',
        ruleset: [
          `table ip ${labTableName(this.opts.prefix, 'upstream')} {`,
          '\tchain postrouting {',
          '\t\ttype nat hook postrouting priority srcnat; policy accept;',
          `\t\toifname "world" ip saddr 169.254.0.0/16 snat to ${formatIPv4(natAddress)}`,
          // A bridged network's hosts reach the internet through the LAN's router, which NATs them
          // (a home router), except the endpoints it forwards in, which answer from their own address.
          ...this.bridgedNets().map((n) => {
            const keep = lanEndpoints.filter((a) => inRange(a, n.range)).map(formatIPv4);
            const except = keep.length === 0 ? '' : ` ip saddr != ${keep.length === 1 ? keep[0] : `{ ${keep.join(', ')} }`}`;
            return `\t\toifname "world" ip saddr ${formatCidr(n.cidr)}${except} snat to ${formatIPv4(natAddress)}`;
          }),
          '\t}',
          '}',
          '',
        ].join('\n'),
      });
    }
    return { internetClasses, lanClasses, services, natAddress, peerUnderlay, published };
  }

  /** Bridges, veth pairs and addresses on every network; every member knows every other's MAC. */
  /** The tc target's commands for every limited port, in the namespace of the port's owner. */
  private planShaping(): void {
    for (const l of portLimits(this.model)) {
      const ns = this.hostNs.get(l.owner)!;
      for (const argv of shapingCommands(l)) this.steps.push({ stage: 'shaping', kind: 'shape', ns, argv, label: `${l.host}'s port ${l.port}` });
    }
  }

  private planNetworks(netNs: Map<string, string>): void {
    let lanIndex = 0;
    for (const n of sorted(this.model.networks.values(), (x) => x.name)) {
      const bridgeNs = n.owner !== undefined ? this.hostNs.get(n.owner)! : netNs.get(n.name)!;
      const bridgeMac = this.mac();
      this.ip('links', undefined, `link add ${n.bridge} address ${bridgeMac} netns ${bridgeNs} type bridge`);
      this.ip('addresses', bridgeNs, `link set ${n.bridge} up`);
      const members: { ns: string; dev: string; addr: number; mac: string }[] = [];
      let pk = 0;
      for (const h of this.hosts) {
        const hns = this.hostNs.get(h.name)!;
        for (const nic of h.nics) {
          if (nic.segment !== n.name) continue;
          this.addrNs.set(nic.address, hns);
          const addr = `${formatIPv4(nic.address)}/${n.cidr.len}`;
          if (n.owner === h.name) {
            if (nic.ifname !== n.bridge)
              this.notes.push(`${h.name}'s interface on ${n.name} is called ${nic.ifname}; the lab names it after the bridge, ${n.bridge}`);
            this.ip('addresses', hns, `addr add ${addr} dev ${n.bridge}`);
            members.push({ ns: hns, dev: n.bridge, addr: nic.address, mac: bridgeMac });
            continue;
          }
          const port = nic.port ?? `p${pk++}`;
          const m = this.veth(port, bridgeNs, nic.ifname, hns);
          this.ip('addresses', bridgeNs, `link set ${port} master ${n.bridge}`);
          this.ip('addresses', bridgeNs, `link set ${port} up`);
          this.ip('addresses', hns, `addr add ${addr} dev ${nic.ifname}`);
          this.ip('addresses', hns, `link set ${nic.ifname} up`);
          members.push({ ns: hns, dev: nic.ifname, addr: nic.address, mac: m.b });
        }
      }
      for (const a of members) for (const b of members) if (a !== b && a.ns !== b.ns) this.neigh(a.ns, b.addr, b.mac, a.dev);
      if (n.owner !== undefined && n.ports.length > 0) lanIndex = this.planLanPorts(n, bridgeNs, members, lanIndex);
    }
  }

  /** Networks with a physical port on a managed owner's bridge: the LAN beyond it is on them. */
  private bridgedNets(): Network[] {
    return sorted(this.model.networks.values(), (x) => x.name).filter((n) => n.owner !== undefined && n.ports.length > 0);
  }

  /**
   * The LAN beyond `n`'s physical ports: a veth from the upstream (`l<k>`) to the owner's bridge
   * for each port, its bridge end named after the port. The model has one LAN beyond them all and
   * lets it in by the first port (src/ir/paths.ts, the `inPort` of its hops; lanEntry), so the
   * first port's leg holds the LAN: every router hosts route through on `n` that no declared host
   * holds (seed 000: pve's default route 10.0.0.254), the network's gateway when it is such a
   * router, and the LAN's lab addresses in `n`; the LAN's devices meet the guests at layer 2,
   * through the owner's bridge and its br_netfilter hook. The other ports are on the bridge as
   * `bridge-ports` puts them, up, their far ends in the same upstream with no address and ARP off:
   * what the bridge floods there reaches no one, and nothing comes in by them, as in the model.
   * Returns the next free `k`.
   */
  private planLanPorts(n: Network, bridgeNs: string, members: readonly { ns: string; dev: string; addr: number; mac: string }[], k: number): number {
    const held = (a: number): boolean => this.hosts.some((h) => h.nics.some((x) => x.address === a));
    const addrs = new Set<number>();
    for (const h of this.hosts) {
      const d = h.defaultRoute;
      if (d.kind === 'gateway' && d.segment === n.name && !held(d.via)) addrs.add(d.via);
      for (const r of h.routes) if (r.via.kind === 'gateway' && r.via.segment === n.name && !held(r.via.address)) addrs.add(r.via.address);
    }
    if (n.gateway !== undefined && !held(n.gateway)) addrs.add(n.gateway);
    // The router a hostile guest may pick on its own (paths.ts firstHops, lab attack).
    const router = lanRouterAddress(this.model, n);
    if (router !== undefined) addrs.add(router);
    for (const a of this.lanOnBridges) if (inRange(a, n.range)) addrs.add(a);
    const legs = n.ports.map((port, i) => {
      const wif = `l${k + i}`;
      const m = this.veth(wif, this.up, port, bridgeNs);
      this.ip('addresses', bridgeNs, `link set ${port} master ${n.bridge}`);
      this.ip('addresses', bridgeNs, `link set ${port} up`);
      return { port, wif, mac: m.a };
    });
    const [lan, ...quiet] = legs as [(typeof legs)[number], ...typeof legs];
    for (const a of [...addrs].sort((x, y) => x - y)) {
      this.addrNs.set(a, this.up);
      this.ip('addresses', this.up, `addr add ${formatIPv4(a)}/${n.cidr.len} dev ${lan.wif}`);
      for (const b of members) this.neigh(b.ns, a, lan.mac, b.dev);
    }
    for (const b of members) this.neigh(this.up, b.addr, b.mac, lan.wif);
    this.ip('addresses', this.up, `link set ${lan.wif} up`);
    // Without `arp off` the upstream would answer ARP for the LAN's addresses on these legs too
    // (arp_ignore 0), and a guest asking would be let in by a port the model never uses.
    for (const q of quiet) this.ip('addresses', this.up, `link set ${q.wif} arp off up`);
    this.notes.push(`the LAN beyond ${lan.port} on ${n.name}: the upstream namespace (${lan.wif}), bridged into ${n.bridge} on ${n.owner}`);
    for (const q of quiet)
      this.notes.push(
        `${n.name}'s port ${q.port} leads to the same LAN (the upstream's ${q.wif}, no address): the LAN comes in by ${lan.port}, as the verifier has it`,
      );
    return k + legs.length;
  }

  private nicOn(h: Host, segment: string): string | undefined {
    const nic = h.nics.find((n) => n.segment === segment);
    if (!nic) return undefined;
    const net = this.model.networks.get(segment);
    return net && net.owner === h.name ? net.bridge : nic.ifname;
  }

  /** Default routes and the spec's routes over networks and uplinks (tunnel routes come later). */
  private planHostRoutes(): void {
    for (const h of this.hosts) {
      const ns = this.hostNs.get(h.name)!;
      for (const r of h.routes) {
        if (r.via.kind !== 'gateway') continue;
        this.ip('addresses', ns, `route add ${formatCidr(r.to)} via ${formatIPv4(r.via.address)} dev ${this.nicOn(h, r.via.segment)}`);
      }
      const d = h.defaultRoute;
      if (d.kind === 'gateway') {
        this.ip('addresses', ns, `route add default via ${formatIPv4(d.via)} dev ${this.nicOn(h, d.segment)}`);
      } else if (d.kind === 'uplink') {
        const u = this.uplinks.find((x) => x.host === h && x.ifname === d.ifname);
        // paths.ts lets a host send its own traffic out of an uplink from its first address.
        const src = u?.kind === 'upstream' && h.nics[0] ? ` src ${formatIPv4(h.nics[0].address)}` : '';
        this.ip('addresses', ns, `route add default via ${formatIPv4(WORLD_GW)} dev ${d.ifname} onlink${src}`);
      } else if (d.kind === 'tunnel') {
        // The underlay default (the tunnel's own transport uses it); everything else goes through
        // the tunnel by the rules planned with the tunnel.
        for (const nic of h.nics) {
          const net = this.model.networks.get(nic.segment);
          if (net?.gateway !== undefined && net.gateway !== nic.address) {
            this.ip('addresses', ns, `route add default via ${formatIPv4(net.gateway)} dev ${this.nicOn(h, net.name)}`);
            break;
          }
        }
      }
    }
  }

  private planFirewalls(): void {
    const rendered = guarded(nftablesRenderer).render(this.ir, { host: undefined, params: new Map() });
    // A host whose rule set could not be rendered would run with no firewall at all: a lab that
    // proves nothing. Refuse to build it instead of noting it.
    const refused = rendered.diagnostics.filter((d) => d.severity === 'error');
    if (refused.length > 0) throw new Error(`nftables cannot render this spec, so the lab would run unfiltered: ${refused.map((d) => d.message).join('; ')}`);
    for (const d of rendered.diagnostics) this.notes.push(`nftables: ${d.message}`);
    for (const f of rendered.files) {
      const host = f.path.split('/')[0]!;
      const ns = this.hostNs.get(host);
      if (!ns) continue;
      this.steps.push({ stage: 'firewalls', kind: 'nft', ns, name: f.path, ruleset: f.content });
    }
    // NAT comes with the rendered rule set (src/render/nftables/nat.ts), so the lab runs the text a
    // user installs. A host that masquerades but enforces no chain (a router cordon does not manage)
    // gets no rendered file: it loads the same NAT table on its own.
    const loaded = new Set(rendered.files.map((f) => f.path.split('/')[0]!));
    for (const host of natTableHosts(this.model)) {
      const ns = this.hostNs.get(host);
      if (!ns || loaded.has(host)) continue;
      const e = new Emitter('\t');
      emitNat(e, this.model, host);
      this.steps.push({ stage: 'firewalls', kind: 'nft', ns, name: `NAT on ${host}`, ruleset: e.toString() });
    }
  }

  private planTunnels(peerUnderlay: ReadonlyMap<string, number>): LabTunnelEnd[] {
    const ends: LabTunnelEnd[] = [];
    const engine = new Engine(this.ir);
    let w = 0;
    const declared = sorted(this.model.networks.values(), (n) => n.name);
    for (const t of sorted(this.model.tunnels.values(), (x) => x.name)) {
      const server = this.model.hosts.get(t.server);
      if (!server) continue;
      const members = this.hosts.filter((h) => h.name !== server.name && h.nics.some((n) => n.segment === t.name));
      const kname = new Map<string, string>();
      for (const h of [server, ...members]) {
        const n = wireguardKernelName(this.opts.prefix, w++, t.origin);
        if (n.ok) kname.set(h.name, n.name);
        else this.diagnostics.push(n.diagnostic);
      }
      if (kname.size !== members.length + 1) continue;
      const key = (h: Host): string => this.opts.keys(h.name, t.name).publicKey;
      for (const h of [server, ...members]) {
        const ns = this.hostNs.get(h.name)!;
        const nic = h.nics.find((n) => n.segment === t.name)!;
        const isServer = h === server;
        if (h.publicKey) this.notes.push(`${h.name}'s WireGuard key is held elsewhere (publicKey in the spec); the lab uses a key pair of its own`);
        const peers: WgPeer[] = isServer
          ? members.map((m) => ({
              host: m.name,
              publicKey: key(m),
              allowedIps: [`${formatIPv4(m.nics.find((n) => n.segment === t.name)!.address)}/32`],
              endpoint: undefined,
              keepalive: undefined,
            }))
          : [{ host: server.name, publicKey: key(server), allowedIps: ['0.0.0.0/0'], endpoint: `${formatIPv4(t.endpoint)}:${t.listen}`, keepalive: 25 }];
        // Tunnel routes of a member live in their own table; the transport (fwmark) skips it.
        const tableRoutes: string[] = [];
        if (!isServer) {
          if (h.roaming) {
            for (const n of declared) tableRoutes.push(formatCidr(n.cidr));
          } else if (h.egress === 'vpn-only' && h.vpnTunnel === t.name) {
            tableRoutes.push('default');
          } else if (h.egress !== 'vpn-only') {
            for (const n of declared) {
              if (h.nics.some((x) => x.segment === n.name)) continue;
              if (server.nics.some((x) => x.segment === n.name)) tableRoutes.push(formatCidr(n.cidr));
            }
          }
        }
        this.steps.push({
          stage: 'tunnels',
          kind: 'wireguard',
          ns,
          host: h.name,
          tunnel: t.name,
          kernelName: kname.get(h.name)!,
          ifname: t.ifname,
          privateKey: this.opts.keys(h.name, t.name).privateKey,
          listenPort: isServer ? t.listen : undefined,
          fwmark: tableRoutes.length > 0 ? WG_FWMARK : undefined,
          peers,
        });
        this.addrNs.set(nic.address, ns);
        this.ip('tunnel-routes', ns, `addr add ${formatIPv4(nic.address)}/${t.cidr.len} dev ${t.ifname}`);
        // wireguard-go reads its TUN device from userspace: a burst of probes into a tunnel must
        // not overflow the default 500-packet transmit queue in front of it.
        this.ip('tunnel-routes', ns, `link set ${t.ifname} txqueuelen 20000 up`);
        for (const r of h.routes)
          if (r.via.kind === 'tunnel' && r.via.tunnel === t.name) this.ip('tunnel-routes', ns, `route add ${formatCidr(r.to)} dev ${t.ifname}`);
        if (tableRoutes.length > 0) {
          for (const r of tableRoutes) this.ip('tunnel-routes', ns, `route add ${r} dev ${t.ifname} table ${WG_TABLE}`);
          this.ip('tunnel-routes', ns, `rule add fwmark ${WG_FWMARK} lookup main priority 100`);
          this.ip('tunnel-routes', ns, 'rule add lookup main suppress_prefixlength 0 priority 110');
          this.ip('tunnel-routes', ns, `rule add lookup ${WG_TABLE} priority 120`);
        }
        ends.push({ tunnel: t.name, host: h.name, ns, kernelName: kname.get(h.name)!, ifname: t.ifname, server: isServer, addr: nic.address });
        if (!isServer) {
          const expectUp = engine.checkTransport({ tunnel: t.name, peer: h.name }, 'configured').ok;
          this.steps.push({
            stage: 'handshakes',
            kind: 'handshake',
            tunnel: t.name,
            host: h.name,
            ns,
            kernelName: kname.get(h.name)!,
            publicKey: key(h),
            serverKernelName: kname.get(server.name)!,
            serverAddr: formatIPv4(server.nics.find((n) => n.segment === t.name)!.address),
            expectUp,
          });
        }
      }
      void peerUnderlay;
    }
    return ends;
  }

  private planServices(inetServices: readonly LabService[]): void {
    const m = this.model;
    const busy = new Set<string>();
    // The spec's DNS zone, served by dnsmasq on its server (config from the dns renderer).
    if (m.dns) {
      const ns = this.hostNs.get(m.dns.server)!;
      const conf = dnsRenderer.render(this.ir, { host: undefined, params: new Map() }).files.find((f) => f.path.endsWith('dnsmasq.conf'));
      if (conf) {
        this.steps.push({ stage: 'services', kind: 'dnsmasq', ns, name: `dns zone ${m.dns.domain} on ${m.dns.server}`, config: conf.content });
        busy.add(`${ns}/udp/53`).add(`${ns}/tcp/53`);
      }
    }
    // Public resolvers on the internet: every name resolves to the TEST-NET web server.
    const resolvers = [...new Set(inetServices.filter((s) => s.port === 53).map((s) => s.addr))];
    const web = inetServices.find((s) => s.port === 80)?.addr;
    if (resolvers.length > 0) {
      this.steps.push({
        stage: 'services',
        kind: 'dnsmasq',
        ns: this.inet,
        name: 'public resolvers',
        config: [
          '# cordon lab: public resolvers on the lab internet; every name is the TEST-NET web server.',
          ...resolvers.map((a) => `listen-address=${formatIPv4(a)}`),
          'bind-interfaces',
          'no-hosts',
          'no-resolv',
          `address=/#/${web !== undefined ? formatIPv4(web) : '198.51.100.80'}`,
          '',
        ].join('\n'),
      });
      busy.add(`${this.inet}/udp/53`).add(`${this.inet}/tcp/53`);
    }
    for (const t of m.tunnels.values()) busy.add(`${this.hostNs.get(t.server)}/udp/${t.listen}`);
    const listen = (ns: string, proto: 'tcp' | 'udp', port: number, label: string): void => {
      const k = `${ns}/${proto}/${port}`;
      if (busy.has(k) || port === 0) return;
      busy.add(k);
      this.steps.push({ stage: 'services', kind: 'listen', ns, proto, port, label });
    };
    for (const h of this.hosts) {
      const ns = this.hostNs.get(h.name)!;
      for (const [name, flows] of sorted(h.services, ([n]) => n)) {
        for (const [lo] of flows.tcp) listen(ns, 'tcp', lo, `${h.name}.${name}`);
        for (const [lo] of flows.udp) listen(ns, 'udp', lo, `${h.name}.${name}`);
      }
    }
    const policyPorts = mentionedPorts(m);
    for (const ns of [this.inet, this.up]) {
      for (const p of [...GENERIC_TCP, ...policyPorts.tcp]) listen(ns, 'tcp', p, ns === this.inet ? 'internet' : 'lan');
      for (const p of [...GENERIC_UDP, ...policyPorts.udp]) listen(ns, 'udp', p, ns === this.inet ? 'internet' : 'lan');
    }
  }
}

/** Ports the policy, services and expectations name: the low end of every range. */
export function mentionedPorts(m: Model): { tcp: number[]; udp: number[] } {
  const tcp = new Set<number>();
  const udp = new Set<number>();
  const add = (f: FlowSet | undefined): void => {
    if (!f || f === ALL_FLOWS) return;
    for (const [lo, hi] of f.tcp) if (!(lo === 0 && hi === 65535)) tcp.add(Math.max(lo, 1));
    for (const [lo, hi] of f.udp) if (!(lo === 0 && hi === 65535)) udp.add(Math.max(lo, 1));
  };
  for (const r of m.policy) add(r.ports);
  for (const h of m.hosts.values()) for (const f of h.services.values()) add(f);
  for (const e of m.expectations) add(e.flows);
  return { tcp: [...tcp].sort((a, b) => a - b), udp: [...udp].sort((a, b) => a - b) };
}

/**
 * Splits `space` at `cuts` and gives every class at least one address: the preferred ones that
 * fall in it, else its first address that is not reserved.
 */
export function classes(space: RangeSet, cuts: readonly number[], preferred: readonly number[], reserved: ReadonlySet<number>): AddrClass[] {
  const sortedCuts = [...new Set(cuts)].sort((a, b) => a - b);
  const out: AddrClass[] = [];
  for (const [lo, hi] of space) {
    const inside = sortedCuts.filter((c) => c > lo && c <= hi);
    const bounds = [lo, ...inside, hi + 1];
    for (let i = 0; i + 1 < bounds.length; i++) {
      const clo = bounds[i]!;
      const chi = bounds[i + 1]! - 1;
      const addrs = [...new Set(preferred.filter((a) => a >= clo && a <= chi))].sort((a, b) => a - b);
      if (addrs.length === 0) {
        let a = clo === chi ? clo : clo + 1;
        while (a <= chi && reserved.has(a)) a++;
        if (a > chi) {
          a = clo;
          while (a <= chi && reserved.has(a)) a++;
        }
        if (a > chi) continue;
        addrs.push(a);
      }
      out.push({ lo: clo, hi: chi, addrs });
    }
  }
  return out;
}

export function classOf(classesList: readonly AddrClass[], addr: number): AddrClass | undefined {
  return classesList.find((c) => addr >= c.lo && addr <= c.hi);
}

/** Human-readable lines of a plan, for `lab up --dry-run`. */
export function planToText(plan: LabPlan): string {
  const out: string[] = [`# cordon lab plan for ${plan.file} (spec ${plan.hash}), prefix ${plan.prefix}`];
  for (const stage of STAGES) {
    const steps = plan.steps.filter((s) => s.stage === stage);
    if (steps.length === 0) continue;
    out.push('', `## ${stage} (${steps.length} step${steps.length === 1 ? '' : 's'})`);
    for (const s of steps) out.push(stepToText(s));
  }
  if (plan.notes.length) out.push('', '## notes', ...plan.notes.map((n) => `# ${n}`));
  if (plan.diagnostics.length) out.push('', '## cannot be built', ...plan.diagnostics.map((d) => `# ${d.code} ${d.file}:${d.line}:${d.col}: ${d.message}`));
  return `${out.join('\n')}\n`;
}

export function stepToText(s: Step): string {
  switch (s.kind) {
    case 'netns':
      return `ip netns add ${s.ns}    # ${s.label}`;
    case 'sysctl':
      return `ip netns exec ${s.ns} sysctl -w ${s.key}=${JSON.stringify(s.value)}${s.optional ? '    # optional' : ''}`;
    case 'ip':
      return s.ns === undefined ? `ip ${s.cmd}` : `ip -n ${s.ns} ${s.cmd}`;
    case 'nft':
      return `ip netns exec ${s.ns} nft -f -    # ${s.name}, ${s.ruleset.split('\n').length} lines`;
    case 'shape':
      return `${s.argv[0]} -n ${s.ns} ${s.argv.slice(1).join(' ')}    # ${s.label}`;
    case 'wireguard':
      return [
        `ip netns exec ${s.ns} wireguard-go -f ${s.kernelName}    # ${s.host}'s end of ${s.tunnel}`,
        `wg set ${s.kernelName} private-key <generated>${s.listenPort !== undefined ? ` listen-port ${s.listenPort}` : ''}${s.fwmark !== undefined ? ` fwmark 0x${s.fwmark.toString(16)}` : ''}${s.peers
          .map(
            (p) =>
              ` peer ${p.host}:<key> allowed-ips ${p.allowedIps.join(',')}${p.endpoint ? ` endpoint ${p.endpoint}` : ''}${p.keepalive ? ` persistent-keepalive ${p.keepalive}` : ''}`,
          )
          .join('')}`,
        `ip -n ${s.ns} link set ${s.kernelName} name ${s.ifname}`,
      ].join('\n');
    case 'dnsmasq':
      return `ip netns exec ${s.ns} dnsmasq --keep-in-foreground --conf-file=<${s.name}>`;
    case 'listen':
      return `responder ${s.ns} ${s.proto}/${s.port}    # ${s.label}`;
    case 'handshake':
      return `wait for a handshake on ${s.kernelName}    # ${s.host} ↔ ${s.tunnel} (static: ${s.expectUp ? 'transport allowed' : 'transport blocked'})`;
  }
}

export type { Network };
