/** `cordon explain-code CODE`: one entry of the diagnostic code table (docs/DIAGNOSTICS.md), or all of them. */
import type { Command } from 'commander';
import { DIAG_CODES, lookupCode, type DiagCode } from '../../diag/codes.js';
import { codeToText } from '../../diag/doc.js';
import { EXIT, ExitError, printJson } from '../io.js';

export function registerExplainCode(program: Command): void {
  program
    .command('explain-code')
    .description('say what a diagnostic code (CORDON012, 012 or 12) means and how to fix it; without CODE, every code')
    .argument('[code]', 'a diagnostic code')
    .option('--json', 'print the entry (or every entry) as JSON')
    .action((text: string | undefined, opts: { json?: boolean }) => {
      const codes = Object.keys(DIAG_CODES) as DiagCode[];
      if (text === undefined) {
        if (opts.json) printJson(codes.map((code) => ({ code, ...DIAG_CODES[code] })));
        else process.stdout.write(codes.map(codeToText).join('\n'));
        return;
      }
      const entry = lookupCode(text);
      if (!entry)
        throw new ExitError(
          EXIT.invalid,
          `explain-code: '${text}' is not a diagnostic code`,
          `codes run from ${codes[0]} to ${codes.at(-1)}; see docs/DIAGNOSTICS.md`,
        );
      if (opts.json) printJson(entry);
      else process.stdout.write(codeToText(entry.code));
    });
}
