/**
 * The user-facing schema of a cordon spec (cordon.yaml), version 1.
 *
 * This layer only says what shape a document has. Names are checked against each other, defaults
 * are filled in and addresses are parsed in `model/resolve.ts`, which turns this into the resolved
 * model where nothing defaulted is optional. Every field is `.describe()`d so `cordon schema` can
 * emit a JSON Schema for editor completion.
 */
import { z } from 'zod';
import { NAME_CHARS_TEXT, NAME_MAX, NAME_RE } from './identifiers.js';
import { RULES, type RuleName } from './fast-schema.js';
import type { RuleRegistry } from './schema-describe.js';

/** Names become file, set, chain, libvirt and Kubernetes object names: a small safe set (src/spec/identifiers.ts). */
const Name = z
  .string()
  .regex(NAME_RE, `a name: ${NAME_CHARS_TEXT}`)
  .max(NAME_MAX, `a name of at most ${NAME_MAX} characters`)
  .describe(`A name: ${NAME_CHARS_TEXT}; at most ${NAME_MAX} characters.`);

/**
 * The refinements of this schema that the fast walk (src/spec/fast-schema.ts) has a copy of,
 * registered by name: its table (src/spec/schema-table.ts) names them, so a valid spec is checked
 * without loading zod. Refinements not registered here make the walk leave the value to zod.
 */
export const SCHEMA_RULES: RuleRegistry = new WeakMap();

/** A string checked by one of the identifier rules; the rule's sentence becomes the diagnostic. */
function checked(rule: RuleName, subject: string): z.ZodString {
  const problemOf = RULES[rule];
  const s = z.string().superRefine((text, ctx) => {
    const problem = problemOf(text, subject);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  });
  const check = s._zod.def.checks?.at(-1);
  if (check) SCHEMA_RULES.set(check, { rule, subject });
  return s;
}

export const PortItem = z
  .union([z.string(), z.number().int()])
  .describe('A port item: tcp/80, udp/5000-5010, tcp/80,443, tcp (all tcp ports), udp, icmp or any. A bare number means tcp.');

export const Ports = z.union([PortItem, z.array(PortItem)]).describe('One port item or a list of them.');

/**
 * A reference to something traffic can come from or go to: a host (`ollama`), a service of a host
 * (`ollama.api`), a network (`vmbr1`), a group, a CIDR or address literal, or a built-in:
 * `internet`, `lan` (the owner's physical LAN) and `any`.
 */
export const Ref = checked('ref', 'the reference').describe('host, host.service, network, group, CIDR, internet, lan or any');
export const Refs = z.union([Ref, z.array(Ref).min(1)]).describe('One reference or a list of them.');

export const NetworkSpec = z
  .strictObject({
    cidr: z.string().describe('The IPv4 prefix of the segment, e.g. 192.168.100.0/24.'),
    gateway: z.string().optional().describe('The router address guests use as their default route. Absent: guests get no default route.'),
    egress: z
      .enum(['none', 'nat', 'routed'])
      .optional()
      .describe('How the segment reaches the internet: none (isolated, the default), nat (masqueraded by its gateway), routed.'),
    bridge: z.string().optional().describe('Kernel interface name of the bridge (default: the network name).'),
    ports: z
      .array(z.string())
      .optional()
      .describe(
        'Physical interfaces enslaved to the bridge (ifupdown bridge-ports, netplan bridges.interfaces), e.g. [enp1s0]: the LAN beyond them shares this segment, so its devices meet the guests on it at layer 2, filtered only at the bridge. Absent or empty: no physical port (bridge-ports none); only guests and the bridge owner are on the segment.',
      ),
    dhcp: z
      .strictObject({
        start: z.string().describe('First address handed out, inside the network.'),
        end: z.string().describe('Last address handed out, inside the network, not before start.'),
      })
      .optional()
      .describe(
        'A DHCP pool (libvirt <dhcp><range>, dnsmasq dhcp-range) for guests the spec does not declare; declared hosts keep their static addresses, which must lie outside it. Absent: no DHCP, every address is static.',
      ),
    description: z.string().optional().describe('Free text.'),
  })
  .describe('An L2 segment: a bridge, a libvirt network, a Docker network.');

