/**
 * The resolved model: names checked, addresses parsed, defaults filled in. Nothing that has a
 * default is optional here; `undefined` only ever means "there is none" (no gateway, no id).
 */
import type { AddrRange, Cidr } from '../util/ip.js';
import type { FlowSet } from '../util/flows.js';
import type { RangeSet } from '../util/rangeset.js';

/** Where something was said: the spec file, position, JSON path and the words of the rule. */
export interface Origin {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly path: string;
  /** The rule or setting in the user's own words, e.g. `allow agentfarm → ollama.api`. */
  readonly text: string;
}

export type HostKind = 'hypervisor' | 'router' | 'server' | 'vm' | 'container' | 'sandbox' | 'peer';
export type EgressMode = 'isolated' | 'filtered' | 'vpn-only' | 'open';
export type NetworkEgress = 'none' | 'nat' | 'routed';

/** Hosts cordon assumes may turn adversarial (DESIGN.md threat model). */
export const UNTRUSTED_KINDS: ReadonlySet<HostKind> = new Set(['vm', 'container', 'sandbox', 'peer']);
export const GUEST_KINDS: ReadonlySet<HostKind> = new Set(['vm', 'container', 'sandbox']);

export interface Network {
  readonly name: string;
  readonly kind: 'network';
  readonly cidr: Cidr;
  readonly range: AddrRange;
  /** Default-route address for guests; undefined = none. */
  readonly gateway: number | undefined;
  readonly egress: NetworkEgress;
  /** Kernel name of the bridge. */
  readonly bridge: string;
  /** The managed host whose bridge this is (filters traffic between its ports); undefined = a plain segment. */
  readonly owner: string | undefined;
  /**
   * Physical interfaces enslaved to the bridge, in spec order; empty = none (`bridge-ports none`).
   * Non-empty: the owner's LAN beyond them is on this segment (its undeclared addresses belong to
   * the `lan` endpoint), bridged to the guests, not routed.
   */
  readonly ports: readonly string[];
  /** Where `ports:` is written (for diagnostics about the bridged LAN); the network's own origin when absent. */
  readonly portsOrigin: Origin;
  /** The DHCP pool for undeclared guests; undefined = none (every address static). */
  readonly dhcp: { readonly start: number; readonly end: number } | undefined;
  readonly origin: Origin;
}

export interface Tunnel {
  readonly name: string;
  readonly kind: 'tunnel';
  readonly cidr: Cidr;
  readonly range: AddrRange;
  readonly server: string;
  readonly listen: number;
  /** Address peers send their UDP transport to. */
  readonly endpoint: number;
  readonly ifname: string;
  /** Resolvers for the members' configs (wg-quick `DNS =`), in order; empty = none declared. */
  readonly nameservers: readonly number[];
  readonly origin: Origin;
}

export type Segment = Network | Tunnel;

export interface Nic {
  /** Network or tunnel name; `internet` for a public address. */
  readonly segment: string;
  readonly address: number;
  /** Interface name inside the host (for the bridge owner: the bridge; for a tunnel: its ifname). */
  readonly ifname: string;
  /** Host-side bridge port (tap101i0) when the segment is owned by another host; else undefined. */
  readonly port: string | undefined;
}

export type DefaultRoute =
  | { readonly kind: 'gateway'; readonly via: number; readonly segment: string }
  | { readonly kind: 'tunnel'; readonly tunnel: string }
  | { readonly kind: 'uplink'; readonly ifname: string }
  | { readonly kind: 'none' };

export interface Route {
  readonly to: Cidr;
  readonly range: AddrRange;
  readonly via: { readonly kind: 'gateway'; readonly address: number; readonly segment: string } | { readonly kind: 'tunnel'; readonly tunnel: string };
}

export interface Host {
  readonly name: string;
  readonly kind: HostKind;
  readonly id: number | undefined;
  /** Untrusted hosts may have root and ignore their own firewall, routes and addresses. */
  readonly trusted: boolean;
  /** cordon compiles the policy into this host's own firewall. */
  readonly managed: boolean;
  readonly nics: readonly Nic[];
  /** True for peers that sit somewhere on the internet with no declared network. */
  readonly roaming: boolean;
  readonly services: ReadonlyMap<string, FlowSet>;
  readonly egress: EgressMode;
  readonly defaultRoute: DefaultRoute;
  readonly routes: readonly Route[];
  readonly forward: boolean;
  /** Physical uplink name when this host routes to the internet itself. */
  readonly uplink: string | undefined;
  /** For vpn-only hosts: the tunnel all traffic must use. */
  readonly vpnTunnel: string | undefined;
  /** Per-guest (host-side) firewall present. */
  readonly guestFirewall: boolean;
  /** The host's own firewall present (in-guest for guests). */
  readonly localFirewall: boolean;
  readonly antiSpoof: boolean;
  readonly control: readonly Target[];
  /** WireGuard public key from the spec (its private key is held elsewhere); undefined = cordon's key store holds the pair. */
  readonly publicKey: string | undefined;
  /**
   * Resolvers the host's own network config names (netplan `nameservers`, ifupdown
   * `dns-nameservers`), in order; empty = none declared (the `dns:` zone's server, if it serves the host).
   */
  readonly nameservers: readonly number[];
  /**
   * The bandwidth limit of each of the host's nics that has a host-side port (spec `bandwidth:`),
   * enforced by the port's owner; undefined = the spec sets none (the link's own speed).
   */
  readonly bandwidth: Bandwidth | undefined;
  readonly origin: Origin;
}

