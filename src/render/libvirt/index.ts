/**
 * libvirt target: for each hypervisor, the libvirt objects that realise its networks and its guests'
 * per-guest firewalls, plus the `virsh` commands that define them. Files, under `libvirt/<hypervisor>/`:
 *
 * - `networks/<network>.xml`: one libvirt network per network the hypervisor owns. egress nat is
 *   `<forward mode='nat'>` (ports 1024-65535, as seed 001), routed is `<forward mode='route'>`, none
 *   has no `<forward>` (isolated). A network the hypervisor only has a nic on, owned by nobody
 *   (its gateway is a router cordon does not manage), holds guests in `<forward mode='bridge'>`,
 *   and so does a network with a physical port (`ports:`, seed 000's vmbr0 with enp1s0): the host
 *   bridge that enslaves the port is the host's own (ifupdown, Proxmox or netplan make it, with its
 *   address), and libvirt's way to put guests on an existing bridge is bridge mode, with no
 *   `<ip>` and no `<dhcp>` (the LAN beyond the port has its own).
 *   Declared guests get static addresses (in a comment); a network's `dhcp:` pool becomes
 *   `<dhcp><range …/></dhcp>` for guests the spec does not declare (seed 001), which the resolver
 *   keeps clear of every static address. Without one there is no `<dhcp>`.
 * - `nwfilters/cordon-<guest>.xml`: the guest's guest-out and guest-in chains (see nwfilter.ts).
 * - `domains/<guest>-interface.xml`: the `<interface>` to put into the guest's domain, with the
 *   bridge port name cordon's other targets use and the filterref (one file per nic; with several
 *   nics on this hypervisor's networks, `<guest>-interface-<network>.xml`).
 * - `define.sh`: `virsh nwfilter-define`, `net-define`, `net-start`, `net-autostart`; safe to re-run.
 */
import { diag, type Diagnostic } from '../../diag/diagnostic.js';
import { Code } from '../../diag/codes.js';
import type { Ir } from '../../ir/types.js';
import { describeRate } from '../../model/bandwidth.js';
import { GUEST_KINDS, type Host, type Model, type Network, type Nic } from '../../model/types.js';
import { assertNever } from '../../util/assert.js';
import { formatIPv4, maskOf } from '../../util/ip.js';
import { commented, Emitter, headerLines } from '../emit.js';
import { ifname, shWord } from '../escape.js';
import type { Renderer, RenderOptions, RenderResult, RenderedFile } from '../types.js';
import { forwardRules, portRange } from '../nat.js';
import { natTableName } from '../nftables/nat.js';
import { ANTI_SPOOF_FILTER, emitFilter, filterName } from './nwfilter.js';
import { attrs, xmlComment, xmlEscape } from './xml.js';

type Mode = 'nat' | 'route' | 'isolated' | 'bridge';

interface NetPlan {
  readonly net: Network;
  readonly mode: Mode;
  /** The hypervisor's own address on it (the bridge address), when libvirt manages the bridge. */
  readonly address: number | undefined;
}

interface GuestNic {
  readonly nic: Nic;
  readonly net: Network;
}

interface GuestPlan {
  readonly host: Host;
  readonly nics: readonly GuestNic[];
  /** The guest's per-guest firewall runs on this hypervisor. */
  readonly filter: boolean;
}

interface HypervisorPlan {
  readonly host: Host;
  readonly networks: NetPlan[];
  readonly guests: GuestPlan[];
}

