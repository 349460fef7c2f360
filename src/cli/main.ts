#!/usr/bin/env node
/**
 * The cordon command line: parses flags, calls the library, prints, sets the exit code.
 * Each command lives in its own file under commands/ and registers itself here.
 */
import { Command, CommanderError } from 'commander';
import { EXIT, ExitError } from './io.js';
import { registerCheck } from './commands/check.js';
import { registerDescribe } from './commands/describe.js';
import { registerMatrix } from './commands/matrix.js';
import { registerQuery } from './commands/query.js';
import { registerTest } from './commands/test.js';
import { registerLint } from './commands/lint.js';
import { registerDiff } from './commands/diff.js';
import { registerGen } from './commands/gen.js';
import { registerSchema } from './commands/schema.js';
import { registerRender } from './commands/render.js';
import { registerApply } from './commands/apply.js';
import { registerLab } from './commands/lab.js';
import { registerRun } from './commands/run.js';
import { registerVault } from './commands/vault.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('cordon')
    .description('Declare, verify and enforce network isolation for AI agents and local LLM servers.\nOne YAML file declares topology and policy; cordon tells who can reach whom, why, and whether it matches what you expect.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerCheck(program);
  registerDescribe(program);
  registerMatrix(program);
  registerQuery(program);
  registerTest(program);
  registerLint(program);
  registerDiff(program);
  registerGen(program);
  registerRender(program);
  registerApply(program);
  registerLab(program);
  registerRun(program);
  registerVault(program);
  registerSchema(program);
  program.addHelpText(
    'after',
    `
Exit codes: 0 ok · 1 a check failed (expectation, invariant, lint error, denied query) · 2 invalid input · 3 internal error

Examples:
  cordon check examples/proxmox-dual-bridge.yaml
  cordon matrix examples/proxmox-dual-bridge.yaml --assume compromised
  cordon query examples/proxmox-dual-bridge.yaml --from wg-client --to ollama --proto tcp --port 11434
  cordon test examples/*.yaml`,
  );
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (e) {
    if (e instanceof ExitError) {
      if (e.message) process.stderr.write(`cordon: ${e.message}\n`);
      return e.code;
    }
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.ok;
      return EXIT.invalid;
    }
    const err = e as Error;
    process.stderr.write(`cordon: internal error: ${err.message}\n${process.env.CORDON_DEBUG ? `${err.stack}\n` : 'set CORDON_DEBUG=1 for a stack trace, and please report it\n'}`);
    return EXIT.internal;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  () => {
    process.exitCode = EXIT.internal;
  },
);
