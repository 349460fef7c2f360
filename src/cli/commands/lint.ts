/** `cordon lint FILE`: shadowed, redundant and overlapping rules, unused names, ports opened to any. */
import type { Command } from 'commander';
import { Code, DIAG_CODES } from '../../diag/codes.js';
import { sortDiagnostics, type Diagnostic } from '../../diag/diagnostic.js';
import { compile } from '../../ir/compile.js';
import { loadModel } from '../../model/load.js';
import { lint } from '../../verify/lint.js';
import { EXIT, printJson } from '../io.js';
import { printDiagnostics } from '../load.js';

/** The codes lint itself reports, listed in its help from the code table. */
const LINT_CODES = [
  Code.SHADOWED_RULE,
  Code.REDUNDANT_RULE,
  Code.ALLOW_DENY_OVERLAP,
  Code.UNUSED_GROUP,
  Code.UNUSED_SERVICE,
  Code.PORT_TO_ANY,
  Code.TUNNEL_BLOCKED,
  Code.RULE_APPLIES_NOWHERE,
  Code.LINT_UNDECIDED,
] as const;

export function registerLint(program: Command): void {
  program
    .command('lint')
    .description('find rules that never match or change nothing, allow/deny overlaps, unused groups and services, and ports opened to any address')
    .argument('<file>', 'spec file (YAML)')
    .option('--json', 'print the diagnostics as a JSON array')
    .addHelpText(
      'after',
      `
Findings (codes are stable; cordon explain-code CODE says more):
${LINT_CODES.map((c) => `  ${c} ${DIAG_CODES[c].severities[0].padEnd(8)} ${DIAG_CODES[c].title}`).join('\n')}

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