export const libvirtRenderer: Renderer = {
  name: 'libvirt',
  description: 'libvirt network XML, per-guest nwfilter XML, interface snippets and a virsh define script, per hypervisor',
  params: [],
  render(ir: Ir, opts: RenderOptions): RenderResult {
    const ds: Diagnostic[] = [];
    const files: RenderedFile[] = [];
    const plans = planHypervisors(ir);
    for (const p of plans) {
      const whole = opts.host === undefined || opts.host === p.host.name;
      const guests = p.guests.filter((g) => whole || g.host.name === opts.host);
      if (!whole && guests.length === 0) continue;
      const dir = `libvirt/${p.host.name}`;
      if (whole) for (const n of p.networks) files.push({ path: `${dir}/networks/${n.net.name}.xml`, content: networkXml(ir.model, p, n), secret: false });
      for (const g of guests) {
        if (g.filter) {
          const e = new Emitter();
          e.lines_(
            headerLines(
              ir.model,
              `libvirt nwfilter ${filterName(g.host.name)}: the per-guest firewall of ${g.host.name}, run by ${p.host.name}. Define: virsh nwfilter-define FILE`,
            ).map(xmlComment),
          );
          emitFilter(e, ir, g.host, p.host.name, ds);
          files.push({ path: `${dir}/nwfilters/${filterName(g.host.name)}.xml`, content: e.toString(), secret: false });
        }
        for (const gn of g.nics) {
          const suffix = g.nics.length > 1 ? `-interface-${gn.net.name}` : '-interface';
          files.push({ path: `${dir}/domains/${g.host.name}${suffix}.xml`, content: interfaceXml(ir.model, p, g, gn), secret: false });
        }
      }
      if (whole) files.push({ path: `${dir}/define.sh`, content: defineScript(ir.model, p), secret: false, executable: true });
      // libvirt's <forward mode='nat'> masquerades but has no port forwards (libvirt's own advice is a qemu hook script).
      // Bridge mode attaches guests to the host's bridge and nothing more: no masquerade, no DHCP.
      if (whole)
        for (const n of p.networks) {
          if (n.mode !== 'bridge' || n.net.ports.length === 0) continue;
          const at = { file: ir.model.file, line: n.net.portsOrigin.line, col: n.net.portsOrigin.col, path: n.net.portsOrigin.path };
          const why = `libvirt: ${n.net.name} has a physical port (${n.net.ports.join(', ')}), so it is libvirt's bridge mode, which`;
          if (n.net.egress === 'nat')
            ds.push(
              diag(
                Code.TARGET_CANNOT_EXPRESS,
                'warning',
                `${why} does not NAT: its egress: nat is the NAT table of \`cordon render -t nftables --host ${p.host.name}\``,
                at,
              ),
            );
          if (n.net.dhcp !== undefined)
            ds.push(
              diag(
                Code.TARGET_CANNOT_EXPRESS,
                'warning',
                `${why} serves no DHCP: the pool of ${n.net.name} needs a DHCP server on the LAN or on ${p.host.name}`,
                at,
              ),
            );
        }
      if (whole)
        for (const f of forwardRules(ir.model, p.host.name))
          ds.push(
            diag(
              Code.TARGET_CANNOT_EXPRESS,
              'warning',
              `libvirt: ${p.host.name} forwards ${f.ports.map((q) => `${q.proto}/${portRange(q.public)}`).join(', ')} to ${f.host}.${f.service} (DNAT), which libvirt's network XML cannot say`,
              { file: ir.model.file, line: f.origin.line, col: f.origin.col, path: f.origin.path },
              `load \`cordon render -t nftables --host ${p.host.name}\` on ${p.host.name}: its table ip ${natTableName(p.host.name)} does the DNAT`,
            ),
          );
    }
    if (opts.host !== undefined && files.length === 0) {
      ds.push(
        diag(
          Code.UNKNOWN_NAME,
          'error',
          `host '${opts.host}' is neither a hypervisor with libvirt networks nor a guest on one`,
          { file: ir.model.file },
          `hypervisors with networks: ${plans.map((p) => p.host.name).join(', ') || 'none'}`,
        ),
      );
    }
    return { files, diagnostics: ds };
  },
};

