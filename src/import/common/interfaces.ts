/**
 * Hosts' interface configurations (netplan, ifupdown) as the topology of a cordon spec: the one
 * place that turns "this host has these addresses, bridges, routes and resolvers" into networks
 * and hosts, so both importers (and the Proxmox node's bridges) mean the same thing.
 *
 * - A bridge with a static address is a network named after the bridge, on the host that holds
 *   it (a hypervisor). With a physical port (`bridge-ports enp1s0`, netplan `interfaces: [enp1s0]`)
 *   it reaches what is beyond that port, taken as the internet through the host as gateway; without
 *   one it is isolated unless the host masquerades it. Its physical port is the host's uplink.
 * - Any other interface with a static address joins the network whose prefix holds the address:
 *   one of the topology (--topology), a bridge read here, or else a network named after the prefix
 *   (`net-10-0-0-0-24`), on which every host with an address in that prefix meets.
 * - A default route is the host's `gateway`; none (and no uplink) is `gateway: false`, so the
 *   network's gateway is not taken for it. Other static routes are `routes:`; resolvers are
 *   `nameservers:`.
 * - A host the topology declares keeps its kind and everything the files do not say: a nic on a
 *   network the files give an address on is theirs (the topology's bridge port kept), its other
 *   nics (tunnels, public addresses, bridges another tool creates) stay. A host only the files describe is a
 *   hypervisor when it has bridges, else a VM (the in-guest config netplan and ifupdown usually are).
 */
import { diag, sortDiagnostics, type Diagnostic, type SourcePos } from '../../diag/diagnostic.js';
import { Code } from '../../diag/codes.js';
import type { HostSpecT, NetworkSpecT, Spec, TunnelSpecT } from '../../spec/schema.js';
import { NAME_MAX, NAME_RE, ifnameProblem } from '../../spec/identifiers.js';
import { formatIPv4, networkOf, parseCidr, parseIPv4 } from '../../util/ip.js';
import type { ImportRequest, ImportResult } from './contract.js';
import { writeSpec } from './spec-writer.js';
import { importBase } from './topology.js';

export interface LocatedAddr {
  readonly addr: number;
  readonly len: number;
  readonly at: SourcePos;
}

export interface IfaceConfig {
  /** The kernel name of the interface. */
  readonly name: string;
  readonly at: SourcePos;
  readonly addrs: LocatedAddr[];
  /** A bridge's ports (physical interfaces and others); undefined for an interface that is no bridge. */
  bridgePorts: string[] | undefined;
  /** The host masquerades what leaves through this bridge (a post-up MASQUERADE). */
  masquerade: boolean;
}

export interface HostNetConfig {
  readonly host: string;
  /** The files read, for the spec's header and the host's description. */
  readonly files: string[];
  readonly ifaces: IfaceConfig[];
  defaultVia: { readonly addr: number; readonly at: SourcePos } | undefined;
  readonly routes: { readonly to: string; readonly via: number; readonly at: SourcePos }[];
  nameservers: { readonly addrs: number[]; readonly at: SourcePos } | undefined;
  /** WireGuard interfaces: the tunnel name (its interface), the host's address, and its listen port when it is the server. */
  readonly wireguard: { readonly name: string; readonly addr: LocatedAddr; readonly listen: number | undefined; readonly at: SourcePos }[];
}

export function emptyHost(host: string, file: string): HostNetConfig {
  return { host, files: [file], ifaces: [], defaultVia: undefined, routes: [], nameservers: undefined, wireguard: [] };
}

/** `10.0.0.10/24` or `10.0.0.10` (len undefined); undefined when it is neither. IPv6 is the caller's. */
export function parseAddrLen(text: string): { addr: number; len: number | undefined } | undefined {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})(?:\/(\d{1,2}))?$/.exec(text.trim());
  if (!m) return undefined;
  const addr = parseIPv4(m[1]!);
  const len = m[2] === undefined ? undefined : Number(m[2]);
  return addr === undefined || (len !== undefined && len > 32) ? undefined : { addr, len };
}

export function prefixText(addr: number, len: number): string {
  return `${formatIPv4(networkOf(addr, len))}/${len}`;
}

function contains(cidr: string, addr: number): boolean {
  const c = parseCidr(cidr, false);
  return c !== undefined && networkOf(addr, c.len) === networkOf(c.addr, c.len);
}

/** A name for a network only known by its prefix. */
function prefixName(addr: number, len: number): string {
  return `net-${formatIPv4(networkOf(addr, len)).replace(/\./g, '-')}-${len}`;
}

