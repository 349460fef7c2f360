/** `cordon lint FILE`: shadowed, redundant and overlapping rules, unused names, ports opened to any. */
import type { Command } from 'commander';
import { sortDiagnostics, type Diagnostic } from '../../diag/diagnostic.js';
import { compile } from '../../ir/compile.js';
import { loadModel } from '../../model/load.js';
import { lint } from '../../verify/lint.js';
import { EXIT, printJson } from '../io.js';
import { printDiagnostics } from '../load.js';

export function registerLint(program: Command): void {
  program
    .command('lint')
    .description('find rules that never match or change nothing, allow/deny overlaps, unused groups and services, and ports opened to any address')
    .argument('<file>', 'spec file (YAML)')
    .option('--json', 'print the diagnostics as a JSON array')
    .addHelpText(
      'after',
      `
Findings (codes are stable):
  CORDON030 warning  shadowed rule: earlier rules take all of its traffic (names a small set of them)
  CORDON031 warning  redundant rule: removing it changes no verdict
  CORDON032 info     an allow and a deny overlap in part; says where and which one wins
  CORDON033 warning  group never used
  CORDON034 warning  service never used
  CORDON035 warning  ports allowed to any address where a narrower target was probably meant
  CORDON037 warning  rule can never apply

Exit codes: 0 when clean (info findings only) · exit 1 when lint finds anything at warning level
(including warnings from loading the spec) · 2 when the spec is invalid.`,
    )
    .action((file: string, opts: { json?: boolean }) => {
      const r = loadModel(file);
      if (!r.model) {
        if (opts.json) printJson(r.diagnostics);
        else printDiagnostics(r.diagnostics, r.source);
        process.exitCode = EXIT.invalid;
        return;
      }
      const ir = compile(r.model);
      const all: Diagnostic[] = sortDiagnostics([...r.diagnostics, ...ir.diagnostics, ...lint(ir, { source: r.source })]);
      const findings = all.filter((d) => d.severity !== 'info').length;
      if (opts.json) printJson(all);
      else {
        printDiagnostics(all, r.source);
        const infos = all.length - findings;
        const summary = all.length === 0 ? 'no findings' : `${findings} warning${findings === 1 ? '' : 's'}, ${infos} note${infos === 1 ? '' : 's'}`;
        process.stdout.write(`${file}: ${summary}\n`);
      }
      process.exitCode = findings > 0 ? EXIT.failed : EXIT.ok;
    });
}
