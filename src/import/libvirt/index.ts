/**
 * `cordon import --from libvirt PATH…`: libvirt's XML — networks (`virsh net-dumpxml`), network
 * filters (`virsh nwfilter-dumpxml`) and domains (`virsh dumpxml`, for which filter each interface
 * has and with which parameters) — as a cordon spec. Files or directories (their *.xml, e.g. a
 * copy of /etc/libvirt) in any order; each file is recognised by its root element.
 *
 * - Each domain interface with a `<filterref>` gets the guest's per-guest chains (guest-out,
 *   guest-in), evaluated as instantiate.ts describes; libvirt's shipped filters need no file.
 * - The host's side is what libvirt adds for its networks (iptables backend): DNS and DHCP from
 *   the bridge to the host (LIBVIRT_INP); in FORWARD, traffic between ports of a bridge
 *   (LIBVIRT_FWX), into the network (LIBVIRT_FWI: a NAT network only replies, a routed one
 *   anything to its prefix, an isolated one nothing) and out of it (LIBVIRT_FWO: from its own
 *   prefix, for NAT and routed networks; nothing from an isolated one). The host's own firewall
 *   is not in libvirt's files: its INPUT and FORWARD are taken as ACCEPT beyond those rules, and a
 *   note says so.
 * - Topology: with --topology, its networks and hosts (a libvirt network is the topology network
 *   of the same name or bridge, a domain the host of the same name); without, the networks come
 *   from the network XML (`<ip>`, `<forward mode>`, `<bridge name>`), the host from --host (default
 *   `libvirt-host`), each domain is a `vm` with its addresses from its filterref's `IP` parameter
 *   or the network's `<dhcp><host>` entries.
 * libvirt's nwfilter bindings (`libvirt-in-post`) accept a filtered guest's traffic in FORWARD
 * ahead of the host's own rules on many hosts; which runs first depends on start order, so the
 * import keeps libvirt's network rules after the per-guest filters, as the model's paths do.
 */
import { diag, sortDiagnostics, type Diagnostic, type SourcePos } from '../../diag/diagnostic.js';
import { Code } from '../../diag/codes.js';
import type { FirewallRuleSpecT, HostSpecT, NetworkSpecT, Spec } from '../../spec/schema.js';
import { NAME_RE } from '../../spec/identifiers.js';
import { formatIPv4, parseIPv4 } from '../../util/ip.js';
import type { RangeSet } from '../../util/rangeset.js';
import type { ImportRequest, ImportResult, Importer, SourceTree } from '../common/contract.js';
import { writeSpec, type DraftFirewall, type DraftRule } from '../common/spec-writer.js';
import { importBase } from '../common/topology.js';
import { paramsOf, readFilter, type NwFilter } from './filter.js';
import { instantiate, type Binding } from './instantiate.js';
import { attr, kids, parseXml, type XmlElement } from './xml.js';

interface Net {
  readonly name: string;
  readonly at: SourcePos;
  readonly bridge: string | undefined;
  readonly mode: string;
  readonly dev: string | undefined;
  /** The host's address on the network and the prefix length. */
  readonly ip: { readonly addr: number; readonly len: number } | undefined;
  readonly dhcpHosts: readonly { readonly mac: string | undefined; readonly name: string | undefined; readonly ip: number }[];
}

interface Iface {
  readonly network: string | undefined;
  readonly bridge: string | undefined;
  readonly dev: string | undefined;
  readonly mac: string | undefined;
  readonly filter: { readonly name: string; readonly params: ReadonlyMap<string, readonly string[]>; readonly at: SourcePos } | undefined;
  readonly at: SourcePos;
}

interface Domain {
  readonly name: string;
  readonly at: SourcePos;
  readonly ifaces: readonly Iface[];
}

const MAX_FILES = 4000;
const MAX_DEPTH = 6;

/** The *.xml files under the paths the user named (a directory is searched a few levels deep). */
function xmlFiles(tree: SourceTree, paths: readonly string[], ds: Diagnostic[]): string[] {
  const out: string[] = [];
  const visit = (p: string, depth: number): void => {
    const entries = tree.list(p);
    if (entries === undefined) {
      out.push(p);
      return;
    }
    if (depth >= MAX_DEPTH) return;
    for (const e of entries) {
      if (out.length >= MAX_FILES) return;
      const child = `${p.replace(/\/+$/, '')}/${e}`;
      if (tree.list(child) !== undefined) visit(child, depth + 1);
      else if (e.endsWith('.xml')) out.push(child);
    }
  };
  for (const p of paths) visit(p, 0);
  if (out.length >= MAX_FILES)
    ds.push(diag(Code.IMPORT_UNSUPPORTED, 'warning', `more than ${MAX_FILES} XML files: only the first ${MAX_FILES} are read`, { file: paths[0] ?? '.' }));
  return out;
}