export interface BuiltTopology {
  readonly spec: Spec;
  /** Hosts whose interfaces were imported. */
  readonly hosts: ReadonlySet<string>;
}

/**
 * The topology `topology` (or an empty one) with the hosts of `configs` added or updated.
 * Diagnostics go to `ds`, located at the line that says what could not be taken.
 */
export function buildInterfacesTopology(configs: readonly HostNetConfig[], topology: Spec | undefined, ds: Diagnostic[]): BuiltTopology {
  const spec: Spec = topology ? structuredClone(topology) : { version: 1 };
  const networks: Record<string, NetworkSpecT> = spec.networks ?? {};
  const hosts: Record<string, HostSpecT> = spec.hosts ?? {};
  const tunnels: Record<string, TunnelSpecT> = spec.tunnels ?? {};
  const fromTopology = new Set(Object.keys(networks));
  const done = new Set<string>();

  const badName = (name: string, at: SourcePos, what: string): boolean => {
    const problem = ifnameProblem(name, `${what} ${JSON.stringify(name.slice(0, 40))}`);
    if (problem === undefined && NAME_RE.test(name) && name.length <= NAME_MAX) return false;
    ds.push(
      diag(
        Code.IMPORT_SYNTAX,
        'error',
        problem ?? `${what} ${JSON.stringify(name.slice(0, 40))} is no name cordon accepts (a letter, then letters, digits, "-" or "_")`,
        at,
      ),
    );
    return true;
  };

  // Bridges first: they are the networks other hosts' addresses join.
  for (const c of configs) {
    for (const i of c.ifaces) {
      if (i.bridgePorts === undefined) continue;
      const a = i.addrs[0];
      if (!a) {
        ds.push(
          diag(
            Code.IMPORT_UNSUPPORTED,
            'warning',
            `bridge ${i.name.slice(0, 40)} has no static IPv4 address: its prefix is unknown, so it is not imported`,
            i.at,
          ),
        );
        continue;
      }
      if (badName(i.name, i.at, 'bridge')) continue;
      const cidr = prefixText(a.addr, a.len);
      const same = Object.entries(networks).find(([, n]) => n.cidr === cidr);
      if (same && same[0] !== i.name && fromTopology.has(same[0])) continue; // the topology names it
      if (i.name in networks && networks[i.name]!.cidr !== cidr) {
        ds.push(
          diag(Code.IMPORT_UNSUPPORTED, 'warning', `bridge ${i.name}: ${cidr} here, ${networks[i.name]!.cidr} in the topology; the topology's is kept`, a.at),
        );
        continue;
      }
      if (fromTopology.has(i.name)) continue;
      const physical = i.bridgePorts.filter((p) => !/^(tap|veth|vnet|fwpr|fwln)/.test(p));
      const out = physical.length > 0;
      networks[i.name] = {
        cidr,
        ...(out || i.masquerade ? { gateway: formatIPv4(a.addr), egress: 'nat' as const } : { egress: 'none' as const }),
        description: out
          ? `bridge of ${c.host} with physical port ${physical.join(', ')}: what is beyond it is taken as the internet`
          : i.masquerade
            ? `bridge of ${c.host} without a physical port, masqueraded by it`
            : `bridge of ${c.host} without a physical port`,
      };
    }
  }

  for (const c of configs)
    for (const w of c.wireguard)
      if (w.listen !== undefined && NAME_RE.test(w.name))
        tunnels[w.name] = { ...(tunnels[w.name] ?? {}), server: c.host, listen: w.listen, cidr: prefixText(w.addr.addr, w.addr.len) };

  const networkFor = (addr: number): string | undefined => {
    const hits = Object.entries(networks).filter(([, n]) => contains(n.cidr, addr));
    return hits.sort((x, y) => (parseCidr(y[1].cidr, false)?.len ?? 0) - (parseCidr(x[1].cidr, false)?.len ?? 0))[0]?.[0];
  };

  for (const c of configs) {
    if (done.has(c.host)) continue;
    done.add(c.host);
    const nics: NonNullable<HostSpecT['nics']> = {};
    const old = hosts[c.host];
    const ownAddrs = new Set<number>();
    let uplink: string | undefined;
    let bridges = 0;
    for (const i of c.ifaces) {
      if (i.bridgePorts !== undefined) bridges++;
      if (i.addrs.length === 0) continue;
      if (ifnameProblem(i.name) !== undefined) {
        ds.push(diag(Code.IMPORT_SYNTAX, 'error', ifnameProblem(i.name, `interface name ${JSON.stringify(i.name.slice(0, 40))}`)!, i.at));
        continue;
      }
      i.addrs.forEach((a, k) => {
        let net = networkFor(a.addr);
        if (net === undefined) {
          net = prefixName(a.addr, a.len);
          // The network's name is too long for a kernel bridge name: a short one that says the same prefix.
          const bridge = `br${networkOf(a.addr, a.len).toString(16).padStart(8, '0')}${a.len}`;
          networks[net] = { cidr: prefixText(a.addr, a.len), egress: 'none', bridge, description: `the prefix of ${c.host}'s ${i.name}` };
        }
        if (net in nics) {
          ds.push(
            diag(
              Code.IMPORT_UNSUPPORTED,
              'warning',
              `${formatIPv4(a.addr)}: ${c.host} already has ${k > 0 ? 'an address' : 'an interface'} on ${net}; cordon models one address per network, so this one is left out`,
              a.at,
            ),
          );
          return;
        }
        const oldNic = old?.nics?.[net];
        const port = typeof oldNic === 'object' ? oldNic.port : undefined;
        nics[net] = { address: formatIPv4(a.addr), ifname: i.name, ...(port ? { port } : {}) };
        ownAddrs.add(a.addr);
      });
      if (i.bridgePorts !== undefined) {
        const physical = i.bridgePorts.filter((p) => !/^(tap|veth|vnet|fwpr|fwln)/.test(p));
        // A port the topology already lists in the network's `ports:` is that: the LAN bridged in
        // (seed 000's enp1s0), not an uplink the host routes through.
        const listed = i.addrs.some((a) => {
          const net = networkFor(a.addr);
          return net !== undefined && physical[0] !== undefined && (networks[net]?.ports ?? []).includes(physical[0]);
        });
        if (physical[0] !== undefined && ifnameProblem(physical[0]) === undefined && !listed) uplink ??= physical[0];
      }
    }
    for (const w of c.wireguard) {
      if (badName(w.name, w.at, 'tunnel')) continue;
      if (!(w.name in tunnels)) {
        ds.push(
          diag(
            Code.IMPORT_UNSUPPORTED,
            'warning',
            `WireGuard ${w.name}: no file read here has its server (a listen port), so the tunnel is not imported`,
            w.at,
            "import the server's configuration too, or declare the tunnel in --topology",
          ),
        );
        continue;
      }
      nics[w.name] = formatIPv4(w.addr.addr);
    }
    // What the files do not configure stays as the topology says: tunnels (the WireGuard configs'),
    // public addresses, bridges another tool creates (libvirt's virbr*).
    for (const [net, nic] of Object.entries(old?.nics ?? {})) if (!(net in nics)) nics[net] = nic;
    const kind: HostSpecT['kind'] = old?.kind ?? (bridges > 0 ? 'hypervisor' : 'vm');
    const h: HostSpecT = { ...(old ?? { kind }), kind, nics };
    if (old === undefined)
      h.description = `${kind === 'hypervisor' ? 'holds the bridges of' : 'configured by'} ${c.files.join(', ')}${kind === 'vm' ? ' (taken as a VM; --topology says otherwise)' : ''}`;
    if (uplink !== undefined && h.uplink === undefined) h.uplink = uplink;
    delete h.routes;
    delete h.gateway;
    delete h.nameservers;
    const connected = (addr: number): boolean =>
      Object.keys(nics).some((n) => networks[n] !== undefined && contains(networks[n].cidr, addr) && !ownAddrs.has(addr));
    if (c.defaultVia) {
      if (connected(c.defaultVia.addr)) h.gateway = formatIPv4(c.defaultVia.addr);
      else
        ds.push(
          diag(
            Code.IMPORT_UNSUPPORTED,
            'warning',
            `default route via ${formatIPv4(c.defaultVia.addr)}: not on a network of ${c.host} (on-link gateways are not modelled), left out`,
            c.defaultVia.at,
          ),
        );
    } else {
      const gatewayOf = Object.keys(nics).some((n) => {
        const net = networks[n];
        return (
          net !== undefined && net.egress !== undefined && net.egress !== 'none' && net.gateway !== undefined && ownAddrs.has(parseIPv4(net.gateway) ?? -1)
        );
      });
      if (h.uplink === undefined && !gatewayOf) h.gateway = false;
    }
    const routes: { to: string; via: string }[] = [];
    for (const r of c.routes) {
      if (connected(r.via)) routes.push({ to: r.to, via: formatIPv4(r.via) });
      else
        ds.push(
          diag(Code.IMPORT_UNSUPPORTED, 'warning', `route to ${r.to} via ${formatIPv4(r.via)}: the next hop is on no network of ${c.host}; left out`, r.at),
        );
    }
    if (routes.length > 0) h.routes = routes;
    if (c.nameservers && c.nameservers.addrs.length > 0) h.nameservers = c.nameservers.addrs.map(formatIPv4);
    if (Object.keys(nics).length === 0 && old === undefined) {
      ds.push(
        diag(Code.IMPORT_NOTE, 'info', `${c.host}: no static IPv4 address in ${c.files.join(', ')}, so it is not imported`, {
          file: c.files[0]!,
          line: 0,
          col: 0,
        }),
      );
      continue;
    }
    hosts[c.host] = h;
  }
  // A network created for a prefix a host routes through: its gateway is that next hop.
  for (const c of configs) {
    const via = c.defaultVia?.addr;
    if (via === undefined) continue;
    const net = networkFor(via);
    const n = net === undefined ? undefined : networks[net];
    if (n && !fromTopology.has(net!) && n.gateway === undefined && net!.startsWith('net-')) {
      networks[net!] = {
        ...n,
        gateway: formatIPv4(via),
        egress: 'nat',
        description: `${n.description ?? ''}; its hosts route to the internet through ${formatIPv4(via)}`.replace(/^; /, ''),
      };
    }
  }
  if (Object.keys(networks).length > 0) spec.networks = networks;
  if (Object.keys(hosts).length > 0) spec.hosts = hosts;
  if (Object.keys(tunnels).length > 0) spec.tunnels = tunnels;
  return { spec, hosts: done };
}

