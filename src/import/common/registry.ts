/** Every importer, by `--from` name. Adding a format: one folder under src/import/, one line here. */
import { ifupdownImporter } from '../ifupdown/index.js';
import { iptablesImporter } from '../iptables/index.js';
import { libvirtImporter } from '../libvirt/index.js';
import { netplanImporter } from '../netplan/index.js';
import { nftablesImporter } from '../nftables/index.js';
import { proxmoxImporter } from '../proxmox/index.js';
import { wireguardImporter } from '../wireguard/index.js';
import type { Importer } from './contract.js';

export const IMPORTERS: readonly Importer[] = [
  ifupdownImporter,
  iptablesImporter,
  libvirtImporter,
  // The name for the same reader: nwfilter XML is read with the networks and domains it applies to.
  { ...libvirtImporter, name: 'nwfilter', description: 'the same as libvirt (nwfilter XML with the network and domain XML it applies to)' },
  netplanImporter,
  nftablesImporter,
  proxmoxImporter,
  wireguardImporter,
];

export function findImporter(name: string): Importer | undefined {
  return IMPORTERS.find((i) => i.name === name);
}
