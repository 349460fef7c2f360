/**
 * wireguard target: wg-quick configs for every tunnel's server and members, and the in-guest kill
 * switch of every vpn-only host. Files, under `wireguard/<host>/`:
 *
 * - `<server>/<ifname>.conf`: `[Interface]` Address, ListenPort, PrivateKey; one `[Peer]` per member
 *   with its public key and `AllowedIPs` = its /32 in the tunnel (a vpn-only member sends
 *   everything, but only its own address may come out of the tunnel);
 * - `<member>/<ifname>.conf`: Address, PrivateKey; `[Peer]` = the server, `Endpoint` = the tunnel's
 *   endpoint:listen, `AllowedIPs` = the tunnel prefix plus what the policy lets the member reach
 *   behind the server, or 0.0.0.0/0 for a vpn-only member; `PersistentKeepalive = 25` when the
 *   member sits behind NAT (a roaming peer, or an underlay network with egress nat);
 * - `<vpn-only host>/killswitch.nft`, `killswitch.rules.v4`, `killswitch.rules.v6`: see killswitch.ts.
 *
 * The file name is the interface name plus `.conf`, as wg-quick wants it. Keys come from a
 * `KeySource` (keys.ts); a config that holds a PrivateKey is a secret file (written 0600, never
 * printed). A member whose public key the spec gives (hosts.X.publicKey) and whose private key
 * cordon does not hold gets its config without PrivateKey, for its owner to complete.
 */
import { diag, type Diagnostic } from '../../diag/diagnostic.js';
import { Code } from '../../diag/codes.js';
import type { Ir } from '../../ir/types.js';
import { targetsAddrs } from '../../model/addresses.js';
import type { Host, Model, Tunnel } from '../../model/types.js';
import { formatCidr, formatIPv4, rangeToCidrs } from '../../util/ip.js';
import * as R from '../../util/rangeset.js';
import type { RangeSet } from '../../util/rangeset.js';
import { commented, Emitter, headerLines } from '../emit.js';
import { dnsName, ifname } from '../escape.js';
import { resolverFor } from '../dns/index.js';
import type { Renderer, RenderOptions, RenderResult, RenderedFile } from '../types.js';
import { isWgKey, publicKeyOf } from '../../util/wgkey.js';
import type { KeyedRenderer, KeySource } from './keys.js';
import { checkTransport, killswitchChains, killswitchIptables, killswitchNft } from './killswitch.js';

const PARAMS = [
  { name: 'killswitch', description: "how a vpn-only host's wg-quick PreUp (re)loads its kill switch: nft, iptables or none", default: 'nft' },
  { name: 'killswitch-dir', description: 'directory the kill switch files are installed to inside the guest', default: '/etc/cordon' },
] as const;

const KEEPALIVE = 25;

interface HostKey {
  readonly publicKey: string;
  /** undefined: the spec gives only the public key; the private one is held elsewhere. */
  readonly privateKey: string | undefined;
}

