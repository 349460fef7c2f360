/**
 * `cordon import --from ifupdown [HOST=]PATH…`: Debian's /etc/network/interfaces (and what it
 * sources) as the addresses, bridges, routes and resolvers of a cordon spec, one host per PATH.
 *
 * PATH is the interfaces file, or a root directory laid out as the machine (ROOT/etc/network/
 * interfaces, ROOT/etc/hostname). `source` paths are resolved as ifupdown does (relative to the
 * file they are in; absolute ones under ROOT) and never outside ROOT: for a file given as
 * `…/etc/network/interfaces` ROOT is the directory above `etc`, for any other file its directory.
 * The host is HOST=, else --host (one PATH), else ROOT/etc/hostname. No firewall is read: combine
 * with one by giving the result as --topology to `--from iptables` (or `--from proxmox`, which
 * reads the node's interfaces file with this same reader).
 */
import { posix } from 'node:path';
import type { Diagnostic } from '../../diag/diagnostic.js';
import type { ImportRequest, ImportResult, Importer, SourceTree } from '../common/contract.js';
import { hostOfPath, interfacesResult, type HostNetConfig } from '../common/interfaces.js';
import { stanzasToHost } from './host.js';
import { readInterfaces } from './parse.js';

const IFACES = 'etc/network/interfaces';

/** The interfaces file and the root its `source` lines are read under. */
export function locate(path: string, tree: SourceTree): { file: string; root: string } {
  const p = path.replace(/\/+$/, '') || '/';
  if (tree.list(p) !== undefined) return { file: posix.join(p, IFACES), root: p };
  if (p === IFACES) return { file: p, root: '.' };
  if (p.endsWith(`/${IFACES}`)) return { file: p, root: p.slice(0, -IFACES.length - 1) || '/' };
  return { file: p, root: posix.dirname(p) };
}

/** The host's name from ROOT/etc/hostname, when the file is there and is one name. */
export function hostnameIn(root: string, tree: SourceTree): string | undefined {
  const t = tree.read(posix.join(root, 'etc/hostname'));
  const name = t?.trim().split('.')[0];
  return name === undefined || name === '' ? undefined : name;
}

export const ifupdownImporter: Importer = {
  name: 'ifupdown',
  description: "Debian's /etc/network/interfaces (with what it sources): addresses, bridges and their ports, routes, resolvers",
  paths: '[HOST=]FILE or [HOST=]ROOT (a directory with etc/network/interfaces and etc/hostname), one per host',
  import(req: ImportRequest): ImportResult {
    const ds: Diagnostic[] = [];
    const configs: HostNetConfig[] = [];
    for (const p of req.paths) {
      const named = hostOfPath(p, req, (x) => hostnameIn(locate(x, req.tree).root, req.tree), ds);
      if (!named) continue;
      const { file, root } = locate(named.path, req.tree);
      const doc = readInterfaces(file, { tree: req.tree, root }, ds);
      if (doc.files.length === 0) continue;
      const other = configs.find((c) => c.host === named.host);
      const cfg = stanzasToHost(named.host, [...doc.files], doc.stanzas, ds);
      if (other) {
        // Two files of one host: its stanzas together, as if one sourced the other.
        other.files.push(...cfg.files);
        other.ifaces.push(...cfg.ifaces.filter((i) => !other.ifaces.some((o) => o.name === i.name)));
        other.routes.push(...cfg.routes);
        other.defaultVia ??= cfg.defaultVia;
        other.nameservers ??= cfg.nameservers;
      } else configs.push(cfg);
    }
    return interfacesResult('ifupdown', configs, req, ds);
  },
};
