/**
 * model → IR. Decides which enforcement points exist and compiles the policy into each of them.
 *
 * Placement: every managed host gets input, output and (if it forwards) forward chains; a guest
 * with a per-guest firewall gets guest-out/guest-in (run by its bridge's owner); an untrusted host
 * with a local firewall gets in-guest input/output (defence in depth, ignored when the guest is
 * assumed compromised). Hand-written chains from `firewalls:` replace the compiled ones as-is.
 */
import { lanEntry } from '../model/bridge-ports.js';
import { GUEST_KINDS, type Hook, type Host, type Model } from '../model/types.js';
import { ALL_FLOWS, NO_FLOWS } from '../util/flows.js';
import { formatIPv4 } from '../util/ip.js';
import { localeOrder } from '../util/collate.js';
import * as R from '../util/rangeset.js';
import type { RangeSet } from '../util/rangeset.js';
import { diag, type Diagnostic } from '../diag/diagnostic.js';
import { Code } from '../diag/codes.js';
import { forwardDrafts } from './forwards.js';
import { idPrefix, irRule, PolicyParts, RuleList, type Draft } from './policy-parts.js';
import { pointId, type Chain, type Ir, type IrMatch, type IrRule } from './types.js';

const ANY_MATCH: IrMatch = { src: undefined, dst: undefined, flows: ALL_FLOWS, iif: undefined, oif: undefined, inPort: undefined, state: undefined };

export function compile(model: Model): Ir {
  const chains = new Map<string, Chain>();
  const ds: Diagnostic[] = [];
  const hosts = [...model.hosts.values()].sort((a, b) => byName(a.name, b.name));
  const cx: Ctx = { model, parts: new PolicyParts(model), untrusted: undefined, hosts, everywhere: undefined };
  for (const h of hosts) {
    for (const hook of hostHooks(model, h)) {
      const id = pointId(h.name, hook);
      const hand = model.firewalls.get(id);
      const enforcedOn = hook === 'guest-in' || hook === 'guest-out' ? (bridgeOwner(model, h) ?? h.name) : h.name;
      const inGuest = !h.trusted && hook !== 'guest-in' && hook !== 'guest-out';
      if (hand) {
        chains.set(id, {
          point: id,
          host: h.name,
          hook,
          enforcedOn,
          inGuest,
          policy: hand.policy,
          policyOrigin: hand.origin,
          rules: finalize(
            id,
            hand.rules.map((r) => ({
              match: {
                src: r.src,
                dst: r.dst,
                flows: r.flows,
                iif: r.iif ? [r.iif] : undefined,
                oif: r.oif ? [r.oif] : undefined,
                inPort: r.inPort ? [r.inPort] : undefined,
                state: r.state,
              },
              action: r.action,
              log: r.log,
              rate: undefined,
              role: 'handwritten' as const,
              origin: r.origin,
              policyIndex: undefined,
            })),
          ),
          handwritten: true,
        });
        continue;
      }
      const rules = new RuleList(id);
      compileChain(cx, h, hook, enforcedOn, rules);
      const policy = defaultPolicy(h, hook);
      chains.set(id, {
        point: id,
        host: h.name,
        hook,
        enforcedOn,
        inGuest,
        policy,
        policyOrigin: {
          file: model.file,
          line: h.origin.line,
          col: h.origin.col,
          path: h.origin.path,
          text: `cordon default for ${id}: ${policy}${policy === 'drop' ? ' (default deny)' : ` (egress: ${h.egress})`}`,
        },
        rules: rules.rules,
        handwritten: false,
      });
    }
  }
  ds.push(...unplacedFirewalls(model, (point) => chains.has(point)));
  ds.push(...unfilteredIpv6(model));
  return { model, chains, diagnostics: ds };
}

/**
 * What the chains of one compile share: the policy's parts, and lists every forward chain needs.
 */
interface Ctx {
  readonly model: Model;
  readonly parts: PolicyParts;
  /** Every host, by name. */
  readonly hosts: readonly Host[];
  /** The untrusted hosts, by name (once, not per forward chain). */
  untrusted: readonly Host[] | undefined;
  /** The internet and the LAN, the destination of isolation rules (once, not per rule). */
  everywhere: R.RangeSet | undefined;
}

/** Host names in the default collation's order (localeCompare's), as chains have always been built. */
function byName(a: string, b: string): number {
  return localeOrder(a, b);
}

