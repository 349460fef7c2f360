/**
 * spec → model. The one place where names are checked against each other, addresses parsed and
 * every default decided. All problems are collected as diagnostics; the model is returned only
 * when there is no error.
 */
import { createHash } from 'node:crypto';
import { diag, hasErrors, type Diagnostic, type DiagCode } from '../diag/diagnostic.js';
import { Code } from '../diag/codes.js';
import type { PathSeg, SourceMap } from '../spec/parse.js';
import type { BandwidthSpecT, DnsSpecT, FirewallRuleSpecT, HostSpecT, RuleBodyT, Spec } from '../spec/schema.js';
import { DEFAULT_WEBHOOK_EVENTS } from '../spec/guard-defaults.js';
import { visible } from '../util/visible.js';
import { ALL_FLOWS, flowUnion, isPortSpecError, NO_FLOWS, parsePortSpec, type FlowSet } from '../util/flows.js';
import { cidrRange, formatCidr, formatIPv4, inRange, parseCidr, parseIPv4, rangesOverlap, type Cidr } from '../util/ip.js';
import * as R from '../util/rangeset.js';
import { unknownNameHint } from '../util/suggest.js';
import { internetSpace, lanSpace, targetsAddrs } from './addresses.js';
import { resolveForwards } from './forwards.js';
import { guestPortName, ifnameHasUnsafeChars, validIfname } from './names.js';
import {
  GUEST_KINDS,
  HOOKS,
  UNTRUSTED_KINDS,
  type Assume,
  type Bandwidth,
  type BandwidthRate,
  type DefaultRoute,
  type Dns,
  type DnsRecord,
  GUARD_DEFAULTS,
  type EgressMode,
  type Expectation,
  type HandFirewall,
  type HandRule,
  type Hook,
  type Host,
  type Model,
  type Network,
  type Nic,
  type Origin,
  type PolicyRule,
  type Route,
  type Target,
  type Tunnel,
} from './types.js';

export type ResolveResult =
  | { readonly ok: true; readonly model: Model; readonly diagnostics: readonly Diagnostic[] }
  | { readonly ok: false; readonly diagnostics: readonly Diagnostic[] };

const BUILTINS = ['internet', 'lan', 'any'] as const;

export function resolveSpec(spec: Spec, source: SourceMap): ResolveResult {
  return new Resolver(spec, source).run();
}

class Resolver {
  private readonly ds: Diagnostic[] = [];
  private readonly networks = new Map<string, Network>();
  private readonly tunnels = new Map<string, Tunnel>();
  private readonly hosts = new Map<string, Host>();
  private readonly groups = new Map<string, Target[]>();
  private readonly usedGroups = new Set<string>();
  private readonly usedServices = new Set<string>();
  private readonly file: string;

  constructor(
    private readonly spec: Spec,
    private readonly src: SourceMap,
  ) {
    this.file = src.file;
  }

  private err(code: DiagCode, message: string, path: readonly PathSeg[], hint?: string, key = false): void {
    this.ds.push(diag(code, 'error', message, this.src.pos(path, key), hint));
  }

  /** An interface name the spec sets or implies: CORDON018 for characters no target may carry raw, CORDON017 for length. */
  private checkIfname(name: string, path: readonly PathSeg[], lengthHint?: string, key = false): void {
    const bad = validIfname(name);
    if (bad === undefined) return;
    if (ifnameHasUnsafeChars(name))
      this.err(
        Code.UNSAFE_TEXT,
        bad,
        path,
        'an interface name is written into nft, iptables, shell and config files as it is, so only these characters are accepted',
        key,
      );
    else this.err(Code.KERNEL_NAME, bad, path, lengthHint, key);
  }

  private warn(code: DiagCode, message: string, path: readonly PathSeg[], hint?: string): void {
    this.ds.push(diag(code, 'warning', message, this.src.pos(path), hint));
  }

  origin(path: readonly PathSeg[], text: string): Origin {
    // Origin texts quote the spec (names, hand-written comments) and are printed to terminals and
    // written into configs: no raw control or bidi character leaves the model.
    return this.src.origin(path, visible(text));
  }

  run(): ResolveResult {
    this.checkNameClashes();
    this.resolveNetworks();
    this.resolveTunnels();
    const hostSpecs = this.spec.hosts ?? {};
    const rawNics = this.resolveNics(hostSpecs);
    const owners = this.networkOwners(hostSpecs, rawNics);
    for (const [name, n] of this.networks) this.networks.set(name, { ...n, owner: owners.get(name) });
    this.checkGateways(rawNics);
    this.checkPortsAndPools(rawNics);
    // Groups need hosts' services, hosts need targets (control): resolve hosts in two steps.
    const hostNames = Object.keys(hostSpecs);
    for (let i = 0; i < hostNames.length; i++) {
      const name = hostNames[i]!;
      this.hosts.set(name, this.resolveHost(name, hostSpecs[name]!, rawNics.get(name) ?? []));
    }
    this.resolveGroups();
    for (let i = 0; i < hostNames.length; i++) {
      const name = hostNames[i]!;
      const h = hostSpecs[name]!;
      // Most hosts have no `control:`; theirs stays the empty list resolveHost gave (no copy of the host).
      if (h.control === undefined) continue;
      const host = this.hosts.get(name)!;
      const control = h.control.flatMap((r, i) => this.resolveRef(r, ['hosts', name, 'control', i]));
      this.hosts.set(name, { ...host, control });
    }
    this.checkTunnelEndpoints();
    const declared = R.normalize([...this.networks.values(), ...this.tunnels.values()].map((n) => [n.range.lo, n.range.hi] as const));
    const partial = {
      file: this.file,
      networks: this.networks,
      tunnels: this.tunnels,
      hosts: this.hosts,
      // Hosts placed on the internet (nics key `internet`) are themselves, not "the internet".
      internet: R.subtract(internetSpace(declared), R.normalize(this.internetHosts())),
      lan: this.networks.has('lan')
        ? [[this.networks.get('lan')!.range.lo, this.networks.get('lan')!.range.hi] as const]
        : R.union(lanSpace(declared), this.bridgedLan()),
    };
    const policy = (this.spec.policy ?? []).map((r, i) => this.resolveRule(r, i));
    const expectations = (this.spec.expect ?? []).flatMap((e, i) => this.resolveExpect(e, i));
    const inv = this.spec.invariants ?? {};
    const invariants = {
      noInternet: inv['no-internet'] ?? true,
      vpnOnly: inv['vpn-only'] ?? true,
      noVmToVm: inv['no-vm-to-vm'] ?? true,
      noVmToHost: inv['no-vm-to-host'] ?? true,
      origin: this.origin(['invariants'], 'invariants'),
    };
    const modelSoFar = { ...partial, groups: this.groups } as unknown as Model;
    const firewalls = this.resolveFirewalls(modelSoFar);
    const dns = this.spec.dns ? this.resolveDns(this.spec.dns) : undefined;
    const g = this.spec.guard ?? {};
    const guard = {
      blockedPerMinute: g.blockedPerMinute ?? GUARD_DEFAULTS.blockedPerMinute,
      connectionsPerMinute: g.connectionsPerMinute ?? GUARD_DEFAULTS.connectionsPerMinute,
      deviations: g.deviations ?? GUARD_DEFAULTS.deviations,
      vpnDownAfterS: g.vpnDownAfter ?? GUARD_DEFAULTS.vpnDownAfterS,
      webhooks: (g.webhooks ?? []).map((w, i) => ({
        name: w.name,
        url: w.url,
        events: w.events ?? [...DEFAULT_WEBHOOK_EVENTS],
        secretEnv: w.secretEnv ?? null,
        origin: this.origin(['guard', 'webhooks', i], `webhook ${w.name}`),
      })),
      onAnomaly: g.onAnomaly ?? GUARD_DEFAULTS.onAnomaly,
      origin: this.origin(['guard'], 'guard'),
    };
    const forwards = resolveForwards(
      {
        hosts: this.hosts,
        networks: this.networks,
        tunnels: this.tunnels,
        resolveRef: (ref, path) => this.resolveRef(ref, path),
        err: (code, message, path, hint) => this.err(code, message, path, hint),
        origin: (path, text) => this.origin(path, text),
      },
      this.spec.forwards ?? [],
    );
    if (hasErrors(this.ds)) return { ok: false, diagnostics: this.ds };
    const model: Model = {
      ...partial,
      hash: createHash('sha256').update(this.src.text).digest('hex').slice(0, 16),
      groups: this.groups,
      policy,
      expectations,
      invariants,
      firewalls,
      dns,
      guard,
      forwards,
      used: { groups: this.usedGroups, services: this.usedServices },
    };
    return { ok: true, model, diagnostics: this.ds };
  }

