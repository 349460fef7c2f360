/** `cordon check FILE…`: parse and resolve, plus the compiler's own checks (without compiling); report every problem with its location. */
import type { Command } from 'commander';
import { compileDiagnostics } from '../../ir/compile.js';
import { bridgedLanDiagnostics } from '../../verify/bridged-lan.js';
import { EXIT, printJson } from '../io.js';
import { loadSpec, printDiagnostics, STDIN_NAME } from '../load.js';
import type { Diagnostic } from '../../diag/diagnostic.js';

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('validate spec files: schema, names, addresses, overlaps, ports, group cycles')
    .argument('<files...>', 'spec files (YAML); - reads standard input')
    .option('--json', 'print diagnostics as JSON')
    .action((files: string[], opts: { json?: boolean }) => {
      const all: { file: string; ok: boolean; diagnostics: Diagnostic[] }[] = [];
      for (const file of files) {
        const r = loadSpec(file);
        // Bridged physical ports need the engine (CORDON055); it compiles only for specs that have one.
        const ds = [...r.diagnostics, ...(r.model ? [...compileDiagnostics(r.model), ...bridgedLanDiagnostics(r.model)] : [])];
        all.push({ file: file === '-' ? STDIN_NAME : file, ok: r.model !== undefined, diagnostics: ds });
        if (!opts.json) {
          printDiagnostics(ds, r.source);
          if (r.model)
            process.stdout.write(
              `${file === '-' ? STDIN_NAME : file}: ok (${r.model.hosts.size} hosts, ${r.model.networks.size} networks, ${r.model.tunnels.size} tunnels, ${r.model.policy.length} rules)\n`,
            );
        }
      }
      if (opts.json) printJson(all);
      process.exitCode = all.every((x) => x.ok) ? EXIT.ok : EXIT.invalid;
    });
}