/**
 * One direction of a bandwidth limit in libvirt's units: rates in kilobytes per second as libvirt
 * hands them to tc (`kbps`: 1000 bytes/s), burst in kilobytes (tc's `kb`: 1024 bytes).
 */
export interface BandwidthRate {
  readonly average: number;
  /** The rate a burst may go out at; undefined = none set (bursts leave at link speed). */
  readonly peak: number | undefined;
  /** Filled in: the spec's burst, else a tenth of a second at the average rate (at least 2). */
  readonly burst: number;
}

/** A host's bandwidth limit; an undefined direction is not limited. At least one is set. */
export interface Bandwidth {
  /** To the host (libvirt inbound): shaped on the port's egress. */
  readonly inbound: BandwidthRate | undefined;
  /** From the host (libvirt outbound): arrives on the port's ingress. */
  readonly outbound: BandwidthRate | undefined;
  readonly origin: Origin;
}

/** What a reference in the spec points at, after names are resolved (groups are flattened). */
export type Target =
  | { readonly kind: 'host'; readonly host: string; readonly name: string }
  | { readonly kind: 'service'; readonly host: string; readonly service: string; readonly flows: FlowSet; readonly name: string }
  | { readonly kind: 'network'; readonly network: string; readonly name: string }
  | { readonly kind: 'cidr'; readonly range: AddrRange; readonly name: string }
  | { readonly kind: 'internet'; readonly name: 'internet' }
  | { readonly kind: 'lan'; readonly name: 'lan' }
  | { readonly kind: 'any'; readonly name: 'any' };

export interface PolicyRule {
  readonly index: number;
  readonly action: 'allow' | 'deny';
  readonly from: readonly Target[];
  readonly to: readonly Target[];
  /** Explicit ports; undefined = the services' own ports, or any. */
  readonly ports: FlowSet | undefined;
  readonly log: boolean;
  readonly rate: string | undefined;
  readonly comment: string | undefined;
  readonly origin: Origin;
}

export type Assume = 'configured' | 'compromised';

export interface Expectation {
  readonly index: number;
  readonly from: Target;
  readonly to: Target;
  /** undefined = "any flow at all". */
  readonly flows: FlowSet | undefined;
  readonly verdict: 'allow' | 'deny';
  readonly assume: readonly Assume[];
  readonly comment: string | undefined;
  readonly origin: Origin;
}

export interface Invariants {
  readonly noInternet: boolean;
  readonly vpnOnly: boolean;
  readonly noVmToVm: boolean;
  readonly noVmToHost: boolean;
  readonly origin: Origin;
}

/** What a hand-written rule selects: a conjunction of dimensions, never negated. */
export interface RuleMatch {
  /** undefined = any. */
  readonly src: RangeSet | undefined;
  readonly dst: RangeSet | undefined;
  readonly flows: FlowSet;
  readonly iif: string | undefined;
  readonly oif: string | undefined;
  /** Bridge port the packet entered through; undefined = any. */
  readonly inPort: string | undefined;
  readonly state: 'new' | 'established' | undefined;
}

export interface HandRule extends RuleMatch {
  readonly action: 'accept' | 'drop' | 'reject';
  readonly log: boolean;
  readonly origin: Origin;
}

export interface HandFirewall {
  readonly point: string;
  readonly host: string;
  readonly hook: Hook;
  readonly policy: 'accept' | 'drop';
  readonly rules: readonly HandRule[];
  readonly origin: Origin;
}

export const HOOKS = ['input', 'output', 'forward', 'guest-in', 'guest-out'] as const;
export type Hook = (typeof HOOKS)[number];

/** One A record of the internal zone. */
export interface DnsRecord {
  /** Relative to the zone, lower case, e.g. `nginx`. */
  readonly name: string;
  readonly address: number;
  /** The host the record was given as, when it was given as a host name. */
  readonly host: string | undefined;
  readonly origin: Origin;
}