  /** The addresses of hosts placed on the internet (nics key `internet`), in host order. */
  private internetHosts(): R.Span[] {
    const out: R.Span[] = [];
    for (const h of this.hosts.values()) {
      const nics = h.nics;
      for (let i = 0; i < nics.length; i++) if (nics[i]!.segment === 'internet') out.push([nics[i]!.address, nics[i]!.address]);
    }
    return out;
  }

  private checkNameClashes(): void {
    const seen = new Map<string, string>();
    const sections = ['networks', 'tunnels', 'hosts', 'groups'] as const;
    for (const section of sections) {
      for (const name of Object.keys(this.spec[section] ?? {})) {
        if ((BUILTINS as readonly string[]).includes(name) && !(name === 'lan' && section === 'networks')) {
          this.err(
            Code.NAME_CLASH,
            `'${name}' is a built-in endpoint and cannot be declared in ${section}`,
            [section, name],
            `rename it; built-ins are ${BUILTINS.join(', ')}`,
            true,
          );
          continue;
        }
        const prev = seen.get(name);
        if (prev)
          this.err(
            Code.NAME_CLASH,
            `name '${name}' is declared both in ${prev} and in ${section}`,
            [section, name],
            'names of networks, tunnels, hosts and groups share one namespace',
            true,
          );
        else seen.set(name, section);
      }
    }
  }

  private parseCidrAt(text: string, path: readonly PathSeg[]): Cidr | undefined {
    const c = parseCidr(text, true);
    if (c) return c;
    const loose = parseCidr(text, false);
    if (loose) {
      this.err(Code.BAD_ADDRESS, `'${text}' has host bits set`, path, `did you mean '${formatCidr(loose)}'?`);
    } else if (text.includes(':')) {
      this.err(Code.IPV6_UNSUPPORTED, `'${text}' looks like IPv6, which cordon does not model yet`, path, 'use IPv4 prefixes; IPv6 support is planned');
    } else {
      this.err(Code.BAD_ADDRESS, `'${text}' is not an IPv4 CIDR`, path, 'expected a prefix like 192.168.100.0/24');
    }
    return undefined;
  }

  private parseAddrAt(text: string, path: readonly PathSeg[]): number | undefined {
    const a = parseIPv4(text);
    if (a !== undefined) return a;
    if (text.includes(':'))
      this.err(Code.IPV6_UNSUPPORTED, `'${text}' looks like IPv6, which cordon does not model yet`, path, 'use an IPv4 address; IPv6 support is planned');
    else if (text.includes('/'))
      this.err(Code.BAD_ADDRESS, `'${text}' is a prefix, but an address is expected here`, path, `write the address alone, e.g. '${text.split('/')[0]}'`);
    else this.err(Code.BAD_ADDRESS, `'${text}' is not an IPv4 address`, path, 'expected an address like 192.168.100.20');
    return undefined;
  }

  private resolveNetworks(): void {
    const entries = Object.entries(this.spec.networks ?? {});
    for (const [name, n] of entries) {
      const path = ['networks', name];
      const cidr = this.parseCidrAt(n.cidr, [...path, 'cidr']);
      if (!cidr) continue;
      const range = cidrRange(cidr);
      let gateway: number | undefined;
      if (n.gateway !== undefined) {
        gateway = this.parseAddrAt(n.gateway, [...path, 'gateway']);
        if (gateway !== undefined && !inRange(gateway, range)) {
          this.err(
            Code.ADDRESS_OUTSIDE_NETWORK,
            `gateway ${n.gateway} is not inside network '${name}' (${formatCidr(cidr)})`,
            [...path, 'gateway'],
            `addresses on '${name}' run from ${formatIPv4(range.lo + 1)} to ${formatIPv4(range.hi - 1)}`,
          );
        }
      }
      const bridge = n.bridge ?? name;
      this.checkIfname(
        bridge,
        n.bridge !== undefined ? [...path, 'bridge'] : path,
        `set networks.${name}.bridge to a shorter kernel name`,
        n.bridge === undefined,
      );
      const egress = n.egress ?? 'none';
      const ports: string[] = [];
      (n.ports ?? []).forEach((port, i) => {
        const at = [...path, 'ports', i];
        if (validIfname(port) !== undefined) return this.checkIfname(port, at);
        if (ports.includes(port)) return this.err(Code.NAME_CLASH, `port '${port}' is listed twice on network '${name}'`, at, 'list each port once');
        ports.push(port);
      });
      this.networks.set(name, {
        name,
        kind: 'network',
        cidr,
        range,
        gateway,
        egress,
        bridge,
        owner: undefined,
        ports,
        portsOrigin: this.origin(n.ports !== undefined ? [...path, 'ports'] : path, `network ${name} ports ${(n.ports ?? []).join(', ') || 'none'}`),
        dhcp: n.dhcp !== undefined ? this.dhcpPool(name, n.dhcp, range, gateway) : undefined,
        origin: this.origin(path, `network ${name} ${formatCidr(cidr)}`),
      });
    }
    this.checkOverlaps([...this.networks.values()].map((n) => ({ name: n.name, range: n.range, cidr: n.cidr, path: ['networks', n.name, 'cidr'] })));
  }

  /** A network's DHCP pool: both ends parsed, inside the network (not its network or broadcast address), in order, clear of the gateway. */
  private dhcpPool(
    name: string,
    d: { start: string; end: string },
    range: { lo: number; hi: number },
    gateway: number | undefined,
  ): { start: number; end: number } | undefined {
    const path: PathSeg[] = ['networks', name, 'dhcp'];
    const ends: (number | undefined)[] = (['start', 'end'] as const).map((k) => {
      const a = this.parseAddrAt(d[k], [...path, k]);
      if (a === undefined) return undefined;
      if (a <= range.lo || a >= range.hi) {
        this.err(
          Code.ADDRESS_OUTSIDE_NETWORK,
          `dhcp ${k} ${d[k]} is not a host address of network '${name}'`,
          [...path, k],
          `addresses on '${name}' run from ${formatIPv4(range.lo + 1)} to ${formatIPv4(range.hi - 1)}`,
        );
        return undefined;
      }
      return a;
    });
    const [start, end] = ends;
    if (start === undefined || end === undefined) return undefined;
    if (start > end) {
      this.err(
        Code.BAD_ADDRESS,
        `dhcp range of network '${name}' ends (${d.end}) before it starts (${d.start})`,
        [...path, 'end'],
        `swap them: start: ${d.end}, end: ${d.start}`,
      );
      return undefined;
    }
    if (gateway !== undefined && gateway >= start && gateway <= end) {
      this.err(
        Code.DUPLICATE_ADDRESS,
        `dhcp range ${d.start}-${d.end} of network '${name}' holds its gateway ${formatIPv4(gateway)}`,
        path,
        'start the pool after the gateway (or end it before), or DHCP may hand the gateway address to a guest',
      );
      return undefined;
    }
    return { start, end };
  }

