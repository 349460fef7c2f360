#!/usr/bin/env node
/**
 * The cordon command line: parses flags, calls the library, prints, sets the exit code.
 * Each command lives in its own file under commands/ and registers itself here; a command's
 * module is imported only when it is needed (see COMMANDS).
 */
import { readdirSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { failureOf } from './failure.js';
import { EXIT } from './io.js';
import { tuneTiering } from './tiering.js';

type Register = (program: Command) => void;

/**
 * Every command module, in help order, with the command names it registers. Modules are imported
 * only when needed: `cordon run …` loads the sandbox and nothing of the spec parser, compiler or
 * renderers, so a sandboxed command starts in a few milliseconds more than bare node.
 */
const COMMANDS: readonly { readonly names: readonly string[]; readonly load: () => Promise<Register> }[] = [
  { names: ['check'], load: async () => (await import('./commands/check.js')).registerCheck },
  { names: ['explain-code'], load: async () => (await import('./commands/explain-code.js')).registerExplainCode },
  { names: ['describe'], load: async () => (await import('./commands/describe.js')).registerDescribe },
  { names: ['matrix'], load: async () => (await import('./commands/matrix.js')).registerMatrix },
  { names: ['query', 'explain'], load: async () => (await import('./commands/query.js')).registerQuery },
  { names: ['test'], load: async () => (await import('./commands/test.js')).registerTest },
  { names: ['lint'], load: async () => (await import('./commands/lint.js')).registerLint },
  { names: ['diff'], load: async () => (await import('./commands/diff.js')).registerDiff },
  { names: ['import'], load: async () => (await import('./commands/import.js')).registerImport },
  { names: ['audit'], load: async () => (await import('./commands/audit.js')).registerAudit },
  { names: ['gen'], load: async () => (await import('./commands/gen.js')).registerGen },
  { names: ['render'], load: async () => (await import('./commands/render.js')).registerRender },
  { names: ['apply'], load: async () => (await import('./commands/apply.js')).registerApply },
  { names: ['guard'], load: async () => (await import('./commands/guard.js')).registerGuard },
  { names: ['events'], load: async () => (await import('./commands/events.js')).registerEvents },
  { names: ['lab'], load: async () => (await import('./commands/lab.js')).registerLab },
  { names: ['run'], load: async () => (await import('./commands/run.js')).registerRun },
  { names: ['vault'], load: async () => (await import('./commands/vault.js')).registerVault },
  { names: ['schema'], load: async () => (await import('./commands/schema.js')).registerSchema },
  { names: ['serve'], load: async () => (await import('./commands/serve.js')).registerServe },
  { names: ['completion'], load: async () => (await import('./commands/completion.js')).registerCompletion },
  { names: ['man'], load: async () => (await import('./commands/completion.js')).registerMan },
];

/** Commands that describe every other one (completion scripts, the man page): they need them all loaded. */
const DESCRIBE_ALL: ReadonlySet<string> = new Set(['completion', 'man']);

/**
 * The version flag first: commander prints the version as soon as it reads it, before it looks at
 * anything after it, so no command is needed (loading them all took longer than `check` of a
 * 1,000-host spec).
 */
const VERSION_FLAGS: ReadonlySet<string> = new Set(['--version', '-V']);

/**
 * The command modules `argv` needs: none when it starts with the version flag; only the named
 * command's when argv starts with a known command name; all of them otherwise (no command, --help,
 * help, an option first, an unknown command), so that help and did-you-mean output list every
 * command.
 */
function commandsFor(argv: readonly string[] | undefined): typeof COMMANDS {
  const first = argv?.[0];
  if (first !== undefined && VERSION_FLAGS.has(first)) return [];
  if (first === undefined || DESCRIBE_ALL.has(first)) return COMMANDS;
  const one = COMMANDS.find((c) => c.names.includes(first));
  return one ? [one] : COMMANDS;
}

/**
 * The program with the commands `argv` needs registered (see commandsFor); without argv, all of
 * them.
 */
export async function buildProgram(argv?: readonly string[]): Promise<Command> {
  const registers = await Promise.all(commandsFor(argv).map((c) => c.load()));
  const program = new Command();
  program
    .name('cordon')
    .description(
      'Declare, verify and enforce network isolation for AI agents and local LLM servers.\nOne YAML file declares topology and policy; cordon tells who can reach whom, why, and whether it matches what you expect.',
    )
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const register of registers) register(program);
  program.addHelpText(
    'after',
    `
Exit codes: 0 ok · 1 a check failed (expectation, invariant, lint error, denied query) · 2 invalid input · 3 internal error · 141 the reader of the output went away (| head)

Examples:
  cordon check examples/proxmox-dual-bridge.yaml
  cordon matrix examples/proxmox-dual-bridge.yaml --assume compromised
  cordon query examples/proxmox-dual-bridge.yaml --from wg-client --to ollama --proto tcp --port 11434
  cordon test examples/*.yaml`,
  );
  return program;
}

/**
 * What a sandbox whose owner was killed (kill -9) left behind — a command that outlived it, a
 * decrypted vault tmpfs still mounted, namespaces — is removed by the next cordon invocation of any
 * kind, not only the next `cordon run` (which does it itself). Costs one directory read when no
 * sandbox state exists; the sandbox module loads only when there is something to look at.
 */
async function cleanUpAfterDeadSandboxes(argv: readonly string[]): Promise<void> {
  if (argv[0] === 'run') return;
  let pending = false;
  try {
    pending = readdirSync(process.env.CORDON_SANDBOX_STATE_DIR ?? '/run/cordon/sandbox').some((f) => f.endsWith('.json'));
  } catch {
    return;
  }
  if (!pending) return;
  try {
    const { cleanupStale } = await import('../sandbox/run.js');
    const removed = await cleanupStale();
    if (removed.length > 0)
      process.stderr.write(`cordon: removed what ${removed.length} dead sandbox${removed.length === 1 ? '' : 'es'} left behind (${removed.join(', ')})\n`);
  } catch (e) {
    process.stderr.write(`cordon: warning: could not clean up after a dead sandbox: ${(e as Error).message}\n`);
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    await cleanUpAfterDeadSandboxes(argv);
    const program = await buildProgram(argv);
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (e) {
    const f = failureOf(e, { debug: Boolean(process.env.CORDON_DEBUG) });
    process.stderr.write(f.text);
    return f.exit;
  }
}

/** Run as the program (bin/cordon, an npm-linked bin), not imported: tests import buildProgram. */
function isEntryPoint(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

/**
 * A reader that stops early (`cordon test … | head`) closes the pipe: end quietly, with the status a
 * program killed by SIGPIPE has (128 + 13), as other command-line tools do, instead of an
 * unhandled-error stack trace. Any other output error is a failure (exit 3), said in one line.
 */
function quietOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(EXIT_CLOSED_PIPE);
    // Another output error (a full disk, EIO): say so in one line where possible, never a stack trace.
    try {
      process.stderr.write(`cordon: cannot write the output: ${e.message}\n`);
    } catch {
      // stderr is the stream that failed
    }
    process.exit(EXIT.internal);
  });
}

/** 128 + SIGPIPE: what a shell reports for a program whose reader went away. */
const EXIT_CLOSED_PIPE = 141;

if (isEntryPoint()) {
  // Only as the program: tests that import buildProgram keep their own process's settings.
  tuneTiering();
  quietOnClosedPipe(process.stdout);
  quietOnClosedPipe(process.stderr);
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    () => {
      process.exitCode = EXIT.internal;
    },
  );
}
