/**
 * The lint gates bite: the repository's own dependency-cruiser and ESLint configs, run on small
 * projects in a temporary directory, reject an upward import, an import of cli/, a cycle and a
 * floating promise, and accept the same projects once the offence is gone (so a gate that
 * rejects everything, or nothing, fails here too).
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ESLint, type Linter } from 'eslint';
import { ROOT } from './support/golden.js';

const tmp = mkdtempSync(join(tmpdir(), 'cordon-lint-gates-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Writes `files` (path relative to a fresh project directory → text) and returns the directory. */
function project(name: string, files: Record<string, string>): string {
  const dir = join(tmp, name);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  copyFileSync(join(ROOT, 'tsconfig.json'), join(dir, 'tsconfig.json'));
  return dir;
}

/**
 * The repository's dependency rules over `dir`/src, as `make lint` runs them (the `err` reporter,
 * whose exit status is the gate): exit status and violations, `RULE FROM -> TO` (a cycle: `RULE FROM`).
 */
function depcruise(dir: string): { status: number | null; violations: string[] } {
  const r = spawnSync(join(ROOT, 'node_modules', '.bin', 'depcruise'), ['src', '--config', join(ROOT, '.dependency-cruiser.cjs')], {
    cwd: dir,
    encoding: 'utf8',
  });
  const violations = [...r.stdout.matchAll(/^\s*error (\S+): (\S+) →(?: (\S+))?\s*$/gm)].map(([, rule, from, to]) =>
    to ? `${rule} ${from} -> ${to}` : `${rule} ${from}`,
  );
  assert.ok(r.status === 0 || violations.length > 0, `depcruise failed without a violation: ${r.stdout}${r.stderr}`);
  return { status: r.status, violations };
}

// A miniature of src/: a clean chain util ← model ← verify ← cli, plus lab on system, guard on lab,
// and server over verify and guard (cli starts the server).
const CLEAN: Record<string, string> = {
  'src/util/ip.ts': 'export const bits = 32;\n',
  'src/model/types.ts': "import { bits } from '../util/ip.js';\nexport const width = bits;\n",
  'src/verify/engine.ts': "import { width } from '../model/types.js';\nexport const reach = (): number => width;\n",
  'src/system/exec.ts': 'export const run = (): number => 0;\n',
  'src/lab/lab.ts': "import { run } from '../system/exec.js';\nexport const up = (): number => run();\n",
  'src/guard/watch.ts': "import { up } from '../lab/lab.js';\nexport const watch = (): number => up();\n",
  'src/server/app.ts':
    "import { reach } from '../verify/engine.js';\nimport { watch } from '../guard/watch.js';\nexport const serve = (): number => reach() + watch();\n",
  'src/cli/main.ts':
    "import { reach } from '../verify/engine.js';\nimport { up } from '../lab/lab.js';\nimport { serve } from '../server/app.js';\nexport const main = (): number => reach() + up() + serve();\n",
};

describe('dependency rules (.dependency-cruiser.cjs)', () => {
  it('accept a project that keeps the floors', () => {
    const r = depcruise(project('clean', CLEAN));
    assert.deepEqual(r.violations, []);
    assert.equal(r.status, 0);
  });

  it('reject an upward import, an import of cli/, a sibling import, system knowing lab, the runtime knowing server, and a cycle', () => {
    const dir = project('offending', {
      ...CLEAN,
      // util at the bottom imports the model above it, and the model imports it back: a cycle too.
      'src/util/ip.ts': "import { width } from '../model/types.js';\nexport const bits = 32;\nexport const twice = (): number => width * 2;\n",
      // the library reaches into the shell
      'src/verify/engine.ts':
        "import { width } from '../model/types.js';\nimport { main } from '../cli/main.js';\nexport const reach = (): number => width;\nexport const shell = main;\n",
      // verify and render are siblings: they never import each other
      'src/render/nft.ts': "import { reach } from '../verify/engine.js';\nexport const text = (): string => String(reach());\n",
      // system sits below the runtime and knows nothing of it
      'src/system/exec.ts': "import type { up } from '../lab/lab.js';\nexport const run = (): number => 0;\nexport type Up = typeof up;\n",
      // the server sits above the library and the runtime: neither guard nor report may reach up to it
      'src/guard/watch.ts':
        "import { up } from '../lab/lab.js';\nimport type { serve } from '../server/app.js';\nexport const watch = (): number => up();\nexport type Serve = typeof serve;\n",
      'src/report/table.ts': "import { serve } from '../server/app.js';\nexport const table = (): string => String(serve());\n",
    });
    const r = depcruise(dir);
    assert.notEqual(r.status, 0, 'depcruise exits non-zero on a violation');
    const got = new Set(r.violations);
    for (const want of [
      'floor-util src/util/ip.ts -> src/model/types.ts',
      'no-cli-import src/verify/engine.ts -> src/cli/main.ts',
      'floor-render src/render/nft.ts -> src/verify/engine.ts',
      'floor-system src/system/exec.ts -> src/lab/lab.ts',
      'floor-guard src/guard/watch.ts -> src/server/app.ts',
      'floor-report src/report/table.ts -> src/server/app.ts',
    ]) {
      assert.ok(got.has(want), `expected ${want}; got:\n${[...got].join('\n')}`);
    }
    assert.ok(
      r.violations.some((v) => v.startsWith('no-circular ')),
      `expected a cycle; got:\n${[...got].join('\n')}`,
    );
  });
});

/** The repository's ESLint config, type-aware over a project of its own in `dir`. */
async function eslintIn(dir: string, file: string): Promise<Linter.LintMessage[]> {
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  const repoConfig = ((await import(pathToFileURL(join(ROOT, 'eslint.config.mjs')).href)) as { default: Linter.Config[] }).default;
  const here: Linter.Config = { files: ['**/*.ts'], languageOptions: { parserOptions: { project: './tsconfig.json', tsconfigRootDir: dir } } };
  const eslint = new ESLint({ cwd: dir, overrideConfigFile: true, overrideConfig: [...repoConfig, here] });
  const [result] = await eslint.lintFiles([file]);
  assert.ok(result, 'ESLint linted the file');
  return result.messages;
}

describe('ESLint rules (eslint.config.mjs)', () => {
  it('reject a floating promise and a non-exhaustive switch; accept node:test calls and the fixed code', async () => {
    const source = (fixed: boolean): string =>
      [
        "import { test } from 'node:test';",
        "type Kind = 'a' | 'b';",
        'async function work(): Promise<number> {',
        '  return Promise.resolve(1);',
        '}',
        fixed ? 'export async function caller(): Promise<void> {\n  await work();\n}' : 'export function caller(): void {\n  work();\n}',
        'export function named(k: Kind): string {',
        '  switch (k) {',
        "    case 'a':",
        "      return 'A';",
        fixed ? "    case 'b':\n      return 'B';" : '',
        '  }',
        "  return '?';",
        '}',
        "test('node:test awaits its own tests', () => undefined);",
        '',
      ].join('\n');
    const bad = project('eslint-bad', { 'src/x.ts': source(false) });
    const rules = (await eslintIn(bad, 'src/x.ts')).map((m) => `${m.ruleId ?? m.message}:${m.line}`);
    assert.deepEqual(rules.sort(), ['@typescript-eslint/no-floating-promises:7', '@typescript-eslint/switch-exhaustiveness-check:10']);

    const good = project('eslint-good', { 'src/x.ts': source(true) });
    assert.deepEqual(
      (await eslintIn(good, 'src/x.ts')).map((m) => `${m.ruleId ?? m.message}:${m.line}`),
      [],
    );
  });
});