function byName<T extends { readonly name: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Which hypervisor defines which network and runs which guest. */
export function planHypervisors(ir: Ir): HypervisorPlan[] {
  const model = ir.model;
  const hosts = [...model.hosts.values()].sort(byName);
  const plans = new Map<string, HypervisorPlan>();
  const planOf = (h: Host): HypervisorPlan => {
    let p = plans.get(h.name);
    if (!p) plans.set(h.name, (p = { host: h, networks: [], guests: [] }));
    return p;
  };
  for (const net of [...model.networks.values()].sort(byName)) {
    const members = hosts.filter((h) => h.nics.some((n) => n.segment === net.name));
    const hasGuests = members.some((h) => GUEST_KINDS.has(h.kind));
    if (net.owner !== undefined) {
      const owner = model.hosts.get(net.owner)!;
      if (net.ports.length > 0) {
        planOf(owner).networks.push({ net, mode: 'bridge', address: undefined });
        continue;
      }
      const address = owner.nics.find((n) => n.segment === net.name)?.address;
      planOf(owner).networks.push({ net, mode: net.egress === 'nat' ? 'nat' : net.egress === 'routed' ? 'route' : 'isolated', address });
    } else if (hasGuests) {
      // A segment owned by nobody cordon manages (its gateway is an outside router): the
      // hypervisors on it bridge their guests onto it, libvirt's bridge mode.
      for (const h of members.filter((m) => m.kind === 'hypervisor' && m.managed)) planOf(h).networks.push({ net, mode: 'bridge', address: undefined });
    }
  }
  for (const p of plans.values()) {
    const mine = new Set(p.networks.map((n) => n.net.name));
    for (const g of hosts) {
      if (!GUEST_KINDS.has(g.kind) || g.name === p.host.name) continue;
      const nics = g.nics.filter((n) => mine.has(n.segment)).map((nic) => ({ nic, net: model.networks.get(nic.segment)! }));
      if (nics.length === 0) continue;
      const filter = ['guest-out', 'guest-in'].some((hook) => ir.chains.get(`${g.name}:${hook}`)?.enforcedOn === p.host.name);
      p.guests.push({ host: g, nics, filter });
    }
  }
  return [...plans.values()].sort((a, b) => byName(a.host, b.host));
}

function netmask(len: number): string {
  return formatIPv4(maskOf(len));
}

function addressing(model: Model, p: HypervisorPlan, n: NetPlan): string[] {
  const lines: string[] = [];
  for (const g of p.guests) {
    for (const gn of g.nics) {
      if (gn.net.name !== n.net.name) continue;
      lines.push(`${g.host.name}: ${formatIPv4(gn.nic.address)}/${n.net.cidr.len}${routeText(model, g.host)}`);
    }
  }
  return lines;
}

function routeText(model: Model, h: Host): string {
  const r = h.defaultRoute;
  switch (r.kind) {
    case 'gateway':
      return `, default route via ${formatIPv4(r.via)}`;
    case 'tunnel':
      return `, default route through tunnel ${model.tunnels.get(r.tunnel)?.ifname ?? r.tunnel}`;
    case 'uplink':
      return `, default route out of ${r.ifname}`;
    case 'none':
      return ', no default route';
    default:
      return assertNever(r, 'default route');
  }
}

function networkXml(model: Model, p: HypervisorPlan, n: NetPlan): string {
  const e = new Emitter();
  const what = {
    nat: 'NAT to the outside',
    route: 'routed to the outside',
    isolated: 'isolated (no forwarding)',
    bridge: `bridged onto the existing host bridge ${n.net.bridge}`,
  }[n.mode];
  e.lines_(headerLines(model, `libvirt network ${n.net.name} on ${p.host.name}: ${what}. Define: virsh net-define FILE`).map(xmlComment));
  e.block(
    '<network>',
    () => {
      e.line(`<name>${xmlEscape(n.net.name)}</name>`);
      const dev = p.host.uplink;
      switch (n.mode) {
        case 'nat':
          e.block(
            `<forward${attrs([
              ['mode', 'nat'],
              ['dev', dev],
            ])}>`,
            () => {
              e.block(
                '<nat>',
                () =>
                  e.line(
                    `<port${attrs([
                      ['start', 1024],
                      ['end', 65535],
                    ])}/>`,
                  ),
                '</nat>',
              );
            },
            '</forward>',
          );
          break;
        case 'route':
          e.line(
            `<forward${attrs([
              ['mode', 'route'],
              ['dev', dev],
            ])}/>`,
          );
          break;
        case 'bridge':
          e.line(`<forward${attrs([['mode', 'bridge']])}/>`);
          break;
        case 'isolated':
          e.line(xmlComment('no <forward>: an isolated network, guests reach only each other and the host (as the policy allows)'));
          break;
        default:
          assertNever(n.mode, 'network mode');
      }
      if (n.mode === 'bridge' && n.net.ports.length > 0) {
        const own = p.host.nics.find((x) => x.segment === n.net.name);
        const addr = own ? `its address ${formatIPv4(own.address)}/${n.net.cidr.len} and ` : '';
        e.line(
          xmlComment(
            `libvirt does not manage ${n.net.bridge}: the host must already have it, with ${addr}its port${n.net.ports.length > 1 ? 's' : ''} ${n.net.ports.join(', ')} (cordon render -t ifupdown, proxmox or netplan writes it)`,
          ),
        );
        e.line(`<bridge${attrs([['name', ifname(n.net.bridge)]])}/>`);
      } else if (n.mode === 'bridge') {
        e.line(xmlComment(`libvirt does not manage ${n.net.bridge}: the host must already have it, with its address and uplink`));
        e.line(`<bridge${attrs([['name', ifname(n.net.bridge)]])}/>`);
      } else {
        e.line(
          `<bridge${attrs([
            ['name', ifname(n.net.bridge)],
            ['stp', 'on'],
            ['delay', 0],
          ])}/>`,
        );
      }
      const lines = addressing(model, p, n);
      const pool = n.net.dhcp;
      if (n.address !== undefined && pool !== undefined) {
        e.line(
          xmlComment(
            `<dhcp> leases ${formatIPv4(pool.start)}-${formatIPv4(pool.end)} to guests the spec does not declare${lines.length ? `; configure the declared ones statically: ${lines.join('; ')}` : ''}`,
          ),
        );
        const ip = `<ip${attrs([
          ['address', formatIPv4(n.address)],
          ['netmask', netmask(n.net.cidr.len)],
        ])}>`;
        e.block(
          ip,
          () =>
            e.block(
              '<dhcp>',
              () =>
                e.line(
                  `<range${attrs([
                    ['start', formatIPv4(pool.start)],
                    ['end', formatIPv4(pool.end)],
                  ])}/>`,
                ),
              '</dhcp>',
            ),
          '</ip>',
        );
      } else if (n.address !== undefined) {
        e.line(xmlComment(`no <dhcp>: cordon assigns static addresses${lines.length ? `; configure ${lines.join('; ')}` : ''}`));
        e.line(
          `<ip${attrs([
            ['address', formatIPv4(n.address)],
            ['netmask', netmask(n.net.cidr.len)],
          ])}/>`,
        );
      } else if (lines.length) {
        e.line(xmlComment(`addresses cordon assumes: ${lines.join('; ')}`));
      }
    },
    '</network>',
  );
  return e.toString();
}

function interfaceXml(model: Model, p: HypervisorPlan, g: GuestPlan, gn: GuestNic): string {
  const e = new Emitter();
  e.lines_(
    headerLines(
      model,
      `interface of ${g.host.name} on ${gn.net.name} (${p.host.name}): add it under <devices> (virsh edit ${g.host.name}), or see define.sh for virsh attach-device`,
    ).map(xmlComment),
  );
  e.line(xmlComment(`inside the guest: ${gn.nic.ifname} ${formatIPv4(gn.nic.address)}/${gn.net.cidr.len}${routeText(model, g.host)}`));
  const filtered = g.filter && gn.net.owner === p.host.name;
  const antiSpoof = filtered && (model.hosts.get(g.host.name)?.antiSpoof ?? false);
  e.block(
    `<interface${attrs([['type', 'network']])}>`,
    () => {
      e.line(`<source${attrs([['network', gn.net.name]])}/>`);
      if (gn.nic.port !== undefined) {
        e.line(xmlComment("the host-side port name cordon's other targets (nftables) match on"));
        e.line(`<target${attrs([['dev', ifname(gn.nic.port)]])}/>`);
      }
      e.line(`<model${attrs([['type', 'virtio']])}/>`);
      if (filtered) {
        if (antiSpoof) {
          e.block(
            `<filterref${attrs([['filter', filterName(g.host.name)]])}>`,
            () => {
              e.line(xmlComment(`${ANTI_SPOOF_FILTER}: the only source address ${g.host.name} may use on this interface`));
              e.line(
                `<parameter${attrs([
                  ['name', 'IP'],
                  ['value', formatIPv4(gn.nic.address)],
                ])}/>`,
              );
            },
            '</filterref>',
          );
        } else {
          e.line(`<filterref${attrs([['filter', filterName(g.host.name)]])}/>`);
        }
      } else {
        e.line(
          xmlComment(
            `no per-guest firewall: ${g.host.guestFirewall ? `it runs on ${gn.net.owner ?? 'another host'}` : `firewall.guest is off for ${g.host.name}${gn.net.owner === undefined ? ` (and ${gn.net.name} has no owner that could filter it)` : ''}`}`,
          ),
        );
      }
      const bw = g.host.bandwidth;
      if (bw !== undefined && gn.nic.port !== undefined) {
        e.line(
          xmlComment(
            `bandwidth from ${bw.origin.path} (line ${bw.origin.line}): kilobytes per second (tc's kbps, 1000 bytes/s) and kilobytes; libvirt shapes inbound with tc on the port and polices outbound`,
          ),
        );
        e.block(
          '<bandwidth>',
          () => {
            for (const [dir, r] of [
              ['inbound', bw.inbound],
              ['outbound', bw.outbound],
            ] as const) {
              if (r === undefined) continue;
              e.line(xmlComment(`${dir}: ${describeRate(r)}`));
              e.line(
                `<${dir}${attrs([
                  ['average', r.average],
                  ['peak', r.peak],
                  ['burst', r.burst],
                ])}/>`,
              );
            }
          },
          '</bandwidth>',
        );
      }
    },
    '</interface>',
  );
  return e.toString();
}

function defineScript(model: Model, p: HypervisorPlan): string {
  const e = new Emitter('');
  e.line('#!/bin/sh');
  e.lines_(
    commented(
      headerLines(model, `libvirt objects of ${p.host.name}: run on ${p.host.name} as a user allowed to manage libvirt (virsh honours LIBVIRT_DEFAULT_URI).`),
      '# ',
    ),
  );
  e.line('# Safe to re-run: a redefined nwfilter applies to running guests at once; a redefined');
  e.line('# network applies when it is next started (virsh net-destroy NAME && virsh net-start NAME).');
  e.line('set -eu');
  e.line('cd "$(dirname "$0")"');
  const filters = p.guests.filter((g) => g.filter);
  if (filters.length) {
    e.gap();
    e.line('# Per-guest firewalls (nwfilter), before the guests that reference them start.');
    for (const g of filters) e.line(`virsh nwfilter-define ${shWord(`nwfilters/${filterName(g.host.name)}.xml`)}`);
  }
  for (const n of p.networks) {
    e.gap();
    e.line(`# Network ${n.net.name} (${n.mode === 'isolated' ? 'isolated' : `forward mode ${n.mode}`}).`);
    const name = shWord(n.net.name);
    e.line(`virsh net-define ${shWord(`networks/${n.net.name}.xml`)}`);
    e.line(`virsh net-info ${name} | grep -Eq '^Active:[[:space:]]+yes' || virsh net-start ${name}`);
    e.line(`virsh net-autostart ${name}`);
  }
  const withIfaces = p.guests.filter((g) => g.nics.length > 0);
  if (withIfaces.length) {
    e.gap();
    e.line('# Guests: put the interfaces in domains/ into their domain definitions, e.g.');
    for (const g of withIfaces) {
      for (const gn of g.nics) {
        const suffix = g.nics.length > 1 ? `-interface-${gn.net.name}` : '-interface';
        e.line(`#   virsh attach-device ${shWord(g.host.name)} ${shWord(`domains/${g.host.name}${suffix}.xml`)} --config`);
      }
    }
  }
  return e.toString();
}