function byName<T extends { readonly name: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Every tunnel with its server and members (hosts with an address on it), sorted. */
function tunnelsOf(model: Model): { t: Tunnel; server: Host; members: Host[] }[] {
  const out: { t: Tunnel; server: Host; members: Host[] }[] = [];
  for (const t of [...model.tunnels.values()].sort(byName)) {
    const server = model.hosts.get(t.server);
    if (!server) continue;
    const members = [...model.hosts.values()].filter((h) => h.name !== server.name && h.nics.some((n) => n.segment === t.name)).sort(byName);
    out.push({ t, server, members });
  }
  return out;
}

function tunnelAddr(h: Host, t: Tunnel): number {
  return h.nics.find((n) => n.segment === t.name)!.address;
}

function cidrList(set: RangeSet): string[] {
  return set.flatMap(([lo, hi]) => rangeToCidrs({ lo, hi }).map(formatCidr));
}

/** What lies behind the server for a member: networks it forwards to (or only its own addresses). */
function behindServer(model: Model, t: Tunnel, server: Host): RangeSet {
  let behind: RangeSet = R.EMPTY;
  for (const n of server.nics) {
    if (n.segment === t.name || n.segment === 'internet') continue;
    const seg = model.networks.get(n.segment) ?? model.tunnels.get(n.segment);
    if (server.forward && seg) behind = R.union(behind, [[seg.range.lo, seg.range.hi]]);
    else behind = R.union(behind, [[n.address, n.address]]);
  }
  if (server.forward) {
    for (const r of server.routes) if (!(r.via.kind === 'tunnel' && r.via.tunnel === t.name)) behind = R.union(behind, [[r.range.lo, r.range.hi]]);
  }
  return behind;
}

/**
 * Destinations the policy lets the member at `addr` reach (allow rules naming it as a source). The
 * server itself, named as a host or service, is reached on its tunnel address: not listed.
 */
function allowedFrom(model: Model, addr: number, server: Host): RangeSet {
  let out: RangeSet = R.EMPTY;
  for (const r of model.policy) {
    if (r.action !== 'allow') continue;
    if (!R.contains(targetsAddrs(model, r.from), addr)) continue;
    for (const t of r.to) {
      if ((t.kind === 'host' || t.kind === 'service') && t.host === server.name) continue;
      out = R.union(out, targetsAddrs(model, [t]));
    }
  }
  return out;
}

function behindNat(model: Model, h: Host, t: Tunnel): boolean {
  if (h.roaming) return true;
  return h.nics.some((n) => {
    if (n.segment === t.name) return false;
    const net = model.networks.get(n.segment);
    return net !== undefined && net.egress === 'nat' && net.gateway !== n.address;
  });
}

function isVpnOnly(h: Host, t: Tunnel): boolean {
  return h.egress === 'vpn-only' && h.vpnTunnel === t.name;
}

export function makeWireguardRenderer(keys: KeySource | undefined): KeyedRenderer {
  const renderer: KeyedRenderer = {
    name: 'wireguard',
    description: 'wg-quick configs for tunnel servers and members (keys from --keys DIR) and the in-guest kill switch of vpn-only hosts',
    params: PARAMS,
    keyNames(ir: Ir): string[] {
      const names = new Set<string>();
      for (const { server, members } of tunnelsOf(ir.model)) for (const h of [server, ...members]) if (h.publicKey === undefined) names.add(h.name);
      return [...names].sort();
    },
    withKeys(k: KeySource): Renderer {
      return makeWireguardRenderer(k);
    },
    render(ir: Ir, opts: RenderOptions): RenderResult {
      const ds: Diagnostic[] = [];
      const files: RenderedFile[] = [];
      const want = (h: string): boolean => opts.host === undefined || opts.host === h;
      const mode = opts.params.get('killswitch') ?? 'nft';
      if (!['nft', 'iptables', 'none'].includes(mode)) {
        ds.push(diag(Code.SCHEMA, 'error', `wireguard: -p killswitch=${mode}: expected nft, iptables or none`, { file: ir.model.file }));
      }
      const dir = (opts.params.get('killswitch-dir') ?? '/etc/cordon').replace(/\/+$/, '');
      const keyCache = new Map<string, HostKey | undefined>();
      const keyOf = (h: Host): HostKey | undefined => {
        if (!keyCache.has(h.name)) keyCache.set(h.name, resolveKey(ir.model, keys, h, ds));
        return keyCache.get(h.name);
      };
      for (const { t, server, members } of tunnelsOf(ir.model)) {
        if (members.length === 0) {
          ds.push(
            diag(Code.TUNNEL_INCONSISTENT, 'warning', `wireguard: tunnel '${t.name}' has no members besides its server '${server.name}'`, {
              file: ir.model.file,
              line: t.origin.line,
              col: t.origin.col,
              path: t.origin.path,
            }),
          );
        }
        if (want(server.name) || members.some((m) => want(m.name))) {
          // The server's config names every member's key, so every key is needed for it.
          const sk = keyOf(server);
          const mks = members.map((m) => keyOf(m));
          if (want(server.name) && sk && mks.every((k) => k !== undefined)) {
            files.push(conf(`wireguard/${server.name}/${ifname(t.ifname)}.conf`, serverConf(ir.model, t, server, sk, members, mks)));
          }
          for (const [i, m] of members.entries()) {
            const mk = mks[i];
            if (!want(m.name) || !mk || !sk) continue;
            files.push(conf(`wireguard/${m.name}/${ifname(t.ifname)}.conf`, memberConf(ir.model, t, server, sk, m, mk, mode, dir)));
          }
        }
      }
      for (const h of [...ir.model.hosts.values()].sort(byName)) {
        if (h.egress !== 'vpn-only' || !want(h.name)) continue;
        const chains = killswitchChains(ir, h.name);
        if (!chains.some((c) => c.hook === 'output')) {
          ds.push(
            diag(
              Code.TARGET_CANNOT_EXPRESS,
              'warning',
              `wireguard: vpn-only host '${h.name}' has no in-guest output chain, so it gets no kill switch`,
              { file: ir.model.file, line: h.origin.line, col: h.origin.col, path: h.origin.path },
              'firewall: { local: true } gives it one (defence in depth; the host side must still enforce vpn-only)',
            ),
          );
          continue;
        }
        checkTransport(ir, h.name, chains, ds);
        files.push({ path: `wireguard/${h.name}/killswitch.nft`, content: killswitchNft(ir, h.name, chains, ds), secret: false });
        files.push({ path: `wireguard/${h.name}/killswitch.rules.v4`, content: killswitchIptables(ir, h.name, chains, 4, ds), secret: false });
        files.push({ path: `wireguard/${h.name}/killswitch.rules.v6`, content: killswitchIptables(ir, h.name, chains, 6, ds), secret: false });
      }
      if (opts.host !== undefined && files.length === 0 && !ds.some((d) => d.severity === 'error')) {
        ds.push(
          diag(Code.UNKNOWN_NAME, 'error', `host '${opts.host}' is on no tunnel and is not vpn-only, so it gets no wireguard files`, { file: ir.model.file }),
        );
      }
      return { files: files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)), diagnostics: ds };
    },
  };
  return renderer;
}

