/** `cordon test FILE…`: every expectation and invariant; one line per check and a summary. */
import type { Command } from 'commander';
import pc from 'picocolors';
import { runChecks, type CheckResult } from '../../verify/checks.js';
import { explanationToText } from '../../report/explain.js';
import { failureOf } from '../failure.js';
import { EXIT, printJson, useColor, ExitError } from '../io.js';
import { loadIr } from '../load.js';

export function registerTest(program: Command): void {
  program
    .command('test')
    .description('check every expect: entry and every invariant (judged with guests compromised); exit 1 on any failure')
    .argument('<files...>', 'spec files; - reads standard input')
    .option('--json', 'results as JSON')
    .option('-v, --verbose', 'show the witness path for failures in full')
    .action((files: string[], opts: { json?: boolean; verbose?: boolean }) => {
      const color = useColor();
      const c = pc.createColors(color);
      const results: { file: string; checks: CheckResult[] }[] = [];
      let invalid = false;
      for (const file of files) {
        let checks: CheckResult[];
        try {
          checks = runChecks(loadIr(file, { quietWarnings: true }));
        } catch (e) {
          if (e instanceof ExitError) {
            // Said the way main.ts says it, then on to the next file.
            process.stderr.write(failureOf(e).text);
            invalid = true;
            continue;
          }
          throw e;
        }
        results.push({ file, checks });
        if (opts.json) continue;
        process.stdout.write(`${c.bold(file)}\n`);
        for (const r of checks) {
          const tag = r.ok ? c.green('PASS') : c.red('FAIL');
          const kind = r.kind === 'expect' ? 'expect   ' : 'invariant';
          process.stdout.write(`  ${tag} ${c.dim(kind)} ${r.ok ? r.name : r.message}${r.assume === 'compromised' ? c.dim(' [compromised]') : ''}\n`);
          if (!r.ok) {
            process.stdout.write(`       ${c.dim(`${r.origin.file}:${r.origin.line}`)}\n`);
            if (r.witness) process.stdout.write(`${explanationToText(r.witness, color, opts.verbose).replace(/^/gm, '       ')}\n`);
          }
        }
      }
      const all = results.flatMap((r) => r.checks);
      const failed = all.filter((r) => !r.ok).length;
      if (opts.json) printJson({ files: results, passed: all.length - failed, failed });
      else if (all.length > 0 || !invalid)
        process.stdout.write(`\n${failed === 0 ? c.green(`${all.length} passed, 0 failed`) : c.red(`${all.length - failed} passed, ${failed} failed`)}\n`);
      process.exitCode = invalid ? EXIT.invalid : failed > 0 ? EXIT.failed : EXIT.ok;
    });
}
