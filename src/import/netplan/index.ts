/**
 * `cordon import --from netplan [HOST=]FILE…`: netplan YAML (network: version: 2) as the
 * addresses, bridges, routes and resolvers of a cordon spec; several files of one host are read in
 * the order given, as netplan reads /etc/netplan/*.yaml in name order.
 *
 * What netplan's reference says and this reader takes:
 * - `ethernets`, `bridges`, `bonds`, `vlans` and `tunnels` are devices; the device's interface is
 *   its `set-name`, else its ID (a `match:` without `set-name` is a warning: the kernel name is
 *   the one that matches, unknown here).
 * - `addresses` (A/LEN, or a mapping A/LEN: {label, lifetime}), `routes` (`to: default` or
 *   0.0.0.0/0 is the default route; `via` the next hop), the deprecated `gateway4`, and
 *   `nameservers: {addresses, search}`. `dhcp4: true` without a static address is a warning: the
 *   address is unknown here. IPv6 is CORDON046.
 * - A bridge's `interfaces` are its ports (a physical one makes the bridge's way out).
 * - `tunnels` with `mode: wireguard`: the interface is a WireGuard tunnel; a `port` makes this
 *   host its server. Keys (`key`, `keys`, a peer's `keys`) are secrets and never copied.
 * Every other key is a warning at its line; a file that is not netplan YAML is an error.
 */
import { diag, sortDiagnostics, type Diagnostic, type SourcePos } from '../../diag/diagnostic.js';
import { Code } from '../../diag/codes.js';
import { parseYamlText } from '../../spec/parse.js';
import { parseIPv4 } from '../../util/ip.js';
import type { ImportRequest, ImportResult, Importer } from '../common/contract.js';
import { hostOfPath, interfacesResult, parseAddrLen, prefixText, type HostNetConfig, type IfaceConfig } from '../common/interfaces.js';
import { commentText } from '../common/spec-writer.js';

type Seg = string | number;
type At = (path: readonly Seg[], key?: boolean) => SourcePos;

const DEVICE_KINDS = ['ethernets', 'bridges', 'bonds', 'vlans', 'tunnels'] as const;
const OTHER_KINDS = new Set(['wifis', 'modems', 'vrfs', 'dummy-devices', 'virtual-ethernets', 'nm-devices']);
/** Keys that change nothing about which addresses talk. */
const QUIET = new Set([
  'mtu',
  'macaddress',
  'optional',
  'accept-ra',
  'link-local',
  'critical',
  'dhcp-identifier',
  'dhcp4-overrides',
  'dhcp6-overrides',
  'wakeonlan',
  'renderer',
  'ipv6-privacy',
  'ipv6-mtu',
  'parameters',
  'emit-lldp',
  'receive-checksum-offload',
  'transmit-checksum-offload',
  'tcp-segmentation-offload',
  'generic-segmentation-offload',
  'generic-receive-offload',
  'large-receive-offload',
  'ignore-carrier',
  'activation-mode',
]);
const READ = new Set(['addresses', 'dhcp4', 'dhcp6', 'gateway4', 'gateway6', 'routes', 'nameservers', 'match', 'set-name']);
const PER_KIND: Readonly<Record<string, ReadonlySet<string>>> = {
  ethernets: new Set(),
  bridges: new Set(['interfaces']),
  bonds: new Set(['interfaces']),
  vlans: new Set(['id', 'link']),
  tunnels: new Set(['mode', 'key', 'keys', 'port', 'peers', 'mark', 'local', 'remote', 'ttl']),
};

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function short(v: unknown): string {
  return commentText(typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v)), 45);
}