export const NicSpec = z.union([
  z.string().describe('The address of this host on that network or tunnel.'),
  z
    .strictObject({
      address: z.string().describe('The address of this host on that network or tunnel.'),
      ifname: z.string().optional().describe('Interface name inside the host (default eth0, eth1… in order).'),
      port: z.string().optional().describe('Name of the host-side port on the bridge (default tap<ID>i<N> for VMs with an id).'),
    })
    .describe('An interface with its names spelled out.'),
]);

export const RouteSpec = z
  .strictObject({
    to: z.string().describe('Destination prefix.'),
    via: z.string().describe('Next-hop address on a connected network, or a tunnel name.'),
  })
  .describe('A static route.');

export const FirewallPlacement = z
  .strictObject({
    guest: z
      .boolean()
      .optional()
      .describe(
        "A per-guest firewall on the host side (Proxmox VM firewall, libvirt nwfilter), for a vm/container/sandbox on a network bridged by a managed hypervisor. Default: false (the hypervisor's forward path still filters).",
      ),
    local: z
      .boolean()
      .optional()
      .describe("The host's own firewall (input/output/forward in its kernel). For a guest this is an in-guest firewall: defence in depth only."),
    antiSpoof: z
      .boolean()
      .optional()
      .describe("The per-guest firewall drops packets whose source is not the guest's own address (ipfilter / clean-traffic). Default: true."),
  })
  .describe('Where cordon enforces policy for this host.');

/**
 * One direction of a bandwidth limit, in libvirt's own units (formatdomain "Quality of service"):
 * rates in kilobytes per second, burst in kilobytes. libvirt hands them to tc as `kbps` and `kb`,
 * which tc reads as 1000 bytes per second and 1024 bytes: 10240 is 10,240,000 bytes/s, 81.92 Mbit/s.
 */
export const BandwidthRateSpec = z
  .strictObject({
    average: z
      .number()
      .int('a whole number of kilobytes per second')
      .min(1, 'at least 1 (kilobytes per second); leave the direction out for no limit')
      .max(100_000_000, 'at most 100000000 kilobytes per second (800 Gbit/s)')
      .describe("The long-term rate in kilobytes per second (libvirt's unit: 1000 bytes/s, so 10240 = 81.92 Mbit/s)."),
    peak: z
      .number()
      .int('a whole number of kilobytes per second')
      .min(1, 'at least 1 (kilobytes per second)')
      .max(100_000_000, 'at most 100000000 kilobytes per second (800 Gbit/s)')
      .optional()
      .describe('The rate a burst may reach, in kilobytes per second; not below average. Absent: bursts go out as fast as the link allows.'),
    burst: z
      .number()
      .int('a whole number of kilobytes')
      .min(2, 'at least 2 kilobytes (one full-size Ethernet frame must fit)')
      .max(4_194_303, 'at most 4194303 kilobytes (tc keeps a burst in 32 bits of bytes)')
      .optional()
      .describe('How much may be sent above the average at once, in kilobytes (1024 bytes). Default: a tenth of a second at the average rate.'),
  })
  .describe('One direction of a bandwidth limit (libvirt <inbound>/<outbound>).');

export const BandwidthSpec = z
  .strictObject({
    inbound: BandwidthRateSpec.optional().describe('Traffic to the host (what it downloads), as libvirt counts inbound. Absent: not limited.'),
    outbound: BandwidthRateSpec.optional().describe('Traffic from the host (what it uploads). Absent: not limited.'),
  })
  .describe(
    "A per-interface bandwidth limit, enforced outside the guest on the host-side port of each of its nics on a managed hypervisor's bridge (libvirt <bandwidth>, tc).",
  );

