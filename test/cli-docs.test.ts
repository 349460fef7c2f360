/**
 * `cordon completion bash|zsh|fish` and `cordon man`: generated from the same command definitions
 * as --help. Each script must parse in its shell and complete subcommand names and options there;
 * the man page must pass groff's and man's warnings and name every command.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { commandDoc, manPage, type CommandDoc } from '../src/cli/docs.js';
import { skipOrFail } from './support/require-env.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'cordon-docs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function cordon(...args: string[]) {
  const r = spawnSync(join(ROOT, 'bin/cordon'), args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function have(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).status === 0;
}

function sh(cmd: string, args: string[], input?: string) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, env: { ...process.env, HOME: dir } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Writes `cordon completion SHELL` to a file and returns its path. */
function script(shell: string): string {
  const r = cordon('completion', shell);
  assert.equal(r.code, 0, r.stderr);
  const f = join(dir, `cordon.${shell}`);
  writeFileSync(f, r.stdout);
  return f;
}

/** The command tree as --help sees it (every command registered, as `cordon completion` loads it). */
async function tree(): Promise<CommandDoc> {
  // main.ts runs the CLI on import; the program is built the same way here through its export.
  const prev = process.exitCode;
  const { buildProgram } = (await import('../src/cli/main.js')) as { buildProgram: (argv?: readonly string[]) => Promise<Command> };
  process.exitCode = prev;
  return commandDoc(await buildProgram(['man']));
}

function walk(c: CommandDoc): CommandDoc[] {
  return [c, ...c.subcommands.flatMap(walk)];
}

