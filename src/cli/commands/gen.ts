/** `cordon gen --hosts N --rules M --seed S [--out FILE]`: a synthetic spec for benchmarks and tests. */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { generateSpec, genOptionsError } from '../../gen/generate.js';
import { EXIT, ExitError } from '../io.js';

function wholeNumber(flag: string, text: string | undefined, fallback: number, allowNegative = false): number {
  if (text === undefined) return fallback;
  const t = text.trim().replace(/_/g, '');
  const re = allowNegative ? /^-?\d+$/ : /^\d+$/;
  if (!re.test(t)) throw new ExitError(EXIT.invalid, `${flag} must be a whole number${allowNegative ? '' : ' ≥ 0'}, got '${text}'`);
  const n = Number(t);
  if (!Number.isSafeInteger(n)) throw new ExitError(EXIT.invalid, `${flag} is too large: '${text}'`);
  return n;
}

export function registerGen(program: Command): void {
  program
    .command('gen')
    .description('write a synthetic but realistic spec (hypervisors, many networks, groups, overlapping prefixes and port ranges) for benchmarks and tests')
    .requiredOption('--hosts <n>', 'number of hosts (hypervisors, guests and peers)')
    .option('--rules <m>', 'number of policy rules', '100')
    .option('--seed <s>', 'PRNG seed: the same seed gives the same spec', '1')
    .option('--out <file>', 'write to FILE instead of stdout')
    .action((opts: { hosts: string; rules?: string; seed?: string; out?: string }) => {
      const hosts = wholeNumber('--hosts', opts.hosts, 0);
      const rules = wholeNumber('--rules', opts.rules, 100);
      const seed = wholeNumber('--seed', opts.seed, 1, true);
      const bad = genOptionsError({ hosts, rules, seed });
      if (bad) throw new ExitError(EXIT.invalid, `gen: ${bad.replace(/^(hosts|rules|seed)/, '--$1')}`);
      const text = generateSpec({ hosts, rules, seed });
      if (opts.out) {
        try {
          writeFileSync(opts.out, text);
        } catch (e) {
          throw new ExitError(EXIT.invalid, `gen: cannot write ${opts.out}: ${(e as Error).message}`);
        }
        process.stderr.write(`${opts.out}: ${hosts} hosts, ${rules} rules (seed ${seed})\n`);
      } else process.stdout.write(text);
    });
}