export const HostSpec = z
  .strictObject({
    kind: z
      .enum(['hypervisor', 'router', 'server', 'vm', 'container', 'sandbox', 'peer'])
      .describe('What the host is. vm, container, sandbox and peer are untrusted workloads; hypervisor, router and server are managed.'),
    id: z.number().int().nonnegative().optional().describe('VM or container id (Proxmox vmid), used in generated names.'),
    nics: z
      .record(Name, NicSpec)
      .optional()
      .describe('Interfaces: network or tunnel name → address. The key `internet` places the host on the internet at a public address.'),
    services: z.record(Name, Ports).optional().describe('Services offered: name → ports, e.g. api: tcp/11434.'),
    egress: z
      .enum(['isolated', 'filtered', 'vpn-only', 'open'])
      .optional()
      .describe(
        'Egress mode: isolated (nothing out), filtered (the policy decides; default), vpn-only (only through its tunnel, fail-closed), open (anything).',
      ),
    gateway: z
      .union([z.string(), z.literal(false)])
      .optional()
      .describe("Default route: an address on a connected network, or false for none. Default: its first network's gateway."),
    routes: z.array(RouteSpec).optional().describe('Extra static routes.'),
    uplink: z.string().optional().describe('Name of the physical uplink (e.g. enp1s0): this host routes to the internet through it.'),
    forward: z.boolean().optional().describe('Whether the host forwards packets (default: true for hypervisor and router).'),
    managed: z
      .boolean()
      .optional()
      .describe(
        "cordon enforces policy in this host's own firewall (default: true for hypervisor, router and server). A home router you do not control is managed: false.",
      ),
    via: Name.optional().describe('For a peer: the tunnel it connects through (shorthand for a nic on it).'),
    address: z.string().optional().describe('For a peer with `via`: its address inside the tunnel.'),
    tunnel: Name.optional().describe('For vpn-only: the tunnel all traffic must use (default: the only tunnel the host is on).'),
    control: z.array(Ref).optional().describe('Control channels this guest may use to reach managed hosts (host.service), exempt from no-vm-to-host.'),
    firewall: FirewallPlacement.optional(),
    publicKey: z
      .string()
      .regex(/^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/, 'a WireGuard key: 44 characters of base64, as `wg pubkey` prints it')
      .optional()
      .describe(
        "WireGuard public key of a tunnel member whose private key cordon does not hold (a customer's phone): the server's [Peer] uses it and the member's own config is rendered without PrivateKey. Absent: cordon's key store (render --keys DIR) generates and keeps the pair.",
      ),
    nameservers: z
      .array(z.string())
      .optional()
      .describe(
        "IPv4 resolvers written into the host's network config (netplan nameservers, ifupdown dns-nameservers), e.g. [1.1.1.1, 8.8.8.8]. Absent: the dns: zone's server where it serves the host, else none. The policy still decides whether the host reaches them.",
      ),
    bandwidth: BandwidthSpec.optional(),
    description: z.string().optional().describe('Free text.'),
  })
  .describe('Anything with interfaces.');

export const TunnelSpec = z
  .strictObject({
    server: Name.describe('The host that runs the tunnel server (listens).'),
    listen: z.number().int().min(1).max(65535).optional().describe('UDP listen port (default 51820).'),
    cidr: z.string().describe('Addresses inside the tunnel.'),
    endpoint: z.string().optional().describe("Address peers connect to (default: the server's internet address, else its uplink)."),
    ifname: z.string().optional().describe('Kernel interface name (default: the tunnel name).'),
    nameservers: z
      .array(z.string())
      .optional()
      .describe(
        "IPv4 resolvers for the tunnel's members (wg-quick `DNS =` in each member's config), e.g. [10.8.0.1]. A member's own hosts.X.nameservers win. Absent: the dns: zone's server where it answers on the tunnel, else none. The policy still decides whether members reach them.",
      ),
    description: z.string().optional().describe('Free text.'),
  })
  .describe('A WireGuard interface with its peers (hosts with a nic on it).');

