/** Every importer, by `--from` name. Adding a format: one folder under src/import/, one line here. */
import { iptablesImporter } from '../iptables/index.js';
import { proxmoxImporter } from '../proxmox/index.js';
import type { Importer } from './contract.js';

export const IMPORTERS: readonly Importer[] = [iptablesImporter, proxmoxImporter];

export function findImporter(name: string): Importer | undefined {
  return IMPORTERS.find((i) => i.name === name);
}