function everywhere(cx: Ctx): RangeSet {
  return (cx.everywhere ??= R.union(cx.model.internet, cx.model.lan));
}

/** The hooks a host gets a chain on, in the order compile builds them. */
function hostHooks(model: Model, h: Host): Hook[] {
  const hooks: Hook[] = [];
  if (h.managed || (!h.trusted && h.localFirewall)) hooks.push('input', 'output');
  if ((h.managed || (!h.trusted && h.localFirewall)) && h.forward) hooks.push('forward');
  if (h.guestFirewall) hooks.push('guest-out', 'guest-in');
  for (const fw of model.firewalls.values()) if (fw.host === h.name && !hooks.includes(fw.hook)) hooks.push(fw.hook);
  return hooks;
}

function unplacedFirewalls(model: Model, hasChain: (point: string) => boolean): Diagnostic[] {
  const ds: Diagnostic[] = [];
  for (const fw of model.firewalls.values()) {
    if (!hasChain(fw.point))
      ds.push(
        diag(Code.CHAIN_OFF_PATH, 'warning', `hand-written chain '${fw.point}' is not on any path cordon models`, {
          file: model.file,
          line: fw.origin.line,
          col: fw.origin.col,
          path: fw.origin.path,
        }),
      );
  }
  return ds;
}

/**
 * The diagnostics `compile(model).diagnostics` would give, without compiling: `cordon check` needs
 * only these, and drafting every chain is most of its time on big specs.
 */
export function compileDiagnostics(model: Model): Diagnostic[] {
  const points = new Set<string>();
  for (const h of model.hosts.values()) for (const hook of hostHooks(model, h)) points.add(pointId(h.name, hook));
  return [...unplacedFirewalls(model, (point) => points.has(point)), ...unfilteredIpv6(model)];
}

/**
 * Guests on a network no managed host bridges (its gateway is a router outside the spec): the
 * renderers drop IPv6 only on bridges cordon's hosts own (src/render/nftables/ipv6.ts), so there
 * the guests' IPv6 (link-local, SLAAC from a router on the segment) passes no cordon rule set, and
 * the matrix, IPv4 only, does not show it.
 */
function unfilteredIpv6(model: Model): Diagnostic[] {
  const ds: Diagnostic[] = [];
  for (const net of model.networks.values()) {
    if (net.owner !== undefined) continue;
    const members = [...model.hosts.values()].filter((h) => h.nics.some((n) => n.segment === net.name));
    const guests = members.filter((h) => GUEST_KINDS.has(h.kind)).map((h) => h.name);
    // Who on the segment would take the guests' IPv6 without a cordon rule set of its own in the way.
    const open = members.filter((h) => GUEST_KINDS.has(h.kind) || !h.managed).map((h) => h.name);
    const outsideGateway = net.gateway !== undefined && !members.some((h) => h.nics.some((n) => n.address === net.gateway));
    // A lone guest with only managed hosts around (each drops IPv6 in its own rule set) is no finding.
    const peers = [...open.filter((h) => guests.length > 1 || !guests.includes(h)), ...(outsideGateway ? [`the router at ${formatIPv4(net.gateway)}`] : [])];
    if (guests.length === 0 || peers.length === 0) continue;
    ds.push(
      diag(
        Code.IPV6_UNSUPPORTED,
        'warning',
        `network ${net.name} is bridged by no host cordon manages, so IPv6 between ${guests.sort().join(', ')} and ${peers.sort().join(', ')} there (link-local, addresses from a router's advertisements) passes no cordon rule set; the matrix, IPv4 only, does not show it`,
        { file: model.file, line: net.origin.line, col: net.origin.col, path: net.origin.path },
        "give the network an owner (a managed hypervisor holding its gateway), or switch IPv6 off where the segment's switch or router can (in the guest it is not a wall)",
      ),
    );
  }
  return ds;
}

function finalize(point: string, drafts: readonly Draft[]): IrRule[] {
  const out: IrRule[] = new Array<IrRule>(drafts.length);
  const prefix = idPrefix(point);
  for (let index = 0; index < drafts.length; index++) {
    out[index] = irRule(prefix, index, drafts[index]!);
  }
  return out;
}

function defaultPolicy(h: Host, hook: Hook): 'accept' | 'drop' {
  if (hook === 'output' && h.trusted) return h.egress === 'open' ? 'accept' : 'drop';
  return 'drop';
}