/** One device of one file into the host's config. */
function readDevice(kind: (typeof DEVICE_KINDS)[number], id: string, dev: unknown, path: Seg[], at: At, cfg: HostNetConfig, ds: Diagnostic[]): void {
  const here = at(path, true);
  if (!isMap(dev)) {
    if (dev !== null) ds.push(diag(Code.IMPORT_SYNTAX, 'error', `${kind}.${commentText(id, 40)}: expected a mapping`, here));
    return;
  }
  for (const k of Object.keys(dev))
    if (!READ.has(k) && !QUIET.has(k) && !PER_KIND[kind]!.has(k))
      ds.push(diag(Code.IMPORT_UNSUPPORTED, 'warning', `${kind}.${commentText(id, 40)}.${commentText(k, 40)}: not read`, at([...path, k], true)));
  if (kind === 'tunnels' && dev.mode !== 'wireguard') {
    ds.push(
      diag(
        Code.IMPORT_UNSUPPORTED,
        'warning',
        `tunnel ${commentText(id, 40)} mode ${short(dev.mode)}: only WireGuard tunnels are modelled; not imported`,
        here,
      ),
    );
    return;
  }
  const setName = dev['set-name'];
  if (setName !== undefined && typeof setName !== 'string')
    ds.push(diag(Code.IMPORT_SYNTAX, 'error', 'set-name: expected an interface name', at([...path, 'set-name'])));
  if (dev.match !== undefined && typeof setName !== 'string')
    ds.push(
      diag(
        Code.IMPORT_UNSUPPORTED,
        'warning',
        `${commentText(id, 40)} matches an interface by its properties without set-name: the kernel name is unknown here, ${commentText(id, 40)} is taken as the name`,
        at([...path, 'match'], true),
      ),
    );
  const name = typeof setName === 'string' ? setName : id;
  if (cfg.ifaces.some((i) => i.name === name) || cfg.wireguard.some((w) => w.name === name)) {
    ds.push(
      diag(
        Code.IMPORT_UNSUPPORTED,
        'warning',
        `${commentText(name, 40)} is defined again: netplan merges the definitions; cordon keeps the first and leaves this one out`,
        here,
      ),
    );
    return;
  }
  const iface: IfaceConfig = { name, at: here, addrs: [], bridgePorts: undefined, masquerade: false };

  // addresses
  const addrs = dev.addresses;
  if (addrs !== undefined && !Array.isArray(addrs)) ds.push(diag(Code.IMPORT_SYNTAX, 'error', 'addresses: expected a list', at([...path, 'addresses'])));
  (Array.isArray(addrs) ? addrs : []).forEach((item, n) => {
    const p = [...path, 'addresses', n];
    const text = typeof item === 'string' ? item : isMap(item) && Object.keys(item).length === 1 ? Object.keys(item)[0]! : undefined;
    if (text === undefined) {
      ds.push(diag(Code.IMPORT_SYNTAX, 'error', 'expected an address A/LEN (or a mapping A/LEN: {label, lifetime})', at(p)));
      return;
    }
    if (text.includes(':')) {
      ds.push(diag(Code.IMPORT_IPV6, 'warning', `${commentText(text, 45)}: IPv6 is not modelled, cordon verifies IPv4 only`, at(p)));
      return;
    }
    const a = parseAddrLen(text);
    if (!a || a.len === undefined)
      ds.push(diag(Code.IMPORT_SYNTAX, 'error', `'${commentText(text, 45)}': expected an IPv4 address with its prefix length, A.B.C.D/LEN`, at(p)));
    else iface.addrs.push({ addr: a.addr, len: a.len, at: at(p) });
  });
  if (dev.dhcp4 === true && iface.addrs.length === 0)
    ds.push(
      diag(
        Code.IMPORT_UNSUPPORTED,
        'warning',
        `${commentText(name, 40)} takes its address from DHCP: unknown here, so it is on no network`,
        at([...path, 'dhcp4'], true),
        'give the address the DHCP server hands out under addresses:, or in --topology',
      ),
    );

  // routes
  const setDefault = (addr: number, where: SourcePos): void => {
    if (cfg.defaultVia === undefined) cfg.defaultVia = { addr, at: where };
    else ds.push(diag(Code.IMPORT_UNSUPPORTED, 'warning', 'a second default route: cordon models one, the first is kept', where));
  };
  if (dev.gateway4 !== undefined) {
    const g = typeof dev.gateway4 === 'string' ? parseIPv4(dev.gateway4) : undefined;
    if (g === undefined) ds.push(diag(Code.IMPORT_SYNTAX, 'error', `gateway4 ${short(dev.gateway4)}: expected an IPv4 address`, at([...path, 'gateway4'])));
    else setDefault(g, at([...path, 'gateway4']));
  }
  if (dev.gateway6 !== undefined) ds.push(diag(Code.IMPORT_IPV6, 'warning', 'gateway6: IPv6 is not modelled', at([...path, 'gateway6'], true)));
  const routes = dev.routes;
  if (routes !== undefined && !Array.isArray(routes)) ds.push(diag(Code.IMPORT_SYNTAX, 'error', 'routes: expected a list', at([...path, 'routes'])));
  (Array.isArray(routes) ? routes : []).forEach((r, n) => {
    const p = [...path, 'routes', n];
    if (!isMap(r) || typeof r.to !== 'string') {
      ds.push(diag(Code.IMPORT_SYNTAX, 'error', 'a route: expected a mapping with to: and via:', at(p)));
      return;
    }
    for (const k of Object.keys(r))
      if (!['to', 'via', 'metric', 'on-link'].includes(k))
        ds.push(
          diag(
            Code.IMPORT_UNSUPPORTED,
            'warning',
            `route ${commentText(k, 20)}: ${k === 'table' || k === 'from' ? 'policy routing' : 'this property'} is not modelled; the route is taken as a plain one`,
            at([...p, k], true),
          ),
        );
    if (r.to.includes(':') || (typeof r.via === 'string' && r.via.includes(':'))) {
      ds.push(diag(Code.IMPORT_IPV6, 'warning', `route to ${commentText(r.to, 45)}: IPv6 is not modelled`, at(p)));
      return;
    }
    const via = typeof r.via === 'string' ? parseIPv4(r.via) : undefined;
    if (via === undefined) {
      ds.push(
        diag(
          r.via === undefined ? Code.IMPORT_UNSUPPORTED : Code.IMPORT_SYNTAX,
          r.via === undefined ? 'warning' : 'error',
          r.via === undefined ? `route to ${commentText(r.to, 45)} without via (on the link): not modelled` : `via ${short(r.via)}: expected an IPv4 address`,
          at(r.via === undefined ? p : [...p, 'via']),
        ),
      );
      return;
    }
    const to = r.to === 'default' ? { addr: 0, len: 0 } : parseAddrLen(r.to);
    if (!to || to.len === undefined) ds.push(diag(Code.IMPORT_SYNTAX, 'error', `to ${short(r.to)}: expected default or A.B.C.D/LEN`, at([...p, 'to'])));
    else if (to.len === 0) setDefault(via, at(p));
    else cfg.routes.push({ to: prefixText(to.addr, to.len), via, at: at(p) });
  });

  // nameservers
  const ns = dev.nameservers;
  if (ns !== undefined) {
    const list = isMap(ns) ? ns.addresses : undefined;
    if (!isMap(ns) || (list !== undefined && !Array.isArray(list)))
      ds.push(diag(Code.IMPORT_SYNTAX, 'error', 'nameservers: expected {addresses: [...], search: [...]}', at([...path, 'nameservers'])));
    else {
      const got: number[] = [];
      (Array.isArray(list) ? list : []).forEach((a, n) => {
        const p = [...path, 'nameservers', 'addresses', n];
        const v = typeof a === 'string' ? parseIPv4(a) : undefined;
        if (v !== undefined) got.push(v);
        else if (typeof a === 'string' && a.includes(':'))
          ds.push(diag(Code.IMPORT_IPV6, 'warning', `nameserver ${commentText(a, 45)}: IPv6 is not modelled`, at(p)));
        else ds.push(diag(Code.IMPORT_SYNTAX, 'error', `nameserver ${short(a)}: expected an IPv4 address`, at(p)));
      });
      for (const k of Object.keys(ns))
        if (k !== 'addresses' && k !== 'search')
          ds.push(diag(Code.IMPORT_UNSUPPORTED, 'warning', `nameservers.${commentText(k, 20)}: not read`, at([...path, 'nameservers', k], true)));
      if (got.length > 0) cfg.nameservers = { addrs: [...(cfg.nameservers?.addrs ?? []), ...got], at: cfg.nameservers?.at ?? at([...path, 'nameservers']) };
    }
  }

  // bridges' ports
  if (kind === 'bridges' || kind === 'bonds') {
    const ports = dev.interfaces;
    if (ports !== undefined && (!Array.isArray(ports) || ports.some((x) => typeof x !== 'string')))
      ds.push(diag(Code.IMPORT_SYNTAX, 'error', 'interfaces: expected a list of interface IDs', at([...path, 'interfaces'])));
    if (kind === 'bridges') iface.bridgePorts = Array.isArray(ports) ? ports.filter((x): x is string => typeof x === 'string') : [];
  }

  if (kind === 'tunnels') {
    const port = dev.port;
    const listen = typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535 ? port : undefined;
    if (port !== undefined && listen === undefined)
      ds.push(diag(Code.IMPORT_SYNTAX, 'error', `port ${short(port)}: expected a UDP port`, at([...path, 'port'])));
    const a = iface.addrs[0];
    if (!a) {
      ds.push(diag(Code.IMPORT_UNSUPPORTED, 'warning', `WireGuard ${commentText(name, 40)} has no IPv4 address: not imported`, here));
      return;
    }
    cfg.wireguard.push({ name, addr: a, listen, at: here });
    return;
  }
  cfg.ifaces.push(iface);
}

