/**
 * Every render target, by name. Adding a target: one folder under src/render/, one line here.
 * Each is guarded (guard.ts): a refused value becomes a diagnostic, file paths stay under the output directory.
 */
import { dnsRenderer } from './dns/index.js';
import { ifupdownRenderer } from './ifupdown/index.js';
import { iptablesRenderer } from './iptables/index.js';
import { kubernetesRenderer } from './kubernetes/index.js';
import { libvirtRenderer } from './libvirt/index.js';
import { netplanRenderer } from './netplan/index.js';
import { nftablesRenderer } from './nftables/index.js';
import { prometheusRenderer } from './prometheus/index.js';
import { proxmoxRenderer } from './proxmox/index.js';
import { tcRenderer } from './tc/index.js';
import { guarded } from './guard.js';
import type { Renderer } from './types.js';
import { wireguardRenderer } from './wireguard/index.js';

export const RENDERERS: readonly Renderer[] = [
  nftablesRenderer,
  dnsRenderer,
  netplanRenderer,
  ifupdownRenderer,
  kubernetesRenderer,
  iptablesRenderer,
  proxmoxRenderer,
  libvirtRenderer,
  tcRenderer,
  wireguardRenderer,
  prometheusRenderer,
].map(guarded);

export function findRenderer(name: string): Renderer | undefined {
  return RENDERERS.find((r) => r.name === name);
}