/** The target as registered: without keys it can render kill switches but reports every missing key. */
export const wireguardRenderer: KeyedRenderer = makeWireguardRenderer(undefined);

function conf(path: string, content: string): RenderedFile {
  // Any config holding a private key is a secret as a whole: written 0600, never printed.
  return { path, content, secret: /^PrivateKey = /m.test(content) };
}

function resolveKey(model: Model, keys: KeySource | undefined, h: Host, ds: Diagnostic[]): HostKey | undefined {
  const at = { file: model.file, line: h.origin.line, col: h.origin.col, path: h.origin.path };
  const pair = keys?.keyPair(h.name);
  if (pair && (!isWgKey(pair.privateKey) || !isWgKey(pair.publicKey) || publicKeyOf(pair.privateKey) !== pair.publicKey)) {
    ds.push(
      diag(
        Code.TUNNEL_INCONSISTENT,
        'error',
        `wireguard: the stored key pair of '${h.name}' is malformed or its halves do not belong together`,
        at,
        'remove it from the key store to have a new pair generated',
      ),
    );
    return undefined;
  }
  if (h.publicKey !== undefined) {
    if (pair && pair.publicKey !== h.publicKey) {
      ds.push(
        diag(
          Code.TUNNEL_INCONSISTENT,
          'error',
          `wireguard: the key store holds a key pair for '${h.name}' whose public key differs from hosts.${h.name}.publicKey`,
          at,
          'remove one of the two: the spec key (the member keeps its own private key) or the stored pair',
        ),
      );
      return undefined;
    }
    return { publicKey: h.publicKey, privateKey: pair?.privateKey };
  }
  if (!pair) {
    ds.push(
      diag(
        Code.TUNNEL_INCONSISTENT,
        'error',
        `wireguard: no key pair for '${h.name}'`,
        at,
        keys
          ? 'cordon render keeps generated keys under --keys DIR; or set hosts.' + h.name + '.publicKey'
          : 'render through `cordon render -t wireguard` (it keeps keys under --keys DIR), or give the renderer a KeySource with withKeys()',
      ),
    );
    return undefined;
  }
  return { publicKey: pair.publicKey, privateKey: pair.privateKey };
}

function describe(h: Host, t: Tunnel): string {
  const bits: string[] = [h.kind];
  if (isVpnOnly(h, t)) bits.push('vpn-only: sends everything through the tunnel');
  if (h.roaming) bits.push('roaming');
  else {
    const under = h.nics.filter((n) => n.segment !== t.name).map((n) => `${n.segment} ${formatIPv4(n.address)}`);
    if (under.length) bits.push(`underlay ${under.join(', ')}`);
  }
  return bits.join('; ');
}

function header(e: Emitter, model: Model, what: string, t: Tunnel): void {
  e.lines_(commented(headerLines(model, what), '# '));
  e.line(`# Install as /etc/wireguard/${t.ifname}.conf (mode 0600), then: wg-quick up ${t.ifname}`);
}

function privateKeyLines(e: Emitter, h: Host, k: HostKey): void {
  if (k.privateKey !== undefined) e.line(`PrivateKey = ${k.privateKey}`);
  else e.line(`# PrivateKey: held by ${h.name}'s owner (the spec gives only hosts.${h.name}.publicKey); add it here before use`);
}