export function bridgeOwner(model: Model, h: Host): string | undefined {
  for (const n of h.nics) {
    const net = model.networks.get(n.segment);
    if (net?.owner && n.port) return net.owner;
  }
  return undefined;
}

function hostAddrs(h: Host, filter?: (segment: string) => boolean): RangeSet {
  return R.normalize(h.nics.filter((n) => !filter || filter(n.segment)).map((n) => [n.address, n.address] as const));
}

const STATEFUL = (h: Host, model: Model): Draft => ({
  match: { ...ANY_MATCH, state: 'established' },
  action: 'accept',
  log: false,
  rate: undefined,
  role: 'stateful',
  origin: { ...h.origin, file: model.file, text: 'replies to allowed connections (ct state established,related)' },
  policyIndex: undefined,
});

/** Rules that implement hosts' egress modes; they come before the policy so they cannot be overridden. */
function egressDrafts(cx: Ctx, guests: readonly Host[], enforcer: string): Draft[] {
  const { model, parts } = cx;
  const out: Draft[] = [];
  for (const g of guests) {
    if (g.egress === 'isolated') {
      const src = parts.sourceAtoms([{ kind: 'host', host: g.name, name: g.name }], enforcer, undefined);
      for (const s of src) {
        out.push({
          // Bound to the guest's port, the rule needs no source address, so forging one cannot dodge it.
          match: {
            ...ANY_MATCH,
            src: s.b.inPort ? undefined : s.addrs,
            dst: everywhere(cx),
            iif: s.b.iifs,
            inPort: s.b.inPorts,
          },
          action: 'drop',
          log: true,
          rate: undefined,
          role: 'egress',
          origin: { ...g.origin, text: `${g.name} egress: isolated (no internet, no LAN)` },
          policyIndex: undefined,
        });
      }
    } else if (g.egress === 'vpn-only' && g.vpnTunnel) {
      const t = model.tunnels.get(g.vpnTunnel)!;
      const underlay = R.normalize(g.nics.filter((n) => n.segment !== t.name).map((n) => [n.address, n.address] as const));
      const src = parts.sourceAtoms([{ kind: 'host', host: g.name, name: g.name }], enforcer, underlay);
      for (const s of src) {
        const base = { ...ANY_MATCH, src: s.b.inPort ? undefined : s.addrs, iif: s.b.iifs, inPort: s.b.inPorts };
        out.push({
          match: { ...base, dst: [[t.endpoint, t.endpoint]], flows: { ...NO_FLOWS, udp: [[t.listen, t.listen]] } },
          action: 'accept',
          log: false,
          rate: undefined,
          role: 'tunnel',
          origin: { ...g.origin, text: `${g.name} egress: vpn-only — the tunnel's own transport to ${formatIPv4(t.endpoint)} udp/${t.listen}` },
          policyIndex: undefined,
        });
        out.push({
          match: base,
          action: 'drop',
          log: true,
          rate: undefined,
          role: 'egress',
          origin: { ...g.origin, text: `${g.name} egress: vpn-only — everything else outside ${t.name} is dropped` },
          policyIndex: undefined,
        });
      }
    }
  }
  return out;
}

function openDrafts(cx: Ctx, guests: readonly Host[], enforcer: string): Draft[] {
  const out: Draft[] = [];
  for (const g of guests) {
    if (g.egress !== 'open' || g.trusted) continue;
    for (const s of cx.parts.sourceAtoms([{ kind: 'host', host: g.name, name: g.name }], enforcer, undefined)) {
      out.push({
        match: { ...ANY_MATCH, src: s.addrs, iif: s.b.iifs, inPort: s.b.inPorts },
        action: 'accept',
        log: false,
        rate: undefined,
        role: 'egress',
        origin: { ...g.origin, text: `${g.name} egress: open` },
        policyIndex: undefined,
      });
    }
  }
  return out;
}

