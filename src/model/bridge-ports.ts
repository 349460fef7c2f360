/**
 * Which physical interfaces a managed bridge enslaves. One rule for everything that stands the
 * bridge up — the ifupdown/Proxmox `bridge-ports` line and `cordon apply --target ifupdown` — so
 * the file a user installs and the state apply sets cannot disagree.
 */
import * as R from '../util/rangeset.js';
import type { Host, Model, Network } from './types.js';

/**
 * The network's own `ports:`, else the owner's uplink when the network's gateway is a router no
 * declared host holds (it lies beyond the uplink), else none.
 */
export function bridgePortNames(model: Model, h: Host, segment: string): readonly string[] {
  const net = model.networks.get(segment);
  if (!net) return [];
  if (net.ports.length > 0) return net.ports;
  if (net.gateway === undefined || h.uplink === undefined) return [];
  const held = [...model.hosts.values()].some((x) => x.nics.some((y) => y.address === net.gateway));
  return held ? [] : [h.uplink];
}

/**
 * Whether the netplan target writes `h`'s bridges: a hypervisor owning a bridge with a physical
 * port (an Ubuntu host whose bridges netplan makes); libvirt's virbr* are libvirtd's own.
 */
export function netplanBridges(model: Model, h: Host): boolean {
  if (h.kind !== 'hypervisor') return false;
  return [...model.networks.values()].some((n) => n.owner === h.name && n.ports.length > 0 && !/^virbr/.test(n.bridge));
}

/**
 * Where the world reaches `h` at its address `addr` through the LAN beyond a bridge's physical
 * port: `addr` is h's address on a network with `ports:` that h owns, and h's default route is a
 * router of that LAN (an address no declared host holds). That router is h's way to the internet,
 * so it is what forwards the internet's packets for `addr` (a tunnel endpoint: the home router's
 * port forward of seed 000's udp/51820) into the bridge by the port. Undefined otherwise.
 */
export function lanEntry(model: Model, h: Host, addr: number): { readonly network: string; readonly port: string } | undefined {
  const nic = h.nics.find((n) => n.address === addr);
  const net = nic ? model.networks.get(nic.segment) : undefined;
  if (!net || net.ports.length === 0 || net.owner !== h.name) return undefined;
  const d = h.defaultRoute;
  if (d.kind !== 'gateway' || d.segment !== net.name) return undefined;
  if ([...model.hosts.values()].some((x) => x.nics.some((y) => y.address === d.via))) return undefined;
  return { network: net.name, port: net.ports[0]! };
}

/**
 * The address that stands for a router of the LAN beyond `net`'s physical port, for a guest that
 * routes through it on its own (the compromised view, src/ir/paths.ts; the lab holds it in the
 * LAN, src/lab/plan.ts; `lab attack` routes through it): the network's gateway when no declared
 * host holds it, else its first host address in the `lan` endpoint. Undefined without a port.
 */
export function lanRouterAddress(model: Model, net: Network): number | undefined {
  if (net.ports.length === 0) return undefined;
  const held = new Set([...model.hosts.values()].flatMap((h) => h.nics.map((n) => n.address)));
  if (net.gateway !== undefined && !held.has(net.gateway)) return net.gateway;
  for (let a = net.range.lo + 1; a < net.range.hi && a < net.range.lo + 1024; a++) if (!held.has(a) && R.contains(model.lan, a)) return a;
  return undefined;
}
