/** `cordon diff OLD NEW`: which flows (source, destination, ports) a change to a spec adds or removes. */
import type { Command } from 'commander';
import type { Ir } from '../../ir/types.js';
import type { Assume } from '../../model/types.js';
import { diffToJson, diffToText } from '../../report/diff.js';
import { diffMatrices, hasChanges } from '../../verify/diff.js';
import { Engine } from '../../verify/engine.js';
import { computeMatrix } from '../../verify/matrix.js';
import { EXIT, ExitError, printJson, useColor } from '../io.js';
import { loadIr } from '../load.js';

interface DiffOpts {
  assume?: string;
  json?: boolean;
  exitCode?: boolean;
}

function parseViews(v: string | undefined): Assume[] {
  if (v === undefined || v === 'configured') return ['configured'];
  if (v === 'compromised') return ['compromised'];
  if (v === 'both') return ['configured', 'compromised'];
  throw new ExitError(EXIT.invalid, `--assume must be 'configured', 'compromised' or 'both', got '${v}'`);
}

/** Loads both files before giving up, so a broken NEW is reported even when OLD is broken too. */
function loadBoth(files: readonly [string, string], quiet: boolean): [Ir, Ir] {
  const irs: Ir[] = [];
  const failures: string[] = [];
  for (const f of files) {
    try {
      irs.push(loadIr(f, { quietWarnings: quiet }));
    } catch (e) {
      if (!(e instanceof ExitError)) throw e;
      failures.push(e.message);
    }
  }
  if (failures.length) throw new ExitError(EXIT.invalid, failures.join('\ncordon: '));
  return [irs[0]!, irs[1]!];
}

export function registerDiff(program: Command): void {
  program
    .command('diff')
    .description('which flows (source, destination, ports) are added or removed between two versions of a spec')
    .argument('<old>', 'the old spec file')
    .argument('<new>', 'the new spec file')
    .option('--assume <view>', 'configured (as written), compromised (guests adversarial) or both', 'configured')
    .option('--json', 'complete JSON: endpoints added/removed and every changed pair with its port ranges')
    .option('--exit-code', 'exit 1 when anything changed, 0 when nothing did (like git diff --exit-code)')
    .action((oldFile: string, newFile: string, opts: DiffOpts) => {
      const views = parseViews(opts.assume);
      const [oldIr, newIr] = loadBoth([oldFile, newFile], opts.json === true);
      const oldEngine = new Engine(oldIr);
      const newEngine = new Engine(newIr);
      const diffs = views.map((assume) => diffMatrices(computeMatrix(oldIr, assume, oldEngine), computeMatrix(newIr, assume, newEngine)));
      const changed = diffs.some(hasChanges);
      if (opts.json) {
        printJson({ old: oldFile, new: newFile, changed, views: diffs.map(diffToJson) });
      } else {
        const color = useColor();
        const head = [`--- ${oldFile}`, `+++ ${newFile}`].join('\n');
        process.stdout.write(`${head}\n${diffs.map((d) => diffToText(d, color)).join('\n\n')}\n`);
      }
      process.exitCode = opts.exitCode && changed ? EXIT.failed : EXIT.ok;
    });
}