  /**
   * Checks that need the hosts: a DHCP pool clear of every static address on its network, and
   * physical ports that are free (not a nic, bridge, tunnel or another bridge's port) on a network
   * a managed hypervisor owns.
   */
  private checkPortsAndPools(rawNics: Map<string, { segment: string; address: number; path: PathSeg[] }[]>): void {
    const taken = new Map<string, string>();
    for (const n of this.networks.values()) taken.set(n.bridge, `the bridge of network '${n.name}'`);
    for (const t of this.tunnels.values()) taken.set(t.ifname, `the interface of tunnel '${t.name}'`);
    for (const n of this.networks.values()) {
      if (n.dhcp !== undefined) {
        const { start, end } = n.dhcp;
        for (const [host, list] of rawNics)
          for (const x of list) {
            if (x.segment !== n.name || x.address < start || x.address > end) continue;
            const at = this.src.pos(x.path);
            this.err(
              Code.DUPLICATE_ADDRESS,
              `dhcp range ${formatIPv4(start)}-${formatIPv4(end)} of network '${n.name}' holds ${formatIPv4(x.address)}, the static address of host '${host}'`,
              ['networks', n.name, 'dhcp'],
              `keep static addresses out of the pool (host '${host}' at ${at.line > 0 ? `line ${at.line}, ` : ''}${at.path}), or DHCP hands them to another guest`,
            );
          }
      }
      // The hypervisor holding the bridge: its owner, or (imported interfaces, whose firewall was
      // not read) an unmanaged one, which bridges the LAN in but filters nothing.
      const holder =
        n.owner ?? [...rawNics.entries()].find(([h, list]) => this.spec.hosts?.[h]?.kind === 'hypervisor' && list.some((x) => x.segment === n.name))?.[0];
      n.ports.forEach((port, i) => {
        const at: PathSeg[] = ['networks', n.name, 'ports', i];
        if (holder === undefined) {
          this.err(
            Code.ROUTING,
            `network '${n.name}' has physical port '${port}' but no hypervisor holds its bridge`,
            at,
            'a bridge port is configured on the hypervisor that holds the bridge: give network a hypervisor (kind: hypervisor) with a nic on it',
          );
          return;
        }
        const owner = this.spec.hosts?.[holder];
        const clash =
          taken.get(port) ??
          (owner?.uplink === port && (n.gateway === undefined || (rawNics.get(holder) ?? []).some((x) => x.address === n.gateway))
            ? `the uplink '${holder}' routes through`
            : undefined) ??
          Object.entries(owner?.nics ?? {}).flatMap(([seg, v]) =>
            typeof v === 'object' && v.ifname === port ? [`the interface of '${holder}' on ${seg}`] : [],
          )[0];
        if (clash !== undefined) {
          this.err(
            Code.NAME_CLASH,
            `port '${port}' of network '${n.name}' is ${clash}`,
            at,
            'a bridge port carries no address or route of its own (the kernel sees its traffic on the bridge): name a free physical interface, or move the uplink onto the bridge',
          );
          return;
        }
        taken.set(port, `already a port of network '${n.name}'`);
      });
    }
  }

  /**
   * The LAN beyond bridges' physical ports: every host address of a network with `ports:` that no
   * declared host holds. Those devices share the segment with its guests, so they are part of the
   * `lan` endpoint (where the matrix shows what reaches them and what they reach).
   */
  private bridgedLan(): R.RangeSet {
    let out: R.RangeSet = R.EMPTY;
    for (const n of this.networks.values()) {
      if (n.ports.length === 0) continue;
      const held = R.normalize([...this.hosts.values()].flatMap((h) => h.nics.filter((x) => x.segment === n.name).map((x) => [x.address, x.address] as const)));
      const hosts: R.RangeSet = n.cidr.len < 31 ? [[n.range.lo + 1, n.range.hi - 1]] : [[n.range.lo, n.range.hi]];
      out = R.union(out, R.subtract(hosts, held));
    }
    return out;
  }

  private checkOverlaps(items: { name: string; range: { lo: number; hi: number }; cidr: Cidr; path: PathSeg[] }[]): void {
    for (let i = 0; i < items.length; i++) {
      for (let j = 0; j < i; j++) {
        const a = items[i]!;
        const b = items[j]!;
        if (rangesOverlap(a.range, b.range)) {
          this.err(
            Code.OVERLAPPING_NETWORKS,
            `'${a.name}' (${formatCidr(a.cidr)}) overlaps '${b.name}' (${formatCidr(b.cidr)})`,
            a.path,
            'two segments with overlapping prefixes make routing ambiguous; give each its own prefix',
          );
        }
      }
    }
  }

  private resolveTunnels(): void {
    for (const [name, t] of Object.entries(this.spec.tunnels ?? {})) {
      const path = ['tunnels', name];
      const cidr = this.parseCidrAt(t.cidr, [...path, 'cidr']);
      if (!cidr) continue;
      if (!(this.spec.hosts ?? {})[t.server]) {
        this.err(
          Code.UNKNOWN_NAME,
          `tunnel '${name}': unknown server host '${t.server}'`,
          [...path, 'server'],
          unknownNameHint(t.server, Object.keys(this.spec.hosts ?? {})),
        );
      }
      const ifname = t.ifname ?? name;
      this.checkIfname(
        ifname,
        t.ifname !== undefined ? [...path, 'ifname'] : path,
        `set tunnels.${name}.ifname to a shorter kernel name`,
        t.ifname === undefined,
      );
      let endpoint = 0;
      const withPort = t.endpoint !== undefined ? /^([^:]+):(\d+)$/.exec(t.endpoint) : null;
      if (withPort) {
        // 'host:port' has a colon but is not IPv6: say what it is instead of "looks like IPv6".
        this.err(
          Code.BAD_ADDRESS,
          `'${t.endpoint}' is an address with a port, but endpoint takes the address alone`,
          [...path, 'endpoint'],
          `write endpoint: ${withPort[1]} and listen: ${withPort[2]} (the port the server listens on is the tunnel's listen)`,
        );
      } else if (t.endpoint !== undefined) endpoint = this.parseAddrAt(t.endpoint, [...path, 'endpoint']) ?? 0;
      this.tunnels.set(name, {
        name,
        kind: 'tunnel',
        cidr,
        range: cidrRange(cidr),
        server: t.server,
        listen: t.listen ?? 51820,
        endpoint,
        ifname,
        nameservers: (t.nameservers ?? []).flatMap((a, i) => this.parseAddrAt(a, [...path, 'nameservers', i]) ?? []),
        origin: this.origin(path, `tunnel ${name} ${formatCidr(cidr)}`),
      });
    }
    const all = [...this.networks.values(), ...this.tunnels.values()].map((n) => ({
      name: n.name,
      range: n.range,
      cidr: n.cidr,
      path: [n.kind === 'network' ? 'networks' : 'tunnels', n.name, 'cidr'] as PathSeg[],
    }));
    // Only report tunnel-vs-network overlaps here; network pairs were reported above.
    const nets = all.filter((x) => x.path[0] === 'networks');
    for (const t of all.filter((x) => x.path[0] === 'tunnels'))
      this.checkOverlaps([...nets, t].filter((x, i, arr) => i === arr.length - 1 || rangesOverlap(x.range, t.range)));
  }