function readNetwork(root: XmlElement, file: string, ds: Diagnostic[]): Net | undefined {
  const at = { file, line: root.line, col: root.col };
  const name = kids(root, 'name')[0]?.text;
  if (!name) {
    ds.push(diag(Code.IMPORT_SYNTAX, 'error', '<network> without a <name>', at));
    return undefined;
  }
  const fwd = kids(root, 'forward')[0];
  const mode = fwd ? (attr(fwd, 'mode') ?? 'nat') : 'none';
  const ipEl = kids(root, 'ip').find((e) => (attr(e, 'family') ?? 'ipv4') === 'ipv4');
  let ip: Net['ip'];
  const dhcpHosts: { mac: string | undefined; name: string | undefined; ip: number }[] = [];
  if (ipEl) {
    const a = parseIPv4(attr(ipEl, 'address') ?? '');
    const mask = attr(ipEl, 'netmask');
    const prefix = attr(ipEl, 'prefix');
    const len =
      prefix !== undefined ? (/^\d{1,2}$/.test(prefix) && Number(prefix) <= 32 ? Number(prefix) : undefined) : mask !== undefined ? maskToLen(mask) : 24;
    if (a === undefined || len === undefined) {
      ds.push(
        diag(Code.IMPORT_SYNTAX, 'error', `network '${name}': <ip address='${attr(ipEl, 'address') ?? ''}'> needs an IPv4 address and a netmask or prefix`, {
          file,
          line: ipEl.line,
          col: ipEl.col,
        }),
      );
      return undefined;
    }
    ip = { addr: a, len };
    for (const h of kids(ipEl, 'dhcp').flatMap((d) => kids(d, 'host'))) {
      const hip = parseIPv4(attr(h, 'ip') ?? '');
      if (hip !== undefined) dhcpHosts.push({ mac: attr(h, 'mac')?.toLowerCase(), name: attr(h, 'name'), ip: hip });
    }
  }
  for (const v6 of kids(root, 'ip').filter((e) => attr(e, 'family') === 'ipv6'))
    ds.push(
      diag(Code.IMPORT_IPV6, 'warning', `network '${name}': its IPv6 addresses are not modelled: cordon verifies IPv4 only`, {
        file,
        line: v6.line,
        col: v6.col,
      }),
    );
  return { name, at, bridge: attr(kids(root, 'bridge')[0] ?? root, 'name'), mode, dev: fwd ? attr(fwd, 'dev') : undefined, ip, dhcpHosts };
}

function maskToLen(mask: string): number | undefined {
  const m = parseIPv4(mask);
  if (m === undefined) return undefined;
  const len = 32 - Math.log2((~m >>> 0) + 1);
  return Number.isInteger(len) ? len : undefined;
}

function readDomain(root: XmlElement, file: string, ds: Diagnostic[]): Domain | undefined {
  const at = { file, line: root.line, col: root.col };
  const name = kids(root, 'name')[0]?.text;
  if (!name) {
    ds.push(diag(Code.IMPORT_SYNTAX, 'error', '<domain> without a <name>', at));
    return undefined;
  }
  const ifaces: Iface[] = [];
  for (const dev of kids(root, 'devices'))
    for (const i of kids(dev, 'interface')) {
      const got = readIface(i, file, name, ds);
      if (got) ifaces.push(got);
    }
  return { name, at, ifaces };
}