export const RuleBody = z
  .strictObject({
    from: Refs,
    to: Refs,
    ports: Ports.optional().describe('Ports; default: the services named in `to`, else any.'),
    log: z.boolean().optional().describe('Log matches (rate-limited).'),
    rate: z
      .string()
      .regex(/^\d+\/(second|minute|hour)$/, 'a rate like 10/minute')
      .optional()
      .describe('Rate limit for new connections, e.g. 10/minute.'),
    comment: z.string().optional().describe('Why this rule exists; carried into rendered configs.'),
  })
  .describe('The body of a policy rule.');

export const PolicyRuleSpec = z.union([
  z.strictObject({ allow: RuleBody }).describe('Allow these flows.'),
  z.strictObject({ deny: RuleBody }).describe('Deny these flows (earlier rules win).'),
]);

export const ExpectSpec = z
  .strictObject({
    from: Ref,
    to: Ref,
    ports: Ports.optional().describe('Flows checked; default: any flow at all.'),
    verdict: z.enum(['allow', 'deny']).describe('allow: every listed flow passes. deny: none does.'),
    assume: z
      .enum(['configured', 'compromised', 'both'])
      .optional()
      .describe('Which view to check: configured, compromised or both (default: both for deny, configured for allow).'),
    comment: z.string().optional().describe('Where the expectation comes from, e.g. the seed step it encodes.'),
  })
  .describe('A fact that must hold.');

export const InvariantsSpec = z
  .strictObject({
    'no-internet': z.boolean().optional().describe('Isolated hosts and hosts only on egress:none networks never reach the internet (default on).'),
    'vpn-only': z.boolean().optional().describe('vpn-only hosts reach nothing except through their tunnel (default on).'),
    'no-vm-to-vm': z.boolean().optional().describe('Guests reach other guests only where a rule names both (default on).'),
    'no-vm-to-host': z.boolean().optional().describe('Guests reach managed hosts only on named control channels or rules naming the host (default on).'),
  })
  .describe('Built-in properties, judged with the guest assumed compromised.');

export const FirewallRuleSpec = z
  .strictObject({
    action: z.enum(['accept', 'drop', 'reject']),
    from: Refs.optional().describe('Source match (default any).'),
    to: Refs.optional().describe('Destination match (default any).'),
    ports: Ports.optional().describe('Protocol/port match (default any).'),
    iif: z.string().optional().describe('Input interface name.'),
    oif: z.string().optional().describe('Output interface name.'),
    port: z
      .string()
      .optional()
      .describe(
        'Bridge port the packet entered through (tap101i0), as iptables `-m physdev --physdev-in` matches it: lets an imported hypervisor rule set say which guest a packet came from.',
      ),
    state: z.enum(['new', 'established']).optional().describe('Connection state match.'),
    log: z.boolean().optional(),
    comment: z.string().optional(),
  })
  .describe('One hand-written rule.');

export const FirewallSpec = z
  .strictObject({
    policy: z.enum(['accept', 'drop']).optional().describe('Chain default when no rule matches (default accept, as Linux ships).'),
    rules: z.array(FirewallRuleSpec).optional(),
    comment: z.string().optional(),
  })
  .describe('A hand-written chain at one enforcement point, taken as-is instead of compiling the policy there.');

/** A DNS label or dotted name relative to the zone, e.g. `nginx` or `api.v1`. */
const DnsName = z
  .string()
  .regex(
    /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/,
    'a DNS name: labels of letters, digits and "-", separated by "."',
  )
  .describe('A name inside the zone, e.g. nginx (becomes nginx.<domain>).');

