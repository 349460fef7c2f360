/** `cordon completion bash|zsh|fish` and `cordon man`: generated from the command definitions --help prints. */
import type { Command } from 'commander';
import { bashCompletion, commandDoc, fishCompletion, manPage, zshCompletion } from '../docs.js';
import { EXIT, ExitError } from '../io.js';

const SHELLS = { bash: bashCompletion, zsh: zshCompletion, fish: fishCompletion } as const;

/** The root of the tree a command belongs to: the whole program, every command registered (main.ts loads them all for these two). */
function rootOf(cmd: Command): Command {
  let c = cmd;
  while (c.parent) c = c.parent;
  return c;
}

export function registerCompletion(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script (bash, zsh or fish) for every command and option')
    .argument('<shell>', `the shell: ${Object.keys(SHELLS).join(', ')}`)
    .addHelpText(
      'after',
      `
Examples:
  source <(cordon completion bash)                              # this shell; or save it in /etc/bash_completion.d/cordon
  cordon completion zsh > "\${fpath[1]}/_cordon"                 # zsh, then restart it (compinit must be on)
  cordon completion fish > ~/.config/fish/completions/cordon.fish`,
    )
    .action(function (this: Command, shell: string) {
      const gen = SHELLS[shell as keyof typeof SHELLS];
      if (!gen) throw new ExitError(EXIT.invalid, `completion: unknown shell '${shell}'; choose one of ${Object.keys(SHELLS).join(', ')}`);
      process.stdout.write(gen(commandDoc(rootOf(this))));
    });
}

export function registerMan(program: Command): void {
  program
    .command('man')
    .description('print the man page, cordon(1), in roff (make man writes docs/cordon.1; read it with man -l)')
    .action(function (this: Command) {
      const root = rootOf(this);
      process.stdout.write(manPage(commandDoc(root), { version: root.version() ?? '' }));
    });
}