/** One `<interface>` of a domain (or a document that is only an interface, named by NAME=FILE). */
function readIface(i: XmlElement, file: string, domain: string, ds: Diagnostic[]): Iface | undefined {
  const src = kids(i, 'source')[0];
  const fr = kids(i, 'filterref')[0];
  const type = attr(i, 'type');
  if (type !== 'network' && type !== 'bridge') {
    ds.push(
      diag(Code.IMPORT_NOTE, 'info', `domain '${domain}': interface type '${type ?? ''}' is not on a libvirt network or bridge; not imported`, {
        file,
        line: i.line,
        col: i.col,
      }),
    );
    return undefined;
  }
  return {
    network: type === 'network' && src ? attr(src, 'network') : undefined,
    bridge: type === 'bridge' && src ? attr(src, 'bridge') : undefined,
    dev: attr(kids(i, 'target')[0] ?? i, 'dev'),
    mac: attr(kids(i, 'mac')[0] ?? i, 'address')?.toLowerCase(),
    filter: fr && attr(fr, 'filter') !== undefined ? { name: attr(fr, 'filter')!, params: paramsOf(fr), at: { file, line: fr.line, col: fr.col } } : undefined,
    at: { file, line: i.line, col: i.col },
  };
}

function egressOf(mode: string): NetworkSpecT['egress'] {
  return mode === 'nat' ? 'nat' : mode === 'route' || mode === 'open' ? 'routed' : 'none';
}

function cidrText(ip: NonNullable<Net['ip']>): string {
  const size = 2 ** (32 - ip.len);
  return `${formatIPv4(Math.floor(ip.addr / size) * size)}/${ip.len}`;
}

/** What libvirt adds on the host for its networks (iptables backend), per network. */
function hostRules(nets: readonly { net: Net; bridge: string; cidr: string }[]): { input: DraftRule[]; forward: DraftRule[] } {
  const input: DraftRule[] = [];
  const fwx: DraftRule[] = [];
  const fwi: DraftRule[] = [];
  const fwo: DraftRule[] = [];
  const r = (rule: FirewallRuleSpecT, n: Net, text: string): DraftRule => ({
    rule: { ...rule, comment: `libvirt built-in: ${text}` },
    source: n.at,
    sourceText: `built-in rule libvirt adds for network '${n.name}': ${text}`,
  });
  for (const { net, bridge, cidr } of nets) {
    if (!['nat', 'route', 'none', 'open'].includes(net.mode) || !net.ip) continue;
    if (net.mode === 'open') continue; // libvirt adds no firewall rules for mode='open'
    input.push(
      r({ action: 'accept', iif: bridge, ports: ['udp/53', 'tcp/53', 'udp/67', 'tcp/67'] }, net, 'LIBVIRT_INP: DNS and DHCP from the bridge to dnsmasq'),
    );
    fwx.push(r({ action: 'accept', iif: bridge, oif: bridge }, net, 'LIBVIRT_FWX: between ports of the bridge'));
    if (net.mode === 'nat') fwi.push(r({ action: 'accept', oif: bridge, to: cidr, state: 'established' }, net, 'LIBVIRT_FWI: replies into the NAT network'));
    if (net.mode === 'route') fwi.push(r({ action: 'accept', oif: bridge, to: cidr }, net, 'LIBVIRT_FWI: anything to the routed network'));
    fwi.push(r({ action: 'reject', oif: bridge }, net, 'LIBVIRT_FWI: anything else into the network'));
    if (net.mode !== 'none') fwo.push(r({ action: 'accept', iif: bridge, from: cidr }, net, 'LIBVIRT_FWO: out of the network, from its own prefix'));
    fwo.push(r({ action: 'reject', iif: bridge }, net, 'LIBVIRT_FWO: anything else out of the network'));
  }
  return { input, forward: [...fwx, ...fwi, ...fwo] };
}

function nicAddr(n: NonNullable<HostSpecT['nics']>[string]): number | undefined {
  return parseIPv4(typeof n === 'string' ? n : n.address);
}