function readFile(file: string, text: string, cfg: HostNetConfig, ds: Diagnostic[]): void {
  const parsed = parseYamlText(text, file);
  if (!parsed.ok) {
    ds.push(...parsed.diagnostics);
    return;
  }
  const at: At = (path, key = false) => {
    const p = parsed.source.pos(path, key);
    return { file, line: p.line, col: p.col };
  };
  const data = parsed.data;
  const net = isMap(data) ? data.network : undefined;
  if (!isMap(net)) {
    ds.push(diag(Code.IMPORT_SYNTAX, 'error', 'not a netplan file: expected a top-level `network:` mapping', { file, line: 1, col: 1 }));
    return;
  }
  if (net.version !== 2) {
    ds.push(diag(Code.IMPORT_SYNTAX, 'error', `network.version ${short(net.version)}: netplan reads version 2 only`, at(['network', 'version'])));
    return;
  }
  for (const k of Object.keys(data as Record<string, unknown>))
    if (k !== 'network') ds.push(diag(Code.IMPORT_UNSUPPORTED, 'warning', `${commentText(k, 40)}: not a netplan key; not read`, at([k], true)));
  for (const k of Object.keys(net)) {
    if (k === 'version' || k === 'renderer') continue;
    if ((DEVICE_KINDS as readonly string[]).includes(k)) {
      const devs = net[k];
      if (devs === null) continue;
      if (!isMap(devs)) {
        ds.push(diag(Code.IMPORT_SYNTAX, 'error', `network.${k}: expected a mapping of device IDs`, at(['network', k])));
        continue;
      }
      for (const [id, dev] of Object.entries(devs)) readDevice(k as (typeof DEVICE_KINDS)[number], id, dev, ['network', k, id], at, cfg, ds);
    } else
      ds.push(
        diag(
          Code.IMPORT_UNSUPPORTED,
          'warning',
          `network.${commentText(k, 40)}: ${OTHER_KINDS.has(k) ? 'these devices are' : 'this key is'} not read`,
          at(['network', k], true),
        ),
      );
  }
}