  private resolveNics(
    hostSpecs: Record<string, HostSpecT>,
  ): Map<string, { segment: string; address: number; ifname?: string; port?: string; path: PathSeg[] }[]> {
    const out = new Map<string, { segment: string; address: number; ifname?: string; port?: string; path: PathSeg[] }[]>();
    const byAddr = new Map<number, { host: string; path: PathSeg[] }>();
    const segNames = ['internet', ...this.networks.keys(), ...this.tunnels.keys()];
    const hostNames = Object.keys(hostSpecs);
    for (let n = 0; n < hostNames.length; n++) {
      const name = hostNames[n]!;
      const h = hostSpecs[name]!;
      const list: { segment: string; address: number; ifname?: string; port?: string; path: PathSeg[] }[] = [];
      // The nics as (segment, value, path), in the spec's order, the peer's `via` address last.
      const segs: string[] = h.nics === undefined ? [] : Object.keys(h.nics);
      const values: (string | { address: string; ifname?: string; port?: string })[] = [];
      const paths: PathSeg[][] = [];
      for (let i = 0; i < segs.length; i++) {
        values.push(h.nics![segs[i]!]!);
        paths.push(['hosts', name, 'nics', segs[i]!]);
      }
      if (h.via !== undefined) {
        if (h.address === undefined) {
          const t = this.tunnels.get(h.via);
          this.err(
            Code.TUNNEL_INCONSISTENT,
            `host '${name}' has via: ${h.via} but no address inside the tunnel`,
            ['hosts', name, 'via'],
            `add \`address: <ip in ${t ? formatCidr(t.cidr) : 'the tunnel cidr'}>\` beside via:`,
          );
        } else {
          segs.push(h.via);
          values.push(h.address);
          paths.push(['hosts', name, 'address']);
        }
      } else if (h.address !== undefined) {
        this.err(
          Code.SCHEMA,
          `host '${name}' has an address but no via`,
          ['hosts', name, 'address'],
          'address is the tunnel address of a peer; put other addresses under nics',
        );
      }
      for (let k = 0; k < segs.length; k++) {
        const seg = segs[k]!;
        const v = values[k]!;
        const path = paths[k]!;
        const addrText = typeof v === 'string' ? v : v.address;
        const segment = this.networks.get(seg) ?? this.tunnels.get(seg);
        if (!segment && seg !== 'internet') {
          this.err(Code.UNKNOWN_NAME, `host '${name}': unknown network or tunnel '${seg}'`, path, unknownNameHint(seg, segNames), true);
          continue;
        }
        const addrPath = typeof v === 'string' ? path : [...path, 'address'];
        const address = this.parseAddrAt(addrText, addrPath);
        if (address === undefined) continue;
        if (segment && !inRange(address, segment.range)) {
          this.err(
            Code.ADDRESS_OUTSIDE_NETWORK,
            `address ${addrText} of host '${name}' is not inside ${segment.kind} '${seg}' (${formatCidr(segment.cidr)})`,
            addrPath,
            `addresses on '${seg}' run from ${formatIPv4(segment.range.lo + 1)} to ${formatIPv4(segment.range.hi - 1)}`,
          );
          continue;
        }
        if (segment && segment.cidr.len < 31 && (address === segment.range.lo || address === segment.range.hi)) {
          this.err(
            Code.ADDRESS_OUTSIDE_NETWORK,
            `address ${addrText} of host '${name}' is the ${address === segment.range.lo ? 'network' : 'broadcast'} address of '${seg}'`,
            addrPath,
          );
          continue;
        }
        if (seg === 'internet' && !R.contains(internetSpace(R.EMPTY), address)) {
          this.err(
            Code.ADDRESS_OUTSIDE_NETWORK,
            `host '${name}' is placed on the internet at ${addrText}, which is not a public address`,
            addrPath,
            'use a public or TEST-NET address (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24)',
          );
          continue;
        }
        const prev = byAddr.get(address);
        if (prev) {
          const first = this.src.pos(prev.path);
          this.err(
            Code.DUPLICATE_ADDRESS,
            `address ${addrText} of host '${name}' is already used by host '${prev.host}'`,
            addrPath,
            `give each host its own address; '${prev.host}' has it at ${first.line > 0 ? `line ${first.line}, ` : ''}${first.path}`,
          );
          continue;
        }
        byAddr.set(address, { host: name, path: addrPath });
        // One literal shape (not spreads of optional parts): this list is only read by field.
        list.push({
          segment: seg,
          address,
          ifname: typeof v === 'object' ? v.ifname : undefined,
          port: typeof v === 'object' ? v.port : undefined,
          path: addrPath,
        });
      }
      out.set(name, list);
    }
    return out;
  }

  /** The managed host whose bridge a network is: the hypervisor holding its gateway, else its only hypervisor. */
  private networkOwners(hostSpecs: Record<string, HostSpecT>, nics: Map<string, { segment: string; address: number }[]>): Map<string, string | undefined> {
    const owners = new Map<string, string | undefined>();
    // The hosts on each segment in host order, in one pass (a filter of every host per network
    // was networks × hosts).
    const bySegment = new Map<string, string[]>();
    // forEach, not `for … of` with destructuring: no iterator result per host in this cold loop.
    nics.forEach((list, h) => {
      for (let i = 0; i < list.length; i++) {
        const seg = list[i]!.segment;
        let again = false;
        for (let j = 0; j < i && !again; j++) again = list[j]!.segment === seg;
        if (again) continue;
        const members = bySegment.get(seg);
        if (members) members.push(h);
        else bySegment.set(seg, [h]);
      }
    });
    for (const n of this.networks.values()) {
      const members = bySegment.get(n.name) ?? [];
      const hyper = members.filter((h) => hostSpecs[h]?.kind === 'hypervisor' && hostSpecs[h]?.managed !== false);
      const gwHost = n.gateway !== undefined ? members.find((h) => nics.get(h)!.some((x) => x.address === n.gateway)) : undefined;
      let owner: string | undefined;
      if (gwHost !== undefined) owner = hyper.includes(gwHost) ? gwHost : undefined;
      else if (hyper.length === 1) owner = hyper[0];
      owners.set(n.name, owner);
    }
    return owners;
  }

  private checkGateways(nics: Map<string, { segment: string; address: number }[]>): void {
    const owned = new Set<number>();
    nics.forEach((list) => {
      for (let i = 0; i < list.length; i++) owned.add(list[i]!.address);
    });
    for (const n of this.networks.values()) {
      if (n.gateway !== undefined && !owned.has(n.gateway) && n.egress === 'none') {
        this.warn(
          Code.ROUTING,
          `gateway ${formatIPv4(n.gateway)} of network '${n.name}' belongs to no declared host`,
          ['networks', n.name, 'gateway'],
          'declare the router that holds it so its firewall can be checked',
        );
      }
    }
  }

