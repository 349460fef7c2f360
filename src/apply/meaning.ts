/**
 * The second read-back wall: what the loaded rule set *means*. cordon's tables as the kernel
 * lists them are imported back into IR chains (src/import/nft-json), put in place of the host's
 * compiled chains, and the reachability matrix (both views, "as configured" and "guest
 * compromised") is compared with the spec's. Unlike the rule-by-rule check, this one does not
 * trust the rendered text: a rule that got into the text without being in the spec (an injected
 * name, a renderer bug) changes the matrix and is caught here. Anything in cordon's tables the
 * importer cannot read back is a difference too: what cannot be verified is not accepted.
 */
import { importNftJson, withImportedChains } from '../import/nft-json/index.js';
import type { Ir } from '../ir/types.js';
import type { Assume } from '../model/types.js';
import { flowIsEmpty, formatFlowSet, type FlowSet } from '../util/flows.js';
import { computeMatrix, type Matrix } from '../verify/matrix.js';
import { isCordonTable } from './shape.js';

/** The document with only cordon's tables and what lives in them (foreign tables are not apply's business). */
function onlyCordon(json: unknown): unknown {
  const items = ((json as { nftables?: unknown[] } | null)?.nftables ?? []) as Record<string, Record<string, unknown>>[];
  return {
    nftables: items.filter((item) =>
      Object.entries(item).every(([kind, o]) => {
        if (kind === 'metainfo' || o === null || typeof o !== 'object') return true;
        const table = kind === 'table' ? o.name : o.table;
        return typeof table === 'string' && isCordonTable(table);
      }),
    ),
  };
}

const flows = (f: FlowSet | undefined): string => (f === undefined || flowIsEmpty(f) ? 'nothing' : formatFlowSet(f));

function matrixDiff(want: Matrix, have: Matrix, assume: Assume): string[] {
  const out: string[] = [];
  want.cells.forEach((row, i) =>
    row.forEach((cell, j) => {
      const other = have.cells[i]?.[j];
      if (JSON.stringify(cell) !== JSON.stringify(other)) {
        out.push(
          `meaning (${assume}): ${want.endpoints[i]!.name} → ${want.endpoints[j]!.name}: the spec allows ${flows(cell)}, the loaded rule set ${flows(other)}`,
        );
      }
    }),
  );
  return out;
}

/**
 * Differences in meaning between the spec's IR and the rule set loaded for `host` (an `nft -j
 * list ruleset` document); empty = the kernel enforces exactly what the spec says.
 */
export function compareMeaning(ir: Ir, host: string, loaded: unknown): string[] {
  const imported = importNftJson(onlyCordon(loaded), { model: ir.model, host });
  const out = imported.diagnostics.map((d) => `meaning: cannot read back: ${d.message}${d.path ? ` (${d.path})` : ''}`);
  const rebuilt = withImportedChains(ir, host, imported.chains);
  for (const assume of ['configured', 'compromised'] as const) out.push(...matrixDiff(computeMatrix(ir, assume), computeMatrix(rebuilt, assume), assume));
  return out;
}
