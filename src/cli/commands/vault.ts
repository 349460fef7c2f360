/**
 * `cordon vault create|put|get|list|destroy|context SESSION`: the per-session encrypted store.
 * No key material or file content is ever printed except by `get` (to stdout or --out) and
 * `context` (the matching text).
 */
import type { Command } from 'commander';
import { readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { basename } from 'node:path';
import { context, createSession, destroySession, getFile, listFiles, putFile, vaultRoot, VaultError, type VaultOptions } from '../../vault/index.js';
import { EXIT, ExitError, pathFailure, printJson } from '../io.js';

interface DirOpts {
  dir?: string;
  masterKey?: string;
}

function vopts(o: DirOpts): VaultOptions {
  const v: VaultOptions = {};
  if (o.dir) v.root = o.dir;
  if (o.masterKey) v.masterKeyFile = o.masterKey;
  return v;
}

/** Maps vault refusals to exit codes: bad input 2, every other refusal 1. */
function run<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof VaultError) throw new ExitError(e.code === 'invalid' ? EXIT.invalid : EXIT.failed, e.message);
    // A file or --dir that cannot be read or written: the user's path, exit 2.
    throw pathFailure(e, 'vault');
  }
}

function common(cmd: Command): Command {
  return cmd
    .option('--dir <dir>', 'vault root (default: $CORDON_VAULT_DIR, else ~/.local/share/cordon/vault)')
    .option('--master-key <file>', 'master key file (default: <vault root>/master.key)');
}

function fmtSize(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function registerVault(program: Command): void {
  const vault = program
    .command('vault')
    .description('per-session encrypted store (AES-256-GCM, names encrypted too): create, put, get, list, destroy, context');

  common(vault.command('create <session>').description('create a session with a fresh key; refuses if it exists'))
    .option('--json', 'print JSON')
    .action((session: string, o: DirOpts & { json?: boolean }) => {
      run(() => createSession(session, vopts(o)));
      if (o.json) printJson({ session, created: true });
      else process.stdout.write(`created vault session '${session}' in ${vaultRoot(vopts(o))}\n`);
    });

  common(vault.command('put <session> [file]').description('encrypt a file (or stdin, with --name) into the session'))
    .option('--name <name>', 'name to store it under (default: the file name; required for stdin)')
    .option('--json', 'print JSON')
    .action((session: string, file: string | undefined, o: DirOpts & { name?: string; json?: boolean }) => {
      const stdin = file === undefined || file === '-';
      const name = o.name ?? (stdin ? undefined : basename(file));
      if (!name) throw new ExitError(EXIT.invalid, 'reading stdin: give the file a name with --name');
      if (stdin && process.stdin.isTTY) throw new ExitError(EXIT.invalid, 'give a FILE, or pipe the data in (stdin is a terminal)');
      const data = run(() => (stdin ? readFileSync(0) : readFileSync(file)));
      const r = run(() => putFile(session, name, data, vopts(o)));
      if (o.json) printJson({ session, ...r });
      else process.stdout.write(`${r.replaced ? 'replaced' : 'stored'} '${name}' (${fmtSize(r.size)}) in session '${session}'\n`);
    });

  common(vault.command('get <session> <name>').description('decrypt a file to stdout or --out'))
    .option('--out <file>', 'write to this file (mode 0600) instead of stdout')
    .action((session: string, name: string, o: DirOpts & { out?: string }) => {
      const data = run(() => getFile(session, name, vopts(o)));
      if (o.out) {
        const out = o.out;
        run(() => {
          writeFileSync(out, data, { mode: 0o600 });
          chmodSync(out, 0o600);
        });
        process.stderr.write(`wrote '${name}' (${fmtSize(data.length)}) to ${out}\n`);
      } else process.stdout.write(data);
    });

  common(vault.command('list <session>').description('list the files of a session (names, sizes)'))
    .option('--json', 'print JSON')
    .action((session: string, o: DirOpts & { json?: boolean }) => {
      const files = run(() => listFiles(session, vopts(o)));
      if (o.json) {
        printJson({ session, files });
        return;
      }
      if (files.length === 0) process.stdout.write(`session '${session}' is empty\n`);
      const w = Math.max(0, ...files.map((f) => fmtSize(f.size).length));
      for (const f of files) process.stdout.write(`${fmtSize(f.size).padStart(w)}  ${f.added}  ${f.name}\n`);
    });

  common(vault.command('destroy <session>').description('erase the key and every file of a session, then verify nothing decryptable remains'))
    .option('--json', 'print JSON')
    .action((session: string, o: DirOpts & { json?: boolean }) => {
      const r = run(() => destroySession(session, vopts(o)));
      if (o.json) printJson({ session, ...r });
      else if (r.verified) {
        process.stdout.write(`destroyed: ${r.objects} object${r.objects === 1 ? '' : 's'}, key erased, verified: nothing decryptable remains\n`);
      } else {
        process.stdout.write(
          `destroyed: ${r.objects} objects, key ${r.keyErased ? 'erased' : 'was missing'}, NOT verified: ${r.leftovers.length} file(s) still carry the session id:\n${r.leftovers.map((p) => `  ${p}\n`).join('')}`,
        );
      }
      if (!r.verified) process.exitCode = EXIT.failed;
    });

  common(vault.command('context <session> <query>').description("the chunks of the session's documents most relevant to a query (BM25, no model)"))
    .option('-k <n>', 'how many chunks', '5')
    .option('--json', 'print JSON')
    .action((session: string, query: string, o: DirOpts & { k: string; json?: boolean }) => {
      const k = Number(o.k);
      if (!Number.isInteger(k) || k < 1) throw new ExitError(EXIT.invalid, `-k must be a positive integer, got '${o.k}'`);
      const hits = run(() => context(session, query, k, vopts(o)));
      if (o.json) {
        printJson({ session, query, hits });
        return;
      }
      if (hits.length === 0) process.stdout.write('no matching documents\n');
      hits.forEach((h, i) => {
        process.stdout.write(`${i > 0 ? '\n' : ''}── ${h.name} (offset ${h.offset}, score ${h.score.toFixed(3)})\n${h.text}\n`);
      });
    });
}
