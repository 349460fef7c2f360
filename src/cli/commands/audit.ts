/** `cordon audit --from FORMAT PATH…`: what an existing configuration allows, and what is wrong with it, at its own files and lines. */
import type { Command } from 'commander';
import pc from 'picocolors';
import { auditImport } from '../../import/common/audit.js';
import { matrixToJson, matrixToList } from '../../report/matrix.js';
import { computeMatrix } from '../../verify/matrix.js';
import { parseAssume, printJson, useColor } from '../io.js';
import { addImportOptions, exitFor, printLocated, runImport, type ImportOpts } from './import-common.js';

/** The name the imported spec has in findings that stay on it (no source line recorded). */
const SPEC_NAME = 'imported.yaml';

export function registerAudit(program: Command): void {
  addImportOptions(
    program
      .command('audit')
      .description(
        'what does an existing firewall configuration allow? imports it and runs the verifier: matrix, lint findings, invariant and expectation failures, each at the original file and line',
      )
      .argument('<paths...>', 'configuration files (or a root directory, for formats that read a tree)'),
  )
    .option('--assume <view>', 'the matrix view: configured (as written) or compromised (guests adversarial)', 'configured')
    .addHelpText(
      'after',
      `
Exit codes: 0 no findings · 1 findings (a failed invariant or expectation, a lint finding, a
construct not imported exactly) · 2 bad input (a malformed file; with --strict, anything not
imported exactly).

Example:
  cordon audit --from iptables examples/seed-configs/004/rules.sh \\
    --topology examples/seed-configs/004/topology.yaml --host workload-vm`,
    )
    .action((paths: string[], opts: ImportOpts & { assume?: string }) => {
      const assume = parseAssume(opts.assume);
      const { result: imp, topology } = runImport(paths, opts);
      const a = auditImport(imp, SPEC_NAME, topology);
      const failed = a.checks.filter((c) => !c.ok).length;
      const exit = exitFor(a.diagnostics, failed);
      const matrix = a.ir && a.engine ? computeMatrix(a.ir, assume, a.engine) : undefined;
      if (opts.json) {
        printJson({
          diagnostics: a.diagnostics,
          checks: a.checks.map((c) => ({ kind: c.kind, name: c.name, ok: c.ok, assume: c.assume, message: c.message })),
          matrix: matrix ? matrixToJson(matrix) : undefined,
        });
        process.exitCode = exit;
        return;
      }
      printLocated(a.diagnostics, [...paths, ...(opts.topology ? [opts.topology] : [])], new Map([[SPEC_NAME, imp.text]]));
      const c = pc.createColors(useColor());
      if (matrix)
        process.stdout.write(`${c.bold(`What the imported configuration allows (${assume}):`)}\n${matrixToList(matrix, useColor()) || '  nothing'}\n`);
      const count = (s: string): number => a.diagnostics.filter((d) => d.severity === s).length;
      process.stdout.write(
        `\n${a.checks.length - failed} checks passed, ${failed} failed; ${count('error')} errors, ${count('warning')} warnings, ${count('info')} notes\n`,
      );
      process.exitCode = exit;
    });
}
