/**
 * ifupdown target: /etc/network/interfaces as `ifupdown/<host>/interfaces` for
 *
 *  - every VM (in-guest config: one static stanza per nic, for Debian guests without netplan), and
 *  - every hypervisor: one bridge stanza per network it owns (seed 000's vmbr0/vmbr1:
 *    `bridge-ports`, `bridge-stp off`, `bridge-fd 0`), plus plain stanzas for nics on networks
 *    bridged elsewhere.
 *
 * `gateway` appears only where the model has a default route through a gateway on that network.
 * Guests' ports (tap101i0, veth101i0) join the bridge when the guest starts, so a bridge lists
 * the physical ports its network declares (`ports:`, seed 000's `bridge-ports enp1s0`), else the
 * uplink when its gateway is a router outside the spec that the uplink leads to, else none. Bridges named virbr* belong to libvirtd, which creates them itself. Tunnels, public (`internet`) nics and the uplink itself are configured elsewhere; the
 * file says so and, on a hypervisor, sources /etc/network/interfaces.d/ for them.
 */
import { diag, type Diagnostic } from '../../diag/diagnostic.js';
import { Code } from '../../diag/codes.js';
import type { Ir } from '../../ir/types.js';
import type { Host, Model, Nic } from '../../model/types.js';
import { formatCidr, formatIPv4 } from '../../util/ip.js';
import { nameserversFor } from '../dns/index.js';
import { forwardRules, natRules, portRange } from '../nat.js';
import { natTableName } from '../nftables/nat.js';
import { commented, Emitter, headerLines } from '../emit.js';
import { ifname } from '../escape.js';
import type { Renderer, RenderOptions, RenderResult, RenderedFile } from '../types.js';
import { bridgePortNames } from '../../model/bridge-ports.js';

export const ifupdownRenderer: Renderer = {
  name: 'ifupdown',
  description: "/etc/network/interfaces for VMs and for hypervisors' bridges (ifupdown/<host>/interfaces)",
  params: [],
  render(ir: Ir, opts: RenderOptions): RenderResult {
    const ds: Diagnostic[] = [];
    const files: RenderedFile[] = [];
    const hosts = ifupdownHosts(ir.model);
    for (const h of hosts) {
      if (opts.host !== undefined && opts.host !== h.name) continue;
      files.push({ path: `ifupdown/${h.name}/interfaces`, content: renderHost(ir.model, h), secret: false });
    }
    if (opts.host !== undefined && files.length === 0) {
      ds.push(
        diag(
          Code.UNKNOWN_NAME,
          'error',
          `host '${opts.host}' is neither a VM nor a hypervisor with a nic on a network, so it gets no interfaces file`,
          { file: ir.model.file },
          `hosts with one: ${hosts.map((h) => h.name).join(', ') || 'none'}`,
        ),
      );
    }
    return { files, diagnostics: ds };
  },
};