  private resolveHost(name: string, h: HostSpecT, raw: { segment: string; address: number; ifname?: string; port?: string; path: PathSeg[] }[]): Host {
    const path = ['hosts', name];
    const trusted = !UNTRUSTED_KINDS.has(h.kind);
    const managed = h.managed ?? (h.kind === 'hypervisor' || h.kind === 'router' || h.kind === 'server');
    const forward = h.forward ?? (h.kind === 'hypervisor' || h.kind === 'router');
    let ethIndex = 0;
    const nics: Nic[] = [];
    for (let i = 0; i < raw.length; i++) {
      const r = raw[i]!;
      const net = this.networks.get(r.segment);
      const tun = this.tunnels.get(r.segment);
      let ifname: string;
      let port: string | undefined;
      if (tun) ifname = tun.ifname;
      else if (net && net.owner === name) ifname = net.bridge;
      else ifname = r.ifname ?? `eth${ethIndex++}`;
      if (r.ifname && (tun || (net && net.owner === name))) ifname = r.ifname;
      if (net && net.owner !== undefined && net.owner !== name) port = r.port ?? guestPortName(name, h.id, i, h.kind === 'container' ? 'container' : 'vm');
      // Bridge and tunnel names are checked where they are declared; here only the names this nic sets.
      // A written name is checked even where it goes unused (a port on a bridge the host owns itself).
      if (r.ifname !== undefined && validIfname(r.ifname)) this.checkIfname(r.ifname, [...nicPathOf(r.path), 'ifname']);
      else if (r.port !== undefined && validIfname(r.port)) this.checkIfname(r.port, [...nicPathOf(r.path), 'port']);
      else if (port !== undefined) this.checkIfname(port, r.path);
      nics.push({ segment: r.segment, address: r.address, ifname, port });
    }
    const services = new Map<string, FlowSet>();
    if (h.services !== undefined) {
      const names = Object.keys(h.services);
      for (let i = 0; i < names.length; i++) {
        const sname = names[i]!;
        const ports = h.services[sname]!;
        const f = this.knownPorts(ports) ?? this.parsePorts(ports, [...path, 'services', sname]);
        if (f) services.set(sname, f);
      }
    }
    const egress: EgressMode = h.egress ?? (trusted ? 'open' : 'filtered');
    const hostTunnels: string[] = [];
    for (let i = 0; i < nics.length; i++) if (this.tunnels.has(nics[i]!.segment)) hostTunnels.push(nics[i]!.segment);
    let vpnTunnel: string | undefined;
    if (egress === 'vpn-only') {
      vpnTunnel = h.tunnel ?? (hostTunnels.length === 1 ? hostTunnels[0] : undefined);
      const refused = hostTunnels.length === 0 && [...this.tunnels.keys()].some((t) => this.declaresNic(name, t));
      if (vpnTunnel === undefined) {
        if (!refused)
          this.err(
            Code.TUNNEL_INCONSISTENT,
            `host '${name}' is vpn-only but ${hostTunnels.length === 0 ? 'is on no tunnel' : `is on several tunnels (${hostTunnels.join(', ')})`}`,
            [...path, 'egress'],
            hostTunnels.length ? 'name one with `tunnel:`' : 'give it a nic on a tunnel, e.g. nics: { wg0: 10.99.0.2 }',
          );
      } else if (!hostTunnels.includes(vpnTunnel) && !this.declaresNic(name, vpnTunnel)) {
        this.err(
          Code.TUNNEL_INCONSISTENT,
          `host '${name}' is vpn-only through '${vpnTunnel}' but has no address on it`,
          [...path, 'tunnel'],
          unknownNameHint(vpnTunnel, hostTunnels),
        );
      } else if (this.tunnels.get(vpnTunnel)?.server === name) {
        this.err(Code.TUNNEL_INCONSISTENT, `host '${name}' is vpn-only through '${vpnTunnel}', but it is that tunnel's server`, [...path, 'tunnel']);
      }
    }
    const uplink = h.uplink;
    if (uplink !== undefined) this.checkIfname(uplink, [...path, 'uplink']);
    const routes: Route[] = [];
    (h.routes ?? []).forEach((r, i) => {
      const rp = [...path, 'routes', i];
      const to = this.parseCidrAt(r.to, [...rp, 'to']);
      if (!to) return;
      if (this.tunnels.has(r.via)) {
        routes.push({ to, range: cidrRange(to), via: { kind: 'tunnel', tunnel: r.via } });
        return;
      }
      const via = this.parseAddrAt(r.via, [...rp, 'via']);
      if (via === undefined) return;
      const seg = nics.find((n) => this.networks.get(n.segment) && inRange(via, this.networks.get(n.segment)!.range));
      if (!seg) this.err(Code.ROUTING, `route via ${r.via} of host '${name}': no connected network contains that address`, [...rp, 'via']);
      else routes.push({ to, range: cidrRange(to), via: { kind: 'gateway', address: via, segment: seg.segment } });
    });
    const defaultRoute = this.defaultRoute(name, h, nics, vpnTunnel, path);
    const isGuest = GUEST_KINDS.has(h.kind);
    let onOwnedBridge = false;
    for (let i = 0; i < nics.length && !onOwnedBridge; i++) onOwnedBridge = nics[i]!.port !== undefined;
    const fw = h.firewall ?? {};
    if (fw.guest && !onOwnedBridge) {
      this.err(
        Code.ROUTING,
        `host '${name}' asks for a per-guest firewall but is on no network bridged by a managed hypervisor`,
        [...path, 'firewall', 'guest'],
        "a per-guest firewall sits on the hypervisor side of the guest's port",
      );
    }
    return {
      name,
      kind: h.kind,
      id: h.id,
      trusted,
      managed,
      nics,
      roaming: h.kind === 'peer' && nics.every((n) => this.tunnels.has(n.segment)),
      services,
      egress,
      defaultRoute,
      routes,
      forward,
      uplink,
      vpnTunnel,
      guestFirewall: (fw.guest ?? false) && onOwnedBridge && isGuest,
      localFirewall: fw.local ?? (egress === 'vpn-only' && !trusted ? true : managed),
      antiSpoof: fw.antiSpoof ?? true,
      publicKey: h.publicKey,
      nameservers: h.nameservers === undefined ? [] : h.nameservers.flatMap((a, i) => this.parseAddrAt(a, [...path, 'nameservers', i]) ?? []),
      bandwidth: h.bandwidth ? this.resolveBandwidth(name, h.bandwidth, nics, [...path, 'bandwidth']) : undefined,
      control: [],
      origin: this.origin(path, `host ${name}`),
    };
  }

  /**
   * A host's `bandwidth:`: at least one direction, peak not below average, and a host-side port to
   * enforce it on (a limit inside the guest would be the guest's to lift).
   */
  private resolveBandwidth(name: string, b: BandwidthSpecT, nics: readonly Nic[], path: PathSeg[]): Bandwidth | undefined {
    if (b.inbound === undefined && b.outbound === undefined) {
      this.err(
        Code.BAD_BANDWIDTH,
        `host '${name}' has a bandwidth limit with neither inbound nor outbound`,
        path,
        'write e.g. bandwidth: { inbound: { average: 10240 }, outbound: { average: 10240 } } (kilobytes per second), or leave bandwidth out',
      );
      return undefined;
    }
    if (!nics.some((n) => n.port !== undefined)) {
      this.err(
        Code.BAD_BANDWIDTH,
        `host '${name}' has a bandwidth limit but no host-side port to enforce it on`,
        path,
        "a limit is enforced outside the guest, on the port of its nic on a managed hypervisor's bridge (libvirt <bandwidth>, tc): put the host on such a network",
        true,
      );
      return undefined;
    }
    const rate = (r: BandwidthSpecT['inbound'], dir: 'inbound' | 'outbound'): BandwidthRate | undefined => {
      if (r === undefined) return undefined;
      if (r.peak !== undefined && r.peak < r.average) {
        this.err(
          Code.BAD_BANDWIDTH,
          `${dir} peak ${r.peak} of host '${name}' is below its average ${r.average}`,
          [...path, dir, 'peak'],
          `peak is the rate a burst may reach: at least the average (${r.average}), or leave it out`,
        );
      }
      // A tenth of a second at the average rate: enough for the shaper to reach the rate, small enough not to be a second allowance.
      const burst = r.burst ?? Math.max(2, Math.ceil((r.average * 1000) / 10 / 1024));
      return { average: r.average, peak: r.peak, burst };
    };
    const inbound = rate(b.inbound, 'inbound');
    const outbound = rate(b.outbound, 'outbound');
    const text = [inbound && `inbound ${inbound.average} kB/s`, outbound && `outbound ${outbound.average} kB/s`].filter(Boolean).join(', ');
    return { inbound, outbound, origin: this.origin(path, `bandwidth of ${name}: ${text}`) };
  }

