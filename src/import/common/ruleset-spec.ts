/**
 * The spec an import of per-host rule sets (iptables-save, nft -j) writes: the topology with its
 * policy replaced, each imported host managed again with its rule set's chains, every other host
 * unmanaged, and a header saying where it all came from.
 */
import { sortDiagnostics, type Diagnostic } from '../../diag/diagnostic.js';
import type { HostSpecT } from '../../spec/schema.js';
import type { ImportRequest, ImportResult } from './contract.js';
import { writeSpec, type DraftFirewall } from './spec-writer.js';
import { importBase } from './topology.js';

export interface RulesetImport {
  readonly req: ImportRequest;
  /** Each rule set file and the host it belongs to. */
  readonly files: readonly { readonly host: string; readonly file: string }[];
  /** Hosts whose rules were imported, and those of them with a forward chain. */
  readonly imported: ReadonlySet<string>;
  readonly forwarding: ReadonlySet<string>;
  readonly firewalls: DraftFirewall[];
  readonly diagnostics: readonly Diagnostic[];
  /** The format as the header names it, e.g. "iptables" or "nftables". */
  readonly format: string;
  /** What the header calls the files, e.g. "iptables rule sets". */
  readonly sources: string;
  /** How a rule's comment cites its source, e.g. "the file and line". */
  readonly citedBy: string;
}

export function rulesetImportSpec(r: RulesetImport): ImportResult {
  const { req, files } = r;
  const extra: Record<string, HostSpecT> = {};
  for (const h of r.imported)
    extra[h] = {
      kind: 'server',
      ...(r.forwarding.has(h) ? { forward: true } : {}),
      description: `rules imported from ${files
        .filter((f) => f.host === h)
        .map((f) => f.file)
        .join(', ')}`,
    };
  const { base, keptFirewalls, droppedFirewalls } = importBase(
    req.topology?.spec,
    r.imported,
    extra,
    `imported from ${r.format}: ${files.map((f) => f.file).join(', ')}`,
  );
  const header = [
    `Imported by cordon from ${r.sources}: ${files.map((f) => `${f.host} = ${f.file}`).join(', ')}.`,
    req.topology
      ? `Topology (networks, hosts, expectations) from ${req.topology.file}; its policy is replaced by the imported rules.`
      : 'No topology was given: add networks and addresses (--topology) for a meaningful matrix.',
    `Every rule below names ${r.citedBy} it comes from. Hosts whose rules were not imported are unmanaged.`,
    ...(droppedFirewalls.length > 0
      ? [`Per-guest chains of the topology left out (their hypervisor's rules were not imported): ${droppedFirewalls.join(', ')}.`]
      : []),
    '',
  ];
  const { text, origins } = writeSpec({ header, base, keptFirewalls, firewalls: r.firewalls });
  return { text, origins, diagnostics: sortDiagnostics([...r.diagnostics]) };
}

/** Whether the topology says `host` forwards (a router or hypervisor unless it says otherwise). */
export function isForwarder(req: ImportRequest, host: string): boolean {
  const h = req.topology?.spec.hosts?.[host];
  return h !== undefined && (h.forward ?? (h.kind === 'hypervisor' || h.kind === 'router'));
}