function serverConf(model: Model, t: Tunnel, server: Host, sk: HostKey, members: readonly Host[], mks: readonly HostKey[]): string {
  const e = new Emitter();
  header(e, model, `WireGuard interface ${t.ifname} of tunnel ${t.name} on its server ${server.name}.`, t);
  const routed = members.filter((m) => isVpnOnly(m, t));
  if (routed.length) {
    e.line(
      `# ${routed.map((m) => m.name).join(', ')} send${routed.length === 1 ? 's' : ''} everything here: ${server.name} forwards it as its forward chain allows`,
    );
    e.line('# (nftables target); address translation to the internet is not part of this file.');
  }
  e.gap();
  e.line('[Interface]');
  e.line(`Address = ${formatIPv4(tunnelAddr(server, t))}/${t.cidr.len}`);
  e.line(`ListenPort = ${t.listen}`);
  privateKeyLines(e, server, sk);
  for (const [i, m] of members.entries()) {
    e.gap();
    e.line(`# ${m.name} (${describe(m, t)})`);
    e.line('[Peer]');
    e.line(`PublicKey = ${mks[i]!.publicKey}`);
    e.line(`AllowedIPs = ${formatIPv4(tunnelAddr(m, t))}/32`);
  }
  return e.toString();
}

/**
 * The `DNS =` of a member's config: its own `nameservers`, else the tunnel's, else the `dns:`
 * zone's server where it answers on this tunnel (with the zone as search domain); undefined = none.
 */
export function memberDns(
  model: Model,
  t: Tunnel,
  m: Host,
): { readonly addresses: readonly number[]; readonly search: readonly string[]; readonly why: string } | undefined {
  const zone = resolverFor(model, m.name);
  const onTunnel = zone !== undefined && zone.segment === t.name ? zone : undefined;
  const search = onTunnel ? [onTunnel.domain] : [];
  if (m.nameservers.length > 0) return { addresses: m.nameservers, search, why: `hosts.${m.name}.nameservers` };
  if (t.nameservers.length > 0) return { addresses: t.nameservers, search, why: `tunnels.${t.name}.nameservers` };
  if (onTunnel) return { addresses: [onTunnel.address], search, why: `the ${onTunnel.domain} zone's server on ${t.name}` };
  return undefined;
}

function memberConf(model: Model, t: Tunnel, server: Host, sk: HostKey, m: Host, mk: HostKey, mode: string, dir: string): string {
  const e = new Emitter();
  const vpnOnly = isVpnOnly(m, t);
  header(e, model, `WireGuard interface ${t.ifname} of ${m.name}, member of tunnel ${t.name} (server ${server.name}).`, t);
  e.gap();
  e.line('[Interface]');
  e.line(`Address = ${formatIPv4(tunnelAddr(m, t))}/${t.cidr.len}`);
  const dns = memberDns(model, t, m);
  if (dns) {
    e.line(`# resolvers: ${dns.why}; wg-quick sets them (resolvconf) while the tunnel is up`);
    e.line(`DNS = ${[...dns.addresses.map(formatIPv4), ...dns.search.map(dnsName)].join(', ')}`);
  }
  privateKeyLines(e, m, mk);
  if (vpnOnly) {
    e.line(`# Kill switch (${m.name} is vpn-only): load ${dir}/killswitch.nft at boot, independent of this tunnel;`);
    e.line("# it lets the tunnel's own UDP transport out and drops everything else outside it. PreUp reloads");
    e.line('# it before the tunnel comes up; nothing removes it when the tunnel goes down (fail-closed).');
    if (mode === 'nft') e.line(`PreUp = nft -f ${dir}/killswitch.nft`);
    else if (mode === 'iptables') e.line(`PreUp = iptables-restore ${dir}/killswitch.rules.v4 && ip6tables-restore ${dir}/killswitch.rules.v6`);
  }
  e.gap();
  e.line(`# ${server.name} (server of ${t.name})`);
  e.line('[Peer]');
  e.line(`PublicKey = ${sk.publicKey}`);
  e.line(`Endpoint = ${formatIPv4(t.endpoint)}:${t.listen}`);
  if (vpnOnly) {
    e.line('# vpn-only: every destination goes through the tunnel');
    e.line('AllowedIPs = 0.0.0.0/0');
  } else {
    const addr = tunnelAddr(m, t);
    const extra = R.subtract(R.intersect(allowedFrom(model, addr, server), behindServer(model, t, server)), [[t.range.lo, t.range.hi]]);
    e.line(`# the tunnel${extra.length ? `, and what the policy lets ${m.name} reach behind ${server.name}` : ''}`);
    e.line(`AllowedIPs = ${[formatCidr(t.cidr), ...cidrList(extra)].join(', ')}`);
  }
  if (behindNat(model, m, t)) e.line(`PersistentKeepalive = ${KEEPALIVE}`);
  return e.toString();
}