/** Host names for PATH arguments of the interface formats: `HOST=PATH`, else --host, else `fallback(path)`. */
export function hostOfPath(
  p: string,
  req: ImportRequest,
  fallback: (path: string) => string | undefined,
  ds: Diagnostic[],
): { host: string; path: string } | undefined {
  const eq = /^([A-Za-z][A-Za-z0-9_-]*)=([\s\S]+)$/.exec(p);
  if (eq) return { host: eq[1]!, path: eq[2]! };
  const host = req.paths.length === 1 ? (req.host ?? fallback(p)) : fallback(p);
  if (host === undefined || !NAME_RE.test(host) || host.length > NAME_MAX) {
    ds.push(
      diag(
        Code.IMPORT_SYNTAX,
        'error',
        host === undefined ? `which host is ${p} from?` : `host name ${JSON.stringify(host.slice(0, 40))} is no name cordon accepts`,
        { file: p },
        `give it as HOST=${p}${req.paths.length === 1 ? ' (or --host HOST)' : ''}`,
      ),
    );
    return undefined;
  }
  return { host, path: p };
}

/** The import's result: the topology (with --topology's hosts and expectations kept) as a spec. */
export function interfacesResult(format: string, configs: readonly HostNetConfig[], req: ImportRequest, ds: Diagnostic[]): ImportResult {
  if (ds.some((d) => d.severity === 'error')) return { text: '', origins: new Map(), diagnostics: sortDiagnostics(ds) };
  const built = buildInterfacesTopology(configs, req.topology?.spec, ds);
  if (ds.some((d) => d.severity === 'error')) return { text: '', origins: new Map(), diagnostics: sortDiagnostics(ds) };
  // No firewall was read: every host keeps what the topology says about it, none gets cordon's compiled chains.
  const { base, keptFirewalls } = importBase(built.spec, new Set(), {}, `imported from ${format}: ${configs.map((c) => c.files.join(', ')).join('; ')}`);
  const header = [
    `Imported by cordon from ${format}: ${configs.map((c) => `${c.host} = ${c.files.join(', ')}`).join('; ')}.`,
    'Addresses, bridges, routes and resolvers only: no firewall was imported, so nothing filters here.',
    req.topology
      ? `Networks, hosts and expectations not in these files come from ${req.topology.file}.`
      : 'Combine with a firewall import: cordon import --from iptables … --topology THIS-FILE.',
    '',
  ];
  const { text, origins } = writeSpec({ header, base, keptFirewalls, firewalls: [] });
  return { text, origins, diagnostics: sortDiagnostics(ds) };
}