/** VMs and hypervisors with at least one nic on a declared network, by name. */
export function ifupdownHosts(model: Model): Host[] {
  return [...model.hosts.values()]
    .filter((h) => (h.kind === 'vm' || h.kind === 'hypervisor') && h.nics.some((n) => model.networks.has(n.segment)))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The `bridge-ports` value: the bridge's physical ports (src/model/bridge-ports.ts), else none. */
export function bridgePorts(model: Model, h: Host, n: Nic): string {
  const ports = bridgePortNames(model, h, n.segment);
  return ports.length > 0 ? ports.map(ifname).join(' ') : 'none';
}

function renderHost(model: Model, h: Host): string {
  const e = new Emitter('    ');
  const hyper = h.kind === 'hypervisor';
  e.lines_(
    commented(
      headerLines(model, `/etc/network/interfaces for ${h.name} (${hyper ? 'hypervisor' : 'in-guest'}); apply with ifup -a or systemctl restart networking.`),
      '# ',
    ),
  );
  const resolver = nameserversFor(model, h.name);
  const elsewhere: string[] = [];
  e.gap();
  e.line('auto lo');
  e.line('iface lo inet loopback');
  for (const n of h.nics) {
    const net = model.networks.get(n.segment);
    if (!net) {
      if (model.tunnels.has(n.segment)) elsewhere.push(`${n.ifname}: tunnel ${n.segment} (${formatIPv4(n.address)}), configured by the wireguard target`);
      else elsewhere.push(`${n.ifname}: public address ${formatIPv4(n.address)} on the internet; prefix and gateway come from the provider`);
      continue;
    }
    const bridge = hyper && net.owner === h.name;
    if (bridge && /^virbr/.test(n.ifname)) {
      elsewhere.push(`${n.ifname}: bridge of network ${net.name}, created by libvirtd from its network definition (see the libvirt target)`);
      continue;
    }
    e.gap();
    if (bridge)
      for (const port of net.ports) {
        e.line(`# ${ifname(port)}: physical port of ${ifname(n.ifname)}; the LAN beyond it shares network ${net.name}, bridged to its guests`);
        e.line(`iface ${ifname(port)} inet manual`);
        e.gap();
      }
    const nat = hyper ? natRules(model, h.name).find((r) => r.network === net) : undefined;
    e.line(
      `# ${bridge ? `bridge of network ${net.name}` : `on network ${net.name}`} (${formatCidr(net.cidr)}, egress ${net.egress})${
        nat ? `; masqueraded through ${nat.outIfs.join(', ')} by table ip ${natTableName(h.name)} of cordon's nftables rule set` : ''
      }`,
    );
    e.line(`auto ${ifname(n.ifname)}`);
    e.block(
      `iface ${ifname(n.ifname)} inet static`,
      () => {
        e.line(`address ${formatIPv4(n.address)}/${net.cidr.len}`);
        if (h.defaultRoute.kind === 'gateway' && h.defaultRoute.segment === n.segment) e.line(`gateway ${formatIPv4(h.defaultRoute.via)}`);
        if (bridge) {
          e.line(`bridge-ports ${bridgePorts(model, h, n)}`);
          e.line('bridge-stp off');
          e.line('bridge-fd 0');
        }
        for (const r of h.routes) {
          if (r.via.kind !== 'gateway' || r.via.segment !== n.segment) continue;
          e.line(`up ip route add ${formatCidr(r.to)} via ${formatIPv4(r.via.address)} dev ${ifname(n.ifname)}`);
          e.line(`down ip route del ${formatCidr(r.to)} via ${formatIPv4(r.via.address)} dev ${ifname(n.ifname)}`);
        }
        if (resolver && resolver.segment === n.segment) {
          e.line(`dns-nameservers ${resolver.addresses.map(formatIPv4).join(' ')}`);
          if (resolver.search.length) e.line(`dns-search ${resolver.search.join(' ')}`);
        }
      },
      '',
    );
  }
  const bridged = [...model.networks.values()].some((net) => net.owner === h.name && net.ports.includes(h.uplink ?? ''));
  if (h.uplink !== undefined && !bridged && !h.nics.some((n) => n.ifname === h.uplink))
    elsewhere.push(`${h.uplink}: the uplink; its address and gateway come from the provider`);
  switch (h.defaultRoute.kind) {
    case 'none':
      elsewhere.push('no default route: this host reaches only the networks it is on');
      break;
    case 'tunnel':
      elsewhere.push(`default route through tunnel ${h.defaultRoute.tunnel}, set up with the tunnel`);
      break;
    case 'uplink':
      elsewhere.push(`default route out of ${h.defaultRoute.ifname}, configured with it`);
      break;
    case 'gateway':
      break;
  }
  for (const r of h.routes) if (r.via.kind === 'tunnel') elsewhere.push(`route ${formatCidr(r.to)} through tunnel ${r.via.tunnel}, set up with the tunnel`);
  for (const f of forwardRules(model, h.name))
    elsewhere.push(
      `port forward ${f.ports.map((p) => `${p.proto}/${portRange(p.public)}`).join(', ')} on ${f.entry.join(', ')} → ${f.host}.${f.service} (${formatIPv4(f.address)}): DNAT in table ip ${natTableName(h.name)} of cordon's nftables rule set, not post-up lines`,
    );
  if (elsewhere.length) {
    e.gap();
    e.line('# Not configured here:');
    e.lines_(commented(elsewhere, '#   '));
  }
  if (hyper) {
    e.gap();
    e.line('# The uplink and anything else cordon does not model live here:');
    e.line('source /etc/network/interfaces.d/*');
  }
  if (resolver) {
    e.gap();
    e.line('# dns-nameservers / dns-search take effect with the resolvconf package installed.');
  }
  return e.toString();
}
