/**
 * The render targets by name, each loaded only when asked for. `cordon render -t nftables` needs
 * one renderer; importing the registry loads all eleven and the YAML library (netplan, kubernetes):
 * ~0.1 s of a 1 s budget on the 1,000-host spec. registry.ts stays the list of every renderer
 * (`--target list`, the server); test/render-targets.test.ts keeps the two equal.
 */
import { guarded } from './guard.js';
import type { Renderer } from './types.js';

const LOADERS = {
  nftables: async () => (await import('./nftables/index.js')).nftablesRenderer,
  dns: async () => (await import('./dns/index.js')).dnsRenderer,
  netplan: async () => (await import('./netplan/index.js')).netplanRenderer,
  ifupdown: async () => (await import('./ifupdown/index.js')).ifupdownRenderer,
  kubernetes: async () => (await import('./kubernetes/index.js')).kubernetesRenderer,
  iptables: async () => (await import('./iptables/index.js')).iptablesRenderer,
  proxmox: async () => (await import('./proxmox/index.js')).proxmoxRenderer,
  libvirt: async () => (await import('./libvirt/index.js')).libvirtRenderer,
  tc: async () => (await import('./tc/index.js')).tcRenderer,
  wireguard: async () => (await import('./wireguard/index.js')).wireguardRenderer,
  prometheus: async () => (await import('./prometheus/index.js')).prometheusRenderer,
} satisfies Record<string, () => Promise<Renderer>>;

/** Every target's name, in the registry's order. */
export const TARGET_NAMES: readonly string[] = Object.keys(LOADERS);

/** The named target, guarded as the registry's are; undefined for a name that is not a target. */
export async function loadRenderer(name: string): Promise<Renderer | undefined> {
  // Own keys only: a spec-supplied name such as `constructor` must not reach Object.prototype.
  if (!Object.prototype.hasOwnProperty.call(LOADERS, name)) return undefined;
  return guarded(await LOADERS[name as keyof typeof LOADERS]());
}
