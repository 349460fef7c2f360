/**
 * netplan target: the in-guest interface configuration of every VM (seed 000's
 * /etc/netplan/00-installer-config.yaml), as `netplan/<host>/00-cordon.yaml`, and the bridges of
 * a hypervisor that owns one with a physical port (`bridges: vmbr0: interfaces: [enp1s0]`, the
 * ports declared under `ethernets` without an address, stp off, forward delay 0 as seed 000).
 *
 * Each nic on a network becomes an `ethernets` entry keyed by its interface name, with its address
 * and the network's prefix length. A default route is written only where the model has one through
 * a gateway on that network ("Ingen default route — endast lokal trafik" otherwise), extra static
 * routes go on the nic that reaches their next hop, and the resolver of the `dns:` zone is set on
 * the nic that shares a network with the DNS server. Tunnels and public (`internet`) nics are
 * configured elsewhere; the header says so instead of guessing.
 */
import { diag, type Diagnostic } from '../../diag/diagnostic.js';
import { Code } from '../../diag/codes.js';
import type { Ir } from '../../ir/types.js';
import type { Host, Model } from '../../model/types.js';
import { formatCidr, formatIPv4 } from '../../util/ip.js';
import { nameserversFor } from '../dns/index.js';
import { commented, Emitter, headerLines } from '../emit.js';
import { ifname } from '../escape.js';
import type { Renderer, RenderOptions, RenderResult, RenderedFile } from '../types.js';
import { yamlLines } from '../yaml.js';
import { netplanBridges } from '../../model/bridge-ports.js';

export const netplanRenderer: Renderer = {
  name: 'netplan',
  description: 'in-guest interface configs for VMs (netplan/<host>/00-cordon.yaml; check with netplan generate)',
  params: [],
  render(ir: Ir, opts: RenderOptions): RenderResult {
    const ds: Diagnostic[] = [];
    const files: RenderedFile[] = [];
    const hosts = netplanHosts(ir.model);
    for (const h of hosts) {
      if (opts.host !== undefined && opts.host !== h.name) continue;
      files.push({ path: `netplan/${h.name}/00-cordon.yaml`, content: renderHost(ir.model, h), secret: false });
    }
    if (opts.host !== undefined && files.length === 0) {
      ds.push(
        diag(
          Code.UNKNOWN_NAME,
          'error',
          `host '${opts.host}' is not a VM with a nic on a network, so it gets no netplan file`,
          { file: ir.model.file },
          `VMs: ${hosts.map((h) => h.name).join(', ') || 'none'}`,
        ),
      );
    }
    return { files, diagnostics: ds };
  },
};

/**
 * VMs with at least one nic on a declared network, and hypervisors owning a bridge with a physical
 * port (`networks.X.ports`: an Ubuntu host whose bridges netplan makes), by name. Other
 * hypervisors' bridges come from the ifupdown, proxmox and libvirt targets.
 */
export function netplanHosts(model: Model): Host[] {
  return [...model.hosts.values()]
    .filter((h) => (h.kind === 'vm' && h.nics.some((n) => model.networks.has(n.segment))) || netplanBridges(model, h))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

interface Bridge extends Ethernet {
  interfaces: string[];
  parameters: { stp: boolean; 'forward-delay': number };
}

interface Ethernet {
  dhcp4: boolean;
  /** Absent on a bridge's member port, which has no address of its own. */
  addresses?: string[];
  routes?: { to: string; via: string }[];
  nameservers?: { search?: string[]; addresses: string[] };
}

function renderHost(model: Model, h: Host): string {
  const notes: string[] = [];
  // No prototype: an interface may be called __proto__ (the kernel allows it), and must still be a key.
  const ethernets: Record<string, Ethernet> = Object.create(null) as Record<string, Ethernet>;
  const bridges: Record<string, Bridge> = Object.create(null) as Record<string, Bridge>;
  const hyper = netplanBridges(model, h);
  const resolver = nameserversFor(model, h.name);
  for (const n of h.nics) {
    const net = model.networks.get(n.segment);
    if (hyper && net && net.owner === h.name && /^virbr/.test(net.bridge)) {
      notes.push(`${net.bridge} (network ${net.name}) is created by libvirtd from its network definition (libvirt target), not here.`);
      continue;
    }
    if (!net) {
      if (model.tunnels.has(n.segment))
        notes.push(`${n.ifname} (tunnel ${n.segment}, ${formatIPv4(n.address)}) is configured by the wireguard target, not here.`);
      else
        notes.push(
          `${n.ifname} (public address ${formatIPv4(n.address)} on the internet): its prefix and gateway come from the provider; not configured here.`,
        );
      continue;
    }
    const eth: Ethernet = { dhcp4: false, addresses: [`${formatIPv4(n.address)}/${net.cidr.len}`] };
    const routes: { to: string; via: string }[] = [];
    if (h.defaultRoute.kind === 'gateway' && h.defaultRoute.segment === n.segment) routes.push({ to: 'default', via: formatIPv4(h.defaultRoute.via) });
    for (const r of h.routes) {
      if (r.via.kind === 'gateway' && r.via.segment === n.segment) routes.push({ to: formatCidr(r.to), via: formatIPv4(r.via.address) });
    }
    if (routes.length) eth.routes = routes;
    if (resolver && resolver.segment === n.segment)
      eth.nameservers = { ...(resolver.search.length ? { search: [...resolver.search] } : {}), addresses: resolver.addresses.map(formatIPv4) };
    if (hyper && net.owner === h.name) {
      // A bridge's member interfaces must be declared too (netplan), with no address of their own.
      for (const port of net.ports) ethernets[ifname(port)] = { dhcp4: false };
      bridges[ifname(net.bridge)] = { ...eth, interfaces: net.ports.map(ifname), parameters: { stp: false, 'forward-delay': 0 } };
      if (net.ports.length > 0) notes.push(`${net.bridge}: the LAN beyond ${net.ports.join(', ')} shares network ${net.name}, bridged to its guests.`);
    } else ethernets[ifname(n.ifname)] = eth;
  }
  switch (h.defaultRoute.kind) {
    case 'gateway':
      break;
    case 'none':
      notes.push(`No default route: ${h.name} reaches only the networks it is on${h.routes.length ? ' and its static routes' : ''}.`);
      break;
    case 'tunnel':
      notes.push(`Default route: through tunnel ${h.defaultRoute.tunnel} (vpn-only), set up with the tunnel, not here.`);
      break;
    case 'uplink':
      notes.push(`Default route: out of ${h.defaultRoute.ifname}, whose gateway comes from the provider; not configured here.`);
      break;
  }
  for (const r of h.routes)
    if (r.via.kind === 'tunnel') notes.push(`Route ${formatCidr(r.to)} through tunnel ${r.via.tunnel} is set up with the tunnel, not here.`);
  const e = new Emitter();
  e.lines_(
    commented(
      headerLines(
        model,
        `netplan configuration for ${h.name}${hyper ? ' (hypervisor: its bridges)' : ''}: install as /etc/netplan/00-cordon.yaml (mode 0600), then netplan apply.`,
      ),
      '# ',
    ),
  );
  if (notes.length) e.lines_(commented(notes, '# '));
  e.gap();
  e.lines_(yamlLines({ network: { version: 2, ethernets, ...(hyper ? { bridges } : {}) } }));
  return e.toString();
}