export const DnsSpec = z
  .strictObject({
    domain: z
      .string()
      .regex(
        /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$/,
        'a domain with at least two labels, e.g. internal.example.org',
      )
      .describe('The zone the server is authoritative for, e.g. internal.thinkheads.ai.'),
    server: Name.describe('The host that runs the resolver; it answers on its addresses on its networks (never on `internet`).'),
    upstream: z
      .array(z.string())
      .optional()
      .describe('Resolvers to forward other names to. Absent or empty: the server answers only for its zone (no-resolv).'),
    records: z
      .record(DnsName, checked('ref', 'the record value').describe('A host name (its address on a network it shares with the server) or an IPv4 address.'))
      .optional()
      .describe("Names in the zone → a host or an address, e.g. nginx: gateway. Absent or empty: only the server's own name."),
    ttl: z.number().int().min(0).max(2147483647).optional().describe('TTL of the records in seconds (default 300).'),
    description: z.string().optional().describe('Free text.'),
  })
  .describe('An internal DNS zone served by one host (dnsmasq or BIND).');

import { DEFAULT_WEBHOOK_EVENTS, GUARD_EVENT_TYPES } from './guard-defaults.js';

export { DEFAULT_WEBHOOK_EVENTS, GUARD_EVENT_TYPES };

/** Why a webhook URL is refused, or undefined: http or https, a host, no credentials (a secret in the spec would land in git). */
export function webhookUrlProblem(text: string): string | undefined {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return 'not a URL (expected http://HOST[:PORT]/PATH or https://…)';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `only http and https are supported, got '${u.protocol.replace(/:$/, '')}'`;
  if (u.username !== '' || u.password !== '') return 'the URL must not hold credentials (they would be in the spec); sign with secretEnv instead';
  if (u.hash !== '') return 'the URL must not have a fragment';
  return undefined;
}

export const WebhookSpec = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lower-case letters, digits and -, at most 63')
      .describe('Its name in messages and in the metrics label `webhook`.'),
    url: z
      .string()
      .max(2048)
      .superRefine((v, ctx) => {
        const problem = webhookUrlProblem(v);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .describe('Where each event is POSTed as JSON (the event as its JSON line): http or https, no credentials in it.'),
    events: z
      .array(z.enum(GUARD_EVENT_TYPES))
      .min(1)
      .optional()
      .describe(`The event types it gets (default: ${DEFAULT_WEBHOOK_EVENTS.join(', ')}; an empty list is refused: leave the webhook out instead).`),
    secretEnv: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]{0,127}$/, 'an environment variable name (A-Z, 0-9, _)')
      .optional()
      .describe(
        'The environment variable holding the signing secret (`whsec_` + base64, the Standard Webhooks way: webhook-id, webhook-timestamp, webhook-signature headers); the secret itself never goes in the spec. Unsigned without it.',
      ),
  })
  .describe('One webhook of the guard: chosen events POSTed as JSON, with a bounded queue and a timeout; failures are counted.');

export const GuardSpec = z
  .strictObject({
    blockedPerMinute: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .optional()
      .describe("A host's blocked attempts per minute above which the guard writes an `anomaly` event and the rendered alert fires (default 60)."),
    connectionsPerMinute: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .optional()
      .describe(
        "A host's new connections (allowed or blocked) per minute above which the guard writes an `anomaly` event and the rendered alert fires (default 600).",
      ),
    deviations: z
      .number()
      .min(1)
      .max(100)
      .optional()
      .describe("How many standard deviations above a host's moving average a rate must be to be an `anomaly` (default 4)."),
    vpnDownAfter: z
      .number()
      .int()
      .min(1)
      .max(86_400)
      .optional()
      .describe("Seconds without a WireGuard handshake after which a peer is down (default 180, WireGuard's own reject-after time)."),
    webhooks: z
      .array(WebhookSpec)
      .max(16)
      .optional()
      .superRefine((list, ctx) => {
        const seen = new Set<string>();
        list?.forEach((w, i) => {
          if (seen.has(w.name)) ctx.addIssue({ code: 'custom', message: `webhook name '${w.name}' is used twice`, path: [i, 'name'] });
          seen.add(w.name);
        });
      })
      .describe('Where the guard POSTs events as they happen (seed 001: "Alerted: unusual traffic"); none unless listed.'),
    onAnomaly: z
      .enum(['alert', 'killswitch'])
      .optional()
      .describe(
        'What the guard does on an upward `anomaly`: `alert` (the event, the webhooks; default) or `killswitch` (also the kill switch on the watched host, as --on-drift killswitch: until the next `cordon apply`).',
      ),
    description: z.string().optional().describe('Free text.'),
  })
  .describe('What the guard (`cordon guard`) and the rendered Prometheus alerts treat as unusual, and whom it tells; every field optional.');

