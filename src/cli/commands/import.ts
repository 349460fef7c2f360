/** `cordon import --from FORMAT PATH… -o spec.yaml`: existing firewall configuration → a cordon spec. */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { sortDiagnostics } from '../../diag/diagnostic.js';
import { relocate } from '../../import/common/audit.js';
import { IMPORTERS } from '../../import/common/registry.js';
import { loadModelFromText } from '../../model/load.js';
import { EXIT, pathFailure, printJson } from '../io.js';
import { addImportOptions, exitFor, printLocated, runImport, type ImportOpts } from './import-common.js';

export function registerImport(program: Command): void {
  addImportOptions(
    program
      .command('import')
      .description(
        'read existing firewall configuration (iptables-save …) and write an equivalent cordon spec, each rule commented with its source file and line',
      )
      .argument('<paths...>', 'configuration files (or a root directory, for formats that read a tree)'),
  )
    .option('-o, --out <file>', 'write the spec here (default: standard output)')
    .addHelpText(
      'after',
      `
Formats:
${IMPORTERS.map((i) => `  ${i.name.padEnd(10)} ${i.description}\n  ${''.padEnd(10)} PATH: ${i.paths}`).join('\n')}

Every construct that is not imported exactly is a warning at its file and line (--strict: an error).
Exit codes: 0 imported exactly · 1 imported, with warnings · 2 bad input (nothing written).

Example:
  cordon import --from iptables rules.v4 --topology topology.yaml --host pve -o pve-as-is.yaml
  cordon diff pve-as-is.yaml cordon.yaml`,
    )
    .action((paths: string[], opts: ImportOpts & { out?: string }) => {
      const { result: r, topology } = runImport(paths, opts);
      const outName = opts.out && opts.out !== '-' ? opts.out : 'imported.yaml';
      let ds = [...r.diagnostics];
      if (!ds.some((d) => d.severity === 'error')) {
        // The spec must load as written: an imported value cordon refuses (an interface name…) is bad input, shown at its source.
        const loaded = loadModelFromText(r.text, outName);
        ds = sortDiagnostics([...ds, ...loaded.diagnostics.map((d) => relocate(d, outName, r.origins, topology))]);
      }
      const exit = exitFor(ds);
      if (opts.json) printJson({ spec: exit === EXIT.invalid ? undefined : r.text, diagnostics: ds });
      else printLocated(ds, [...paths, ...(opts.topology ? [opts.topology] : [])], new Map([[outName, r.text]]));
      if (exit !== EXIT.invalid && !opts.json) {
        if (opts.out && opts.out !== '-') {
          try {
            writeFileSync(opts.out, r.text);
          } catch (e) {
            throw pathFailure(e, '--out');
          }
        } else process.stdout.write(r.text);
      }
      process.exitCode = exit;
    });
}