function compileChain(cx: Ctx, h: Host, hook: Hook, enforcedOn: string, rules: RuleList): void {
  const { model, parts } = cx;
  const own = hostAddrs(h);
  if (hook === 'guest-out' && h.antiSpoof) {
    // Before everything, the stateful accept included: a forged source never passes.
    rules.add({
      match: { ...ANY_MATCH, src: R.complement(own, [0, 0xffffffff]) },
      action: 'drop',
      log: true,
      rate: undefined,
      role: 'antispoof',
      origin: { ...h.origin, text: `anti-spoofing: ${h.name} may only send from its own addresses` },
      policyIndex: undefined,
    });
  }
  rules.add(STATEFUL(h, model));
  switch (hook) {
    case 'input': {
      rules.add(loopback(h, 'iif'));
      rules.addAll(tunnelListen(model, h));
      // A packet from one of the host's own addresses never reaches input except over lo (the kernel
      // drops it as a martian, accept_local=0): the host's own outgoing rules do not belong here.
      const notOwn = R.subtract([[0, 0xffffffff]], own);
      const ks = parts.meeting('dst', own);
      for (let i = 0; i < ks.length; i++) parts.draft(ks[i]!, h.name, notOwn, own, rules);
      break;
    }
    case 'output': {
      rules.add(loopback(h, 'oif'));
      if (!h.trusted) {
        rules.addAll(inGuestEgress(model, h));
        if (h.egress === 'vpn-only') break;
      }
      if (h.egress === 'isolated') rules.addAll(egressDrafts(cx, [h], h.name));
      const ks = parts.meeting('src', own);
      for (let i = 0; i < ks.length; i++) parts.draft(ks[i]!, '', own, undefined, rules);
      if (!h.trusted) rules.addAll(openDrafts(cx, [h], ''));
      break;
    }
    case 'forward': {
      const untrusted = (cx.untrusted ??= cx.hosts.filter((g) => !g.trusted));
      rules.addAll(isolatedNetworkDrafts(cx, h));
      rules.addAll(egressDrafts(cx, untrusted, h.name));
      rules.addAll(forwardDrafts(model, h));
      // Every rule, restricted to addresses not the host's own (those reach its input, not its
      // forward chain); most rules meet none of them, so only those the index finds are cut.
      const notOwn = R.subtract([[0, 0xffffffff]], own);
      const cut = new Uint8Array(parts.policy.length);
      const ss = parts.meeting('src', own);
      for (let i = 0; i < ss.length; i++) cut[ss[i]!] = 1;
      const ds = parts.meeting('dst', own);
      for (let i = 0; i < ds.length; i++) cut[ds[i]!]! |= 2;
      for (let k = 0; k < cut.length; k++) parts.draft(k, h.name, cut[k]! & 1 ? notOwn : undefined, cut[k]! & 2 ? notOwn : undefined, rules);
      rules.addAll(openDrafts(cx, untrusted, h.name));
      break;
    }
    case 'guest-out': {
      rules.addAll(egressDrafts(cx, [h], enforcedOn));
      const ks = parts.meeting('src', own);
      for (let i = 0; i < ks.length; i++) parts.draft(ks[i]!, enforcedOn, own, undefined, rules);
      rules.addAll(openDrafts(cx, [h], enforcedOn));
      break;
    }
    case 'guest-in': {
      const ks = parts.meeting('dst', own);
      for (let i = 0; i < ks.length; i++) parts.draft(ks[i]!, enforcedOn, undefined, own, rules);
      break;
    }
  }
}

/**
 * A network with `egress: none` never reaches the internet or the LAN through this router, whoever
 * sends: a host that is also on a NAT network must not leak through its isolated leg either.
 */
function isolatedNetworkDrafts(cx: Ctx, h: Host): Draft[] {
  const { model } = cx;
  const out: Draft[] = [];
  for (const nic of h.nics) {
    const net = model.networks.get(nic.segment);
    if (!net || net.egress !== 'none') continue;
    out.push({
      match: { ...ANY_MATCH, iif: [nic.ifname], dst: everywhere(cx) },
      action: 'drop',
      log: true,
      rate: undefined,
      role: 'egress',
      origin: { ...net.origin, text: `network ${net.name} egress: none — nothing from it reaches the internet or the LAN` },
      policyIndex: undefined,
    });
  }
  return out;
}

function loopback(h: Host, dir: 'iif' | 'oif'): Draft {
  return {
    match: { ...ANY_MATCH, [dir]: ['lo'] },
    action: 'accept',
    log: false,
    rate: undefined,
    role: 'loopback',
    origin: { ...h.origin, text: `loopback traffic of ${h.name}` },
    policyIndex: undefined,
  };
}