describe('cordon completion', () => {
  it('refuses an unknown shell with exit 2 and names the choices', () => {
    const r = cordon('completion', 'tcsh');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown shell 'tcsh'; choose one of bash, zsh, fish/);
  });

  it('bash: parses (bash -n) and completes subcommands and options', () => {
    const f = script('bash');
    assert.equal(sh('bash', ['-n', f]).code, 0, 'bash -n');
    const complete = (...words: string[]): string[] => {
      const cw = words.length - 1;
      const q = words.map((w) => `'${w}'`).join(' ');
      const r = sh('bash', ['-c', `source '${f}'; COMP_WORDS=(cordon ${q}); COMP_CWORD=${cw + 1}; _cordon; printf '%s\\n' "\${COMPREPLY[@]}"`]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.split('\n').filter(Boolean);
    };
    const top = complete('');
    for (const c of ['check', 'describe', 'lint', 'lab', 'run', 'vault', 'completion', 'man']) assert.ok(top.includes(c), `'${c}' among ${top.join(' ')}`);
    assert.deepEqual(complete('li'), ['lint']);
    assert.deepEqual(complete('lab', ''), ['up', 'verify', 'attack', 'down', 'list', 'exec', 'shell']);
    assert.deepEqual(complete('lint', 'x.yaml', '--s'), ['--strict']);
    assert.ok(complete('lab', 'verify', '--').includes('--keep'), 'options of a nested command');
    // An option's value is not mistaken for a command: `matrix --assume test --` still completes matrix's options.
    assert.ok(complete('matrix', '--assume', 'test', '--').includes('--list'));
  });

  it('zsh: parses (zsh -n) and offers subcommands and options through _describe', (t) => {
    if (!have('zsh')) return skipOrFail(t, 'zsh not installed (make setup installs it)');
    const f = script('zsh');
    const n = sh('zsh', ['-n', f]);
    assert.equal(n.code, 0, `zsh -n: ${n.stderr}`);
    // compsys needs a terminal; its entry points are stubbed to print what they are given.
    const run = (words: string[]): string[] => {
      const r = sh('zsh', [
        '-f',
        '-c',
        `_describe() { local arr=\${@[-1]}; print -l -- \${(P)arr}; }; _files() { print '<files>' }; compdef() { :; }
source '${f}'; words=(cordon ${words.map((w) => `'${w}'`).join(' ')}); CURRENT=${words.length + 1}; _cordon`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.replace(/(?<!\\):.*$/, ''));
    };
    const top = run(['']);
    for (const c of ['check', 'lint', 'lab', 'vault', 'man']) assert.ok(top.includes(c), `'${c}' among ${top.join(' ')}`);
    assert.deepEqual(run(['vault', '']), ['create', 'put', 'get', 'list', 'destroy', 'context']);
    assert.ok(run(['lint', '--']).includes('--max-warnings'));
    assert.deepEqual(run(['check', '']), ['<files>'], 'a file argument completes file names');
  });

  it('fish: parses (fish --no-execute) and completes subcommands and options (complete -C)', (t) => {
    if (!have('fish')) return skipOrFail(t, 'fish not installed (make setup installs it)');
    const f = script('fish');
    const n = sh('fish', ['--no-execute', f]);
    assert.equal(n.code, 0, `fish --no-execute: ${n.stderr}`);
    const complete = (line: string): string[] => {
      const r = sh('fish', ['-c', `source '${f}'; complete -C '${line}'`]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t')[0]!);
    };
    assert.ok(complete('cordon ').includes('describe'));
    assert.deepEqual(complete('cordon la'), ['lab']);
    assert.deepEqual(complete('cordon lab ').sort(), ['attack', 'down', 'exec', 'list', 'shell', 'up', 'verify']);
    assert.ok(complete('cordon lint --').includes('--strict'));
    assert.ok(!complete('cordon lab up --').includes('--strict'), "lint's options are not offered to lab up");
  });

  it('every script names every command of the tree', async () => {
    const all = walk(await tree()).filter((c) => c.path.length > 0);
    for (const shell of ['bash', 'zsh', 'fish']) {
      const text = cordon('completion', shell).stdout;
      for (const c of all) assert.ok(text.includes(c.path.at(-1)!), `${shell}: ${c.path.join(' ')}`);
    }
  });
});

describe('cordon man', () => {
  it('passes groff -man -z -ww and man --warnings -l with no warnings', (t) => {
    const r = cordon('man');
    assert.equal(r.code, 0, r.stderr);
    const f = join(dir, 'cordon.1');
    writeFileSync(f, r.stdout);
    if (!have('groff')) return skipOrFail(t, 'groff not installed (make setup installs groff-base)');
    const g = sh('groff', ['-man', '-z', '-ww', f]);
    assert.equal(g.code, 0);
    assert.equal(g.stderr, '', `groff warnings:\n${g.stderr}`);
    const g8 = sh('groff', ['-man', '-z', '-ww', '-Tutf8', f]);
    assert.equal(g8.stderr, '', `groff -Tutf8 warnings:\n${g8.stderr}`);
    if (!have('man')) return skipOrFail(t, 'man not installed (make setup installs man-db)');
    const m = spawnSync('man', ['--warnings', '-l', f], { encoding: 'utf8', env: { ...process.env, MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '100' } });
    assert.equal(m.status, 0, m.stderr);
    assert.equal(m.stderr, '', `man warnings:\n${m.stderr}`);
    assert.match(m.stdout, /cordon lab verify \[options\] <file>/);
  });

  it('has a section for every command and every option of each, and the text --help adds', async () => {
    const root = await tree();
    const page = manPage(root, { version: '0.1.0' });
    const unescape = (s: string): string => s.replace(/\\-/g, '-').replace(/\\e/g, '\\');
    const sections = page
      .split('\n')
      .filter((l) => l.startsWith('.SS '))
      .map((l) => unescape(l));
    for (const c of walk(root).filter((x) => x.path.length > 0)) {
      assert.ok(
        sections.some((s) => s.startsWith(`.SS "cordon ${c.path.join(' ')} `)),
        `no section for cordon ${c.path.join(' ')}`,
      );
      for (const o of c.options) if (o.long !== '--help') assert.ok(unescape(page).includes(`.B ${o.flags}`), `cordon ${c.path.join(' ')} ${o.flags}`);
    }
    assert.match(unescape(page), /CORDON036 warning/, "lint's findings, from its --help");
    assert.equal(manPage(root, { version: '0.1.0' }), page, 'the same bytes twice (no date)');
  });

  it('escapes what roff would take as a request or an escape', () => {
    const doc: CommandDoc = {
      path: [],
      description: 'x',
      usage: '',
      args: [],
      options: [],
      extraHelp: ".starts with a dot\n'and a quote\nback\\slash → arrow",
      subcommands: [],
    };
    const page = manPage(doc, { version: '1' });
    assert.match(page, /^\\&\.starts with a dot$/m);
    assert.match(page, /^\\&'and a quote$/m);
    assert.match(page, /back\\eslash \\\(-> arrow/);
  });
});
