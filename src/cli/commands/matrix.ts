/** `cordon matrix FILE`: all-pairs reachability. */
import type { Command } from 'commander';
import { computeMatrix } from '../../verify/matrix.js';
import { computeFastMatrix } from '../../verify/fast-matrix.js';
import { compactMatrixToJson, compactMatrixToList, matrixToJson, matrixToList, matrixToTable, tableSurelyWider } from '../../report/matrix.js';
import { parseAssume, printJson, useColor } from '../io.js';
import { loadIr } from '../load.js';

export function registerMatrix(program: Command): void {
  program
    .command('matrix')
    .description('all-pairs reachability: for every source and destination, the protocols and ports allowed')
    .argument('<file>', 'spec file; - reads standard input')
    .option('--assume <view>', 'configured (as written) or compromised (guests adversarial)', 'configured')
    .option('--json', 'complete JSON: every allowed pair with its port ranges')
    .option('--list', 'one line per allowed pair instead of a table')
    .action((file: string, opts: { assume?: string; json?: boolean; list?: boolean }) => {
      const assume = parseAssume(opts.assume);
      const ir = loadIr(file, { quietWarnings: opts.json });
      // Past a few hundred hosts the per-pair engine is too slow; the fast engine gives the same cells.
      const fast = ir.model.hosts.size > 200 ? computeFastMatrix(ir, assume) : undefined;
      const color = useColor();
      const columns = process.stdout.columns ?? 120;
      // The list and the JSON straight from the compact form, as UTF-8 chunks: the dense one
      // holds n² cells (10,000 hosts: 10⁸), and the JSON of every pair as objects is 24 MB at 1k.
      if (fast && opts.json) {
        for (const chunk of compactMatrixToJson(fast, file)) process.stdout.write(chunk);
        return;
      }
      if (fast && (opts.list || tableSurelyWider(fast, columns))) {
        for (const chunk of compactMatrixToList(fast, color)) process.stdout.write(chunk);
        return;
      }
      const m = fast ? fast.toMatrix() : computeMatrix(ir, assume);
      if (opts.json) return printJson({ file, ...matrixToJson(m) });
      const table = matrixToTable(m, color);
      const wide = table.split('\n')[0]!.replace(/\x1b\[[0-9;]*m/g, '').length > columns;
      process.stdout.write(`${opts.list || wide ? matrixToList(m, color) : table}\n`);
    });
}