export const netplanImporter: Importer = {
  name: 'netplan',
  description: 'netplan YAML (/etc/netplan/*.yaml, version 2): addresses, bridges and their ports, VLANs, WireGuard tunnels, routes, resolvers',
  paths: '[HOST=]FILE… (one host per HOST; several files of a host in the order netplan reads them)',
  import(req: ImportRequest): ImportResult {
    const ds: Diagnostic[] = [];
    const configs: HostNetConfig[] = [];
    const single = new Set(req.paths.map((p) => /^([A-Za-z][A-Za-z0-9_-]*)=/.exec(p)?.[1] ?? '')).size === 1;
    for (const p of req.paths) {
      // Files without HOST= are one host's when no other host is named.
      const named = hostOfPath(p, single ? { ...req, paths: [p] } : req, () => undefined, ds);
      if (!named) continue;
      const text = req.tree.read(named.path);
      if (text === undefined) {
        ds.push(diag(Code.FILE_UNREADABLE, 'error', `cannot read ${named.path}`, { file: named.path }));
        continue;
      }
      let cfg = configs.find((c) => c.host === named.host);
      if (!cfg) {
        cfg = { host: named.host, files: [], ifaces: [], defaultVia: undefined, routes: [], nameservers: undefined, wireguard: [] };
        configs.push(cfg);
      }
      cfg.files.push(named.path);
      readFile(named.path, text, cfg, ds);
    }
    if (configs.length === 0 && !ds.some((d) => d.severity === 'error')) return { text: '', origins: new Map(), diagnostics: sortDiagnostics(ds) };
    return interfacesResult('netplan', configs, req, ds);
  },
};