  private defaultRoute(name: string, h: HostSpecT, nics: readonly Nic[], vpnTunnel: string | undefined, path: PathSeg[]): DefaultRoute {
    if (h.gateway === false) return { kind: 'none' };
    if (typeof h.gateway === 'string') {
      const via = this.parseAddrAt(h.gateway, [...path, 'gateway']);
      if (via === undefined) return { kind: 'none' };
      const seg = nics.find((n) => this.networks.has(n.segment) && inRange(via, this.networks.get(n.segment)!.range));
      if (!seg) {
        this.err(Code.ROUTING, `gateway ${h.gateway} of host '${name}' is on none of its networks`, [...path, 'gateway']);
        return { kind: 'none' };
      }
      return { kind: 'gateway', via, segment: seg.segment };
    }
    if (vpnTunnel) return { kind: 'tunnel', tunnel: vpnTunnel };
    if (h.uplink) return { kind: 'uplink', ifname: h.uplink };
    // Index loops, not find/some with a closure each: this runs once per host.
    for (let i = 0; i < nics.length; i++) if (nics[i]!.segment === 'internet') return { kind: 'uplink', ifname: nics[i]!.ifname };
    for (let i = 0; i < nics.length; i++) {
      const net = this.networks.get(nics[i]!.segment);
      if (net?.gateway !== undefined && net.gateway !== nics[i]!.address) return { kind: 'gateway', via: net.gateway, segment: net.name };
    }
    // The gateway of a network with egress must itself reach the internet: an implicit uplink.
    for (let i = 0; i < nics.length; i++) {
      const net = this.networks.get(nics[i]!.segment);
      if (net && net.egress !== 'none' && net.gateway === nics[i]!.address) return { kind: 'uplink', ifname: 'uplink' };
    }
    return { kind: 'none' };
  }

  /** The spec gives host `host` a nic on `segment` (whether or not it was accepted). */
  private declaresNic(host: string, segment: string): boolean {
    const h = this.spec.hosts?.[host];
    return h !== undefined && (h.nics?.[segment] !== undefined || (h.via === segment && h.address !== undefined));
  }

  /** Some nic the spec gives `host` was refused with an error of its own. */
  private refusedNics(host: string): boolean {
    const h = this.spec.hosts?.[host];
    const declared = Object.keys(h?.nics ?? {}).length + (h?.via !== undefined && h.address !== undefined ? 1 : 0);
    return declared > (this.hosts.get(host)?.nics.length ?? 0);
  }

  private checkTunnelEndpoints(): void {
    for (const [name, t] of this.tunnels) {
      const server = this.hosts.get(t.server);
      if (!server) continue;
      // A nic the spec declares on the tunnel but that was refused (a duplicate address, one outside
      // the tunnel) has its own error already; "no address on it" would point away from the cause.
      if (!server.nics.some((n) => n.segment === name) && !this.declaresNic(t.server, name)) {
        this.err(
          Code.TUNNEL_INCONSISTENT,
          `tunnel '${name}': server '${t.server}' has no address on it`,
          ['tunnels', name, 'server'],
          `add nics: { ${name}: <address in ${formatCidr(t.cidr)}> } to host '${t.server}'`,
        );
      }
      let endpoint = t.endpoint;
      if (endpoint === 0) {
        const inet = server.nics.find((n) => n.segment === 'internet');
        const egressNet = server.nics.find((n) => {
          const net = this.networks.get(n.segment);
          return net !== undefined && net.egress !== 'none';
        });
        const any = server.nics.find((n) => this.networks.has(n.segment));
        endpoint = (inet ?? egressNet ?? any)?.address ?? 0;
        if (endpoint === 0 && !this.refusedNics(t.server))
          this.err(
            Code.TUNNEL_INCONSISTENT,
            `tunnel '${name}': cannot tell where peers connect to`,
            ['tunnels', name],
            'set `endpoint:` to the server address peers send to',
          );
      } else if (!server.nics.some((n) => n.address === endpoint) && !this.refusedNics(t.server)) {
        this.err(Code.TUNNEL_INCONSISTENT, `tunnel '${name}': endpoint ${formatIPv4(endpoint)} is not an address of server '${t.server}'`, [
          'tunnels',
          name,
          'endpoint',
        ]);
      }
      this.tunnels.set(name, { ...t, endpoint });
    }
  }

  /**
   * Port items already parsed without error, by their text: services and rules repeat a few
   * dozen port texts thousands of times. FlowSets are never changed, so one is shared.
   */
  private readonly portCache = new Map<string | number, FlowSet>();
  /** Items of port lists parsed without error, by their value (a number is tcp/N, not the text 'N'). */
  private readonly itemCache = new Map<string | number, FlowSet>();

  /** What parsePorts gives for `ports` when it and its items were read before (nothing to report), else undefined. */
  private knownPorts(ports: string | number | (string | number)[]): FlowSet | undefined {
    if (!Array.isArray(ports)) return this.portCache.get(ports);
    let acc: FlowSet = NO_FLOWS;
    for (let i = 0; i < ports.length; i++) {
      const f = this.itemCache.get(ports[i]!);
      if (f === undefined) return undefined;
      acc = flowUnion(acc, f);
    }
    return acc;
  }

  private parsePorts(ports: string | number | (string | number)[], path: readonly PathSeg[]): FlowSet | undefined {
    if (!Array.isArray(ports)) {
      const hit = this.portCache.get(ports);
      if (hit) return hit;
      const f = this.parsePortList([ports], ports, path);
      if (f) this.portCache.set(ports, f);
      return f;
    }
    return this.parsePortList(ports, ports, path);
  }