/** The internal DNS zone (seed 003: every service name resolves to the gateway). */
export interface Dns {
  /** Lower case, without the trailing dot, e.g. `internal.thinkheads.ai`. */
  readonly domain: string;
  /** The host that runs the resolver. */
  readonly server: string;
  /** The server's addresses it answers on: every nic except one on `internet`, in nic order. */
  readonly listen: readonly number[];
  /** Forwarders for names outside the zone; empty = answer only for the zone. */
  readonly upstream: readonly number[];
  /** Sorted by name; the server's own name is not among them unless declared. */
  readonly records: readonly DnsRecord[];
  readonly ttl: number;
  readonly origin: Origin;
}

/** The guard's thresholds (spec `guard:`), every default filled in. */
export interface GuardSettings {
  /** Blocked attempts per minute and host above which it is an anomaly (and the alert fires). */
  readonly blockedPerMinute: number;
  /** New connections (allowed or blocked) per minute and host above which it is an anomaly. */
  readonly connectionsPerMinute: number;
  /** Standard deviations above a host's moving average that make a rate an anomaly. */
  readonly deviations: number;
  /** Seconds without a handshake after which a WireGuard peer is down. */
  readonly vpnDownAfterS: number;
  /** Where events are POSTed; empty: none. */
  readonly webhooks: readonly Webhook[];
  /** What an upward anomaly does beyond its event: nothing more (`alert`) or the kill switch. */
  readonly onAnomaly: 'alert' | 'killswitch';
  readonly origin: Origin;
}

/** One webhook of `guard.webhooks`, defaults filled in. */
export interface Webhook {
  readonly name: string;
  /** http or https, checked by the schema. */
  readonly url: string;
  /** The event types it gets (never empty). */
  readonly events: readonly string[];
  /** The environment variable with the signing secret; null: unsigned. */
  readonly secretEnv: string | null;
  readonly origin: Origin;
}

/** Defaults of `guard:`: 1 blocked attempt a second, 10 new connections a second, WireGuard's REJECT_AFTER_TIME (180 s), no webhooks, anomalies only alert. */
export const GUARD_DEFAULTS = {
  blockedPerMinute: 60,
  connectionsPerMinute: 600,
  deviations: 4,
  vpnDownAfterS: 180,
  webhooks: [],
  onAnomaly: 'alert',
} as const;

/** One published port range of a forward: what arrives on `public` is sent to `target` (same width). */
export interface ForwardPort {
  readonly proto: 'tcp' | 'udp';
  readonly public: readonly [number, number];
  readonly target: readonly [number, number];
}

/**
 * A port forward (DNAT) on `via`: a new connection that arrives by one of `entry` addressed to one
 * of via's own addresses, on a public port, goes to `address` (the target host's address on a network
 * `via` is on). The matrix shows it as the internet (and the LAN) reaching the target on `flows`.
 */
export interface Forward {
  readonly index: number;
  /** The forwarding host. */
  readonly via: string;
  /** Interfaces the world comes in by: via's uplink and its nics on the internet, sorted. */
  readonly entry: readonly string[];
  readonly host: string;
  readonly service: string;
  readonly address: number;
  /** The target's flows (its service ports, as the guest sees them after DNAT). */
  readonly flows: FlowSet;
  readonly ports: readonly ForwardPort[];
  readonly comment: string | undefined;
  readonly origin: Origin;
}

export interface Model {
  readonly file: string;
  readonly hash: string;
  readonly networks: ReadonlyMap<string, Network>;
  readonly tunnels: ReadonlyMap<string, Tunnel>;
  readonly hosts: ReadonlyMap<string, Host>;
  readonly groups: ReadonlyMap<string, readonly Target[]>;
  readonly policy: readonly PolicyRule[];
  readonly expectations: readonly Expectation[];
  readonly invariants: Invariants;
  readonly firewalls: ReadonlyMap<string, HandFirewall>;
  /** The internal DNS zone; undefined = the spec declares none. */
  readonly dns: Dns | undefined;
  /** The guard's thresholds; the defaults when the spec has no `guard:` section. */
  readonly guard: GuardSettings;
  /** Port forwards, in spec order; empty = nothing from the internet reaches a private address. */
  readonly forwards: readonly Forward[];
  /** Address ranges of the built-in `internet` and `lan` endpoints for this model. */
  readonly internet: RangeSet;
  readonly lan: RangeSet;
  /** Names referenced anywhere (for unused-group/service lint). */
  readonly used: { readonly groups: ReadonlySet<string>; readonly services: ReadonlySet<string> };
}
