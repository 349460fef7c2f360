/**
 * Which physical interfaces a managed bridge enslaves. One rule for everything that stands the
 * bridge up — the ifupdown/Proxmox `bridge-ports` line and `cordon apply --target ifupdown` — so
 * the file a user installs and the state apply sets cannot disagree.
 */
import type { Host, Model } from './types.js';

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