  private parsePortList(items: readonly (string | number)[], ports: string | number | (string | number)[], path: readonly PathSeg[]): FlowSet | undefined {
    let acc: FlowSet = NO_FLOWS;
    let ok = true;
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      const known = this.itemCache.get(item);
      const f = known ?? parsePortSpec(typeof item === 'number' ? `tcp/${item}` : item);
      if (isPortSpecError(f)) {
        const p = Array.isArray(ports) ? [...path, i] : path;
        // A bare number is shorthand for tcp/N: word the error about what the user wrote.
        const message = typeof item === 'number' ? `port ${item} is out of range: ports run from 1 to 65535` : f.error;
        this.err(Code.BAD_PORT, message, p, message.includes(': write ') ? undefined : 'write ports as tcp/443, udp/5000-5010, tcp/80,443, icmp or any');
        ok = false;
      } else {
        if (known === undefined) this.itemCache.set(item, f);
        acc = flowUnion(acc, f);
      }
    }
    return ok ? acc : undefined;
  }

  private resolveGroups(): void {
    const specGroups = this.spec.groups ?? {};
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (g: string, chain: string[]): Target[] => {
      const done = this.groups.get(g);
      if (done) return done;
      if (state.get(g) === 'visiting') {
        const cycle = [...chain.slice(chain.indexOf(g)), g];
        this.err(
          Code.GROUP_CYCLE,
          `groups form a cycle: ${cycle.join(' → ')}`,
          ['groups', g],
          'a group may not contain itself, directly or through other groups',
        );
        return [];
      }
      state.set(g, 'visiting');
      const members = specGroups[g] ?? [];
      const out: Target[] = [];
      members.forEach((m, i) => {
        if (specGroups[m] !== undefined) {
          this.usedGroups.add(m);
          out.push(...visit(m, [...chain, g]));
        } else out.push(...this.resolveRef(m, ['groups', g, i], false));
      });
      state.set(g, 'done');
      this.groups.set(g, out);
      return out;
    };
    for (const g of Object.keys(specGroups)) visit(g, []);
  }

  /**
   * Targets of references already resolved, by their text. Every reference is resolved after all
   * hosts, networks and tunnels are (groups first, then control, rules, expectations…), so a host,
   * service, network, built-in or address means the same thing each time: rules name the same
   * hosts thousands of times. Not kept: groups (each use marks the group used) and failures (each
   * place gets its own error). The arrays are shared, as a group's always were: never changed.
   */
  private readonly refCache = new Map<string, Target[]>();

  /** Resolves one reference to targets; reports unknown names with a did-you-mean. */
  resolveRef(ref: string, path: readonly PathSeg[], markUsed = true): Target[] {
    const hit = this.refCache.get(ref);
    if (hit) return hit;
    const out = this.resolveRefOnce(ref, path, markUsed);
    if (out.length === 1) {
      const r = ref.trim();
      if (!this.groups.has(r) && (this.spec.groups ?? {})[r] === undefined) this.refCache.set(ref, out);
    }
    return out;
  }

  private resolveRefOnce(ref: string, path: readonly PathSeg[], markUsed: boolean): Target[] {
    const r = ref.trim();
    if (r === 'internet') return [{ kind: 'internet', name: 'internet' }];
    if (r === 'any') return [{ kind: 'any', name: 'any' }];
    if (r === 'lan' && !this.networks.has('lan')) return [{ kind: 'lan', name: 'lan' }];
    if (this.hosts.has(r)) return [{ kind: 'host', host: r, name: r }];
    if (this.networks.has(r) || this.tunnels.has(r)) return [{ kind: 'network', network: r, name: r }];
    if (this.groups.has(r) || (this.spec.groups ?? {})[r] !== undefined) {
      if (markUsed) this.usedGroups.add(r);
      return this.groups.get(r) ?? [];
    }
    const dot = r.indexOf('.');
    const c0 = r.charCodeAt(0);
    const digitFirst = c0 >= 0x30 && c0 <= 0x39;
    if (dot > 0 && !digitFirst) {
      const hostName = r.slice(0, dot);
      const svc = r.slice(dot + 1);
      const host = this.hosts.get(hostName);
      if (!host) {
        this.err(Code.UNKNOWN_NAME, `unknown host '${hostName}' in '${r}'`, path, unknownNameHint(hostName, [...this.hosts.keys()]));
        return [];
      }
      const flows = host.services.get(svc);
      if (!flows) {
        this.err(
          Code.UNKNOWN_NAME,
          `host '${hostName}' has no service '${svc}'`,
          path,
          unknownNameHint(
            svc,
            [...host.services.keys()].map((s) => s),
          ),
        );
        return [];
      }
      this.usedServices.add(r); // `${hostName}.${svc}`, which r already is
      return [{ kind: 'service', host: hostName, service: svc, flows, name: r }];
    }
    if (digitFirst) {
      const c = parseCidr(r, false);
      if (c) {
        // parseCidr(…, false) has already cleared the host bits; only the strict parse can tell
        // that '10.0.0.5/24' (one host? the whole /24?) was written with them.
        if (!parseCidr(r, true)) {
          this.err(
            Code.BAD_ADDRESS,
            `'${r}' has host bits set`,
            path,
            `write '${formatCidr(c)}' for the whole network, or '${r.split('/')[0]}' for the one address`,
          );
          return [];
        }
        return [{ kind: 'cidr', range: cidrRange(c), name: r }];
      }
      this.err(Code.BAD_ADDRESS, `'${r}' is not an IPv4 address or CIDR`, path);
      return [];
    }
    const names = [...BUILTINS, ...this.hosts.keys(), ...this.networks.keys(), ...this.tunnels.keys(), ...Object.keys(this.spec.groups ?? {})];
    this.err(Code.UNKNOWN_NAME, `unknown name '${r}': not a host, network, tunnel, group or built-in`, path, this.hostPortHint(r) ?? unknownNameHint(r, names));
    return [];
  }

  /**
   * `llm:11434` is how a URL names a service; in a spec it is `llm.api` (host.service), or the host
   * with `ports:`. Says so, with the services of that host that serve the port.
   */
  private hostPortHint(r: string): string | undefined {
    const m = /^([^:\s]+):(\d+)$/.exec(r);
    if (!m) return undefined;
    const host = this.hosts.get(m[1]!);
    const port = Number(m[2]);
    if (!host) return `a service is written host.service, not host:port; '${m[1]}' is not a host (${unknownNameHint(m[1]!, [...this.hosts.keys()])})`;
    const all = [...host.services.keys()].sort();
    const serving = all.filter((s) => {
      const f = host.services.get(s)!;
      return R.contains(f.tcp, port) || R.contains(f.udp, port);
    });
    const forms = (list: string[]): string => list.map((s) => `'${host.name}.${s}'`).join(', ');
    if (serving.length > 0) return `did you mean ${forms(serving)}? a service is written host.service, not host:port`;
    return `a service is written host.service (${all.length ? `${forms(all)}` : `'${host.name}' declares no services`}), or write the host with ports: { to: ${host.name}, ports: [tcp/${port}] }`;
  }

  /**
   * The targets of `refs` (one reference or a list), found at `path` + `field`. The path is only
   * built for a reference not resolved before (the only one that can report at its place): a
   * rule's references are nearly always cache hits.
   */
  private refsAt(refs: string | string[], path: readonly PathSeg[], field: string): Target[] {
    if (!Array.isArray(refs)) return this.refCache.get(refs) ?? this.resolveRef(refs, [...path, field]);
    const out: Target[] = [];
    for (let i = 0; i < refs.length; i++) {
      const r = refs[i]!;
      const targets = this.refCache.get(r) ?? this.resolveRef(r, [...path, field, i]);
      for (let j = 0; j < targets.length; j++) out.push(targets[j]!);
    }
    return out;
  }

  /**
   * What refsAt gives when every reference in `refs` was resolved before, else undefined: a rule
   * needs no path (and refsAt none of its own) unless one of its references is new.
   */
  private knownRefs(refs: string | string[]): Target[] | undefined {
    if (!Array.isArray(refs)) return this.refCache.get(refs);
    const out: Target[] = [];
    for (let i = 0; i < refs.length; i++) {
      const targets = this.refCache.get(refs[i]!);
      if (targets === undefined) return undefined;
      for (let j = 0; j < targets.length; j++) out.push(targets[j]!);
    }
    return out;
  }

  private resolveRule(r: { allow: RuleBodyT } | { deny: RuleBodyT }, index: number): PolicyRule {
    const action = 'allow' in r ? 'allow' : 'deny';
    const body = 'allow' in r ? r.allow : r.deny;
    const from = this.knownRefs(body.from) ?? this.refsAt(body.from, ['policy', index, action], 'from');
    const to = this.knownRefs(body.to) ?? this.refsAt(body.to, ['policy', index, action], 'to');
    const ports = body.ports === undefined ? undefined : (this.knownPorts(body.ports) ?? this.parsePorts(body.ports, ['policy', index, action, 'ports']));
    const text = `${action} ${refText(body.from)} → ${refText(body.to)}${body.ports !== undefined ? ` ${portsText(body.ports)}` : ''}`;
    return {
      index,
      action,
      from,
      to,
      ports,
      log: body.log ?? false,
      rate: body.rate,
      comment: body.comment === undefined ? undefined : visible(body.comment),
      origin: this.origin(['policy', index], text),
    };
  }

  private resolveExpect(e: NonNullable<Spec['expect']>[number], index: number): Expectation[] {
    const path: PathSeg[] = ['expect', index];
    const from = this.resolveRef(e.from, [...path, 'from']);
    const to = this.resolveRef(e.to, [...path, 'to']);
    if (from.length !== 1 || to.length !== 1) {
      if (from.length > 1 || to.length > 1)
        this.err(
          Code.WRONG_REFERENCE_KIND,
          'an expectation takes one host, service, network or built-in on each side, not a group',
          path,
          'write one expectation per member',
        );
      return [];
    }
    let flows = e.ports !== undefined ? this.parsePorts(e.ports, [...path, 'ports']) : undefined;
    if (flows === undefined && to[0]!.kind === 'service') flows = to[0]!.flows;
    const assume: Assume[] =
      e.assume === 'both' ? ['configured', 'compromised'] : e.assume ? [e.assume] : e.verdict === 'deny' ? ['configured', 'compromised'] : ['configured'];
    const text = `${e.from} → ${e.to}${e.ports !== undefined ? ` ${portsText(e.ports)}` : ''}: ${e.verdict}`;
    return [
      {
        index,
        from: from[0]!,
        to: to[0]!,
        flows,
        verdict: e.verdict,
        assume,
        comment: e.comment === undefined ? undefined : visible(e.comment),
        origin: this.origin(path, text),
      },
    ];
  }

  private resolveFirewalls(model: Model): Map<string, HandFirewall> {
    const out = new Map<string, HandFirewall>();
    for (const [key, fw] of Object.entries(this.spec.firewalls ?? {})) {
      const path: PathSeg[] = ['firewalls', key];
      const [hostName, hook] = key.split(':');
      if (!hostName || !hook || !this.hosts.has(hostName) || !(HOOKS as readonly string[]).includes(hook)) {
        if (hostName && !this.hosts.has(hostName))
          this.err(
            Code.UNKNOWN_NAME,
            `unknown host '${hostName}' in enforcement point '${key}'`,
            path,
            unknownNameHint(hostName, [...this.hosts.keys()]),
            true,
          );
        else this.err(Code.SCHEMA, `'${key}' is not an enforcement point`, path, `expected HOST:HOOK with HOOK one of ${HOOKS.join(', ')}`, true);
        continue;
      }
      const host = this.hosts.get(hostName)!;
      if ((hook === 'guest-in' || hook === 'guest-out') && !host.nics.some((n) => n.port !== undefined)) {
        this.err(
          Code.ROUTING,
          `'${key}': host '${hostName}' has no port on a bridge of a managed hypervisor, so it has no per-guest firewall`,
          path,
          undefined,
          true,
        );
        continue;
      }
      const rules = (fw.rules ?? []).map((r, i) => this.resolveHandRule(model, r, [...path, 'rules', i]));
      out.set(key, {
        point: key,
        host: hostName,
        hook: hook as Hook,
        policy: fw.policy ?? 'accept',
        rules,
        origin: this.origin(
          fw.policy !== undefined ? [...path, 'policy'] : path,
          `${key} policy ${fw.policy ?? 'accept'}${fw.policy === undefined ? ' (Linux default)' : ''}`,
        ),
      });
    }
    return out;
  }

  private resolveHandRule(model: Model, r: FirewallRuleSpecT, path: PathSeg[]): HandRule {
    const src = r.from !== undefined ? targetsAddrs(model, this.refsAt(r.from, path, 'from')) : undefined;
    const dst = r.to !== undefined ? targetsAddrs(model, this.refsAt(r.to, path, 'to')) : undefined;
    const flows = r.ports !== undefined ? (this.parsePorts(r.ports, [...path, 'ports']) ?? ALL_FLOWS) : ALL_FLOWS;
    if (r.iif !== undefined) this.checkIfname(r.iif, [...path, 'iif']);
    if (r.oif !== undefined) this.checkIfname(r.oif, [...path, 'oif']);
    if (r.port !== undefined) this.checkIfname(r.port, [...path, 'port']);
    const bits = [r.action.toUpperCase()];
    if (r.iif) bits.push(`-i ${r.iif}`);
    if (r.oif) bits.push(`-o ${r.oif}`);
    if (r.port) bits.push(`port ${r.port}`);
    if (r.from !== undefined) bits.push(`from ${refText(r.from)}`);
    if (r.to !== undefined) bits.push(`to ${refText(r.to)}`);
    if (r.ports !== undefined) bits.push(portsText(r.ports));
    if (r.state) bits.push(`state ${r.state}`);
    return {
      action: r.action,
      src,
      dst,
      flows,
      iif: r.iif,
      oif: r.oif,
      inPort: r.port,
      state: r.state,
      log: r.log ?? false,
      origin: this.origin(path, handRuleLabel(bits.join(' '), r.comment)),
    };
  }

  /** The DNS zone: records given as host names become that host's address on a network it shares with the server. */
  private resolveDns(d: DnsSpecT): Dns | undefined {
    const path: PathSeg[] = ['dns'];
    const domain = d.domain.toLowerCase().replace(/\.$/, '');
    const server = this.hosts.get(d.server);
    if (!server) {
      this.err(Code.UNKNOWN_NAME, `dns: unknown server host '${d.server}'`, [...path, 'server'], unknownNameHint(d.server, [...this.hosts.keys()]));
      return undefined;
    }
    const served = server.nics.filter((n) => n.segment !== 'internet');
    if (served.length === 0) {
      this.err(
        Code.ROUTING,
        `dns: server '${d.server}' has no address on any network, so no guest can reach it`,
        [...path, 'server'],
        'give it a nic on the network its clients are on; cordon never listens on `internet`',
      );
    }
    const upstream: number[] = [];
    (d.upstream ?? []).forEach((u, i) => {
      const a = this.parseAddrAt(u, [...path, 'upstream', i]);
      if (a !== undefined) upstream.push(a);
    });
    const records: DnsRecord[] = [];
    const seen = new Map<string, string>();
    for (const [key, value] of Object.entries(d.records ?? {})) {
      const rp: PathSeg[] = [...path, 'records', key];
      const name = key.toLowerCase();
      const prev = seen.get(name);
      if (prev !== undefined) {
        this.err(Code.NAME_CLASH, `dns: record '${key}' is the same name as '${prev}' (DNS names ignore case)`, rp, 'keep one of them', true);
        continue;
      }
      seen.set(name, key);
      if (`${name}.${domain}.`.length > 254) {
        // Each label is checked by the schema; the whole name has its own limit (RFC 1035: 255 octets on the wire).
        this.err(
          Code.SCHEMA,
          `dns: '${key}.${domain}' has ${name.length + domain.length + 1} characters; a DNS name has at most 253`,
          rp,
          'shorten the record name or the domain',
          true,
        );
        continue;
      }
      const v = value.trim();
      let address: number | undefined;
      let host: string | undefined;
      if (/^\d/.test(v) || v.includes(':') || v.includes('/')) {
        address = this.parseAddrAt(v, rp);
      } else {
        const h = this.hosts.get(v);
        if (!h) {
          this.err(Code.UNKNOWN_NAME, `dns: record '${key}' points at unknown host '${v}'`, rp, unknownNameHint(v, [...this.hosts.keys()]));
          continue;
        }
        const shared = h.nics.find((n) => served.some((s) => s.segment === n.segment));
        if (!shared) {
          const nets = served.map((s) => s.segment).join(', ') || 'none';
          this.err(
            Code.ROUTING,
            `dns: record '${key}' points at host '${v}', which shares no network with DNS server '${d.server}'`,
            rp,
            `the server is on: ${nets}; write an address instead, or put '${v}' on one of them`,
          );
          continue;
        }
        address = shared.address;
        host = v;
      }
      if (address === undefined) continue;
      records.push({ name, address, host, origin: this.origin(rp, `dns ${name}.${domain} → ${v}`) });
    }
    records.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return {
      domain,
      server: d.server,
      listen: served.map((n) => n.address),
      upstream,
      records,
      ttl: d.ttl ?? 300,
      origin: this.origin(path, `dns zone ${domain} on ${d.server}`),
    };
  }
}

/** The path of a nic in the spec from the path of its address (a peer's `address` stands for its nic). */
function nicPathOf(addressPath: readonly PathSeg[]): readonly PathSeg[] {
  return addressPath[addressPath.length - 1] === 'address' ? addressPath.slice(0, -1) : addressPath;
}

function refText(r: string | string[]): string {
  return Array.isArray(r) ? `[${r.join(', ')}]` : r;
}

function portsText(p: string | number | (string | number)[]): string {
  return Array.isArray(p) ? p.join(',') : String(p);
}

/**
 * The label of a hand-written rule: what it matches, and its comment in parentheses. A comment
 * that already says what the rule matches (one copied from the rule set it describes:
 * `IN ACCEPT -i vmbr0 (…)`) is the label on its own, so labels do not say it twice.
 */
export function handRuleLabel(match: string, comment: string | undefined): string {
  if (!comment) return match;
  const words = (s: string): string[] =>
    s
      .toLowerCase()
      .split(/[\s/,()]+/)
      .filter(Boolean);
  const said = new Set(words(comment));
  return words(match).every((w) => said.has(w)) ? comment : `${match} (${comment})`;
}