/**
 * A port forward (DNAT): the internet (and the LAN behind the uplink) reaches one guest service at
 * the forwarding host's own address. It publishes the service and nothing else; the policy still
 * decides who may use it (an `allow` from `internet` or `lan` to the service).
 */
export const ForwardSpec = z
  .strictObject({
    to: Ref.describe('The published service: host.service, e.g. gateway.https (tcp and udp ports only).'),
    via: Name.optional().describe(
      "The host that rewrites the destination (DNAT): a managed host with an uplink or an internet nic, on a network with the target. Default: the host holding the gateway of the target's network.",
    ),
    port: z
      .number()
      .int()
      .min(1)
      .max(65535)
      .optional()
      .describe("Public port, when it differs from the service's own (only for a service of one port). Default: the service's ports."),
    comment: z.string().optional().describe('Why the service is published; carried into rendered configs.'),
  })
  .describe('A published service: public address and port of the forwarding host → a guest service.');

export const SpecSchema = z
  .strictObject({
    version: z.literal(1).describe('Spec format version; 1.'),
    description: z.string().optional(),
    networks: z.record(Name, NetworkSpec).optional(),
    hosts: z.record(Name, HostSpec).optional(),
    tunnels: z.record(Name, TunnelSpec).optional(),
    groups: z.record(Name, z.array(Ref)).optional().describe('Named sets of hosts, networks, services or other groups.'),
    policy: z.array(PolicyRuleSpec).optional().describe('Ordered rules; first match wins; default deny.'),
    expect: z.array(ExpectSpec).optional(),
    invariants: InvariantsSpec.optional(),
    firewalls: z
      .record(checked('point', 'the enforcement point'), FirewallSpec)
      .optional()
      .describe('Hand-written chains keyed by enforcement point (HOST:forward|input|output|guest-in|guest-out).'),
    dns: DnsSpec.optional(),
    guard: GuardSpec.optional(),

    forwards: z
      .array(ForwardSpec)
      .optional()
      .describe('Port forwards (DNAT) from the internet to guest services. Absent or empty: nothing from the internet reaches a private address.'),
  })
  .describe('A cordon spec.');

export type Spec = z.infer<typeof SpecSchema>;
export type NetworkSpecT = z.infer<typeof NetworkSpec>;
export type HostSpecT = z.infer<typeof HostSpec>;
export type TunnelSpecT = z.infer<typeof TunnelSpec>;
export type PolicyRuleSpecT = z.infer<typeof PolicyRuleSpec>;
export type RuleBodyT = z.infer<typeof RuleBody>;
export type ExpectSpecT = z.infer<typeof ExpectSpec>;
export type FirewallSpecT = z.infer<typeof FirewallSpec>;
export type FirewallRuleSpecT = z.infer<typeof FirewallRuleSpec>;
export type DnsSpecT = z.infer<typeof DnsSpec>;
export type GuardSpecT = z.infer<typeof GuardSpec>;
export type BandwidthSpecT = z.infer<typeof BandwidthSpec>;

export type ForwardSpecT = z.infer<typeof ForwardSpec>;
