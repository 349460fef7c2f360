/** `cordon lint FILE`: shadowed, redundant and overlapping rules, unused names, ports opened to any; exit 1 on errors, or on warnings past --max-warnings. */
import type { Command } from 'commander';
import { DIAG_CODES } from '../../diag/codes.js';
import { sortDiagnostics, type Diagnostic } from '../../diag/diagnostic.js';
import { compile } from '../../ir/compile.js';
import { lint, LINT_CODES } from '../../verify/lint.js';
import { EXIT, ExitError, printJson } from '../io.js';
import { loadSpec, printDiagnostics, STDIN_NAME } from '../load.js';

/** `--max-warnings N`: a whole number ≥ 0. */
function parseMaxWarnings(v: string): number {
  if (!/^\d+$/.test(v)) throw new ExitError(EXIT.invalid, `--max-warnings takes a whole number (0 or more), got '${v}'`);
  return Number(v);
}

export function registerLint(program: Command): void {
  program
    .command('lint')
    .description(
      'find rules that never match or change nothing, allow/deny overlaps, unused groups and services, ports opened to any address, tunnels that cannot come up',
    )
    .argument('<file>', 'spec file (YAML); - reads standard input')
    .option('--json', 'print the diagnostics as a JSON array')
    .option('--max-warnings <n>', 'exit 1 when there are more than N warnings (default: no limit)')
    .option('--strict', 'exit 1 on any warning (the same as --max-warnings 0)')
    .addHelpText(
      'after',
      `
Findings (codes are stable; cordon explain-code CODE says more):
${LINT_CODES.map((c) => `  ${c} ${DIAG_CODES[c].severities[0].padEnd(8)} ${DIAG_CODES[c].title}`).join('\n')}

Exit codes: 0 no errors, and no more warnings than --max-warnings allows (warnings alone do not fail
a run by default) · 1 an error, or more warnings than --max-warnings N (--strict: any warning)
· 2 the spec is invalid (it cannot be linted; cordon check shows why).`,
    )
    .action((file: string, opts: { json?: boolean; maxWarnings?: string; strict?: boolean }) => {
      const maxWarnings = opts.strict ? 0 : opts.maxWarnings !== undefined ? parseMaxWarnings(opts.maxWarnings) : Infinity;
      const r = loadSpec(file);
      if (!r.model) {
        if (opts.json) printJson(r.diagnostics);
        else printDiagnostics(r.diagnostics, r.source);
        process.exitCode = EXIT.invalid;
        return;
      }
      const ir = compile(r.model);
      const all: Diagnostic[] = sortDiagnostics([...r.diagnostics, ...ir.diagnostics, ...lint(ir, { source: r.source })]);
      const count = (s: Diagnostic['severity']): number => all.filter((d) => d.severity === s).length;
      const errors = count('error');
      const warnings = count('warning');
      const notes = count('info');
      if (opts.json) printJson(all);
      else {
        printDiagnostics(all, r.source);
        const plural = (n: number, w: string): string => `${n} ${w}${n === 1 ? '' : 's'}`;
        const summary =
          all.length === 0 ? 'no findings' : [...(errors > 0 ? [plural(errors, 'error')] : []), plural(warnings, 'warning'), plural(notes, 'note')].join(', ');
        const over = errors === 0 && warnings > maxWarnings ? ` (more than --max-warnings ${maxWarnings})` : '';
        process.stdout.write(`${file === '-' ? STDIN_NAME : file}: ${summary}${over}\n`);
      }
      process.exitCode = errors > 0 || warnings > maxWarnings ? EXIT.failed : EXIT.ok;
    });
}