/** A tunnel server accepts its peers' UDP transport on the listen port. */
function tunnelListen(model: Model, h: Host): Draft[] {
  const out: Draft[] = [];
  for (const t of [...model.tunnels.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    if (t.server !== h.name) continue;
    // Peers send from where they are: members on a network the server is also on, from their own
    // underlay addresses; the others (roaming peers, and hosts that reach the server across the
    // internet, seen from a public address: their own or that of a NAT on the way) from the
    // internet, through the uplink. Nobody else may knock on the port.
    const members = [...model.hosts.values()].filter((m) => m.name !== h.name && m.nics.some((n) => n.segment === t.name));
    const serverNets = new Set(h.nics.filter((n) => model.networks.has(n.segment)).map((n) => n.segment));
    const remote = (m: Host): boolean => m.roaming || !m.nics.some((n) => serverNets.has(n.segment));
    const rule = (src: RangeSet, iif: string[] | undefined, inPort?: string[]): Draft => ({
      match: { ...ANY_MATCH, src, iif, inPort, dst: [[t.endpoint, t.endpoint]], flows: { ...NO_FLOWS, udp: [[t.listen, t.listen]] } },
      action: 'accept',
      log: false,
      rate: undefined,
      role: 'tunnel',
      origin: { ...t.origin, text: `tunnel ${t.name}: peers' WireGuard transport to udp/${t.listen}` },
      policyIndex: undefined,
    });
    // Remote peers' packets come in where the internet does: the uplink, or a nic on the internet.
    // Bound to those interfaces, so a guest forging a public source address cannot knock; with
    // neither, the internet cannot reach the server at all and no rule is needed.
    const up = h.uplink ?? (h.defaultRoute.kind === 'uplink' ? h.defaultRoute.ifname : undefined);
    const fromInternet = [...new Set([...(up ? [up] : []), ...h.nics.filter((n) => n.segment === 'internet').map((n) => n.ifname)])];
    if (members.some(remote) && fromInternet.length > 0) out.push(rule(model.internet, fromInternet));
    // Without either, the router of a LAN bridged in by a physical port may forward the endpoint
    // (lanEntry): bound to that port, so a guest on the bridge cannot knock with a forged source.
    const entry = fromInternet.length === 0 ? lanEntry(model, h, t.endpoint) : undefined;
    if (members.some(remote) && entry) out.push(rule(model.internet, undefined, [entry.port]));
    // Local members send from their own underlay addresses, over a network they share with the
    // server: bound to the server's interfaces on those networks, so a guest elsewhere cannot knock
    // by forging a member's address; and a member behind a port of a bridge the server owns is
    // bound to that port, so that a guest on the same bridge cannot knock by forging it either.
    let local: RangeSet = R.EMPTY;
    const localNets = new Set<string>();
    const ported: [number, number][] = [];
    const ports = new Set<string>();
    for (const m of members) {
      if (remote(m)) continue;
      for (const n of m.nics) {
        if (n.segment === t.name) continue;
        if (n.port && model.networks.get(n.segment)?.owner === h.name) {
          ported.push([n.address, n.address]);
          ports.add(n.port);
          continue;
        }
        local = R.union(local, [[n.address, n.address]]);
        if (serverNets.has(n.segment)) localNets.add(n.segment);
      }
    }
    const localIif = h.nics.filter((n) => localNets.has(n.segment)).map((n) => n.ifname);
    if (local.length > 0) out.push(rule(local, [...new Set(localIif)].sort()));
    if (ported.length > 0) out.push(rule(R.normalize(ported), undefined, [...ports].sort()));
    if (members.length === 0) out.push(rule(R.EMPTY, undefined));
  }
  return out;
}

/** The in-guest kill switch of a vpn-only host: its tunnel, and the tunnel's own transport. */
function inGuestEgress(model: Model, h: Host): Draft[] {
  if (h.egress !== 'vpn-only' || !h.vpnTunnel) return [];
  const t = model.tunnels.get(h.vpnTunnel)!;
  return [
    {
      match: { ...ANY_MATCH, oif: [t.ifname] },
      action: 'accept',
      log: false,
      rate: undefined,
      role: 'tunnel',
      origin: { ...h.origin, text: `${h.name} egress: vpn-only — anything through ${t.ifname}` },
      policyIndex: undefined,
    },
    {
      match: { ...ANY_MATCH, dst: [[t.endpoint, t.endpoint]], flows: { ...NO_FLOWS, udp: [[t.listen, t.listen]] } },
      action: 'accept',
      log: false,
      rate: undefined,
      role: 'tunnel',
      origin: { ...h.origin, text: `${h.name} egress: vpn-only — ${t.name}'s own transport to ${formatIPv4(t.endpoint)} udp/${t.listen}` },
      policyIndex: undefined,
    },
  ];
}