export const libvirtImporter: Importer = {
  name: 'libvirt',
  description: 'libvirt network, nwfilter and domain XML (virsh net-dumpxml, nwfilter-dumpxml, dumpxml); the filters libvirt ships are known',
  paths: 'FILE.xml… or directories of them (e.g. a copy of /etc/libvirt); each file is recognised by its root element',
  import(req: ImportRequest): ImportResult {
    const ds: Diagnostic[] = [];
    const filters = new Map<string, NwFilter>();
    const nets: Net[] = [];
    const domains: Domain[] = [];
    // NAME=FILE: FILE is one domain's <interface> (as `virsh domiflist`/cordon's libvirt target write them).
    const named = new Map<string, string>();
    const plain: string[] = [];
    for (const p of req.paths) {
      const eq = /^([A-Za-z0-9][A-Za-z0-9_.-]*)=(.+)$/.exec(p);
      if (eq) named.set(eq[2]!, eq[1]!);
      else plain.push(p);
    }
    const files = [...xmlFiles(req.tree, plain, ds), ...named.keys()];
    const byDomain = new Map<string, Domain>();
    for (const file of files) {
      const text = req.tree.read(file);
      if (text === undefined) {
        ds.push(diag(Code.FILE_UNREADABLE, 'error', `cannot read ${file}`, { file }));
        continue;
      }
      const x = parseXml(text);
      if (!x.ok) {
        ds.push(diag(Code.IMPORT_SYNTAX, 'error', `not well-formed XML: ${x.error}`, { file, line: x.line, col: x.col }));
        continue;
      }
      const root = x.root;
      if (root.name === 'filter') {
        const f = readFilter(root, file, ds);
        if (!f) continue;
        const dup = filters.get(f.name);
        if (dup) ds.push(diag(Code.IMPORT_SYNTAX, 'error', `filter '${f.name}' is defined twice (also at ${dup.at.file}:${dup.at.line})`, f.at));
        else filters.set(f.name, f);
      } else if (root.name === 'network') {
        const n = readNetwork(root, file, ds);
        if (n) nets.push(n);
      } else if (root.name === 'domain') {
        const d = readDomain(root, file, ds);
        if (d) domains.push(d);
      } else if (root.name === 'interface') {
        const owner = named.get(file);
        if (owner === undefined) {
          ds.push(
            diag(
              Code.IMPORT_SYNTAX,
              'error',
              'an <interface> document: which domain is it of?',
              { file, line: root.line, col: root.col },
              `give it as DOMAIN=${file}`,
            ),
          );
          continue;
        }
        const i = readIface(root, file, owner, ds);
        if (!i) continue;
        const d = byDomain.get(owner);
        if (d) (d.ifaces as Iface[]).push(i);
        else {
          const nd: Domain = { name: owner, at: { file, line: root.line, col: root.col }, ifaces: [i] };
          byDomain.set(owner, nd);
          domains.push(nd);
        }
      } else
        ds.push(
          diag(Code.IMPORT_UNSUPPORTED, 'warning', `<${root.name}>: not a libvirt network, filter or domain document; not read`, {
            file,
            line: root.line,
            col: root.col,
          }),
        );
    }
    if (ds.some((d) => d.severity === 'error')) return { text: '', origins: new Map(), diagnostics: sortDiagnostics(ds) };

    // --- topology -------------------------------------------------------------------------------
    const topo: Spec = req.topology ? { ...req.topology.spec } : { version: 1 };
    const topoNets = topo.networks ?? {};
    const netName = new Map<string, string>(); // libvirt network name → topology network name
    const bridgeOf = new Map<string, string>(); // topology network → bridge
    const hosts: Record<string, HostSpecT> = { ...(topo.hosts ?? {}) };
    let node = req.host;
    if (req.topology) {
      const hv = Object.entries(hosts).filter(([, h]) => h.kind === 'hypervisor');
      node ??= hv.length === 1 ? hv[0]![0] : undefined;
      if (node === undefined || !(node in hosts)) {
        ds.push(
          diag(
            Code.IMPORT_SYNTAX,
            'error',
            'which topology host runs libvirt?',
            { file: req.topology.file },
            'name it with --host (the topology has no single hypervisor)',
          ),
        );
        return { text: '', origins: new Map(), diagnostics: sortDiagnostics(ds) };
      }
      for (const n of nets) {
        const byName = n.name in topoNets ? n.name : undefined;
        const byBridge = Object.entries(topoNets).find(([k, v]) => (v.bridge ?? k) === n.bridge)?.[0];
        const t = byName ?? byBridge;
        if (t === undefined) {
          ds.push(diag(Code.IMPORT_NOTE, 'info', `network '${n.name}' is not in the topology (by name or bridge): its rules are not imported`, n.at));
          continue;
        }
        netName.set(n.name, t);
        bridgeOf.set(t, topoNets[t]!.bridge ?? t);
      }
    } else {
      node ??= 'libvirt-host';
      const networks: Record<string, NetworkSpecT> = {};
      const nics: Record<string, string> = {};
      let uplink: string | undefined;
      // libvirt names a bridge the network does not name itself: the first free virbrN.
      const taken = new Set(nets.map((n) => n.bridge).filter((b) => b !== undefined));
      let next = 0;
      const autoBridge = (n: Net): string => {
        while (taken.has(`virbr${next}`)) next++;
        const b = `virbr${next}`;
        taken.add(b);
        ds.push(
          diag(
            Code.IMPORT_NOTE,
            'info',
            `network '${n.name}' names no <bridge>: libvirt picks the first free virbrN, taken as ${b}`,
            n.at,
            "add <bridge name='…'/> to make it certain",
          ),
        );
        return b;
      };
      for (const n of nets) {
        if (!n.ip || !['nat', 'route', 'none', 'open'].includes(n.mode)) {
          ds.push(
            diag(
              Code.IMPORT_UNSUPPORTED,
              'warning',
              `network '${n.name}' (forward mode '${n.mode}'${n.ip ? '' : ', no <ip>'}): not a network libvirt addresses and filters; not imported`,
              n.at,
            ),
          );
          continue;
        }
        if (!NAME_RE.test(n.name)) {
          ds.push(
            diag(
              Code.IMPORT_SYNTAX,
              'error',
              `network name '${n.name.slice(0, 40)}' is not a cordon name`,
              n.at,
              'rename the network, or give a --topology that maps it by bridge',
            ),
          );
          continue;
        }
        const bridge = n.bridge ?? autoBridge(n);
        networks[n.name] = {
          cidr: cidrText(n.ip),
          ...(n.mode === 'nat' || n.mode === 'route' ? { gateway: formatIPv4(n.ip.addr) } : {}),
          egress: egressOf(n.mode),
          bridge,
          description: `libvirt network, forward mode ${n.mode} (${n.at.file})`,
        };
        nics[n.name] = formatIPv4(n.ip.addr);
        if (n.mode !== 'none') uplink ??= n.dev ?? 'eth0';
        netName.set(n.name, n.name);
        bridgeOf.set(n.name, bridge);
      }
      topo.networks = networks;
      hosts[node] = { kind: 'hypervisor', ...(uplink ? { uplink } : {}), nics, description: 'the libvirt host (its networks from the network XML)' };
      for (const d of domains) {
        if (!NAME_RE.test(d.name)) {
          ds.push(
            diag(Code.IMPORT_SYNTAX, 'error', `domain name '${d.name.slice(0, 40)}' is not a cordon name`, d.at, 'give a --topology that names the host'),
          );
          continue;
        }
        const gnics: NonNullable<HostSpecT['nics']> = {};
        for (const i of d.ifaces) {
          const t = i.network !== undefined ? netName.get(i.network) : undefined;
          const n = nets.find((x) => x.name === i.network);
          if (t === undefined || !n) {
            ds.push(
              diag(
                Code.IMPORT_NOTE,
                'info',
                `domain '${d.name}': interface on ${i.network ? `network '${i.network}'` : `bridge '${i.bridge ?? '?'}'`}, which is not imported`,
                i.at,
              ),
            );
            continue;
          }
          const ipParam = i.filter?.params.get('IP')?.[0];
          const fromDhcp = n.dhcpHosts.find((h) => (i.mac !== undefined && h.mac === i.mac) || h.name === d.name)?.ip;
          const addr = ipParam !== undefined ? parseIPv4(ipParam) : fromDhcp;
          if (addr === undefined) {
            ds.push(
              diag(
                Code.IMPORT_UNSUPPORTED,
                'warning',
                `domain '${d.name}': no address for its interface on '${i.network}' (no filterref IP parameter, no <dhcp><host> entry): the interface is not imported`,
                i.at,
                "add <parameter name='IP' value='…'/> to the filterref, or give --topology",
              ),
            );
            continue;
          }
          gnics[t] = i.dev && /^[A-Za-z0-9_.-]{1,15}$/.test(i.dev) ? { address: formatIPv4(addr), port: i.dev } : formatIPv4(addr);
        }
        if (Object.keys(gnics).length > 0) hosts[d.name] = { kind: 'vm', nics: gnics, description: `libvirt domain (${d.at.file})` };
      }
    }
    topo.hosts = hosts;

    // --- per-guest filters ----------------------------------------------------------------------
    const firewalls: DraftFirewall[] = [];
    const guests = new Set<string>();
    const antiSpoof = new Map<string, boolean>();
    for (const d of domains) {
      const h = hosts[d.name];
      const filtered = d.ifaces.filter((i) => i.filter);
      if (filtered.length === 0) continue;
      if (!h) {
        if (req.topology)
          ds.push(
            diag(
              Code.IMPORT_UNSUPPORTED,
              'warning',
              `domain '${d.name}' is not a host of the topology: its filters are not imported`,
              d.at,
              `add a host '${d.name}' to ${req.topology.file}`,
            ),
          );
        continue;
      }
      const outRules: DraftRule[] = [];
      const inRules: DraftRule[] = [];
      let pinned = true;
      const multi = d.ifaces.length > 1;
      for (const i of filtered) {
        const t = i.network !== undefined ? netName.get(i.network) : [...bridgeOf].find(([, br]) => br === i.bridge)?.[0];
        const nic = t !== undefined ? h.nics?.[t] : undefined;
        const a = nic !== undefined ? nicAddr(nic) : undefined;
        if (a === undefined) {
          ds.push(
            diag(
              Code.IMPORT_UNSUPPORTED,
              'warning',
              `domain '${d.name}': its interface's network is not one of ${d.name}'s networks in the topology; the filter is not imported`,
              i.filter!.at,
            ),
          );
          continue;
        }
        const addresses: RangeSet = [[a, a]];
        const b: Binding = { filter: i.filter!.name, params: i.filter!.params, at: i.filter!.at, addresses, only: multi ? addresses : undefined };
        const got = instantiate(b, filters, ds);
        outRules.push(...got.out);
        inRules.push(...got.in);
        pinned &&= got.antiSpoof;
      }
      guests.add(d.name);
      antiSpoof.set(d.name, pinned);
      const pol = (dir: string): string => `nwfilter: a packet no rule of ${d.name}'s filter decides passes (${dir})`;
      firewalls.push({ point: `${d.name}:guest-out`, policy: 'accept', policySource: undefined, policyText: pol('from the guest'), rules: outRules });
      firewalls.push({ point: `${d.name}:guest-in`, policy: 'accept', policySource: undefined, policyText: pol('to the guest'), rules: inRules });
    }

    // --- the host: libvirt's network rules -----------------------------------------------------------
    const libvirtNets = nets
      .filter((n) => netName.has(n.name))
      .map((n) => {
        const t = netName.get(n.name)!;
        const cidr = topoNets[t]?.cidr ?? (n.ip ? cidrText(n.ip) : '');
        return { net: n, bridge: bridgeOf.get(t)!, cidr };
      });
    const hr = hostRules(libvirtNets);
    const own = "the host's own firewall is not in libvirt's files: ACCEPT beyond libvirt's rules (import its iptables-save for the rest)";
    if (nets.length > 0) ds.push(diag(Code.IMPORT_NOTE, 'info', `${node}: ${own}`, nets[0]!.at));
    firewalls.unshift(
      { point: `${node}:input`, policy: 'accept', policySource: undefined, policyText: own, rules: hr.input },
      { point: `${node}:output`, policy: 'accept', policySource: undefined, policyText: own, rules: [] },
      { point: `${node}:forward`, policy: 'accept', policySource: undefined, policyText: own, rules: hr.forward },
    );
    if (ds.some((x) => x.severity === 'error')) return { text: '', origins: new Map(), diagnostics: sortDiagnostics(ds) };

    const imported = new Set([node, ...guests]);
    const { base, keptFirewalls, droppedFirewalls } = importBase(topo, imported, {}, `imported from libvirt: ${req.paths.join(', ')}`, guests);
    for (const [g, pinned] of antiSpoof) {
      const h = base.hosts?.[g];
      if (h) h.firewall = { ...(h.firewall ?? {}), antiSpoof: pinned };
    }
    const header = [
      `Imported by cordon from libvirt XML: ${req.paths.join(', ')} (host ${node}).`,
      req.topology
        ? `Topology (networks, hosts, expectations) from ${req.topology.file}; its policy is replaced by the imported rules.`
        : 'Networks from the network XML, guests from the domain XML (addresses from filterref IP parameters or DHCP host entries).',
      "Every rule below names the file and line it comes from; rules libvirt adds itself say so. A guest's filter: guest-out (from it) and guest-in (to it).",
      ...(droppedFirewalls.length > 0 ? [`Per-guest chains of the topology left out: ${droppedFirewalls.join(', ')}.`] : []),
      '',
    ];
    const { text, origins } = writeSpec({ header, base, keptFirewalls, firewalls });
    return { text, origins, diagnostics: sortDiagnostics(ds) };
  },
};
