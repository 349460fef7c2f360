/**
 * The guests' NIC lines of one Proxmox node (seed 000's `net0: virtio=…,bridge=vmbr0` in
 * /etc/pve/qemu-server/<vmid>.conf; seed 003's containers with `net0: name=eth0,bridge=…,ip=…,gw=…`
 * and `nameserver:` in /etc/pve/lxc/<vmid>.conf), as a script of `qm set` / `pct set` commands,
 * which write exactly those lines and can be run again.
 *
 * - netN is the N of the port name cordon's other targets match on (tap101i1 → net1), else the
 *   nic's place among the guest's nics on this node's networks;
 * - a VM's MAC is derived from the guest and the nic (locally administered, 02:…), so re-running the
 *   script keeps it (Proxmox would draw a new one for a line without a MAC);
 * - `firewall=1` where the guest's <vmid>.fw holds its per-guest chains (Proxmox filters a port only
 *   with that flag), omitted elsewhere;
 * - a container's address, prefix, gateway (only where its default route is on that network) and
 *   the `dns:` zone's resolver as `--nameserver` / `--searchdomain`.
 */
import type { Ir } from '../../ir/types.js';
import type { Host, Model } from '../../model/types.js';
import { shortHash } from '../../model/names.js';
import { formatIPv4 } from '../../util/ip.js';
import { nameserversFor } from '../dns/index.js';
import { commented, Emitter, headerLines } from '../emit.js';
import { dnsName, ifname, shWord } from '../escape.js';

/** A stable locally administered unicast MAC for a guest's nic. */
export function guestMac(host: string, index: number): string {
  const h = shortHash(`${host}/net${index}`, 10);
  return `02:${h.match(/../g)!.join(':')}`.toUpperCase();
}

interface NicLine {
  readonly index: number;
  readonly option: string;
}

function nicLines(ir: Ir, node: Host, g: Host): NicLine[] {
  const model = ir.model;
  const filtered = ['guest-out', 'guest-in'].some((hook) => ir.chains.get(`${g.name}:${hook}`)?.enforcedOn === node.name);
  const mine = g.nics.filter((n) => model.networks.get(n.segment)?.owner === node.name);
  const used = new Set<number>();
  const out: NicLine[] = [];
  mine.forEach((n, i) => {
    const m = n.port ? /^(?:tap|veth)\d+i(\d+)$/.exec(n.port) : null;
    let index = m ? Number(m[1]) : i;
    while (used.has(index)) index++;
    used.add(index);
    const net = model.networks.get(n.segment)!;
    const fw = filtered ? ',firewall=1' : '';
    if (g.kind === 'container') {
      const gw = g.defaultRoute.kind === 'gateway' && g.defaultRoute.segment === n.segment ? `,gw=${formatIPv4(g.defaultRoute.via)}` : '';
      out.push({ index, option: `name=${ifname(n.ifname)},bridge=${ifname(net.bridge)},ip=${formatIPv4(n.address)}/${net.cidr.len}${gw}${fw}` });
    } else {
      out.push({ index, option: `virtio=${guestMac(g.name, index)},bridge=${ifname(net.bridge)}${fw}` });
    }
  });
  return out.sort((a, b) => a.index - b.index);
}

/** The guests of `node` with an id and a nic on one of its networks, by vmid. */
export function nodeGuests(model: Model, node: Host): Host[] {
  return [...model.hosts.values()]
    .filter((g) => (g.kind === 'vm' || g.kind === 'container') && g.id !== undefined && g.nics.some((n) => model.networks.get(n.segment)?.owner === node.name))
    .sort((a, b) => a.id! - b.id! || a.name.localeCompare(b.name));
}

/** `HOST/guest-nics.sh`, or undefined when the node has no guest with an id on its networks. */
export function renderGuestNics(ir: Ir, node: Host): string | undefined {
  const model = ir.model;
  const guests = nodeGuests(model, node);
  if (guests.length === 0) return undefined;
  const e = new Emitter('');
  e.line('#!/bin/sh');
  e.lines_(
    commented(
      headerLines(
        model,
        `Guest NICs on ${node.name}: run on the Proxmox node; qm set / pct set write the netN lines of /etc/pve/qemu-server/<vmid>.conf and /etc/pve/lxc/<vmid>.conf.`,
      ),
      '# ',
    ),
  );
  e.line('# Safe to re-run: the MACs are derived from the spec, not drawn.');
  e.line('set -eu');
  for (const g of guests) {
    const lines = nicLines(ir, node, g);
    e.gap();
    e.line(`# ${g.name} (${g.kind === 'container' ? 'container' : 'vm'} ${g.id}): ${lines.map((l) => `net${l.index}`).join(', ')}`);
    const args = lines.map((l) => `--net${l.index} ${shWord(l.option)}`);
    if (g.kind === 'container') {
      const r = nameserversFor(model, g.name);
      // pct takes the resolvers as one space-separated value, as /etc/pve/lxc/<vmid>.conf keeps them.
      if (r) args.push(`--nameserver ${shWord(r.addresses.map(formatIPv4).join(' '))}`);
      if (r?.search.length) args.push(`--searchdomain ${shWord(r.search.map(dnsName).join(' '))}`);
      e.line(`pct set ${g.id} ${args.join(' ')}`);
    } else {
      e.line(`qm set ${g.id} ${args.join(' ')}`);
    }
  }
  return e.toString();
}
